"""Differential: a flow compiled to Bird commands and run by the interpreter does what
``simulate`` says it does (menus natively, with conditions on ``keys``)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, given, settings
from hypothesis import strategies as st
from tests.support.bird_flows import fit

from univoice.errors import UnsupportedFeature
from univoice.flow import Flow
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.compare import differences
from univoice.testing import callee_scripts, flows
from univoice_bird import BirdProvider, compile
from univoice_bird.interpreter import CallSetup, run_call

PROVIDER = BirdProvider.offline()
MENU = Flow.from_yaml("""
language: en-GB
record: true
steps:
  - say: Welcome.
  - gather:
      prompt: [Press 1 for sales or 2 for support., {pause: 1}]
      timeout: 4
      options:
        "1": [{say: Sales.}, {transfer: {targets: "+31201234567", record: true}}]
        "2": [{say: Support is closed.}, hangup]
      no_input: [{say: Nothing pressed.}]
      invalid: [{say: Not an option.}]
  - record: {max_length: 30, transcribe: true}
  - say: Goodbye.
""")


def same(flow: Flow, script: CalleeScript) -> None:
    PROVIDER.check_flow(flow)
    run = run_call(CallSetup(call_id="b1", from_="+31201234567", to="+31612345678",
                             call_flow=compile.start(flow), record=flow.record), script)
    expected = simulate(flow, script, call_id="b1")
    problems = differences(expected, run.trace)
    assert not problems, "\n".join([*problems, "simulator:", expected.transcript(),
                                    "bird:", run.trace.transcript()])


@pytest.mark.parametrize("script", [
    CalleeScript(keys=["1"]), CalleeScript(keys=["2"]), CalleeScript(keys=["9"]),
    CalleeScript(), CalleeScript(keys=["1"], transfers=[False]),
    CalleeScript(keys=["1"], hang_up_after=12), CalleeScript(answer="busy"),
    CalleeScript(answer="no_answer"), CalleeScript(answer="machine"),
])
def test_a_native_menu_runs_alike(script: CalleeScript) -> None:
    same(MENU, script)


@st.composite
def cases(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    flow = fit(draw(flows(max_depth=2, max_steps=5)))
    try:
        compile.start(flow)
    except UnsupportedFeature:
        assume(False)  # more than 20 commands: needs the push path
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


@settings(max_examples=int(os.environ.get("UNIVOICE_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(cases())
def test_compiled_flows_behave_like_the_simulator(case: tuple[Flow, CalleeScript]) -> None:
    same(*case)
