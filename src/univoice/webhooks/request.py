"""The request a provider's callback makes, as adapters see it (no web framework)."""

from __future__ import annotations

import time
from dataclasses import dataclass, field
from typing import Any

from univoice.errors import UnivoiceError


class WebhookRejected(UnivoiceError):
    """A callback refused before it reaches any handler (401, 400, 413, 415, ...)."""

    def __init__(self, status: int, reason: str) -> None:
        self.status = status
        self.reason = reason
        super().__init__(f"HTTP {status}: {reason}")


@dataclass(frozen=True)
class WebhookRequest:
    """A callback as received, with ``url`` rebuilt from the configured public base URL.

    Signatures cover the URL the provider was given, which behind a proxy or a TLS
    terminator is not the Host and scheme this process sees; so verification uses the
    public URL, never the incoming Host header or X-Forwarded-* guesses.
    """

    method: str
    url: str  # public: base URL + path + query
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # lower-case names
    body: bytes
    received_at: float = field(default_factory=time.time)

    def header(self, name: str, default: str | None = None) -> str | None:
        return self.headers.get(name.lower(), default)

    def json(self) -> Any:
        """The body as JSON, or a 400 ``WebhookRejected`` with a one-line reason."""
        import json

        try:
            return json.loads(self.body, parse_constant=_no_constant)
        except RecursionError:
            raise WebhookRejected(400, "body is nested too deeply") from None
        except (ValueError, UnicodeDecodeError) as exc:
            raise WebhookRejected(400, f"body is not JSON: {exc}") from None


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: the store writes strict JSON
