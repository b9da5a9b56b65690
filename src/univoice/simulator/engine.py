"""``simulate``: run a flow against a scripted callee on a virtual clock.

This is the reference semantics of the neutral flow model; every provider adapter's
interpreter of its native document must produce the same trace. The clock counts whole
milliseconds, so runs are exact and deterministic (no randomness, no sleeping).

Timing
    The call starts at 0 (``initiated``, ``ringing``) and is answered after the script's
    ``ring_seconds``. Say takes 0.4 s a word (2.5 words a second, at least 0.5 s) per
    loop; play takes the script's ``audio_seconds`` for the URL (else 3 s) per loop;
    pause its seconds; send_digits 0.25 s a key and 0.5 s a ``w``. Each key pressed takes
    0.5 s; a gather that gets neither ``max_digits`` keys nor its finish key waits its
    ``timeout`` after the last key. A transfer target answers after 5 s of ringing (sooner
    if the transfer's timeout is shorter) and talks ``talk_seconds``; a conference lasts
    ``talk_seconds``; machine detection takes 2 s, before the first step runs.

Events are stamped when they happen: a ``said`` event when the speech starts (its
``duration`` says how long it lasts), a ``gathered`` event when input is complete, a
``recorded`` event when the recording stops.

Ending
    A hangup step, or running out of steps, hangs up (``hung_up`` by the flow, reason
    ``hangup``; ``machine`` when the call is an answering machine's). A redirect ends the
    call (reason ``redirected``) unless ``redirects`` resolves its URL to a flow, whose
    steps then replace the rest of the call (at most ``MAX_REDIRECTS`` times). The callee
    hanging up (``hang_up_after`` / ``hang_up_at``) wins a tie with anything the flow does
    at the same moment; what was under way is closed at that moment (a recording is kept
    with its length so far, a bridged transfer or a conference is left). The flow-level
    recording (``record: true``) starts as the flow's steps do, after machine detection
    (none when the call hangs up on a machine), and is reported just before the single
    final ``completed`` event.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any, NoReturn

from univoice.errors import FlowIssue, UnsupportedFeature
from univoice.flow.model import Flow
from univoice.flow.paths import join
from univoice.flow.speech import fill, spoken, words
from univoice.flow.steps import (
    Conference,
    Gather,
    Hangup,
    Native,
    Pause,
    Play,
    PromptStep,
    Record,
    Redirect,
    Say,
    SendDigits,
    Step,
    Transfer,
)
from univoice.models import EndReason
from univoice.simulator.script import DEFAULT_SCRIPT, CalleeScript, ScriptValidationError
from univoice.simulator.trace import Trace, TraceEvent, TraceKind

Redirects = Mapping[str, Flow] | Callable[[str], Flow | None]

MAX_REDIRECTS = 10
DEFAULT_LANGUAGE = "en-US"
NO_ANSWER_MS = 30_000  # how long an unanswered call rings before it ends
MACHINE_DETECTION_MS = 2_000
TRANSFER_RING_MS = 5_000
KEY_MS = 500
SAY_WORD_MS = 400  # 2.5 words a second
SAY_MIN_MS = 500
PLAY_MS = 3_000
DTMF_MS = 250
DTMF_WAIT_MS = 500
TRANSCRIPTION = "(simulated transcription)"


def simulate(
    flow: Flow | dict[str, Any],
    script: CalleeScript | Mapping[str, Any] | None = None,
    *,
    from_: str = "+31201234567",
    to: str = "+31612345678",
    call_id: str = "sim-1",
    redirects: Redirects | None = None,
) -> Trace:
    """Run ``flow`` against ``script`` (default: a human who answers and stays silent).

    ``flow`` may be a document (dict), validated with ``Flow.from_dict``. ``redirects``
    maps a redirect URL to the flow served there (a mapping, or a function returning a
    flow or None). Raises ``FlowValidationError`` for an invalid flow or script, including
    a ``hang_up_at`` that names no step of the flow.
    """
    if not isinstance(flow, Flow):
        flow = Flow.from_dict(flow)
    if script is None:
        script = DEFAULT_SCRIPT
    elif not isinstance(script, CalleeScript):
        script = CalleeScript(**script)
    if script.hang_up_at is not None and not script.hang_up_at.startswith("redirects["):
        _check_step_path(flow, script.hang_up_at)
    return _Call(flow, script, from_, to, call_id, redirects).run()


def _check_step_path(flow: Flow, path: str) -> None:
    # A typo in hang_up_at would otherwise silently never hang up.
    for here, step in flow.walk():
        if here == path:
            return
        if isinstance(step, Gather) and path.startswith(here) and any(
                join(here, "gather", "prompt", i) == path for i in range(len(step.prompt))):
            return
    raise ScriptValidationError([FlowIssue("script.hang_up_at",
                                           f"'{path}' names no step of the flow")])


class _Ended(Exception):
    """The call is over (the events saying so are emitted); unwinds to ``_Call.run``."""

    def __init__(self, reason: EndReason) -> None:
        self.reason = reason


class _CalleeHungUp(_Ended):
    """The callee hung up mid-step; steps with something open close it, then re-raise."""


class _FollowRedirect(Exception):
    """A followed redirect: its flow's steps replace the rest of the call."""

    def __init__(self, flow: Flow, prefix: str) -> None:
        self.flow = flow
        self.prefix = prefix


class _Call:
    def __init__(self, flow: Flow, script: CalleeScript, from_: str, to: str, call_id: str,
                 redirects: Redirects | None) -> None:
        self.flow = flow  # the flow whose steps run now (its say defaults apply)
        self.script = script
        self.from_ = from_
        self.to = to
        self.call_id = call_id
        self.redirects = redirects
        self.events: list[TraceEvent] = []
        self.now = 0  # milliseconds since the call started
        self.answered_at: int | None = None
        self.deadline: int | None = None  # when the callee hangs up (hang_up_after)
        self.next_key = 0
        self.next_transfer = 0
        self.recordings: list[str] = []
        self.variables: dict[str, str] = {}
        self.step_paths: list[str] = []
        self.silent = script.answer == "machine"  # a machine never presses keys
        self.flow_end = EndReason.HANGUP  # MACHINE while the on_machine branch runs
        self.followed = 0
        self.call_recording: tuple[str, int] | None = None  # flow.record: (id, started)

    # The call ------------------------------------------------------------------------

    def run(self) -> Trace:
        script = self.script
        self.emit(TraceKind.INITIATED, None, {"from": self.from_, "to": self.to})
        self.emit(TraceKind.RINGING, None, {})
        if script.answer in ("busy", "failed"):
            return self.complete(EndReason(script.answer))
        if script.answer == "no_answer":
            self.now = NO_ANSWER_MS
            return self.complete(EndReason.NO_ANSWER)
        self.now = self.answered_at = _ms(script.ring_seconds)
        if script.hang_up_after is not None:
            self.deadline = self.answered_at + _ms(script.hang_up_after)
        self.emit(TraceKind.ANSWERED, None, {})
        try:
            reason = self.answered()
        except _Ended as ended:
            reason = ended.reason
        if self.call_recording is not None:
            recording, started = self.call_recording
            self.emit(TraceKind.RECORDED, None, {
                "recording_id": recording, "duration": self.since(started),
                "ended_by": "call_end", "transcribe": False})
        return self.complete(reason)

    def answered(self) -> EndReason:
        detection = self.flow.machine_detection
        if detection is not None:
            self.advance(MACHINE_DETECTION_MS, None)
            result = "machine" if self.script.answer == "machine" else "human"
            self.emit(TraceKind.MACHINE_DETECTED, None, {"result": result})
            if result == "machine":
                self.flow_end = EndReason.MACHINE
                if detection.on_machine is not None:
                    self.record_call()
                    return self.run_flow(detection.on_machine.steps,
                                         "machine_detection.on_machine.steps")
                self.emit(TraceKind.HUNG_UP, None, {"by": "flow"})
                return EndReason.MACHINE
        self.record_call()
        return self.run_flow(self.flow.steps, "steps")

    def record_call(self) -> None:
        """flow.record: the recording starts as the flow's steps do (after detection)."""
        if self.flow.record:
            if self.deadline is not None and self.now >= self.deadline:
                self.callee_hangs_up(None)  # a tie: the callee hangs up first
            self.call_recording = (self.new_recording(), self.now)
            self.emit(TraceKind.RECORDING_STARTED, None,
                      {"recording_id": self.call_recording[0]})

    def run_flow(self, steps: Sequence[Step], path: str) -> EndReason:
        """Run steps to the end, following redirects by replacing the steps that run."""
        while True:
            try:
                self.steps(steps, path)
            except _FollowRedirect as goto:
                self.flow = goto.flow
                steps, path = goto.flow.steps, join(goto.prefix, "steps")
                continue
            self.emit(TraceKind.HUNG_UP, None, {"by": "flow"})  # ran out of steps
            return self.flow_end

    def complete(self, reason: EndReason) -> Trace:
        duration = self.since(self.answered_at) if self.answered_at is not None else 0.0
        self.emit(TraceKind.COMPLETED, None, {"reason": reason.value, "duration": duration})
        return Trace(
            call_id=self.call_id, from_=self.from_, to=self.to, events=self.events,
            end_reason=reason,
            answered_at=None if self.answered_at is None else self.answered_at / 1000,
            ended_at=self.now / 1000, duration=duration, variables=self.variables,
            recordings=self.recordings, step_paths=self.step_paths,
        )

    # The clock -----------------------------------------------------------------------

    def emit(self, kind: TraceKind, path: str | None, data: dict[str, Any]) -> None:
        self.events.append(TraceEvent(self.now / 1000, kind, path, data))

    def since(self, start: int) -> float:
        return (self.now - start) / 1000

    def advance(self, ms: int, path: str | None) -> None:
        """Let ``ms`` pass, unless the callee hangs up first (ties go to the callee)."""
        if self.deadline is not None and self.now + ms >= self.deadline:
            self.now = max(self.now, self.deadline)
            self.callee_hangs_up(path)
        self.now += ms

    def callee_hangs_up(self, path: str | None) -> NoReturn:
        self.emit(TraceKind.HUNG_UP, path, {"by": "callee"})
        raise _CalleeHungUp(EndReason.CALLEE_HANGUP)

    def start(self, path: str) -> None:
        if path == self.script.hang_up_at or (
                self.deadline is not None and self.now >= self.deadline):
            self.callee_hangs_up(path)
        self.step_paths.append(path)

    def new_recording(self) -> str:
        self.recordings.append(f"rec-{len(self.recordings) + 1}")
        return self.recordings[-1]

    # Steps ---------------------------------------------------------------------------

    def steps(self, steps: Sequence[Step], path: str) -> None:
        for index, step in enumerate(steps):
            here = join(path, index)
            self.start(here)
            self.step(step, here)

    def step(self, step: Step, here: str) -> None:
        match step:
            case Say() | Play() | Pause():
                self.prompt(step, here)
            case Gather():
                self.gather(step, here)
            case Record():
                self.record(step, here)
            case Transfer():
                self.transfer(step, here)
            case Conference():
                self.conference(step, here)
            case SendDigits():
                digits = step.digits
                waits = digits.count("w") + digits.count("W")
                self.emit(TraceKind.DIGITS_SENT, here, {"digits": digits})
                self.advance((len(digits) - waits) * DTMF_MS + waits * DTMF_WAIT_MS, here)
            case Redirect():
                self.redirect(step, here)
            case Hangup():
                self.emit(TraceKind.HUNG_UP, here, {"by": "flow"})
                raise _Ended(self.flow_end)
            case Native():  # a provider's own instruction: no neutral meaning to run
                raise UnsupportedFeature(
                    "native", "simulator", path=f"{here}.native",
                    alternatives=[step.provider],
                    detail=f"it is a {step.provider} instruction kept by an importer")

    def prompt(self, step: PromptStep, here: str) -> None:
        if isinstance(step, Say):
            text = spoken(fill(step.text, self.variables))
            ms = max(SAY_MIN_MS, words(text) * SAY_WORD_MS) * step.loop
            flow = self.flow
            self.emit(TraceKind.SAID, here, {
                "text": text, "language": step.language or flow.language or DEFAULT_LANGUAGE,
                "gender": step.gender or flow.gender, "voice": step.voice or flow.voice,
                "loop": step.loop, "duration": ms / 1000})
        elif isinstance(step, Play):
            ms = _ms(self.script.audio_seconds.get(step.url, PLAY_MS / 1000)) * step.loop
            self.emit(TraceKind.PLAYED, here, {"url": step.url, "loop": step.loop,
                                               "duration": ms / 1000})
        else:
            ms = _ms(step.seconds)
            self.emit(TraceKind.PAUSED, here, {"seconds": step.seconds})
        self.advance(ms, here)

    def gather(self, g: Gather, here: str) -> None:
        inner = join(here, "gather")
        attempts = 1 + g.retries
        failure = "no_input"
        for attempt in range(1, attempts + 1):
            for index, prompt in enumerate(g.prompt):
                at = join(inner, "prompt", index)
                self.start(at)
                self.prompt(prompt, at)
            digits, pressed, complete = collect(self.keys(), g.max_digits, g.finish_on_key)
            self.advance(pressed * KEY_MS + (0 if complete else _ms(g.timeout)), here)
            data: dict[str, Any] = {"digits": digits, "attempt": attempt,
                                    "attempts": attempts, "variable": g.variable}
            if g.variable is not None:
                if digits:
                    self.variables[g.variable] = digits
                    self.emit(TraceKind.GATHERED, here, data)
                    return
                self.emit(TraceKind.NO_INPUT, here, data)
                continue
            options = g.options or {}
            if digits in options:
                self.emit(TraceKind.GATHERED, here, data)
                self.steps(options[digits].steps, join(inner, "options", digits, "steps"))
                return
            failure = "invalid" if digits else "no_input"
            self.emit(TraceKind.INVALID_INPUT if digits else TraceKind.NO_INPUT, here, data)
        if g.variable is not None:
            self.variables[g.variable] = ""
        branch = g.invalid if failure == "invalid" else g.no_input
        if branch is not None:
            self.steps(branch.steps, join(inner, failure, "steps"))

    def keys(self) -> str | None:
        if self.silent:
            return None
        if self.next_key >= len(self.script.keys):
            return None
        self.next_key += 1
        return self.script.keys[self.next_key - 1]

    def record(self, r: Record, here: str) -> None:
        ms, ended_by = recording_length(
            self.script, _ms(r.max_length),
            None if r.silence_timeout is None else _ms(r.silence_timeout),
            finish_key=r.finish_on_key is not None)
        recording, started = self.new_recording(), self.now
        language = r.transcribe_language or self.flow.language or DEFAULT_LANGUAGE
        try:
            self.advance(ms, here)
        except _CalleeHungUp:
            self.recorded(here, recording, started, "hangup", r.transcribe, language)
            raise
        self.recorded(here, recording, started, ended_by, r.transcribe, language)

    def recorded(self, here: str, recording: str, started: int, ended_by: str,
                 transcribe: bool, language: str | None = None) -> None:
        self.emit(TraceKind.RECORDED, here, {"recording_id": recording,
                                             "duration": self.since(started),
                                             "ended_by": ended_by, "transcribe": transcribe})
        if transcribe:
            self.emit(TraceKind.TRANSCRIBED, here, {
                "recording_id": recording, "text": TRANSCRIPTION, "language": language})

    def transfer(self, t: Transfer, here: str) -> None:
        self.emit(TraceKind.TRANSFER_STARTED, here, {
            "targets": list(t.targets), "caller_id": t.caller_id or self.from_,
            "timeout": t.timeout, "record": t.record})
        answers = self.script.transfers
        answered = answers[self.next_transfer] if self.next_transfer < len(answers) else True
        self.next_transfer += 1
        if not answered:
            self.advance(_ms(t.timeout), here)
            self.emit(TraceKind.TRANSFER_NO_ANSWER, here, {"timeout": t.timeout})
            if t.no_answer is not None:
                self.steps(t.no_answer.steps, join(here, "transfer", "no_answer", "steps"))
            return
        self.advance(min(TRANSFER_RING_MS, _ms(t.timeout)), here)
        self.emit(TraceKind.TRANSFER_ANSWERED, here, {"target": t.targets[0]})
        self.bridge(here, TraceKind.TRANSFER_ENDED, {"target": t.targets[0]}, t.record)

    def conference(self, c: Conference, here: str) -> None:
        self.emit(TraceKind.CONFERENCE_JOINED, here, {
            "name": c.name, "muted": c.muted, "start_on_enter": c.start_on_enter,
            "end_on_exit": c.end_on_exit, "hold_music": c.hold_music, "record": c.record})
        self.bridge(here, TraceKind.CONFERENCE_LEFT, {"name": c.name}, c.record)

    def bridge(self, here: str, end: TraceKind, data: dict[str, Any], record: bool) -> None:
        """Talk for ``talk_seconds``; the other side ends it, unless the callee does first."""
        recording = self.new_recording() if record else None
        started = self.now
        by = "target" if end is TraceKind.TRANSFER_ENDED else "conference"
        try:
            self.advance(_ms(self.script.talk_seconds), here)
        except _CalleeHungUp:
            self.emit(end, here, {**data, "by": "callee", "duration": self.since(started)})
            if recording is not None:
                self.recorded(here, recording, started, "hangup", False)
            raise
        self.emit(end, here, {**data, "by": by, "duration": self.since(started)})
        if recording is not None:
            self.recorded(here, recording, started, by, False)

    def redirect(self, r: Redirect, here: str) -> None:
        target: Flow | None = None
        note = "not followed"
        if self.followed >= MAX_REDIRECTS:
            note = f"more than {MAX_REDIRECTS} redirects"
        elif isinstance(self.redirects, Mapping):
            target = self.redirects.get(r.url)
        elif self.redirects is not None:
            target = self.redirects(r.url)
        data: dict[str, Any] = {"url": r.url, "method": r.method, "followed": target is not None}
        if target is None:
            data["note"] = note
            self.emit(TraceKind.REDIRECTED, here, data)
            raise _Ended(EndReason.REDIRECTED)
        self.emit(TraceKind.REDIRECTED, here, data)
        self.followed += 1
        raise _FollowRedirect(target, f"redirects[{self.followed - 1}]")


def recording_length(script: CalleeScript, limit_ms: int, silence_ms: int | None, *,
                     finish_key: bool) -> tuple[int, str]:
    """How long the callee's recording lasts and what ends it: the callee speaks
    ``record_seconds``, then falls silent (a silence timeout ends it) or presses the finish
    key; with neither, only the length limit can. Provider interpreters share this model."""
    spoken = _ms(script.record_seconds)
    if silence_ms is not None:
        ms, ended_by = spoken + silence_ms, "silence"
    elif finish_key:
        ms, ended_by = spoken, "finish_key"
    else:
        ms, ended_by = limit_ms, "max_length"
    return (limit_ms, "max_length") if ms >= limit_ms else (ms, ended_by)


def collect(entry: str | None, max_digits: int, finish_on_key: str | None
            ) -> tuple[str, int, bool]:
    """Apply one attempt's keys to a gather: ``(digits, keys pressed, complete)``.

    Keys are taken until ``max_digits`` are held or the finish key is pressed (pressed
    but not kept); the rest of the entry is never pressed. ``complete`` is False when the
    entry ran out first, so the gather still waits out its timeout.
    """
    if not entry:
        return "", 0, False
    digits: list[str] = []
    for key in entry:
        if key == finish_on_key:
            return "".join(digits), len(digits) + 1, True
        digits.append(key)
        if len(digits) == max_digits:
            return "".join(digits), len(digits), True
    return "".join(digits), len(digits), False


def _ms(seconds: float) -> int:
    return round(seconds * 1000)
