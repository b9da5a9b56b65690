"""The webhook app: verified, de-duplicated, normalised events and continuation documents.

``VoiceApp`` is an ASGI app (Starlette inside), standalone or mounted in any Starlette or
FastAPI app. Names load on first use, so adapters can import the request type cheaply.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

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


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'univoice.webhooks' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


__all__ = ["Continuations", "VoiceApp", "WebhookRejected", "WebhookRequest"]
