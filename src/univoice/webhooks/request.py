"""The request a provider's callback makes, as adapters see it (no web framework)."""

from __future__ import annotations

import math
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
        return decode_json(self.body)


MAX_BODY = 256 * 1024  # callbacks are small; the app caps bodies at this too
MAX_DEPTH = 12  # the deepest real callback (a Bird call object) nests 6 levels


def decode_json(body: bytes, *, max_body: int = MAX_BODY, max_depth: int = MAX_DEPTH
                ) -> Any:
    """JSON from outside, with limits: size and nesting (checked before the recursive
    decoder runs), no NaN/Infinity or overflowing numbers, no lone surrogates (the event
    store writes strict UTF-8 JSON: refused here, not after the callback was acknowledged).
    Anything else is a 400 ``WebhookRejected`` with a one-line reason."""
    import json

    if len(body) > max_body:
        raise WebhookRejected(400, f"body larger than {max_body} bytes")
    if _too_deep(body, max_depth):
        raise WebhookRejected(400, f"JSON nested deeper than {max_depth} levels")
    try:
        loaded = json.loads(body, parse_constant=_no_constant, parse_float=_finite)
        json.dumps(loaded, ensure_ascii=False).encode()
    except RecursionError:  # not expected past _too_deep; never let it escape
        raise WebhookRejected(400, "JSON nested too deeply") from None
    except UnicodeEncodeError:
        raise WebhookRejected(400, "body has a lone surrogate escape (not Unicode)") from None
    except (ValueError, UnicodeDecodeError) as exc:  # also the int digit limit
        reason = " ".join(str(exc).split())[:200]
        raise WebhookRejected(400, f"body is not JSON: {reason}") from None
    return loaded


def _no_constant(name: str) -> Any:
    raise ValueError(f"{name} is not JSON")  # NaN and Infinity: the store refuses them


def _finite(text: str) -> float:
    value = float(text)
    if not math.isfinite(value):  # "1e999" overflows to inf, which JSON cannot hold
        raise ValueError(f"number {text[:20]} is out of range")
    return value


def _too_deep(body: bytes, max_depth: int) -> bool:
    # Cheap bound first: a body with few brackets cannot be deep (the usual case).
    if body.count(b"[") + body.count(b"{") <= max_depth:
        return False
    depth, in_string, escaped = 0, False, False
    for byte in body:
        if in_string:
            if escaped:
                escaped = False
            elif byte == 0x5C:  # backslash
                escaped = True
            elif byte == 0x22:  # quote
                in_string = False
        elif byte == 0x22:
            in_string = True
        elif byte in (0x5B, 0x7B):  # [ {
            depth += 1
            if depth > max_depth:
                return True
        elif byte in (0x5D, 0x7D):  # ] }
            depth -= 1
    return False
