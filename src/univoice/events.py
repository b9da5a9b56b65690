"""Neutral events: what every provider's callbacks become.

One discriminated union (on ``type``), so handlers are written once:

    @voice_app.on(univoice.events.DigitsGathered)
    def menu_choice(event: DigitsGathered) -> None: ...

Each event keeps the provider's original payload in ``raw`` (redacted of secrets) and an
``id``: the provider's own event identity where it has one, else a digest of the payload,
which is what redelivered callbacks are recognised by. A callback no parser knows becomes
an ``UnknownEvent``, never an error and never a silent drop.
"""

from __future__ import annotations

import hashlib
import json
from datetime import datetime
from typing import Annotated, Any, Literal

from pydantic import BaseModel, ConfigDict, Field, TypeAdapter

from univoice.models import Direction, EndReason


class BaseEvent(BaseModel):
    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    type: str  # each event class narrows it to its own literal (the union's tag)
    id: str  # identity for de-duplication (provider event id, or payload digest)
    provider: str
    call_id: str | None = None
    occurred_at: datetime | None = None
    tag: str | None = None  # the caller-chosen tag of the call, where the provider echoes it
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class CallInitiated(BaseEvent):
    type: Literal["call.initiated"] = "call.initiated"
    direction: Direction = Direction.UNKNOWN
    from_: str | None = Field(None, alias="from")
    to: str | None = None


class CallRinging(BaseEvent):
    type: Literal["call.ringing"] = "call.ringing"


class CallAnswered(BaseEvent):
    type: Literal["call.answered"] = "call.answered"


class CallCompleted(BaseEvent):
    type: Literal["call.completed"] = "call.completed"
    end_reason: EndReason = EndReason.UNKNOWN
    end_reason_raw: str | None = None
    duration: float | None = None


class CallFailed(BaseEvent):
    type: Literal["call.failed"] = "call.failed"
    reason: str | None = None


class MachineDetected(BaseEvent):
    type: Literal["call.machine_detected"] = "call.machine_detected"
    result: Literal["human", "machine", "unknown"] = "unknown"


class DigitsGathered(BaseEvent):
    type: Literal["gather.digits"] = "gather.digits"
    digits: str = ""
    variable: str | None = None  # the flow variable a free-input gather fills
    terminated_by: str | None = None  # the finish key, "timeout", "max_digits"


class RecordingCompleted(BaseEvent):
    type: Literal["recording.completed"] = "recording.completed"
    recording_id: str | None = None
    duration: float | None = None


class RecordingAvailable(BaseEvent):
    type: Literal["recording.available"] = "recording.available"
    recording_id: str | None = None
    media_url: str | None = None
    duration: float | None = None
    format: str | None = None


class TranscriptionAvailable(BaseEvent):
    type: Literal["transcription.available"] = "transcription.available"
    recording_id: str | None = None
    transcription_id: str | None = None
    text: str | None = None


class TransferAnswered(BaseEvent):
    type: Literal["transfer.answered"] = "transfer.answered"
    target: str | None = None


class TransferCompleted(BaseEvent):
    type: Literal["transfer.completed"] = "transfer.completed"
    target: str | None = None
    cause: str | None = None


class TransferLegEnded(BaseEvent):
    """One leg a transfer rang has ended (answered or not); ``call_id`` is the original
    call's. The transfer's own outcome, once, is ``TransferCompleted``."""

    type: Literal["transfer.leg_ended"] = "transfer.leg_ended"
    leg_id: str | None = None
    target: str | None = None
    cause: str | None = None


class ConferenceCreated(BaseEvent):
    type: Literal["conference.created"] = "conference.created"
    conference_id: str | None = None
    name: str | None = None


class ConferenceMemberJoined(BaseEvent):
    type: Literal["conference.member_joined"] = "conference.member_joined"
    conference_id: str | None = None
    name: str | None = None


class ConferenceMemberLeft(BaseEvent):
    type: Literal["conference.member_left"] = "conference.member_left"
    conference_id: str | None = None
    name: str | None = None


class ConferenceCompleted(BaseEvent):
    type: Literal["conference.completed"] = "conference.completed"
    conference_id: str | None = None
    name: str | None = None


class RouteAttemptFailed(BaseEvent):
    """A routed create's attempt at one provider failed (``univoice.routing``); with
    ``failed_over`` the next provider is tried, as the first provably created nothing."""

    type: Literal["route.attempt_failed"] = "route.attempt_failed"
    to: str | None = None
    attempt: int = 1
    reason: str | None = None
    error: str | None = None
    failed_over: bool = False


class CallRouted(BaseEvent):
    """A routed create placed its call: ``provider`` is the one chosen, after ``attempts``
    tries, by ``rule``."""

    type: Literal["call.routed"] = "call.routed"
    to: str | None = None
    rule: str | None = None
    attempts: int = 1


class UnknownEvent(BaseEvent):
    """A callback univoice does not (yet) understand: kept whole, acknowledged."""

    type: Literal["unknown"] = "unknown"
    provider_type: str | None = None


Event = Annotated[
    CallInitiated | CallRinging | CallAnswered | CallCompleted | CallFailed | MachineDetected
    | DigitsGathered | RecordingCompleted | RecordingAvailable | TranscriptionAvailable
    | TransferAnswered | TransferCompleted | TransferLegEnded | ConferenceCreated
    | ConferenceMemberJoined
    | ConferenceMemberLeft | ConferenceCompleted | RouteAttemptFailed | CallRouted
    | UnknownEvent,
    Field(discriminator="type"),
]
EVENT_ADAPTER: TypeAdapter[Event] = TypeAdapter(Event)
EVENT_TYPES: tuple[type[BaseEvent], ...] = (
    CallInitiated, CallRinging, CallAnswered, CallCompleted, CallFailed, MachineDetected,
    DigitsGathered, RecordingCompleted, RecordingAvailable, TranscriptionAvailable,
    TransferAnswered, TransferCompleted, TransferLegEnded, ConferenceCreated,
    ConferenceMemberJoined,
    ConferenceMemberLeft, ConferenceCompleted, RouteAttemptFailed, CallRouted, UnknownEvent)


def digest(provider: str, payload: Any) -> str:
    """A stable identity for a payload with no event id of its own (key order ignored)."""
    text = json.dumps(payload, sort_keys=True, separators=(",", ":"), default=str)
    return f"{provider}:sha256:{hashlib.sha256(text.encode()).hexdigest()[:32]}"


def event_from_json(data: dict[str, Any]) -> BaseEvent:
    """Rebuild an event stored as JSON (``event.model_dump(mode="json", by_alias=True)``)."""
    event: BaseEvent = EVENT_ADAPTER.validate_python(data)
    return event
