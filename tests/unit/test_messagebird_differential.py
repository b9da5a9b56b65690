"""Differential: a flow compiled to MessageBird call-flow JSON and run by the interpreter
(continuations fetched from the webhook app) does what ``simulate`` says it does."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.messagebird_flows import InProcessMessageBird, fit

from univoice.flow import Flow
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.compare import differences
from univoice.testing import callee_scripts, flows

PORTABLE = "examples/support_ivr_portable.yaml"


@pytest.fixture(scope="module")
def messagebird() -> Iterator[InProcessMessageBird]:
    running = InProcessMessageBird()
    yield running
    running.close()


def same(messagebird: InProcessMessageBird, flow: Flow, script: CalleeScript) -> None:
    run = messagebird.call(flow, script, call_id="mb-diff")
    expected = simulate(flow, script, call_id="mb-diff")
    problems = differences(expected, run.trace)
    assert not problems, "\n".join([*problems, "simulator:", expected.transcript(),
                                    "messagebird:", run.trace.transcript()])


@pytest.mark.parametrize("script", [
    CalleeScript(keys=["2", "12345#"]), CalleeScript(keys=["9", "", "3"]),
    CalleeScript(keys=["1"], transfers=[False]), CalleeScript(keys=["3"], record_seconds=9),
    CalleeScript(), CalleeScript(answer="machine"), CalleeScript(keys=["2"],
                                                                 hang_up_after=20),
    CalleeScript(answer="busy"), CalleeScript(answer="no_answer"),
])
def test_the_portable_support_line_runs_alike(messagebird: InProcessMessageBird,
                                               script: CalleeScript) -> None:
    same(messagebird, Flow.load(PORTABLE), script)


def test_an_inbound_call_runs_the_flow_for_the_called_number() -> None:
    flow = Flow.load(PORTABLE)
    running = InProcessMessageBird(inbound={"+31201234567": flow})
    try:
        script = CalleeScript(keys=["3"])
        run = running.inbound(script)
        expected = simulate(flow, script, from_="+31612345678", to="+31201234567")
        assert differences(expected, run.trace) == []
        refused = running.inbound(script, to="+31209999999")  # no flow for that number
        assert refused.trace.end_reason.value == "redirected"
        fetched = next(url for url, _ in run.callbacks if "/flow/inbound/" in url)
        token = fetched.split("token=")[1].split("&")[0]
        assert running.client.get(fetched).status_code == 200
        forged = running.client.get(fetched.replace(token, "0" * len(token)))
        assert forged.status_code == 401
    finally:
        running.close()


@st.composite
def cases(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    flow = fit(draw(flows(max_depth=2, max_steps=5)))
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


@settings(max_examples=int(os.environ.get("UNIVOICE_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(cases())
def test_compiled_flows_behave_like_the_simulator(messagebird: InProcessMessageBird,
                                                  case: tuple[Flow, CalleeScript]) -> None:
    same(messagebird, *case)
