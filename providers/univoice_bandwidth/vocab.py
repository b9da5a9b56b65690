"""Bandwidth's words -> univoice's: call states, disconnect causes, recording and
transcription statuses, machine-detection results; and the timestamp and duration forms
Bandwidth sends.

Sources (see ../shared/reference/PROVIDERS.md §5 and tests/specs/bandwidth-voice.openapi.yml):
``callState.state`` and ``disconnectCause`` are free strings in the official spec
(voice.yml @2fcdf57), which says "additional states may be added in the future, so your
application must be tolerant of unknown values". A word no table knows therefore maps to
``UNKNOWN`` and the caller keeps the original (``Call.status_raw``, ``end_reason_raw``).
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any, Literal

from univoice.models import CallStatus, EndReason, RecordingStatus, TranscriptionStatus

# callState.state (voice.yml `callState.state` description; PROVIDERS §5). Bandwidth has no
# "ringing" state: a call is `initiated` until it is answered. `disconnected` is resolved
# through the disconnect cause (CAUSES).
STATES: dict[str, CallStatus] = {
    "queued": CallStatus.QUEUED,
    "initiated": CallStatus.INITIATED,
    "answered": CallStatus.IN_PROGRESS,
}
DISCONNECTED = "disconnected"

# disconnectCause / callback `cause` (voice.yml `disconnectCallback.cause`; PROVIDERS §5,
# "list not exhaustive") -> (status, end reason).
CAUSES: dict[str, tuple[CallStatus, EndReason]] = {
    # A normal end. Bandwidth does not say which side hung up (the callee, a <Hangup>
    # verb, the end of the BXML and a REST hangup all read "hangup"), so the neutral
    # HANGUP stands for all of them; CALLEE_HANGUP is never claimed.
    "hangup": (CallStatus.COMPLETED, EndReason.HANGUP),
    "busy": (CallStatus.BUSY, EndReason.BUSY),
    # No answer within callTimeout.
    "timeout": (CallStatus.NO_ANSWER, EndReason.NO_ANSWER),
    # The calling side gave up while it rang (for univoice: calls.hangup before answer).
    # Same as the simulator: status canceled, end reason hangup.
    "cancel": (CallStatus.CANCELED, EndReason.HANGUP),
    # The far end declined the call (SIP 603 and the like). A caller hears it as busy,
    # the callee's side worked as designed, and "failed" would suggest a fault to retry,
    # so it reads busy. (PROVIDERS §5 proposes a "rejected" status; CallStatus has none.)
    "rejected": (CallStatus.BUSY, EndReason.BUSY),
    # Faults: in the application's callbacks or BXML, the account's limits, Bandwidth.
    "callback-error": (CallStatus.FAILED, EndReason.FAILED),
    "invalid-bxml": (CallStatus.FAILED, EndReason.FAILED),
    "application-error": (CallStatus.FAILED, EndReason.FAILED),
    "account-limit": (CallStatus.FAILED, EndReason.FAILED),
    "node-capacity-exceeded": (CallStatus.FAILED, EndReason.FAILED),
    "error": (CallStatus.FAILED, EndReason.FAILED),
    "unknown": (CallStatus.FAILED, EndReason.FAILED),
}

# Recording `status` (voice.yml schema `status`: processing, partial, complete, deleted,
# error). "completed" is what voice.yml's own example says (corrected to "complete" in our
# copy, C-BW-3) and what the authored sample holds: accepted as complete. "partial" is a
# recording cut short whose media is nevertheless available (recordingAvailable sends it).
RECORDING_STATUSES: dict[str, RecordingStatus] = {
    "processing": RecordingStatus.PROCESSING,
    "partial": RecordingStatus.READY,
    "complete": RecordingStatus.READY,
    "completed": RecordingStatus.READY,
    "deleted": RecordingStatus.DELETED,
    "error": RecordingStatus.FAILED,
}

# Transcription `status` (same schema, transcription values). "none" means no
# transcription was asked for: there is nothing pending or ready, so it stays UNKNOWN.
TRANSCRIPTION_STATUSES: dict[str, TranscriptionStatus] = {
    "none": TranscriptionStatus.UNKNOWN,
    "processing": TranscriptionStatus.PENDING,
    "available": TranscriptionStatus.READY,
    "completed": TranscriptionStatus.READY,  # the spec's example again
    "error": TranscriptionStatus.FAILED,
    "timeout": TranscriptionStatus.FAILED,
    "file-size-too-big": TranscriptionStatus.FAILED,
    "file-size-too-small": TranscriptionStatus.FAILED,
}

# machineDetectionResult.value (voice.yml: answering-machine, human, silence, timeout,
# error) -> the neutral MachineDetected.result. Silence and a detection that ran out of
# time or failed prove nothing either way.
MachineResult = Literal["human", "machine", "unknown"]
MACHINE_RESULTS: dict[str, MachineResult] = {
    "answering-machine": "machine",
    "human": "human",
    "silence": "unknown",
    "timeout": "unknown",
    "error": "unknown",
}


def call_status(state: Any, cause: Any = None) -> tuple[CallStatus, EndReason | None]:
    """(status, end reason) of a call from its ``state`` and ``disconnectCause``.

    A disconnected call whose cause no table knows has still ended: it reads COMPLETED
    (so ``Call.finished`` holds and ``calls.wait`` returns) with end reason UNKNOWN.
    """
    ended = cause if isinstance(cause, str) and cause else None
    if state == DISCONNECTED or (state not in STATES and ended is not None):
        if ended is None:
            return CallStatus.COMPLETED, None
        return CAUSES.get(ended, (CallStatus.COMPLETED, EndReason.UNKNOWN))
    if isinstance(state, str) and state in STATES:
        return STATES[state], None
    return CallStatus.UNKNOWN, None


def end_reason(cause: Any) -> EndReason:
    """The neutral end reason of a ``disconnectCause`` / callback ``cause``."""
    if isinstance(cause, str) and cause in CAUSES:
        return CAUSES[cause][1]
    return EndReason.UNKNOWN


def cause_status(cause: Any) -> CallStatus:
    """The final neutral status a ``cause`` means (UNKNOWN for a word no table knows)."""
    if isinstance(cause, str) and cause in CAUSES:
        return CAUSES[cause][0]
    return CallStatus.UNKNOWN


def recording_status(status: Any) -> RecordingStatus:
    if isinstance(status, str):
        return RECORDING_STATUSES.get(status, RecordingStatus.UNKNOWN)
    return RecordingStatus.UNKNOWN


def transcription_status(status: Any) -> TranscriptionStatus:
    if isinstance(status, str):
        return TRANSCRIPTION_STATUSES.get(status, TranscriptionStatus.UNKNOWN)
    return TranscriptionStatus.UNKNOWN


def machine_result(value: Any) -> MachineResult:
    if isinstance(value, str):
        return MACHINE_RESULTS.get(value, "unknown")
    return "unknown"


# Timestamps and durations ---------------------------------------------------------------

# recordingAvailable's documented enqueuedTime "2019-09-13-16:48:27.198Z": a "-" where the
# "T" belongs (samples/INDEX.md). The meaning is unambiguous, so it is read, not dropped.
_DASHED = re.compile(r"^(\d{4}-\d{2}-\d{2})-(\d{2}:\d{2})")
# Python reads at most six fractional digits; Bandwidth's durations show seven, and
# nothing stops its timestamps from doing the same.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from a Bandwidth ISO-8601 timestamp, or None.

    Tolerates a missing zone (recordingAvailable's eventTime has no "Z"; Bandwidth's
    times are UTC), the dashed form above and excess fractional digits. Never raises.
    """
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = _DASHED.sub(r"\1T\2", value.strip())
    text = _FRACTION.sub(r"\1", text)
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 9999 (or 1) moved past UTC
        return None


_DURATION = re.compile(
    r"^P(?:(?P<days>\d+(?:\.\d+)?)D)?"
    r"(?:T(?:(?P<hours>\d+(?:\.\d+)?)H)?(?:(?P<minutes>\d+(?:\.\d+)?)M)?"
    r"(?:(?P<seconds>\d+(?:\.\d+)?)S)?)?$")


def parse_duration(value: Any) -> float | None:
    """Seconds from an ISO-8601 duration (``PT13.67S``, ``PT1M2.5S``), or None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, int | float):
        try:
            seconds = float(value)
        except OverflowError:  # an int too large for a float
            return None
        return seconds if math.isfinite(seconds) and seconds >= 0 else None
    if not isinstance(value, str) or len(value) > 64:
        return None
    match = _DURATION.match(value.strip().upper())
    if match is None or value.strip().upper() in ("P", "PT") or value.strip().endswith("T"):
        return None
    parts = {k: float(v) for k, v in match.groupdict().items() if v is not None}
    return (parts.get("days", 0.0) * 86400 + parts.get("hours", 0.0) * 3600
            + parts.get("minutes", 0.0) * 60 + parts.get("seconds", 0.0))


def format_time(value: datetime) -> str:
    """A datetime as Bandwidth's query parameters want it (UTC, ``Z``, milliseconds);
    a naive datetime is taken as UTC."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.") + f"{aware.microsecond // 1000:03d}Z"
