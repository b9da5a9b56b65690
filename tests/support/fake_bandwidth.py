"""``FakeBandwidth``: a stateful, in-memory Bandwidth Voice API v2 for tests.

Paths, bodies, status codes and error shapes follow the official spec
(``tests/specs/bandwidth-voice.openapi.yml``) and PROVIDERS.md §1.3/§2.3/§5: every path
starts ``{base}/accounts/{accountId}``; requests need HTTP Basic (the API user) or a Bearer
token (from the OAuth2 token endpoint it also serves); errors are ``{type, description,
id}``; lists are bare JSON arrays paged with ``Link: <...>; rel="next"``; recording media
is ``audio/vnd.wave``. Use it in process or over HTTP:

    fake = FakeBandwidth(runner=simulated_runner(store))
    voice = Voice("bandwidth", ..., client=httpx.Client(transport=fake.transport()))
    LiveServer(fake.asgi())        # and api_url = f"{server.url}/api/v2" (see base_url)

Time is virtual, as in the simulator's backend: a hand-moved clock (``fake.advance``).
How a call runs is pluggable. At ``createCall`` the fake hands a ``CallSetup`` to its
``runner``, which runs the whole call at once (fetching BXML through the ``Http`` function
the fake supplies) and returns a ``CallRun``; what the REST API shows afterwards is a
function of the clock: ``queued`` at the moment of creation, ``initiated`` until the
trace's answer, ``answered``, then ``disconnected`` with the run's cause; recordings are
listed once they have ended (``processing`` for ``processing_seconds``, then ``complete``).
A REST hang-up cuts the call at that moment (what had not happened is dropped); a REST
redirect cuts it and runs the rest from the new URL.

Callbacks are sent while the runner runs, i.e. during the ``createCall`` request, stamped
with their virtual times; a later REST hang-up cannot take back those already sent.

Where the fake is stricter than Bandwidth is known to be (unknown JSON fields and query
parameters are refused with 400), it is so that a misspelt field cannot pass silently.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import json
import math
import re
import threading
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import parse_qsl, unquote, urlencode, urlsplit

import httpx

from univoice.models import EndReason
from univoice.simulator.backend import Clock, tone_wav
from univoice.simulator.engine import TRANSCRIPTION
from univoice.simulator.script import CalleeScript
from univoice.simulator.trace import Trace, TraceEvent, TraceKind

ACCOUNT_ID = "9900000"
APPLICATION_ID = "04e88489-df02-4e34-a0ee-27a91849555f"
API_URL = "https://voice.bandwidth.com/api/v2"
TOKEN_PATH = "/api/v1/oauth2/token"
USERNAME = "api-user@example.com"
PASSWORD = "api-password-0123456789"

# (method, url, callback payload, basic credentials) -> (status, body text)
Http = Callable[[str, str, dict[str, Any], tuple[str, str] | None], tuple[int, str]]

# Callbacks that expect no BXML back (PROVIDERS §4.3): Bandwidth may deliver them again.
ASYNC_EVENTS = frozenset({
    "disconnect", "dtmf", "recordingAvailable", "transcriptionAvailable",
    "transferDisconnect", "conferenceCompleted", "conferenceRecordingAvailable",
    "machineDetectionComplete"})


# The runner contract (mirrors univoice_bandwidth.interpreter) ---------------------------


@dataclass(frozen=True)
class CallSetup:
    """What createCall (or an inbound call, or a REST redirect) asked for."""

    call_id: str
    from_: str
    to: str
    answer_url: str
    account_id: str = ACCOUNT_ID
    application_id: str = "app"
    direction: str = "outbound"
    tag: str | None = None
    answer_method: str = "POST"
    disconnect_url: str | None = None
    username: str | None = None  # Basic credentials for the callbacks
    password: str | None = None
    machine_detection: dict[str, Any] | None = None
    call_timeout: float = 30.0  # createCall callTimeout: how long an unanswered call rings
    # Not in the interpreter's contract (yet; ``interpreter_runner`` passes only the fields
    # it has): the event the first document is fetched with ("answer"; "initiate" for an
    # inbound call; "redirect" after a REST redirect), and the wall-clock moment of the
    # run's 0 s, so callback times agree with the REST API's.
    first_event: str = "answer"
    epoch: datetime | None = None


@dataclass(frozen=True)
class RecordingMade:
    id: str
    call_id: str
    started_at: float  # seconds since the call started
    duration: float
    file_format: str = "wav"
    transcript: str | None = None


@dataclass
class CallRun:
    trace: Trace
    cause: str  # Bandwidth disconnectCause
    recordings: list[RecordingMade] = field(default_factory=list)
    callbacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


Runner = Callable[[CallSetup, CalleeScript, Http], CallRun]


@dataclass(frozen=True)
class Delivery:
    """One callback the fake sent (``again``: a redelivery of the one before)."""

    method: str
    url: str
    payload: dict[str, Any]
    credentials: tuple[str, str] | None
    status: int
    body: str
    again: bool = False

    @property
    def event_type(self) -> str | None:
        value = self.payload.get("eventType")
        return str(value) if value is not None else None


# Runners ------------------------------------------------------------------------------

_CAUSES = {EndReason.HANGUP: "hangup", EndReason.CALLEE_HANGUP: "hangup",
           EndReason.BUSY: "busy", EndReason.NO_ANSWER: "timeout",
           EndReason.FAILED: "error", EndReason.MACHINE: "hangup",
           EndReason.REDIRECTED: "hangup", EndReason.UNKNOWN: "unknown"}


def recordings_of(trace: Trace, call_id: str) -> list[RecordingMade]:
    """The recordings a trace made (one per ``recorded`` event), with their transcripts."""
    texts = {str(e.data["recording_id"]): str(e.data.get("text", TRANSCRIPTION))
             for e in trace.of(TraceKind.TRANSCRIBED)}
    made = []
    for event in trace.of(TraceKind.RECORDED):
        local = str(event.data["recording_id"])
        duration = float(event.data.get("duration") or 0.0)
        made.append(RecordingMade(
            id=f"r-{_uuid_like(f'{call_id}/{local}/{uuid.uuid4().hex}')}", call_id=call_id,
            started_at=round(event.at - duration, 3), duration=duration,
            transcript=texts.get(local)))
    return made


def idle_runner(setup: CallSetup, script: CalleeScript, http: Http) -> CallRun:
    """No flow at all: the callee answers (or not) as scripted, talks ``talk_seconds`` and
    hangs up. For tests of the REST surface alone."""
    from univoice.flow import Flow
    from univoice.simulator.engine import simulate

    flow = Flow.from_dict({"steps": [{"pause": max(0.1, script.talk_seconds)}]})
    trace = simulate(flow, script, from_=setup.from_, to=setup.to, call_id=setup.call_id)
    return CallRun(trace, _CAUSES[trace.end_reason])


def flow_runner(flow: Any) -> Runner:
    """Every call runs ``flow`` (a ``Flow`` or its document) on univoice's simulator,
    whatever its answer URL says. For tests of the REST surface alone."""
    from univoice.flow import Flow
    from univoice.simulator.engine import simulate

    neutral = flow if isinstance(flow, Flow) else Flow.from_dict(flow)

    def run(setup: CallSetup, script: CalleeScript, http: Http) -> CallRun:
        trace = simulate(neutral, script, from_=setup.from_, to=setup.to,
                         call_id=setup.call_id)
        return CallRun(trace, _CAUSES[trace.end_reason], recordings_of(trace, setup.call_id))

    return run


_FLOW_PATH = re.compile(r"/univoice/(?P<provider>[^/]+)/flow/(?P<flow>[^/]+)/(?P<node>[^/]+)$")


def simulated_runner(store: Any, provider: str = "bandwidth") -> Runner:
    """A stand-in for the BXML interpreter: the answer URL names a flow the client stored
    for the webhook app (``/univoice/bandwidth/flow/{id}/{node}``); this reads it from the
    same ``store`` and runs it on univoice's simulator. It sends no callbacks and fetches
    nothing, so it exercises the REST surface, not the BXML path."""
    from univoice.flow.continuation import document
    from univoice.simulator.engine import simulate
    from univoice.webhooks.continuations import Continuations

    context = Continuations(store, "", provider)

    def served(url: str) -> Any:
        match = _FLOW_PATH.search(urlsplit(url).path)
        if match is None or match["provider"] != provider:
            return None
        flow = context.load_flow(unquote(match["flow"]))
        if flow is None:
            return None
        return document(flow, unquote(match["node"]), lambda node: _node_url(url, node))

    def run(setup: CallSetup, script: CalleeScript, http: Http) -> CallRun:
        flow = served(setup.answer_url)
        if flow is None:
            raise LookupError(f"the stand-in runner can only run a stored flow's URL, not "
                              f"{setup.answer_url!r}")
        trace = simulate(flow, script, from_=setup.from_, to=setup.to, call_id=setup.call_id,
                         redirects=served)
        return CallRun(trace, _CAUSES[trace.end_reason], recordings_of(trace, setup.call_id))

    return run


def _node_url(url: str, node: str) -> str:
    return re.sub(r"/[^/]+$", f"/{node}", url.split("?")[0])


def interpreter_runner() -> Runner:
    """``univoice_bandwidth.interpreter.run_call`` (the lead's BXML interpreter) as a runner:
    the BXML path for real, every document fetched through the fake's ``Http``."""
    from univoice_bandwidth import interpreter

    known = {f.name for f in fields(interpreter.CallSetup)}

    def run(setup: CallSetup, script: CalleeScript, http: Http) -> CallRun:
        theirs = interpreter.CallSetup(**{f.name: getattr(setup, f.name) for f in fields(setup)
                                          if f.name in known})
        result = interpreter.run_call(theirs, script, http)
        return CallRun(
            trace=result.trace, cause=str(result.cause),
            recordings=[RecordingMade(
                id=r.id, call_id=r.call_id, started_at=float(r.started_at),
                duration=float(r.duration), file_format=getattr(r, "file_format", "wav"),
                transcript=getattr(r, "transcript", None)) for r in result.recordings],
            callbacks=list(result.callbacks))

    return run


def missing_pieces(*wanted: str) -> list[str]:
    """Which pieces of the Bandwidth adapter are not there yet, checked at run time so the
    tests needing them start running the moment they land: "interpreter", "compile",
    "events", "operations"."""
    import importlib.util
    import inspect

    from univoice.flow import Flow
    from univoice.plugins import get_provider
    from univoice.provider import Provider

    missing = []
    provider = get_provider("bandwidth", account_id=ACCOUNT_ID)
    for piece in wanted:
        if piece == "interpreter":
            if importlib.util.find_spec("univoice_bandwidth.interpreter") is None:
                missing.append("univoice_bandwidth.interpreter (run_call)")
        elif piece == "compile":
            try:
                provider.compile_flow(Flow.from_dict({"steps": [{"say": "Hi."}]}))
            except NotImplementedError:
                missing.append("BandwidthProvider.compile_flow")
        elif piece == "events":
            from univoice_bandwidth import events

            if "NotImplementedError" in inspect.getsource(events.parse):
                missing.append("univoice_bandwidth.events")
        elif piece == "operations" and type(provider).create_call is Provider.create_call:
            missing.append("univoice_bandwidth.operations (REST)")
    return missing


# Callback transports ------------------------------------------------------------------


class AppHttp:
    """Callbacks delivered to an in-process ASGI app (a ``VoiceApp``) through Starlette's
    TestClient: the whole path runs, without a socket."""

    def __init__(self, app: Any) -> None:
        from starlette.testclient import TestClient

        self.client = TestClient(app)

    def __call__(self, method: str, url: str, payload: dict[str, Any],
                 credentials: tuple[str, str] | None) -> tuple[int, str]:
        if method.upper() == "GET":
            response = self.client.get(url, params=_query(payload), auth=credentials)
        else:
            response = self.client.request(method.upper(), url, json=payload,
                                           auth=credentials)
        return response.status_code, response.text

    def close(self) -> None:
        self.client.close()


class NetworkHttp:
    """Callbacks over real HTTP (to a webhook app on uvicorn)."""

    def __init__(self, client: httpx.Client | None = None, timeout: float = 15.0) -> None:
        self.client = client or httpx.Client(timeout=timeout)

    def __call__(self, method: str, url: str, payload: dict[str, Any],
                 credentials: tuple[str, str] | None) -> tuple[int, str]:
        if method.upper() == "GET":
            response = self.client.get(url, params=_query(payload), auth=credentials)
        else:
            response = self.client.request(method.upper(), url, json=payload,
                                           auth=credentials)
        return response.status_code, response.text

    def close(self) -> None:
        self.client.close()


def _query(payload: Mapping[str, Any]) -> dict[str, str]:
    # GET callbacks carry the event's fields as query parameters.
    return {k: v if isinstance(v, str) else json.dumps(v) for k, v in payload.items()
            if v is not None}


# The fake -----------------------------------------------------------------------------


class _Fail(Exception):
    def __init__(self, status: int, kind: str, description: str) -> None:
        self.status, self.kind, self.description = status, kind, description


@dataclass
class _Recording:
    id: str
    call_id: str
    started: float  # seconds after the call was created
    duration: float
    file_format: str
    transcript: str | None
    transcription_id: str
    deleted: bool = False
    media_deleted: bool = False
    requested_at: float | None = None  # virtual time a transcription was asked for
    transcript_deleted: bool = False

    @property
    def ended(self) -> float:
        return self.started + self.duration


@dataclass
class _Call:
    id: str
    setup: CallSetup
    body: dict[str, Any]
    created: float  # virtual time of creation
    direction: str
    tag: str | None
    placed: bool = False  # the runner has run
    answered: float | None = None  # seconds after ``created``
    ended: float = math.inf
    cause: str | None = None
    events: list[TraceEvent] = field(default_factory=list)
    recordings: list[_Recording] = field(default_factory=list)
    callbacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)
    recording_state: str = "recording"
    parent: str | None = None  # a transfer's leg: the call that made it (parentCallId)


class FakeBandwidth:
    """An in-memory Bandwidth Voice API v2 (see the module docstring).

    ``username``/``password``: the API user (HTTP Basic); ``client_id``/``client_secret``:
    an OAuth2 client whose tokens (``TOKEN_PATH``) are accepted as Bearer credentials.
    ``callee``/``callees``: the callee script, by default and per called number.
    ``http``: how callbacks are sent (default: real HTTP). ``https_only``: refuse an
    ``answerUrl`` that is not https when callback credentials are given, as Bandwidth does
    (the e2e tests turn it off to serve the app on plain HTTP on 127.0.0.1).
    ``redeliver``: send every asynchronous callback twice (Bandwidth's at-least-once).
    """

    def __init__(self, *, runner: Runner | None = None, http: Http | None = None,
                 account_id: str = ACCOUNT_ID, application_id: str | None = APPLICATION_ID,
                 username: str | None = USERNAME, password: str | None = PASSWORD,
                 client_id: str | None = None, client_secret: str | None = None,
                 base_url: str = API_URL, clock: Clock | None = None,
                 callee: CalleeScript | None = None,
                 callees: Mapping[str, CalleeScript] | None = None,
                 processing_seconds: float = 2.0, transcription_seconds: float = 3.0,
                 https_only: bool = True, redeliver: bool = False) -> None:
        self.runner: Runner = runner or idle_runner
        self.http = http
        self.account_id = account_id
        self.application_id = application_id
        self.username, self.password = username, password
        self.client_id, self.client_secret = client_id, client_secret
        self.base_url = base_url.rstrip("/")
        # A hand-moved clock: nothing happens until a test advances it.
        self.clock = clock or Clock(speed=1.0, now=lambda: 0.0)
        self.callee = callee or CalleeScript()
        self.callees = dict(callees or {})
        self.processing_seconds = processing_seconds
        self.transcription_seconds = transcription_seconds
        self.https_only = https_only
        self.redeliver = redeliver
        self.calls: dict[str, _Call] = {}
        self.requests: list[httpx.Request] = []
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []
        self.deliveries: list[Delivery] = []
        self.tokens: set[str] = set()
        self.members: dict[tuple[str, str], dict[str, Any]] = {}
        self.conference_ids: dict[str, str] = {}  # name -> the id its callbacks used
        self._lock = threading.RLock()

    # Driving it --------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def now(self) -> float:
        return self.clock()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def asgi(self) -> Any:
        """A Starlette app serving the fake (for uvicorn); handlers run in worker threads
        because a create runs the whole call, callbacks included."""
        from anyio import to_thread
        from starlette.applications import Starlette
        from starlette.requests import Request
        from starlette.responses import Response
        from starlette.routing import Route

        async def endpoint(request: Request) -> Response:
            body = await request.body()
            outgoing = httpx.Request(request.method, str(request.url),
                                     headers=list(request.headers.items()), content=body)
            answer = await to_thread.run_sync(self.handle, outgoing)
            headers = {k: v for k, v in answer.headers.items()
                       if k.lower() not in ("content-length", "content-encoding")}
            return Response(answer.content, status_code=answer.status_code, headers=headers)

        return Starlette(routes=[Route("/{path:path}", endpoint,
                                       methods=["GET", "POST", "PUT", "DELETE", "PATCH"])])

    def inbound(self, from_: str, to: str, url: str, *, username: str | None = None,
                password: str | None = None, tag: str | None = None,
                disconnect_url: str | None = "") -> str:
        """An inbound call to ``to``: the application's call-initiated ``url`` gets the
        ``initiate`` callback (with these credentials) and its BXML runs; its status URL
        ``disconnect_url`` (default: ``url``; None: none) gets the ``disconnect``.
        Returns the call's id."""
        with self._lock:
            call_id, now = _call_id(), self.now()
            setup = CallSetup(
                call_id=call_id, from_=from_, to=to, answer_url=url, epoch=self.clock.at(now),
                account_id=self.account_id, application_id=self.application_id or "app",
                direction="inbound", tag=tag, username=username, password=password,
                disconnect_url=url if disconnect_url == "" else disconnect_url,
                first_event="initiate")
            call = _Call(call_id, setup, {}, now, "inbound", tag)
            self.calls[call_id] = call
        self._place(call, setup, self.callees.get(to, self.callee), offset=0.0)
        return call_id

    def trace_events(self, call_id: str) -> list[TraceEvent]:
        """What the call did up to now (times relative to its creation)."""
        with self._lock:
            call = self.calls[call_id]
            t = self.now() - call.created
            return [e for e in call.events if e.at <= t]

    # Dispatch ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
        try:
            response = self._dispatch(request)
        except _Fail as fail:
            response = _error(fail.status, fail.kind, fail.description)
        with self._lock:
            self.exchanges.append((request, response))
        return response

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        path = request.url.path
        if path == TOKEN_PATH:
            return self._token(request)
        base = urlsplit(self.base_url).path.rstrip("/")
        match = re.fullmatch(re.escape(base) + r"/accounts/([^/]+)(/.*)?", path)
        if match is None:
            raise _Fail(404, "validation", f"Path {path} not found")
        if not self._authorized(request):
            raise _Fail(401, "authentication-error", "The credentials provided were invalid")
        account, rest = match.group(1), match.group(2) or ""
        if account != self.account_id:
            raise _Fail(401, "authentication-error",
                        f"The credentials provided have no access to account {account}")
        allowed = []
        for method, pattern, handler in _ROUTES:
            found = pattern.fullmatch(rest)
            if found is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            return handler(self, request, *(unquote(g) for g in found.groups()))
        if allowed:
            raise _Fail(405, "validation", f"Request method '{request.method}' not supported")
        raise _Fail(404, "validation", f"Path {path} not found")

    def _authorized(self, request: httpx.Request) -> bool:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        if scheme.lower() == "basic" and self.username is not None:
            return _basic(value) == (self.username, self.password)
        if scheme.lower() == "bearer":
            return value.strip() in self.tokens
        return False

    def _token(self, request: httpx.Request) -> httpx.Response:
        scheme, _, value = request.headers.get("authorization", "").partition(" ")
        form = dict(parse_qsl(request.content.decode("utf-8", "replace")))
        credentials = _basic(value) if scheme.lower() == "basic" else (
            form.get("client_id"), form.get("client_secret"))
        if (request.method != "POST" or self.client_id is None
                or credentials != (self.client_id, self.client_secret)):
            return httpx.Response(401, json={"error": "invalid_client"})
        if form.get("grant_type") != "client_credentials":
            return httpx.Response(400, json={"error": "unsupported_grant_type"})
        token = f"bw-token-{uuid.uuid4().hex}"
        with self._lock:
            self.tokens.add(token)
        return httpx.Response(200, json={"access_token": token, "token_type": "Bearer",
                                         "expires_in": 3600})

    # Calls -------------------------------------------------------------------------------

    def create_call(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        self._check_create(body)
        with self._lock:
            call_id, now = _call_id(), self.now()
            setup = CallSetup(
                call_id=call_id, from_=body["from"], to=body["to"], epoch=self.clock.at(now),
                answer_url=body["answerUrl"], account_id=self.account_id,
                application_id=body["applicationId"], direction="outbound",
                tag=body.get("tag") or None, answer_method=body.get("answerMethod") or "POST",
                disconnect_url=body.get("disconnectUrl"), username=body.get("username"),
                password=body.get("password"), machine_detection=body.get("machineDetection"),
                call_timeout=float(body.get("callTimeout") or 30.0))
            call = _Call(call_id, setup, body, now, "outbound", setup.tag)
            self.calls[call_id] = call
        self._place(call, setup, self.callees.get(setup.to, self.callee), offset=0.0)
        url = self._call_url(call_id)
        return httpx.Response(201, json=self._create_response(call),
                              headers={"Location": url})

    def _place(self, call: _Call, setup: CallSetup, script: CalleeScript, offset: float
               ) -> None:
        """Run the call (or its rest, from ``offset`` seconds) without holding the lock:
        the runner calls the webhook app, whose handlers may call this fake."""
        try:
            run = self.runner(setup, script, self._deliver)
        except BaseException:
            with self._lock:
                if not call.placed:
                    self.calls.pop(call.id, None)
            raise
        with self._lock:
            self._apply(call, run, offset)

    def _apply(self, call: _Call, run: CallRun, offset: float) -> None:
        trace = run.trace
        if not call.placed:
            call.events = list(trace.events)
            call.answered, call.ended = trace.answered_at, trace.ended_at
            shift = 0.0
        else:  # the rest of a redirected call: its own ring and answer are not the call's
            shift = round(offset - (trace.answered_at or 0.0), 3)
            call.events += [TraceEvent(round(e.at + shift, 3), e.kind, e.path, e.data)
                            for e in trace.events if e.kind not in (
                                TraceKind.INITIATED, TraceKind.RINGING, TraceKind.ANSWERED)]
            call.ended = round(trace.ended_at + shift, 3)
        call.cause = run.cause
        call.callbacks += run.callbacks
        for _, payload in run.callbacks:
            if payload.get("conferenceId") and payload.get("name"):
                self.conference_ids.setdefault(str(payload["name"]),
                                               str(payload["conferenceId"]))
        legs = self._legs(call, run, shift)
        taken = {r.id for c in (call, *legs.values()) for r in c.recordings}
        for made in run.recordings:
            if made.id in taken:
                raise AssertionError(f"the runner reused recording id {made.id}")
            taken.add(made.id)
            started = round(made.started_at + shift, 3)
            owner = call
            if made.call_id != call.id:  # made on a transfer's leg, which is its own call
                owner = legs.get(made.call_id) or self._leg(
                    call, made.call_id, started, started, started + made.duration, {})
                started = round(call.created + started - owner.created, 3)
            owner.recordings.append(_Recording(
                made.id, owner.id, started, float(made.duration), made.file_format or "wav",
                made.transcript, f"t-{_uuid_like(made.id)}"))
        call.placed = True

    def _legs(self, call: _Call, run: CallRun, shift: float) -> dict[str, _Call]:
        """The calls a run's transfers placed: each answered transfer of the trace, paired
        in order with the leg ids its callbacks name (``parentCallId`` = this call)."""
        ids: dict[str, dict[str, Any]] = {}
        for _, payload in run.callbacks:
            leg = payload.get("callId")
            if payload.get("parentCallId") == call.id and leg and leg != call.id:
                ids.setdefault(str(leg), payload)
        episodes: list[tuple[float, float, float, dict[str, Any]]] = []
        started, answered = 0.0, None
        for e in run.trace.events:
            at = round(e.at + shift, 3)
            if e.kind == TraceKind.TRANSFER_STARTED:
                started, answered = at, None
            elif e.kind == TraceKind.TRANSFER_ANSWERED:
                answered = at
            elif e.kind == TraceKind.TRANSFER_ENDED and answered is not None:
                episodes.append((started, answered, at, dict(e.data)))
                answered = None
        if answered is not None:  # still bridged when the run ended
            episodes.append((started, answered, round(run.trace.ended_at + shift, 3), {}))
        return {leg: self._leg(call, leg, *episode[:3], payload)
                for (leg, payload), episode in zip(ids.items(), episodes, strict=False)}

    def _leg(self, call: _Call, leg_id: str, started: float, answered: float, ended: float,
             payload: Mapping[str, Any]) -> _Call:
        if leg_id in self.calls:
            return self.calls[leg_id]
        setup = CallSetup(
            call_id=leg_id, from_=str(payload.get("transferCallerId") or call.setup.from_),
            to=str(payload.get("transferTo") or payload.get("to") or call.setup.to),
            answer_url="", account_id=self.account_id,
            application_id=call.setup.application_id)
        leg = _Call(leg_id, setup, {}, call.created + started, "outbound", None, placed=True,
                    answered=round(answered - started, 3), ended=round(ended - started, 3),
                    cause="hangup", parent=call.id)
        self.calls[leg_id] = leg
        return leg

    def get_call(self, request: httpx.Request, call_id: str) -> httpx.Response:
        with self._lock:
            return _ok(self._call_state(self._call(call_id), self.now()))

    def list_calls(self, request: httpx.Request) -> httpx.Response:
        q = _params(request, {"to", "from", "minStartTime", "maxStartTime", "disconnectCause",
                              "pageSize", "pageToken"})
        size = _page_size(q, 10000)
        low, high = _time_param(q, "minStartTime"), _time_param(q, "maxStartTime")
        with self._lock:
            now = self.now()
            states = [self._call_state(c, now) for c in self.calls.values()]
        chosen = [s for s in states
                  if (not q.get("to") or s["to"] == q["to"])
                  and (not q.get("from") or s["from"] == q["from"])
                  and (not q.get("disconnectCause") or s["disconnectCause"] == q["disconnectCause"])
                  and (low is None or _parse_time(s["enqueuedTime"]) >= low)
                  and (high is None or _parse_time(s["enqueuedTime"]) <= high)]
        return self._page(request, q, chosen, size)

    def update_call(self, request: httpx.Request, call_id: str) -> httpx.Response:
        body = _json(request)
        _only(body, {"state", "redirectUrl", "redirectMethod", "redirectFallbackUrl",
                     "redirectFallbackMethod", "username", "password", "fallbackUsername",
                     "fallbackPassword", "tag"})
        state = body.get("state") or "active"
        if state not in ("active", "completed"):
            raise _Fail(400, "validation", f"Invalid state: '{state}' is not one of active, "
                                           "completed")
        if state == "completed":
            for name in ("redirectUrl", "tag"):
                if body.get(name) is not None:
                    raise _Fail(400, "validation",
                                f"Invalid {name}: not allowed when state is completed")
        else:
            _url(body, "redirectUrl", required=True)
            _url(body, "redirectFallbackUrl")
            _method(body, "redirectMethod")
            _method(body, "redirectFallbackMethod")
            _text(body, "tag", 256)
        for name in ("username", "password", "fallbackUsername", "fallbackPassword"):
            _text(body, name, 1024)
        with self._lock:
            call = self._call(call_id)
            t = round(self.now() - call.created, 3)
            if not call.placed or t >= call.ended:
                raise _Fail(409, "validation", f"Call {call_id} is not active and cannot be "
                                               "modified")
            live = call.answered is not None and t >= call.answered
            if state == "completed":
                cause = "hangup" if live else (
                    "cancel" if call.direction == "outbound" else "rejected")
                self._cut(call, t, cause)
                return httpx.Response(200)
            if not live:
                raise _Fail(409, "validation", f"Call {call_id} has not been answered yet")
            if "tag" in body:
                call.tag = body["tag"] or None
            self._cut(call, t, None)
            setup = _with(call.setup, answer_url=body["redirectUrl"],
                          answer_method=body.get("redirectMethod") or "POST",
                          username=body.get("username"), password=body.get("password"),
                          tag=call.tag, first_event="redirect",
                          epoch=self.clock.at(call.created + t))
            call.setup = setup
        script = self.callees.get(call.setup.to, self.callee).model_copy(
            update={"ring_seconds": 0.0, "answer": "human", "hang_up_after": None})
        self._place(call, setup, script, offset=t)
        return httpx.Response(200)

    def _cut(self, call: _Call, t: float, cause: str | None) -> None:
        """End (``cause``) or interrupt (None: a redirect follows) the call at ``t``: what
        had not happened by then never happens; a recording under way stops there."""
        call.events = [e for e in call.events if e.at <= t]
        for name in self._open_conferences(call, t):
            call.events.append(TraceEvent(t, TraceKind.CONFERENCE_LEFT, None,
                                          {"name": name, "by": "api"}))
        kept = []
        for rec in call.recordings:
            if rec.started < t:
                rec.duration = round(min(rec.duration, t - rec.started), 3)
                kept.append(rec)
        call.recordings = kept
        if cause is None:
            call.ended = math.inf
            for leg in [c for c in self.calls.values() if c.parent == call.id]:
                at = round(call.created + t - leg.created, 3)
                if at < leg.ended:
                    self._cut(leg, max(at, 0.0), "hangup")
            return
        call.events += [TraceEvent(t, TraceKind.HUNG_UP, None, {"by": "api"}),
                        TraceEvent(t, TraceKind.COMPLETED, None, {"reason": cause})]
        call.ended, call.cause = t, cause
        for leg in [c for c in self.calls.values() if c.parent == call.id]:
            at = round(call.created + t - leg.created, 3)
            if at < leg.ended:  # a leg still bridged ends with the call
                self._cut(leg, max(at, 0.0), cause)

    @staticmethod
    def _open_conferences(call: _Call, t: float) -> list[str]:
        open_rooms: list[str] = []
        for e in call.events:
            if e.at > t:
                break
            name = str(e.data.get("name"))
            if e.kind == TraceKind.CONFERENCE_JOINED:
                open_rooms.append(name)
            elif e.kind == TraceKind.CONFERENCE_LEFT and name in open_rooms:
                open_rooms.remove(name)
        return open_rooms

    def replace_bxml(self, request: httpx.Request, call_id: str) -> httpx.Response:
        with self._lock:
            self._call(call_id)
        raise _Fail(405, "validation", "FakeBandwidth does not run pushed BXML "
                                       "(PUT .../bxml); redirect the call instead")

    def recording_state(self, request: httpx.Request, call_id: str) -> httpx.Response:
        body = _json(request)
        _only(body, {"state"})
        if body.get("state") not in ("paused", "recording"):
            raise _Fail(400, "validation", "Invalid state: must be paused or recording")
        with self._lock:
            call = self._call(call_id)
            t = self.now() - call.created
            if not call.placed or t >= call.ended or call.answered is None or t < call.answered:
                raise _Fail(404, "validation", f"Call {call_id} is not active")
            call.recording_state = body["state"]
        return httpx.Response(200)

    # Recordings and transcriptions -------------------------------------------------------

    def list_call_recordings(self, request: httpx.Request, call_id: str) -> httpx.Response:
        with self._lock:
            call, now = self._call(call_id), self.now()
            return _ok([self._recording_json(call, r, now)
                        for r in self._visible(call, now)])

    def list_account_recordings(self, request: httpx.Request) -> httpx.Response:
        q = _params(request, {"to", "from", "minStartTime", "maxStartTime"})
        low, high = _time_param(q, "minStartTime"), _time_param(q, "maxStartTime")
        with self._lock:
            now = self.now()
            items = [self._recording_json(c, r, now) for c in self.calls.values()
                     for r in self._visible(c, now)]
        items = [i for i in items
                 if (not q.get("to") or i["to"] == q["to"])
                 and (not q.get("from") or i["from"] == q["from"])
                 and (low is None or _parse_time(i["startTime"]) >= low)
                 and (high is None or _parse_time(i["startTime"]) <= high)]
        return _ok(items[:1000])

    def get_recording(self, request: httpx.Request, call_id: str, rid: str) -> httpx.Response:
        with self._lock:
            call, now = self._call(call_id), self.now()
            return _ok(self._recording_json(call, self._recording(call, rid, now), now))

    def delete_recording(self, request: httpx.Request, call_id: str, rid: str
                         ) -> httpx.Response:
        with self._lock:
            call = self._call(call_id)
            self._recording(call, rid, self.now()).deleted = True
        return httpx.Response(204)

    def recording_media(self, request: httpx.Request, call_id: str, rid: str
                        ) -> httpx.Response:
        with self._lock:
            call, now = self._call(call_id), self.now()
            rec = self._recording(call, rid, now)
            if rec.media_deleted or not self._complete(call, rec, now):
                raise _Fail(404, "validation", f"Recording {rid} media not found")
        media_type = "audio/mpeg" if rec.file_format == "mp3" else "audio/vnd.wave"
        return httpx.Response(200, content=tone_wav(max(rec.duration, 0.1)),
                              headers={"content-type": media_type})

    def delete_media(self, request: httpx.Request, call_id: str, rid: str) -> httpx.Response:
        with self._lock:
            call = self._call(call_id)
            self._recording(call, rid, self.now()).media_deleted = True
        return httpx.Response(204)

    def request_transcription(self, request: httpx.Request, call_id: str, rid: str
                              ) -> httpx.Response:
        body = _json(request, optional=True)
        _only(body, {"callbackUrl", "callbackMethod", "username", "password", "tag",
                     "callbackTimeout", "detectLanguage"})
        _url(body, "callbackUrl")
        _method(body, "callbackMethod")
        _number(body, "callbackTimeout", 1, 25)
        with self._lock:
            call, now = self._call(call_id), self.now()
            rec = self._recording(call, rid, now)
            if not self._complete(call, rec, now):
                raise _Fail(404, "validation", f"Recording {rid} is still being processed")
            if not 0.5 < rec.duration < 4 * 3600:
                raise _Fail(400, "validation", "Recordings can be transcribed only when longer "
                                               "than 500 milliseconds and shorter than 4 hours")
            rec.requested_at, rec.transcript_deleted = now, False
            if rec.transcript is None:
                rec.transcript = TRANSCRIPTION
            payload = {"eventType": "transcriptionAvailable",
                       "eventTime": self._iso(now + self.transcription_seconds),
                       **self._recording_event(call, rec),
                       "transcription": self._transcription_meta(call, rec, math.inf)}
            if body.get("tag"):
                payload["tag"] = body["tag"]
        if body.get("callbackUrl"):
            credentials = ((body["username"], body.get("password") or "")
                           if body.get("username") else None)
            self._deliver(body.get("callbackMethod") or "POST", body["callbackUrl"], payload,
                          credentials)
        return httpx.Response(204)

    def get_transcription(self, request: httpx.Request, call_id: str, rid: str
                          ) -> httpx.Response:
        with self._lock:
            call, now = self._call(call_id), self.now()
            rec = self._recording(call, rid, now)
            ready = self._transcript_ready(call, rec)
            if rec.transcript is None or rec.transcript_deleted or ready is None or now < ready:
                raise _Fail(404, "validation", f"Transcription for recording {rid} not found")
            return _ok({"transcripts": [{"text": rec.transcript, "confidence": 0.9}]})

    def delete_transcription(self, request: httpx.Request, call_id: str, rid: str
                             ) -> httpx.Response:
        with self._lock:
            call = self._call(call_id)
            rec = self._recording(call, rid, self.now())
            if rec.transcript is None or rec.transcript_deleted:
                raise _Fail(404, "validation", f"Transcription for recording {rid} not found")
            rec.transcript_deleted = True
        return httpx.Response(204)

    def _visible(self, call: _Call, now: float) -> list[_Recording]:
        t = now - call.created
        return [r for r in call.recordings if not r.deleted and r.ended <= t]

    def _recording(self, call: _Call, rid: str, now: float) -> _Recording:
        for rec in self._visible(call, now):
            if rec.id == rid:
                return rec
        raise _Fail(404, "validation", f"Recording {rid} not found")

    def _complete(self, call: _Call, rec: _Recording, now: float) -> bool:
        return now >= call.created + rec.ended + self.processing_seconds

    def _transcript_ready(self, call: _Call, rec: _Recording) -> float | None:
        if rec.transcript is None:
            return None
        available = call.created + rec.ended + self.processing_seconds
        asked = available if rec.requested_at is None else max(available, rec.requested_at)
        return asked + self.transcription_seconds

    def _recording_event(self, call: _Call, rec: _Recording) -> dict[str, Any]:
        return {"accountId": self.account_id, "applicationId": call.setup.application_id,
                "callId": call.id, "recordingId": rec.id, "to": call.setup.to,
                "from": call.setup.from_, "direction": call.direction,
                "callUrl": self._call_url(call.id),
                "startTime": self._iso(call.created + rec.started),
                "endTime": self._iso(call.created + rec.ended),
                "duration": iso_duration(rec.duration), "fileFormat": rec.file_format,
                "channels": 1, "mediaUrl": self._media_url(call, rec)}

    def _transcription_meta(self, call: _Call, rec: _Recording, now: float
                            ) -> dict[str, Any] | None:
        ready = self._transcript_ready(call, rec)
        if ready is None or rec.transcript_deleted:
            return None
        meta: dict[str, Any] = {"id": rec.transcription_id, "status": "processing"}
        if now >= ready:
            meta.update(status="available", completedTime=self._iso(ready),
                        url=f"{self._media_url(call, rec).removesuffix('/media')}/transcription")
        return meta

    def _recording_json(self, call: _Call, rec: _Recording, now: float) -> dict[str, Any]:
        complete = self._complete(call, rec, now)
        data = {**self._recording_event(call, rec),
                "status": ("deleted" if rec.media_deleted else "complete") if complete
                else "processing"}
        data.pop("callUrl")
        if not complete or rec.media_deleted:
            data.pop("mediaUrl")
        transcription = self._transcription_meta(call, rec, now)
        if transcription is not None:
            data["transcription"] = transcription
        return data

    def _media_url(self, call: _Call, rec: _Recording) -> str:
        return f"{self._call_url(call.id)}/recordings/{rec.id}/media"

    # Conferences -------------------------------------------------------------------------

    def _conferences(self) -> dict[str, dict[str, Any]]:
        """Rooms as the calls' events say at this moment (a room exists from its first
        join; it is completed once its last member has left)."""
        now = self.now()
        rooms: dict[str, dict[str, Any]] = {}
        for call in self.calls.values():
            t = now - call.created
            seen = [e for e in call.events if e.at <= t]
            for i, e in enumerate(seen):
                if e.kind != TraceKind.CONFERENCE_JOINED:
                    continue
                name = str(e.data.get("name"))
                cid = self.conference_ids.get(name) or (
                    f"conf-{_uuid_like(f'{self.account_id}/{name}')}")
                room = rooms.setdefault(cid, {"id": cid, "name": name, "created": math.inf,
                                              "left": 0.0, "members": []})
                room["created"] = min(room["created"], call.created + e.at)
                left = next((x.at for x in seen[i + 1:] if x.kind == TraceKind.CONFERENCE_LEFT
                             and str(x.data.get("name")) == name), None)
                if left is None and call.ended <= t:
                    left = call.ended
                if left is None:
                    state = self.members.setdefault((cid, call.id), {
                        "mute": bool(e.data.get("muted")), "hold": False,
                        "callIdsToCoach": []})
                    room["members"].append({
                        "callId": call.id, "conferenceId": cid,
                        "memberUrl": f"{self._account_url()}/conferences/{cid}/members/"
                                     f"{call.id}", **state})
                else:
                    room["left"] = max(room["left"], call.created + left)
        return rooms

    def _conference_json(self, room: dict[str, Any], members: bool) -> dict[str, Any]:
        data: dict[str, Any] = {
            "id": room["id"], "name": room["name"], "createdTime": self._iso(room["created"]),
            "completedTime": None if room["members"] else self._iso(room["left"]),
            "conferenceEventUrl": None, "conferenceEventMethod": "POST", "tag": None}
        if members:
            data["activeMembers"] = room["members"]
        return data

    def list_conferences(self, request: httpx.Request) -> httpx.Response:
        q = _params(request, {"name", "minCreatedTime", "maxCreatedTime", "pageSize",
                              "pageToken"})
        size = _page_size(q, 1000)
        low, high = _time_param(q, "minCreatedTime"), _time_param(q, "maxCreatedTime")
        with self._lock:
            rooms = sorted(self._conferences().values(), key=lambda r: r["created"])
            items = [self._conference_json(r, members=False) for r in rooms
                     if (not q.get("name") or r["name"] == q["name"])
                     and (low is None or self.clock.at(r["created"]) >= low)
                     and (high is None or self.clock.at(r["created"]) <= high)]
        return self._page(request, q, items, size)

    def _room(self, cid: str) -> dict[str, Any]:
        room = self._conferences().get(cid)
        if room is None:
            raise _Fail(404, "validation", f"Conference {cid} not found")
        return room

    def get_conference(self, request: httpx.Request, cid: str) -> httpx.Response:
        with self._lock:
            return _ok(self._conference_json(self._room(cid), members=True))

    def update_conference(self, request: httpx.Request, cid: str) -> httpx.Response:
        body = _json(request)
        _only(body, {"status", "redirectUrl", "redirectMethod", "username", "password",
                     "redirectFallbackUrl", "redirectFallbackMethod", "fallbackUsername",
                     "fallbackPassword"})
        status = body.get("status") or "active"
        if status not in ("active", "completed"):
            raise _Fail(400, "validation", "Invalid status: must be active or completed")
        if status == "completed" and body.get("redirectUrl") is not None:
            raise _Fail(400, "validation", "Invalid redirectUrl: not allowed when status is "
                                           "completed")
        if status == "active":
            _url(body, "redirectUrl", required=True)
            _method(body, "redirectMethod")
        with self._lock:
            room = self._room(cid)
            if not room["members"]:
                raise _Fail(404, "validation", f"Conference {cid} is not active")
            if status == "completed":
                now = self.now()
                for member in room["members"]:
                    call = self.calls[member["callId"]]
                    self._cut(call, round(now - call.created, 3), "hangup")
                return httpx.Response(204)
            payload = {"eventType": "conferenceRedirect", "eventTime": self._iso(self.now()),
                       "conferenceId": cid, "name": room["name"]}
        credentials = ((body["username"], body.get("password") or "")
                       if body.get("username") else None)
        # The BXML a conference redirect returns runs in the conference; the fake only
        # delivers the callback.
        self._deliver(body.get("redirectMethod") or "POST", body["redirectUrl"], payload,
                      credentials)
        return httpx.Response(204)

    def get_member(self, request: httpx.Request, cid: str, member: str) -> httpx.Response:
        with self._lock:
            return _ok(self._member(cid, member))

    def update_member(self, request: httpx.Request, cid: str, member: str) -> httpx.Response:
        body = _json(request)
        _only(body, {"mute", "hold", "callIdsToCoach"})
        for name in ("mute", "hold"):
            if name in body and not isinstance(body[name], bool):
                raise _Fail(400, "validation", f"Invalid {name}: must be a boolean")
        coach = body.get("callIdsToCoach")
        if coach is not None and not (isinstance(coach, list)
                                      and all(isinstance(c, str) for c in coach)):
            raise _Fail(400, "validation", "Invalid callIdsToCoach: must be a list of call ids")
        with self._lock:
            self._member(cid, member)
            state = self.members[(cid, member)]
            state.update({k: v for k, v in body.items() if v is not None})
        return httpx.Response(204)

    def _member(self, cid: str, member: str) -> dict[str, Any]:
        for found in self._room(cid)["members"]:
            if found["callId"] == member:
                return dict(found)
        raise _Fail(404, "validation", f"Member {member} not found in conference {cid}")

    def conference_recordings(self, request: httpx.Request, cid: str) -> httpx.Response:
        # Conference recordings are not modelled (the interpreter makes none): always [].
        with self._lock:
            self._room(cid)
        return _ok([])

    def conference_recording(self, request: httpx.Request, cid: str, rid: str
                             ) -> httpx.Response:
        with self._lock:
            self._room(cid)
        raise _Fail(404, "validation", f"Recording {rid} not found")

    def statistics(self, request: httpx.Request) -> httpx.Response:
        return _ok({"currentCallQueueSize": 0, "maxCallQueueSize": 1500})

    # Shapes ------------------------------------------------------------------------------

    def _account_url(self) -> str:
        return f"{self.base_url}/accounts/{self.account_id}"

    def _call_url(self, call_id: str) -> str:
        return f"{self._account_url()}/calls/{call_id}"

    def _iso(self, virtual: float) -> str:
        return iso_time(self.clock.at(virtual))

    def _call(self, call_id: str) -> _Call:
        call = self.calls.get(call_id)
        if call is None:
            raise _Fail(404, "validation", f"Call [{call_id}] not found")
        return call

    def _create_response(self, call: _Call) -> dict[str, Any]:
        body = call.body
        data: dict[str, Any] = {
            "applicationId": body["applicationId"], "accountId": self.account_id,
            "callId": call.id, "to": body["to"], "from": body["from"],
            "enqueuedTime": self._iso(call.created), "callUrl": self._call_url(call.id),
            "callTimeout": body.get("callTimeout") or 30.0,
            "callbackTimeout": body.get("callbackTimeout") or 15.0,
            "tag": body.get("tag"), "answerMethod": body.get("answerMethod") or "POST",
            "answerUrl": body["answerUrl"],
            "answerFallbackMethod": body.get("answerFallbackMethod") or "POST",
            "answerFallbackUrl": body.get("answerFallbackUrl"),
            "disconnectMethod": body.get("disconnectMethod") or "POST",
            "disconnectUrl": body.get("disconnectUrl"),
            "username": body.get("username"),
            "password": "*****" if body.get("password") else None,
            "fallbackUsername": body.get("fallbackUsername"),
            "fallbackPassword": "*****" if body.get("fallbackPassword") else None,
            "priority": body.get("priority") or 5,
        }
        return data

    def _call_state(self, call: _Call, now: float) -> dict[str, Any]:
        t = round(now - call.created, 3)
        if not call.placed:
            state = "queued"
        elif t >= call.ended:
            state = "disconnected"
        elif call.answered is not None and t >= call.answered:
            state = "answered"
        else:
            state = "queued" if t <= 0 else "initiated"
        answered = call.answered is not None and t >= call.answered
        changes = [call.created]
        if state != "queued":
            changes.append(call.created + min(max(t, 0.0), 0.001))
        if answered and call.answered is not None:
            changes.append(call.created + call.answered)
        if state == "disconnected":
            changes.append(call.created + call.ended)
        return {
            "applicationId": call.setup.application_id, "accountId": self.account_id,
            "callId": call.id, "parentCallId": call.parent, "to": call.setup.to,
            "from": call.setup.from_, "direction": call.direction, "state": state,
            "stirShaken": None, "identity": None,
            "enqueuedTime": self._iso(call.created),
            "startTime": None if state == "queued" else self._iso(call.created),
            "answerTime": self._iso(call.created + call.answered)
            if answered and call.answered is not None else None,
            "endTime": self._iso(call.created + call.ended) if state == "disconnected"
            else None,
            "disconnectCause": call.cause if state == "disconnected" else None,
            "errorMessage": None, "errorId": None,
            "lastUpdate": self._iso(max(changes)),
        }

    def _page(self, request: httpx.Request, q: dict[str, str], items: list[dict[str, Any]],
              size: int) -> httpx.Response:
        start = _page_token(q.get("pageToken"))
        end = start + size
        headers = {}
        if end < len(items):
            query = {k: v for k, v in q.items() if k != "pageToken"}
            query["pageToken"] = base64.urlsafe_b64encode(f"offset:{end}".encode()).decode()
            # The request's path always starts with the base URL's (else no route matched).
            base_path = urlsplit(self.base_url).path.rstrip("/")
            url = f"{self.base_url}{request.url.path[len(base_path):]}"
            headers["Link"] = f'<{url}?{urlencode(query)}>; rel="next"'
        return httpx.Response(200, json=items[start:end], headers=headers)

    # Callbacks ---------------------------------------------------------------------------

    def _deliver(self, method: str, url: str, payload: dict[str, Any],
                 credentials: tuple[str, str] | None) -> tuple[int, str]:
        if self.http is None:
            self.http = NetworkHttp()
        times = 2 if self.redeliver and payload.get("eventType") in ASYNC_EVENTS else 1
        status, body = 0, ""
        for attempt in range(times):
            status, body = self.http(method, url, payload, credentials)
            with self._lock:
                self.deliveries.append(Delivery(method, url, dict(payload), credentials,
                                                status, body, again=attempt > 0))
        return status, body

    # createCall validation ---------------------------------------------------------------

    def _check_create(self, body: dict[str, Any]) -> None:
        _only(body, _CREATE_FIELDS)
        for name in ("from", "to", "applicationId", "answerUrl"):
            if body.get(name) in (None, ""):
                raise _Fail(400, "validation", f"Invalid {name}: it is required")
        to, from_ = body["to"], body["from"]
        if not isinstance(to, str) or not (_E164.fullmatch(to) or _SIP.fullmatch(to)):
            raise _Fail(400, "validation", "Invalid to: must be an E164 telephone number")
        if not isinstance(from_, str) or not (_E164.fullmatch(from_) or from_ in _ANONYMOUS):
            raise _Fail(400, "validation", "Invalid from: must be an E164 telephone number")
        if self.application_id is not None and body["applicationId"] != self.application_id:
            raise _Fail(400, "validation",
                        f"Invalid applicationId: {body['applicationId']} does not exist")
        for name in ("answerUrl", "answerFallbackUrl", "disconnectUrl"):
            _url(body, name)
        for name in ("answerMethod", "answerFallbackMethod", "disconnectMethod"):
            _method(body, name)
        for name in ("username", "password", "fallbackUsername", "fallbackPassword"):
            _text(body, name, 1024)
        _text(body, "tag", 256)
        _text(body, "displayName", 256)
        _text(body, "uui", 350)
        _number(body, "callTimeout", 1, 300)
        _number(body, "callbackTimeout", 1, 25)
        priority = body.get("priority")
        if priority is not None and (type(priority) is not int or not 1 <= priority <= 5):
            raise _Fail(400, "validation", "Invalid priority: must be an integer from 1 to 5")
        if self.https_only:
            for url, user, password in (("answerUrl", "username", "password"),
                                        ("answerFallbackUrl", "fallbackUsername",
                                         "fallbackPassword")):
                if (body.get(user) or body.get(password)) and body.get(url) and not str(
                        body[url]).startswith("https://"):
                    raise _Fail(400, "validation", f"Invalid {url}: must use https when "
                                                   f"{user} and {password} are given")
        detection = body.get("machineDetection")
        if detection is not None:
            if not isinstance(detection, dict):
                raise _Fail(400, "validation", "Invalid machineDetection: must be an object")
            _only(detection, _DETECTION_FIELDS, "machineDetection.")
            if detection.get("mode", "async") not in ("sync", "async"):
                raise _Fail(400, "validation", "Invalid machineDetection.mode: must be sync "
                                               "or async")
            _url(detection, "callbackUrl")
            _url(detection, "fallbackUrl")
            for name in ("detectionTimeout", "silenceTimeout", "speechThreshold",
                         "speechEndThreshold", "machineSpeechEndThreshold"):
                _number(detection, name, 0, 3600)


# Routes: (method, path after /accounts/{accountId}, handler) ------------------------------

_H = Callable[..., httpx.Response]
_ROUTE_TABLE: list[tuple[str, str, _H]] = [
    ("POST", r"/calls", FakeBandwidth.create_call),
    ("GET", r"/calls", FakeBandwidth.list_calls),
    ("GET", r"/calls/([^/]+)", FakeBandwidth.get_call),
    ("POST", r"/calls/([^/]+)", FakeBandwidth.update_call),
    ("PUT", r"/calls/([^/]+)/bxml", FakeBandwidth.replace_bxml),
    ("PUT", r"/calls/([^/]+)/recording", FakeBandwidth.recording_state),
    ("GET", r"/calls/([^/]+)/recordings", FakeBandwidth.list_call_recordings),
    ("GET", r"/calls/([^/]+)/recordings/([^/]+)", FakeBandwidth.get_recording),
    ("DELETE", r"/calls/([^/]+)/recordings/([^/]+)", FakeBandwidth.delete_recording),
    ("GET", r"/calls/([^/]+)/recordings/([^/]+)/media", FakeBandwidth.recording_media),
    ("DELETE", r"/calls/([^/]+)/recordings/([^/]+)/media", FakeBandwidth.delete_media),
    ("POST", r"/calls/([^/]+)/recordings/([^/]+)/transcription",
     FakeBandwidth.request_transcription),
    ("GET", r"/calls/([^/]+)/recordings/([^/]+)/transcription",
     FakeBandwidth.get_transcription),
    ("DELETE", r"/calls/([^/]+)/recordings/([^/]+)/transcription",
     FakeBandwidth.delete_transcription),
    ("GET", r"/recordings", FakeBandwidth.list_account_recordings),
    ("GET", r"/conferences", FakeBandwidth.list_conferences),
    ("GET", r"/conferences/([^/]+)", FakeBandwidth.get_conference),
    ("POST", r"/conferences/([^/]+)", FakeBandwidth.update_conference),
    ("GET", r"/conferences/([^/]+)/members/([^/]+)", FakeBandwidth.get_member),
    ("PUT", r"/conferences/([^/]+)/members/([^/]+)", FakeBandwidth.update_member),
    ("GET", r"/conferences/([^/]+)/recordings", FakeBandwidth.conference_recordings),
    ("GET", r"/conferences/([^/]+)/recordings/([^/]+)", FakeBandwidth.conference_recording),
    ("GET", r"/statistics", FakeBandwidth.statistics),
]
_ROUTES = [(method, re.compile(path), handler) for method, path, handler in _ROUTE_TABLE]

_E164 = re.compile(r"\+[1-9]\d{1,14}")
_SIP = re.compile(r"sip:[^@\s]+@[^@\s]+")
_ANONYMOUS = frozenset({"Restricted", "Anonymous", "Private", "Unavailable"})
_CREATE_FIELDS = frozenset({
    "to", "from", "displayName", "uui", "applicationId", "answerUrl", "answerMethod",
    "username", "password", "answerFallbackUrl", "answerFallbackMethod", "fallbackUsername",
    "fallbackPassword", "disconnectUrl", "disconnectMethod", "callTimeout", "callbackTimeout",
    "machineDetection", "priority", "tag"})
_DETECTION_FIELDS = frozenset({
    "mode", "detectionTimeout", "silenceTimeout", "speechThreshold", "speechEndThreshold",
    "machineSpeechEndThreshold", "delayResult", "callbackUrl", "callbackMethod", "username",
    "password", "fallbackUrl", "fallbackMethod", "fallbackUsername", "fallbackPassword"})


# Helpers ------------------------------------------------------------------------------


def _error(status: int, kind: str, description: str) -> httpx.Response:
    return httpx.Response(status, json={"type": kind, "description": description, "id": None})


def _ok(data: Any) -> httpx.Response:
    return httpx.Response(200, json=data)


def _json(request: httpx.Request, *, optional: bool = False) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if not request.content and optional:
        return {}
    if kind != "application/json":
        shown = request.headers.get("content-type") or "none"
        raise _Fail(415, "validation", f"Content type '{shown}' not supported")
    try:
        body = json.loads(request.content)
    except (ValueError, UnicodeDecodeError):
        raise _Fail(400, "validation", "Malformed JSON request body") from None
    if not isinstance(body, dict):
        raise _Fail(400, "validation", "The request body must be a JSON object")
    return body


def _only(body: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise _Fail(400, "validation", f"Unrecognized field(s): "
                                       f"{', '.join(prefix + u for u in unknown)}")


def _url(body: Mapping[str, Any], name: str, *, required: bool = False) -> None:
    value = body.get(name)
    if value is None:
        if required:
            raise _Fail(400, "validation", f"Invalid {name}: it is required")
        return
    if not isinstance(value, str) or not re.match(r"https?://[^/\s]+", value):
        raise _Fail(400, "validation", f"Invalid {name}: only http and https are allowed.")
    if len(value) > 2048:
        raise _Fail(400, "validation", f"Invalid {name}: longer than 2048 characters")


def _method(body: Mapping[str, Any], name: str) -> None:
    if body.get(name) not in (None, "GET", "POST"):
        raise _Fail(400, "validation", f"Invalid {name}: must be GET or POST")


def _text(body: Mapping[str, Any], name: str, limit: int) -> None:
    value = body.get(name)
    if value is not None and (not isinstance(value, str) or len(value) > limit):
        raise _Fail(400, "validation", f"Invalid {name}: must be a string of at most "
                                       f"{limit} characters")


def _number(body: Mapping[str, Any], name: str, low: float, high: float) -> None:
    value = body.get(name)
    if value is None:
        return
    if isinstance(value, bool) or not isinstance(value, int | float) or not (
            low <= value <= high):
        raise _Fail(400, "validation", f"Invalid {name}: must be a number between {low:g} "
                                       f"and {high:g}")


def _params(request: httpx.Request, allowed: set[str]) -> dict[str, str]:
    q = dict(request.url.params)
    unknown = sorted(set(q) - allowed)
    if unknown:
        raise _Fail(400, "validation", f"Unrecognized query parameter(s): {', '.join(unknown)}")
    return q


def _page_size(q: Mapping[str, str], limit: int) -> int:
    text = q.get("pageSize", "1000")
    if not text.isdigit() or not 1 <= int(text) <= limit:
        raise _Fail(400, "validation", f"Invalid pageSize: must be between 1 and {limit}")
    return int(text)


def _page_token(token: str | None) -> int:
    if token is None:
        return 0
    try:
        kind, _, offset = base64.urlsafe_b64decode(token.encode()).decode().partition(":")
        if kind == "offset" and offset.isdigit():
            return int(offset)
    except (binascii.Error, UnicodeDecodeError, ValueError):
        pass
    raise _Fail(400, "validation", "Invalid pageToken")


def _parse_time(text: str) -> datetime:
    value = datetime.fromisoformat(text.replace("Z", "+00:00"))
    return value if value.tzinfo else value.replace(tzinfo=UTC)


def _time_param(q: Mapping[str, str], name: str) -> datetime | None:
    if name not in q:
        return None
    try:
        return _parse_time(q[name])
    except ValueError:
        raise _Fail(400, "validation", f"Invalid {name}: must be an ISO-8601 time") from None


def _basic(value: str) -> tuple[str, str] | None:
    try:
        user, sep, password = base64.b64decode(value.strip(), validate=True).decode(
            ).partition(":")
    except (binascii.Error, UnicodeDecodeError, ValueError):
        return None
    return (user, password) if sep else None


def _with(setup: CallSetup, **changes: Any) -> CallSetup:
    values = {f.name: getattr(setup, f.name) for f in fields(setup)}
    values.update(changes)
    return CallSetup(**values)


def _uuid_like(seed: str) -> str:
    """Bandwidth-looking ids: 8-8-4-4-4-12 hex, stable for a seed."""
    h = hashlib.sha256(seed.encode()).hexdigest()
    return f"{h[:8]}-{h[8:16]}-{h[16:20]}-{h[20:24]}-{h[24:28]}-{h[28:40]}"


def _call_id() -> str:
    return f"c-{_uuid_like(uuid.uuid4().hex)}"


def iso_time(when: datetime) -> str:
    """``2022-06-16T13:15:07.160Z``, as Bandwidth writes times."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{when.microsecond // 1000:03d}Z")


def iso_duration(seconds: float) -> str:
    """An ISO-8601 duration as Bandwidth (java.time.Duration) writes it: ``PT13.67S``,
    ``PT2M5.5S``, ``PT1H0M0S`` becomes ``PT1H``."""
    millis = round(seconds * 1000)
    if millis == 0:
        return "PT0S"
    hours, rest = divmod(millis, 3_600_000)
    minutes, rest = divmod(rest, 60_000)
    secs = f"{rest / 1000:.3f}".rstrip("0").rstrip(".") if rest else ""
    return "PT" + (f"{hours}H" if hours else "") + (f"{minutes}M" if minutes else "") + (
        f"{secs}S" if secs else "")
