"""Differential: a flow compiled to Bird commands and run by the interpreter does what
``simulate`` says it does (menus natively, with conditions on ``keys``)."""

from __future__ import annotations

import os

import pytest
from hypothesis import HealthCheck, assume, event, given, settings
from hypothesis import strategies as st
from tests.support.bird_flows import fit, run_hosted

from univoice.errors import UnsupportedFeature
from univoice.flow import Flow
from univoice.models import EndReason
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.compare import differences
from univoice.simulator.trace import TraceKind
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
    assume(not compile.hosted(flow))  # more than 20 commands: hosted (tested below)
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


@settings(max_examples=int(os.environ.get("UNIVOICE_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(cases())
def test_compiled_flows_behave_like_the_simulator(case: tuple[Flow, CalleeScript]) -> None:
    same(*case)


# Hosted flows: the webhook app pushes each part ------------------------------------------

SUPPORT = Flow.from_yaml("""
language: en-US
steps:
  - say: Thank you for calling.
  - gather:
      prompt: For sales press 1, for support press 2.
      retries: 1
      options:
        "1":
          - gather:
              prompt: For new orders press 1, for existing orders press 2.
              options:
                "1": [{say: Connecting you to orders.}, {transfer: {targets: "+31201234567"}}]
                "2":
                  - gather: {variable: order, prompt: Enter your order number then hash.,
                             max_digits: 8, finish_on_key: "#", retries: 1}
                  - say: Looking up order {order}.
        "2": [{say: Support is closed.}, hangup]
      no_input: [{say: We did not hear a choice.}]
      invalid: [{say: That is not an option.}]
  - say: Goodbye.
""")


def same_hosted(flow: Flow, script: CalleeScript) -> int:
    PROVIDER.check_flow(flow)
    assert compile.hosted(flow)
    run, pushes = run_hosted(flow, script)
    expected = simulate(flow, script, call_id="b1")
    problems = differences(expected, run.trace)
    assert not problems, "\n".join([*problems, "simulator:", expected.transcript(),
                                    "bird:", run.trace.transcript()])
    return pushes


@pytest.mark.parametrize(("script", "pushes"), [
    (CalleeScript(keys=["1", "2", "1234#"]), 3),   # a menu, a nested menu, free input
    (CalleeScript(keys=["1", "2", "", "77#"]), 4),  # free input given at its re-prompt
    (CalleeScript(keys=["", "2"]), 2),               # the main menu's re-prompt
    (CalleeScript(keys=["5", "9"]), 2),              # invalid twice: the invalid branch
    (CalleeScript(keys=[]), 2),                      # silence: re-prompt, then no input
    (CalleeScript(keys=["1", "1"]), 2),
    (CalleeScript(keys=["1"], hang_up_after=8), 1),  # hangs up at the nested menu
])
def test_a_hosted_ivr_runs_alike(script: CalleeScript, pushes: int) -> None:
    assert same_hosted(SUPPORT, script) == pushes


def test_a_hosted_call_waits_on_a_hold_then_hangs_up_without_a_push() -> None:
    run = run_call(CallSetup(call_id="b1", from_="+31201234567", to="+31612345678",
                             call_flow=compile.start(SUPPORT)), CalleeScript(keys=["1"]))
    kinds = [(e.kind, e.data.get("seconds")) for e in run.trace.events]
    assert (TraceKind.PAUSED, compile.HOLD_SECONDS) in kinds
    assert kinds[-2:] == [(TraceKind.HUNG_UP, None), (TraceKind.COMPLETED, None)]
    assert run.trace.end_reason is EndReason.HANGUP


@st.composite
def hosted_cases(draw: st.DrawFn) -> tuple[Flow, CalleeScript]:
    flow = fit(draw(flows(max_depth=3, max_steps=5)), hosted=True)
    try:
        PROVIDER.check_flow(flow)
    except UnsupportedFeature:
        assume(False)  # a part longer than 20 commands
    assume(compile.hosted(flow))  # the others run natively (tested above)
    script = draw(callee_scripts(flow)).model_copy(update={"hang_up_at": None})
    return flow, script


@settings(max_examples=int(os.environ.get("UNIVOICE_DIFF_EXAMPLES", "150")), deadline=None,
          suppress_health_check=[HealthCheck.too_slow, HealthCheck.data_too_large,
                                 HealthCheck.filter_too_much])
@given(hosted_cases())
def test_hosted_flows_behave_like_the_simulator(case: tuple[Flow, CalleeScript]) -> None:
    event(f"pushes: {min(same_hosted(*case), 3)}+")
