"""``VoiceApp``: the one place every provider's callbacks arrive.

For each callback, in this order and nothing before the previous step passed: find the
provider, bound the body, check its content type, verify it the provider's way (401),
parse it (400 with a one-line reason), then for each event claim it in the store (a
redelivery is acknowledged but not handled again, across processes and restarts), run
the handlers, and record it done or failed (failed events wait for ``events replay``).
A store that cannot be reached answers 503, so the provider delivers again later.

The answer is a 2xx only once every event of the callback has been handled here or is
recorded done or failed. A redelivery that finds another delivery of the same event still
in progress waits for its outcome (``IN_PROGRESS_WAIT``), and takes the event over when
that claim's lease (``event_lease``) runs out (its process died); still in progress, it
answers 503, as acknowledging it then would lose the event if the other never finishes.
An event is handled twice only if its process dies, or the store stays down for longer
than ``FINISH_RETRY``, between the handlers' effect and the "done" record.

A push-only provider (Bird) is not answered with its next document: the app sends it to
the call by REST (``Document.push``), once per push key across redeliveries and processes,
before the events are handled; a push the provider refuses or that cannot be sent answers
503, so the callback comes again and the push is retried.

    voice_app = VoiceApp(public_url="https://voice.example.com", store="sqlite:///v.db")

    @voice_app.on(DigitsGathered)
    async def chosen(event: DigitsGathered) -> None: ...

    starlette_or_fastapi_app.mount("/", voice_app)     # or: uvicorn module:voice_app
"""

from __future__ import annotations

import inspect
import logging
import math
import time
from collections.abc import Callable, Iterable, Mapping
from functools import partial
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import parse_qsl

import anyio
from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import JSONResponse, Response
from starlette.routing import Mount, Route
from starlette.types import ASGIApp, Receive, Scope, Send

from univoice.errors import ProviderNotFound, UnivoiceError
from univoice.events import BaseEvent
from univoice.flow import Flow
from univoice.provider import Document, Provider
from univoice.store import FlowStore, StoreUnavailable, open_store
from univoice.store.base import DEFAULT_LEASE, check_lease
from univoice.webhooks.continuations import Continuations
from univoice.webhooks.request import WebhookRejected, WebhookRequest

if TYPE_CHECKING:
    import httpx

    from univoice.routing.config import RoutingConfig
    from univoice.transport import AsyncTransport, HttpSettings

log = logging.getLogger("univoice.events")
E = TypeVar("E", bound=BaseEvent)
Handler = Callable[[Any], Any]
MAX_BODY = 256 * 1024  # callbacks are small; anything larger is refused (413)
PREFIX = "/univoice"
# The flow id of ``{prefix}/{provider}/flow/inbound/start``: the flow answering the called
# number, for providers that fetch an inbound call's first document (MessageBird).
INBOUND = "inbound"
IN_PROGRESS_WAIT = 5.0  # seconds a redelivery waits for another delivery's outcome
FINISH_RETRY = 5.0  # seconds recording an outcome is retried while the store is down
STORE_RETRY_AFTER = 5  # seconds, the Retry-After of a 503 for an unreachable store


class VoiceApp:
    """An ASGI app serving ``/univoice/{provider}/events``, ``/univoice/{provider}/flow/
    {flow_id}/{node}`` and ``GET /univoice/health``."""

    def __init__(self, *, public_url: str, store: FlowStore | str = "sqlite:///univoice.db",
                 providers: Iterable[Provider] | None = None, max_body: int = MAX_BODY,
                 event_ttl: float = 7 * 86400, event_lease: float = DEFAULT_LEASE,
                 inbound: Mapping[str, Flow | Callable[[], Flow]] | None = None,
                 default_flow: Flow | Callable[[], Flow] | None = None,
                 http: HttpSettings | None = None,
                 http_client: httpx.AsyncClient | None = None,
                 routing: RoutingConfig | None = None) -> None:
        """``inbound`` maps a called number to the flow (or a function making it) that
        answers an inbound call to it; ``default_flow`` answers every other number.
        ``event_lease``: seconds a claim on an event lasts while its handlers run; a
        redelivery takes the event over after it (the process handling it died), so it
        should exceed the longest handler and stay under the provider's retry span.
        ``http`` / ``http_client`` tune the REST requests the app makes itself (pushing a
        call's next flow to Bird), as for ``AsyncVoice``. ``routing``: the providers whose
        circuit breakers (kept in ``store``) ``GET /univoice/health`` reports."""
        self.public_url = public_url.rstrip("/")
        self._inbound = dict(inbound or {})
        self._default_flow = default_flow
        self.store = open_store(store, ttl=event_ttl) if isinstance(store, str) else store
        self.event_lease = check_lease(event_lease)
        self._providers = {p.name: p for p in providers or ()}
        self._stored: set[str] = set()  # inbound flows already in the store
        self.max_body = max_body
        self._handlers: list[tuple[tuple[type[BaseEvent], ...], Handler]] = []
        self._http, self._http_client = http, http_client
        self.routing = routing
        self._rest: dict[str, AsyncTransport] = {}
        self._app = Starlette(routes=[
            Route(f"{PREFIX}/health", self._health, methods=["GET"]),
            Route(f"{PREFIX}/{{provider}}/events", self._events, methods=["POST"]),
            Route(f"{PREFIX}/{{provider}}/flow/{{flow_id}}/{{node}}", self._continue,
                  methods=["GET", "POST"]),
        ])

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        await self._app(scope, receive, send)

    def mount(self, path: str, app: ASGIApp) -> None:
        """Serve ``app`` under ``path``, ahead of the webhook routes (``univoice serve``
        mounts the console there: ``univoice.console``)."""
        self._app.router.routes.insert(0, Mount(path, app=app))

    async def aclose(self) -> None:
        """Close the REST clients the app opened for pushes (not a client passed in)."""
        transports, self._rest = list(self._rest.values()), {}
        for transport in transports:
            await transport.aclose()

    # Handlers -----------------------------------------------------------------------

    def on(self, *types: type[E]) -> Callable[[Callable[[E], Any]], Callable[[E], Any]]:
        """Register a handler (sync or async) for events of ``types`` (all if none)."""
        wanted: tuple[type[BaseEvent], ...] = types or (BaseEvent,)

        def register(fn: Callable[[E], Any]) -> Callable[[E], Any]:
            self._handlers.append((wanted, fn))
            return fn

        return register

    async def dispatch(self, event: BaseEvent) -> None:
        """Run every matching handler; the first exception propagates (event = failed)."""
        for wanted, fn in self._handlers:
            if isinstance(event, wanted):
                if inspect.iscoroutinefunction(fn):
                    await fn(event)
                else:
                    result = await to_thread.run_sync(fn, event)
                    if inspect.isawaitable(result):
                        await result

    # Providers ----------------------------------------------------------------------

    def provider(self, name: str) -> Provider:
        if name not in self._providers:
            from univoice.plugins import get_provider

            self._providers[name] = get_provider(name)  # ProviderNotFound if not installed
        return self._providers[name]

    def continuations(self, provider: str) -> Continuations:
        return Continuations(self.store, self.public_url, provider, PREFIX, self.inbound_flow)

    def inbound_flow(self, number: str | None) -> Flow | None:
        found = self._inbound.get(number or "", self._default_flow)
        return found() if callable(found) else found

    # Routes -------------------------------------------------------------------------

    async def _health(self, request: Request) -> Response:
        try:
            state = await to_thread.run_sync(self.store.health)
        except StoreUnavailable as exc:
            return JSONResponse({"ok": False, "store": str(exc)}, status_code=503)
        ok = bool(state.get("reachable", True))
        body: dict[str, Any] = {"ok": ok, "store": state}
        if ok and self.routing is not None:
            # Reported, not judged: a provider's open circuit leaves the app able to take
            # every callback, so the app stays healthy.
            body["providers"] = await to_thread.run_sync(self._breakers)
        return JSONResponse(body, status_code=200 if ok else 503)

    def _breakers(self) -> dict[str, Any]:
        from univoice.routing.breaker import Breakers

        assert self.routing is not None
        try:
            return Breakers(self.store, self.routing.breaker).states(self.routing.members())
        except StoreUnavailable as exc:
            return {"error": str(exc)}

    async def _events(self, request: Request) -> Response:
        try:
            provider = self.provider(request.path_params["provider"])
            hook = await self._read(request, provider)
            provider.verify_webhook(hook)
            events = provider.parse_events(hook)
            # The answer first: a callback the provider refuses (no flow for an inbound
            # number: 404) reaches no handler, and the provider may deliver it again.
            context = self.continuations(provider.name)
            if provider.responds_from_store:
                document = await to_thread.run_sync(provider.respond_to_callback, hook,
                                                    events, context)
            else:
                document = provider.respond_to_callback(hook, events, context)
            if document is not None and document.push is not None:
                await self._push(provider, document, context)
                document = None
            counts = await self._handle(provider.name, events)
        except WebhookRejected as exc:
            log.warning("rejected %s callback: %s", request.path_params["provider"], exc)
            return _refusal(exc.status, exc.reason)
        except ProviderNotFound as exc:
            return _refusal(404, str(exc))
        except StoreUnavailable as exc:
            log.error("store unavailable: %s", exc)
            return _refusal(503, "the event store is unavailable; deliver again later",
                            retry_after=STORE_RETRY_AFTER)
        except _InProgress as exc:
            return _refusal(503, str(exc), retry_after=math.ceil(self.event_lease))
        except _PushFailed as exc:
            return _refusal(503, str(exc))
        if document is not None:
            return _document(document)
        return JSONResponse(counts)

    async def _continue(self, request: Request) -> Response:
        name = request.path_params["provider"]
        try:
            provider = self.provider(name)
            hook = await self._read(request, provider, body_optional=True)
            provider.verify_webhook(hook)
            # A provider that fetches its next document with a callback (Bandwidth's gather,
            # answer, redirect) tells us what happened: those events are handled (once)
            # like any other, and the document is rendered the same on a redelivery.
            events = provider.parse_events(hook) if hook.body or hook.query else []
            context = self.continuations(provider.name)
            flow_id, node = request.path_params["flow_id"], request.path_params["node"]
            if flow_id == INBOUND:  # a provider pulling the first document of an inbound call
                flow_id = await to_thread.run_sync(self._inbound_id, provider, hook, context)
            flow = await to_thread.run_sync(context.load_flow, flow_id)
            if flow is None:
                return _refusal(404, f"no flow {flow_id!r} (unknown or expired)")
            document = await to_thread.run_sync(
                provider.render_continuation, flow, flow_id, node, hook, events, context)
            if document is not None and document.push is not None:
                await self._push(provider, document, context)
                document = None
            # Handled once the document is known: a refused continuation reaches no handler.
            counts = await self._handle(provider.name, events)
        except WebhookRejected as exc:
            return _refusal(exc.status, exc.reason)
        except ProviderNotFound as exc:
            return _refusal(404, str(exc))
        except StoreUnavailable:
            return _refusal(503, "the flow store is unavailable; try again later",
                            retry_after=STORE_RETRY_AFTER)
        except _InProgress as exc:
            return _refusal(503, str(exc), retry_after=math.ceil(self.event_lease))
        except _PushFailed as exc:
            return _refusal(503, str(exc))
        return JSONResponse(counts) if document is None else _document(document)

    async def _push(self, provider: Provider, document: Document,
                    context: Continuations) -> None:
        """Send ``document`` to its call once (see the module's docstring)."""
        push = document.push
        assert push is not None
        key = f"{provider.name}:push:{push.key}"
        if not await self._claim(key, provider.name, {"call_id": push.call_id},
                                 take_failed=True):
            return  # made already
        try:
            await self._rest_for(provider).run(provider.push_document(push.call_id, document))
        except UnivoiceError as exc:
            reason = f"{type(exc).__name__}: {exc}"
            log.error("push to %s call %s failed: %s", provider.name, push.call_id, reason)
            await self.store.afinish_event(key, error=reason)
            raise _PushFailed(f"the call's next flow could not be sent ({reason}); "
                              "deliver again later") from None
        await to_thread.run_sync(context.update_call_state, push.call_id,
                                 lambda state: {**state, **push.state})
        await self.store.afinish_event(key)

    def _rest_for(self, provider: Provider) -> AsyncTransport:
        transport = self._rest.get(provider.name)
        if transport is None:
            from univoice.transport import AsyncTransport

            transport = self._rest[provider.name] = AsyncTransport(
                provider, self._http, client=self._http_client)
        return transport

    def _inbound_id(self, provider: Provider, hook: WebhookRequest,
                    context: Continuations) -> str:
        """Store the flow answering the called number (once per content) and name it."""
        from univoice.hosting import flow_id

        number = provider.called_number(hook)
        flow = self.inbound_flow(number)
        if flow is None:
            raise WebhookRejected(404, f"no flow answers calls to {number}")
        stored = flow_id(flow)
        if stored not in self._stored:
            context.save_flow(flow, stored)
            self._stored.add(stored)
        return stored

    async def _read(self, request: Request, provider: Provider, *,
                    body_optional: bool = False) -> WebhookRequest:
        declared = request.headers.get("content-length")
        if declared is not None and declared.isascii() and declared.isdigit() and (
                len(declared) > 12 or int(declared) > self.max_body):
            raise WebhookRejected(413, f"body larger than {self.max_body} bytes")
        body = b""
        async for chunk in request.stream():
            body += chunk
            if len(body) > self.max_body:
                raise WebhookRejected(413, f"body larger than {self.max_body} bytes")
        # Straight from the ASGI scope (names already lower-case): cheaper than the
        # framework's URL and header objects, on every callback.
        scope = request.scope
        headers = {k.decode("latin-1"): v.decode("latin-1") for k, v in scope["headers"]}
        kind = headers.get("content-type", "").split(";")[0].strip().lower()
        if body and kind not in provider.webhook_content_types:
            raise WebhookRejected(415, f"content type {kind or 'none'!r} is not one of "
                                       f"{', '.join(provider.webhook_content_types)}")
        if not body and not body_optional:
            raise WebhookRejected(400, "empty body")
        path: str = scope["path"]
        # Signatures cover the URL as sent, percent-encoding included (the node paths of
        # continuation URLs are encoded); scope["path"] is decoded.
        raw = scope.get("raw_path")
        sent = raw.decode("latin-1") if raw else path
        query = scope.get("query_string", b"").decode("latin-1")
        return WebhookRequest(
            method=request.method, url=f"{self.public_url}{sent}{'?' + query if query else ''}",
            path=path, query=dict(parse_qsl(query)) if query else {}, headers=headers,
            body=body)

    async def _handle(self, provider: str, events: list[BaseEvent]) -> dict[str, int]:
        counts = {"received": len(events), "handled": 0, "duplicates": 0, "failed": 0}
        for event in events:
            key = f"{provider}:{event.id}"
            data = event.model_dump(mode="json", by_alias=True)
            if not await self._claim(key, provider, data):
                counts["duplicates"] += 1
                log.info("%s %s call=%s id=%s duplicate", provider, event.type, event.call_id,
                         event.id)
                continue
            error: str | None = None
            try:
                await self.dispatch(event)
            except Exception as exc:  # a user's handler: record, keep going
                error = f"{type(exc).__name__}: {exc}"
                log.exception("handler failed for %s %s", provider, event.type)
            await self._finish(key, error)
            counts["failed" if error else "handled"] += 1
            log.info("%s %s call=%s id=%s%s", provider, event.type, event.call_id, event.id,
                     " FAILED" if error else "")
        return counts

    async def _claim(self, key: str, provider: str, data: dict[str, Any], *,
                     take_failed: bool = False) -> bool:
        """True to handle event ``key`` here; False if it is recorded done or failed
        (``take_failed``: a failed one is claimed again, as a push is retried).

        A claim held by another delivery is waited for: that delivery may yet fail to
        finish (its process dies), and then this one takes the event over once the
        claim's lease runs out. Still held after ``IN_PROGRESS_WAIT``: ``_InProgress``.
        """
        deadline = time.monotonic() + IN_PROGRESS_WAIT
        pause = 0.01
        while True:
            if await self.store.aclaim_event(key, provider, data, lease=self.event_lease):
                return True
            stored = await to_thread.run_sync(self.store.get_event, key)
            if take_failed and stored is not None and stored.status == "failed":
                reclaim = partial(self.store.reclaim_failed, key, lease=self.event_lease)
                if await to_thread.run_sync(reclaim) is not None:
                    return True
                continue  # another delivery reclaimed it first: wait for its outcome
            if stored is not None and stored.status != "claimed":
                return False
            if time.monotonic() >= deadline:
                raise _InProgress(f"event {key} is being handled by another delivery; "
                                  "deliver again later")
            await anyio.sleep(pause)
            pause = min(pause * 2, 0.25)

    async def _finish(self, key: str, error: str | None) -> None:
        """Record the handlers' outcome, retrying while the store is down (for
        ``FINISH_RETRY``). If it stays down, a handled event is acknowledged all the same
        (a redelivery could only run it again; its record stays "claimed"), and a failed
        one answers 503, so that it comes again and is retried."""
        deadline = time.monotonic() + FINISH_RETRY
        pause = 0.05
        while True:
            try:
                await self.store.afinish_event(key, error=error)
                return
            except StoreUnavailable as exc:
                if time.monotonic() >= deadline:
                    if error is not None:
                        raise
                    log.error("event %s was handled, but the store could not record it "
                              "done: %s", key, exc)
                    return
            await anyio.sleep(pause)
            pause = min(pause * 2, 0.5)

    async def replay(self, key: str) -> bool:
        """Hand a failed event to the handlers again; True if they succeeded this time."""
        from univoice.events import event_from_json

        stored = await to_thread.run_sync(self.store.reclaim_failed, key)
        if stored is None:
            return False
        error: str | None = None
        try:
            await self.dispatch(event_from_json(stored.event))
        except Exception as exc:
            error = f"{type(exc).__name__}: {exc}"
        await self.store.afinish_event(key, error=error)
        return error is None


class _PushFailed(Exception):
    """A push the provider refused or that could not be sent: the callback gets a 503."""


class _InProgress(Exception):
    """Another delivery of the event holds its claim: the callback gets a 503."""


def _refusal(status: int, reason: str, *, retry_after: int | None = None) -> Response:
    headers = None if retry_after is None else {"retry-after": str(retry_after)}
    return JSONResponse({"error": reason}, status_code=status, headers=headers)


def _document(document: Document) -> Response:
    return Response(document.body, media_type=document.media_type)
