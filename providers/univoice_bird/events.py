"""Bird callbacks -> neutral events, and their verification (HMAC signature)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from univoice.webhooks.request import WebhookRejected

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.webhooks.request import WebhookRequest
    from univoice_bird.settings import BirdSettings


def verify(settings: BirdSettings, request: WebhookRequest) -> None:
    """Raise ``WebhookRejected(401)`` unless Bird signed this request."""
    raise WebhookRejected(401, "Bird callbacks are not accepted yet")


def parse(request: WebhookRequest) -> list[BaseEvent]:
    """The neutral events of one callback."""
    raise WebhookRejected(404, "Bird callbacks are not parsed yet")
