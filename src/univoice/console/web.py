"""The console's routes (a Starlette app, mounted under ``/univoice/console``).

    GET  /                         the flows
    GET  /flows/{key}              a flow: diagram, simulator keypad, native documents
    GET  /flows/{key}/diagram.svg  the diagram, marked for ?provider=
    GET  /api/flows/{key}/documents?provider=&path=   JSON: first document, one step
    POST /api/calls                JSON {flow, step_mode, answer}: a new simulated call
    POST /api/calls/{id}           JSON {action, value, step_mode}: press, wait, ...
    GET  /events                   the live list
    GET  /events/stream            server-sent events
    GET  /static/...               the console's CSS and JavaScript

Simulated calls are kept in the app's flow store (an hour), so any worker serves the next
key. POSTs take JSON only: a page elsewhere cannot send that without a CORS preflight,
which the console never answers, so another site cannot drive it with the browser's
credentials.
"""

from __future__ import annotations

import json
import re
import uuid
from dataclasses import replace
from pathlib import Path
from typing import Any

from anyio import to_thread
from starlette.applications import Starlette
from starlette.requests import Request
from starlette.responses import HTMLResponse, JSONResponse, Response, StreamingResponse
from starlette.routing import Mount, Route
from starlette.staticfiles import StaticFiles
from starlette.types import ASGIApp

from univoice.console import documents as docs
from univoice.console import pages
from univoice.console.catalog import Catalog, FlowEntry
from univoice.console.feed import Feed
from univoice.console.guard import BasicAuth
from univoice.console.session import ACTIONS, CallError, CallState, Nodes, act, run, start, view
from univoice.errors import UnivoiceError
from univoice.graph import graph_of
from univoice.graph.svg import render_svg
from univoice.redact import Redactor
from univoice.store import FlowStore, StoreUnavailable

STATIC = Path(__file__).parent / "static"
CALL_TTL = 3600.0
MAX_BODY = 4096
_CALL_ID = re.compile(r"[0-9a-f]{32}")


class _Refused(Exception):
    def __init__(self, status: int, reason: str) -> None:
        super().__init__(reason)
        self.status, self.reason = status, reason


class Console:
    def __init__(self, store: FlowStore, catalog: Catalog, providers: list[str],
                 chosen: str, redactor: Redactor) -> None:
        self.store = store
        self.catalog = catalog
        self.providers = providers
        self.chosen = chosen if chosen in providers else (providers[0] if providers else "")
        self.feed = Feed(store, redactor)
        self._nodes: dict[str, Nodes] = {}
        self._svgs: dict[tuple[str, str], str] = {}
        self._documents: dict[tuple[str, str, str], dict[str, Any]] = {}

    def routes(self) -> list[Route | Mount]:
        return [
            Route("/", self.index),
            Route("/flows/{key}", self.flow),
            Route("/flows/{key}/diagram.svg", self.diagram),
            Route("/api/flows/{key}/documents", self.documents),
            Route("/api/calls", self.new_call, methods=["POST"]),
            Route("/api/calls/{call_id}", self.call, methods=["POST"]),
            Route("/events", self.events),
            Route("/events/stream", self.stream),
            Mount("/static", StaticFiles(directory=STATIC), name="static"),
        ]

    # Pages ----------------------------------------------------------------------------

    async def index(self, request: Request) -> Response:
        return HTMLResponse(pages.index_page(_base(request), self.catalog))

    async def flow(self, request: Request) -> Response:
        entry = self._entry(request)
        if entry is None:
            return _missing("no such flow")
        svg = await to_thread.run_sync(self._svg, entry, self.chosen)
        return HTMLResponse(pages.flow_page(_base(request), entry, svg, self.providers,
                                            self.chosen))

    async def diagram(self, request: Request) -> Response:
        entry = self._entry(request)
        provider = request.query_params.get("provider", "")
        if entry is None or (provider and provider not in self.providers):
            return _missing("no such flow or provider")
        svg = await to_thread.run_sync(self._svg, entry, provider)
        return Response(svg, media_type="image/svg+xml")

    async def events(self, request: Request) -> Response:
        return HTMLResponse(pages.events_page(_base(request), self.providers))

    async def stream(self, request: Request) -> Response:
        return StreamingResponse(self.feed.stream(request.is_disconnected),
                                 media_type="text/event-stream",
                                 headers={"x-accel-buffering": "no"})

    # JSON -----------------------------------------------------------------------------

    async def documents(self, request: Request) -> Response:
        entry = self._entry(request)
        provider = request.query_params.get("provider", "")
        path = request.query_params.get("path", "")
        steps = {p for p, _ in entry.flow.walk()} if entry is not None else set()
        if entry is None or provider not in self.providers or (path and path not in steps):
            return _missing("no such flow, provider or step")
        cache = (entry.key, provider, path)
        if cache not in self._documents:
            self._documents[cache] = await to_thread.run_sync(
                docs.documents, entry.flow, docs.offline(provider), path or None)
        return JSONResponse(self._documents[cache])

    async def new_call(self, request: Request) -> Response:
        try:
            body = await _json(request)
            entry = self.catalog.get(str(body.get("flow", "")))
            if entry is None:
                raise _Refused(404, "no such flow")
            state = start(entry.flow, entry.key, uuid.uuid4().hex,
                          step_mode=body.get("step_mode") is True,
                          answer=body.get("answer") is not False)
            await to_thread.run_sync(self.store.put_state, _key(state.call_id),
                                     state.to_dict(), CALL_TTL)
            return JSONResponse(await to_thread.run_sync(self._view, entry, state))
        except _Refused as exc:
            return _refusal(exc.status, exc.reason)
        except StoreUnavailable:
            return _refusal(503, "the flow store is unavailable; try again")
        except UnivoiceError as exc:
            return _refusal(400, str(exc))

    async def call(self, request: Request) -> Response:
        call_id = request.path_params["call_id"]
        try:
            if not _CALL_ID.fullmatch(call_id):
                raise _Refused(404, "no such call")
            body = await _json(request)
            action, value = body.get("action"), body.get("value")
            if action not in ACTIONS:
                raise _Refused(400, f"action is one of {', '.join(ACTIONS)}")
            if not (value is None or isinstance(value, (str, bool))):
                raise _Refused(400, "value is a key or true/false")
            found: list[tuple[FlowEntry, CallState]] = []

            def change(current: dict[str, Any]) -> dict[str, Any]:
                if not current:
                    raise _Refused(404, "no such call (calls are kept for an hour)")
                state = CallState.from_dict(current)
                entry = self.catalog.get(state.flow)
                if entry is None:
                    raise _Refused(404, "the call's flow is no longer listed")
                if isinstance(body.get("step_mode"), bool):
                    state = replace(state, step_mode=body["step_mode"])
                state = act(entry.flow, state, str(action), value)
                found[:] = [(entry, state)]
                return state.to_dict()

            await to_thread.run_sync(self.store.update_state, _key(call_id), change,
                                     CALL_TTL)
            entry, state = found[0]
            return JSONResponse(await to_thread.run_sync(self._view, entry, state))
        except _Refused as exc:
            return _refusal(exc.status, exc.reason)
        except CallError as exc:
            return _refusal(400, str(exc))
        except StoreUnavailable:
            return _refusal(503, "the flow store is unavailable; try again")
        except UnivoiceError as exc:
            return _refusal(400, str(exc))

    # Helpers --------------------------------------------------------------------------

    def _entry(self, request: Request) -> FlowEntry | None:
        return self.catalog.get(request.path_params["key"])

    def _view(self, entry: FlowEntry, state: CallState) -> dict[str, Any]:
        nodes = self._nodes.get(entry.key)
        if nodes is None:
            nodes = self._nodes[entry.key] = Nodes(entry.graph)
        return view(entry.flow, nodes, state, run(entry.flow, state))

    def _svg(self, entry: FlowEntry, provider: str) -> str:
        if (entry.key, provider) not in self._svgs:
            graph = graph_of(entry.flow, docs.offline(provider) if provider else None)
            self._svgs[entry.key, provider] = render_svg(graph)
        return self._svgs[entry.key, provider]


def console_app(console: Console, username: str, password: str) -> ASGIApp:
    """The console behind its credentials (every route, the static files included)."""
    return BasicAuth(Starlette(routes=console.routes()), username, password)


def _base(request: Request) -> str:
    # Where the console is mounted (``/univoice/console``, under any outer root path).
    return str(request.scope.get("root_path", "")).rstrip("/")


def _key(call_id: str) -> str:
    return f"console:call:{call_id}"


async def _json(request: Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Refused(415, "send JSON (content-type: application/json)")
    body = b""
    async for chunk in request.stream():
        body += chunk
        if len(body) > MAX_BODY:
            raise _Refused(413, f"a request body is at most {MAX_BODY} bytes")
    try:
        data = json.loads(body or b"{}")
    except (ValueError, RecursionError):
        raise _Refused(400, "the body is not JSON") from None
    if not isinstance(data, dict):
        raise _Refused(400, "the body is a JSON object")
    return data


def _refusal(status: int, reason: str) -> Response:
    return JSONResponse({"error": reason}, status_code=status)


def _missing(reason: str) -> Response:
    return Response(f"404: {reason}\n", status_code=404, media_type="text/plain")
