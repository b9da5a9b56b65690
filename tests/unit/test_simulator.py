"""The simulator: reference semantics of every step, answer mode and callee behaviour."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import pytest

from univoice.errors import FlowValidationError
from univoice.flow import Flow
from univoice.models import EndReason
from univoice.simulator import CalleeScript, Trace, TraceKind, simulate
from univoice.simulator.engine import collect
from univoice.simulator.script import ScriptValidationError

K = TraceKind
NUMBER = "+31201234567"
OTHER = "+31201234568"


def flow(*steps: Any, **options: Any) -> Flow:
    return Flow.from_dict({**options, "steps": list(steps)})


def run(f: Flow, **script: Any) -> Trace:
    return simulate(f, CalleeScript(**script))


def menu(**gather: Any) -> dict[str, Any]:
    body = {"prompt": "Press 1 or 2.", "options": {"1": [{"say": "One."}],
                                                   "2": [{"say": "Two."}]}}
    return {"gather": {**body, **gather}}


def said(trace: Trace) -> list[str]:
    return [e.data["text"] for e in trace.of(K.SAID)]


def at(trace: Trace, kind: TraceKind) -> list[float]:
    return [e.at for e in trace.of(kind)]


# The call itself ---------------------------------------------------------------------


def test_human_answers_after_ring_and_flow_hangs_up_when_steps_run_out() -> None:
    t = run(flow({"say": "Hello there"}), ring_seconds=4)
    assert t.kinds() == ["initiated", "ringing", "answered", "said", "hung_up", "completed"]
    assert at(t, K.ANSWERED) == [4.0]
    assert t.of(K.HUNG_UP)[0].data == {"by": "flow"}
    assert t.of(K.HUNG_UP)[0].path is None  # ran out of steps: no step hung up
    assert t.end_reason is EndReason.HANGUP
    assert (t.answered_at, t.ended_at, t.duration) == (4.0, 4.8, 0.8)
    assert t.of(K.COMPLETED)[0].data == {"reason": "hangup", "duration": 0.8}


@pytest.mark.parametrize(("answer", "reason", "ended"), [
    ("busy", EndReason.BUSY, 0.0), ("failed", EndReason.FAILED, 0.0),
    ("no_answer", EndReason.NO_ANSWER, 30.0)])
def test_unanswered_calls_end_without_running_steps(answer: str, reason: EndReason,
                                                    ended: float) -> None:
    t = run(flow({"say": "Hi"}), answer=answer)
    assert t.kinds() == ["initiated", "ringing", "completed"]
    assert (t.end_reason, t.ended_at, t.duration, t.answered_at) == (reason, ended, 0.0, None)
    assert t.steps_run() == []


def test_initiated_names_both_numbers_and_call_id_is_kept() -> None:
    t = simulate(flow("hangup"), from_=NUMBER, to="+31612345679", call_id="c-9")
    assert t.events[0].data == {"from": NUMBER, "to": "+31612345679"}
    assert (t.call_id, t.from_, t.to) == ("c-9", NUMBER, "+31612345679")


def test_default_script_is_a_silent_human() -> None:
    t = simulate(flow(menu()))
    assert t.kinds().count("no_input") == 1
    assert at(t, K.ANSWERED) == [3.0]


def test_accepts_flow_document_and_script_mapping() -> None:
    t = simulate({"steps": [menu()]}, {"keys": ["2"]})
    assert said(t) == ["Press 1 or 2.", "Two."]


# Prompt steps ------------------------------------------------------------------------


def test_say_duration_language_defaults_and_loop() -> None:
    f = flow({"say": {"text": "one two three four five"}},
             {"say": {"text": "Hi", "language": "nl-NL", "voice": "Anna", "loop": 3}},
             language="en-GB", gender="male")
    t = run(f)
    first, second = t.of(K.SAID)
    assert first.data == {"text": "one two three four five", "language": "en-GB",
                          "gender": "male", "voice": None, "loop": 1, "duration": 2.0}
    assert second.data["language"] == "nl-NL"
    assert second.data["voice"] == "Anna"
    assert second.data["duration"] == 1.5  # at least 0.5 s per loop
    assert (first.at, second.at) == (3.0, 5.0)
    assert t.ended_at == 6.5


def test_say_language_falls_back_to_en_us() -> None:
    assert run(flow({"say": "Hi"})).of(K.SAID)[0].data["language"] == "en-US"


def test_play_uses_script_audio_length_and_loop() -> None:
    url = "https://media.example/a.mp3"
    f = flow({"play": {"url": url, "loop": 2}}, {"play": "https://media.example/b.wav"})
    t = run(f, audio_seconds={url: 1.5})
    a, b = t.of(K.PLAYED)
    assert a.data == {"url": url, "loop": 2, "duration": 3.0}
    assert b.data["duration"] == 3.0  # the default length
    assert (a.at, b.at, t.ended_at) == (3.0, 6.0, 9.0)


def test_pause_and_send_digits_take_their_time() -> None:
    t = run(flow({"pause": 1.25}, {"send_digits": "12w#W"}))
    assert t.of(K.PAUSED)[0].data == {"seconds": 1.25}
    assert t.of(K.DIGITS_SENT)[0].data == {"digits": "12w#W"}
    assert at(t, K.DIGITS_SENT) == [4.25]
    assert t.ended_at == 4.25 + 3 * 0.25 + 2 * 0.5


# Gather ------------------------------------------------------------------------------


def test_menu_choice_runs_branch_then_continues_after_gather() -> None:
    t = run(flow(menu(), {"say": "After."}), keys=["2"])
    assert said(t) == ["Press 1 or 2.", "Two.", "After."]
    gathered = t.of(K.GATHERED)[0]
    assert gathered.path == "steps[0]"
    assert gathered.data == {"digits": "2", "attempt": 1, "attempts": 1, "variable": None}
    assert gathered.at == 3.0 + 1.6 + 0.5  # prompt (4 words), one key
    assert t.steps_run() == ["steps[0]", "steps[0].gather.prompt[0]",
                             "steps[0].gather.options['2'].steps[0]", "steps[1]"]
    assert t.of(K.SAID)[1].path == "steps[0].gather.options['2'].steps[0]"


def test_retry_reprompts_after_silence_then_accepts() -> None:
    t = run(flow(menu(retries=2, timeout=4)), keys=[None, "1"])
    assert t.kinds()[3:8] == ["said", "no_input", "said", "gathered", "said"]
    assert said(t) == ["Press 1 or 2.", "Press 1 or 2.", "One."]
    no_input = t.of(K.NO_INPUT)[0]
    assert no_input.data == {"digits": "", "attempt": 1, "attempts": 3, "variable": None}
    assert no_input.at == 3.0 + 1.6 + 4.0
    assert t.of(K.GATHERED)[0].data["attempt"] == 2


def test_no_input_branch_runs_after_last_attempt() -> None:
    g = menu(retries=1, no_input=[{"say": "Nothing?"}], invalid=[{"say": "Wrong."}])
    t = run(flow(g, {"say": "After."}))
    assert t.kinds().count("no_input") == 2
    assert said(t)[-2:] == ["Nothing?", "After."]
    assert "steps[0].gather.no_input.steps[0]" in t.steps_run()


def test_invalid_branch_follows_the_last_failure() -> None:
    g = menu(retries=1, no_input=[{"say": "Nothing?"}], invalid=[{"say": "Wrong."}])
    invalid_last = run(flow(g), keys=[None, "9"])
    assert invalid_last.of(K.INVALID_INPUT)[0].data["digits"] == "9"
    assert said(invalid_last)[-1] == "Wrong."
    silence_last = run(flow(g), keys=["9", None])
    assert said(silence_last)[-1] == "Nothing?"


def test_failed_menu_without_branch_continues_after_gather() -> None:
    t = run(flow(menu(), {"say": "After."}), keys=["7"])
    assert t.kinds().count("invalid_input") == 1
    assert said(t) == ["Press 1 or 2.", "After."]


def test_multi_digit_menu_with_finish_key_and_timeout() -> None:
    g = {"gather": {"prompt": "Extension?", "max_digits": 3, "finish_on_key": "#",
                    "timeout": 2, "options": {"12": [{"say": "Twelve."}],
                                              "123": [{"say": "One two three."}]}}}
    by_key = run(flow(g), keys=["12#9"])
    assert said(by_key)[-1] == "Twelve."
    assert at(by_key, K.GATHERED) == [3.0 + 0.5 + 1.5]  # 3 keys, finish key included
    by_timeout = run(flow(g), keys=["12"])
    assert at(by_timeout, K.GATHERED) == [3.0 + 0.5 + 1.0 + 2.0]
    by_max = run(flow(g), keys=["1234"])
    assert said(by_max)[-1] == "One two three."
    assert at(by_max, K.GATHERED) == [3.0 + 0.5 + 1.5]


def test_free_input_stored_and_interpolated() -> None:
    f = flow({"gather": {"variable": "pin", "prompt": "PIN?", "max_digits": 6,
                         "finish_on_key": "#"}},
             {"say": "Your PIN is {pin}, in braces {{pin}}."})
    t = run(f, keys=["4711#"])
    assert t.variables == {"pin": "4711"}
    assert t.of(K.GATHERED)[0].data["variable"] == "pin"
    assert said(t)[-1] == "Your PIN is 4711, in braces {pin}."


def test_free_input_silence_is_empty_then_no_input_branch() -> None:
    f = flow({"gather": {"variable": "pin", "prompt": "PIN?", "retries": 1,
                         "no_input": [{"say": "No PIN."}]}},
             {"say": "PIN [{pin}]"})
    t = run(f, keys=["", None])
    assert t.variables == {"pin": ""}
    assert t.kinds().count("no_input") == 2
    assert said(t)[-2:] == ["No PIN.", "PIN []"]


def test_keys_are_consumed_per_attempt_across_gathers() -> None:
    f = flow(menu(retries=1), menu())
    t = run(f, keys=[None, "1", "2"])
    assert said(t) == ["Press 1 or 2."] * 2 + ["One.", "Press 1 or 2.", "Two."]


@pytest.mark.parametrize(("entry", "max_digits", "finish", "expected"), [
    (None, 1, None, ("", 0, False)),
    ("", 3, "#", ("", 0, False)),
    ("1", 1, None, ("1", 1, True)),
    ("123", 2, None, ("12", 2, True)),
    ("12", 3, None, ("12", 2, False)),
    ("1#23", 4, "#", ("1", 2, True)),
    ("#", 4, "#", ("", 1, True)),
    ("12*", 5, "#", ("12*", 3, False)),
])
def test_collect_rule(entry: str | None, max_digits: int, finish: str | None,
                      expected: tuple[str, int, bool]) -> None:
    assert collect(entry, max_digits, finish) == expected


# Record, transfer, conference --------------------------------------------------------


@pytest.mark.parametrize(("record", "script", "duration", "ended_by"), [
    ({}, {}, 5.0, "finish_key"),
    ({"silence_timeout": 2}, {"record_seconds": 4}, 6.0, "silence"),
    ({"max_length": 3}, {"record_seconds": 10}, 3.0, "max_length"),
    ({"max_length": 7, "silence_timeout": 3}, {"record_seconds": 5}, 7.0, "max_length"),
    ({"finish_on_key": None, "max_length": 20}, {}, 20.0, "max_length"),
])
def test_record_length(record: dict[str, Any], script: dict[str, Any], duration: float,
                       ended_by: str) -> None:
    t = run(flow({"record": record}), **script)
    assert t.kinds() == ["initiated", "ringing", "answered", "recorded", "hung_up", "completed"]
    ev = t.of(K.RECORDED)[0]
    assert ev.data == {"recording_id": "rec-1", "duration": duration, "ended_by": ended_by,
                       "transcribe": False}
    assert ev.at == 3.0 + duration


def test_record_transcribed_and_ids_count_up() -> None:
    f = flow({"record": {"transcribe": True, "transcribe_language": "nl-NL"}},
             {"record": {"transcribe": True}}, language="de-DE")
    t = run(f)
    assert t.recordings == ["rec-1", "rec-2"]
    first, second = t.of(K.TRANSCRIBED)
    assert first.data == {"recording_id": "rec-1", "text": "(simulated transcription)",
                          "language": "nl-NL"}
    assert second.data["language"] == "de-DE"


def test_transfer_answered_bridges_then_continues() -> None:
    f = flow({"transfer": {"targets": [NUMBER, OTHER], "caller_id": OTHER, "record": True}},
             {"say": "Back."})
    t = run(f, talk_seconds=12)
    assert t.kinds()[3:8] == ["transfer_started", "transfer_answered", "transfer_ended",
                              "recorded", "said"]
    started, answered, ended = (t.of(k)[0] for k in (K.TRANSFER_STARTED,
                                                     K.TRANSFER_ANSWERED, K.TRANSFER_ENDED))
    assert started.data == {"targets": [NUMBER, OTHER], "caller_id": OTHER,
                            "timeout": 30.0, "record": True}
    assert (answered.at, answered.data) == (8.0, {"target": NUMBER})
    assert (ended.at, ended.data["by"], ended.data["duration"]) == (20.0, "target", 12.0)
    assert t.of(K.RECORDED)[0].data["duration"] == 12.0


def test_transfer_caller_id_defaults_to_calling_number_and_short_timeout_caps_ring() -> None:
    t = simulate(flow({"transfer": {"targets": OTHER, "timeout": 2}}), from_=NUMBER)
    assert t.of(K.TRANSFER_STARTED)[0].data["caller_id"] == NUMBER
    assert at(t, K.TRANSFER_ANSWERED) == [5.0]


def test_transfer_not_answered_runs_no_answer_branch_then_continues() -> None:
    f = flow({"transfer": {"targets": OTHER, "timeout": 20,
                           "no_answer": [{"say": "Nobody."}]}},
             {"transfer": OTHER}, {"say": "Done."})
    t = run(f, transfers=[False])  # the list runs out: the second transfer is answered
    assert t.kinds()[3:7] == ["transfer_started", "transfer_no_answer", "said",
                              "transfer_started"]
    assert t.of(K.TRANSFER_NO_ANSWER)[0].at == 23.0
    assert said(t) == ["Nobody.", "Done."]
    assert "steps[0].transfer.no_answer.steps[0]" in t.steps_run()
    assert len(t.of(K.TRANSFER_ANSWERED)) == 1


def test_conference_joins_and_leaves_after_talk() -> None:
    f = flow({"conference": {"name": "room-1", "muted": True, "record": True,
                             "hold_music": "https://media.example/hold.mp3"}},
             {"say": "Left."})
    t = run(f, talk_seconds=60)
    joined, left = t.of(K.CONFERENCE_JOINED)[0], t.of(K.CONFERENCE_LEFT)[0]
    assert joined.data == {"name": "room-1", "muted": True, "start_on_enter": True,
                           "end_on_exit": False, "hold_music": "https://media.example/hold.mp3",
                           "record": True}
    assert (left.at, left.data) == (63.0, {"name": "room-1", "by": "conference",
                                           "duration": 60.0})
    assert t.recordings == ["rec-1"]
    assert said(t) == ["Left."]


# Ending: hangup, redirect ------------------------------------------------------------


def test_hangup_in_a_branch_ends_the_call() -> None:
    g = menu()
    g["gather"]["options"]["1"] = [{"say": "Bye."}, "hangup"]
    t = run(flow(g, {"say": "Never."}), keys=["1"])
    assert said(t) == ["Press 1 or 2.", "Bye."]
    hung = t.of(K.HUNG_UP)[0]
    assert (hung.path, hung.data) == ("steps[0].gather.options['1'].steps[1]", {"by": "flow"})
    assert t.end_reason is EndReason.HANGUP


def test_redirect_without_resolver_ends_redirected() -> None:
    t = run(flow({"redirect": "https://app.example/next"}))
    assert t.kinds()[-2:] == ["redirected", "completed"]
    assert K.HUNG_UP.value not in t.kinds()
    assert t.of(K.REDIRECTED)[0].data == {"url": "https://app.example/next", "method": "POST",
                                          "followed": False, "note": "not followed"}
    assert t.end_reason is EndReason.REDIRECTED


def test_redirect_followed_through_mapping_replaces_the_rest() -> None:
    g = menu()
    g["gather"]["options"]["1"] = [{"redirect": {"url": "https://app.example/a",
                                                 "method": "GET"}}]
    target = flow({"say": "Elsewhere."}, "hangup", language="fr-FR")
    t = simulate(flow(g, {"say": "Not reached."}), CalleeScript.presses("1"),
                 redirects={"https://app.example/a": target})
    assert said(t) == ["Press 1 or 2.", "Elsewhere."]
    assert t.of(K.SAID)[1].data["language"] == "fr-FR"  # the new flow's defaults
    assert t.of(K.REDIRECTED)[0].data["followed"] is True
    assert t.steps_run()[-2:] == ["redirects[0].steps[0]", "redirects[0].steps[1]"]
    assert t.end_reason is EndReason.HANGUP


def test_redirect_followed_through_callable_and_loop_is_limited() -> None:
    loop = flow({"say": "Again."}, {"redirect": "https://app.example/loop"})
    seen: list[str] = []

    def resolve(url: str) -> Flow | None:
        seen.append(url)
        return loop

    t = simulate(loop, redirects=resolve)
    assert len(seen) == 10
    assert said(t) == ["Again."] * 11
    assert t.of(K.REDIRECTED)[-1].data["note"] == "more than 10 redirects"
    assert t.end_reason is EndReason.REDIRECTED


def test_redirect_resolver_returning_none_ends_redirected() -> None:
    t = simulate(flow({"redirect": "https://app.example/x"}), redirects=lambda url: None)
    assert t.end_reason is EndReason.REDIRECTED


# Flow-level options ------------------------------------------------------------------


def test_flow_record_covers_answer_to_end() -> None:
    t = run(flow({"say": "one two three four five"}, {"record": {}}, record=True))
    assert t.kinds()[2:4] == ["answered", "recording_started"]
    assert t.kinds()[-3:] == ["hung_up", "recorded", "completed"]
    call_rec = t.of(K.RECORDED)[-1]
    assert call_rec.path is None
    assert call_rec.data == {"recording_id": "rec-1", "duration": 7.0, "ended_by": "call_end",
                             "transcribe": False}
    assert t.recordings == ["rec-1", "rec-2"]


def test_machine_detection_human_runs_flow_after_detection() -> None:
    t = run(flow({"say": "Hi"}, machine_detection=True))
    detected = t.of(K.MACHINE_DETECTED)[0]
    assert (detected.at, detected.data) == (5.0, {"result": "human"})
    assert at(t, K.SAID) == [5.0]
    assert t.end_reason is EndReason.HANGUP


def test_machine_detection_machine_without_branch_hangs_up() -> None:
    t = run(flow({"say": "Hi"}, machine_detection=True), answer="machine")
    assert t.kinds()[-3:] == ["machine_detected", "hung_up", "completed"]
    assert t.of(K.MACHINE_DETECTED)[0].data == {"result": "machine"}
    assert (t.end_reason, t.ended_at) == (EndReason.MACHINE, 5.0)
    assert said(t) == []


def test_machine_detection_on_machine_branch_runs_then_hangs_up() -> None:
    f = flow({"say": "Hi"}, machine_detection={"on_machine": [{"say": "Call us back."},
                                                              menu()]})
    t = run(f, answer="machine", keys=["1"])
    assert said(t) == ["Call us back.", "Press 1 or 2."]  # a machine presses nothing
    assert t.steps_run()[0] == "machine_detection.on_machine.steps[0]"
    assert t.end_reason is EndReason.MACHINE
    with_hangup = run(flow({"say": "Hi"}, machine_detection={"on_machine": ["hangup"]}),
                      answer="machine")
    assert with_hangup.end_reason is EndReason.MACHINE


def test_machine_without_detection_runs_flow_silently() -> None:
    t = run(flow(menu(), menu()), answer="machine", keys=["1", "2"])
    assert t.kinds().count("no_input") == 2
    assert t.kinds().count("gathered") == 0
    assert t.end_reason is EndReason.HANGUP


# The callee hangs up -----------------------------------------------------------------


def test_hang_up_after_interrupts_a_say_at_exact_time() -> None:
    f = flow({"say": "one two three four five six seven eight nine ten"}, {"say": "Next."})
    t = run(f, hang_up_after=2.5)
    assert t.kinds() == ["initiated", "ringing", "answered", "said", "hung_up", "completed"]
    hung = t.of(K.HUNG_UP)[0]
    assert (hung.at, hung.path, hung.data) == (5.5, "steps[0]", {"by": "callee"})
    assert (t.end_reason, t.duration) == (EndReason.CALLEE_HANGUP, 2.5)


def test_hang_up_after_zero_runs_no_step() -> None:
    t = run(flow({"say": "Hi"}, record=True), hang_up_after=0)
    # Ties go to the callee: not even the whole-call recording starts.
    assert t.kinds() == ["initiated", "ringing", "answered", "hung_up", "completed"]
    assert t.recordings == [] and t.steps_run() == []


def test_hang_up_ties_go_to_the_callee() -> None:
    # The say ends at exactly the hang-up time: the next step never starts.
    t = run(flow({"say": "one two three four five"}, "hangup"), hang_up_after=2)
    assert t.of(K.HUNG_UP)[0].data == {"by": "callee"}
    assert t.steps_run() == ["steps[0]"]


def test_hang_up_during_record_keeps_partial_recording() -> None:
    f = flow({"say": "Speak."}, {"record": {"transcribe": True}})
    t = run(f, record_seconds=30, hang_up_after=10)
    assert t.kinds()[-4:] == ["hung_up", "recorded", "transcribed", "completed"]
    rec = t.of(K.RECORDED)[0]
    assert (rec.at, rec.data["duration"], rec.data["ended_by"]) == (13.0, 9.5, "hangup")


def test_hang_up_during_bridged_transfer_and_conference() -> None:
    t = run(flow({"transfer": {"targets": OTHER, "record": True}}), hang_up_after=7)
    assert t.kinds()[-5:] == ["transfer_answered", "hung_up", "transfer_ended", "recorded",
                              "completed"]
    ended = t.of(K.TRANSFER_ENDED)[0]
    assert (ended.at, ended.data["by"], ended.data["duration"]) == (10.0, "callee", 2.0)
    c = run(flow({"conference": "room"}), hang_up_after=1)
    assert c.of(K.CONFERENCE_LEFT)[0].data == {"name": "room", "by": "callee",
                                               "duration": 1.0}


def test_hang_up_while_transfer_rings_or_during_gather() -> None:
    t = run(flow({"transfer": OTHER}), hang_up_after=2)
    assert t.kinds()[-3:] == ["transfer_started", "hung_up", "completed"]
    g = run(flow(menu()), keys=["1"], hang_up_after=1.8)  # prompt ends at 1.6
    assert g.kinds()[-3:] == ["said", "hung_up", "completed"]
    assert g.of(K.HUNG_UP)[0].path == "steps[0]"


def test_hang_up_during_machine_detection() -> None:
    t = run(flow({"say": "Hi"}, machine_detection=True), hang_up_after=1)
    assert t.kinds()[-3:] == ["answered", "hung_up", "completed"]
    assert t.of(K.HUNG_UP)[0].path is None


def test_hang_up_at_nested_path() -> None:
    g = menu()
    g["gather"]["options"]["1"] = [{"say": "First."}, {"say": "Second."}]
    f = flow(g, {"say": "After."})
    path = "steps[0].gather.options['1'].steps[1]"
    t = run(f, keys=["1"], hang_up_at=path)
    assert said(t) == ["Press 1 or 2.", "First."]
    hung = t.of(K.HUNG_UP)[0]
    assert (hung.path, hung.data, hung.at) == (path, {"by": "callee"}, 3.0 + 1.6 + 0.5 + 0.5)
    assert t.end_reason is EndReason.CALLEE_HANGUP
    not_reached = run(f, keys=["2"], hang_up_at=path)
    assert not_reached.end_reason is EndReason.HANGUP


def test_hang_up_at_prompt_and_redirected_step() -> None:
    t = run(flow(menu(retries=1)), hang_up_at="steps[0].gather.prompt[0]")
    assert t.kinds()[-2:] == ["hung_up", "completed"]
    assert t.steps_run() == ["steps[0]"]
    target = flow({"say": "A."}, {"say": "B."})
    r = simulate(flow({"redirect": "https://app.example/a"}),
                 CalleeScript(hang_up_at="redirects[0].steps[1]"),
                 redirects={"https://app.example/a": target})
    assert said(r) == ["A."]
    assert r.end_reason is EndReason.CALLEE_HANGUP


def test_hang_up_at_must_name_a_step_of_the_flow() -> None:
    with pytest.raises(FlowValidationError) as err:
        run(flow({"say": "Hi"}), hang_up_at="steps[3]")
    assert [str(i) for i in err.value.issues] == [
        "script.hang_up_at: 'steps[3]' names no step of the flow"]


# The script --------------------------------------------------------------------------


def test_script_errors_name_their_path() -> None:
    with pytest.raises(ScriptValidationError) as err:
        CalleeScript(keys=["1", None, "12a"], ring_seconds=-1, hang_up_at="steps[0].say.text",
                     bogus=1)  # type: ignore[call-arg]
    assert isinstance(err.value, FlowValidationError)
    paths = sorted(i.path for i in err.value.issues)
    assert paths == ["script.bogus", "script.hang_up_at", "script.keys[2]",
                     "script.ring_seconds"]
    assert str(err.value).startswith("invalid callee script: 4 problems")
    with pytest.raises(ScriptValidationError):
        CalleeScript(answer="maybe")
    with pytest.raises(ScriptValidationError):
        CalleeScript(audio_seconds={"https://x.example/a.wav": 0})


def test_script_normalises_and_presses() -> None:
    assert CalleeScript(keys=[1, "", None, "2#"]).keys == ["1", None, None, "2#"]
    script = CalleeScript.presses("1", None, talk_seconds=5)
    assert (script.keys, script.talk_seconds) == (["1", None], 5)
    assert script == CalleeScript(keys=["1", ""], talk_seconds=5)


# Determinism, serialisation, transcript -----------------------------------------------


def test_same_inputs_give_identical_traces(examples: Path) -> None:
    f = Flow.from_yaml(examples / "support_ivr.yaml")
    script = CalleeScript(keys=["2", "2", "4711#"], transfers=[False], record_seconds=12)
    assert simulate(f, script) == simulate(f, script)
    assert simulate(f, script).to_dict() == simulate(f, script).to_dict()


def test_to_dict_is_json_safe(examples: Path) -> None:
    f = Flow.from_yaml(examples / "support_ivr.yaml")
    t = simulate(f, CalleeScript(keys=["2", "2", "4711#"], transfers=[False]))
    data = json.loads(json.dumps(t.to_dict()))
    assert data == t.to_dict()
    assert data["from"] == t.from_
    assert data["variables"] == {"ticket": "4711"}
    assert data["events"][-1] == {"at": t.ended_at, "kind": "completed", "path": None,
                                  "data": {"reason": "hangup", "duration": t.duration}}


def test_transcript_reads_like_the_call() -> None:
    f = flow({"say": "Welcome to Acme"},
             {"gather": {"prompt": "Press 1.", "options": {"1": [{"say": "Hello {{you}}."}]},
                         "retries": 1}},
             {"record": {"transcribe": True}}, "hangup", language="en-US")
    t = run(f, keys=[None, "1"])
    # 0.4 s a word, 5 s of silence, 0.5 s a key, 5 s of speech into the recording.
    assert t.transcript().splitlines() == [
        "00:00.0  calling +31612345678 from +31201234567",
        "00:00.0  ringing",
        "00:03.0  answered",
        '00:03.0  say "Welcome to Acme" [en-US]',
        '00:04.2  say "Press 1." [en-US]',
        "00:10.0  no input (attempt 1 of 2)",
        '00:10.0  say "Press 1." [en-US]',
        "00:11.3  caller pressed 1 (attempt 2 of 2)",
        '00:11.3  say "Hello {you}." [en-US]',
        "00:17.1  recorded rec-1 (5 s, ended by finish key)",
        '00:17.1  transcribed rec-1: "(simulated transcription)"',
        "00:17.1  flow hung up",
        "00:17.1  completed: hangup after 14.1 s",
    ]
    assert str(t) == t.transcript()


def test_transcript_phrases_for_every_event_kind() -> None:
    f = flow({"play": {"url": "https://m.example/a.wav", "loop": 2}}, {"pause": 0.25},
             {"send_digits": "1w"},
             {"gather": {"variable": "n", "prompt": "Number?", "max_digits": 2}},
             {"say": {"text": "Hi", "gender": "male", "voice": "Bob", "loop": 2}},
             {"transfer": {"targets": OTHER, "no_answer": [{"conference": {
                 "name": "room", "muted": True}}]}},
             {"redirect": "https://app.example/x"},
             machine_detection=True, record=True)
    text = run(f, keys=["42"], transfers=[False], talk_seconds=61).transcript()
    for phrase in ["machine detection: human", "recording the call (rec-1)",
                   "play https://m.example/a.wav x2", "pause 0.25 s", "sent digits 1w",
                   "caller pressed 42 -> n", 'say "Hi" [en-US, male, Bob] x2',
                   f"transfer to {OTHER} (caller ID +31201234567)",
                   "transfer not answered after 30 s", 'joined conference "room" (muted)',
                   'left conference "room" after 61 s',
                   "redirected to POST https://app.example/x (not followed)",
                   "recorded rec-1", "completed: redirected after"]:
        assert phrase in text, phrase
    assert "01:" in text  # minutes roll over


# The provider plugin -----------------------------------------------------------------


def test_simulator_provider_found_through_entry_point() -> None:
    from univoice.capabilities import ALL_FEATURES
    from univoice.plugins import get_provider, new_registry
    from univoice.simulator import SimulatorProvider

    provider = get_provider("simulator")
    assert isinstance(provider, SimulatorProvider)
    assert provider.title == "Simulator (embedded, no account)"
    assert provider.capabilities.features == ALL_FEATURES
    assert new_registry().providers()["simulator"] is SimulatorProvider
    f = flow({"say": "Hi"}, menu(), record=True)
    doc = provider.compile_flow(f)
    assert (doc.provider, doc.media_type) == ("simulator", "application/json")
    assert json.loads(doc.body) == f.to_dict() == doc.native
    assert Flow.from_json(doc.body) == f
    assert provider.simulate(f, CalleeScript.presses("1")) == simulate(
        f, CalleeScript.presses("1"))


def test_package_exports_load_lazily() -> None:
    import univoice
    import univoice.simulator as sim

    assert univoice.simulate is sim.simulate
    assert {"CalleeScript", "Trace", "TraceEvent", "TraceKind", "simulate",
            "SimulatorProvider"} <= set(dir(sim))
    with pytest.raises(AttributeError):
        _ = sim.nope


# The bundled example -----------------------------------------------------------------


def test_support_ivr_callers(examples: Path) -> None:
    f = Flow.from_yaml(examples / "support_ivr.yaml")
    billing = simulate(f, CalleeScript.presses("2", "1"))
    assert "Connecting you to billing." in said(billing)
    assert billing.of(K.TRANSFER_ANSWERED)[0].data == {"target": "+31201234568"}
    voicemail = simulate(f, CalleeScript(keys=["1"], transfers=[False]))
    assert voicemail.kinds().count("transcribed") == 1
    assert said(voicemail)[-1] == "Thank you, we will call you back."
    silent = simulate(f, CalleeScript.presses(None, None, None))
    assert said(silent)[-1] == "We did not hear a choice. Please call again. Goodbye."
    assert {t.end_reason for t in (billing, voicemail, silent)} == {EndReason.HANGUP}


def test_flow_record_starts_after_machine_detection() -> None:
    f = Flow.from_dict({"record": True, "machine_detection": True, "steps": [{"say": "Hi"}]})
    human = run(f)
    assert human.kinds()[2:5] == ["answered", "machine_detected", "recording_started"]
    assert human.of(K.RECORDING_STARTED)[0].at == human.of(K.MACHINE_DETECTED)[0].at
    machine = run(f, answer="machine")
    assert "recording_started" not in machine.kinds() and machine.recordings == []
