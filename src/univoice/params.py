"""Neutral arguments of client operations, checked before any request is built.

A bad number, a negative timeout or an unknown filter is an ``InvalidArguments`` naming
the argument, raised before a single byte is sent (and so before any money is spent).
"""

from __future__ import annotations

from datetime import datetime
from typing import Annotated, ClassVar, Literal, Self

from pydantic import ConfigDict, Field, model_validator

from univoice.errors import InvalidArguments, InvalidInput
from univoice.flow import Flow
from univoice.flow.fields import HttpUrl, PhoneNumber, RingSeconds, Target
from univoice.models import CallStatus
from univoice.validated import Validated

Tag = Annotated[str, Field(min_length=1, max_length=256, pattern=r"^[\x21-\x7e]+$")]
MAX_CALL_SECONDS = 4 * 3600.0


class Arguments(Validated):
    error_class: ClassVar[type[InvalidInput]] = InvalidArguments


class CreateCall(Arguments):
    """Place an outbound call that runs ``flow`` (or the document served at ``answer_url``)."""

    to: Target
    from_: PhoneNumber = Field(alias="from")
    flow: Flow | None = None
    answer_url: HttpUrl | None = None
    ring_timeout: RingSeconds = 30.0
    max_duration: float | None = Field(None, gt=0, le=MAX_CALL_SECONDS)
    machine_detection: bool = False
    record: bool = False
    callback_url: HttpUrl | None = None
    # Chosen by the caller, or generated: how a create whose answer was lost is found again.
    tag: Tag | None = None
    # Set by the client, never by the caller, for a provider that fetches each document
    # from the univoice webhook app (``Provider.fetches_documents``): where the app serves
    # ``flow``, and where it takes the provider's callbacks.
    flow_url: HttpUrl | None = None
    events_url: HttpUrl | None = None

    model_config = ConfigDict(populate_by_name=True)

    @model_validator(mode="after")
    def _one_source_of_flow(self) -> Self:
        if (self.flow is None) == (self.answer_url is None):
            raise ValueError("give exactly one of flow (a univoice Flow) or answer_url")
        return self


class UpdateCall(Arguments):
    """Move a live call to a new flow, or to the document served at ``redirect_url``."""

    flow: Flow | None = None
    redirect_url: HttpUrl | None = None
    flow_url: HttpUrl | None = None  # set by the client, as in CreateCall
    events_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _one_target(self) -> Self:
        if (self.flow is None) == (self.redirect_url is None):
            raise ValueError("give exactly one of flow or redirect_url")
        return self


class CallFilters(Arguments):
    """Filters of ``calls.list``; a provider that cannot filter on one says so up front."""

    to: str | None = None
    from_: str | None = Field(None, alias="from")
    status: CallStatus | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None
    tag: Tag | None = None

    model_config = ConfigDict(populate_by_name=True)

    def used(self) -> list[str]:
        return [name for name, value in self if value is not None]


class ConferenceFilters(Arguments):
    name: str | None = None
    created_after: datetime | None = None
    created_before: datetime | None = None

    def used(self) -> list[str]:
        return [name for name, value in self if value is not None]


class UpdateConference(Arguments):
    """End a conference (``status="completed"``) or move everyone to ``redirect_url``."""

    status: Literal["active", "completed"] = "active"
    redirect_url: HttpUrl | None = None

    @model_validator(mode="after")
    def _redirect_when_active(self) -> Self:
        if self.status == "active" and self.redirect_url is None:
            raise ValueError("an active conference update needs redirect_url")
        if self.status == "completed" and self.redirect_url is not None:
            raise ValueError("redirect_url cannot be given when ending the conference")
        return self


class MemberUpdate(Arguments):
    muted: bool | None = None
    on_hold: bool | None = None


class WebhookArgs(Arguments):
    url: HttpUrl
    events: list[Annotated[str, Field(min_length=1, max_length=100)]] = Field(
        default_factory=list, max_length=50)
