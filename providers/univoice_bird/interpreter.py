"""Bird's call engine, impersonated for tests: runs a ``callFlow`` (commands) as the Voice
API documents it against a scripted callee, and reports what happened as a neutral
``Trace``.

Reading of the documentation (PROVIDERS.md 3.3; unconfirmed items read this way,
consistently): commands run in order, a command whose ``conditions`` (all of them: ``eq``
/ ``neq`` on a variable) do not hold is skipped; ``gather`` plays its nested prompt, then
the callee's keys for this attempt are collected into ``keys`` until ``maxNumKeys`` or
``endKey`` (not kept), the window (``timeout``) restarting at each key; with no key and
``retries`` left the prompt plays again; ``keys`` is "" when nothing was pressed. Running
out of commands hangs up. Time and the callee follow the simulator's model.

Hosted flows (``univoice_bird.compile``): after each gather the engine reports the keys
(``on_gather(call flow id, command id, keys)``, standing in for the callback univoice reads
them from); a call flow it returns (the app's ``PATCH``) replaces the running one at once,
before the hold that follows the gather. Each call flow run gets an id (``cf-1`` ...).
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass, field
from typing import Any, NoReturn

from univoice.flow.speech import words
from univoice.models import EndReason
from univoice.simulator.clock import MAX_CALL_MS, CallClock
from univoice.simulator.engine import (
    KEY_MS,
    PLAY_MS,
    SAY_MIN_MS,
    SAY_WORD_MS,
    TRANSCRIPTION,
    TRANSFER_RING_MS,
    recording_length,
)
from univoice.simulator.script import DEFAULT_SCRIPT, CalleeScript
from univoice.simulator.trace import Trace, TraceKind

MAX_COMMANDS = 20
# (call flow id, gather command id, keys) -> the call flow pushed in answer, or None
OnGather = Callable[[str, str, str], list[Any] | None]


@dataclass(frozen=True)
class CallSetup:
    call_id: str
    from_: str
    to: str
    call_flow: list[Any]
    record: bool = False  # create-call ``record``: the whole call
    ring_timeout: float = 30.0


@dataclass
class CallRun:
    trace: Trace
    status: str  # Bird's final call status: completed, busy, no-answer, failed
    ignored: list[str] = field(default_factory=list)


class _Ended(Exception):
    def __init__(self, reason: EndReason, status: str = "completed") -> None:
        self.reason, self.status = reason, status


class _CalleeHungUp(_Ended):
    pass


class _Pushed(Exception):
    def __init__(self, commands: list[Any]) -> None:
        self.commands = commands


def run_call(setup: CallSetup, script: CalleeScript | None = None, *,
             on_gather: OnGather | None = None) -> CallRun:
    script = script or DEFAULT_SCRIPT
    if script.hang_up_at is not None:
        raise ValueError("hang_up_at names neutral step paths, which call flows do not "
                         "carry; use hang_up_after")
    return _Call(setup, script, on_gather).run()


class _Call(CallClock):
    max_call_ms = MAX_CALL_MS
    provider = "Bird"
    def __init__(self, setup: CallSetup, script: CalleeScript,
                 on_gather: OnGather | None = None) -> None:
        super().__init__(script)
        self.setup = setup
        self.on_gather = on_gather
        self.flows = 0
        self.answered_at: int | None = None
        self.next_transfer = 0
        self.recordings = 0
        self.variables: dict[str, str] = {}
        self.ignored: list[str] = []
        self.call_recording: tuple[str, int] | None = None

    def run(self) -> CallRun:
        s = self.setup
        self.emit(TraceKind.INITIATED, {"from": s.from_, "to": s.to})
        self.emit(TraceKind.RINGING, {})
        answer = self.script.answer
        if answer in ("busy", "failed"):
            return self.finish(EndReason(answer), answer)
        if answer == "no_answer":
            self.now = round(s.ring_timeout * 1000)
            return self.finish(EndReason.NO_ANSWER, "no-answer")
        self.now = self.answered_at = round(self.script.ring_seconds * 1000)
        if self.script.hang_up_after is not None:
            self.deadline = self.answered_at + round(self.script.hang_up_after * 1000)
        self.emit(TraceKind.ANSWERED, {})
        try:
            if s.record:
                self.check_deadline()
                self.call_recording = (self.new_recording(), self.now)
                self.emit(TraceKind.RECORDING_STARTED, {"recording_id":
                                                        self.call_recording[0]})
            self.execute(s.call_flow)
        except _Ended as ended:
            return self.finish(ended.reason, ended.status)

    def finish(self, reason: EndReason, status: str) -> CallRun:
        if self.call_recording is not None:
            self.recorded(*self.call_recording, "call_end", False)
        answered = self.answered_at
        duration = (self.now - answered) / 1000 if answered is not None else 0.0
        self.emit(TraceKind.COMPLETED, {"reason": reason.value, "duration": duration})
        trace = Trace(call_id=self.setup.call_id, from_=self.setup.from_, to=self.setup.to,
                      events=self.events, end_reason=reason,
                      answered_at=None if answered is None else answered / 1000,
                      ended_at=self.now / 1000, duration=duration)
        return CallRun(trace, status, self.ignored)


    def hang_up(self) -> NoReturn:
        self.emit(TraceKind.HUNG_UP, {"by": "callee"})
        raise _CalleeHungUp(EndReason.CALLEE_HANGUP)

    def new_recording(self) -> str:
        self.recordings += 1
        return f"rec-{self.recordings}"

    def recorded(self, rec: str, started: int, ended_by: str, transcribe: bool) -> None:
        self.emit(TraceKind.RECORDED, {"recording_id": rec,
                                       "duration": (self.now - started) / 1000,
                                       "ended_by": ended_by, "transcribe": transcribe})
        if transcribe:
            self.emit(TraceKind.TRANSCRIBED, {"recording_id": rec, "text": TRANSCRIPTION})

    # Commands ---------------------------------------------------------------------------

    def execute(self, commands: list[Any]) -> NoReturn:
        while True:
            try:
                self.run_flow(commands)
            except _Pushed as pushed:
                commands = pushed.commands

    def run_flow(self, commands: list[Any]) -> NoReturn:
        if not isinstance(commands, list) or len(commands) > MAX_COMMANDS:
            raise _Ended(EndReason.FAILED, "failed")  # Bird refuses such a call flow
        self.flows += 1
        flow_id = f"cf-{self.flows}"
        for index, command in enumerate(commands):
            if not isinstance(command, dict) or not self.holds(command.get("conditions")):
                continue
            self.check_deadline()
            options = command.get("options") if isinstance(command.get("options"), dict) \
                else {}
            assert isinstance(options, dict)
            name = str(command.get("command"))
            try:
                self.command(name, options)
            except (ValueError, TypeError, KeyError, OverflowError):  # Bird refuses the option
                raise _Ended(EndReason.FAILED, "failed") from None
            if name == "gather" and self.on_gather is not None:
                pushed = self.on_gather(flow_id, f"{flow_id}-{index}", self.variables["keys"])
                if pushed is not None:
                    raise _Pushed(pushed)
        self.emit(TraceKind.HUNG_UP, {"by": "flow"})
        raise _Ended(EndReason.HANGUP)

    def holds(self, conditions: Any) -> bool:
        if not conditions:
            return True
        for condition in conditions if isinstance(conditions, list) else [conditions]:
            if not isinstance(condition, dict):
                return False
            value = self.variables.get(str(condition.get("variable", "")), "")
            expected = str(condition.get("value", ""))
            operator = condition.get("operator")
            if (operator == "eq" and value != expected) or (
                    operator == "neq" and value == expected):
                return False
        return True

    def command(self, name: str, options: dict[str, Any]) -> None:
        if name == "say":
            self.say(options)
        elif name == "playback":
            self.playback(options)
        elif name == "pause":
            seconds = float(options.get("length", 1))
            self.emit(TraceKind.PAUSED, {"seconds": seconds})
            self.advance(round(seconds * 1000))
        elif name == "gather":
            self.gather(options)
        elif name == "record":
            self.record(options)
        elif name == "bridge":
            self.bridge(options)
        elif name == "hangup":
            self.emit(TraceKind.HUNG_UP, {"by": "flow"})
            raise _Ended(EndReason.HANGUP)
        elif name == "answer":
            pass  # the call is answered already (the callee script answers it)
        else:
            self.ignored.append(name)

    def say(self, options: dict[str, Any]) -> None:
        loop = int(options.get("loop") or 1)
        text = " ".join(str(options["text"]).split())
        ms = max(SAY_MIN_MS, words(text) * SAY_WORD_MS) * loop
        self.emit(TraceKind.SAID, {"text": text, "language": options.get("locale", "en-US"),
                                   "gender": options.get("voice"), "voice": None,
                                   "loop": loop, "duration": ms / 1000})
        self.advance(ms)

    def playback(self, options: dict[str, Any]) -> None:
        loop = int(options.get("loop") or 1)
        for url in options["media"]:
            ms = round(self.script.audio_seconds.get(str(url), PLAY_MS / 1000) * 1000) * loop
            self.emit(TraceKind.PLAYED, {"url": str(url), "loop": loop, "duration": ms / 1000})
            self.advance(ms)

    def gather(self, options: dict[str, Any]) -> None:
        max_keys = int(options.get("maxNumKeys") or 1)
        end_key = str(options.get("endKey") or "")
        window = round(float(options.get("timeout") or 5) * 1000)
        for _ in range(1 + int(options.get("retries") or 0)):
            if isinstance(options.get("say"), dict):
                self.say(options["say"])
            if isinstance(options.get("playback"), dict):
                self.playback(options["playback"])
            digits: list[str] = []
            pressed, complete = 0, False
            for key in self.keys() or "":
                pressed += 1
                if end_key and key == end_key:
                    complete = True
                    break
                digits.append(key)
                if len(digits) == max_keys:
                    complete = True
                    break
            self.advance(pressed * KEY_MS + (0 if complete else window))
            entered = "".join(digits)
            self.emit(TraceKind.GATHERED if entered else TraceKind.NO_INPUT,
                      {"digits": entered})
            self.variables["keys"] = entered
            if entered or complete:
                return

    def record(self, options: dict[str, Any]) -> None:
        silence = options.get("timeout")
        ms, ended_by = recording_length(
            self.script, round(float(options.get("maxLength") or 4 * 3600) * 1000),
            round(float(silence) * 1000) if silence else None,
            finish_key=bool(options.get("endKey")))
        transcribe = bool(options.get("transcribe"))
        rec, started = self.new_recording(), self.now
        try:
            self.advance(ms)
        except _CalleeHungUp:
            self.recorded(rec, started, "hangup", transcribe)
            raise
        self.recorded(rec, started, ended_by, transcribe)

    def bridge(self, options: dict[str, Any]) -> None:
        target = str(options["to"])
        ring = float(options.get("ringTimeout") or 30)
        self.emit(TraceKind.TRANSFER_STARTED, {"targets": [target],
                                               "caller_id": options.get("from")
                                               or self.setup.from_, "timeout": ring})
        answers = self.script.transfers
        answered = answers[self.next_transfer] if self.next_transfer < len(answers) else True
        self.next_transfer += 1
        if not answered:
            self.advance(round(ring * 1000))
            self.emit(TraceKind.TRANSFER_NO_ANSWER, {"timeout": ring})
            return
        self.advance(min(TRANSFER_RING_MS, round(ring * 1000)))
        self.emit(TraceKind.TRANSFER_ANSWERED, {"target": target})
        rec = self.new_recording() if options.get("record") else None
        started = self.now
        try:
            self.advance(round(self.script.talk_seconds * 1000))
        except _CalleeHungUp:
            self.emit(TraceKind.TRANSFER_ENDED, {"target": target, "by": "callee",
                                                 "duration": (self.now - started) / 1000})
            if rec is not None:
                self.recorded(rec, started, "hangup", False)
            raise
        self.emit(TraceKind.TRANSFER_ENDED, {"target": target, "by": "target",
                                             "duration": (self.now - started) / 1000})
        if rec is not None:
            self.recorded(rec, started, "target", False)
