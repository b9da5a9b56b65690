"""What a simulated call did: timed events, the outcome, and a readable transcript.

Events are plain frozen dataclasses (no pydantic): a trace is built in the hot path of
``simulate`` and compared whole in differential tests, so it must be cheap and exact.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from enum import StrEnum
from typing import Any

from univoice.models import EndReason


class TraceKind(StrEnum):
    """What happened. Call-level events carry no step path; step events carry theirs."""

    INITIATED = "initiated"
    RINGING = "ringing"
    ANSWERED = "answered"
    MACHINE_DETECTED = "machine_detected"
    RECORDING_STARTED = "recording_started"  # the whole call (flow.record)
    SAID = "said"
    PLAYED = "played"
    PAUSED = "paused"
    GATHERED = "gathered"
    NO_INPUT = "no_input"
    INVALID_INPUT = "invalid_input"
    RECORDED = "recorded"
    TRANSCRIBED = "transcribed"
    TRANSFER_STARTED = "transfer_started"
    TRANSFER_ANSWERED = "transfer_answered"
    TRANSFER_ENDED = "transfer_ended"
    TRANSFER_NO_ANSWER = "transfer_no_answer"
    CONFERENCE_JOINED = "conference_joined"
    CONFERENCE_LEFT = "conference_left"
    DIGITS_SENT = "digits_sent"
    REDIRECTED = "redirected"
    HUNG_UP = "hung_up"
    COMPLETED = "completed"


@dataclass(frozen=True, slots=True)
class TraceEvent:
    """One event: ``at`` seconds after the call started (exact to the millisecond).

    ``data`` holds only JSON-safe values (str, int, float, bool, None, lists of str).
    """

    at: float
    kind: TraceKind
    path: str | None = None
    data: dict[str, Any] = field(default_factory=dict)

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "kind": self.kind.value, "path": self.path,
                "data": dict(self.data)}

    def describe(self) -> str:
        """The event as a phrase, without its time (``say "Hi" [en-US]``)."""
        return _DESCRIBE[self.kind](self.data)


@dataclass(frozen=True, slots=True)
class Trace:
    """The result of ``simulate``: every event in time order, and the call's outcome.

    ``duration`` runs from answer to end (0 if never answered); ``variables`` are the
    free-input gathers' values; ``recordings`` lists recording ids in the order started;
    ``step_paths`` lists each step as it started (prompt steps and re-prompts included).
    """

    call_id: str
    from_: str
    to: str
    events: list[TraceEvent]
    end_reason: EndReason
    answered_at: float | None
    ended_at: float
    duration: float
    variables: dict[str, str] = field(default_factory=dict)
    recordings: list[str] = field(default_factory=list)
    step_paths: list[str] = field(default_factory=list)

    def kinds(self) -> list[str]:
        return [e.kind.value for e in self.events]

    def of(self, kind: TraceKind | str) -> list[TraceEvent]:
        """The events of one kind, in order."""
        return [e for e in self.events if e.kind == kind]

    def steps_run(self) -> list[str]:
        """Paths of the steps that started, in order (``steps[1].gather.prompt[0]``, ...)."""
        return list(self.step_paths)

    def transcript(self) -> str:
        """One line per event: ``mm:ss.s  what happened``."""
        return "\n".join(f"{clock(e.at)}  {e.describe()}" for e in self.events)

    def to_dict(self) -> dict[str, Any]:
        """JSON-safe form (``from`` rather than ``from_``, as in the neutral models)."""
        return {
            "call_id": self.call_id,
            "from": self.from_,
            "to": self.to,
            "end_reason": self.end_reason.value,
            "answered_at": self.answered_at,
            "ended_at": self.ended_at,
            "duration": self.duration,
            "variables": dict(self.variables),
            "recordings": list(self.recordings),
            "steps_run": list(self.step_paths),
            "events": [e.to_dict() for e in self.events],
        }

    def __str__(self) -> str:
        return self.transcript()


def clock(at: float) -> str:
    """``mm:ss.s``; minutes grow past 99 rather than wrap."""
    tenths = round(at * 10)
    minutes, rest = divmod(tenths, 600)
    return f"{minutes:02d}:{rest // 10:02d}.{rest % 10}"


def seconds(value: float) -> str:
    """``30 s``, ``59.4 s``, ``0.25 s``: as many decimals as the value has (up to ms)."""
    text = f"{value:.3f}".rstrip("0").rstrip(".")
    return f"{text} s"


def _say(d: Mapping[str, Any]) -> str:
    voice = ", ".join(str(v) for v in (d["language"], d.get("gender"), d.get("voice")) if v)
    loop = f" x{d['loop']}" if d.get("loop", 1) > 1 else ""
    return f'say "{d["text"]}" [{voice}]{loop}'


def _loop(d: Mapping[str, Any]) -> str:
    return f" x{d['loop']}" if d.get("loop", 1) > 1 else ""


def _attempt(d: Mapping[str, Any]) -> str:
    return f" (attempt {d['attempt']} of {d['attempts']})" if d.get("attempts", 1) > 1 else ""


def _gathered(d: Mapping[str, Any]) -> str:
    into = f" -> {d['variable']}" if d.get("variable") else ""
    retried = _attempt(d) if d.get("attempt", 1) > 1 else ""  # first-time success is usual
    return f"caller pressed {d['digits']}{into}{retried}"


def _transfer(d: Mapping[str, Any]) -> str:
    caller = f" (caller ID {d['caller_id']})" if d.get("caller_id") else ""
    return f"transfer to {', '.join(d['targets'])}{caller}"


def _joined(d: Mapping[str, Any]) -> str:
    flags = [f for f in ("muted", "record") if d.get(f)]
    return f'joined conference "{d["name"]}"' + (f" ({', '.join(flags)})" if flags else "")


def _recorded(d: Mapping[str, Any]) -> str:
    ended_by = str(d["ended_by"]).replace("_", " ")
    return f"recorded {d['recording_id']} ({seconds(d['duration'])}, ended by {ended_by})"


def _redirected(d: Mapping[str, Any]) -> str:
    outcome = "followed" if d.get("followed") else d.get("note", "not followed")
    return f"redirected to {d['method']} {d['url']} ({outcome})"


_DESCRIBE: dict[TraceKind, Callable[[Mapping[str, Any]], str]] = {
    TraceKind.INITIATED: lambda d: f"calling {d['to']} from {d['from']}",
    TraceKind.RINGING: lambda d: "ringing",
    TraceKind.ANSWERED: lambda d: "answered",
    TraceKind.MACHINE_DETECTED: lambda d: f"machine detection: {d['result']}",
    TraceKind.RECORDING_STARTED: lambda d: f"recording the call ({d['recording_id']})",
    TraceKind.SAID: _say,
    TraceKind.PLAYED: lambda d: f"play {d['url']}{_loop(d)}",
    TraceKind.PAUSED: lambda d: f"pause {seconds(d['seconds'])}",
    TraceKind.GATHERED: _gathered,
    TraceKind.NO_INPUT: lambda d: f"no input{_attempt(d)}",
    TraceKind.INVALID_INPUT: lambda d: f"caller pressed {d['digits']}: not an option"
                                       f"{_attempt(d)}",
    TraceKind.RECORDED: _recorded,
    TraceKind.TRANSCRIBED: lambda d: f'transcribed {d["recording_id"]}: "{d["text"]}"',
    TraceKind.TRANSFER_STARTED: _transfer,
    TraceKind.TRANSFER_ANSWERED: lambda d: f"{d['target']} answered the transfer",
    TraceKind.TRANSFER_ENDED: lambda d: f"transfer ended by the {d['by']} after "
                                        f"{seconds(d['duration'])}",
    TraceKind.TRANSFER_NO_ANSWER: lambda d: f"transfer not answered after "
                                            f"{seconds(d['timeout'])}",
    TraceKind.CONFERENCE_JOINED: _joined,
    TraceKind.CONFERENCE_LEFT: lambda d: f'left conference "{d["name"]}" after '
                                         f"{seconds(d['duration'])}",
    TraceKind.DIGITS_SENT: lambda d: f"sent digits {d['digits']}",
    TraceKind.REDIRECTED: _redirected,
    TraceKind.HUNG_UP: lambda d: f"{d['by']} hung up",
    TraceKind.COMPLETED: lambda d: f"completed: {d['reason']} after {seconds(d['duration'])}",
}
