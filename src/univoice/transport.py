"""Running operations over httpx: auth, timeouts, retries, error mapping, hooks, redaction.

The decisions live once, in ``_plan``: a generator that yields what to do next (send a
request, sleep, run a reconciling lookup) and receives what happened. ``SyncTransport``
and ``AsyncTransport`` only carry those actions out, so the two clients cannot drift.
"""

from __future__ import annotations

import asyncio
import logging
import time
from collections.abc import Callable, Generator
from dataclasses import dataclass, field
from functools import cached_property
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import ValidationError

from univoice.errors import (
    AmbiguousCreate,
    AuthenticationError,
    ConnectFailed,
    InvalidRequest,
    NotFound,
    ProviderError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
    UnivoiceError,
)
from univoice.operations import Operation, has_lone_surrogate, malformed
from univoice.redact import Redactor
from univoice.retry import REFUSED_STATUSES, RETRY_STATUSES, RetryPolicy, parse_retry_after

if TYPE_CHECKING:
    from univoice.provider import Provider

T = TypeVar("T")
log = logging.getLogger("univoice.transport")
# Failures after which the request certainly never reached the provider.
_NOT_SENT = (httpx.ConnectError, httpx.ConnectTimeout, httpx.PoolTimeout)
_PARSE_ERRORS = (KeyError, IndexError, TypeError, ValueError, AttributeError, ValidationError)


def _is_read(response: httpx.Response) -> bool:
    try:
        response.content  # noqa: B018 - raises ResponseNotRead on an unread stream
    except httpx.ResponseNotRead:
        return False
    return True


def was_sent(exc: httpx.TransportError) -> bool:
    """Whether the request may have reached the provider before ``exc``.

    httpx-aiohttp maps every aiohttp connection error, a server disconnect after the
    request was sent included, to ``httpx.ConnectTimeout``; the aiohttp original (kept as
    the cause) tells a failed connect apart from a lost answer.
    """
    cause = exc.__cause__
    if cause is not None and type(cause).__module__.startswith("aiohttp"):
        names = {cls.__name__ for cls in type(cause).__mro__}
        return not names & {"ClientConnectorError", "ConnectionTimeoutError"}
    return not isinstance(exc, _NOT_SENT)


@dataclass(frozen=True)
class HttpSettings:
    timeout: float = 15.0  # seconds for each of read, write and pool
    connect_timeout: float = 5.0
    max_connections: int = 100
    max_keepalive: int = 20
    retry: RetryPolicy = field(default_factory=RetryPolicy)
    # The async client's transport: "aiohttp" (requests sent straight over an aiohttp
    # session, see univoice.aiohttp_sender, and httpx-aiohttp for streamed downloads;
    # several times the throughput of httpx's own at 50 requests in flight, see
    # bench/rest_bench.py) or "httpx" (httpx's own, no aiohttp needed).
    async_backend: str = "aiohttp"

    def httpx_timeout(self) -> httpx.Timeout:
        return httpx.Timeout(self.timeout, connect=self.connect_timeout)

    def httpx_limits(self) -> httpx.Limits:
        return httpx.Limits(max_connections=self.max_connections,
                            max_keepalive_connections=self.max_keepalive)


@dataclass
class Hooks:
    """Per-client observers; plugins observe the same through pluggy hooks."""

    request: list[Callable[[httpx.Request], None]] = field(default_factory=list)
    response: list[Callable[[httpx.Request, httpx.Response], None]] = field(
        default_factory=list)
    retry: list[Callable[[str, int, float, UnivoiceError], None]] = field(default_factory=list)


@dataclass(slots=True)  # not frozen: a frozen init costs, per request
class _Send:
    request: httpx.Request
    stream: bool


@dataclass(slots=True)
class _Sleep:
    seconds: float


@dataclass(slots=True)
class _Run:
    op: Operation[Any]


_Action = _Send | _Sleep | _Run


class _Core:
    """What both transports share: the provider, the policy, hooks, error mapping."""

    def __init__(self, provider: Provider, settings: HttpSettings, hooks: Hooks | None) -> None:
        self.provider = provider
        self.name = provider.name
        self.settings = settings
        self.hooks = hooks or Hooks()
        self.auth = provider.auth()
        self.redactor = Redactor(provider.secrets())

    @cached_property
    def _plugin_hooks(self) -> Any:
        # Loaded at the first request, not when a client is made: compiling a flow with a
        # client in hand (a serverless cold start) imports no other plugin.
        from univoice.plugins import registry

        return registry().manager.hook

    @cached_property
    def _plugins_observe(self) -> bool:
        # Whether any plugin observes traffic, decided once: looking per request costs.
        hook = self._plugin_hooks
        return bool(hook.univoice_request.get_hookimpls()
                    or hook.univoice_response.get_hookimpls())

    # Decisions ------------------------------------------------------------------------

    def plan(self, op: Operation[T]) -> Generator[_Action, Any, T]:
        attempt = 0
        while True:
            attempt += 1
            outcome = yield _Send(op.request, op.stream)
            retry_after: float | None = None
            if isinstance(outcome, httpx.Response):
                if outcome.status_code < 400:
                    unreadable: ProviderError | None = None
                    try:
                        result = self.parse(op, outcome)
                    except ProviderError as exc:
                        if not op.creates or op.reconcile is None:
                            raise
                        unreadable = exc
                    # Outside the except: an error raised there would keep the unreadable
                    # answer (a body that may echo credentials) as its hidden context.
                    if unreadable is not None:
                        # The provider accepted the create; its answer is what failed.
                        found = yield from self._reconcile(op, unreadable, settle=False)
                        if found is not None:
                            return found
                        raise AmbiguousCreate(
                            f"the provider accepted the create but its answer could not be "
                            f"read ({unreadable}) and the lookup found nothing",
                            provider=self.name, operation=op.name, tag=op.tag)
                    if op.then is None:  # the usual read: one request
                        return result
                    return (yield from self._follow(op, result))
                error: UnivoiceError = self.error_for(op, outcome)
                if outcome.status_code not in RETRY_STATUSES:
                    # A 4xx: refused, nothing done.
                    error.nothing_created = op.creates
                    raise error
                if outcome.status_code in (429, 503):
                    retry_after = parse_retry_after(outcome.headers.get("retry-after"))
                ambiguous = not op.safe_to_retry and outcome.status_code not in REFUSED_STATUSES
                answered = True
            else:
                sent = was_sent(outcome)
                error = self.transport_error(op, outcome, sent)
                ambiguous = not op.safe_to_retry and sent
                answered = False
            if ambiguous:
                # A provider that answered has finished with the request, so one lookup
                # decides; one that did not answer may still be working on it.
                found = yield from self._reconcile(op, error, settle=not answered)
                if found is not None:
                    return found
            delay = self.settings.retry.delay(attempt, retry_after)
            if delay is None:
                if isinstance(error, RateLimited) and retry_after is not None:
                    error.retry_after = retry_after
                # Refused, never sent, or (ambiguous) looked up and not found; a create
                # the provider de-duplicates by key may have happened on an earlier try.
                error.nothing_created = op.creates and not op.safe_to_retry
                raise error
            self.on_retry(op, attempt, delay, error)
            yield _Sleep(delay)

    def _follow(self, op: Operation[T], result: T) -> Generator[_Action, Any, T]:
        """The rest of a read that takes several requests (``Operation.then``): each next
        operation runs as one of its own (its retries included); the last result counts."""
        nxt = op.then(result) if op.then is not None else None
        if nxt is None:
            return result
        followed: T = yield _Run(nxt)
        return followed

    def _reconcile(self, op: Operation[T], error: UnivoiceError, *, settle: bool
                   ) -> Generator[_Action, Any, T | None]:
        """After an ambiguous create: find what it made, or show it made nothing.

        With ``settle``, an empty lookup is repeated once after the policy's settle
        window, for a provider that may still be creating the call whose answer was lost.
        """
        tag = op.tag
        if op.reconcile is None:
            raise AmbiguousCreate(
                f"the create may have happened ({error}); this provider offers no way to "
                "look it up, so it was not repeated", provider=self.name, operation=op.name,
                tag=tag) from None
        window = self.settings.retry.settle if settle else 0.0
        failed: UnivoiceError | None = None
        found: T | None = None
        try:
            found = yield _Run(op.reconcile())
            if found is None and window > 0:
                yield _Sleep(window)
                found = yield _Run(op.reconcile())
        except UnivoiceError as lookup_error:
            failed = lookup_error
        if failed is not None:  # raised outside the except: no hidden context (see _plan)
            raise AmbiguousCreate(
                f"the create may have happened ({error}) and looking it up failed "
                f"({failed}); it was not repeated", provider=self.name,
                operation=op.name, tag=tag)
        return found

    def parse(self, op: Operation[T], response: httpx.Response) -> T:
        if op.stream:
            return response  # type: ignore[return-value]  # the caller streams the body
        try:
            if has_lone_surrogate(response):
                raise malformed(response, self.name, op.name,
                                "the body has a lone surrogate escape (not Unicode)")
            result = op.parse(response)
            if self._echoes_secret(response):
                result = self._scrubbed(result)
            return result
        except ProviderError as exc:
            error = exc
        except ValidationError as exc:
            # Without the input values: they are response data, possibly secret.
            error = malformed(response, self.name, op.name, "; ".join(
                f"{'.'.join(str(p) for p in e['loc'])}: {e['msg']}"
                for e in exc.errors(include_input=False, include_url=False)))
        except _PARSE_ERRORS as exc:
            error = malformed(response, self.name, op.name, f"{type(exc).__name__}: {exc}")
        # Raised outside the handler, so the parser's exception (whose repr may quote the
        # response) is not chained to it.
        raise self._redacted(error)

    def _echoes_secret(self, response: httpx.Response) -> bool:
        """Whether a secret appears in the answer (a cheap byte search: almost never)."""
        body = response.content
        return any(secret.encode() in body for secret in self.redactor.secrets())

    def _scrubbed(self, result: Any) -> Any:
        """``result`` with the ``raw`` payloads it carries masked (a Resource, a Page)."""
        from univoice.models import Page, Resource

        if isinstance(result, Page):
            return result.model_copy(update={"items": [self._scrubbed(i) for i in
                                                       result.items]})
        if isinstance(result, Resource) and getattr(result, "raw", None) is not None:
            return result.model_copy(update={"raw": self.redactor.payload(result.raw)})
        return result

    def error_for(self, op: Operation[Any], response: httpx.Response) -> ProviderError:
        message, code, request_id = self.provider.error_details(response)
        status = response.status_code
        cls: type[ProviderError] = ProviderError
        if status in (401, 403):
            cls = AuthenticationError
        elif status == 404:
            cls = NotFound
        elif status == 429:
            cls = RateLimited
        elif status in (400, 405, 409, 413, 415, 422):
            cls = InvalidRequest
        elif status >= 500:
            cls = ServerError
        if status == 503 and "retry-after" in response.headers:
            cls = RateLimited  # overloaded, and saying when to come back
        raw: Any
        try:
            raw = self.redactor.payload(response.json())
        except (ValueError, UnicodeDecodeError, RecursionError):
            raw = self.redactor.text(response.text[:2000])
        text = self.redactor.text
        return cls(text(message or response.reason_phrase or "error"), provider=self.name,
                   operation=op.name, status=status, code=code and text(code),
                   request_id=request_id and text(request_id), raw=raw)

    def transport_error(self, op: Operation[Any], exc: httpx.TransportError, sent: bool
                        ) -> TransportError:
        what = self.redactor.text(str(exc) or type(exc).__name__)
        if not sent:
            return ConnectFailed(f"could not connect: {what}", provider=self.name,
                                 operation=op.name)
        if isinstance(exc, httpx.TimeoutException):
            return RequestTimeout(f"timed out: {what}", provider=self.name, operation=op.name,
                                  sent=True)
        return TransportError(f"connection failed: {what}", provider=self.name,
                              operation=op.name, sent=True)

    def _redacted(self, error: ProviderError) -> ProviderError:
        """The same error with every text it carries masked."""
        error.raw = self.redactor.payload(error.raw)
        error.provider_message = self.redactor.text(error.provider_message)
        error.args = tuple(self.redactor.text(str(a)) for a in error.args)
        return error

    # Observation ----------------------------------------------------------------------

    def observe_request(self, request: httpx.Request) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s", self.name, request.method,
                      self.redactor.text(str(request.url)))
        if self.hooks.request or self._plugins_observe:
            shown = self.redacted_request(request)
            for hook in self.hooks.request:
                hook(shown)
            self._plugin_hooks.univoice_request(provider=self.name, request=shown)

    def observe_response(self, request: httpx.Request, response: httpx.Response) -> None:
        if log.isEnabledFor(logging.DEBUG):
            log.debug("%s %s %s -> %s", self.name, request.method,
                      self.redactor.text(str(request.url)), response.status_code)
        if self.hooks.response or self._plugins_observe:
            shown = self.redacted_request(request)
            # A copy whose .request is the redacted one: the original carries credentials.
            copy = httpx.Response(response.status_code, headers=response.headers,
                                  request=shown, extensions=response.extensions,
                                  content=response.content if _is_read(response) else None)
            for hook in self.hooks.response:
                hook(shown, copy)
            self._plugin_hooks.univoice_response(provider=self.name, request=shown,
                                                 response=copy)

    def on_retry(self, op: Operation[Any], attempt: int, delay: float,
                 error: UnivoiceError) -> None:
        # Error texts are built redacted (see error_for and transport_error).
        log.info("retrying %s (attempt %d failed: %s) in %.2f s", op.name, attempt, error,
                 delay)
        for hook in self.hooks.retry:
            hook(op.name, attempt, delay, error)
        self._plugin_hooks.univoice_retry(provider=self.name, operation=op.name,
                                          attempt=attempt, delay=delay, error=error)

    def redacted_request(self, request: httpx.Request) -> httpx.Request:
        return httpx.Request(request.method, self.redactor.text(str(request.url)),
                             headers=self.redactor.headers(request.headers),
                             content=self.redactor.text(request.content.decode("utf-8", "replace"))
                             if request.content else None)


def default_async_transport(settings: HttpSettings) -> httpx.AsyncBaseTransport | None:
    """httpx over aiohttp when asked for and installed; None means httpx's own."""
    if settings.async_backend != "aiohttp":
        return None
    try:
        from httpx_aiohttp import AiohttpTransport
    except ImportError:
        return None
    return AiohttpTransport(limits=settings.httpx_limits())


class SyncTransport:
    def __init__(self, provider: Provider, settings: HttpSettings | None = None, *,
                 client: httpx.Client | None = None, hooks: Hooks | None = None,
                 sleep: Callable[[float], None] = time.sleep) -> None:
        self.core = _Core(provider, settings or HttpSettings(), hooks)
        self._owns_client = client is None
        self.client = client or httpx.Client(
            timeout=self.core.settings.httpx_timeout(), limits=self.core.settings.httpx_limits(),
            transport=provider.http_transport())
        self._sleep = sleep

    def run(self, op: Operation[T]) -> T:
        plan = self.core.plan(op)
        action = next(plan)
        try:
            while True:
                if isinstance(action, _Send):
                    action = plan.send(self._send(action))
                elif isinstance(action, _Sleep):
                    self._sleep(action.seconds)
                    action = plan.send(None)
                else:
                    failed: UnivoiceError | None = None
                    try:
                        result = self.run(action.op)
                    except UnivoiceError as exc:
                        failed = exc
                    # Thrown in outside the except: what the plan raises then carries no
                    # hidden context (an answer that may echo credentials).
                    action = plan.send(result) if failed is None else plan.throw(failed)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    def _send(self, action: _Send) -> httpx.Response | httpx.TransportError:
        self.core.observe_request(action.request)
        try:
            response = self.client.send(action.request, auth=self.core.auth,
                                        stream=action.stream)
        except httpx.TransportError as exc:
            return exc
        if action.stream and response.status_code >= 400:
            response.read()
        self.core.observe_response(action.request, response)
        return response

    def close(self) -> None:
        if self._owns_client:
            self.client.close()


class AsyncTransport:
    def __init__(self, provider: Provider, settings: HttpSettings | None = None, *,
                 client: httpx.AsyncClient | None = None, hooks: Hooks | None = None,
                 sleep: Callable[[float], Any] = asyncio.sleep) -> None:
        self.core = _Core(provider, settings or HttpSettings(), hooks)
        self._owns_client = client is None
        own_transport = provider.async_http_transport()
        self.client = client or httpx.AsyncClient(
            timeout=self.core.settings.httpx_timeout(), limits=self.core.settings.httpx_limits(),
            transport=own_transport or default_async_transport(self.core.settings))
        # Straight over aiohttp where nothing asks for httpx's client (see aiohttp_sender).
        self._direct = None
        if client is None and own_transport is None and (
                self.core.settings.async_backend == "aiohttp"):
            try:
                from univoice.aiohttp_sender import AiohttpSender
            except ImportError:  # aiohttp missing: httpx's client serves
                pass
            else:
                self._direct = AiohttpSender(self.core.settings)
        self._sleep = sleep

    async def run(self, op: Operation[T]) -> T:
        plan = self.core.plan(op)
        action = next(plan)
        try:
            while True:
                if isinstance(action, _Send):
                    action = plan.send(await self._send(action))
                elif isinstance(action, _Sleep):
                    await self._sleep(action.seconds)
                    action = plan.send(None)
                else:
                    failed = None
                    try:
                        result = await self.run(action.op)
                    except UnivoiceError as exc:
                        failed = exc
                    action = plan.send(result) if failed is None else plan.throw(failed)
        except StopIteration as done:
            return done.value  # type: ignore[no-any-return]

    async def _send(self, action: _Send) -> httpx.Response | httpx.TransportError:
        self.core.observe_request(action.request)
        try:
            if self._direct is not None and not action.stream:
                response = await self._direct.send(action.request, self.core.auth)
            else:
                response = await self.client.send(action.request, auth=self.core.auth,
                                                  stream=action.stream)
        except httpx.TransportError as exc:
            return exc
        if action.stream and response.status_code >= 400:
            await response.aread()
        self.core.observe_response(action.request, response)
        return response

    async def aclose(self) -> None:
        if self._direct is not None:
            await self._direct.aclose()
        if self._owns_client:
            await self.client.aclose()
