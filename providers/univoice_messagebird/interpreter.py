"""MessageBird's call-flow engine, impersonated for tests: runs call-flow JSON as the
Voice Calling API documents it against a scripted callee, and reports what happened as a
neutral ``Trace``.

Reading of the documentation (PROVIDERS.md 3.2; the items marked unconfirmed there are
read this way, consistently): steps run in order, skipping a step whose ``conditions``
(all of them) do not hold; a step with ``onKeypressGoto`` listens for keys, and the
scripted callee presses them in the input window, the last step of a run listening for
the same jump (a prompt, then a ``pause``). Keys are collected into ``onKeypressVar``
until ``maxNumKeys`` or ``endKey`` (not kept), the window restarting at each key; then
the call jumps to the step with that id, or, with no key, goes on. ``fetchCallFlow``
GETs its URL with ``variables`` (JSON of the collected variables), ``callID``,
``source`` and ``destination`` and replaces the call flow with the answer. Running out
of steps hangs up. Status changes are posted to the call's webhook (``callUpdated``,
signed with the signing key when one is given).

Time and the callee follow the simulator's model (``univoice.simulator.engine``), so a
compiled flow is held to ``simulate``'s observable trace.
"""

from __future__ import annotations

import json
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn
from urllib.parse import urlencode

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

# (method, url, body or None, headers) -> (status, body text)
Http = Callable[[str, str, bytes | None, dict[str, str]], tuple[int, str]]
# (url, body) -> headers that sign the request (None: unsigned)
Signer = Callable[[str, bytes], dict[str, str]]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MAX_FLOWS = 200
TRANSFER_RING_S = 30.0  # MessageBird's own ring time for a transfer (not settable)


@dataclass(frozen=True)
class CallSetup:
    call_id: str
    from_: str
    to: str
    call_flow: dict[str, Any]  # the inline call flow of POST /calls
    webhook_url: str | None = None
    direction: str = "outgoing"
    call_timeout: float = 30.0
    epoch: datetime | None = None


@dataclass(frozen=True)
class RecordingMade:
    id: str
    call_id: str
    leg_id: str
    started_at: float
    duration: float
    file_format: str = "wav"
    transcript: str | None = None


@dataclass
class CallRun:
    trace: Trace
    status: str  # the leg's final status: hangup, busy, no_answer, failed
    recordings: list[RecordingMade] = field(default_factory=list)
    callbacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)


class _Ended(Exception):
    def __init__(self, reason: EndReason, status: str = "hangup") -> None:
        self.reason, self.status = reason, status


class _CalleeHungUp(_Ended):
    pass


class _Replace(Exception):
    def __init__(self, flow: dict[str, Any]) -> None:
        self.flow = flow


class _Jump(Exception):
    def __init__(self, step_id: str) -> None:
        self.step_id = step_id


def run_call(setup: CallSetup, script: CalleeScript | None, http: Http,
             signer: Signer | None = None) -> CallRun:
    script = script or DEFAULT_SCRIPT
    if script.hang_up_at is not None:
        raise ValueError("hang_up_at names neutral step paths, which call flows do not "
                         "carry; use hang_up_after")
    return _Call(setup, script, http, signer).run()


class _Call(CallClock):
    max_call_ms = MAX_CALL_MS
    provider = "MessageBird"
    def __init__(self, setup: CallSetup, script: CalleeScript, http: Http,
                 signer: Signer | None) -> None:
        super().__init__(script)
        self.setup, self.http, self.signer = setup, http, signer
        self.answered_at: int | None = None
        self.next_transfer = 0
        self.recordings = 0
        self.open: list[tuple[str, int]] = []  # the whole-call recording
        self.made: list[RecordingMade] = []
        self.callbacks: list[tuple[str, dict[str, Any]]] = []
        self.ignored: list[str] = []
        self.variables: dict[str, str] = {}
        self.flows = 0
        self.epoch = setup.epoch or EPOCH
        self.leg_id = f"{setup.call_id}-leg1"
        self.run_id = uuid.uuid4().hex[:8]
        self.window = False  # the step running is where the callee presses keys

    def run(self) -> CallRun:
        s = self.setup
        self.emit(TraceKind.INITIATED, {"from": s.from_, "to": s.to})
        self.notify("starting")
        self.emit(TraceKind.RINGING, {})
        self.notify("ringing")
        answer = self.script.answer
        if answer in ("busy", "failed"):
            return self.finish(EndReason(answer), answer)
        if answer == "no_answer":
            self.now = round(s.call_timeout * 1000)
            return self.finish(EndReason.NO_ANSWER, "no_answer")
        self.now = self.answered_at = round(self.script.ring_seconds * 1000)
        if self.script.hang_up_after is not None:
            self.deadline = self.answered_at + round(self.script.hang_up_after * 1000)
        self.emit(TraceKind.ANSWERED, {})
        self.notify("ongoing")
        try:
            flow = s.call_flow
            if flow.get("record") is True:
                self.check_deadline()
                rec = self.new_recording()
                self.open.append((rec, self.now))
                self.emit(TraceKind.RECORDING_STARTED, {"recording_id": rec})
            self.execute(flow)
        except _Ended as ended:
            return self.finish(ended.reason, ended.status)

    def finish(self, reason: EndReason, status: str) -> CallRun:
        for rec, started in self.open:
            self.recorded(rec, started, "call_end", False)
        answered = self.answered_at
        duration = (self.now - answered) / 1000 if answered is not None else 0.0
        self.emit(TraceKind.COMPLETED, {"reason": reason.value, "duration": duration})
        self.notify("ended", leg_status=status)
        trace = Trace(call_id=self.setup.call_id, from_=self.setup.from_, to=self.setup.to,
                      events=self.events, end_reason=reason,
                      answered_at=None if answered is None else answered / 1000,
                      ended_at=self.now / 1000, duration=duration)
        return CallRun(trace, status, self.made, self.callbacks, self.ignored)

    # Clock and callee -------------------------------------------------------------------


    def hang_up(self) -> NoReturn:
        self.emit(TraceKind.HUNG_UP, {"by": "callee"})
        raise _CalleeHungUp(EndReason.CALLEE_HANGUP, "hangup")

    def new_recording(self) -> str:
        self.recordings += 1
        return f"rec-{self.recordings}"

    def time(self, ms: int | None = None) -> str:
        moment = self.epoch + timedelta(milliseconds=self.now if ms is None else ms)
        return moment.isoformat().replace("+00:00", "Z")

    # Requests ---------------------------------------------------------------------------

    def send(self, method: str, url: str, body: bytes | None) -> tuple[int, str]:
        headers = {"content-type": "application/json"} if body else {}
        if self.signer is not None:
            headers.update(self.signer(url, body or b""))
        return self.http(method, url, body, headers)

    def notify(self, status: str, *, leg_status: str | None = None) -> None:
        """A ``callUpdated`` webhook carrying the call and its leg."""
        url = self.setup.webhook_url
        if url is None:
            return
        s = self.setup
        leg = {"id": self.leg_id, "callId": s.call_id, "source": s.from_.lstrip("+"),
               "destination": s.to.lstrip("+"), "status": leg_status or status,
               "direction": s.direction, "createdAt": self.time(0),
               "updatedAt": self.time(),
               "answeredAt": None if self.answered_at is None else self.time(
                   self.answered_at),
               "endedAt": self.time() if status == "ended" else None}
        call = {"id": s.call_id, "status": status, "source": s.from_.lstrip("+"),
                "destination": s.to.lstrip("+"), "createdAt": self.time(0),
                "updatedAt": self.time(), "endedAt": leg["endedAt"], "legs": [leg]}
        payload = {"timestamp": self.time(),
                   "items": [{"type": "call", "event": "callUpdated", "payload": call}]}
        self.callbacks.append((url, payload))
        self.send("POST", url, json.dumps(payload).encode())

    def fetch(self, url: str) -> dict[str, Any] | None:
        """``fetchCallFlow``: the call flow at ``url`` (None when it cannot be had)."""
        self.flows += 1
        if self.flows > MAX_FLOWS:
            raise _Ended(EndReason.FAILED, "failed")
        query = urlencode({"variables": json.dumps(self.variables, separators=(",", ":")),
                           "callID": self.setup.call_id,
                           "source": self.setup.from_.lstrip("+"),
                           "destination": self.setup.to.lstrip("+")})
        full = f"{url}{'&' if '?' in url else '?'}{query}"
        self.callbacks.append((full, {}))
        status, body = self.send("GET", full, None)
        if not 200 <= status < 300:
            return None
        try:
            flow = json.loads(body)
        except (ValueError, RecursionError):  # not JSON, or nested past the parser's limit
            return None
        return flow if isinstance(flow, dict) and isinstance(flow.get("steps"), list) else None

    # Call flows -------------------------------------------------------------------------

    def execute(self, flow: dict[str, Any]) -> NoReturn:
        found = flow.get("steps") or []
        if not isinstance(found, list):  # MessageBird refuses such a call flow
            raise _Ended(EndReason.FAILED, "failed")
        steps: list[Any] = list(found)
        index = 0
        while True:
            if index >= len(steps):
                self.emit(TraceKind.HUNG_UP, {"by": "flow"})
                raise _Ended(EndReason.HANGUP, "hangup")
            step = steps[index]
            index += 1
            if not isinstance(step, dict) or not self.holds(step.get("conditions")):
                continue
            try:
                self.check_deadline()
                # The callee presses keys once the prompt is over: in the last step of a
                # run of steps listening for the same jump (the input window).
                following = steps[index] if index < len(steps) else None
                self.window = bool(step.get("onKeypressGoto")) and not (
                    isinstance(following, dict) and following.get("onKeypressGoto")
                    == step.get("onKeypressGoto"))
                try:
                    self.step(step)
                except (ValueError, TypeError, KeyError, OverflowError):
                    # an option MessageBird would refuse (a wrong type, an endless length)
                    raise _Ended(EndReason.FAILED, "failed") from None
            except _Jump as jump:
                found = [i for i, s in enumerate(steps)
                         if isinstance(s, dict) and s.get("id") == jump.step_id]
                if not found:  # a goto to nowhere: MessageBird fails the call
                    raise _Ended(EndReason.FAILED, "failed") from None
                index = found[0]
            except _Replace as replace:
                steps, index = list(replace.flow.get("steps") or []), 0

    def holds(self, conditions: Any) -> bool:
        if not conditions:
            return True
        for condition in conditions if isinstance(conditions, list) else [conditions]:
            if not isinstance(condition, dict):
                return False
            value = self.variables.get(str(condition.get("variable", "")), "")
            expected = str(condition.get("value", ""))
            operator = condition.get("operator", "==")
            if (operator in ("==", "=", "equals") and value != expected) or (
                    operator in ("!=", "notEquals") and value == expected):
                return False
        return True

    def step(self, step: dict[str, Any]) -> None:
        action = step.get("action")
        options = step.get("options") if isinstance(step.get("options"), dict) else {}
        assert isinstance(options, dict)
        if action == "say":
            repeat = int(options.get("repeat") or 1)
            text = " ".join(str(options.get("payload", "")).split())
            ms = max(SAY_MIN_MS, words(text) * SAY_WORD_MS) * repeat
            self.emit(TraceKind.SAID, {"text": text, "language": options.get("language"),
                                       "gender": options.get("voice"), "voice": None,
                                       "loop": repeat, "duration": ms / 1000})
            self.advance(ms)
        elif action == "play":
            url = str(options.get("media", ""))
            ms = round(self.script.audio_seconds.get(url, PLAY_MS / 1000) * 1000)
            self.emit(TraceKind.PLAYED, {"url": url, "loop": 1, "duration": ms / 1000})
            self.advance(ms)
        elif action == "pause":
            length = float(options.get("length") or 0)
            if self.window:
                self.listen(step, length)
            else:
                self.emit(TraceKind.PAUSED, {"seconds": length})
                self.advance(round(length * 1000))
        elif action == "record":
            self.record(options)
        elif action == "transfer":
            self.transfer(options)
        elif action == "fetchCallFlow":
            url = str(options.get("url", ""))
            flow = self.fetch(url)
            self.emit(TraceKind.REDIRECTED, {"url": url, "method": "GET",
                                             "followed": flow is not None,
                                             **({} if flow else {"note": "not followed"})})
            if flow is None:
                raise _Ended(EndReason.REDIRECTED, "hangup")
            raise _Replace(flow)
        elif action == "hangup":
            self.emit(TraceKind.HUNG_UP, {"by": "flow"})
            raise _Ended(EndReason.HANGUP, "hangup")
        else:
            self.ignored.append(str(action))

    def listen(self, step: dict[str, Any], length: float) -> None:
        """An input window: the callee's keys for this attempt, each restarting it."""
        max_keys = int(step.get("maxNumKeys") or 1)
        end_key = str(step.get("endKey") or "")
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
        self.advance(pressed * KEY_MS + (0 if complete else round(length * 1000)))
        entered = "".join(digits)
        self.emit(TraceKind.GATHERED if entered else TraceKind.NO_INPUT, {"digits": entered})
        if entered or complete:
            self.variables[str(step.get("onKeypressVar") or "keys")] = entered
            raise _Jump(str(step["onKeypressGoto"]))

    def record(self, options: dict[str, Any]) -> None:
        limit = round(float(options.get("maxLength") or 0) * 1000) or 4 * 3600 * 1000
        silence = options.get("timeout")
        ms, ended_by = recording_length(
            self.script, limit, round(float(silence) * 1000) if silence else None,
            finish_key=str(options.get("finishOnKey") or "none") != "none")
        transcribe = options.get("transcribe") in (True, "true")
        rec, started = self.new_recording(), self.now
        try:
            self.advance(ms)
        except _CalleeHungUp:
            self.recorded(rec, started, "hangup", transcribe)
            raise
        self.recorded(rec, started, ended_by, transcribe)

    def recorded(self, rec: str, started: int, ended_by: str, transcribe: bool) -> None:
        duration = (self.now - started) / 1000
        self.emit(TraceKind.RECORDED, {"recording_id": rec, "duration": duration,
                                       "ended_by": ended_by, "transcribe": transcribe})
        self.made.append(RecordingMade(
            f"{self.setup.call_id}-{self.run_id}-{rec}", self.setup.call_id, self.leg_id,
            started / 1000, duration, transcript=TRANSCRIPTION if transcribe else None))
        if transcribe:
            self.emit(TraceKind.TRANSCRIBED, {"recording_id": rec, "text": TRANSCRIPTION})

    def transfer(self, options: dict[str, Any]) -> None:
        destination = str(options.get("destination", ""))
        target = destination if destination.startswith(("sip:", "sips:")) \
            else f"+{destination}"
        self.emit(TraceKind.TRANSFER_STARTED, {"targets": [target],
                                               "caller_id": self.setup.from_,
                                               "timeout": TRANSFER_RING_S})
        answers = self.script.transfers
        answered = answers[self.next_transfer] if self.next_transfer < len(answers) else True
        self.next_transfer += 1
        if not answered:
            self.advance(round(TRANSFER_RING_S * 1000))
            self.emit(TraceKind.TRANSFER_NO_ANSWER, {"timeout": TRANSFER_RING_S})
            return
        self.advance(TRANSFER_RING_MS)
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
