"""Bandwidth's call engine, impersonated for tests: runs BXML the way Bandwidth documents
it against a scripted callee, and reports what happened as a neutral ``Trace``.

It sends the callbacks Bandwidth would (``answer``/``initiate``, ``gather``, ``redirect``,
``transferAnswer``/``transferComplete``/``transferDisconnect``, ``recordComplete``,
``recordingAvailable``, ``transcriptionAvailable``, conference events, ``disconnect``)
through an ``Http`` function the caller supplies (real HTTP to the webhook app, or an
in-process client), with the Basic credentials the call was given, and runs the document
each BXML-returning callback answers with. Every document is parsed with the hardened
parser and validated against ``bxml.VERBS``: one Bandwidth would refuse fails the call
(``invalid-bxml``), as Bandwidth does.

Time and the callee follow the simulator's model (``univoice.simulator.engine``: speech
0.4 s a word, 0.5 s a key, a gather waits its timeout, transfer targets answer after 5 s,
...), so a compiled flow can be held to ``simulate``'s trace (compare with
``univoice.simulator.compare.observable``). What a BXML document cannot tell (which
neutral step a verb came from, whether the app judged digits invalid) is not guessed:
gathers are reported by their digits, and verbs by what they play.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from typing import Any, NoReturn

from lxml import etree

from univoice.flow.speech import words
from univoice.models import EndReason
from univoice.simulator.clock import CallClock
from univoice.simulator.engine import (
    DTMF_MS,
    DTMF_WAIT_MS,
    KEY_MS,
    MACHINE_DETECTION_MS,
    PLAY_MS,
    SAY_MIN_MS,
    SAY_WORD_MS,
    TRANSCRIPTION,
    TRANSFER_RING_MS,
    recording_length,
)
from univoice.simulator.script import DEFAULT_SCRIPT, CalleeScript
from univoice.simulator.trace import Trace, TraceKind
from univoice_bandwidth import bxml, voices

# (method, url, callback payload, basic credentials) -> (status, body text)
Http = Callable[[str, str, dict[str, Any], tuple[str, str] | None], tuple[int, str]]
EPOCH = datetime(2026, 1, 1, tzinfo=UTC)
MAX_DOCUMENTS = 200  # a loop of documents ends the call, as a runaway app would
DEFAULT_LANGUAGE = "en-US"


@dataclass(frozen=True)
class CallSetup:
    """What ``createCall`` asked for (or, inbound, what the application is set to)."""

    call_id: str
    from_: str
    to: str
    answer_url: str
    account_id: str = "9900000"
    application_id: str = "04e88489-df02-4e34-a0ee-27a91849555f"
    direction: str = "outbound"
    tag: str | None = None
    answer_method: str = "POST"
    disconnect_url: str | None = None
    username: str | None = None
    password: str | None = None
    machine_detection: dict[str, Any] | None = None
    call_timeout: float = 30.0
    # The event the first document is fetched with: "answer" (outbound) or "initiate"
    # (inbound) when None; "redirect" when a REST redirect restarts the call's documents.
    first_event: str | None = None
    epoch: datetime | None = None  # the wall-clock moment of the call's 0 s


@dataclass(frozen=True)
class RecordingMade:
    id: str
    call_id: str
    started_at: float  # seconds after the call started
    duration: float
    file_format: str = "wav"
    transcript: str | None = None


@dataclass
class CallRun:
    trace: Trace
    cause: str  # Bandwidth's disconnectCause
    recordings: list[RecordingMade] = field(default_factory=list)
    callbacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    ignored: list[str] = field(default_factory=list)  # verbs run as no-ops (streaming...)


class _Ended(Exception):
    def __init__(self, reason: EndReason, cause: str) -> None:
        self.reason, self.cause = reason, cause


class _CalleeHungUp(_Ended):
    pass


class _Next(Exception):
    """A callback answered with a document: it replaces the rest of the current one."""

    def __init__(self, root: etree._Element) -> None:
        self.root = root


@dataclass
class _Recording:
    id: str
    trace_id: str
    call_id: str
    started: int
    transcribe: bool = False
    url: str | None = None  # recordingAvailableUrl
    transcription_url: str | None = None
    creds: tuple[str, str] | None = None


def run_call(setup: CallSetup, script: CalleeScript | None, http: Http) -> CallRun:
    """Run one call from its first callback to its end."""
    script = script or DEFAULT_SCRIPT
    if script.hang_up_at is not None:
        raise ValueError("hang_up_at names neutral step paths, which BXML does not carry; "
                         "use hang_up_after")
    return _Call(setup, script, http).run()


class _Call(CallClock):
    def __init__(self, setup: CallSetup, script: CalleeScript, http: Http) -> None:
        super().__init__(script)
        self.setup, self.http = setup, http
        self.answered_at: int | None = None
        self.next_transfer = 0
        self.recording_count = 0
        self.open: list[_Recording] = []  # StartRecording recordings still running
        self.made: list[RecordingMade] = []
        self.callbacks: list[tuple[str, dict[str, Any]]] = []
        self.ignored: list[str] = []
        self.tag = setup.tag
        self.machine = script.answer == "machine"
        self.documents = 0
        self.epoch = setup.epoch or EPOCH
        self.run_id = uuid.uuid4().hex[:8]  # recording ids stay unique across re-runs

    # The call ----------------------------------------------------------------------------

    def run(self) -> CallRun:
        s = self.setup
        self.emit(TraceKind.INITIATED, {"from": s.from_, "to": s.to})
        self.emit(TraceKind.RINGING, {})
        answer = self.script.answer
        if answer in ("busy", "failed"):
            return self.finish(EndReason(answer), "busy" if answer == "busy" else "error")
        if answer == "no_answer":
            self.now = round(s.call_timeout * 1000)
            return self.finish(EndReason.NO_ANSWER, "timeout")
        self.now = self.answered_at = round(self.script.ring_seconds * 1000)
        if self.script.hang_up_after is not None:
            self.deadline = self.answered_at + round(self.script.hang_up_after * 1000)
        self.emit(TraceKind.ANSWERED, {})
        flow_end = EndReason.HANGUP
        try:
            payload = self.payload(s.first_event or (
                "initiate" if s.direction == "inbound" else "answer"))
            if s.machine_detection is not None:
                self.advance(MACHINE_DETECTION_MS)
                self.emit(TraceKind.MACHINE_DETECTED,
                          {"result": "machine" if self.machine else "human"})
                payload["machineDetectionResult"] = {
                    "value": "answering-machine" if self.machine else "human",
                    "duration": f"PT{MACHINE_DETECTION_MS / 1000:g}S"}
                if self.machine:
                    flow_end = EndReason.MACHINE
            root = self.fetch(s.answer_url, payload, s.answer_method, self.creds())
            self.execute(root, flow_end)
            raise AssertionError("unreachable")  # execute always ends the call
        except _Ended as ended:
            return self.finish(ended.reason, ended.cause)

    def finish(self, reason: EndReason, cause: str) -> CallRun:
        for recording in list(self.open):
            self.close(recording)
        answered = self.answered_at
        duration = (self.now - answered) / 1000 if answered is not None else 0.0
        self.emit(TraceKind.COMPLETED, {"reason": reason.value, "duration": duration})
        if self.setup.disconnect_url:
            self.notify(self.setup.disconnect_url, {
                **self.payload("disconnect"), "endTime": self.time(), "cause": cause},
                self.creds())
        trace = Trace(call_id=self.setup.call_id, from_=self.setup.from_, to=self.setup.to,
                      events=self.events, end_reason=reason,
                      answered_at=None if answered is None else answered / 1000,
                      ended_at=self.now / 1000, duration=duration)
        return CallRun(trace, cause, self.made, self.callbacks, self.ignored)

    # Clock and callee -------------------------------------------------------------------

    def hang_up(self) -> NoReturn:
        self.emit(TraceKind.HUNG_UP, {"by": "callee"})
        raise _CalleeHungUp(EndReason.CALLEE_HANGUP, "hangup")

    # Callbacks --------------------------------------------------------------------------

    def time(self, ms: int | None = None) -> str:
        moment = self.epoch + timedelta(milliseconds=self.now if ms is None else ms)
        return moment.isoformat().replace("+00:00", "Z")

    def creds(self, element: etree._Element | None = None) -> tuple[str, str] | None:
        if element is None:
            user, password = self.setup.username, self.setup.password
        else:
            user, password = element.get("username"), element.get("password")
        return (user, password) if user is not None and password is not None else None

    def payload(self, event_type: str, call_id: str | None = None) -> dict[str, Any]:
        s = self.setup
        call = call_id or s.call_id
        out: dict[str, Any] = {
            "eventType": event_type, "eventTime": self.time(), "accountId": s.account_id,
            "applicationId": s.application_id, "from": s.from_, "to": s.to,
            "direction": s.direction, "callId": call,
            "callUrl": f"https://voice.bandwidth.com/api/v2/accounts/{s.account_id}/calls/{call}",
            "startTime": self.time(0)}
        if self.answered_at is not None and event_type != "initiate":
            out["answerTime"] = self.time(self.answered_at)
        if self.tag is not None:
            out["tag"] = self.tag
        return out

    def notify(self, url: str, payload: dict[str, Any], creds: tuple[str, str] | None,
               method: str = "POST") -> None:
        """An asynchronous callback: its answer is ignored."""
        self.callbacks.append((url, payload))
        self.http(method, url, payload, creds)

    def fetch(self, url: str, payload: dict[str, Any], method: str,
              creds: tuple[str, str] | None) -> etree._Element:
        """A BXML-returning callback; the call fails as Bandwidth's would if it cannot."""
        self.callbacks.append((url, payload))
        self.documents += 1
        if self.documents > MAX_DOCUMENTS:
            raise _Ended(EndReason.FAILED, "application-error")
        status, body = self.http(method, url, payload, creds)
        if not 200 <= status < 300:
            raise _Ended(EndReason.FAILED, "callback-error")
        try:
            root = bxml.parse(body)
        except bxml.BxmlError:
            raise _Ended(EndReason.FAILED, "invalid-bxml") from None
        if bxml.validate(root):
            raise _Ended(EndReason.FAILED, "invalid-bxml")
        return root

    def callback(self, element: etree._Element, name: str, payload: dict[str, Any]) -> None:
        """Send the ``<name>Url`` callback of a verb, if it has one; its document (if any)
        replaces the rest of the current one."""
        url = element.get(f"{name}Url")
        if url is None:
            return
        method = element.get(f"{name}Method", "POST")
        raise _Next(self.fetch(url, payload, method, self.creds(element)))

    # Documents --------------------------------------------------------------------------

    def execute(self, root: etree._Element, flow_end: EndReason) -> NoReturn:
        while True:
            try:
                for element in root:
                    if isinstance(element.tag, str):
                        self.check_deadline()
                        self.verb(element, flow_end)
            except _Next as nxt:
                root = nxt.root
                continue
            # The end of a document without a hand-off hangs up.
            self.emit(TraceKind.HUNG_UP, {"by": "flow"})
            raise _Ended(flow_end, "hangup")

    def verb(self, element: etree._Element, flow_end: EndReason) -> None:
        tag = str(element.tag)
        handler = getattr(self, f"_{tag}", None)
        if handler is None:
            self.ignored.append(tag)  # streaming / live transcription: nothing a caller hears
            return
        if tag == "Hangup":
            self.emit(TraceKind.HUNG_UP, {"by": "flow"})
            raise _Ended(flow_end, "hangup")
        handler(element)

    def _Hangup(self, element: etree._Element) -> None:  # handled in ``verb``
        raise AssertionError

    def _SpeakSentence(self, element: etree._Element) -> None:
        text = bxml.text_of(element)
        breaks = [b for b in element if b.tag == "break"]
        if not text and breaks and len(breaks) == len(element):
            ms = sum(_break_ms(b.get("time", "0ms")) for b in breaks)
            self.emit(TraceKind.PAUSED, {"seconds": ms / 1000})
            self.advance(ms)
            return
        locale = element.get("locale")
        ms = max(SAY_MIN_MS, words(text) * SAY_WORD_MS)
        self.emit(TraceKind.SAID, {
            "text": text,
            "language": (voices.language(locale) or locale) if locale else DEFAULT_LANGUAGE,
            "gender": element.get("gender"), "voice": element.get("voice"), "loop": 1,
            "duration": ms / 1000})
        self.advance(ms)

    def _PlayAudio(self, element: etree._Element) -> None:
        url = (element.text or "").strip()
        ms = round(self.script.audio_seconds.get(url, PLAY_MS / 1000) * 1000)
        self.emit(TraceKind.PLAYED, {"url": url, "loop": 1, "duration": ms / 1000})
        self.advance(ms)

    def _Pause(self, element: etree._Element) -> None:
        seconds = float(element.get("duration", "1"))
        self.emit(TraceKind.PAUSED, {"seconds": seconds})
        self.advance(round(seconds * 1000))

    def _Ring(self, element: etree._Element) -> None:
        self.advance(round(float(element.get("duration", "5")) * 1000))

    def _Gather(self, element: etree._Element) -> None:
        a = bxml.attributes(element)
        repeats = int(a.get("repeatCount", 1))
        terminators = str(a.get("terminatingDigits", ""))
        digits, ended_by = "", "timeout"
        for attempt in range(repeats):
            for prompt in element:
                if isinstance(prompt.tag, str):
                    self.check_deadline()
                    self.verb(prompt, EndReason.HANGUP)
            digits, pressed, ended_by = _collect(self.keys(), int(a.get("maxDigits", 50)),
                                                 terminators)
            wait = a.get("interDigitTimeout", 5) if digits else a.get("firstDigitTimeout", 5)
            self.advance(pressed * KEY_MS + (0 if ended_by != "timeout" else
                                             round(float(wait) * 1000)))
            self.emit(TraceKind.GATHERED if digits else TraceKind.NO_INPUT, {"digits": digits})
            if digits or attempt == repeats - 1:
                break
        payload = {**self.payload("gather"), "digits": digits,
                   "terminatingDigit": ended_by if ended_by in terminators and ended_by
                   else ""}
        self.callback(element, "gather", payload)

    def _Record(self, element: etree._Element) -> None:
        a = bxml.attributes(element)
        silence = float(a.get("silenceTimeout", 0))
        ms, ended_by = recording_length(
            self.script, round(float(a.get("maxDuration", 60)) * 1000),
            round(silence * 1000) if silence > 0 else None,
            finish_key=bool(a.get("terminatingDigits", "#")))
        recording = self.start_recording(element, bool(a.get("transcribe", False)))
        self.open.remove(recording)  # a Record verb's recording is closed here, not at the end
        try:
            self.advance(ms)
        except _CalleeHungUp:
            self.close(recording, "hangup")  # not followed by recordComplete
            raise
        self.close(recording, ended_by)
        payload = {**self.payload("recordComplete"), "recordingId": recording.id,
                   "duration": _duration(ms), "fileFormat": a.get("fileFormat", "wav"),
                   "channels": 1, "endTime": self.time()}
        self.callback(element, "recordComplete", payload)

    def _StartRecording(self, element: etree._Element,
                        call_id: str | None = None) -> None:
        a = bxml.attributes(element)
        recording = self.start_recording(element, bool(a.get("transcribe", False)), call_id)
        self.emit(TraceKind.RECORDING_STARTED, {"recording_id": recording.trace_id})

    def _StopRecording(self, element: etree._Element) -> None:
        for recording in [r for r in self.open if r.call_id == self.setup.call_id]:
            self.close(recording, "stopped")

    def _PauseRecording(self, element: etree._Element) -> None:
        return None

    def _ResumeRecording(self, element: etree._Element) -> None:
        return None

    def _Tag(self, element: etree._Element) -> None:
        self.tag = (element.text or "").strip() or None

    def _StartGather(self, element: etree._Element) -> None:
        return None  # the scripted callee only presses keys at a Gather

    def _StopGather(self, element: etree._Element) -> None:
        return None

    def _SendDtmf(self, element: etree._Element) -> None:
        digits = (element.text or "").strip()
        self.emit(TraceKind.DIGITS_SENT, {"digits": digits})
        ms = sum(DTMF_WAIT_MS if d in "w," else 2 * DTMF_WAIT_MS if d == "W" else DTMF_MS
                 for d in digits)
        self.advance(ms)

    def _Redirect(self, element: etree._Element) -> None:
        url = element.get("redirectUrl", "")
        method = element.get("redirectMethod", "POST")
        try:
            root = self.fetch(url, self.payload("redirect"), method, self.creds(element))
        except _Ended:
            self.emit(TraceKind.REDIRECTED, {"url": url, "method": method, "followed": False,
                                             "note": "not followed"})
            raise _Ended(EndReason.REDIRECTED, "callback-error") from None
        self.emit(TraceKind.REDIRECTED, {"url": url, "method": method, "followed": True})
        raise _Next(root)

    def _Transfer(self, element: etree._Element) -> None:
        a = bxml.attributes(element)
        targets = [c for c in element if isinstance(c.tag, str)]
        numbers = [(c.text or "").strip() for c in targets]
        timeout = float(a.get("callTimeout", 30))
        self.emit(TraceKind.TRANSFER_STARTED, {
            "targets": numbers, "caller_id": a.get("transferCallerId") or self.setup.from_,
            "timeout": timeout})
        answers = self.script.transfers
        answered = answers[self.next_transfer] if self.next_transfer < len(answers) else True
        self.next_transfer += 1
        if not answered:
            self.advance(round(timeout * 1000))
            self.emit(TraceKind.TRANSFER_NO_ANSWER, {"timeout": timeout})
            self.callback(element, "transferComplete",
                          {**self.payload("transferComplete"), "cause": "timeout"})
            return
        self.advance(min(TRANSFER_RING_MS, round(timeout * 1000)))
        first, leg = targets[0], f"{self.setup.call_id}-b{self.next_transfer}"
        self.emit(TraceKind.TRANSFER_ANSWERED, {"target": numbers[0]})
        transfer = {"parentCallId": self.setup.call_id, "transferTo": numbers[0],
                    "transferCallerId": a.get("transferCallerId") or self.setup.from_}
        url = first.get("transferAnswerUrl")
        if url is not None:  # BXML for the answered leg, run before the legs are bridged
            leg_root = self.fetch(url, {**self.payload("transferAnswer", leg), **transfer},
                                  first.get("transferAnswerMethod", "POST"), self.creds(first))
            for verb in leg_root:
                if verb.tag == "StartRecording":
                    self._StartRecording(verb, call_id=leg)
        self.bridge(TraceKind.TRANSFER_ENDED, {"target": numbers[0]}, "target", leg)
        if first.get("transferDisconnectUrl"):
            self.notify(first.get("transferDisconnectUrl", ""), {
                **self.payload("transferDisconnect", leg), **transfer, "cause": "hangup",
                "endTime": self.time()}, self.creds(first))
        self.callback(element, "transferComplete",
                      {**self.payload("transferComplete"), **transfer, "cause": "hangup"})

    def _Forward(self, element: etree._Element) -> None:
        target = element.get("to", "")
        self.emit(TraceKind.TRANSFER_STARTED, {"targets": [target],
                                               "caller_id": element.get("from") or
                                               self.setup.from_,
                                               "timeout": float(element.get("callTimeout",
                                                                            30))})
        self.advance(TRANSFER_RING_MS)
        self.emit(TraceKind.TRANSFER_ANSWERED, {"target": target})
        self.bridge(TraceKind.TRANSFER_ENDED, {"target": target}, "target", None)
        self.emit(TraceKind.HUNG_UP, {"by": "target"})  # the app has let go of the call
        raise _Ended(EndReason.HANGUP, "hangup")

    def _Bridge(self, element: etree._Element) -> None:
        other = (element.text or "").strip()
        self.emit(TraceKind.TRANSFER_STARTED, {"targets": [other], "caller_id": None,
                                               "timeout": 0.0})
        self.emit(TraceKind.TRANSFER_ANSWERED, {"target": other})
        self.bridge(TraceKind.TRANSFER_ENDED, {"target": other}, "target", None)
        self.callback(element, "bridgeComplete",
                      {**self.payload("bridgeComplete"), "cause": "hangup"})

    def _Conference(self, element: etree._Element) -> None:
        a = bxml.attributes(element)
        name = (element.text or "").strip()
        self.emit(TraceKind.CONFERENCE_JOINED, {
            "name": name, "muted": bool(a.get("mute", False)), "start_on_enter": True,
            "end_on_exit": False, "hold_music": None})
        url = element.get("conferenceEventUrl")
        event = {"conferenceId": f"conf-{name}", "name": name}
        if url is not None:
            for kind in ("conferenceCreated", "conferenceMemberJoin"):
                self.conference_event(element, url, {**self.payload(kind), **event})
        self.bridge(TraceKind.CONFERENCE_LEFT, {"name": name}, "conference", None,
                    after=lambda: self.conference_left(element, url, event))

    def conference_event(self, element: etree._Element, url: str, payload: dict[str, Any]
                         ) -> None:
        """Conference events may answer with conference BXML; only media verbs may run."""
        root = self.fetch(url, payload, element.get("conferenceEventMethod", "POST"),
                          self.creds(element))
        allowed = {"PlayAudio", "SpeakSentence", "StartRecording", "StopRecording",
                   "PauseRecording", "ResumeRecording"}
        if any(isinstance(v.tag, str) and v.tag not in allowed for v in root):
            raise _Ended(EndReason.FAILED, "invalid-bxml")

    def conference_left(self, element: etree._Element, url: str | None,
                        event: dict[str, Any]) -> None:
        if url is not None:
            self.conference_event(element, url,
                                  {**self.payload("conferenceMemberExit"), **event})
            self.notify(url, {**self.payload("conferenceCompleted"), **event},
                        self.creds(element))

    def bridge(self, end: TraceKind, data: dict[str, Any], by: str, leg: str | None,
               after: Callable[[], None] | None = None) -> None:
        """Talk for ``talk_seconds``; the other side ends it unless the callee does first.
        Recordings on the other leg end with it."""
        started = self.now
        try:
            self.advance(round(self.script.talk_seconds * 1000))
        except _CalleeHungUp:
            self.emit(end, {**data, "by": "callee", "duration": (self.now - started) / 1000})
            self.close_leg(leg, "hangup")
            raise
        self.emit(end, {**data, "by": by, "duration": (self.now - started) / 1000})
        self.close_leg(leg, by)
        if after is not None:
            after()

    # Recordings -------------------------------------------------------------------------

    def start_recording(self, element: etree._Element, transcribe: bool,
                        call_id: str | None = None) -> _Recording:
        self.recording_count += 1
        n = self.recording_count
        call = call_id or self.setup.call_id
        recording = _Recording(
            id=f"r-{call}-{self.run_id}-{n}", trace_id=f"rec-{n}", call_id=call,
            started=self.now,
            transcribe=transcribe, url=element.get("recordingAvailableUrl"),
            transcription_url=element.get("transcriptionAvailableUrl"),
            creds=self.creds(element))
        self.open.append(recording)
        return recording

    def close_leg(self, leg: str | None, ended_by: str) -> None:
        for recording in [r for r in self.open if leg is not None and r.call_id == leg]:
            self.close(recording, ended_by)

    def close(self, recording: _Recording, ended_by: str = "call_end") -> None:
        if recording in self.open:
            self.open.remove(recording)
        ms = self.now - recording.started
        self.emit(TraceKind.RECORDED, {"recording_id": recording.trace_id,
                                       "duration": ms / 1000, "ended_by": ended_by,
                                       "transcribe": recording.transcribe})
        transcript = TRANSCRIPTION if recording.transcribe else None
        self.made.append(RecordingMade(recording.id, recording.call_id, recording.started /
                                       1000, ms / 1000, transcript=transcript))
        common = {**self.payload("recordingAvailable", recording.call_id),
                  "recordingId": recording.id, "duration": _duration(ms),
                  "fileFormat": "wav", "channels": 1, "endTime": self.time(),
                  "mediaUrl": f"https://voice.bandwidth.com/api/v2/accounts/"
                              f"{self.setup.account_id}/calls/{recording.call_id}/recordings/"
                              f"{recording.id}/media"}
        if recording.url:
            self.notify(recording.url, {**common, "status": "complete"}, recording.creds)
        if recording.transcribe:
            self.emit(TraceKind.TRANSCRIBED, {"recording_id": recording.trace_id,
                                              "text": TRANSCRIPTION})
            if recording.transcription_url:
                self.notify(recording.transcription_url, {
                    **common, "eventType": "transcriptionAvailable",
                    "transcription": {"id": f"t-{recording.id}", "status": "available",
                                      "completedTime": self.time(),
                                      "url": common["mediaUrl"].replace(
                                          "/media", "/transcription")}}, recording.creds)


def _collect(entry: str | None, max_digits: int, terminators: str) -> tuple[str, int, str]:
    """One gather attempt's keys: (digits, keys pressed, what ended it: a terminating
    digit, "max_digits", or "timeout" when the entry ran out first)."""
    digits: list[str] = []
    for key in entry or "":
        if terminators and key in terminators:
            return "".join(digits), len(digits) + 1, key
        digits.append(key)
        if len(digits) == max_digits:
            return "".join(digits), len(digits), "max_digits"
    return "".join(digits), len(digits), "timeout"


def _break_ms(value: str) -> int:
    if value.endswith("ms"):
        return round(float(value[:-2]))
    if value.endswith("s"):
        return round(float(value[:-1]) * 1000)
    return 0


def _duration(ms: int) -> str:
    """ISO-8601 duration as Bandwidth writes it (``PT13.67S``)."""
    return f"PT{ms / 1000:g}S"
