"""A flow cut into continuation documents runs exactly as the whole flow does."""

from __future__ import annotations

from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st

from univoice import Flow
from univoice.flow.continuation import START, document
from univoice.simulator import CalleeScript, Trace, simulate
from univoice.simulator.engine import MAX_REDIRECTS
from univoice.simulator.remote import comparable
from univoice.testing import callee_scripts, flows

APP = "https://app.invalid/univoice/simulator/flow/f/"


def url_for(node: str) -> str:
    return APP + node


def run_by_documents(flow: Flow, script: CalleeScript) -> tuple[Trace, Trace]:
    def fetch(url: str) -> Flow | None:
        if not url.startswith(APP):
            return None  # a redirect of the flow's own, elsewhere: not followed
        served = document(flow, url.removeprefix(APP), url_for)
        assert served is not None, url
        return Flow.from_json(served.to_json())  # as a provider would receive it

    start = document(flow, START, url_for)
    assert start is not None
    return simulate(Flow.from_json(start.to_json()), script, redirects=fetch), simulate(
        flow, script)


@st.composite
def flows_and_scripts(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    flow = draw(flows())
    script = draw(callee_scripts(flow))
    # Step paths name documents, not the whole flow: a hang-up at a path is not portable.
    return flow, script.model_copy(update={"hang_up_at": None})


@settings(deadline=None, max_examples=150, suppress_health_check=[HealthCheck.too_slow])
@given(flows_and_scripts())
def test_documents_run_like_the_whole_flow(case: tuple[Flow, CalleeScript]) -> None:
    flow, script = case
    by_documents, whole = run_by_documents(flow, script)
    fetched = [e for e in by_documents.events
               if e.kind == "redirected" and e.data.get("url", "").startswith(APP)]
    assume(len(fetched) < MAX_REDIRECTS)  # the simulator's own limit on following
    assert comparable(by_documents) == comparable(whole)
    assert by_documents.end_reason == whole.end_reason
    assert by_documents.variables == whole.variables


def test_examples_cut_and_run_alike() -> None:
    from pathlib import Path

    ivr = Flow.from_yaml(Path(__file__).parents[2] / "examples" / "support_ivr.yaml")
    for keys in (["1"], ["2", "1"], ["2", "2", "4711#"], [None, None, None], ["3"]):
        by_documents, whole = run_by_documents(ivr, CalleeScript(keys=keys, transfers=[False]))
        assert comparable(by_documents) == comparable(whole)


def test_unknown_node_is_none() -> None:
    flow = Flow.from_yaml("steps: [{say: Hi}]")
    assert document(flow, "steps[3].gather.options['1']", url_for) is None
