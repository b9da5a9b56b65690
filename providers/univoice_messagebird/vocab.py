"""MessageBird's words -> univoice's: call, leg, recording and transcription statuses, leg
directions; numbers (MessageBird writes them without the '+'); timestamps; the string
booleans MessageBird's own SDK fixtures show; transcription languages.

Sources (../shared/reference/PROVIDERS.md §5 and the samples in
../shared/reference/samples/messagebird/, provenance in its INDEX.md):

- call ``status``: ``queued``, ``starting``, ``ongoing``, ``ended`` (Go SDK voice/call.go,
  the Python SDK fixture py_call_create_response.json for ``queued``); the Java SDK's
  ``VoiceCallStatus`` adds ``failed``, ``busy``, ``no_answer`` (py_calls_list_paginated.json
  has ``no_answer``).
- leg ``status``: ``starting``, ``ringing``, ``ongoing``, ``busy``, ``no_answer``,
  ``failed``, ``hangup`` (Go SDK voice/leg.go; Java ``VoiceLegStatus``); ``direction``:
  ``incoming``, ``outgoing``.
- recording ``status``: ``initialised``, ``recording``, ``done``, ``failed`` (Go SDK
  voice/recording.go; ``done`` in every recording sample).
- transcription ``status``: ``created``, ``transcribing``, ``done``, ``failed`` (the seed
  summary and the Go SDK's comment; **unconfirmed**, PROVIDERS §5).

Every table is closed with a catch-all: a word no table knows maps to ``UNKNOWN`` and the
parsers keep the original (``Call.status_raw``, ``raw``), never dropping it.
"""

from __future__ import annotations

import re
from datetime import UTC, datetime
from typing import Any

from univoice.models import (
    CallStatus,
    Direction,
    EndReason,
    RecordingStatus,
    TranscriptionStatus,
)

# Call status (PROVIDERS §5, "suggested neutral mapping"). A call ``ended`` says nothing
# about how: its legs do (LEG_ENDINGS), when they are known.
CALL_STATUSES: dict[str, CallStatus] = {
    "queued": CallStatus.QUEUED,
    "starting": CallStatus.INITIATED,
    "ongoing": CallStatus.IN_PROGRESS,
    "ended": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no_answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
}
# The end reason a call's own final status gives (without its legs).
CALL_ENDINGS: dict[str, EndReason] = {
    "busy": EndReason.BUSY,
    "no_answer": EndReason.NO_ANSWER,
    "failed": EndReason.FAILED,
}

# Leg status. ``hangup`` is a leg's normal end; MessageBird does not say which side hung
# up, so it reads HANGUP (as Bandwidth's "hangup" cause does), never CALLEE_HANGUP.
LEG_STATUSES: dict[str, CallStatus] = {
    "starting": CallStatus.INITIATED,
    "ringing": CallStatus.RINGING,
    "ongoing": CallStatus.IN_PROGRESS,
    "hangup": CallStatus.COMPLETED,
    "busy": CallStatus.BUSY,
    "no_answer": CallStatus.NO_ANSWER,
    "failed": CallStatus.FAILED,
}
LEG_ENDINGS: dict[str, EndReason] = {
    "hangup": EndReason.HANGUP,
    "busy": EndReason.BUSY,
    "no_answer": EndReason.NO_ANSWER,
    "failed": EndReason.FAILED,
}

DIRECTIONS: dict[str, Direction] = {
    "incoming": Direction.INBOUND,
    "outgoing": Direction.OUTBOUND,
}

# Recording status. A recording being made (``initialised``, ``recording``) has no media
# yet: PROCESSING until ``done``.
RECORDING_STATUSES: dict[str, RecordingStatus] = {
    "initialised": RecordingStatus.PROCESSING,
    "initialized": RecordingStatus.PROCESSING,  # the American spelling, should it appear
    "recording": RecordingStatus.PROCESSING,
    "done": RecordingStatus.READY,
    "failed": RecordingStatus.FAILED,
}

TRANSCRIPTION_STATUSES: dict[str, TranscriptionStatus] = {
    "created": TranscriptionStatus.PENDING,
    "transcribing": TranscriptionStatus.PENDING,
    "done": TranscriptionStatus.READY,
    "failed": TranscriptionStatus.FAILED,
}

# Languages a recording is transcribed in: the record step's ``transcribeLanguage`` values
# (PROVIDERS §3.2, MB-GO voice/callflow.go), keyed by the neutral (BCP 47) tag. MessageBird
# writes British English "en-UK" and Latin-American Spanish "es-LA"; its own spellings are
# accepted as given too.
TRANSCRIPTION_LANGUAGES: dict[str, str] = {
    "de-DE": "de-DE", "en-AU": "en-AU", "en-GB": "en-UK", "en-UK": "en-UK",
    "en-US": "en-US", "es-ES": "es-ES", "es-419": "es-LA", "es-LA": "es-LA",
    "fr-FR": "fr-FR", "it-IT": "it-IT", "nl-NL": "nl-NL", "pt-BR": "pt-BR",
}


def _word(value: Any) -> str | None:
    return value if isinstance(value, str) else None


def call_status(value: Any) -> CallStatus:
    word = _word(value)
    return CALL_STATUSES.get(word, CallStatus.UNKNOWN) if word else CallStatus.UNKNOWN


def call_ending(value: Any) -> EndReason | None:
    """The end reason a call's own status gives: busy / no_answer / failed; None for the
    rest (``ended`` says nothing about how)."""
    word = _word(value)
    return CALL_ENDINGS.get(word) if word else None


def leg_status(value: Any) -> CallStatus:
    word = _word(value)
    return LEG_STATUSES.get(word, CallStatus.UNKNOWN) if word else CallStatus.UNKNOWN


def leg_ending(value: Any) -> EndReason | None:
    """The end reason of a leg that has ended; None while it has not (or for a word no
    table knows: the caller then says UNKNOWN for an ended call)."""
    word = _word(value)
    return LEG_ENDINGS.get(word) if word else None


def direction(value: Any) -> Direction:
    word = _word(value)
    return DIRECTIONS.get(word, Direction.UNKNOWN) if word else Direction.UNKNOWN


def recording_status(value: Any) -> RecordingStatus:
    word = _word(value)
    return RECORDING_STATUSES.get(word, RecordingStatus.UNKNOWN) if word else (
        RecordingStatus.UNKNOWN)


def transcription_status(value: Any) -> TranscriptionStatus:
    word = _word(value)
    return TRANSCRIPTION_STATUSES.get(word, TranscriptionStatus.UNKNOWN) if word else (
        TranscriptionStatus.UNKNOWN)


def transcription_language(language: str) -> str | None:
    """MessageBird's spelling of a transcription language, or None when it has none."""
    return TRANSCRIPTION_LANGUAGES.get(language)


# Values ---------------------------------------------------------------------------------

# An E.164 number as MessageBird writes it: the digits without the '+'.
_DIGITS = re.compile(r"[1-9][0-9]{6,14}")


def to_messagebird(number: str) -> str:
    """``+31612345678`` -> ``31612345678``; a SIP URI (or anything else) as it is."""
    return number[1:] if number.startswith("+") and number[1:].isdigit() else number


def from_messagebird(value: Any) -> str | None:
    """``31612345678`` -> ``+31612345678``; what is not a number (a SIP URI, a caller ID
    such as the Java SDK fixture's ``"Heaven"``, ``anonymous``) as it is; None for a value
    that is not a string."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        return None
    return f"+{value}" if _DIGITS.fullmatch(value) else value


def boolean(value: Any) -> bool | None:
    """A boolean MessageBird may send as one or, as the Java SDK fixture
    call_flow_view.json shows (``"transcribe": "false"``), as a string."""
    if isinstance(value, bool):
        return value
    if isinstance(value, str) and value.strip().lower() in ("true", "false"):
        return value.strip().lower() == "true"
    return None


def seconds(value: Any) -> float | None:
    """A non-negative number of seconds (legs' and recordings' ``duration`` are integers;
    a numeric string is read too), else None."""
    if isinstance(value, bool):
        return None
    if isinstance(value, str):
        try:
            value = float(value.strip())
        except ValueError:
            return None
    if isinstance(value, int | float) and value == value and 0 <= value < float("inf"):
        try:
            return float(value)
        except OverflowError:  # an int too large for a float
            return None
    return None


# Python reads at most six fractional digits.
_FRACTION = re.compile(r"(\.\d{6})\d+")


def parse_time(value: Any) -> datetime | None:
    """An aware UTC datetime from MessageBird's RFC 3339 timestamps (``2017-02-16T10:52:00Z``),
    or None for null, an empty or malformed value. A time without a zone is UTC. Never
    raises."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = _FRACTION.sub(r"\1", value.strip())
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        if parsed.tzinfo is None:
            return parsed.replace(tzinfo=UTC)
        return parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 9999 (or 1) moved past UTC
        return None


def format_time(value: datetime) -> str:
    """A datetime as MessageBird writes them (UTC, whole seconds, ``Z``)."""
    aware = value.replace(tzinfo=UTC) if value.tzinfo is None else value.astimezone(UTC)
    return aware.strftime("%Y-%m-%dT%H:%M:%SZ")
