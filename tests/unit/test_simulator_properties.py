"""Properties every simulated call has, for any callee script (hypothesis)."""

from __future__ import annotations

import json
from typing import Any

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from univoice.flow import Flow
from univoice.models import EndReason
from univoice.simulator import CalleeScript, Trace, TraceKind, simulate
from univoice.testing.scripts import callee_scripts

OTHER = "+31201234568"

IVR = Flow.from_dict({"language": "en-GB", "record": True, "steps": [
    {"say": "Welcome."},
    {"gather": {
        "prompt": [{"say": "Press 1, 2 or 3."}, {"play": "https://m.example/menu.wav"}],
        "retries": 2,
        "options": {
            "1": [{"transfer": {"targets": OTHER, "record": True,
                                "no_answer": [{"record": {"transcribe": True}}]}}],
            "2": [{"gather": {"variable": "ticket", "prompt": "Ticket?", "max_digits": 6,
                              "finish_on_key": "#", "no_input": [{"say": "None."}]}},
                  {"say": "Ticket {ticket}."},
                  {"conference": {"name": "room", "record": True}}],
            "3": [{"redirect": "https://app.example/next"}],
            "45": [{"send_digits": "1w2"}, "hangup"],
        },
        "max_digits": 2, "finish_on_key": "#",
        "no_input": [{"say": "Bye."}], "invalid": [{"pause": 1}],
    }},
    {"say": "Goodbye."},
]})
DETECTING = Flow.from_dict({"machine_detection": {"on_machine": [
    {"say": "Please call back."}, {"gather": {"prompt": "1?", "options": {"1": ["hangup"]}}}]},
    "steps": [{"gather": {"prompt": "Press 1.", "options": {"1": [{"say": "One."}]}}},
              {"record": {"silence_timeout": 2, "max_length": 10}}]})
NEXT = Flow.from_dict({"steps": [{"say": "Next flow."}, {"redirect": "https://app.example/next"}]})
FLOWS = {"ivr": IVR, "detecting": DETECTING, "next": NEXT}


def check_invariants(trace: Trace) -> None:
    kinds = trace.kinds()
    assert kinds[:2] == ["initiated", "ringing"]
    assert kinds.count("completed") == 1
    assert kinds[-1] == "completed"
    times = [e.at for e in trace.events]
    assert times == sorted(times)
    assert all(round(t, 3) == t for t in times)
    assert kinds.count("hung_up") <= 1
    completed = trace.events[-1]
    assert completed.data["reason"] == trace.end_reason.value
    assert completed.at == trace.ended_at
    if trace.answered_at is None:
        assert kinds == ["initiated", "ringing", "completed"]
        assert trace.duration == 0
    else:
        assert trace.duration == pytest.approx(trace.ended_at - trace.answered_at, abs=1e-9)
    if trace.end_reason is EndReason.CALLEE_HANGUP:
        assert [e.data["by"] for e in trace.of(TraceKind.HUNG_UP)] == ["callee"]
    if trace.end_reason is EndReason.REDIRECTED:
        assert "hung_up" not in kinds
    recorded = [e.data["recording_id"] for e in trace.of(TraceKind.RECORDED)]
    assert sorted(recorded) == sorted(trace.recordings)
    assert len(set(recorded)) == len(recorded)
    assert json.loads(json.dumps(trace.to_dict())) == trace.to_dict()


@pytest.mark.parametrize("name", sorted(FLOWS))
@settings(max_examples=150, deadline=None, suppress_health_check=[HealthCheck.too_slow])
@given(data=st.data())
def test_every_trace_is_well_formed_and_deterministic(name: str, data: Any) -> None:
    flow = FLOWS[name]
    script = data.draw(callee_scripts(flow))
    redirects = data.draw(st.sampled_from([None, {"https://app.example/next": NEXT}]))
    trace = simulate(flow, script, redirects=redirects)
    check_invariants(trace)
    assert simulate(flow, script, redirects=redirects) == trace


@settings(max_examples=100, deadline=None)
@given(script=callee_scripts())
def test_scripts_without_flow_run_anywhere(script: CalleeScript) -> None:
    assert script.hang_up_at is None
    check_invariants(simulate(IVR, script))


@settings(max_examples=200, deadline=None)
@given(script=callee_scripts(IVR))
def test_flow_biased_scripts_reach_branches(script: CalleeScript) -> None:
    # Every generated hang_up_at names a real step (simulate would reject it otherwise),
    # and that step never runs: the callee is gone as it starts.
    trace = simulate(IVR, script)
    assert script.hang_up_at is None or script.hang_up_at not in trace.steps_run()
    hung_up_at = [e.path for e in trace.of(TraceKind.HUNG_UP) if e.data["by"] == "callee"]
    if script.hang_up_at in hung_up_at:
        assert trace.end_reason is EndReason.CALLEE_HANGUP


def test_biased_keys_exercise_every_menu_branch() -> None:
    reached: set[str] = set()

    @settings(max_examples=300, deadline=None, database=None, derandomize=True)
    @given(script=callee_scripts(IVR))
    def explore(script: CalleeScript) -> None:
        for path in simulate(IVR, script).steps_run():
            if path.startswith("steps[1].gather.options"):
                reached.add(path.split(".steps[")[0])

    explore()
    assert reached == {f"steps[1].gather.options['{d}']" for d in ("1", "2", "3", "45")}
