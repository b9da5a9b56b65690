"""What the webhook app pushes to a Bird call (``univoice_bird.push``) and where the keys
of a finished gather are read from (``events.gather_result``: an unconfirmed reading, so
every form it names is accepted)."""

from __future__ import annotations

from typing import Any

import pytest

from univoice.errors import UnsupportedFeature
from univoice.flow import Flow
from univoice_bird import compile, push
from univoice_bird.events import GatherResult, gather_result

MENU = Flow.from_yaml("""
steps:
  - gather:
      prompt: Press 1 or 2.
      retries: 1
      options:
        "1":
          - gather: {variable: pin, prompt: Your pin then hash., max_digits: 6,
                     finish_on_key: "#"}
          - say: Pin {pin} accepted.
        "2": [hangup]
  - say: Bye.
""")


def commands(document: Any) -> list[str]:
    return [c["command"] for c in document.native]


def test_the_first_segment_waits_at_the_first_gather() -> None:
    state = push.first_state(MENU, "f1")
    assert state == {"flow": "f1", "waits_at": ["steps[0]", 1], "vars": {}, "done": [],
                     "pushes": 0}
    assert [c["command"] for c in compile.start(MENU)] == ["say", "gather", "pause", "hangup"]


def test_each_outcome_pushes_the_next_segment_and_the_state_it_leads_to() -> None:
    state = push.first_state(MENU, "f1")
    first = push.next_flow(MENU, "c1", state, GatherResult("1", "cf-1", "cmd"))
    assert first is not None and first.push is not None
    assert (first.push.call_id, first.push.key) == ("c1", "c1:cf-1")
    assert first.push.state["waits_at"] == ["steps[0].gather.options['1'].steps[0]", 1]
    state = {**state, **first.push.state}
    second = push.next_flow(MENU, "c1", state, GatherResult("4321", "cf-2", None))
    assert second is not None and second.push is not None
    assert second.native[0]["options"]["text"] == "Pin 4321 accepted."
    assert commands(second) == ["say", "say", "hangup"]  # then "Bye.", and the end
    assert second.push.state["vars"] == {"pin": "4321"}
    assert second.push.state["waits_at"] is None
    assert second.push.state["done"] == ["cf-1", "cf-2"]


def test_a_silent_attempt_is_prompted_again_then_the_flow_goes_on() -> None:
    state = push.first_state(MENU, "f1")
    again = push.next_flow(MENU, "c1", state, GatherResult("", "cf-1", None))
    assert again is not None and again.push is not None
    assert commands(again) == ["say", "gather", "pause", "hangup"]
    assert again.push.state["waits_at"] == ["steps[0]", 2]
    state = {**state, **again.push.state}
    on = push.next_flow(MENU, "c1", state, GatherResult("", "cf-2", None))
    assert on is not None and on.native[0]["options"]["text"] == "Bye."


def test_a_resolved_call_flow_or_a_call_not_waiting_pushes_nothing() -> None:
    state = {**push.first_state(MENU, "f1"), "done": ["cf-1"]}
    assert push.next_flow(MENU, "c1", state, GatherResult("1", "cf-1", None)) is None
    assert push.next_flow(MENU, "c1", {**state, "waits_at": None},
                          GatherResult("1", "cf-9", None)) is None
    gone = {**state, "waits_at": ["steps[7]", 1]}  # the flow has no gather there
    assert push.next_flow(MENU, "c1", gone, GatherResult("1", "cf-9", None)) is None


def test_without_a_call_flow_id_the_push_is_keyed_by_its_number() -> None:
    state = push.first_state(MENU, "f1")
    document = push.next_flow(MENU, "c1", state, GatherResult("2", None, None))
    assert document is not None and document.push is not None
    assert document.push.key == "c1:push-1"
    assert document.push.state["pushes"] == 1


def test_an_inbound_call_is_answered_then_runs_its_flow() -> None:
    document = push.answer(MENU, "f1", "c9")
    assert document.push is not None and document.push.key == "c9:answer"
    assert commands(document) == ["answer", "say", "gather", "pause", "hangup"]
    assert document.push.state["waits_at"] == ["steps[0]", 1]


def test_an_answer_makes_room_for_itself_or_names_the_step_that_leaves_none() -> None:
    lines = [{"say": f"Line {i}."} for i in range(19)]
    menu = {"gather": {"prompt": "Press 1.",
                       "options": {"1": [{"say": "One."}, {"say": "Bye."}, "hangup"]}}}
    flow = Flow.from_dict({"steps": [*lines[:14], menu]})
    assert len(compile.start(flow)) == 20 and not compile.hosted(flow)  # no room natively
    document = push.answer(flow, "f1", "c9")
    assert commands(document) == ["answer", *["say"] * 15, "gather", "pause", "hangup"]
    assert document.push is not None and document.push.state["waits_at"] == ["steps[14]", 1]
    too_long = Flow.from_dict({"steps": lines})  # 19 says and a hangup, with no gather
    with pytest.raises(UnsupportedFeature, match=r"flow\.length"):
        push.answer(too_long, "f1", "c9")


CALL = {"id": "c1", "status": "ongoing"}


@pytest.mark.parametrize(("call", "body", "expected"), [
    ({**CALL, "callFlow": {"id": "cf-1", "commands": [
        {"id": "k1", "command": "say"},
        {"id": "k2", "command": "gather", "keys": "12"}]}}, None,
     GatherResult("12", "cf-1", "k2")),
    ({**CALL, "callFlow": {"id": "cf-1", "commands": [
        {"id": "k2", "command": "gather", "callFlowId": "cf-0", "result": {"keys": "#"}}]}},
     None, GatherResult("#", "cf-0", "k2")),
    ({**CALL, "callFlow": {"commands": [{"command": "gather", "result": "7"}]}}, None,
     GatherResult("7", None, None)),
    ({**CALL, "callFlow": {"commands": [{"command": "gather", "variables": {"keys": ""}}]}},
     None, GatherResult("", None, None)),
    ({**CALL, "callFlow": {"id": "cf-3"}, "variables": {"keys": "5"}}, None,
     GatherResult("5", "cf-3", None)),
    ({**CALL, "keys": "9"}, None, GatherResult("9", None, None)),
    (CALL, {"variables": {"keys": "3"}}, GatherResult("3", None, None)),
])
def test_every_reading_of_the_keys(call: dict[str, Any], body: dict[str, Any] | None,
                                   expected: GatherResult) -> None:
    assert gather_result(call, body) == expected


@pytest.mark.parametrize("call", [
    CALL,  # a status callback: no gather finished
    {**CALL, "callFlow": {"commands": [{"command": "gather", "status": "accepted"}]}},
    {**CALL, "callFlow": {"commands": [{"command": "gather", "keys": "12<script>"}]}},
    {**CALL, "callFlow": {"commands": [{"command": "gather", "keys": 12}]}},
    {**CALL, "callFlow": "cf", "keys": ["1"]},
    {**CALL, "keys": "1" * 65},
])
def test_no_keys_where_none_are_reported(call: dict[str, Any]) -> None:
    assert gather_result(call) is None
