"""``univoice.graph.model``: a flow as nodes and labelled edges, following the simulator's
semantics (a branch runs, then the flow goes on after its gather or transfer)."""

from __future__ import annotations

from pathlib import Path

import pytest

from univoice.flow import Flow
from univoice.graph import EdgeKind, FlowGraph, build, node_id
from univoice.graph.model import END, START

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))


def edges(graph: FlowGraph) -> dict[tuple[str, str], tuple[EdgeKind, str]]:
    return {(e.source, e.target): (e.kind, e.label) for e in graph.edges}


def test_node_ids_are_sanitised_step_paths() -> None:
    assert node_id("steps[1]") == "steps_1"
    assert node_id("steps[1].gather.options['2'].steps[0]") == "steps_1_gather_options_2_steps_0"
    assert node_id("steps[0].gather.options['*'].steps[3]") == "steps_0_gather_options_star_steps_3"
    assert node_id("steps[0].gather.options['1#'].steps[0]") == (
        "steps_0_gather_options_1hash_steps_0")
    assert node_id("machine_detection.on_machine.steps[0]") == (
        "machine_detection_on_machine_steps_0")


@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_one_node_per_step_with_unique_deterministic_ids(path: Path) -> None:
    flow = Flow.load(path)
    graph = build(flow)
    assert [n.path for n in graph.steps] == [p for p, _ in flow.walk()]
    ids = [n.id for n in graph.nodes]
    assert len(ids) == len(set(ids))
    assert build(Flow.load(path)) == graph  # the same file, the same graph
    known = set(ids)
    assert all(e.source in known and e.target in known for e in graph.edges)


def test_the_support_line_menu_edges() -> None:
    graph = build(Flow.load(ROOT / "examples" / "support_ivr.yaml"))
    found = edges(graph)
    menu = "steps_1"
    assert found[START, "steps_0"] == (EdgeKind.NEXT, "")
    assert found[menu, "steps_1_gather_options_1_steps_0"] == (EdgeKind.OPTION, "press 1")
    assert found[menu, "steps_1_gather_options_3_steps_0"] == (EdgeKind.OPTION, "press 3")
    assert found[menu, "steps_1_gather_no_input_steps_0"] == (EdgeKind.NO_INPUT, "no input")
    assert found[menu, "steps_1_gather_invalid_steps_0"] == (EdgeKind.INVALID, "invalid")
    assert found[menu, menu] == (EdgeKind.RETRY, "no input / invalid: re-prompt (2 retries)")
    # A branch's last step goes on after its gather.
    assert found["steps_1_gather_no_input_steps_0", "steps_2"] == (EdgeKind.NEXT, "")
    # The sub-menu has no no-input/invalid branch: both go on after the outer gather.
    sub = "steps_1_gather_options_2_steps_0"
    assert found[sub, "steps_2"] == (EdgeKind.NO_INPUT, "no input / invalid")
    # A transfer: its no-answer branch, and on after the call.
    transfer = "steps_1_gather_options_1_steps_1"
    assert found[transfer, f"{transfer}_transfer_no_answer_steps_0"] == (
        EdgeKind.NO_ANSWER, "no answer")
    assert found[transfer, "steps_1_gather_options_1_steps_2"] == (
        EdgeKind.NEXT, "after the call")
    # Free input: its keys are stored, no input goes on too (there is no branch for it).
    ticket = f"{sub}_gather_options_2_steps_0"
    assert found[ticket, f"{sub}_gather_options_2_steps_1"] == (
        EdgeKind.INPUT, "keys → ticket / no input")
    # Hang-ups end the call: nothing leaves them, and no implicit end is needed.
    hangups = {n.id for n in graph.nodes if n.kind == "hangup"}
    assert hangups and not any(e.source in hangups for e in graph.edges)
    assert END not in {n.id for n in graph.nodes}


def test_kinds_titles_and_texts() -> None:
    graph = build(Flow.load(ROOT / "examples" / "support_ivr.yaml"))
    kinds = {n.kind for n in graph.nodes}
    assert {"start", "say", "gather", "transfer", "record", "hangup"} <= kinds
    ticket = graph.node("steps_1_gather_options_2_steps_0_gather_options_2_steps_0")
    assert ticket.title == "input → ticket"
    assert ticket.text == "Enter your ticket number, then press hash."
    assert graph.node(START).text == "Acme support line"


def test_running_out_of_steps_machine_detection_and_empty_branches() -> None:
    flow = Flow.from_yaml("""
machine_detection:
  on_machine:
    - say: Please call us back.
steps:
  - gather:
      prompt: Press 1 or 2.
      options:
        "1": []
        "2":
          - redirect: https://example.com/next
  - say: Bye.
""")
    graph = build(flow)
    found = edges(graph)
    assert found[START, "steps_0"] == (EdgeKind.NEXT, "human")
    assert found[START, "machine_detection_on_machine_steps_0"] == (EdgeKind.MACHINE, "machine")
    assert found["machine_detection_on_machine_steps_0", END] == (EdgeKind.NEXT, "")
    # An empty branch goes straight on; no input and invalid (no branches) too.
    assert found["steps_0", "steps_1"] == (EdgeKind.OPTION, "press 1 / no input / invalid")
    assert ("steps_0", "steps_0") not in found  # no retries: no loop
    redirect = "steps_0_gather_options_2_steps_0"
    assert not any(e.source == redirect for e in graph.edges)  # nothing runs after it
    assert found["steps_1", END] == (EdgeKind.NEXT, "")
    assert graph.nodes[-1].id == END and graph.nodes[-1].kind == "end"


def test_long_and_control_text_is_cleaned_and_cut() -> None:
    flow = Flow(steps=[{"kind": "say", "text": "a\u0000b\u200bc\nd " + "x" * 500}])
    say = build(flow).node("steps_0")
    assert "\u0000" not in say.text and "\n" not in say.text
    assert len(say.text) <= 120 and say.text.endswith("…")
