"""Differential: a flow compiled to BXML and run by the Bandwidth interpreter (each
document fetched from the webhook app) does what ``simulate`` says the flow does."""

from __future__ import annotations

import os
from collections.abc import Iterator

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from tests.support.bandwidth_flows import InProcessBandwidth, fit

from univoice.flow import Flow
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.compare import differences
from univoice.testing import callee_scripts, flows

EXAMPLES = ("examples/support_ivr.yaml", "examples/conference_bridge.yaml")


@pytest.fixture(scope="module")
def bandwidth() -> Iterator[InProcessBandwidth]:
    running = InProcessBandwidth()
    yield running
    running.close()


def same(bandwidth: InProcessBandwidth, flow: Flow, script: CalleeScript) -> None:
    run = bandwidth.call(flow, script, call_id="c-diff")
    expected = simulate(flow, script, call_id="c-diff")
    problems = differences(expected, run.trace)
    assert not problems, "\n".join([*problems, "simulator:", expected.transcript(),
                                    "bandwidth:", run.trace.transcript()])


@pytest.mark.parametrize("path", EXAMPLES)
@pytest.mark.parametrize("script", [
    CalleeScript(keys=["2", "2", "12345#"]), CalleeScript(keys=["9", "", "3"]),
    CalleeScript(keys=["1"], transfers=[False]), CalleeScript(keys=["2", "1"]),
    CalleeScript(), CalleeScript(answer="machine"), CalleeScript(keys=["2"],
                                                                 hang_up_after=40),
    CalleeScript(answer="busy"), CalleeScript(answer="no_answer"),
])
def test_examples_run_alike(bandwidth: InProcessBandwidth, path: str,
                            script: CalleeScript) -> None:
    same(bandwidth, Flow.load(path), script)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    flow = fit(draw(flows(max_depth=2, max_steps=5)))
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


@settings(max_examples=int(os.environ.get("UNIVOICE_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.function_scoped_fixture])
@given(cases())
def test_compiled_flows_behave_like_the_simulator(bandwidth: InProcessBandwidth,
                                                  case: tuple[Flow, CalleeScript]) -> None:
    same(bandwidth, *case)
