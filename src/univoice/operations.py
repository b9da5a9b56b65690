"""Sans-I/O operations: what an adapter hands the transport.

An adapter turns neutral arguments into an ``Operation``: the ``httpx.Request`` to send
(no credentials: the transport adds them) and the pure function that turns the
``httpx.Response`` into a neutral model. The same adapter code then serves the sync and
the async client, and tests run it against ``httpx.MockTransport`` without a socket.
"""

from __future__ import annotations

import json as jsonlib  # `json` is a parameter name below
import re
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
    # A read that takes more than one request: given this operation's result, the next
    # operation to run (its result is the result), or None when this one is enough.
    then: Callable[[T], Operation[T] | None] | None = None

    @property
    def safe_to_retry(self) -> bool:
        return not self.creates or self.idempotency_key is not None


@lru_cache(maxsize=512)
def _url(text: str) -> httpx.URL:
    # URLs are immutable; fixed ones (POST .../calls) recur on every request.
    return httpx.URL(text)


# A URL that httpx and yarl (aiohttp's URL type) both leave exactly as written: lower-case
# host name or dotted quad, a path and query of characters neither percent-encodes, no
# fragment, no user info. tests/transport/test_lazy_request.py holds the two to that.
_PLAIN_URL = re.compile(
    r"(?P<origin>https?://[a-z0-9.-]+(?::[0-9]{1,5})?)"
    r"(?P<path>/[A-Za-z0-9._~!$&'()*+,;=:@/-]*)(?:\?[A-Za-z0-9._~!$&'()*+,;=:@/?-]+)?")
_DOTTED_QUAD = re.compile(r"(?:(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])\.){3}"
                          r"(?:25[0-5]|2[0-4][0-9]|1[0-9][0-9]|[1-9]?[0-9])")
_DEFAULT_PORTS = {"http": "80", "https": "443"}


def is_plain_url(text: str) -> bool:
    """Whether ``str(httpx.URL(text)) == text``, decided without parsing (conservatively:
    False only costs the parse)."""
    match = _PLAIN_URL.fullmatch(text)
    # Dot segments ("/./", "/../") are normalised away.
    return match is not None and "/." not in match["path"] and _plain_origin(match["origin"])


@lru_cache(maxsize=64)
def _plain_origin(origin: str) -> bool:
    scheme, _, authority = origin.partition("://")
    host, _, port = authority.partition(":")
    if port and (int(port) > 65535 or port == _DEFAULT_PORTS[scheme] or port[0] == "0"):
        return False  # httpx drops a default port and refuses an impossible one
    # httpx checks a dotted host that looks like IPv4; keep only real addresses.
    return host.strip("0123456789.") != "" or _DOTTED_QUAD.fullmatch(host) is not None


class LazyRequest(httpx.Request):
    """An ``httpx.Request`` that is built only when something reads it.

    ``build_request`` returns one. Until then it is its parts (method, URL text, headers,
    body), which univoice's aiohttp sender sends as they are (``wire()``): building an
    ``httpx.Request`` (parsing the URL, normalising headers, wrapping the body) costs more
    than aiohttp's whole send at 50 requests in flight. Reading ``headers`` (an auth
    setting ``Authorization``) builds the headers alone, as httpx would have them (its
    ``Host`` and ``Content-Length`` included); reading anything else (``url``, ``stream``,
    ``content``, ``extensions``, ``repr``) builds the whole request: exactly the one
    ``httpx.Request(method, url, headers=..., content=...)`` would have been, with what
    was done to its headers since. httpx's clients, hooks and tests see a plain request.
    """

    def __init__(self, method: str, url: str, *, target: httpx.URL | None = None,
                 headers: dict[str, str], content: bytes | None = None) -> None:
        # Deliberately not httpx.Request.__init__: that is what _build defers.
        self.method = method.upper()
        self._parts: tuple[str, httpx.URL | None, dict[str, str], bytes | None] | None = (
            url, target, headers, content)

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute not set yet, i.e. before the request is built.
        parts = self.__dict__.get("_parts")
        if parts is None or name.startswith("__"):
            raise AttributeError(name)
        if name == "headers":
            headers = self.headers = httpx.Headers(self._httpx_headers(*parts))
            return headers
        self._build()
        return getattr(self, name)

    def _httpx_headers(self, url: str, target: httpx.URL | None, sent: dict[str, str],
                       content: bytes | None) -> list[tuple[str, str]]:
        """The headers httpx.Request.__init__ gives a request of these parts, in its
        order: Host and an empty body's Content-Length first, the body's last."""
        given = {name.lower() for name in sent}
        first = []
        if "host" not in given:
            first.append(("Host", url.split("/", 3)[2] if target is None
                          else target.netloc.decode("ascii")))
        last = []
        sized = "content-length" in given or "transfer-encoding" in given
        if content and "content-length" not in given:
            last.append(("Content-Length", str(len(content))))
            sized = True
        if not sized and self.method in ("POST", "PUT", "PATCH"):
            first.append(("Content-Length", "0"))
        return [*first, *sent.items(), *last]

    def _build(self) -> None:
        parts = self.__dict__.pop("_parts", None)
        if parts is None:
            return
        url, target, headers, content = parts
        httpx.Request.__init__(self, self.method, target if target is not None else _url(url),
                               headers=self.__dict__.get("headers", headers),
                               content=content)

    @property
    def built(self) -> bool:
        return "_parts" not in self.__dict__

    def wire(self) -> tuple[str, str, Mapping[str, str] | list[tuple[str, str]], bytes | None]:
        """What to send: method, URL text, headers and body, without building the request
        (the sending client adds Host and Content-Length where the headers have none)."""
        parts = self.__dict__.get("_parts")
        if parts is None:
            return (self.method, str(self.url), self.headers.multi_items(),
                    self.content or None)
        headers = self.__dict__.get("headers")
        return (self.method, parts[0], parts[2] if headers is None else headers.multi_items(),
                parts[3])

    def __getstate__(self) -> dict[str, Any]:
        self._build()
        return super().__getstate__()


def build_request(method: str, url: str, *, json: Any = None,
                  params: Mapping[str, Any] | None = None,
                  headers: Mapping[str, str] | None = None) -> httpx.Request:
    """An ``httpx.Request`` built the cheap way: JSON encoded compactly once, the URL
    parsed once per distinct URL (httpx parses every string it is given), or not at all
    when it is plain (see ``is_plain_url``), and nothing else built until read (see
    ``LazyRequest``)."""
    sent = dict(headers) if headers else {}
    content = None
    if json is not None:
        content = jsonlib.dumps(json, separators=(",", ":"), ensure_ascii=False).encode()
        sent.setdefault("content-type", "application/json")
    if params or not is_plain_url(url):
        target = _url(url)
        if params:
            target = target.copy_merge_params(
                {k: v for k, v in params.items() if v is not None})
        return LazyRequest(method, str(target), target=target, headers=sent, content=content)
    return LazyRequest(method, url, headers=sent, content=content)


# A surrogate escape or its UTF-8 bytes; NUL: a UTF-16/32 body, which hides both.
_SURROGATE = re.compile(rb"\\u[dD][89a-fA-F]|\xed[\xa0-\xbf]|\x00")


def has_lone_surrogate(response: httpx.Response, data: Any = None) -> bool:
    """Whether the JSON answer holds a lone surrogate (an escape "\\ud800", or its bytes,
    which the JSON decoder lets through): it decodes, but no model holding it can be
    written out again (JSON, a URL), so parsers refuse it, as the webhook decoder does.
    Searched for in the bytes first: almost never there."""
    if not _SURROGATE.search(response.content):
        return False
    try:
        loaded = response.json() if data is None else data
        jsonlib.dumps(loaded, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        return True
    except (ValueError, UnicodeDecodeError, RecursionError):
        return False  # not JSON at all: the parser says so
    return False


def json_body(response: httpx.Response, provider: str, operation: str) -> Any:
    """The response's JSON, or a ``ProviderError`` that keeps the raw body."""
    try:
        data = response.json()
        if has_lone_surrogate(response, data):
            raise UnicodeEncodeError("utf-8", "", 0, 1, "lone surrogate")
        return data
    except RecursionError:  # nested thousands of levels deep
        raise malformed(response, provider, operation, "the JSON is nested too deeply"
                        ) from None
    except UnicodeEncodeError:
        raise malformed(response, provider, operation,
                        "the body has a lone surrogate escape (not Unicode)") from None
    except (jsonlib.JSONDecodeError, UnicodeDecodeError):
        raise malformed(response, provider, operation, "the body is not JSON") from None


def malformed(response: httpx.Response, provider: str, operation: str, why: str
              ) -> ProviderError:
    body = response.text[:2000] if response.content else ""
    return ProviderError(f"unexpected response: {why}", provider=provider, operation=operation,
                         status=response.status_code, raw=body)
