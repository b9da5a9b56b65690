"""``FakeBird``: a stateful, in-memory Bird Voice API (api.bird.com) for tests.

Paths, bodies, status codes and error shapes follow univoice's spec of the API
(``tests/specs/bird-voice.openapi.yml``, notes in ``tests/specs/CORRECTIONS.md``):
requests carry ``Authorization: AccessKey <key>``; calls live under
``/workspaces/{ws}/channels/{ch}/calls`` (create and every ``PATCH`` answer **202** with
the call object, ``callFlow: {id, commands[]}`` included), the workspace's calls log is
``/workspaces/{ws}/channels/calls`` (``channelId``, ``tag``), recordings live under
``/workspaces/{ws}/recordings`` (media: ``{id}.mp3``); lists are ``{results,
nextPageToken}`` paged by ``limit`` + ``pageToken``; errors are the docs' ``error.detailed``
shape ``{code, message, details?}`` (as the cassettes have them). Use it in process or over
HTTP:

    fake = FakeBird(http=AppHttp(voice_app))
    voice = Voice("bird", workspace_id=WORKSPACE_ID, channel_id=CHANNEL_ID,
                  access_key=ACCESS_KEY, client=httpx.Client(transport=fake.transport()))
    LiveServer(fake.asgi())           # and api_url = the server's URL (``base_url``)

**How a call runs.** The call engine is the adapter's own interpreter
(``univoice_bird.interpreter.run_call``) against the callee's ``CalleeScript``; it runs in
virtual time, at once. With ``background=False`` (in process) the create runs the whole
call before answering; with ``background=True`` (over HTTP) each call runs in a thread of
its own and the create answers at once (``wait(call_id)`` joins it). As it runs the engine
POSTs Bird's callbacks to the call's ``notification.url`` (else to ``subscription_url``, the
webhook subscription), each signed as Bird signs (``univoice_bird.events.sign`` with
``signing_key``, over the exact URL, the timestamp in Unix milliseconds so that no two
deliveries share a signature): ``starting``, ``ringing``, ``ongoing`` (if answered), one
after each ``gather`` and the final status (``completed``, ``no-answer``, ``busy``,
``failed``). Each body is the call object as the engine knows it then (or, with
``envelope=True``, ``{"event": "voice.outbound"|"voice.inbound", "payload": call}``). A
callback answered with a 5xx (or not at all) is delivered again, up to ``redeliveries``
times; with ``duplicates=True`` every callback taken is delivered once more, signed afresh.

**Gathers and pushes** (univoice's documented reading, ``univoice_bird.events``: Bird
documents no callback carrying the keys). After each ``gather`` the engine posts the call
object with status ``ongoing`` and ``callFlow: {id, commands}`` in which that gather is
``{..., "command": "gather", "status": "completed", "keys": "<digits>"}``. A ``PATCH`` with a
``callFlow`` on a call whose engine is running replaces its call flow: the engine takes it
where it next looks, before its first command and after each gather (the interpreter's
``on_gather`` answer: "replaced at once"). The engine cannot interleave real time with its
virtual call, so after a gather it takes a push that has arrived by the time the callback
was answered, and while its call flow holds (the next command is a ``pause``) waits up to
``push_wait`` real seconds for one; without one the hold runs out and the call flow goes on
(univoice's: a hangup). ``{"status": "completed"}`` on a running call ends it where the
engine next looks.

**Inbound** (``incoming``): the engine posts ``starting`` and ``ringing`` (direction
``incoming``) to ``subscription_url`` and waits up to ``push_wait`` for a ``PATCH`` whose
call flow starts with ``answer`` (one that does not is refused, 422: the call is not
answered). Answered, the pushed call flow runs; not, the caller rings out (``no-answer``).

**The REST view** of a call whose engine has finished is a function of the virtual clock
(``advance``): ``accepted`` (outbound) or ``starting`` (inbound) at its creation,
``ringing`` until the answer, ``ongoing``, then its final status; while its engine runs,
the status it last reported. A ``PATCH`` at virtual time ``t`` on a call that is live then
(the engine done) cuts it there: a hangup ends it (``completed``); a new call flow runs from
``t`` with the rest of the callee's script (keys and transfers not yet used, the hang-up
moved), sending no further callbacks. A ``PATCH`` made while the call's final callback is
being delivered finds the call ended (409). Recordings are made where the trace recorded
something (a ``record`` command: origin ``call-command-record``; a recorded bridge:
``bridge-call``; the create's ``record``: ``create-call``, the whole call); each is listed
from its start, ``ongoing`` while being made, ``completed`` when it ends, ``available``
(media: silent MPEG audio of its length) ``processing_seconds`` later.

Where Bird's behaviour is unconfirmed the fake picks one and says so: lists are newest
first; a ``PATCH`` on an ended call is a 409; the error codes (``NotFound``,
``AccessDenied``, ``InvalidPayload``, ``CallNotActive``) and wording are the cassettes'
authored ones. Where it is stricter than Bird is known to be (unknown body fields and query
parameters, ``answer``/``ringing`` in a create's call flow, a ``from`` that is not one of
the channel's ``numbers``), it answers 422 so that a misspelt field cannot pass silently.
"""

from __future__ import annotations

import base64
import hmac
import json
import math
import re
import threading
import time
import uuid
from collections.abc import Callable, Iterable, Mapping
from dataclasses import dataclass, field, replace
from datetime import datetime
from typing import Any
from urllib.parse import unquote, urlsplit

import httpx

from tests.support.fake_messagebird import Http, NetworkHttp
from univoice.models import EndReason
from univoice.simulator.backend import Clock
from univoice.simulator.script import CalleeScript
from univoice.simulator.trace import Trace, TraceEvent, TraceKind
from univoice_bird import events as bird_events
from univoice_bird.interpreter import CallRun, CallSetup, run_call
from univoice_bird.vocab import parse_time

ACCESS_KEY = "bird-test-access-key-0123456789"
SIGNING_KEY = "bird-test-signing-key-9876543210"
WORKSPACE_ID = "00000000-0000-4000-8000-000000000001"
CHANNEL_ID = "00000000-0000-4000-8000-000000000002"
API_URL = "https://api.bird.com"
NUMBER = "+31201234567"  # the channel's number: a create without "from" calls from it
MAX_COMMANDS = 20
MAX_TAGS = 10
ZERO_TIME = "0001-01-01T00:00:00Z"  # Go's zero time: an unset endedAt (docs example)

CREATE_COMMANDS = frozenset({"hangup", "playback", "say", "gather", "record", "bridge",
                             "pause"})
PATCH_COMMANDS = CREATE_COMMANDS | {"answer", "ringing"}
_CREATE_FIELDS = frozenset({"to", "from", "ringTimeout", "maxDuration", "sendKeys", "record",
                            "recordStart", "flowStart", "stereo", "callFlow", "scheduledFor",
                            "notification", "amdSettings", "tags"})
_COMMAND_FIELDS = frozenset({"command", "options", "conditions"})
_E164 = re.compile(r"\+[1-9][0-9]{6,14}")
_SIP = re.compile(r"sips?:[^@\s]+@[^@\s]+")
_CALL_LIST = frozenset({"limit", "pageToken", "startAt", "endAt", "status", "type", "to",
                        "from", "duration", "direction"})
_CALLS_LOG = _CALL_LIST | {"channelId", "id", "tag"}
_RECORDING_LIST = frozenset({"limit", "pageToken", "sourceId", "channelId", "id", "direction",
                             "startAt", "endAt", "from", "to", "status"})
_UNANSWERED = frozenset({"busy", "failed", "no_answer"})
_ATTEMPTS = (TraceKind.GATHERED, TraceKind.NO_INPUT)


@dataclass(frozen=True)
class Delivery:
    """One callback the fake made on Bird's behalf (``again``: a duplicate of one taken)."""

    call_id: str
    kind: str  # "status" or "gather"
    url: str
    body: bytes
    headers: dict[str, str]
    status: int  # 0: no answer (a connection error)
    answer: str
    again: bool = False


# MPEG audio ---------------------------------------------------------------------------------

# MPEG-1 layer III, 128 kbit/s, 44.1 kHz, joint stereo: 417-byte frames of 1152 samples.
_MP3_HEADER = b"\xff\xfb\x90\x64"
_MP3_FRAME = _MP3_HEADER + bytes(413)
MP3_FRAME_SECONDS = 1152 / 44100
_ID3 = b"ID3\x04\x00\x00\x00\x00\x00\x00"


def mp3_silence(seconds: float) -> bytes:
    """``seconds`` of silent MPEG audio (an ID3 header, then whole frames)."""
    return _ID3 + _MP3_FRAME * max(1, math.ceil(seconds / MP3_FRAME_SECONDS))


def mp3_seconds(data: bytes) -> float:
    """The length of what ``mp3_silence`` made (frames counted); ValueError otherwise."""
    if not data.startswith(_ID3) or (len(data) - len(_ID3)) % len(_MP3_FRAME):
        raise ValueError("not the fake's MPEG audio")
    frames = data[len(_ID3):]
    count = len(frames) // len(_MP3_FRAME)
    if any(frames[i * len(_MP3_FRAME):][:4] != _MP3_HEADER for i in range(count)):
        raise ValueError("a frame without its header")
    return count * MP3_FRAME_SECONDS


# State --------------------------------------------------------------------------------------


class _Fail(Exception):
    def __init__(self, status: int, code: str, message: str,
                 details: Mapping[str, list[str]] | None = None) -> None:
        self.status, self.code, self.message = status, code, message
        self.details = dict(details or {})


def _not_found(what: str, key: str) -> _Fail:
    return _Fail(404, "NotFound", f"No {what} found for id '{key}'")


def _invalid(message: str, **details: list[str]) -> _Fail:
    return _Fail(422, "InvalidPayload", message, details)


@dataclass
class _CallFlow:
    """A call flow given to a call: its id, the commands, the keys each gather reported."""

    id: str
    commands: list[dict[str, Any]]
    keys: dict[int, str] = field(default_factory=dict)
    reached: int = -1  # the last command the engine reported (a gather)


@dataclass
class _Recording:
    id: str
    call_id: str
    started: float  # seconds after the call's creation
    duration: float | None  # None: the whole call's (it ends with the call)
    origin: str
    transcribe: bool = False

    def ended(self, call: _Call) -> float:
        return call.ended if self.duration is None else self.started + self.duration


@dataclass
class _Call:
    id: str
    direction: str  # outgoing / incoming
    from_: str
    to: str
    tags: list[str]
    notification: str | None
    created: float  # virtual time of creation
    script: CalleeScript
    record: bool = False
    ring_timeout: float = 30.0
    given: list[_CallFlow] = field(default_factory=list)  # every call flow accepted
    ran: list[_CallFlow] = field(default_factory=list)  # in the order the engine ran them
    live: str = "accepted"  # the status the engine last reported
    engine: str = "idle"  # idle, running, done
    answered: float | None = None  # seconds after creation
    ended: float = math.inf
    final: str | None = None
    end_reason: EndReason | None = None
    events: list[TraceEvent] = field(default_factory=list)
    recordings: list[_Recording] = field(default_factory=list)
    pushed: _CallFlow | None = None  # a call flow the engine has not taken yet
    hang_up: bool = False  # a hangup the engine has not taken yet
    closing: bool = False  # the final callback is being delivered
    thread: threading.Thread | None = None
    error: BaseException | None = None

    @property
    def running(self) -> bool:
        return self.engine != "done"


# The fake -------------------------------------------------------------------------------


class FakeBird:
    """An in-memory Bird Voice API (see the module docstring).

    ``access_key``: the key requests must carry. ``signing_key``: what callbacks are signed
    with. ``callee``/``callees``: the callee's script, by default and per called number.
    ``http``: how callbacks are sent (default: real HTTP). ``numbers``: the channel's
    numbers a create may call from (None: any).
    """

    def __init__(self, *, http: Http | None = None, access_key: str = ACCESS_KEY,
                 signing_key: str | None = SIGNING_KEY, workspace_id: str = WORKSPACE_ID,
                 channel_id: str = CHANNEL_ID, base_url: str = API_URL,
                 numbers: Iterable[str] | None = (NUMBER,), clock: Clock | None = None,
                 callee: CalleeScript | None = None,
                 callees: Mapping[str, CalleeScript] | None = None,
                 subscription_url: str | None = None, background: bool = False,
                 push_wait: float = 5.0, redeliveries: int = 2, duplicates: bool = False,
                 envelope: bool = False, processing_seconds: float = 1.0) -> None:
        self.http = http
        self.access_key = access_key
        self.signing_key = signing_key
        self.workspace_id, self.channel_id = workspace_id, channel_id
        self.base_url = base_url.rstrip("/")
        self.numbers = None if numbers is None else frozenset(numbers)
        self.clock = clock or Clock(speed=1.0, now=lambda: 0.0)
        self.callee = callee or CalleeScript()
        self.callees = dict(callees or {})
        self.subscription_url = subscription_url
        self.background = background
        self.push_wait = push_wait
        self.redeliveries = redeliveries
        self.duplicates = duplicates
        self.envelope = envelope
        self.processing_seconds = processing_seconds
        # How many of the next PATCHes (of any call) answer 500 before one is taken.
        self.fail_patches = 0
        self.calls: dict[str, _Call] = {}
        self.requests: list[httpx.Request] = []
        self.exchanges: list[tuple[httpx.Request, httpx.Response]] = []
        self.deliveries: list[Delivery] = []
        self._lock = threading.RLock()
        self._changed = threading.Condition(self._lock)
        self._last_stamp = 0

    # Driving it --------------------------------------------------------------------------

    def advance(self, seconds: float) -> None:
        self.clock.advance(seconds)

    def now(self) -> float:
        return self.clock()

    def transport(self) -> httpx.MockTransport:
        return httpx.MockTransport(self.handle)

    def asgi(self) -> Any:
        """A Starlette app serving the fake (for uvicorn), handlers in worker threads."""
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
                                       methods=["GET", "POST", "PATCH", "PUT", "DELETE"])])

    def incoming(self, from_: str, to: str, script: CalleeScript | None = None, *,
                 start: bool = True) -> str:
        """An inbound call from ``from_`` to ``to`` (a number of the app's): announced to
        ``subscription_url``; ``start=False`` only registers it (``start`` runs it)."""
        with self._lock:
            call = self._new_call("incoming", from_, to, [], None, script or self.callee)
            call.live = "starting"
        if start:
            self.start(call.id)
        return call.id

    def start(self, call_id: str) -> None:
        """Run a registered call's engine (in a thread with ``background``)."""
        call = self.calls[call_id]
        if self.background:
            call.thread = threading.Thread(target=self._engine, args=(call,),
                                           name=f"bird-call-{call_id[:8]}", daemon=True)
            call.thread.start()
        else:
            self._engine(call)

    def wait(self, call_id: str, timeout: float = 30.0) -> None:
        """Until the call's engine has finished (its final callback delivered)."""
        with self._changed:
            call = self.calls[call_id]
            if not self._changed.wait_for(lambda: not call.running, timeout):
                raise TimeoutError(f"call {call_id} still running after {timeout} s")
        if call.error is not None:
            raise AssertionError(f"the engine of call {call_id} failed") from call.error

    def trace_events(self, call_id: str) -> list[TraceEvent]:
        """What the call did up to now on the virtual clock (times from its creation)."""
        with self._lock:
            call = self.calls[call_id]
            t = self.now() - call.created
            return [e for e in call.events if e.at <= t]

    def trace(self, call_id: str) -> Trace:
        """The call's whole trace, as the simulator would give it (the engine done)."""
        with self._lock:
            call = self.calls[call_id]
            if call.running or call.end_reason is None:
                raise AssertionError(f"call {call_id} has not ended")
            answered = call.answered
            return Trace(call_id=call.id, from_=call.from_, to=call.to,
                         events=list(call.events), end_reason=call.end_reason,
                         answered_at=answered, ended_at=call.ended,
                         duration=0.0 if answered is None else round(call.ended - answered,
                                                                     3))

    def patches(self, call_id: str | None = None) -> list[tuple[dict[str, Any], int]]:
        """Every PATCH received (for ``call_id``): its body and the status answered."""
        found = []
        with self._lock:
            for request, response in self.exchanges:
                if request.method != "PATCH":
                    continue
                if call_id is not None and not request.url.path.endswith(f"/calls/{call_id}"):
                    continue
                try:
                    body = json.loads(request.content)
                except ValueError:
                    body = None
                found.append((body, response.status_code))
        return found

    def call_flows(self, call_id: str) -> list[list[dict[str, Any]]]:
        """The call flows the call's engine ran, in order."""
        with self._lock:
            return [list(f.commands) for f in self.calls[call_id].ran]

    # Dispatch ----------------------------------------------------------------------------

    def handle(self, request: httpx.Request) -> httpx.Response:
        request.read()
        with self._lock:
            self.requests.append(request)
        try:
            response = self._dispatch(request)
        except _Fail as fail:
            body: dict[str, Any] = {"code": fail.code, "message": fail.message}
            if fail.details:
                body["details"] = fail.details
            response = httpx.Response(fail.status, json=body)
        with self._lock:
            self.exchanges.append((request, response))
        return response

    def _dispatch(self, request: httpx.Request) -> httpx.Response:
        base = urlsplit(self.base_url).path.rstrip("/")
        path = request.url.path
        if not path.startswith(base + "/"):
            raise _Fail(404, "NotFound", f"Path {path} not found")
        scheme, _, key = request.headers.get("authorization", "").partition(" ")
        if scheme != "AccessKey" or not hmac.compare_digest(key.strip().encode(),
                                                             self.access_key.encode()):
            raise _Fail(401, "AccessDenied", "The access key is not valid")
        rest = path[len(base):]
        allowed = []
        for method, pattern, handler in _ROUTES:
            found = pattern.fullmatch(rest)
            if found is None:
                continue
            if method != request.method:
                allowed.append(method)
                continue
            parts = [unquote(g) for g in found.groups()]
            if parts[0] != self.workspace_id:
                raise _not_found("workspace", parts[0])
            return handler(self, request, *parts[1:])
        if allowed:
            raise _Fail(405, "MethodNotAllowed", f"Method {request.method} not allowed")
        raise _Fail(404, "NotFound", f"Path {path} not found")

    def _channel(self, channel_id: str) -> None:
        if channel_id != self.channel_id:
            raise _not_found("channel", channel_id)

    # Time --------------------------------------------------------------------------------

    def _iso(self, virtual: float) -> str:
        when: datetime = self.clock.at(virtual)
        return f"{when:%Y-%m-%dT%H:%M:%S}.{when.microsecond // 1000:03d}Z"

    # Calls -------------------------------------------------------------------------------

    def _new_call(self, direction: str, from_: str, to: str, tags: list[str],
                  notification: str | None, script: CalleeScript, **extra: Any) -> _Call:
        call = _Call(str(uuid.uuid4()), direction, from_, to, tags, notification,
                     self.now(), script, **extra)
        self.calls[call.id] = call
        return call

    def create_call(self, request: httpx.Request, channel_id: str) -> httpx.Response:
        self._channel(channel_id)
        body = _json(request)
        _only(body, _CREATE_FIELDS)
        to, from_ = body.get("to"), body.get("from", NUMBER)
        if not isinstance(to, str) or not (_E164.fullmatch(to) or _SIP.fullmatch(to)):
            raise _invalid("The request payload is invalid",
                           to=["is required: an E.164 number with '+' or a SIP URI"])
        if not isinstance(from_, str) or not _E164.fullmatch(from_):
            raise _invalid("The request payload is invalid", **{"from": ["is not a number"]})
        if self.numbers is not None and from_ not in self.numbers:
            raise _invalid("The request payload is invalid",
                           **{"from": ["is not a number of this channel"]})
        commands = _commands(body.get("callFlow"), "callFlow", CREATE_COMMANDS)
        ring = body.get("ringTimeout", 30)
        if not isinstance(ring, int) or isinstance(ring, bool) or not 3 <= ring <= 120:
            raise _invalid("The request payload is invalid",
                           ringTimeout=["must be a whole number of seconds, 3 to 120"])
        duration = body.get("maxDuration", 14400)
        if not isinstance(duration, int) or isinstance(duration, bool) or duration < 1:
            raise _invalid("The request payload is invalid",
                           maxDuration=["must be a whole number of seconds, at least 1"])
        if not isinstance(body.get("record", False), bool):
            raise _invalid("The request payload is invalid", record=["must be a boolean"])
        tags = body.get("tags", [])
        if not (isinstance(tags, list) and len(tags) <= MAX_TAGS
                and all(isinstance(t, str) and t for t in tags)):
            raise _invalid("The request payload is invalid",
                           tags=[f"must be at most {MAX_TAGS} strings"])
        notification = body.get("notification")
        url = None
        if notification is not None:
            if not isinstance(notification, dict):
                raise _invalid("The request payload is invalid",
                               notification=["must be an object"])
            _only(notification, {"url"}, "notification.")
            url = notification.get("url")
            if url is not None and not (isinstance(url, str)
                                        and re.match(r"https?://[^/\s]+", url)):
                raise _invalid("The request payload is invalid",
                               **{"notification.url": ["must be an http(s) URL"]})
        with self._lock:
            call = self._new_call("outgoing", from_, to, [t.lower() for t in tags], url,
                                  self.callees.get(to, self.callee),
                                  record=bool(body.get("record")), ring_timeout=float(ring))
            first = _CallFlow(str(uuid.uuid4()), commands)
            call.given.append(first)
            data = self._call_json(call, 0.0)
        self.start(call.id)
        return httpx.Response(202, json=data)

    def _call(self, call_id: str) -> _Call:
        call = self.calls.get(call_id)
        if call is None:
            raise _not_found("call", call_id)
        return call

    def get_call(self, request: httpx.Request, channel_id: str, call_id: str
                 ) -> httpx.Response:
        self._channel(channel_id)
        with self._lock:
            call = self._call(call_id)
            data = self._call_json(call, self.now() - call.created)
        return httpx.Response(200, json=data)

    def list_calls(self, request: httpx.Request, channel_id: str) -> httpx.Response:
        self._channel(channel_id)
        query = _query(request, _CALL_LIST)
        return self._calls_page(query, lambda call: True)

    def calls_log(self, request: httpx.Request) -> httpx.Response:
        query = _query(request, _CALLS_LOG)
        channels = query.get("channelId") or [self.channel_id]
        tags = {t.lower() for t in query.get("tag") or []}
        ids = set(query.get("id") or [])

        def chosen(call: _Call) -> bool:
            return (self.channel_id in channels and (not tags or bool(tags & set(call.tags)))
                    and (not ids or call.id in ids))

        return self._calls_page(query, chosen)

    def _calls_page(self, query: dict[str, list[str]], chosen: Callable[[_Call], bool]
                    ) -> httpx.Response:
        limit = _limit(query, 1000)
        offset = _token(query)
        start, end = _time(query, "startAt"), _time(query, "endAt")
        with self._lock:
            now = self.now()
            items = []
            for call in reversed(list(self.calls.values())):  # newest first
                data = self._call_json(call, now - call.created)
                if not chosen(call) or not _matches(data, query, ("status", "to", "from",
                                                                  "direction", "type")):
                    continue
                created = self.clock.at(call.created)
                if (start is not None and created < start) or (end is not None
                                                               and created > end):
                    continue
                items.append(data)
        return _page(items, offset, limit)

    def update_call(self, request: httpx.Request, channel_id: str, call_id: str
                    ) -> httpx.Response:
        self._channel(channel_id)
        body = _json(request)
        _only(body, {"status", "callFlow"})
        if not body:
            raise _invalid("The request payload is invalid",
                           status=["give a status or a callFlow"])
        if "status" in body and body["status"] != "completed":
            raise _invalid("The request payload is invalid", status=["must be completed"])
        commands = (_commands(body["callFlow"], "callFlow", PATCH_COMMANDS)
                    if "callFlow" in body else None)
        with self._changed:
            call = self._call(call_id)
            if self.fail_patches > 0:
                self.fail_patches -= 1
                raise _Fail(500, "InternalError", "Something went wrong; try again later")
            t = round(self.now() - call.created, 3)
            if call.closing or (not call.running and t >= call.ended):
                raise _Fail(409, "CallNotActive", f"The call {call_id} has ended")
            if (commands is not None and call.direction == "incoming"
                    and call.answered is None and call.running
                    and commands[0]["command"] != "answer"):
                raise _invalid("The request payload is invalid",
                               callFlow=["an incoming call's first call flow must answer it"])
            flow = None if commands is None else _CallFlow(str(uuid.uuid4()), commands)
            if flow is not None:
                call.given.append(flow)
            if call.running:  # the engine takes it (see the module docstring)
                if body.get("status") == "completed":
                    call.hang_up = True
                elif flow is not None:
                    call.pushed = flow
                self._changed.notify_all()
            elif body.get("status") == "completed":
                self._cut(call, t)
            elif flow is not None:
                self._move(call, flow, t)
            data = self._call_json(call, t)
            if flow is not None and call.running:
                data["callFlow"] = self._flow_json(call, flow)
        return httpx.Response(202, json=data)

    # The engine ------------------------------------------------------------------------

    def _engine(self, call: _Call) -> None:
        with self._lock:
            call.engine = "running"
        try:
            if call.direction == "incoming":
                self._run_inbound(call)
            else:
                self._run_outbound(call)
        except BaseException as exc:  # kept for ``wait``: a broken engine fails the test
            call.error = exc
            if not self.background:
                raise
        finally:
            with self._changed:
                call.engine = "done"
                call.closing = False
                self._changed.notify_all()

    def _setup(self, call: _Call, commands: list[dict[str, Any]]) -> CallSetup:
        return CallSetup(call_id=call.id, from_=call.from_, to=call.to, call_flow=commands,
                         record=call.record, ring_timeout=call.ring_timeout)

    def _run_outbound(self, call: _Call) -> None:
        script = call.script
        self._report(call, "starting")
        self._report(call, "ringing")
        if script.answer not in _UNANSWERED:
            with self._lock:
                call.answered = script.ring_seconds
            self._report(call, "ongoing")
        first = self._take(call, wait=False) or call.given[0]
        if call.hang_up:
            first = self._hangup_flow(call)
        else:
            with self._lock:
                call.ran.append(first)
        run = run_call(self._setup(call, first.commands), script,
                       on_gather=lambda flow, command, keys: self._gathered(
                           call, flow, command, keys))
        self._finish(call, run)

    def _run_inbound(self, call: _Call) -> None:
        script = call.script
        self._report(call, "starting")
        self._report(call, "ringing")
        first = self._take(call, wait=True)
        if first is None or call.hang_up:  # nobody answers: the caller rings out
            self._finish(call, run_call(self._setup(call, []),
                                        script.model_copy(update={"answer": "no_answer"})))
            return
        with self._lock:
            call.ran.append(first)
            call.answered = script.ring_seconds
        self._report(call, "ongoing")
        run = run_call(self._setup(call, first.commands), script,
                       on_gather=lambda flow, command, keys: self._gathered(
                           call, flow, command, keys))
        self._finish(call, run)

    def _take(self, call: _Call, *, wait: bool) -> _CallFlow | None:
        with self._changed:
            if wait and self._url(call) is not None:
                self._changed.wait_for(lambda: call.pushed is not None or call.hang_up,
                                       self.push_wait)
            taken, call.pushed = call.pushed, None
            return taken

    def _hangup_flow(self, call: _Call) -> _CallFlow:
        flow = _CallFlow(str(uuid.uuid4()), [{"command": "hangup"}])
        with self._lock:
            call.given.append(flow)
            call.ran.append(flow)
            call.hang_up = False
        return flow

    def _gathered(self, call: _Call, flow_id: str, command_id: str, keys: str
                  ) -> list[Any] | None:
        """The interpreter's report of a finished gather (``cf-N``, ``cf-N-i``)."""
        number = int(flow_id.removeprefix("cf-"))
        index = int(command_id.rsplit("-", 1)[1])
        with self._lock:
            flow = call.ran[number - 1]
            flow.keys[index] = keys
            flow.reached = index
        self._report(call, "ongoing", kind="gather", flow=flow)
        following = flow.commands[index + 1:index + 2]
        holding = bool(following) and following[0].get("command") == "pause"
        pushed = self._take(call, wait=holding)
        if call.hang_up:
            return self._hangup_flow(call).commands
        if pushed is None:
            return None
        with self._lock:
            call.ran.append(pushed)
        return pushed.commands

    def _finish(self, call: _Call, run: CallRun) -> None:
        trace = run.trace
        with self._lock:
            call.events = list(trace.events)
            call.answered = trace.answered_at
            call.ended = trace.ended_at
            call.final = run.status
            call.end_reason = trace.end_reason
            call.recordings = _recordings(call, call.events, 0.0, whole=call.record)
            call.closing = True
            call.live = run.status
        self._report(call, run.status)

    # Cutting a call at the virtual clock (REST on a call whose engine is done) ----------

    def _cut(self, call: _Call, t: float) -> None:
        """A hangup at ``t``: what had not happened by then never happens."""
        call.events = [e for e in call.events if e.at <= t]
        call.events += [TraceEvent(t, TraceKind.HUNG_UP, None, {"by": "api"}),
                        TraceEvent(t, TraceKind.COMPLETED, None, {"reason": "hangup"})]
        self._truncate(call, t)
        if call.answered is not None and call.answered > t:
            call.answered = None
        call.ended, call.final, call.end_reason = t, "completed", EndReason.HANGUP

    def _truncate(self, call: _Call, t: float) -> None:
        kept = []
        for rec in call.recordings:
            if rec.started > t:
                continue
            if rec.duration is not None and rec.started + rec.duration > t:
                rec.duration = round(t - rec.started, 3)
            kept.append(rec)
        call.recordings = kept

    def _move(self, call: _Call, flow: _CallFlow, t: float) -> None:
        """A new call flow at ``t``: it runs from there with the rest of the script."""
        script = call.script
        if call.answered is None or t < call.answered:  # not answered yet: from the start
            run = run_call(self._setup(call, flow.commands), script)
            call.ran = [flow]
            call.events = list(run.trace.events)
            call.answered, call.ended = run.trace.answered_at, run.trace.ended_at
            call.final, call.end_reason = run.status, run.trace.end_reason
            call.recordings = _recordings(call, call.events, 0.0, whole=call.record)
            return
        before = [e for e in call.events if e.at <= t]
        elapsed = t - call.answered
        rest = script.model_copy(update={
            "ring_seconds": 0.0,
            "keys": script.keys[sum(e.kind in _ATTEMPTS for e in before):],
            "transfers": script.transfers[sum(e.kind == TraceKind.TRANSFER_STARTED
                                              for e in before):],
            "hang_up_after": None if script.hang_up_after is None
            else max(0.0, script.hang_up_after - elapsed)})
        run = run_call(replace(self._setup(call, flow.commands), record=False), rest)
        later = [replace(e, at=round(e.at + t, 3)) for e in run.trace.events
                 if e.kind not in (TraceKind.INITIATED, TraceKind.RINGING,
                                   TraceKind.ANSWERED)]
        self._truncate(call, t)
        call.recordings += _recordings(call, later, 0.0, whole=False)
        call.ran.append(flow)
        call.events = [*before, *later]
        call.ended = round(t + run.trace.ended_at, 3)
        call.final, call.end_reason = run.status, run.trace.end_reason

    # Callbacks ---------------------------------------------------------------------------

    def _url(self, call: _Call) -> str | None:
        return call.notification or self.subscription_url

    def _report(self, call: _Call, status: str, *, kind: str = "status",
                flow: _CallFlow | None = None) -> None:
        """Post a callback saying ``status`` (the call object as the engine knows it)."""
        with self._lock:
            call.live = status
            data = self._call_json(call, math.inf, status=status)
            if flow is not None:
                data["callFlow"] = self._flow_json(call, flow)
            url = self._url(call)
        if url is None:
            return
        payload: Any = data
        if self.envelope:
            label = "voice.inbound" if call.direction == "incoming" else "voice.outbound"
            payload = {"event": label, "payload": data}
        body = json.dumps(payload, separators=(",", ":")).encode()
        status_code = self._send(call, kind, url, body, again=False)
        if self.duplicates and 200 <= status_code < 300:
            self._send(call, kind, url, body, again=True)

    def _send(self, call: _Call, kind: str, url: str, body: bytes, *, again: bool) -> int:
        """Deliver (and redeliver after a 5xx or no answer); the last status."""
        if self.http is None:
            self.http = NetworkHttp()
        status = 0
        for _ in range(1 + (0 if again else self.redeliveries)):
            headers = {"Content-Type": "application/json", **self._signature(url, body)}
            try:
                status, answer = self.http("POST", url, body, headers)
            except httpx.HTTPError as exc:
                status, answer = 0, type(exc).__name__
            with self._lock:
                self.deliveries.append(Delivery(call.id, kind, url, body, headers, status,
                                                answer, again))
            if 0 < status < 500:
                break
        return status

    def _signature(self, url: str, body: bytes) -> dict[str, str]:
        if not self.signing_key:
            return {}
        with self._lock:  # strictly increasing: no two deliveries share a signature
            self._last_stamp = max(self._last_stamp + 1, int(time.time() * 1000))
            stamp = str(self._last_stamp)
        return bird_events.sign(self.signing_key, url, body, timestamp=stamp)

    # JSON ----------------------------------------------------------------------------------

    def _status(self, call: _Call, t: float) -> str:
        if call.running:
            return call.live
        if t >= call.ended:
            return call.final or "completed"
        if t <= 0:
            return "accepted" if call.direction == "outgoing" else "starting"
        if call.answered is None or t < call.answered:
            return "ringing"
        return "ongoing"

    def _party(self, number: str) -> dict[str, Any]:
        kind = "sip" if number.startswith("sip") else "pstn"
        return {"number": {"type": kind, "number": number}}

    def _call_json(self, call: _Call, t: float, *, status: str | None = None
                   ) -> dict[str, Any]:
        """The call at ``t`` seconds after its creation (``inf``: as the engine knows it)."""
        status = status or self._status(call, t)
        data: dict[str, Any] = {
            "id": call.id, "channelId": self.channel_id,
            "originator": self._party(call.from_), "receiver": self._party(call.to),
            "from": call.from_, "to": call.to, "direction": call.direction,
            "status": status, "type": "sip" if call.to.startswith("sip") else "pstn",
            "duration": 0, "createdAt": self._iso(call.created),
            "updatedAt": self._iso(call.created),
            "notification": {"url": call.notification} if call.notification else {},
        }
        changes = [0.0]
        if status not in ("accepted", "starting"):
            data["ringingAt"] = self._iso(call.created)
        if call.answered is not None and t >= call.answered and status not in (
                "accepted", "starting", "ringing"):
            data["answeredAt"] = self._iso(call.created + call.answered)
            changes.append(call.answered)
        if status not in ("accepted", "starting", "ringing", "ongoing"):
            ended = call.ended if math.isfinite(call.ended) else max(changes)
            data["endedAt"] = self._iso(call.created + ended)
            changes.append(ended)
            if call.answered is not None:
                data["duration"] = round(ended - call.answered)
            remote = "callee" if call.direction == "outgoing" else "caller"
            if call.end_reason is EndReason.CALLEE_HANGUP:
                data["hangupSource"] = remote
            if status == "failed":
                data["reason"] = "the call could not be placed"
        data["updatedAt"] = self._iso(call.created + max(changes))
        shown = [f for f in call.ran if f is not None] or call.given[:1]
        if shown:
            data["callFlow"] = self._flow_json(call, shown[-1])
        if call.tags:
            data["tags"] = list(call.tags)
        return data

    def _flow_json(self, call: _Call, flow: _CallFlow) -> dict[str, Any]:
        commands = []
        for index, command in enumerate(flow.commands):
            item: dict[str, Any] = {
                "id": str(uuid.uuid5(uuid.NAMESPACE_URL, f"{flow.id}/{index}")),
                "callId": call.id, "callFlowId": flow.id, "command": command["command"],
                "status": "completed" if index <= flow.reached else "accepted"}
            if index in flow.keys:
                item["keys"] = flow.keys[index]
            commands.append(item)
        return {"id": flow.id, "commands": commands}

    # Recordings ------------------------------------------------------------------------

    def _recording(self, rec_id: str) -> tuple[_Call, _Recording, float]:
        for call in self.calls.values():
            for rec in call.recordings:
                if rec.id == rec_id:
                    t = self.now() - call.created
                    if t < rec.started:
                        break
                    return call, rec, t
        raise _not_found("recording", rec_id)

    def _recording_status(self, call: _Call, rec: _Recording, t: float) -> str:
        end = rec.ended(call)
        if t < end:
            return "ongoing"
        return "completed" if t < end + self.processing_seconds else "available"

    def _recording_json(self, call: _Call, rec: _Recording, t: float) -> dict[str, Any]:
        end = rec.ended(call)
        status = self._recording_status(call, rec, t)
        return {
            "id": rec.id, "source": "call", "sourceId": call.id, "channelId": self.channel_id,
            "direction": call.direction, "originator": self._party(call.from_),
            "receiver": self._party(call.to), "origin": rec.origin, "status": status,
            "duration": round(min(t, end) - rec.started), "stereo": False, "format": "mp3",
            "transcription": rec.transcribe,
            "createdAt": self._iso(call.created + rec.started),
            "updatedAt": self._iso(call.created + (rec.started if status == "ongoing"
                                                   else end)),
            "startedAt": self._iso(call.created + rec.started),
            "endedAt": ZERO_TIME if status == "ongoing" else self._iso(call.created + end),
            "url": f"{self.base_url}/workspaces/{self.workspace_id}/recordings/{rec.id}.mp3",
        }

    def list_recordings(self, request: httpx.Request) -> httpx.Response:
        query = _query(request, _RECORDING_LIST)
        limit, offset = _limit(query, 99), _token(query)
        start, end = _time(query, "startAt"), _time(query, "endAt")
        with self._lock:
            items = []
            for call in reversed(list(self.calls.values())):
                t = self.now() - call.created
                for rec in sorted(call.recordings, key=lambda r: -r.started):
                    if t < rec.started:
                        continue
                    data = self._recording_json(call, rec, t)
                    if not _matches(data, query, ("sourceId", "channelId", "id", "direction",
                                                  "status")):
                        continue
                    if not _matches({"from": call.from_, "to": call.to}, query,
                                    ("from", "to")):
                        continue
                    began = self.clock.at(call.created + rec.started)
                    if (start is not None and began < start) or (end is not None
                                                                 and began > end):
                        continue
                    items.append(data)
        return _page(items, offset, limit)

    def get_recording(self, request: httpx.Request, rec_id: str) -> httpx.Response:
        with self._lock:
            data = self._recording_json(*self._recording(rec_id))
        return httpx.Response(200, json=data)

    def recording_media(self, request: httpx.Request, rec_id: str) -> httpx.Response:
        with self._lock:
            call, rec, t = self._recording(rec_id)
            if self._recording_status(call, rec, t) != "available":
                raise _Fail(404, "NotFound", f"The recording {rec_id} has no media yet")
            seconds = rec.ended(call) - rec.started
        return httpx.Response(200, content=mp3_silence(seconds),
                              headers={"content-type": "audio/mpeg"})


# Routes: (method, path, handler); the first group is the workspace ----------------------

_H = Callable[..., httpx.Response]
_W = r"/workspaces/([^/]+)"
_ROUTE_TABLE: list[tuple[str, str, _H]] = [
    ("POST", _W + r"/channels/([^/]+)/calls", FakeBird.create_call),
    ("GET", _W + r"/channels/calls", FakeBird.calls_log),
    ("GET", _W + r"/channels/([^/]+)/calls", FakeBird.list_calls),
    ("GET", _W + r"/channels/([^/]+)/calls/([^/]+)", FakeBird.get_call),
    ("PATCH", _W + r"/channels/([^/]+)/calls/([^/]+)", FakeBird.update_call),
    ("GET", _W + r"/recordings", FakeBird.list_recordings),
    ("GET", _W + r"/recordings/([^/]+)\.mp3", FakeBird.recording_media),
    ("GET", _W + r"/recordings/([^/]+)", FakeBird.get_recording),
]
_ROUTES = [(method, re.compile(path), handler) for method, path, handler in _ROUTE_TABLE]


# Helpers ------------------------------------------------------------------------------


def _recordings(call: _Call, events: list[TraceEvent], offset: float, *, whole: bool
                ) -> list[_Recording]:
    """The recordings a trace made: the whole call's (``recording_started``), a recorded
    bridge's (right after the transfer ended) and the record commands'."""
    made: list[_Recording] = []
    wholes = {str(e.data["recording_id"]) for e in events
              if e.kind == TraceKind.RECORDING_STARTED}
    starts = {str(e.data["recording_id"]): e.at for e in events
              if e.kind == TraceKind.RECORDING_STARTED}
    previous: TraceEvent | None = None
    for event in events:
        if event.kind == TraceKind.RECORDED:
            local = str(event.data["recording_id"])
            duration = float(event.data.get("duration") or 0.0)
            if local in wholes:
                if whole:
                    made.append(_Recording(str(uuid.uuid4()), call.id,
                                           round(starts[local] + offset, 3), None,
                                           "create-call"))
            else:
                bridge = previous is not None and previous.kind == TraceKind.TRANSFER_ENDED
                made.append(_Recording(
                    str(uuid.uuid4()), call.id, round(event.at - duration + offset, 3),
                    duration, "bridge-call" if bridge else "call-command-record",
                    bool(event.data.get("transcribe"))))
        if event.kind != TraceKind.TRANSCRIBED:
            previous = event
    return made


def _json(request: httpx.Request) -> dict[str, Any]:
    kind = request.headers.get("content-type", "").split(";")[0].strip().lower()
    if kind != "application/json":
        raise _Fail(415, "UnsupportedMediaType", f"Content type '{kind or 'none'}' not "
                                                 "supported")
    try:
        body = json.loads(request.content)
    except (ValueError, UnicodeDecodeError):
        raise _Fail(400, "InvalidPayload", "The request body is not valid JSON") from None
    if not isinstance(body, dict):
        raise _invalid("The request body must be a JSON object")
    return body


def _only(body: Mapping[str, Any], allowed: Iterable[str], prefix: str = "") -> None:
    unknown = sorted(set(body) - set(allowed))
    if unknown:
        raise _invalid("The request payload is invalid",
                       **{prefix + u: ["is not a known field"] for u in unknown})


def _commands(value: Any, name: str, allowed: frozenset[str]) -> list[dict[str, Any]]:
    """A call flow as Bird takes it: 1 to 20 commands of the documented set."""
    if not isinstance(value, list) or not 1 <= len(value) <= MAX_COMMANDS:
        raise _invalid("The request payload is invalid",
                       **{name: [f"must be a list of 1 to {MAX_COMMANDS} commands"]})
    for index, command in enumerate(value):
        where = f"{name}[{index}]"
        if not isinstance(command, dict):
            raise _invalid("The request payload is invalid", **{where: ["must be an object"]})
        _only(command, _COMMAND_FIELDS, f"{where}.")
        if command.get("command") not in allowed:
            raise _invalid("The request payload is invalid", **{
                f"{where}.command": [f"must be one of {', '.join(sorted(allowed))}"]})
        options = command.get("options", {})
        if not isinstance(options, dict):
            raise _invalid("The request payload is invalid",
                           **{f"{where}.options": ["must be an object"]})
        needed = {"say": "text", "playback": "media", "bridge": "to"}.get(command["command"])
        if needed is not None and needed not in options:
            raise _invalid("The request payload is invalid",
                           **{f"{where}.options.{needed}": ["is required"]})
        conditions = command.get("conditions", [])
        if not (isinstance(conditions, list) and all(
                isinstance(c, dict) and set(c) <= {"variable", "operator", "value"}
                and c.get("operator") in ("eq", "neq") for c in conditions)):
            raise _invalid("The request payload is invalid", **{
                f"{where}.conditions": ["must be {variable, operator (eq, neq), value}"]})
    copied: list[dict[str, Any]] = json.loads(json.dumps(value))
    return copied


def _query(request: httpx.Request, allowed: frozenset[str]) -> dict[str, list[str]]:
    query: dict[str, list[str]] = {}
    for name, value in request.url.params.multi_items():
        query.setdefault(name, []).append(value)
    unknown = sorted(set(query) - allowed)
    if unknown:
        raise _invalid("The request query is invalid",
                       **{u: ["is not a known parameter"] for u in unknown})
    return query


def _limit(query: dict[str, list[str]], maximum: int) -> int:
    text = (query.get("limit") or ["10"])[-1]
    if not text.isdigit() or not 1 <= int(text) <= maximum:
        raise _invalid("The request query is invalid", limit=[f"must be 1 to {maximum}"])
    return int(text)


def _token(query: dict[str, list[str]]) -> int:
    given = query.get("pageToken")
    if not given:
        return 0
    token = given[-1]
    try:
        found = json.loads(base64.urlsafe_b64decode(token.encode() + b"=="))
        offset = found["offset"]
    except (ValueError, TypeError, KeyError):
        raise _invalid("The request query is invalid",
                       pageToken=["is not a token this API gave"]) from None
    if not isinstance(offset, int) or offset < 0:
        raise _invalid("The request query is invalid",
                       pageToken=["is not a token this API gave"])
    return offset


def _time(query: dict[str, list[str]], name: str) -> datetime | None:
    given = query.get(name)
    if not given:
        return None
    found = parse_time(given[-1])
    if found is None:
        raise _invalid("The request query is invalid", **{name: ["must be an RFC 3339 time"]})
    return found


def _matches(data: Mapping[str, Any], query: dict[str, list[str]], names: Iterable[str]
             ) -> bool:
    return all(name not in query or str(data.get(name)) in query[name] for name in names)


def _page(items: list[dict[str, Any]], offset: int, limit: int) -> httpx.Response:
    body: dict[str, Any] = {"results": items[offset:offset + limit]}
    if offset + limit < len(items):
        token = json.dumps({"offset": offset + limit}).encode()
        body["nextPageToken"] = base64.urlsafe_b64encode(token).decode().rstrip("=")
    return httpx.Response(200, json=body)
