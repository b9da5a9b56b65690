"""How univoice authenticates to the Bandwidth Voice API: an API user's HTTP Basic
credentials (the spec's ``Basic`` scheme), or an OAuth2 client's bearer token
(client credentials grant: ``POST token_url`` with HTTP Basic ``client_id:client_secret``
and ``grant_type=client_credentials``; answer ``{access_token, token_type, expires_in}``).

No object here shows a credential: reprs name the class only, and errors carry no value.
"""

from __future__ import annotations

import base64
import re
import threading
import time
from collections.abc import AsyncGenerator, Callable, Generator
from typing import TYPE_CHECKING, Any

import httpx

from univoice.errors import (
    AuthenticationError,
    ConfigError,
    ProviderError,
    RateLimited,
    ServerError,
)
from univoice.redact import Redactor
from univoice.retry import parse_retry_after

if TYPE_CHECKING:
    from univoice_bandwidth.settings import BandwidthSettings

PROVIDER = "bandwidth"
# S105: an operation name, not a secret
TOKEN_OPERATION = "oauth2.token"  # noqa: S105
# A token is renewed this long before it expires, so no request carries one that lapses
# in flight; a short-lived token is renewed after half its life instead.
REFRESH_MARGIN = 60.0
# When the token answer gives no expires_in (RFC 6749 only recommends it).
DEFAULT_LIFETIME = 300.0
# What a bearer token may hold: visible ASCII (RFC 6750's b64token is a subset; laxer, so a
# provider's unusual but harmless characters still pass).
_TOKEN_CHARS = re.compile(r"[\x21-\x7e]+")


def _basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode("ascii")


class BasicAuth(httpx.Auth):
    """``Authorization: Basic ...`` on every request (a Bandwidth API user)."""

    __slots__ = ("_header",)

    def __init__(self, username: str, password: str) -> None:
        self._header = _basic(username, password)

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = self._header
        yield request

    def __repr__(self) -> str:
        return "<BasicAuth>"


class OAuth2ClientCredentials(httpx.Auth):
    """A bearer token from Bandwidth's OAuth2 endpoint, fetched when first needed, cached,
    renewed ``REFRESH_MARGIN`` seconds before it expires and once after a 401.

    httpx drives ``sync_auth_flow`` / ``async_auth_flow``: the token request is yielded
    through the same client (and so the same transport, proxies and cassettes) as the API
    request. univoice's aiohttp sender drives ``async_auth_flow`` the same way (its
    ``multi_step`` marker says so; see ``univoice.aiohttp_sender.drives_async_flow``), so
    an ``AsyncVoice`` fetches and renews tokens without blocking its event loop.
    ``auth_flow`` is for callers that take only the first request an auth yields: it
    fetches a missing token itself, blocking, so that first request is already authorized.

    Concurrent first requests may each fetch a token; the last one wins. Harmless: every
    token fetched is valid.
    """

    # Needs its whole flow driven (a token request, a renewal after a 401): see above.
    multi_step = True

    def __init__(self, client_id: str, client_secret: str, token_url: str, *,
                 clock: Callable[[], float] = time.monotonic,
                 transport: httpx.BaseTransport | None = None,
                 on_token: Callable[[str], None] | None = None) -> None:
        self._basic = _basic(client_id, client_secret)
        self._token_url = token_url
        self._clock = clock
        self._transport = transport  # for the blocking fetch in auth_flow (tests)
        # The Basic token too: a refusal that echoes the request's Authorization header
        # would otherwise show client_id:client_secret, base64-encoded.
        self._redactor = Redactor([client_secret, basic_token(client_id, client_secret)])
        # Told every token fetched: the provider's redaction must mask it (an API may echo
        # the bearer token in an error), and it is not a setting the transport knows of.
        self._on_token = on_token
        self._token: str | None = None
        self._renew_at = 0.0
        self._lock = threading.Lock()
        self.fetches = 0  # tokens obtained so far (observability, tests)

    def __repr__(self) -> str:
        return "<OAuth2ClientCredentials>"

    # The token --------------------------------------------------------------------------

    def _fresh(self) -> bool:
        return self._token is not None and self._clock() < self._renew_at

    def token_request(self) -> httpx.Request:
        return httpx.Request(
            "POST", self._token_url, data={"grant_type": "client_credentials"},
            headers={"Authorization": self._basic, "Accept": "application/json"})

    def accept(self, response: httpx.Response) -> None:
        """Take the token from the token endpoint's answer, or raise a typed error."""
        if response.status_code >= 400:
            raise self._refused(response)
        try:
            body = response.json()
        except ValueError:
            body = None
        token = body.get("access_token") if isinstance(body, dict) else None
        kind = body.get("token_type", "Bearer") if isinstance(body, dict) else None
        if not isinstance(token, str) or not token.strip() or (
                not isinstance(kind, str) or kind.lower() != "bearer"):
            # The body may hold a token of some other kind: it is not kept.
            raise ProviderError("the OAuth2 token answer has no bearer access_token",
                                provider=PROVIDER, operation=TOKEN_OPERATION,
                                status=response.status_code)
        if not _TOKEN_CHARS.fullmatch(token.strip()):
            # Not a header value (control characters, CR/LF, spaces, non-ASCII): sending it
            # would inject headers, and the HTTP library's refusal quotes the header as
            # bytes, a form the redactor does not know. Refused here, unseen.
            raise ProviderError("the OAuth2 token answer's access_token is not a valid "
                                "bearer token (RFC 6750: visible ASCII only)",
                                provider=PROVIDER, operation=TOKEN_OPERATION,
                                status=response.status_code)
        lifetime = body.get("expires_in") if isinstance(body, dict) else None
        seconds = (float(lifetime) if isinstance(lifetime, int | float)
                   and not isinstance(lifetime, bool) and lifetime > 0 else DEFAULT_LIFETIME)
        now = self._clock()
        if self._on_token is not None:
            self._on_token(token.strip())  # before any request carries it
        self._token = token.strip()
        self._renew_at = now + seconds - min(REFRESH_MARGIN, seconds / 2)
        self.fetches += 1

    def _refused(self, response: httpx.Response) -> ProviderError:
        try:
            body: Any = response.json()
        except ValueError:
            body = None
        code = message = None
        if isinstance(body, dict):
            code = body.get("error") if isinstance(body.get("error"), str) else None
            message = next((body[k] for k in ("error_description", "description", "message")
                            if isinstance(body.get(k), str)), None)
        status = response.status_code
        text = self._redactor.text(f"the OAuth2 token request was refused: "
                                   f"{message or code or response.reason_phrase}")
        raw = self._redactor.payload(body) if body is not None else None
        kwargs: dict[str, Any] = {"provider": PROVIDER, "operation": TOKEN_OPERATION,
                                  "status": status, "code": code and self._redactor.text(code),
                                  "raw": raw}
        if status == 429:
            return RateLimited(text, retry_after=parse_retry_after(
                response.headers.get("retry-after")), **kwargs)
        if status >= 500:
            return ServerError(text, **kwargs)
        if status in (400, 401, 403):  # invalid_client, unauthorized_client, ...
            return AuthenticationError(text, **kwargs)
        return ProviderError(text, **kwargs)

    def invalidate(self) -> None:
        self._token = None

    # Flows ------------------------------------------------------------------------------

    def _flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._fresh():
            self.accept((yield self.token_request()))
        used = self._token
        request.headers["Authorization"] = f"Bearer {used}"
        response = yield request
        if response.status_code == 401:
            # Revoked or expired early: one new token, one more try. A concurrent request
            # may already have renewed it.
            if self._token == used:
                self.invalidate()
            if not self._fresh():
                self.accept((yield self.token_request()))
            request.headers["Authorization"] = f"Bearer {self._token}"
            yield request

    def sync_auth_flow(self, request: httpx.Request
                       ) -> Generator[httpx.Request, httpx.Response, None]:
        flow = self._flow(request)
        outgoing = next(flow)
        while True:
            response = yield outgoing
            if outgoing is not request:
                response.read()  # the token answer; an API response may be a stream
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return

    async def async_auth_flow(self, request: httpx.Request
                              ) -> AsyncGenerator[httpx.Request, httpx.Response]:
        flow = self._flow(request)
        outgoing = next(flow)
        while True:
            response = yield outgoing
            if outgoing is not request:
                await response.aread()
            try:
                outgoing = flow.send(response)
            except StopIteration:
                return

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        if not self._fresh():
            self._fetch_blocking()
        request.headers["Authorization"] = f"Bearer {self._token}"
        yield request

    def _fetch_blocking(self) -> None:
        with self._lock:
            if self._fresh():
                return
            with httpx.Client(transport=self._transport, timeout=15.0) as client:
                self.accept(client.send(self.token_request()))


def basic_token(user: str, password: str) -> str:
    """The base64 ``user:password`` an HTTP Basic header carries (to redact it too)."""
    return _basic(user, password).split(" ", 1)[1]


def api_auth(settings: BandwidthSettings, *,
             on_token: Callable[[str], None] | None = None) -> httpx.Auth:
    """The auth the settings configure: OAuth2 client credentials, else an API user.
    ``on_token`` is told each OAuth2 access token fetched (for redaction).

    ``ConfigError`` (naming the settings, never their values) when there is neither.
    """
    if settings.client_id is not None and settings.client_secret is not None:
        return OAuth2ClientCredentials(settings.client_id,
                                       settings.client_secret.get_secret_value(),
                                       str(settings.token_url), on_token=on_token)
    if settings.username is not None and settings.password is not None:
        return BasicAuth(settings.username, settings.password.get_secret_value())
    raise ConfigError(
        "[bandwidth] no API credentials: set client_id and client_secret (an OAuth2 "
        "client) or username and password (an API user) in the [bandwidth] table of "
        "univoice.toml, as UNIVOICE_BANDWIDTH__CLIENT_ID / __CLIENT_SECRET (or __USERNAME / "
        "__PASSWORD), or as Voice('bandwidth', client_id=..., client_secret=...)")
