"""MessageBird callbacks -> neutral events, and their verification (signed JWT)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from univoice.webhooks.request import WebhookRejected

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.webhooks.request import WebhookRequest
    from univoice_messagebird.settings import MessageBirdSettings


def verify(settings: MessageBirdSettings, request: WebhookRequest) -> None:
    """Raise ``WebhookRejected(401)`` unless MessageBird signed this request."""
    raise WebhookRejected(401, "MessageBird callbacks are not accepted yet")


def parse(request: WebhookRequest) -> list[BaseEvent]:
    """The neutral events of one callback."""
    raise WebhookRejected(404, "MessageBird callbacks are not parsed yet")
