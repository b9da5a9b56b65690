"""The console's simulated call, key by key: it goes as ``simulate`` goes with the same
keys, stops where the caller must press something, and never changes what was heard."""

from __future__ import annotations

from pathlib import Path
from typing import Any

import pytest

from univoice import Flow
from univoice.console.session import (
    CallError,
    CallState,
    Nodes,
    Progress,
    act,
    run,
    start,
    view,
)
from univoice.graph import graph_of
from univoice.simulator import CalleeScript, simulate

ROOT = Path(__file__).resolve().parents[2]
IVR = Flow.load(ROOT / "examples" / "support_ivr.yaml")
NODES = Nodes(graph_of(IVR))
MENU = "steps_1"
SALES_HANGUP = "steps_1_gather_options_1_steps_2"
TICKET = "steps_1_gather_options_2_steps_0_gather_options_2_steps_0"


def call(*actions: tuple[str, Any], **options: Any) -> CallState:
    state = start(IVR, "support_ivr", "c-1", **options)
    for action, value in actions:
        state = act(IVR, state, action, value)
    return state


def seen(state: CallState) -> dict[str, Any]:
    return view(IVR, NODES, state, run(IVR, state))


def texts(shown: dict[str, Any]) -> list[str]:
    return [line["text"] for line in shown["transcript"]]


def presses(*keys: str) -> tuple[tuple[str, Any], ...]:
    return tuple(("press", k) for k in keys)


def test_a_new_call_waits_at_the_menu() -> None:
    shown = seen(call())
    assert shown["status"] == "waiting"
    assert shown["current"] == MENU
    assert shown["waiting"]["options"] == ["1", "2", "3"]
    assert texts(shown)[-1].startswith('say "For sales, press 1.')
    assert "steps_0" in shown["visited"]


def test_press_1_then_2_sales_then_the_call_has_ended() -> None:
    after_1 = seen(call(*presses("1")))
    assert after_1["status"] == "ended"
    assert after_1["current"] == SALES_HANGUP
    assert "caller pressed 1" in texts(after_1)
    assert 'say "Connecting you to sales." [en-US, female]' in texts(after_1)
    after_2 = seen(call(*presses("1", "2")))
    assert after_2["note"] == "The call has ended: start a new call."
    assert after_2["transcript"] == after_1["transcript"]  # the 2 changed nothing


def test_keys_run_exactly_as_simulate_does() -> None:
    state = call(*presses("2", "2"), ("transfers", False), *presses("4", "7", "1", "1", "#"))
    whole = simulate(IVR, CalleeScript(keys=["2", "2", "4711#"], transfers=[False]),
                     call_id="c-1")
    assert run(IVR, state).trace.events == whole.events
    shown = seen(state)
    assert shown["ended"]["variables"] == {"ticket": "4711"}
    assert any("about ticket 4711" in t for t in texts(shown))


def test_free_input_waits_for_its_finish_key_then_the_timeout_takes_what_was_typed(
        ) -> None:
    typing = seen(call(*presses("2", "2", "4", "7")))
    assert typing["current"] == TICKET
    assert typing["buffer"] == "47"
    assert typing["waiting"]["variable"] == "ticket"
    timed_out = seen(call(*presses("2", "2", "4", "7"), ("wait", None)))
    assert timed_out["ended"]["variables"] == {"ticket": "47"}


def test_silence_re_prompts_then_gives_up() -> None:
    once = seen(call(("wait", None)))
    assert once["status"] == "waiting"
    assert once["waiting"]["attempt"] == 2
    assert seen(call(("wait", None), ("wait", None)))["waiting"]["attempt"] == 3
    gone = seen(call(("wait", None), ("wait", None), ("wait", None)))
    assert gone["status"] == "ended"
    assert any("We did not hear a choice" in t for t in texts(gone))


def test_step_by_step_reveals_one_event_at_a_time_and_a_key_catches_up() -> None:
    state = call(step_mode=True)
    assert seen(state)["transcript"] == []
    state = act(IVR, state, "step")
    assert texts(seen(state)) == ["calling +31612345678 from +31201234567"]
    assert seen(state)["status"] == "stepping"
    state = act(IVR, state, "press", "2")  # a key interrupts: the menu takes it
    shown = seen(state)
    assert shown["transcript"][-1]["text"].startswith('say "For sales')
    assert shown["remaining"] > 0  # what the 2 leads to waits for Next step
    state = act(IVR, state, "run")
    assert seen(state)["current"] == "steps_1_gather_options_2_steps_0"


def test_hanging_up_ends_the_call_where_the_caller_is() -> None:
    shown = seen(call(("hangup", None)))
    assert shown["status"] == "ended"
    assert shown["ended"]["reason"] == "callee_hangup"
    assert texts(shown)[-2] == "callee hung up"
    assert shown["current"] == MENU


def test_a_transfer_nobody_answers_goes_to_voicemail() -> None:
    shown = seen(call(*presses("1"), answer=False))
    assert any(t.startswith("transfer not answered") for t in texts(shown))
    assert "steps_1_gather_options_1_steps_1_transfer_no_answer_steps_1" in shown["visited"]


def test_a_decided_transfer_stays_decided() -> None:
    state = call(*presses("1"))  # answered
    later = act(IVR, state, "transfers", False)
    assert run(IVR, later).trace.events == run(IVR, state).trace.events


@pytest.mark.parametrize("key", ["a", "12", "", None, True])
def test_a_key_must_be_one_keypad_key(key: Any) -> None:
    with pytest.raises(CallError):
        act(IVR, call(), "press", key)


def test_unknown_action() -> None:
    with pytest.raises(CallError):
        act(IVR, call(), "dance")


def test_state_round_trips_through_json() -> None:
    state = call(*presses("2", "2", "4"))
    assert CallState.from_dict(state.to_dict()) == state
    assert isinstance(run(IVR, state), Progress)
