"""``FakeMessageBird``: a stateful, in-memory MessageBird Voice Calling API for tests.

Paths, bodies, status codes and error shapes follow the corrected spec
(``tests/specs/messagebird-voice-seed.openapi.yml``, ``tests/specs/CORRECTIONS.md``) and
PROVIDERS.md §1.1/§2.1/§5: requests carry ``Authorization: AccessKey <key>``; every answer
is an envelope ``{data: [...], _links, pagination}`` (single objects too); errors are
``{data: null, errors: [{code, message}], pagination}``; lists page by ``page``/``perPage``;
recording media is WAV. Paths are served with and without the Go SDK's ``/v1`` prefix.
Use it in process or over HTTP:

    fake = FakeMessageBird(runner=simulated_runner(store))
    voice = Voice("messagebird", access_key=ACCESS_KEY,
                  client=httpx.Client(transport=fake.transport()))
    LiveServer(fake.asgi())        # and api_url = server.url (see base_url)

Time is virtual: a hand-moved clock (``fake.advance``). How a call runs is pluggable. At
``POST /calls`` the fake hands a ``CallSetup`` (the inline call flow, the webhook, the
signing key) to its ``runner``, which runs the whole call at once (fetching call flows and
sending callbacks through the ``Http`` function the fake supplies, which signs them as
MessageBird does) and returns a ``CallRun``; what the REST API shows afterwards is a
function of the clock: the call is ``queued`` at the moment of creation, ``starting`` until
the trace's answer, ``ongoing``, then ``ended`` (``busy`` / ``no_answer`` / ``failed`` for a
call never answered, as the Python SDK fixture's ``no_answer`` call shows). Its legs: the
first, outgoing one (``starting``, ``ringing``, ``ongoing``, then ``hangup`` / ``busy`` /
``no_answer`` / ``failed``), and one outgoing leg per transfer the trace made. Recordings
belong to a leg; each is listed from its start (``recording``), ``done`` (with media)
``processing_seconds`` after its end; a transcription asked for in the record step, or by
``POST .../transcriptions``, is ``done`` ``transcription_seconds`` later.
``DELETE /calls/{id}`` cuts the call at that moment (what had not happened is dropped, a
recording under way stops) and removes the call: it is not found afterwards (the seed
spec: "hanging up all active legs and removing the call resource"); its recordings stay
readable at ``/recordings/{id}``.

Where MessageBird's behaviour is unconfirmed the fake picks one and says so: call lists
are newest first; error codes other than 13 ("not found", the Python SDK fixture) are
MessageBird's general REST codes (2 access key, 9 missing, 10 invalid), unconfirmed for the
Voice API; a leg's ``cost`` is invented (EUR 0.01 a started minute). Where the fake is
stricter than MessageBird is known to be (unknown body fields, a destination written with
'+', refused with 422), it is so that a misspelt field cannot pass silently.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, fields
from datetime import UTC, datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from univoice.models import EndReason
from univoice.simulator.backend import Clock, tone_wav
from univoice.simulator.engine import TRANSCRIPTION
from univoice.simulator.script import CalleeScript
from univoice.simulator.trace import Trace, TraceEvent, TraceKind

ACCESS_KEY = "mb-test-access-key-0123456789"
SIGNING_KEY = "mb-test-signing-key-9876543210"
API_URL = "https://voice.messagebird.com"
MAX_WEBHOOKS = 5  # per account (the seed spec)

# (method, url, body bytes or None, headers) -> (status, body text). For a fetchCallFlow
# (GET) the URL carries the query; a webhook is a POST with a JSON body.
Http = Callable[[str, str, bytes | None, Mapping[str, str]], tuple[int, str]]

ACTIONS = frozenset({"say", "play", "pause", "record", "fetchCallFlow", "hangup", "transfer",
                     "sendKeys"})
_STEP_FIELDS = frozenset({"id", "action", "options", "conditions", "onKeypressGoto",
                          "onKeypressVar", "endKey", "maxNumKeys"})
_FLOW_FIELDS = frozenset({"title", "record", "steps"})
_CREATE_FIELDS = frozenset({"source", "destination", "callFlow", "callflow", "webhook"})
_DESTINATION = re.compile(r"[1-9][0-9]{6,14}|sips?:[^@\s]+@[^@\s]+")


# The runner contract (mirrors univoice_messagebird.interpreter, when it exists) -------------


@dataclass(frozen=True)
class CallSetup:
    """What ``POST /calls`` asked for: MessageBird's own values (numbers without '+')."""

    call_id: str
    from_: str  # source
    to: str  # destination
    call_flow: dict[str, Any]
    webhook_url: str | None = None
    webhook_token: str | None = None
    signing_key: str | None = None  # what MessageBird signs its requests with
    direction: str = "outgoing"
    leg_id: str | None = None  # the first leg's id (``{call_id}-leg1``, as the interpreter)
    # Not (yet) in the interpreter's contract (``interpreter_runner`` passes only the
    # fields it has): the wall-clock moment of the run's 0 s.
    epoch: datetime | None = None


@dataclass(frozen=True)
class RecordingMade:
    id: str
    call_id: str
    started_at: float  # seconds since the call started
    duration: float
    leg_id: str | None = None  # None: the call's first leg
    kind: str = "call"  # the recording's ``type``: "call", or "transfer" for a transfer's
    transcript: str | None = None  # the text of the transcription the step asked for
    transcribe_language: str | None = None


@dataclass
class CallRun:
    trace: Trace
    cause: str  # how the first leg ended: hangup, busy, no_answer, failed
    recordings: list[RecordingMade] = field(default_factory=list)
    callbacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


Runner = Callable[[CallSetup, CalleeScript, Http], CallRun]


@dataclass(frozen=True)
class Delivery:
    """One request the fake made on MessageBird's behalf (a fetchCallFlow or a webhook)."""

    method: str
    url: str
    body: bytes | None
    headers: dict[str, str]
    status: int
    answer: str


# Runners --------------------------------------------------------------------------------

LEG_ENDINGS = {EndReason.HANGUP: "hangup", EndReason.CALLEE_HANGUP: "hangup",
               EndReason.BUSY: "busy", EndReason.NO_ANSWER: "no_answer",
               EndReason.FAILED: "failed", EndReason.MACHINE: "hangup",
               EndReason.REDIRECTED: "hangup", EndReason.UNKNOWN: "failed"}


def recordings_of(trace: Trace, call_id: str) -> list[RecordingMade]:
    """The recordings a trace made (one per ``recorded`` event), with their transcripts;
    a transfer's recording is of ``kind`` "transfer" (its leg is the transfer's)."""
    texts = {str(e.data["recording_id"]): str(e.data.get("text", TRANSCRIPTION))
             for e in trace.of(TraceKind.TRANSCRIBED)}
    languages = {str(e.data["recording_id"]): e.data.get("language")
                 for e in trace.of(TraceKind.TRANSCRIBED)}
    transfers = {e.path for e in trace.of(TraceKind.TRANSFER_STARTED)}
    made = []
    for event in trace.of(TraceKind.RECORDED):
        local = str(event.data["recording_id"])
        duration = float(event.data.get("duration") or 0.0)
        kind = "transfer" if event.path is not None and event.path in transfers else "call"
        language = languages.get(local)
        made.append(RecordingMade(
            id=str(uuid.uuid4()), call_id=call_id, started_at=round(event.at - duration, 3),
            duration=duration, kind=kind, transcript=texts.get(local),
            transcribe_language=str(language) if language else None))
    return made


def _neutral_number(value: str) -> str:
    return f"+{value}" if value.isdigit() else value


def idle_runner(setup: CallSetup, script: CalleeScript, http: Http) -> CallRun:
    """No flow at all: the callee answers (or not) as scripted, talks ``talk_seconds`` and
    hangs up. For tests of the REST surface alone."""
    from univoice.flow import Flow
    from univoice.simulator.engine import simulate

    flow = Flow.from_dict({"steps": [{"pause": max(0.1, script.talk_seconds)}]})
    trace = simulate(flow, script, from_=_neutral_number(setup.from_),
                     to=_neutral_number(setup.to), call_id=setup.call_id)
    return CallRun(trace, LEG_ENDINGS[trace.end_reason])


def flow_runner(flow: Any) -> Runner:
    """Every call runs ``flow`` (a ``Flow`` or its document) on univoice's simulator,
    whatever its call flow says. For tests of the REST surface alone."""
    from univoice.flow import Flow
    from univoice.simulator.engine import simulate

    neutral = flow if isinstance(flow, Flow) else Flow.from_dict(flow)

    def run(setup: CallSetup, script: CalleeScript, http: Http) -> CallRun:
        trace = simulate(neutral, script, from_=_neutral_number(setup.from_),
                         to=_neutral_number(setup.to), call_id=setup.call_id)
        return CallRun(trace, LEG_ENDINGS[trace.end_reason],
                       recordings_of(trace, setup.call_id))

    return run


_FLOW_PATH = re.compile(r"/univoice/(?P<provider>[^/]+)/flow/(?P<flow>[^/]+)/")
# A record step's transcribeLanguage back to the neutral tag.
_TRANSCRIBED = {"en-UK": "en-GB", "es-LA": "es-419"}


def call_flow_to_neutral(call_flow: Mapping[str, Any]) -> Any:
    """A call flow without keypress steps, as the neutral ``Flow`` it runs (for the
    stand-in runner). ``LookupError`` for what it cannot express: keypress branching
    (``onKeypressGoto``; such flows continue through the webhook app, see
    ``simulated_runner``), conditions, sendKeys."""
    from univoice.flow import Flow

    steps: list[Any] = []
    for step in call_flow.get("steps") or []:
        if any(k in step for k in ("onKeypressGoto", "onKeypressVar", "conditions")):
            raise LookupError("the stand-in runner cannot run keypress branching inline")
        action, options = step.get("action"), step.get("options") or {}
        if action == "say":
            say: dict[str, Any] = {"text": options["payload"]}
            if options.get("language"):
                say["language"] = options["language"]
            if options.get("voice") in ("male", "female"):
                say["gender"] = options["voice"]
            if int(options.get("repeat") or 1) > 1:
                say["loop"] = int(options["repeat"])
            steps.append({"say": say})
        elif action == "play":
            steps.append({"play": {"url": options["media"]}})
        elif action == "pause":
            steps.append({"pause": {"seconds": float(options["length"])}})
        elif action == "record":
            key = options.get("finishOnKey")
            transcribe = options.get("transcribe") in (True, "true")
            record: dict[str, Any] = {
                "max_length": float(options.get("maxLength") or 3600),
                "finish_on_key": key if key in ("#", "*") else None,
                "transcribe": transcribe, "beep": False}
            if options.get("timeout"):
                record["silence_timeout"] = float(options["timeout"])
            language = options.get("transcribeLanguage")
            if transcribe and language:
                record["transcribe_language"] = _TRANSCRIBED.get(language, language)
            steps.append({"record": record})
        elif action == "transfer":
            steps.append({"transfer": {"targets": [_neutral_number(options["destination"])],
                                       "record": bool(options.get("record"))}})
        elif action == "fetchCallFlow":
            steps.append({"redirect": {"url": options["url"], "method": "GET"}})
        elif action == "hangup":
            steps.append("hangup")
        else:
            raise LookupError(f"the stand-in runner cannot run a {action!r} step")
    document: dict[str, Any] = {"steps": steps}
    if call_flow.get("record") in (True, "true"):
        document["record"] = True
    return Flow.from_dict(document)


def simulated_runner(store: Any, provider: str = "messagebird") -> Runner:
    """A stand-in for the call-flow interpreter, running the neutral flow on univoice's
    simulator: a call flow that continues through the webhook app (a ``fetchCallFlow`` to
    ``/univoice/messagebird/flow/{id}/...``: the flow has a gather) is the start of the flow
    the client stored there, read from the same ``store`` and run whole; any other call flow
    is read back into the neutral flow it runs (``call_flow_to_neutral``). It sends no
    callbacks and fetches nothing: it exercises the REST surface, not the call-flow path."""
    from univoice.simulator.engine import simulate
    from univoice.webhooks.continuations import Continuations

    context = Continuations(store, "", provider)

    def stored(call_flow: Mapping[str, Any]) -> Any:
        for step in call_flow.get("steps") or []:
            url = (step.get("options") or {}).get("url") if step.get(
                "action") == "fetchCallFlow" else None
            match = _FLOW_PATH.search(urlsplit(url).path) if isinstance(url, str) else None
            if match and match["provider"] == provider:
                flow = context.load_flow(unquote(match["flow"]))
                if flow is None:
                    raise LookupError(f"no stored flow {match['flow']!r}")
                return flow
        return None

    def run(setup: CallSetup, script: CalleeScript, http: Http) -> CallRun:
        flow = stored(setup.call_flow) or call_flow_to_neutral(setup.call_flow)
        trace = simulate(flow, script, from_=_neutral_number(setup.from_),
                         to=_neutral_number(setup.to), call_id=setup.call_id)
        return CallRun(trace, LEG_ENDINGS[trace.end_reason],
                       recordings_of(trace, setup.call_id))

    return run


def interpreter_runner() -> Runner:
    """``univoice_messagebird.interpreter.run_call`` (the call-flow interpreter) as a runner:
    the call-flow path for real, every fetchCallFlow and webhook sent through the fake's
    ``Http``, signed with the setup's signing key (``MessageBird-Signature-JWT``). Its
    ``CallSetup`` gets the fields it has of ours; its result's ``status`` is the first leg's
    end, its recordings name the leg they were made on."""
    from univoice_messagebird import interpreter

    known = {f.name for f in fields(interpreter.CallSetup)}

    def run(setup: CallSetup, script: CalleeScript, http: Http) -> CallRun:
        theirs = interpreter.CallSetup(**{f.name: getattr(setup, f.name) for f in fields(setup)
                                          if f.name in known})
        key = setup.signing_key

        def signer(url: str, body: bytes) -> dict[str, str]:
            return {"MessageBird-Signature-JWT": signature_jwt(key, url, body)} if key else {}

        result = interpreter.run_call(theirs, script, http, signer)
        return CallRun(
            trace=result.trace, cause=str(result.status),
            recordings=[RecordingMade(
                id=r.id, call_id=r.call_id, started_at=float(r.started_at),
                duration=float(r.duration), leg_id=getattr(r, "leg_id", None),
                kind=getattr(r, "kind", "call"), transcript=getattr(r, "transcript", None))
                for r in result.recordings],
            callbacks=list(result.callbacks))

    return run


def missing_pieces(*wanted: str) -> list[str]:
    """Which pieces of the MessageBird adapter are not there yet, checked at run time so the
    tests needing them start running the moment they land: "interpreter", "events",
    "chaining" (the core's ``Operation.then``, for reads of two requests)."""
    import importlib.util
    import inspect

    missing = []
    for piece in wanted:
        if piece == "interpreter":
            if importlib.util.find_spec("univoice_messagebird.interpreter") is None:
                missing.append("univoice_messagebird.interpreter (run_call)")
        elif piece == "events":
            from univoice_messagebird import events

            if "not accepted yet" in inspect.getsource(events.verify):
                missing.append("univoice_messagebird.events")
        elif piece == "chaining":
            from univoice_messagebird.operations import CHAINS

            if not CHAINS:
                missing.append("univoice.operations.Operation.then (core)")
    return missing


# Signing and callback transports --------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).decode().rstrip("=")


def signature_jwt(signing_key: str, url: str, body: bytes | None, *,
                  issued_at: float | None = None, ttl: float = 60.0) -> str:
    """A ``MessageBird-Signature-JWT`` header value (PROVIDERS §4.1): HS256 over the claims
    ``iss`` (MessageBird), ``nbf``, ``exp``, ``jti``, ``url_hash`` (hex SHA-256 of the whole
    URL) and, for a body, ``payload_hash``. Times are wall-clock: the verifier checks them
    against its own clock, not the fake's."""
    now = int(time.time() if issued_at is None else issued_at)
    claims: dict[str, Any] = {"iss": "MessageBird", "nbf": now, "exp": now + int(ttl),
                              "jti": uuid.uuid4().hex,
                              "url_hash": hashlib.sha256(url.encode()).hexdigest()}
    if body:
        claims["payload_hash"] = hashlib.sha256(body).hexdigest()
    head = _b64(json.dumps({"alg": "HS256", "typ": "JWT"}, separators=(",", ":")).encode())
    payload = _b64(json.dumps(claims, separators=(",", ":")).encode())
    mac = hmac.new(signing_key.encode(), f"{head}.{payload}".encode(), hashlib.sha256)
    return f"{head}.{payload}.{_b64(mac.digest())}"


class AppHttp:
    """Requests delivered to an in-process ASGI app (a ``VoiceApp``) through Starlette's
    TestClient: the whole path runs, without a socket."""

    def __init__(self, app: Any) -> None:
        from starlette.testclient import TestClient

        self.client = TestClient(app)

    def __call__(self, method: str, url: str, body: bytes | None,
                 headers: Mapping[str, str]) -> tuple[int, str]:
        response = self.client.request(method.upper(), url, content=body,
                                       headers=dict(headers))
        return response.status_code, response.text

    def close(self) -> None:
        self.client.close()


class NetworkHttp:
    """Requests over real HTTP (to a webhook app on uvicorn)."""

    def __init__(self, client: httpx.Client | None = None, timeout: float = 15.0) -> None:
        self.client = client or httpx.Client(timeout=timeout)

    def __call__(self, method: str, url: str, body: bytes | None,
                 headers: Mapping[str, str]) -> tuple[int, str]:
        response = self.client.request(method.upper(), url, content=body,
                                       headers=dict(headers))
        return response.status_code, response.text

    def close(self) -> None:
        self.client.close()


# The fake -------------------------------------------------------------------------------


class _Fail(Exception):
    def __init__(self, status: int, code: int, message: str) -> None:
        self.status, self.code, self.message = status, code, message


def _not_found(what: str, key: str) -> _Fail:
    return _Fail(404, 13, f"No {what} found for ID `{key}`.")


@dataclass
class _Transcription:
    id: str
    recording_id: str
    requested: float  # virtual time it was asked for (or the recording was processed)
    text: str
    language: str | None = None


@dataclass
class _Recording:
    id: str
    call_id: str
    leg_id: str
    started: float  # seconds after the call was created
    duration: float
    kind: str
    transcript: str | None
    language: str | None
    deleted: bool = False
    transcriptions: list[_Transcription] = field(default_factory=list)

    @property
    def ended(self) -> float:
        return self.started + self.duration


@dataclass
class _Leg:
    id: str
    source: str
    destination: str
    direction: str
    created: float  # seconds after the call was created
    ringing: float | None
    answered: float | None
    ended: float = math.inf
    final: str = "hangup"


@dataclass
class _Call:
    id: str
    setup: CallSetup
    body: dict[str, Any]
    created: float  # virtual time of creation
    placed: bool = False
    removed: bool = False
    ended: float = math.inf
    events: list[TraceEvent] = field(default_factory=list)
    legs: list[_Leg] = field(default_factory=list)
    callbacks: list[tuple[str, dict[str, Any]]] = field(default_factory=list)


class FakeMessageBird:
    """An in-memory MessageBird Voice Calling API (see the module docstring).

    ``access_key``: the key requests must carry. ``signing_key``: what the fake signs the
    requests it makes on MessageBird's behalf with (``MessageBird-Signature-JWT``), and
    hands runners. ``callee``/``callees``: the callee script, by default and per called
    number (as MessageBird writes it, without '+'). ``http``: how fetchCallFlow requests
    and webhooks are sent (default: real HTTP).
    """

    def __init__(self, *, runner: Runner | None = None, http: Http | None = None,
                 access_key: str = ACCESS_KEY, signing_key: str | None = SIGNING_KEY,
                 base_url: str = API_URL, clock: Clock | None = None,
                 callee: CalleeScript | None = None,
                 callees: Mapping[str, CalleeScript] | None = None,
                 processing_seconds: float = 1.0, transcription_seconds: float = 3.0) -> None:
        self.runner: Runner = runner or idle_runner
        self.http = http
        self.access_key = access_key
        self.signing_key = signing_key
        self.base_url = base_url.rstrip("/")
        self.clock = clock or Clock(speed=1.0, now=lambda: 0.0)
        self.callee = callee or CalleeScript()
        self.callees = dict(callees or {})
        self.processing_seconds = processing_seconds
        self.transcription_seconds = transcription_seconds
        self.calls: dict[str, _Call] = {}
        self.recordings: dict[str, _Recording] = {}
        self.transcriptions: dict[str, _Transcription] = {}
        self.flows: dict[str, dict[str, Any]] = {}
        self.webhooks: dict[str, dict[str, Any]] = {}
        self.requests: list[httpx.Request] = []
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []
        self.deliveries: list[Delivery] = []
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
            response = _error(fail.status, fail.code, fail.message)
        with self._lock:
            self.exchanges.append((request, response))
        return response

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        base = urlsplit(self.base_url).path.rstrip("/")
        path = request.url.path
        if not path.startswith(base + "/"):
            raise _Fail(404, 20, f"Path {path} not found")
        rest = path[len(base):]
        if rest.startswith("/v1/"):
            rest = rest[len("/v1"):]
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme != "AccessKey" or not hmac.compare_digest(key.strip().encode(),
                                                             self.access_key.encode()):
            raise _Fail(401, 2, "Request not allowed (incorrect access_key)")
        version = request.headers.get("x-messagebird-version")
        if version is not None and not re.fullmatch(r"[0-9]{8}", version):
            raise _Fail(400, 10, "X-MessageBird-Version must be of the form YYYYMMDD")
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
            raise _Fail(405, 21, f"Method {request.method} not allowed on {path}")
        raise _Fail(404, 20, f"Path {path} not found")

    # Time --------------------------------------------------------------------------------

    def _iso(self, virtual: float) -> str:
        return self.clock.at(virtual).strftime("%Y-%m-%dT%H:%M:%SZ")

    # Calls -------------------------------------------------------------------------------

    def create_call(self, request: httpx.Request) -> httpx.Response:
        body = _json(request)
        _only(body, _CREATE_FIELDS)
        source, destination = body.get("source"), body.get("destination")
        if not isinstance(source, str) or not source:
            raise _Fail(422, 9, "source is required")
        if not isinstance(destination, str) or not destination:
            raise _Fail(422, 9, "destination is required")
        if not _DESTINATION.fullmatch(destination):
            raise _Fail(422, 10, "destination must be a number without '+' or a SIP URI")
        flows = [body[k] for k in ("callFlow", "callflow") if k in body]
        if len(flows) != 1:
            raise _Fail(422, 9, "callFlow is required (once)")
        call_flow = _check_flow(flows[0], "callFlow.")
        webhook = body.get("webhook")
        if webhook is not None:
            if not isinstance(webhook, dict):
                raise _Fail(422, 10, "webhook must be an object")
            _only(webhook, {"url", "token"}, "webhook.")
            _http_url(webhook.get("url"), "webhook.url")
        with self._lock:
            call_id, now = str(uuid.uuid4()), self.now()
            setup = CallSetup(
                call_id=call_id, from_=source, to=destination, call_flow=call_flow,
                webhook_url=webhook.get("url") if webhook else None,
                webhook_token=webhook.get("token") if webhook else None,
                signing_key=self.signing_key, leg_id=f"{call_id}-leg1",
                epoch=self.clock.at(now))
            call = _Call(call_id, setup, body, now)
            self.calls[call_id] = call
        self._place(call, setup, self.callees.get(destination, self.callee))
        with self._lock:
            data = self._call_json(call, now)
        return _envelope([data], status=201, links={"self": f"/calls/{call_id}"})

    def _place(self, call: _Call, setup: CallSetup, script: CalleeScript) -> None:
        """Run the call without holding the lock: the runner calls the webhook app, whose
        handlers may call this fake."""
        try:
            run = self.runner(setup, script, self._deliver)
        except BaseException:
            with self._lock:
                self.calls.pop(call.id, None)
            raise
        with self._lock:
            self._apply(call, setup, run)

    def _apply(self, call: _Call, setup: CallSetup, run: CallRun) -> None:
        trace = run.trace
        call.events = list(trace.events)
        call.ended = trace.ended_at
        call.callbacks = list(run.callbacks)
        ringing = next((e.at for e in trace.events if e.kind == TraceKind.RINGING), 0.0)
        first = _Leg(setup.leg_id or str(uuid.uuid4()), setup.from_, setup.to, "outgoing",
                     0.0, ringing, trace.answered_at, trace.ended_at, run.cause)
        call.legs = [first, *self._transfer_legs(call, trace)]
        for made in run.recordings:
            # The leg the runner names, else (a transfer's recording) the transfer leg that
            # was up when it started, else the first.
            leg = next((x for x in call.legs if x.id == made.leg_id), None) or next(
                (x for x in call.legs[1:] if made.kind == "transfer"
                 and x.created <= made.started_at <= x.ended), first)
            rec = _Recording(made.id, call.id, leg.id, made.started_at, made.duration,
                             made.kind, made.transcript, made.transcribe_language)
            if rec.id in self.recordings:
                raise AssertionError(f"the runner reused recording id {rec.id}")
            if made.transcript is not None:
                tr = _Transcription(str(uuid.uuid4()), rec.id,
                                    call.created + rec.ended + self.processing_seconds,
                                    made.transcript, made.transcribe_language)
                rec.transcriptions.append(tr)
                self.transcriptions[tr.id] = tr
            self.recordings[rec.id] = rec
        call.placed = True

    def _transfer_legs(self, call: _Call, trace: Trace) -> list[_Leg]:
        legs: list[_Leg] = []
        current: _Leg | None = None
        for e in trace.events:
            if e.kind == TraceKind.TRANSFER_STARTED:
                target = str((e.data.get("targets") or [""])[0])
                current = _Leg(f"{call.id}-leg{len(legs) + 2}", call.setup.from_,
                               target.lstrip("+"), "outgoing", e.at, e.at, None)
                legs.append(current)
            elif current is not None and e.kind == TraceKind.TRANSFER_ANSWERED:
                current.answered = e.at
            elif current is not None and e.kind in (TraceKind.TRANSFER_ENDED,
                                                    TraceKind.TRANSFER_NO_ANSWER):
                current.ended = e.at
                current.final = "hangup" if current.answered is not None else "no_answer"
                current = None
        if current is not None:  # still bridged when the call ended
            current.ended = trace.ended_at
        return legs

    def _call(self, call_id: str) -> _Call:
        call = self.calls.get(call_id)
        if call is None or call.removed:
            raise _not_found("call", call_id)
        return call

    def get_call(self, request: httpx.Request, call_id: str) -> httpx.Response:
        with self._lock:
            call = self._call(call_id)
            data = self._call_json(call, self.now())
        links = {"self": f"/calls/{call_id}", "legs": f"/calls/{call_id}/legs"}
        return _envelope([data], links=links, pagination=_zeros())

    def list_calls(self, request: httpx.Request) -> httpx.Response:
        page, per_page = _paging(request, set())
        with self._lock:
            now = self.now()
            chosen = sorted((c for c in self.calls.values() if not c.removed),
                            key=lambda c: c.created, reverse=True)
            data = [{**self._call_json(c, now), "_links": {
                "self": f"/calls/{c.id}", "legs": f"/calls/{c.id}/legs"}} for c in chosen]
        return _page(data, page, per_page, "/calls")

    def hangup_call(self, request: httpx.Request, call_id: str) -> httpx.Response:
        with self._lock:
            call = self._call(call_id)
            t = round(self.now() - call.created, 3)
            if t < call.ended:
                self._cut(call, t)
            call.removed = True
        return httpx.Response(204)

    def _cut(self, call: _Call, t: float) -> None:
        """End the call at ``t``: what had not happened by then never happens; a recording
        under way stops there."""
        call.events = [e for e in call.events if e.at <= t]
        call.events += [TraceEvent(t, TraceKind.HUNG_UP, None, {"by": "api"}),
                        TraceEvent(t, TraceKind.COMPLETED, None, {"reason": "hangup"})]
        call.ended = t
        kept = []
        for leg in call.legs:
            if leg.created > t:
                continue
            if leg.ended > t:
                leg.ended = t
                leg.final = "hangup"
            kept.append(leg)
        call.legs = kept
        for rec in [r for r in self.recordings.values() if r.call_id == call.id]:
            if rec.started >= t:
                del self.recordings[rec.id]
                for tr in rec.transcriptions:
                    self.transcriptions.pop(tr.id, None)
            elif rec.ended > t:
                rec.duration = round(t - rec.started, 3)
                for tr in rec.transcriptions:
                    self.transcriptions.pop(tr.id, None)
                rec.transcriptions = []

    def _status(self, call: _Call, t: float) -> str:
        if not call.placed or t <= 0:
            return "queued"
        first = call.legs[0] if call.legs else None
        if t >= call.ended:
            if first is not None and first.answered is None and first.final in (
                    "busy", "no_answer", "failed"):
                return first.final
            return "ended"
        if first is not None and first.answered is not None and t >= first.answered:
            return "ongoing"
        return "starting"

    def _call_json(self, call: _Call, now: float) -> dict[str, Any]:
        t = round(now - call.created, 3)
        changes = [0.0]
        for leg in self._legs_at(call, t):
            changes += [x for x in (leg.created, leg.ringing, leg.answered, leg.ended)
                        if x is not None and x <= t]
        ended = call.placed and t >= call.ended
        return {
            "id": call.id, "status": self._status(call, t), "source": call.setup.from_,
            "destination": call.setup.to, "createdAt": self._iso(call.created),
            "updatedAt": self._iso(call.created + max(changes)),
            "endedAt": self._iso(call.created + call.ended) if ended else None,
        }

    @staticmethod
    def _legs_at(call: _Call, t: float) -> list[_Leg]:
        return [leg for leg in call.legs if call.placed and t > 0 and leg.created <= t]

    def _leg_json(self, call: _Call, leg: _Leg, t: float) -> dict[str, Any]:
        answered = leg.answered is not None and leg.answered <= t
        ended = t >= leg.ended
        if ended:
            status = leg.final
        elif answered:
            status = "ongoing"
        elif leg.ringing is not None and t >= leg.ringing and t > leg.created:
            status = "ringing"
        else:
            status = "starting"
        talked = (min(t, leg.ended) - leg.answered) if answered and leg.answered is not None \
            else 0.0
        seconds = round(max(talked, 0.0))
        changes = [x for x in (leg.created, leg.ringing, leg.answered, leg.ended)
                   if x is not None and x <= t]
        return {
            "id": leg.id, "callId": call.id, "source": leg.source,
            "destination": leg.destination, "status": status, "direction": leg.direction,
            "cost": round(0.01 * math.ceil(seconds / 60), 4), "currency": "EUR",
            "duration": seconds, "createdAt": self._iso(call.created + leg.created),
            "updatedAt": self._iso(call.created + max(changes)),
            "answeredAt": self._iso(call.created + leg.answered)
            if answered and leg.answered is not None else None,
            "endedAt": self._iso(call.created + leg.ended) if ended else None,
            "_links": {"self": f"/calls/{call.id}/legs/{leg.id}"},
        }

    def list_legs(self, request: httpx.Request, call_id: str) -> httpx.Response:
        page, per_page = _paging(request, set())
        with self._lock:
            call = self._call(call_id)
            t = round(self.now() - call.created, 3)
            data = [self._leg_json(call, leg, t) for leg in self._legs_at(call, t)]
        return _page(data, page, per_page, f"/calls/{call_id}/legs")

    def get_leg(self, request: httpx.Request, call_id: str, leg_id: str) -> httpx.Response:
        with self._lock:
            call = self._call(call_id)
            t = round(self.now() - call.created, 3)
            leg = next((x for x in self._legs_at(call, t) if x.id == leg_id), None)
            if leg is None:
                raise _not_found("leg", leg_id)
            data = self._leg_json(call, leg, t)
        return _envelope([data], links=data.pop("_links"))

    # Recordings and transcriptions -------------------------------------------------------

    def _recording(self, rid: str, call_id: str | None = None, leg_id: str | None = None
                   ) -> tuple[_Call, _Recording]:
        rec = self.recordings.get(rid)
        call = self.calls.get(rec.call_id) if rec is not None else None
        if rec is None or call is None or rec.deleted or (
                call_id is not None and (call.removed or rec.call_id != call_id)) or (
                leg_id is not None and rec.leg_id != leg_id) or (
                self.now() < call.created + rec.started):
            raise _not_found("recording", rid)
        return call, rec

    def _done(self, call: _Call, rec: _Recording) -> bool:
        return self.now() >= call.created + rec.ended + self.processing_seconds

    def _recording_json(self, call: _Call, rec: _Recording) -> dict[str, Any]:
        done = self._done(call, rec)
        nested = f"/calls/{call.id}/legs/{rec.leg_id}/recordings/{rec.id}"
        t = self.now() - call.created
        return {
            "id": rec.id, "format": "wav", "legId": rec.leg_id,
            "status": "done" if done else "recording",
            "duration": round(min(rec.duration, max(t - rec.started, 0.0))),
            "type": rec.kind, "createdAt": self._iso(call.created + rec.started),
            "updatedAt": self._iso(call.created + (rec.ended + self.processing_seconds
                                                   if done else rec.started)),
            "deletedAt": None,
            "_links": {"self": f"/recordings/{rec.id}", "file": f"{nested}.wav"},
        }

    def list_recordings(self, request: httpx.Request, call_id: str, leg_id: str
                        ) -> httpx.Response:
        page, per_page = _paging(request, set())
        with self._lock:
            call = self._call(call_id)
            t = self.now() - call.created
            if not any(leg.id == leg_id for leg in self._legs_at(call, t)):
                raise _not_found("leg", leg_id)
            data = [self._recording_json(call, r) for r in self.recordings.values()
                    if r.call_id == call_id and r.leg_id == leg_id and not r.deleted
                    and r.started <= t]
        return _page(data, page, per_page, f"/calls/{call_id}/legs/{leg_id}/recordings")

    def get_recording(self, request: httpx.Request, rid: str, call_id: str | None = None,
                      leg_id: str | None = None) -> httpx.Response:
        with self._lock:
            call, rec = self._recording(rid, call_id, leg_id)
            data = self._recording_json(call, rec)
        return _envelope([data], links=data["_links"], pagination=_zeros())

    def get_nested_recording(self, request: httpx.Request, call_id: str, leg_id: str,
                             rid: str) -> httpx.Response:
        return self.get_recording(request, rid, call_id, leg_id)

    def recording_media(self, request: httpx.Request, rid: str, call_id: str | None = None,
                        leg_id: str | None = None) -> httpx.Response:
        with self._lock:
            call, rec = self._recording(rid, call_id, leg_id)
            if not self._done(call, rec):
                raise _Fail(404, 13, f"Recording `{rid}` has no media yet.")
        return httpx.Response(200, content=tone_wav(max(rec.duration, 0.1)),
                              headers={"content-type": "audio/wav"})

    def nested_media(self, request: httpx.Request, call_id: str, leg_id: str, rid: str
                     ) -> httpx.Response:
        return self.recording_media(request, rid, call_id, leg_id)

    def delete_recording(self, request: httpx.Request, rid: str, call_id: str | None = None,
                         leg_id: str | None = None) -> httpx.Response:
        with self._lock:
            _, rec = self._recording(rid, call_id, leg_id)
            rec.deleted = True
            for tr in rec.transcriptions:
                self.transcriptions.pop(tr.id, None)
        return httpx.Response(204)

    def delete_nested_recording(self, request: httpx.Request, call_id: str, leg_id: str,
                                rid: str) -> httpx.Response:
        return self.delete_recording(request, rid, call_id, leg_id)

    def _transcription_status(self, tr: _Transcription) -> str:
        now = self.now()
        if now >= tr.requested + self.transcription_seconds:
            return "done"
        return "transcribing" if now > tr.requested else "created"

    def _transcription_json(self, tr: _Transcription) -> dict[str, Any]:
        status = self._transcription_status(tr)
        return {"id": tr.id, "recordingId": tr.recording_id, "status": status, "error": None,
                "createdAt": self._iso(tr.requested),
                "updatedAt": self._iso(min(self.now(), tr.requested
                                           + self.transcription_seconds)),
                "_links": {"self": f"/transcriptions/{tr.id}",
                           "file": f"/transcriptions/{tr.id}.txt"}}

    def list_transcriptions(self, request: httpx.Request, rid: str,
                            call_id: str | None = None, leg_id: str | None = None
                            ) -> httpx.Response:
        page, per_page = _paging(request, set())
        with self._lock:
            _, rec = self._recording(rid, call_id, leg_id)
            data = [self._transcription_json(tr) for tr in rec.transcriptions
                    if tr.requested <= self.now()]
        return _page(data, page, per_page, f"/recordings/{rid}/transcriptions")

    def nested_transcriptions(self, request: httpx.Request, call_id: str, leg_id: str,
                              rid: str) -> httpx.Response:
        return self.list_transcriptions(request, rid, call_id, leg_id)

    def create_transcription(self, request: httpx.Request, rid: str,
                             call_id: str | None = None, leg_id: str | None = None
                             ) -> httpx.Response:
        body = _json(request, optional=True)
        _only(body, {"language"})
        language = body.get("language")
        if language is not None and language not in _TRANSCRIPTION_LANGUAGES:
            raise _Fail(422, 10, f"language must be one of "
                                 f"{', '.join(sorted(_TRANSCRIPTION_LANGUAGES))}")
        with self._lock:
            call, rec = self._recording(rid, call_id, leg_id)
            if not self._done(call, rec):
                raise _Fail(422, 10, f"Recording `{rid}` is not done yet.")
            tr = _Transcription(str(uuid.uuid4()), rec.id, self.now(),
                                rec.transcript or TRANSCRIPTION, language)
            rec.transcriptions.append(tr)
            self.transcriptions[tr.id] = tr
            data = self._transcription_json(tr)
        return _envelope([data], status=201, links=data["_links"])

    def nested_create_transcription(self, request: httpx.Request, call_id: str, leg_id: str,
                                    rid: str) -> httpx.Response:
        return self.create_transcription(request, rid, call_id, leg_id)

    def _transcription(self, tid: str) -> _Transcription:
        tr = self.transcriptions.get(tid)
        if tr is None or tr.requested > self.now():
            raise _not_found("transcription", tid)
        return tr

    def get_transcription(self, request: httpx.Request, tid: str) -> httpx.Response:
        with self._lock:
            data = self._transcription_json(self._transcription(tid))
        return _envelope([data], links=data["_links"])

    def transcription_text(self, request: httpx.Request, tid: str) -> httpx.Response:
        with self._lock:
            tr = self._transcription(tid)
            if self._transcription_status(tr) != "done":
                raise _Fail(404, 13, f"Transcription `{tid}` is not done yet.")
        return httpx.Response(200, text=tr.text,
                              headers={"content-type": "text/plain; charset=utf-8"})

    # Call flows --------------------------------------------------------------------------

    def _flow_json(self, flow: dict[str, Any]) -> dict[str, Any]:
        return {**flow, "_links": {"self": f"/call-flows/{flow['id']}"}}

    def list_flows(self, request: httpx.Request) -> httpx.Response:
        page, per_page = _paging(request, set())
        with self._lock:
            data = [self._flow_json(f) for f in self.flows.values()]
        return _page(data, page, per_page, "/call-flows")

    def create_flow(self, request: httpx.Request) -> httpx.Response:
        flow = _check_flow(_json(request), "")
        with self._lock:
            now = self._iso(self.now())
            flow_id = str(uuid.uuid4())
            stored = {"id": flow_id, **flow, "record": bool(flow.get("record", False)),
                      "default": False, "createdAt": now, "updatedAt": now}
            for step in stored["steps"]:
                step.setdefault("id", str(uuid.uuid4()))
            self.flows[flow_id] = stored
            data = self._flow_json(stored)
        return _envelope([data], status=201, links={"self": "/call-flows?page=1"},
                         pagination={"totalCount": 1, "pageCount": 1, "currentPage": 1,
                                     "perPage": 10})

    def get_flow(self, request: httpx.Request, flow_id: str) -> httpx.Response:
        with self._lock:
            flow = self.flows.get(flow_id)
            if flow is None:
                raise _not_found("call flow", flow_id)
            data = self._flow_json(flow)
        return _envelope([data], links=data["_links"])

    def update_flow(self, request: httpx.Request, flow_id: str) -> httpx.Response:
        flow = _check_flow(_json(request), "")
        with self._lock:
            stored = self.flows.get(flow_id)
            if stored is None:
                raise _not_found("call flow", flow_id)
            stored.update(flow, updatedAt=self._iso(self.now()))
            for step in stored["steps"]:
                step.setdefault("id", str(uuid.uuid4()))
            data = self._flow_json(stored)
        return _envelope([data], links=data["_links"])

    def delete_flow(self, request: httpx.Request, flow_id: str) -> httpx.Response:
        with self._lock:
            if self.flows.pop(flow_id, None) is None:
                raise _not_found("call flow", flow_id)
        return httpx.Response(204)

    # Webhooks ----------------------------------------------------------------------------

    def _webhook_json(self, hook: dict[str, Any]) -> dict[str, Any]:
        return {**hook, "_links": {"self": f"/webhooks/{hook['id']}"}}

    def _check_webhook(self, request: httpx.Request) -> dict[str, Any]:
        body = _json(request)
        _only(body, {"url", "token", "events"})
        _http_url(body.get("url"), "url")
        if body.get("token") is not None and not isinstance(body["token"], str):
            raise _Fail(422, 10, "token must be a string")
        events = body.get("events")
        if events is not None and not (isinstance(events, list)
                                       and all(isinstance(e, str) for e in events)):
            raise _Fail(422, 10, "events must be a list of strings")
        return body

    def list_webhooks(self, request: httpx.Request) -> httpx.Response:
        page, per_page = _paging(request, set())
        with self._lock:
            data = [self._webhook_json(h) for h in self.webhooks.values()]
        return _page(data, page, per_page, "/webhooks")

    def create_webhook(self, request: httpx.Request) -> httpx.Response:
        body = self._check_webhook(request)
        with self._lock:
            if len(self.webhooks) >= MAX_WEBHOOKS:
                raise _Fail(422, 10, f"An account has at most {MAX_WEBHOOKS} webhooks")
            now = self._iso(self.now())
            hook = {"id": str(uuid.uuid4()), **body, "createdAt": now, "updatedAt": now}
            self.webhooks[hook["id"]] = hook
            data = self._webhook_json(hook)
        return _envelope([data], status=201, links={"self": "/webhooks?page=1"},
                         pagination={"totalCount": 1, "pageCount": 1, "currentPage": 1,
                                     "perPage": 10})

    def get_webhook(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        with self._lock:
            hook = self.webhooks.get(hook_id)
            if hook is None:
                raise _not_found("webhook", hook_id)
            data = self._webhook_json(hook)
        return _envelope([data], links=data["_links"])

    def update_webhook(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        body = self._check_webhook(request)
        with self._lock:
            hook = self.webhooks.get(hook_id)
            if hook is None:
                raise _not_found("webhook", hook_id)
            hook.update(body, updatedAt=self._iso(self.now()))
            data = self._webhook_json(hook)
        return _envelope([data], links=data["_links"])

    def delete_webhook(self, request: httpx.Request, hook_id: str) -> httpx.Response:
        with self._lock:
            if self.webhooks.pop(hook_id, None) is None:
                raise _not_found("webhook", hook_id)
        return httpx.Response(204)

    # Requests made on MessageBird's behalf ------------------------------------------------

    def _deliver(self, method: str, url: str, body: bytes | None,
                 headers: Mapping[str, str]) -> tuple[int, str]:
        """Send a runner's fetchCallFlow or webhook, signed as MessageBird signs (unless the
        runner signed it already)."""
        if self.http is None:
            self.http = NetworkHttp()
        sent = dict(headers)
        if self.signing_key and not any(k.lower() == "messagebird-signature-jwt"
                                        for k in sent):
            sent["MessageBird-Signature-JWT"] = signature_jwt(self.signing_key, url, body)
        status, answer = self.http(method, url, body, sent)
        with self._lock:
            self.deliveries.append(Delivery(method, url, body, sent, status, answer))
        return status, answer


# Routes: (method, path, handler) -----------------------------------------------------------

_H = Callable[..., httpx.Response]
_ID = r"([^/]+?)"
_NESTED = r"/calls/([^/]+)/legs/([^/]+)/recordings/"
_ROUTE_TABLE: list[tuple[str, str, _H]] = [
    ("POST", r"/calls", FakeMessageBird.create_call),
    ("GET", r"/calls", FakeMessageBird.list_calls),
    ("GET", rf"/calls/{_ID}", FakeMessageBird.get_call),
    ("DELETE", rf"/calls/{_ID}", FakeMessageBird.hangup_call),
    ("GET", r"/calls/([^/]+)/legs", FakeMessageBird.list_legs),
    ("GET", r"/calls/([^/]+)/legs/([^/]+)", FakeMessageBird.get_leg),
    ("GET", r"/calls/([^/]+)/legs/([^/]+)/recordings", FakeMessageBird.list_recordings),
    ("GET", _NESTED + r"([^/]+)\.wav", FakeMessageBird.nested_media),
    ("GET", _NESTED + _ID, FakeMessageBird.get_nested_recording),
    ("DELETE", _NESTED + _ID, FakeMessageBird.delete_nested_recording),
    ("GET", _NESTED + r"([^/]+)/transcriptions", FakeMessageBird.nested_transcriptions),
    ("POST", _NESTED + r"([^/]+)/transcriptions", FakeMessageBird.nested_create_transcription),
    ("GET", r"/recordings/([^/]+)\.wav", FakeMessageBird.recording_media),
    ("GET", rf"/recordings/{_ID}", FakeMessageBird.get_recording),
    ("DELETE", rf"/recordings/{_ID}", FakeMessageBird.delete_recording),
    ("GET", r"/recordings/([^/]+)/transcriptions", FakeMessageBird.list_transcriptions),
    ("POST", r"/recordings/([^/]+)/transcriptions", FakeMessageBird.create_transcription),
    ("GET", r"/transcriptions/([^/]+)\.txt", FakeMessageBird.transcription_text),
    ("GET", rf"/transcriptions/{_ID}", FakeMessageBird.get_transcription),
    ("GET", r"/call-flows", FakeMessageBird.list_flows),
    ("POST", r"/call-flows", FakeMessageBird.create_flow),
    ("GET", r"/call-flows/([^/]+)", FakeMessageBird.get_flow),
    ("PUT", r"/call-flows/([^/]+)", FakeMessageBird.update_flow),
    ("DELETE", r"/call-flows/([^/]+)", FakeMessageBird.delete_flow),
    ("GET", r"/webhooks", FakeMessageBird.list_webhooks),
    ("POST", r"/webhooks", FakeMessageBird.create_webhook),
    ("GET", r"/webhooks/([^/]+)", FakeMessageBird.get_webhook),
    ("PUT", r"/webhooks/([^/]+)", FakeMessageBird.update_webhook),
    ("DELETE", r"/webhooks/([^/]+)", FakeMessageBird.delete_webhook),
]
_ROUTES = [(method, re.compile(path), handler) for method, path, handler in _ROUTE_TABLE]
_TRANSCRIPTION_LANGUAGES = frozenset({"de-DE", "en-AU", "en-UK", "en-US", "es-ES", "es-LA",
                                      "fr-FR", "it-IT", "nl-NL", "pt-BR"})


# Helpers ------------------------------------------------------------------------------


def _zeros() -> dict[str, int]:
    return {"totalCount": 0, "pageCount": 0, "currentPage": 0, "perPage": 0}


def _error(status: int, code: int, message: str) -> httpx.Response:
    return httpx.Response(status, json={"data": None, "errors": [{"code": code,
                                                                   "message": message}],
                                        "pagination": _zeros()})


def _envelope(data: list[dict[str, Any]], *, status: int = 200,
              links: Mapping[str, str] | None = None,
              pagination: Mapping[str, int] | None = None) -> httpx.Response:
    body: dict[str, Any] = {"data": data}
    if links:
        body["_links"] = dict(links)
    if pagination is not None:
        body["pagination"] = dict(pagination)
    return httpx.Response(status, json=body)


def _paging(request: httpx.Request, extra: set[str]) -> tuple[int, int]:
    query = dict(request.url.params)
    unknown = sorted(set(query) - {"page", "perPage"} - extra)
    if unknown:
        raise _Fail(422, 10, f"Unknown query parameter(s): {', '.join(unknown)}")
    values = []
    for name, default in (("page", 1), ("perPage", 10)):
        text = query.get(name, str(default))
        if not text.isdigit() or int(text) < 1:
            raise _Fail(422, 10, f"{name} must be a positive integer")
        values.append(int(text))
    return values[0], values[1]


def _page(items: list[dict[str, Any]], page: int, per_page: int, path: str
          ) -> httpx.Response:
    pages = math.ceil(len(items) / per_page) if items else 0
    start = (page - 1) * per_page
    return _envelope(items[start:start + per_page], links={"self": f"{path}?page={page}"},
                     pagination={"totalCount": len(items), "pageCount": pages,
                                 "currentPage": page, "perPage": per_page})


def _json(request: httpx.Request, *, optional: bool = False) -> dict[str, Any]:
    if not request.content and optional:
        return {}
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Fail(415, 21, f"Content type '{kind or 'none'}' not supported")
    try:
        body = json.loads(request.content)
    except (ValueError, UnicodeDecodeError):
        raise _Fail(400, 21, "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _Fail(422, 10, "The request body must be a JSON object")
    return body


def _only(body: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise _Fail(422, 10, f"Unknown field(s): {', '.join(prefix + u for u in unknown)}")


def _http_url(value: Any, name: str) -> None:
    if not isinstance(value, str) or not re.match(r"https?://[^/\s]+", value):
        raise _Fail(422, 10, f"{name} must be an http(s) URL")


def _check_flow(value: Any, prefix: str) -> dict[str, Any]:
    """A call flow as MessageBird takes it: ``{title?, record?, steps: [...]}``, each step
    an ``action`` of the documented set with an ``options`` object."""
    if not isinstance(value, dict):
        raise _Fail(422, 10, f"{prefix or 'the call flow'} must be an object")
    _only(value, _FLOW_FIELDS, prefix)
    steps = value.get("steps")
    if not isinstance(steps, list) or not steps:
        raise _Fail(422, 9, f"{prefix}steps is required (a non-empty list)")
    if "record" in value and not isinstance(value["record"], bool):
        raise _Fail(422, 10, f"{prefix}record must be a boolean")
    if "title" in value and not isinstance(value["title"], str):
        raise _Fail(422, 10, f"{prefix}title must be a string")
    ids = set()
    for index, step in enumerate(steps):
        where = f"{prefix}steps[{index}]"
        if not isinstance(step, dict):
            raise _Fail(422, 10, f"{where} must be an object")
        _only(step, _STEP_FIELDS, f"{where}.")
        if step.get("action") not in ACTIONS:
            raise _Fail(422, 10, f"{where}.action must be one of {', '.join(sorted(ACTIONS))}")
        if "options" in step and not isinstance(step["options"], dict):
            raise _Fail(422, 10, f"{where}.options must be an object")
        if "id" in step:
            if not isinstance(step["id"], str) or step["id"] in ids:
                raise _Fail(422, 10, f"{where}.id must be a unique string")
            ids.add(step["id"])
    for index, step in enumerate(steps):
        target = step.get("onKeypressGoto")
        if target is not None and target not in ids:
            raise _Fail(422, 10, f"{prefix}steps[{index}].onKeypressGoto names no step")
    copied: dict[str, Any] = json.loads(json.dumps(value))
    return copied


def iso_time(when: datetime) -> str:
    """``2017-02-16T10:52:00Z``, as MessageBird writes times."""
    return when.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")
