"""Bird's words -> univoice's: call statuses (and the end they tell), directions, recording
statuses, AMD results; numbers and timestamps as Bird writes them.

Sources (../shared/reference/PROVIDERS.md §5, §2.2 and the samples in
../shared/reference/samples/bird/, provenance in its INDEX.md):

- call ``status``: inbound ``starting``, ``ringing``, ``ongoing``, ``completed``,
  ``no-answer`` (with a dash), ``busy``, ``failed``; outbound adds ``accepted`` first
  (docs.bird.com/api/voice-api/voice-webhooks; ``accepted`` also in
  seed_create_call_202_response.json). ``canceled`` is **unconfirmed** (PROVIDERS §5): read
  as CANCELED should it appear. ``no_answer`` (MessageBird's spelling) is read as
  ``no-answer``.
- ``direction``: ``incoming``, ``outgoing``.
- call recording ``status``: ``accepted``, ``ongoing``, ``paused``, ``completed``,
  ``available``, ``absent``, ``failed`` (the enum ``CallRecordingStatus`` of the docs page
  voice-calls-api/get-a-call-recording); the Recordings API's own list is not in our
  sources, its examples show ``accepted`` and ``available``. Only ``available`` has media.
- ``hangupSource``: ``callee`` seen (seed_call_object_schema_example.json); other values
  unconfirmed (``caller`` assumed).
- AMD ``amdResult.result``: ``human`` seen; ``machine`` assumed (PROVIDERS §5).

Every table is closed with a catch-all: a word no table knows maps to ``UNKNOWN`` and the
parsers keep the original (``Call.status_raw``, ``raw``), never dropping it.
"""

from __future__ import annotations

import math
import re
from datetime import UTC, datetime
from typing import Any, Literal

from univoice.models import CallStatus, Direction, EndReason, RecordingStatus

# Call status -> neutral status (PROVIDERS §5, "suggested neutral mapping").
CALL_STATUSES: dict[str, CallStatus] = {
    "accepted": CallStatus.QUEUED,
    "starting": CallStatus.INITIATED,
    "ringing": CallStatus.RINGING,
    "ongoing": CallStatus.IN_PROGRESS,
    "completed": CallStatus.COMPLETED,
    "no-answer": CallStatus.NO_ANSWER,
    "busy": CallStatus.BUSY,
    "failed": CallStatus.FAILED,
    "canceled": CallStatus.CANCELED,  # unconfirmed
}
# The neutral status a calls.list filter asks for -> Bird's word (the reverse of the above;
# UNKNOWN has none).
STATUS_FILTERS: dict[CallStatus, str] = {
    neutral: word for word, neutral in CALL_STATUSES.items()}
# Final statuses and the end each names by itself. ``completed`` is a normal end: who hung
# up is ``hangupSource`` (see ``end_reason``).
CALL_ENDINGS: dict[str, EndReason] = {
    "completed": EndReason.HANGUP,
    "no-answer": EndReason.NO_ANSWER,
    "busy": EndReason.BUSY,
    "failed": EndReason.FAILED,
    "canceled": EndReason.HANGUP,  # as Bandwidth's "cancel" and the simulator read it
}
# Statuses of a call that is still alive.
LIVE_STATUSES = frozenset({"accepted", "starting", "ringing", "ongoing"})

DIRECTIONS: dict[str, Direction] = {
    "incoming": Direction.INBOUND,
    "outgoing": Direction.OUTBOUND,
}

# Recording status. While being made (accepted, ongoing, paused) or just ended but not yet
# stored (completed) there is no media: PROCESSING until ``available``. ``absent``: no media
# (its meaning, deleted or never stored, is unconfirmed; either way nothing to download).
RECORDING_STATUSES: dict[str, RecordingStatus] = {
    "accepted": RecordingStatus.PROCESSING,
    "ongoing": RecordingStatus.PROCESSING,
    "paused": RecordingStatus.PROCESSING,
    "completed": RecordingStatus.PROCESSING,
    "available": RecordingStatus.READY,
    "absent": RecordingStatus.DELETED,
    "failed": RecordingStatus.FAILED,
}

MachineResult = Literal["human", "machine", "unknown"]
AMD_RESULTS: dict[str, MachineResult] = {"human": "human", "machine": "machine"}


def word(value: Any) -> str | None:
    """A status-like word as the tables key it: stripped, lower case, ``_`` read as ``-``
    (``no_answer`` = ``no-answer``); None for anything that is not a non-empty string."""
    if not isinstance(value, str):
        return None
    text = value.strip().lower().replace("_", "-")
    return text or None


def call_status(value: Any) -> CallStatus:
    found = word(value)
    return CALL_STATUSES.get(found, CallStatus.UNKNOWN) if found else CallStatus.UNKNOWN


def direction(value: Any) -> Direction:
    found = word(value)
    return DIRECTIONS.get(found, Direction.UNKNOWN) if found else Direction.UNKNOWN


def end_reason(status: Any, hangup_source: Any = None, direction_: Any = None
               ) -> EndReason | None:
    """How a call ended, from its final status; None while it has not.

    ``completed`` is CALLEE_HANGUP when the other party hung up: ``hangupSource`` is
    ``callee`` on an outgoing call (or ``caller`` on an incoming one; that spelling is
    unconfirmed), else HANGUP (the flow's end, or a side Bird does not name). A final
    status no table knows: UNKNOWN."""
    found = word(status)
    if found is None or found in LIVE_STATUSES:
        return None
    reason = CALL_ENDINGS.get(found)
    if reason is None:
        return EndReason.UNKNOWN
    if found == "completed":
        remote = {"outgoing": "callee", "incoming": "caller"}.get(word(direction_) or "")
        if remote is not None and word(hangup_source) == remote:
            return EndReason.CALLEE_HANGUP
    return reason


def is_final(value: Any) -> bool:
    found = word(value)
    return found is not None and found not in LIVE_STATUSES and found in CALL_STATUSES


def recording_status(value: Any) -> RecordingStatus:
    found = word(value)
    return RECORDING_STATUSES.get(found, RecordingStatus.UNKNOWN) if found else (
        RecordingStatus.UNKNOWN)


def machine_result(value: Any) -> MachineResult:
    found = word(value)
    return AMD_RESULTS.get(found, "unknown") if found else "unknown"


# Values ---------------------------------------------------------------------------------

# E.164 digits without their "+" (the Recordings API's party numbers are written so:
# "3197004499436", with identity "+3197004499436").
_DIGITS = re.compile(r"[1-9][0-9]{6,14}")


def phone(value: Any) -> str | None:
    """A number as univoice writes it: E.164 with '+' (Bird's own form); bare E.164 digits
    gain their '+'; anything else (a SIP URI, ``anonymous``, the docs' placeholder
    ``"text"``) as it is; None for a value that is not a non-empty string."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return f"+{text}" if _DIGITS.fullmatch(text) else text


def party_number(party: Any) -> str | None:
    """The number of an ``originator`` / ``receiver`` object: ``number.identity``
    (E.164 with '+') or ``number.number``, else the contact's identifier value."""
    if not isinstance(party, dict):
        return None
    number = party.get("number")
    if isinstance(number, dict):
        for key in ("identity", "number"):
            found = phone(number.get(key))
            if found:
                return found
    contact = party.get("contact")
    if isinstance(contact, dict):
        return phone(contact.get("identifierValue"))
    return None


def seconds(value: Any) -> float | None:
    """A non-negative, finite number of seconds (a number or a numeric string), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        if len(value) > 32:
            return None
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:  # an int too large for a float
        return None
    return number if math.isfinite(number) and number >= 0 else None


# Python reads at most six fractional digits.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from Bird's RFC 3339 timestamps (``2024-02-29T11:44:07.74Z``),
    or None for null, an empty or malformed value and for Go's zero time
    (``0001-01-01T00:00:00Z``, which a live call-recording example carries as an unset
    ``endedAt``). A time without a zone is UTC. Never raises."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        aware = parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 1 moved past UTC
        return None
    return None if aware.year <= 1 else aware


def format_time(value: datetime) -> str:
    """A datetime as Bird writes them: UTC, milliseconds, ``Z``."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%S.") + f"{aware.microsecond // 1000:03d}Z"
