"""Neutral resource models and vocabularies shared by every provider.

Each provider maps its own words onto these; a word no table knows maps to ``UNKNOWN``
and the original is kept in the model's ``raw`` payload, never dropped.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from decimal import Decimal
from enum import StrEnum
from typing import Any, Generic, Literal, Self, TypeVar

from pydantic import BaseModel, ConfigDict, Field, PrivateAttr


class CallStatus(StrEnum):
    QUEUED = "queued"
    INITIATED = "initiated"
    RINGING = "ringing"
    IN_PROGRESS = "in_progress"
    COMPLETED = "completed"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    CANCELED = "canceled"
    UNKNOWN = "unknown"


class EndReason(StrEnum):
    HANGUP = "hangup"  # the flow hung up, or ran out of steps
    CALLEE_HANGUP = "callee_hangup"
    BUSY = "busy"
    NO_ANSWER = "no_answer"
    FAILED = "failed"
    MACHINE = "machine"  # an answering machine answered and the flow hung up on it
    REDIRECTED = "redirected"  # control left for a URL the simulator could not follow
    UNKNOWN = "unknown"


class Direction(StrEnum):
    OUTBOUND = "outbound"
    INBOUND = "inbound"
    UNKNOWN = "unknown"


class RecordingStatus(StrEnum):
    PROCESSING = "processing"
    READY = "ready"  # the media can be downloaded
    FAILED = "failed"
    DELETED = "deleted"
    UNKNOWN = "unknown"


class TranscriptionStatus(StrEnum):
    PENDING = "pending"
    READY = "ready"
    FAILED = "failed"
    UNKNOWN = "unknown"


class ConferenceStatus(StrEnum):
    ACTIVE = "active"
    COMPLETED = "completed"
    UNKNOWN = "unknown"


class Resource(BaseModel):
    """Base of the neutral resource models.

    ``raw`` is the provider's original payload (secret-looking fields redacted), for
    anything the neutral model does not cover; it is left out of ``repr``.
    """

    model_config = ConfigDict(frozen=True, populate_by_name=True, extra="forbid")

    provider: str
    raw: dict[str, Any] = Field(default_factory=dict, repr=False)


class Leg(Resource):
    id: str
    call_id: str
    direction: Direction = Direction.UNKNOWN
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    status: CallStatus = CallStatus.UNKNOWN
    created_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration: float | None = None  # seconds
    cost: Decimal | None = None
    currency: str | None = None


class RouteAttempt(BaseModel):
    """One provider a routed create tried (or passed over), and what came of it."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    provider: str
    # placed: this provider placed the call; failed_over: it provably created nothing,
    # so the next was tried; failed: it failed in a way that stops the route (an
    # ambiguous create, a refused request); skipped: never asked (the flow or arguments
    # are beyond it, or its circuit breaker is open).
    outcome: Literal["placed", "failed_over", "failed", "skipped"]
    reason: str | None = None  # why it failed over or was skipped ("rate_limited", ...)
    error: str | None = None  # the error's one-line text (secrets already redacted)


class RouteRecord(BaseModel):
    """How a routed create chose its provider: the rule, and every attempt in order."""

    model_config = ConfigDict(frozen=True, extra="forbid")

    rule: str  # the rule's name, or "default"
    why: str  # why that rule, and the order of its providers
    chosen: str | None = None  # the provider that placed the call
    attempts: list[RouteAttempt] = Field(default_factory=list)


class Call(Resource):
    id: str
    direction: Direction = Direction.OUTBOUND
    from_: str | None = Field(None, alias="from")
    to: str | None = None
    status: CallStatus = CallStatus.UNKNOWN
    status_raw: str | None = None  # the provider's own word for the status
    created_at: datetime | None = None
    answered_at: datetime | None = None
    ended_at: datetime | None = None
    duration: float | None = None  # seconds from answer to end
    end_reason: EndReason | None = None
    end_reason_raw: str | None = None
    tag: str | None = None
    legs: list[Leg] = Field(default_factory=list)
    route: RouteRecord | None = None  # set by a routed client (univoice.routing)

    @property
    def finished(self) -> bool:
        return self.status in FINAL_STATUSES


FINAL_STATUSES = frozenset({CallStatus.COMPLETED, CallStatus.BUSY, CallStatus.NO_ANSWER,
                            CallStatus.FAILED, CallStatus.CANCELED})


class Recording(Resource):
    id: str
    call_id: str | None = None
    status: RecordingStatus = RecordingStatus.UNKNOWN
    duration: float | None = None  # seconds
    format: str | None = None  # "wav", "mp3"
    media_url: str | None = None
    created_at: datetime | None = None

    _downloader: Callable[..., Any] | None = PrivateAttr(None)

    def bind(self, downloader: Callable[..., Any]) -> Self:
        """Attach the client that fetched it, so ``download`` knows where to go."""
        self._downloader = downloader
        return self

    def download(self, dest: Any) -> Any:
        """Stream the media to ``dest`` (a directory, a path or a binary file object).

        From an ``AsyncVoice`` this returns an awaitable.
        """
        if self._downloader is None:
            from univoice.errors import UnivoiceError

            raise UnivoiceError("this recording was not fetched through a client; use "
                                "voice.recordings.download(recording, dest)")
        return self._downloader(self, dest)


class Transcription(Resource):
    id: str
    recording_id: str | None = None
    call_id: str | None = None
    status: TranscriptionStatus = TranscriptionStatus.UNKNOWN
    text: str | None = None
    language: str | None = None


class ConferenceMember(Resource):
    call_id: str
    conference_id: str
    muted: bool = False
    on_hold: bool = False


class Conference(Resource):
    id: str
    name: str | None = None
    status: ConferenceStatus = ConferenceStatus.UNKNOWN
    created_at: datetime | None = None
    ended_at: datetime | None = None
    members: list[ConferenceMember] = Field(default_factory=list)


class WebhookSubscription(Resource):
    id: str
    url: str
    events: list[str] = Field(default_factory=list)
    created_at: datetime | None = None


class StoredFlow(Resource):
    id: str
    name: str | None = None
    document: Any = None  # the provider's native flow document
    created_at: datetime | None = None


T = TypeVar("T")


class Page(BaseModel, Generic[T]):
    """One page of a list; ``next_cursor`` is opaque and None on the last page."""

    model_config = ConfigDict(frozen=True)

    items: list[T]
    next_cursor: str | None = None
