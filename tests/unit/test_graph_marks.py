"""Per-provider marks on a flow graph: where a call goes back to the webhook app
(``Provider.continuation_points``) and which steps a provider cannot run, consistent with
``univoice port``'s verdict."""

from __future__ import annotations

from pathlib import Path

import pytest

from univoice.flow import Flow
from univoice.graph import build, marks_for, render_mermaid, render_svg
from univoice.migrate import Runs, portability
from univoice.plugins import provider_class

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
PROVIDERS = ("simulator", "bandwidth", "messagebird", "bird")
MENU = "steps[1]"
SUBMENU = "steps[1].gather.options['2'].steps[0]"
TICKET = "steps[1].gather.options['2'].steps[0].gather.options['2'].steps[0]"


def load(name: str) -> Flow:
    return Flow.load(ROOT / "examples" / name)


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_marks_agree_with_port(path: Path, provider: str) -> None:
    flow = Flow.load(path)
    adapter = provider_class(provider).offline()
    marks = marks_for(flow, adapter)
    verdict = portability(flow, adapter)
    steps = {p for p, _ in flow.walk()} | {""}
    assert set(marks.continuations) <= steps and set(marks.unsupported) <= steps
    if verdict.runs is Runs.CANNOT:
        assert marks.unsupported
        if verdict.step is not None:
            assert any(verdict.step.startswith(p) for p in marks.unsupported if p)
    else:
        assert not marks.unsupported
        calls_back = bool(marks.continuations) or marks.start is not None
        assert calls_back == (verdict.runs is Runs.WITH_APP)


def test_simulator_marks_nothing() -> None:
    marks = marks_for(load("support_ivr.yaml"), provider_class("simulator").offline())
    assert marks.continuations == {} and marks.unsupported == {} and marks.start is None
    assert marks.summary.startswith("simulator runs natively")


def test_bandwidth_calls_back_at_every_gather_and_transfer() -> None:
    flow = load("support_ivr.yaml")
    marks = marks_for(flow, provider_class("bandwidth").offline())
    expected = {p for p, s in flow.walk() if s.kind in ("gather", "transfer")}
    assert set(marks.continuations) == expected
    assert "gatherUrl" in marks.continuations[MENU]
    assert "transferCompleteUrl" in marks.continuations["steps[1].gather.options['1'].steps[1]"]
    assert marks.start is not None  # the first document is fetched too
    graph = build(flow, marks)
    assert graph.node("call_start").continuation == marks.start


def test_messagebird_continues_only_the_menus_it_cannot_run_inline() -> None:
    flow = load("support_ivr_portable.yaml")
    marks = marks_for(flow, provider_class("messagebird").offline())
    # The main menu re-prompts, the ticket input is free input: both go to the app.
    assert set(marks.continuations) == {MENU, "steps[1].gather.options['2'].steps[0]"}
    inline = Flow.from_yaml("steps:\n  - gather: {prompt: Press 1., options: {'1': [hangup]}}")
    assert marks_for(inline, provider_class("messagebird").offline()).continuations == {}


def test_messagebird_marks_every_step_it_cannot_run() -> None:
    flow = load("support_ivr.yaml")
    marks = marks_for(flow, provider_class("messagebird").offline())
    assert set(marks.unsupported) == {"steps[1].gather.options['1'].steps[1]",
                                      "steps[1].gather.options['2'].steps[0].gather"
                                      ".options['2'].steps[2]"}
    assert "transfer.no_answer" in marks.unsupported["steps[1].gather.options['1'].steps[1]"]
    assert {MENU, SUBMENU, TICKET} <= set(marks.continuations)
    assert "cannot run this flow" in marks.summary


def test_bird_hosts_a_flow_with_retries_at_every_gather() -> None:
    flow = load("support_ivr_portable.yaml")
    marks = marks_for(flow, provider_class("bird").offline())
    assert set(marks.continuations) == {p for p, s in flow.walk() if s.kind == "gather"}
    native = Flow.from_yaml("steps:\n  - gather: {prompt: Press 1., options: {'1': [hangup]}}")
    assert marks_for(native, provider_class("bird").offline()).continuations == {}


def test_conference_bridge_cannot_run_on_bird() -> None:
    flow = load("conference_bridge.yaml")
    marks = marks_for(flow, provider_class("bird").offline())
    conferences = {p for p, s in flow.walk() if s.kind == "conference"}
    assert conferences <= set(marks.unsupported)
    svg = render_svg(build(flow, marks))
    assert svg.count('class="node step kind-conference unsupported"') == len(conferences)
    assert "✖ not on bird" in svg
    mermaid = render_mermaid(build(flow, marks))
    assert "classDef uv_unsupported" in mermaid
    assert "%% bird cannot run this flow" in mermaid


def test_a_native_step_of_another_provider_is_marked() -> None:
    flow = Flow.from_yaml("steps:\n  - say: Hi.\n  - native: {provider: bandwidth, document: "
                          "'<SendDtmf>1</SendDtmf>', note: sends a key}\n")
    marks = marks_for(flow, provider_class("messagebird").offline())
    assert marks.unsupported == {"steps[1]": "a bandwidth instruction"}
    graph = build(flow, marks)
    assert graph.node("steps_1").unsupported == "a bandwidth instruction"
    assert graph.node("steps_1").title == "native bandwidth"


def test_a_flow_level_problem_marks_the_start() -> None:
    flow = Flow.from_yaml("machine_detection: true\nsteps:\n  - say: Hi.\n")
    marks = marks_for(flow, provider_class("messagebird").offline())
    assert "" in marks.unsupported
    assert build(flow, marks).node("call_start").unsupported == marks.unsupported[""]
