"""The webhook app: verified, de-duplicated, normalised events and continuation documents.

``VoiceApp`` is an ASGI app (Starlette inside), standalone or mounted in any Starlette or
FastAPI app. Names load on first use, so adapters can import the request type cheaply.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from univoice._lazy import lazy

_LAZY = {
    "VoiceApp": "univoice.webhooks.app",
    "WebhookRequest": "univoice.webhooks.request",
    "WebhookRejected": "univoice.webhooks.request",
    "Continuations": "univoice.webhooks.continuations",
}

if TYPE_CHECKING:
    from univoice.webhooks.app import VoiceApp
    from univoice.webhooks.continuations import Continuations
    from univoice.webhooks.request import WebhookRejected, WebhookRequest


__getattr__, __dir__ = lazy(__name__, _LAZY)

__all__ = ["Continuations", "VoiceApp", "WebhookRejected", "WebhookRequest"]
