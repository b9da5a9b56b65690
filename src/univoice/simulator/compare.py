"""Comparing a provider interpreter's trace with the simulator's: what a caller observes.

An interpreter runs a provider's native documents; it sees verbs, not neutral steps, and
cannot see what the univoice app decided in between. ``observable`` reduces a trace to
what both can tell, and nothing less than what the caller hears and is billed for:

* every event's time and kind, except ``redirected`` (fetching documents adds redirects)
  and ``recording_started`` (the recording itself is compared when it ends);
* a say or play with ``loop: n`` becomes n single events (providers repeat the verb),
  up to the moment the call ends;
* ``gathered``, ``no_input`` and ``invalid_input`` become one ``input`` event with the
  digits: whether digits were a valid choice is the app's judgement, visible in what runs
  next, not in the document;
* what a native document does not carry is left out: a recording's ``ended_by`` (a
  StopRecording does not say why), the requested transcription language, a transfer's or
  conference's ``record`` flag (the recording is compared on its own), step paths;
* ``send_digits``: ``W`` waits half a second like ``w`` (the neutral meaning); a pause's
  length is compared to the millisecond, the clock's resolution.
"""

from __future__ import annotations

from typing import Any

from univoice.simulator.trace import Trace, TraceEvent, TraceKind

Observed = tuple[float, str, dict[str, Any]]

_DROPPED = {TraceKind.REDIRECTED, TraceKind.RECORDING_STARTED}
_INPUT = {TraceKind.GATHERED, TraceKind.NO_INPUT, TraceKind.INVALID_INPUT}
_UNSEEN = {
    TraceKind.RECORDED: ("ended_by",),
    TraceKind.TRANSCRIBED: ("language",),
    TraceKind.TRANSFER_STARTED: ("record",),
    TraceKind.CONFERENCE_JOINED: ("record",),
}


def observable(trace: Trace) -> list[Observed]:
    """The trace as both a simulator and a native-document interpreter can report it."""
    out: list[Observed] = []
    events = trace.events
    for index, event in enumerate(events):
        if event.kind in _DROPPED:
            continue
        if event.kind in _INPUT:
            out.append((event.at, "input", {"digits": event.data.get("digits", "")}))
        elif event.kind in (TraceKind.SAID, TraceKind.PLAYED):
            out.extend(_unlooped(event, _ends_at(events, index)))
        else:
            data = {k: v for k, v in event.data.items() if k not in _UNSEEN.get(event.kind, ())}
            if event.kind == TraceKind.DIGITS_SENT:
                data["digits"] = str(data["digits"]).replace("W", "w")
            elif event.kind == TraceKind.PAUSED:  # the clock's resolution is a millisecond
                data["seconds"] = round(float(data["seconds"]) * 1000) / 1000
            out.append((event.at, event.kind.value, data))
    return out


def _ends_at(events: list[TraceEvent], index: int) -> float:
    """When the prompt at ``index`` was cut short by the callee hanging up (else never)."""
    for later in events[index + 1:]:
        if later.kind == TraceKind.HUNG_UP and later.data.get("by") == "callee":
            return later.at
        if later.kind not in (TraceKind.HUNG_UP, TraceKind.COMPLETED):
            return float("inf")
    return float("inf")


def _unlooped(event: TraceEvent, cut: float) -> list[Observed]:
    loop = int(event.data.get("loop", 1))
    each_ms = round(float(event.data["duration"]) * 1000) // loop
    out: list[Observed] = []
    for i in range(loop):
        at = round(event.at * 1000 + i * each_ms) / 1000
        if i and at >= cut:  # the callee hung up before this repetition began
            break
        out.append((at, event.kind.value, {**event.data, "loop": 1,
                                           "duration": each_ms / 1000}))
    return out


def differences(expected: Trace, actual: Trace) -> list[str]:
    """Readable differences between two traces' observable forms and outcomes."""
    problems: list[str] = []
    a, b = observable(expected), observable(actual)
    for i, (left, right) in enumerate(zip(a, b, strict=False)):
        if left != right:
            problems.append(f"event {i}: expected {left}, got {right}")
            break
    if len(a) != len(b):
        problems.append(f"expected {len(a)} events, got {len(b)}")
    for name in ("end_reason", "answered_at", "ended_at", "duration"):
        if getattr(expected, name) != getattr(actual, name):
            problems.append(f"{name}: expected {getattr(expected, name)!r}, "
                            f"got {getattr(actual, name)!r}")
    return problems
