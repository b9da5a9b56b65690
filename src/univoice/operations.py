"""Sans-I/O operations: what an adapter hands the transport.

An adapter turns neutral arguments into an ``Operation``: the ``httpx.Request`` to send
(no credentials: the transport adds them) and the pure function that turns the
``httpx.Response`` into a neutral model. The same adapter code then serves the sync and
the async client, and tests run it against ``httpx.MockTransport`` without a socket.
"""

from __future__ import annotations

import json as jsonlib  # `json` is a parameter name below
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from functools import lru_cache
from typing import Any, Generic, TypeVar

import httpx

from univoice.errors import ProviderError

T = TypeVar("T")


@dataclass(frozen=True, slots=True)
class Operation(Generic[T]):
    name: str  # "calls.create": used in errors, hooks and logs
    request: httpx.Request
    parse: Callable[[httpx.Response], T]
    # A create must not be repeated blindly (see univoice.retry); everything else may.
    creates: bool = False
    # A create the provider de-duplicates by key is safe to repeat with the same key.
    idempotency_key: str | None = None
    # The create's tag (caller-chosen or generated): how its result is found again.
    tag: str | None = None
    # After an ambiguous failure of a create: an operation that finds what it created
    # (None when it is not there), so the transport never creates twice.
    reconcile: Callable[[], Operation[T | None]] | None = None
    # Stream the body to a sink instead of parsing it (recording downloads).
    stream: bool = False

    @property
    def safe_to_retry(self) -> bool:
        return not self.creates or self.idempotency_key is not None


@lru_cache(maxsize=512)
def _url(text: str) -> httpx.URL:
    # URLs are immutable; fixed ones (POST .../calls) recur on every request.
    return httpx.URL(text)


def build_request(method: str, url: str, *, json: Any = None,
                  params: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None) -> httpx.Request:
    """An ``httpx.Request`` built the cheap way: JSON encoded compactly once, and the URL
    parsed once per distinct URL (httpx parses every string it is given)."""
    sent = dict(headers or {})
    content = None
    if json is not None:
        content = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
        sent.setdefault("content-type", "application/json")
    target = _url(url)
    if params:
        target = target.copy_merge_params({k: v for k, v in params.items() if v is not None})
    return httpx.Request(method, target, content=content, headers=sent)


def json_body(response: httpx.Response, provider: str, operation: str) -> Any:
    """The response's JSON, or a ``ProviderError`` that keeps the raw body."""
    try:
        return response.json()
    except (jsonlib.JSONDecodeError, UnicodeDecodeError):
        raise malformed(response, provider, operation, "the body is not JSON") from None


def malformed(response: httpx.Response, provider: str, operation: str, why: str
              ) -> ProviderError:
    body = response.text[:2000] if response.content else ""
    return ProviderError(f"unexpected response: {why}", provider=provider, operation=operation,
                         status=response.status_code, raw=body)
