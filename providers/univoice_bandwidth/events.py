"""Bandwidth callbacks -> neutral events, and their verification (HTTP Basic)."""

from __future__ import annotations

from typing import TYPE_CHECKING

from univoice.webhooks.request import WebhookRejected

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.webhooks.request import WebhookRequest
    from univoice_bandwidth.settings import BandwidthSettings


def verify(settings: BandwidthSettings, request: WebhookRequest) -> None:
    """Raise ``WebhookRejected(401)`` unless the callback carries the callback credentials."""
    raise WebhookRejected(401, "Bandwidth callbacks are not accepted yet")


def parse(request: WebhookRequest) -> list[BaseEvent]:
    """The neutral events of one callback."""
    raise WebhookRejected(404, "Bandwidth callbacks are not parsed yet")
