"""Provider-shaped fault-injection servers: Bandwidth, MessageBird and Bird impersonated over
real HTTP (uvicorn on 127.0.0.1), their answers built from the cassettes, faults on a script.

Each provider is one ASGI app (``BandwidthDouble``, ``MessageBirdDouble``, ``BirdDouble``).
Its answers are the provider's own recorded answers (``cassettes/<provider>/``, the shapes
the contract tests validate against the provider's OpenAPI) used as templates: a created
call is the cassette's create answer with this call's id, numbers, tag and times filled in.
It keeps what a provider keeps, in memory:

- calls, in creation order, each under the *identity* of the intent that made it (the
  destination number: the tests give every intended call its own), so a call placed twice
  is counted (``placed(key)``, ``duplicates()``);
- the lookups a client makes after a lost create answer, the way each provider answers
  them: Bandwidth ``GET /calls?to&from&minStartTime`` (filtered, ``Link`` paging),
  MessageBird ``GET /calls?page&perPage`` (no filter: newest first, ``pagination``), Bird
  ``GET W/channels/calls?channelId&tag&limit`` (``results`` / ``nextPageToken``);
- calls by id (``GET``), recordings (metadata and media, with ``Range`` support that
  can be switched off: ``ranges=False``).

Time is virtual (``VirtualClock``): each create the server receives moves it one ``step``
on, so calls are ``step`` apart whatever the machine's speed; tests give the same clock to
the provider (``provider.clock``), which dates its reconciling lookups from it.

Faults. Every request is classified by *kind* (``create``, ``lookup``, ``get``,
``recording``, ``media``) and *key* (the intent identity it is about, when it names one).
A fault comes from the FIFO script (``inject(pattern, *specs)``: consumed by the first
request whose ``"KIND METHOD /path"`` matches the fnmatch ``pattern``, before its body
is read), else from the seeded schedule (``FaultSchedule``: a pure function of seed,
kind, key and how many times that kind and key were seen, so a sequential run replays
exactly). The vocabulary extends ``tests.support.fault_server``'s:

    reset                 RST the connection before acting (nothing happens)
    drop                  close (FIN) before acting
    timeout               hold the request unanswered, never act, until the client leaves
    late:<s>              hold unanswered until the client leaves, then act <s> seconds later
    status:<code>[:<ra>]  answer an error without acting (JSON error body in the
                          provider's shape; Retry-After: <ra> when given)
    html:<code>           answer an HTML error page without acting (a gateway's)
    delay:<s>             wait <s> seconds, then act and answer normally
    reset_after           act, then RST without answering
    drop_after            act, then close (FIN) without answering
    timeout_after         act, then hold the answer until the client gives up
    delay_after:<s>       act, then wait <s> seconds before answering
    status_after:<code>[:<ra>]  act, then answer that error
    html_after:<code>     act, then answer an HTML error page
    truncated             act, answer the status with the JSON cut off (framing intact)
    non_json              act, answer the status with a body that is not JSON
    missing_fields        act, answer JSON without the resource's id
    short                 act, send the headers (full Content-Length) and half the
                          body, then close: a body shorter than its Content-Length
    cut:<n>               act, send the headers and <n> bytes of the body, then RST
    cut_close:<n>         act, send the headers and <n> bytes of the body, then close
    stall:<n>             act, send <n> bytes of the body, then hold until the client
                          gives up (a read timeout mid-body)
    slow:<s>              act, answer normally but in 8 pieces, <s> seconds apart

A held request is released when its client disconnects, or after ``hold`` seconds (the
server's bound), or when the server stops. A request whose client has already gone when
the server gets to it is not acted on: a test machine's lag must not become a fault the
schedule did not ask for (``late`` is that fault, on purpose). Connection faults need
uvicorn's HTTP/1.1 protocol, whose transport the app reaches through ``receive``'s owner.

With ``echo_auth=True`` every error page and malformed body quotes the Authorization
header it was sent (a provider leaking credentials back), for redaction checks.

    with ProviderFaultServer(BandwidthDouble(schedule=FaultSchedule(seed=7))) as server:
        voice = Voice("bandwidth", **server.settings, http=...)
        voice.provider.clock = server.clock.now
        ...
        assert server.app.duplicates() == {}
"""

from __future__ import annotations

import asyncio
import base64
import copy
import fnmatch
import functools
import hashlib
import itertools
import json
import os
import random
import re
import socket
import struct
import threading
import time
from collections import Counter
from collections.abc import Awaitable, Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime, timedelta
from pathlib import Path
from types import TracebackType
from typing import Any, ClassVar, Self
from urllib.parse import parse_qsl, urlencode

import yaml

from tests.support.live_server import LiveServer

CASSETTES = Path(__file__).resolve().parents[2] / "cassettes"

Scope = dict[str, Any]
Message = dict[str, Any]
Receive = Callable[[], Awaitable[Message]]
Send = Callable[[Message], Awaitable[None]]

ACTIONS = frozenset({
    "reset", "drop", "timeout", "late", "status", "html", "delay", "delay_after",
    "reset_after",
    "drop_after", "timeout_after", "status_after", "html_after", "truncated", "non_json",
    "missing_fields", "short", "cut", "cut_close", "stall", "slow"})


# Cassettes ---------------------------------------------------------------------------------


@functools.cache
def _cassette(provider: str, name: str) -> list[dict[str, Any]]:
    data = yaml.safe_load((CASSETTES / provider / f"{name}.yaml").read_text())
    interactions: list[dict[str, Any]] = data["interactions"]
    return interactions


@dataclass(frozen=True)
class Recorded:
    """One recorded answer: status, content type and body."""

    status: int
    content_type: str
    body: bytes

    def json(self) -> Any:
        return json.loads(self.body)


@functools.cache
def recorded(provider: str, name: str, method: str, path: str = "*", status: int | None = None
             ) -> Recorded:
    """The first answer in ``cassettes/<provider>/<name>.yaml`` to a request with ``method``
    whose URI path matches ``path`` (fnmatch), with ``status`` when given."""
    for interaction in _cassette(provider, name):
        request, response = interaction["request"], interaction["response"]
        uri_path = re.sub(r"^https?://[^/]+", "", request["uri"]).split("?")[0]
        code = int(response["status"]["code"])
        if request["method"] != method or not fnmatch.fnmatchcase(uri_path, path):
            continue
        if status is not None and code != status:
            continue
        body = response["body"]["string"]
        raw = body if isinstance(body, bytes) else body.encode("utf-8")
        types = response["headers"].get("Content-Type") or ["application/json"]
        return Recorded(code, types[0], raw)
    raise LookupError(f"no {method} {path} answer in cassettes/{provider}/{name}.yaml")


# Time and schedule -------------------------------------------------------------------------


class VirtualClock:
    """Virtual "now", moved on by ``step`` at every ``tick`` (each create received)."""

    def __init__(self, start: datetime = datetime(2030, 1, 6, 9, 0, tzinfo=UTC),
                 step: timedelta = timedelta(minutes=1)) -> None:
        self._now = start
        self.step = step
        self._lock = threading.Lock()

    def now(self) -> datetime:
        with self._lock:
            return self._now

    def tick(self) -> datetime:
        with self._lock:
            self._now += self.step
            return self._now


@dataclass
class FaultSchedule:
    """Seeded, reproducible faults: for each request of a kind in ``rates``, whether it
    fails (probability ``rates[kind]``) and how (``mix[kind]``, weighted). The draw for the
    n-th request of a kind about a key is ``Random(f"{seed}/{kind}/{key}/{n}")``: the same
    for an intent however other intents interleave with it. A request naming no key
    (MessageBird's lookup) is keyed by its arrival order among its kind."""

    seed: int
    rates: Mapping[str, float] = field(default_factory=dict)
    mix: Mapping[str, Mapping[str, float]] = field(default_factory=dict)
    # The first request of a kind about a key fails this way, whatever the draw: so that
    # a run shows every fault at least once.
    first: Mapping[tuple[str, str], str] = field(default_factory=dict)
    _seen: Counter[tuple[str, str]] = field(default_factory=Counter, repr=False)
    _lock: threading.Lock = field(default_factory=threading.Lock, repr=False)

    def __post_init__(self) -> None:
        for kind, specs in self.mix.items():
            for spec in [*specs, *self.first.values()]:
                _parse(spec)  # fail early on a typo
            if kind not in self.rates:
                raise ValueError(f"a mix for {kind!r} but no rate")

    def decide(self, kind: str, key: str | None) -> str | None:
        with self._lock:
            if key is None:
                key = f"#{self._seen[(kind, '')]}"
                self._seen[(kind, "")] += 1
            n = self._seen[(kind, key)]
            self._seen[(kind, key)] += 1
        if n == 0 and (kind, key) in self.first:
            return self.first[(kind, key)]
        rate = self.rates.get(kind, 0.0)
        if rate <= 0:
            return None
        rng = random.Random(f"{self.seed}/{kind}/{key}/{n}")
        if rng.random() >= rate:
            return None
        specs = self.mix[kind]
        return rng.choices(list(specs), weights=list(specs.values()))[0]


def _parse(spec: str) -> tuple[str, str]:
    action, _, arg = spec.partition(":")
    if action not in ACTIONS:
        raise ValueError(f"unknown fault {spec!r}")
    if action in ("status", "status_after", "html", "html_after"):
        int(arg.partition(":")[0])
    elif action in ("delay", "delay_after", "late", "slow"):
        float(arg)
    elif action in ("cut", "cut_close", "stall"):
        int(arg)
    return action, arg


@dataclass(frozen=True)
class Fault:
    pattern: str
    spec: str

    @property
    def action(self) -> str:
        return _parse(self.spec)[0]

    @property
    def arg(self) -> str:
        return _parse(self.spec)[1]


@dataclass(frozen=True)
class Seen:
    """One request as the server received it."""

    kind: str
    key: str | None
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes
    fault: str | None  # the fault spec applied
    acted: bool  # whether the provider acted on it (for a create: placed a call)
    at: float = field(default_factory=time.monotonic)  # when it was logged

    @property
    def action(self) -> str | None:
        return None if self.fault is None else self.fault.partition(":")[0]


@dataclass
class Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> Reply:
        return cls(status, json.dumps(data, separators=(",", ":")).encode(),
                   headers=dict(headers))


@dataclass
class Route:
    kind: str
    key: str | None
    act: Callable[[], Reply]


# The app -----------------------------------------------------------------------------------


class ProviderDouble:
    """The provider-neutral half: faults, the request log, placed calls, recordings."""

    provider: ClassVar[str]
    id_field: ClassVar[str] = "id"

    def __init__(self, *, schedule: FaultSchedule | None = None,
                 clock: VirtualClock | None = None, ranges: bool = True,
                 media_size: int = 64 * 1024, hold: float = 10.0,
                 echo_auth: bool = False) -> None:
        self.schedule = schedule
        self.echo_auth = echo_auth  # error and malformed bodies quote the credentials sent
        self.clock = clock or VirtualClock()
        self.ranges = ranges
        self.media_size = media_size
        self.hold = hold
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._seen: list[Seen] = []
        self._calls: dict[str, dict[str, Any]] = {}  # id -> the provider's call state
        self._keys: dict[str, str] = {}  # id -> intent key
        self._by_key: dict[str, list[str]] = {}
        self._recordings: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self.stopping = threading.Event()

    # Test API ---------------------------------------------------------------------------

    def inject(self, pattern: str, *specs: str) -> None:
        """Queue faults (FIFO) for requests whose ``"KIND METHOD /path"`` matches ``pattern``:
        ``inject("create *", "reset")``, ``inject("media *", "cut_close:100")``."""
        for spec in specs:
            _parse(spec)
        with self._lock:
            self._faults.extend(Fault(pattern, spec) for spec in specs)

    @property
    def pending(self) -> list[str]:
        with self._lock:
            return [f"{f.pattern} -> {f.spec}" for f in self._faults]

    def reset_state(self) -> None:
        """Forget calls, recordings, faults and the log (between tests)."""
        with self._lock:
            self._faults.clear()
            self._seen.clear()
            self._calls.clear()
            self._keys.clear()
            self._by_key.clear()
            self._recordings.clear()

    @property
    def seen(self) -> list[Seen]:
        with self._lock:
            return list(self._seen)

    def requests(self, kind: str, key: str | None = None) -> list[Seen]:
        return [s for s in self.seen if s.kind == kind and (key is None or s.key == key)]

    def placed(self, key: str) -> list[str]:
        """The ids of the calls placed for an intent."""
        with self._lock:
            return list(self._by_key.get(key, ()))

    def duplicates(self) -> dict[str, list[str]]:
        with self._lock:
            return {k: list(v) for k, v in self._by_key.items() if len(v) > 1}

    @property
    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [copy.deepcopy(c) for c in self._calls.values()]

    def add_recording(self, call_id: str, size: int | None = None) -> str:
        """A finished recording of a call; its media is ``media(recording_id)``."""
        with self._lock:
            rec_id = self._new_id("r")
            self._recordings[rec_id] = {"id": rec_id, "call_id": call_id, "version": 0,
                                        "size": self.media_size if size is None else size}
        return rec_id

    def rerecord(self, rec_id: str) -> None:
        """Change a recording's media (same size, other bytes, other ETag)."""
        with self._lock:
            self._recordings[rec_id]["version"] += 1

    def media(self, rec_id: str) -> bytes:
        """The recording's bytes: the cassette's media header, then seeded noise (so a
        spliced or shortened file shows)."""
        with self._lock:
            rec = dict(self._recordings[rec_id])
        return _media(self.media_head(), f"{rec_id}/{rec['version']}", rec["size"])

    # Provider-specific (subclasses) -------------------------------------------------------

    @property
    def settings(self) -> dict[str, Any]:
        """The provider's settings for a client of this server (``api_url`` excluded)."""
        raise NotImplementedError

    def api_url(self, base: str) -> str:
        """The provider's ``api_url`` setting for a server at ``base``."""
        return base

    def secrets(self) -> list[str]:
        """What must never show in an error: the credentials, as set and as sent."""
        raise NotImplementedError

    def authorized(self, headers: Mapping[str, str]) -> bool:
        raise NotImplementedError

    def unauthorized(self) -> Reply:
        raise NotImplementedError

    def error(self, status: int, message: str) -> Reply:
        raise NotImplementedError

    def route(self, method: str, path: str, query: dict[str, str],
              headers: Mapping[str, str], body: bytes) -> Route | None:
        raise NotImplementedError

    def media_head(self) -> bytes:
        raise NotImplementedError

    def media_type(self) -> str:
        raise NotImplementedError

    def strip_id(self, data: Any) -> Any:
        if isinstance(data, dict):
            data.pop(self.id_field, None)
        return data

    # State helpers ------------------------------------------------------------------------

    def _new_id(self, prefix: str) -> str:
        n = next(self._ids)
        digest = hashlib.sha256(f"{self.provider}/{prefix}/{n}".encode()).hexdigest()
        return f"{digest[:8]}-{digest[8:12]}-4{digest[13:16]}-8{digest[17:20]}-{digest[20:32]}"

    def _place(self, key: str, call: dict[str, Any], call_id: str) -> None:
        with self._lock:
            self._calls[call_id] = call
            self._keys[call_id] = key
            self._by_key.setdefault(key, []).append(call_id)

    def _call(self, call_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._calls.get(call_id)
            return copy.deepcopy(found) if found is not None else None

    def _all_calls(self) -> list[dict[str, Any]]:
        """The calls in creation order (not copies: a placed call is never changed)."""
        with self._lock:
            return list(self._calls.values())

    def _recording(self, rec_id: str) -> dict[str, Any] | None:
        with self._lock:
            found = self._recordings.get(rec_id)
            return dict(found) if found is not None else None

    def _media_reply(self, rec_id: str, headers: Mapping[str, str]) -> Reply:
        if self._recording(rec_id) is None:
            return self.error(404, f"no recording {rec_id}")
        data = self.media(rec_id)
        etag = f'"{hashlib.sha256(data).hexdigest()[:16]}"'
        common = {"ETag": etag}
        if self.ranges:
            common["Accept-Ranges"] = "bytes"
        wanted = headers.get("range")
        if self.ranges and wanted and headers.get("if-range", etag) == etag:
            match = re.fullmatch(r"bytes=(\d+)-", wanted.strip())
            if match is None:
                return self.error(400, "only 'bytes=N-' ranges are served")
            start = int(match[1])
            if start >= len(data):
                return Reply(416, b"", self.media_type(),
                             {**common, "Content-Range": f"bytes */{len(data)}"})
            return Reply(206, data[start:], self.media_type(), {
                **common, "Content-Range": f"bytes {start}-{len(data) - 1}/{len(data)}"})
        return Reply(200, data, self.media_type(), common)

    # ASGI ---------------------------------------------------------------------------------

    async def __call__(self, scope: Scope, receive: Receive, send: Send) -> None:
        if scope["type"] != "http":
            return
        method: str = scope["method"]
        path: str = scope["path"]
        query = dict(parse_qsl(scope["query_string"].decode("latin-1")))
        headers = {k.decode("latin-1").lower(): v.decode("latin-1")
                   for k, v in scope["headers"]}
        fault = self._take(method, path)
        if fault is not None and fault.action in ("reset", "drop"):
            # Before the body is read: the request never reaches the provider's logic.
            self._log(Seen(self._kind_of(method, path), None, method, path, query, headers,
                           b"", fault.spec, False))
            await _disconnect(receive, rst=fault.action == "reset")
            return
        body = await _body(receive)
        route = self.route(method, path, query, headers, body)
        if route is None:
            await _reply(send, self.error(404, f"no route {method} {path}"))
            return
        spec = fault.spec if fault is not None else (
            self.schedule.decide(route.kind, route.key) if self.schedule else None)
        if route.kind == "create":
            self.clock.tick()
        if not self.authorized(headers):
            self._log(Seen(route.kind, route.key, method, path, query, headers, body, spec,
                           False))
            await _reply(send, self.unauthorized())
            return
        echo = headers.get("authorization", "") if self.echo_auth else ""
        await self._run(route, spec, receive, send,
                        lambda acted: self._log(Seen(route.kind, route.key, method, path,
                                                     query, headers, body, spec, acted)),
                        echo)

    async def _run(self, route: Route, spec: str | None, receive: Receive, send: Send,
                   log: Callable[[bool], None], echo: str = "") -> None:
        action, arg = _parse(spec) if spec else ("", "")
        if action in ("reset", "drop"):
            log(False)
            await _disconnect(receive, rst=action == "reset")
            return
        if action == "timeout":
            log(False)
            await self._hold(receive)
            return
        if action == "late":
            await self._hold(receive)
            await asyncio.sleep(float(arg))
            reply = route.act()
            log(reply.status < 300)
            return
        if action == "status":
            log(False)
            await _reply(send, self._error_reply(arg, echo))
            return
        if action == "html":
            log(False)
            await _reply(send, _html(int(arg), echo))
            return
        if action == "delay":
            await asyncio.sleep(float(arg))
        if _gone(receive):
            # The client left before the server got to its request (the test machine was
            # slow, not a scheduled fault: that is ``late``): nothing is done.
            log(False)
            await _disconnect(receive, rst=False)
            return
        reply = route.act()
        log(reply.status < 300)
        if action in ("reset_after", "drop_after"):
            await _disconnect(receive, rst=action == "reset_after")
        elif action == "timeout_after":
            await self._hold(receive)
        elif action == "delay_after":
            await asyncio.sleep(float(arg))
            await _reply(send, reply)
        elif action == "status_after":
            await _reply(send, self._error_reply(arg, echo))
        elif action == "html_after":
            await _reply(send, _html(int(arg), echo))
        elif action == "truncated":
            cut = reply.body[: max(1, len(reply.body) * 2 // 3)]
            await _reply(send, Reply(reply.status, cut, reply.content_type, reply.headers))
        elif action == "non_json":
            await _reply(send, Reply(reply.status, f"<html><body>OK {echo}</body></html>"
                                     .encode(), "text/html", {}))
        elif action == "missing_fields":
            data = self.strip_id(json.loads(reply.body))
            await _reply(send, Reply.json(reply.status, data, **reply.headers))
        elif action in ("short", "cut", "cut_close"):
            n = len(reply.body) // 2 if action == "short" else int(arg)
            await _partial(send, reply, n)
            await _disconnect(receive, rst=action == "cut")
        elif action == "stall":
            await _partial(send, reply, int(arg))
            await self._hold(receive)
        elif action == "slow":
            await _reply(send, reply, pieces=8, pause=float(arg))
        else:
            await _reply(send, reply)

    async def _hold(self, receive: Receive) -> None:
        """Wait until the client leaves (or the bound, or the server stopping)."""
        deadline = asyncio.get_running_loop().time() + self.hold
        waiting = asyncio.ensure_future(_until_disconnect(receive))
        try:
            while not waiting.done() and not self.stopping.is_set():
                left = deadline - asyncio.get_running_loop().time()
                if left <= 0:
                    break
                await asyncio.wait({waiting}, timeout=min(0.05, left))
        finally:
            waiting.cancel()

    def _error_reply(self, arg: str, echo: str = "") -> Reply:
        code, _, retry_after = arg.partition(":")
        reply = self.error(int(code), f"injected {code}{f' (you sent {echo})' if echo else ''}")
        if retry_after:
            reply.headers["Retry-After"] = retry_after
        return reply

    def _take(self, method: str, path: str) -> Fault | None:
        route = f"{self._kind_of(method, path)} {method} {path}"
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fnmatch.fnmatchcase(route, fault.pattern):
                    return self._faults.pop(index)
        return None

    def _kind_of(self, method: str, path: str) -> str:
        found = self.route(method, path, {}, {}, b"{}")
        return found.kind if found is not None else "unknown"

    def _log(self, seen: Seen) -> None:
        with self._lock:
            self._seen.append(seen)


def _media(head: bytes, rec_id: str, size: int) -> bytes:
    noise = random.Random(rec_id).randbytes(max(0, size - len(head)))
    data = bytearray(head[:size] + noise)
    if data[:4] == b"RIFF" and len(data) >= 44:  # a WAV: its sizes say what follows
        struct.pack_into("<I", data, 4, len(data) - 8)
        struct.pack_into("<I", data, 40, len(data) - 44)
    return bytes(data)


def _html(status: int, echo: str = "") -> Reply:
    page = (f"<html><head><title>{status}</title></head><body><h1>{status}</h1>"
            f"<p>upstream gateway error {echo}</p></body></html>")
    return Reply(status, page.encode(), "text/html")


# ASGI plumbing -----------------------------------------------------------------------------


async def _body(receive: Receive) -> bytes:
    chunks = []
    while True:
        message = await receive()
        if message["type"] == "http.disconnect":
            break
        chunks.append(message.get("body", b""))
        if not message.get("more_body"):
            break
    return b"".join(chunks)


async def _until_disconnect(receive: Receive) -> None:
    while (await receive())["type"] != "http.disconnect":
        pass


def _gone(receive: Receive) -> bool:
    """Whether the client has closed the connection, as the kernel knows it.

    uvicorn's own flag is not enough: a request and the client's close read in one go
    start the app before uvicorn hears of the close, so the socket is asked (a peek at a
    duplicate of its descriptor: an end of stream or a reset means the client has gone).
    """
    cycle = getattr(receive, "__self__", None)
    if getattr(cycle, "disconnected", False):
        return True
    transport = getattr(cycle, "transport", None)
    if transport is None:
        return False
    if transport.is_closing():
        return True
    sock = transport.get_extra_info("socket")
    if sock is None:
        return False
    try:
        probe = socket.socket(fileno=os.dup(sock.fileno()))
    except OSError:
        return True
    try:
        return probe.recv(1, socket.MSG_PEEK | socket.MSG_DONTWAIT) == b""
    except BlockingIOError:
        return False
    except OSError:  # reset
        return True
    finally:
        probe.close()


def _transport(receive: Receive) -> asyncio.BaseTransport:
    """The connection's transport (asyncio's or uvloop's), from uvicorn's request cycle
    (``receive``'s owner)."""
    transport = getattr(getattr(receive, "__self__", None), "transport", None)
    if not all(hasattr(transport, name) for name in ("abort", "close", "get_extra_info")):
        raise RuntimeError("connection faults need uvicorn's HTTP/1.1 request cycle")
    return transport  # type: ignore[no-any-return]


async def _disconnect(receive: Receive, *, rst: bool) -> None:
    transport = _transport(receive)
    if rst:
        sock = transport.get_extra_info("socket")
        if sock is not None:  # linger 0: close sends RST, not FIN
            sock.setsockopt(socket.SOL_SOCKET, socket.SO_LINGER, struct.pack("ii", 1, 0))
        transport.abort()  # type: ignore[attr-defined]
    else:
        transport.close()
    # Let uvicorn see the connection lost, so it does not answer for the app.
    await _until_disconnect(receive)


def _start(reply: Reply, length: int) -> Message:
    headers = [(b"content-type", reply.content_type.encode()),
               (b"content-length", str(length).encode())]
    headers += [(k.lower().encode(), v.encode()) for k, v in reply.headers.items()]
    return {"type": "http.response.start", "status": reply.status, "headers": headers}


async def _reply(send: Send, reply: Reply, *, pieces: int = 1, pause: float = 0.0) -> None:
    await send(_start(reply, len(reply.body)))
    size = max(1, -(-len(reply.body) // pieces))
    for offset in range(0, max(1, len(reply.body)), size):
        if offset and pause:
            await asyncio.sleep(pause)
        last = offset + size >= len(reply.body)
        await send({"type": "http.response.body", "body": reply.body[offset:offset + size],
                    "more_body": not last})


async def _partial(send: Send, reply: Reply, n: int) -> None:
    """Headers promising the whole body, then only its first ``n`` bytes."""
    await send(_start(reply, len(reply.body)))
    await send({"type": "http.response.body", "body": reply.body[:n], "more_body": True})


# Provider times ----------------------------------------------------------------------------


def _iso_ms(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%S.") + (
        f"{moment.microsecond // 1000:03d}Z")


def _iso_s(moment: datetime) -> str:
    return moment.astimezone(UTC).strftime("%Y-%m-%dT%H:%M:%SZ")


def _parse_time(text: str) -> datetime:
    return datetime.fromisoformat(text.replace("Z", "+00:00"))


def _e164(number: Any) -> str | None:
    """MessageBird writes numbers without '+': the intent's key has it."""
    return f"+{number}" if isinstance(number, str) and number.isdigit() else None


def _json(body: bytes) -> Any:
    try:
        return json.loads(body)
    except ValueError:
        return None


# Bandwidth ---------------------------------------------------------------------------------


class BandwidthDouble(ProviderDouble):
    """Bandwidth Voice API v2 under ``/api/v2/accounts/{account}`` (HTTP Basic API user)."""

    provider = "bandwidth"
    id_field = "callId"
    ACCOUNT = "9900000"
    APPLICATION = "04e88489-df02-4e34-a0ee-27a91849555f"
    USERNAME = "api-user@example.com"
    PASSWORD = "bw-Pa55word-0b4d9e1f7a"
    PAGE_SIZE = 1000  # GET /calls pageSize default

    @property
    def settings(self) -> dict[str, Any]:
        return {"account_id": self.ACCOUNT, "application_id": self.APPLICATION,
                "username": self.USERNAME, "password": self.PASSWORD}

    def api_url(self, base: str) -> str:
        return f"{base}/api/v2"

    def _basic(self) -> str:
        return base64.b64encode(f"{self.USERNAME}:{self.PASSWORD}".encode()).decode()

    def secrets(self) -> list[str]:
        return [self.PASSWORD, self._basic()]

    def authorized(self, headers: Mapping[str, str]) -> bool:
        return headers.get("authorization") == f"Basic {self._basic()}"

    def unauthorized(self) -> Reply:
        r = recorded("bandwidth", "get_call_unauthorized", "GET", status=401)
        return Reply(401, r.body)

    def error(self, status: int, message: str) -> Reply:
        kind = {404: "validation", 429: "rate-limit", 503: "system-overloaded"}.get(
            status, "internal-server-error" if status >= 500 else "validation")
        return Reply.json(status, {"type": kind, "description": message, "id": None})

    def media_head(self) -> bytes:
        return recorded("bandwidth", "download_recording", "GET", "*/calls/*/media").body

    def media_type(self) -> str:
        return recorded("bandwidth", "download_recording", "GET", "*/calls/*/media").content_type

    def route(self, method: str, path: str, query: dict[str, str],
              headers: Mapping[str, str], body: bytes) -> Route | None:
        prefix = f"/api/v2/accounts/{self.ACCOUNT}/calls"
        if not path.startswith(prefix):
            return None
        parts = [p for p in path[len(prefix):].split("/") if p]
        if not parts:
            if method == "POST":
                data = _json(body)
                key = data.get("to") if isinstance(data, dict) else None
                return Route("create", key, lambda: self._create(data))
            if method == "GET":
                return Route("lookup", query.get("to"), lambda: self._list(query))
            return None
        if method != "GET":
            return None
        if len(parts) == 1:
            return Route("get", parts[0], lambda: self._get(parts[0]))
        if len(parts) == 3 and parts[1] == "recordings":
            return Route("recording", parts[2], lambda: self._get_recording(parts[0], parts[2]))
        if len(parts) == 4 and parts[1] == "recordings" and parts[3] == "media":
            return Route("media", parts[2],
                         lambda: self._media(parts[0], parts[2], headers))
        return None

    def _created(self) -> dict[str, Any]:
        return dict(recorded("bandwidth", "create_call", "POST", status=201).json())

    def _state_template(self) -> dict[str, Any]:
        return dict(recorded("bandwidth", "get_call", "GET", "*/calls/c-*", 200).json())

    def _create(self, data: Any) -> Reply:
        if not isinstance(data, dict) or not all(
                isinstance(data.get(k), str) for k in ("to", "from", "answerUrl")):
            return self.error(400, "to, from and answerUrl are required")
        if data.get("applicationId") != self.APPLICATION:
            return self.error(400, "unknown applicationId")
        call_id = f"c-{self._new_id('c')}"
        now = self.clock.now()
        state = self._state_template()
        state.update({"callId": call_id, "to": data["to"], "from": data["from"],
                      "applicationId": self.APPLICATION, "accountId": self.ACCOUNT,
                      "direction": "outbound", "state": "initiated",
                      "enqueuedTime": _iso_ms(now), "startTime": _iso_ms(now),
                      "answerTime": None, "endTime": None, "disconnectCause": None,
                      "lastUpdate": _iso_ms(now)})
        self._place(data["to"], state, call_id)
        created = self._created()
        url = f"https://voice.bandwidth.com/api/v2/accounts/{self.ACCOUNT}/calls/{call_id}"
        created.update({"callId": call_id, "to": data["to"], "from": data["from"],
                        "enqueuedTime": _iso_ms(now), "callUrl": url,
                        "answerUrl": data["answerUrl"], "tag": data.get("tag"),
                        "callTimeout": data.get("callTimeout", 30)})
        return Reply.json(201, created, Location=url)

    def _list(self, query: dict[str, str]) -> Reply:
        found = self._all_calls()
        if "to" in query:
            found = [c for c in found if c["to"] == query["to"]]
        if "from" in query:
            found = [c for c in found if c["from"] == query["from"]]
        if "minStartTime" in query:
            since = _parse_time(query["minStartTime"])
            found = [c for c in found if _parse_time(c["startTime"]) >= since]
        size = int(query.get("pageSize") or self.PAGE_SIZE)
        start = int(query.get("pageToken") or 0)
        headers = {}
        if start + size < len(found):
            nxt = {**query, "pageToken": str(start + size)}
            headers["Link"] = (f"<https://voice.bandwidth.com/api/v2/accounts/{self.ACCOUNT}"
                               f"/calls?{urlencode(nxt)}>; rel=\"next\"")
        return Reply.json(200, found[start:start + size], **headers)

    def _get(self, call_id: str) -> Reply:
        call = self._call(call_id)
        if call is None:
            return self.error(404, f"Call [{call_id}] not found")
        return Reply.json(200, call)

    def _get_recording(self, call_id: str, rec_id: str) -> Reply:
        rec = self._recording(rec_id)
        if rec is None or rec["call_id"] != call_id:
            return self.error(404, f"Recording [{rec_id}] not found")
        data = recorded("bandwidth", "get_recording", "GET", status=200).json()
        url = (f"https://voice.bandwidth.com/api/v2/accounts/{self.ACCOUNT}/calls/{call_id}"
               f"/recordings/{rec_id}")
        data.update({"callId": call_id, "recordingId": rec_id, "mediaUrl": f"{url}/media",
                     "fileFormat": "wav"})
        data.pop("transcription", None)
        return Reply.json(200, data)


    def _media(self, call_id: str, rec_id: str, headers: Mapping[str, str]) -> Reply:
        rec = self._recording(rec_id)
        if rec is None or rec["call_id"] != call_id:
            return self.error(404, f"Recording [{rec_id}] not found")
        return self._media_reply(rec_id, headers)


# MessageBird -------------------------------------------------------------------------------


class MessageBirdDouble(ProviderDouble):
    """MessageBird's Voice Calling API (``AccessKey``; ``{data, _links, pagination}``)."""

    provider = "messagebird"
    ACCESS_KEY = "live_mB0aCc3ssKey9f4c2d7e8b1a"

    @property
    def settings(self) -> dict[str, Any]:
        return {"access_key": self.ACCESS_KEY}

    def secrets(self) -> list[str]:
        return [self.ACCESS_KEY]

    def authorized(self, headers: Mapping[str, str]) -> bool:
        return headers.get("authorization") == f"AccessKey {self.ACCESS_KEY}"

    def unauthorized(self) -> Reply:
        return Reply(401, recorded("messagebird", "get_call_unauthorized", "GET", status=401).body)

    def error(self, status: int, message: str) -> Reply:
        return Reply.json(status, {"data": None, "errors": [{"code": 13 if status == 404 else
                                                             status, "message": message}],
                                   "pagination": {"totalCount": 0, "pageCount": 0,
                                                  "currentPage": 0, "perPage": 0}})

    def strip_id(self, data: Any) -> Any:
        for item in data.get("data") or [] if isinstance(data, dict) else []:
            item.pop("id", None)
        return data

    def media_head(self) -> bytes:
        return recorded("messagebird", "download_recording", "GET").body

    def media_type(self) -> str:
        return recorded("messagebird", "download_recording", "GET").content_type

    def route(self, method: str, path: str, query: dict[str, str],
              headers: Mapping[str, str], body: bytes) -> Route | None:
        parts = [p for p in path.split("/") if p]
        if parts[:1] == ["calls"]:
            if len(parts) == 1 and method == "POST":
                data = _json(body)
                key = _e164(data.get("destination")) if isinstance(data, dict) else None
                return Route("create", key, lambda: self._create(data))
            if method != "GET":
                return None
            if len(parts) == 1:
                return Route("lookup", None, lambda: self._list(query))
            if len(parts) == 2:
                return Route("get", parts[1], lambda: self._get(parts[1]))
            if len(parts) == 3 and parts[2] == "legs":
                return Route("get", parts[1], lambda: self._legs(parts[1]))
            return None
        if parts[:1] == ["recordings"] and len(parts) == 2 and method == "GET":
            rec_id = parts[1]
            if rec_id.endswith(".wav"):
                return Route("media", rec_id[:-4],
                             lambda: self._media_reply(rec_id[:-4], headers)
                             if self._recording(rec_id[:-4]) else self.error(404, "no such"))
            return Route("recording", rec_id, lambda: self._get_recording(rec_id))
        return None

    def _item(self, call: dict[str, Any]) -> dict[str, Any]:
        return {**call, "_links": {"legs": f"/calls/{call['id']}/legs",
                                   "self": f"/calls/{call['id']}"}}

    def _create(self, data: Any) -> Reply:
        if not isinstance(data, dict) or not isinstance(data.get("destination"), str) or (
                not isinstance(data.get("callFlow"), dict)):
            return self.error(422, "destination and callFlow are required")
        call_id = self._new_id("c")
        now = _iso_s(self.clock.now())
        template = recorded("messagebird", "create_call", "POST", status=201).json()
        call = dict(template["data"][0])
        call.update({"id": call_id, "status": "queued", "source": data.get("source"),
                     "destination": data["destination"], "createdAt": now, "updatedAt": now,
                     "endedAt": None})
        self._place(_e164(data["destination"]) or data["destination"], call, call_id)
        return Reply.json(201, {**template, "data": [call],
                                "_links": {"self": f"/calls/{call_id}"}})

    def _list(self, query: dict[str, str]) -> Reply:
        page, per = int(query.get("page") or 1), int(query.get("perPage") or 10)
        newest = sorted(self._all_calls(), key=lambda c: c["createdAt"], reverse=True)
        shown = newest[(page - 1) * per: page * per]
        template = recorded("messagebird", "create_call_lost_answer", "GET", status=200).json()
        return Reply.json(200, {**template, "data": [self._item(c) for c in shown],
                                "_links": {"self": f"/calls?page={page}"},
                                "pagination": {"totalCount": len(newest),
                                               "pageCount": -(-len(newest) // per),
                                               "currentPage": page, "perPage": per}})

    def _get(self, call_id: str) -> Reply:
        call = self._call(call_id)
        if call is None:
            return self.error(404, f"No call found for ID `{call_id}`.")
        template = recorded("messagebird", "get_call", "GET", "/calls/*", 200).json()
        return Reply.json(200, {**template, "data": [call],
                                "_links": self._item(call)["_links"]})

    def _legs(self, call_id: str) -> Reply:
        call = self._call(call_id)
        if call is None:
            return self.error(404, f"No call found for ID `{call_id}`.")
        template = recorded("messagebird", "get_call", "GET", "/calls/*/legs", 200).json()
        leg = dict(template["data"][0])
        leg.update({"id": f"leg-{call_id}", "callId": call_id, "source": call["source"],
                    "destination": call["destination"], "createdAt": call["createdAt"],
                    "updatedAt": call["updatedAt"]})
        return Reply.json(200, {**template, "data": [leg]})

    def _get_recording(self, rec_id: str) -> Reply:
        rec = self._recording(rec_id)
        if rec is None:
            return self.error(404, f"No recording found for ID `{rec_id}`.")
        data = recorded("messagebird", "get_recording", "GET", "/recordings/recid", 200).json()
        item = dict(data["data"][0])
        call, leg = rec["call_id"], f"leg-{rec['call_id']}"
        item.update({"id": rec_id, "legId": leg, "_links": {
            "file": f"/recordings/{rec_id}.wav",
            "self": f"/calls/{call}/legs/{leg}/recordings/{rec_id}"}})
        return Reply.json(200, {**data, "data": [item],
                                "_links": {"self": f"/calls/{call}/legs/{leg}/recordings/"
                                                   f"{rec_id}"}})


# Bird --------------------------------------------------------------------------------------


class BirdDouble(ProviderDouble):
    """Bird's Voice API: calls under ``/workspaces/{ws}/channels/{ch}/calls``, the calls
    log under ``/workspaces/{ws}/channels/calls``, recordings under ``/workspaces/{ws}``."""

    provider = "bird"
    WORKSPACE = "00000000-0000-4000-8000-000000000001"
    CHANNEL = "00000000-0000-4000-8000-000000000002"
    ACCESS_KEY = "bird-AccessKey-7c1e9a4f2b8d"

    @property
    def settings(self) -> dict[str, Any]:
        return {"workspace_id": self.WORKSPACE, "channel_id": self.CHANNEL,
                "access_key": self.ACCESS_KEY}

    def secrets(self) -> list[str]:
        return [self.ACCESS_KEY]

    def authorized(self, headers: Mapping[str, str]) -> bool:
        return headers.get("authorization") == f"AccessKey {self.ACCESS_KEY}"

    def unauthorized(self) -> Reply:
        return Reply(401, recorded("bird", "get_call_unauthorized", "GET", status=401).body)

    def error(self, status: int, message: str) -> Reply:
        code = {404: "NotFound", 429: "TooManyRequests", 422: "InvalidPayload"}.get(
            status, "InternalError" if status >= 500 else "BadRequest")
        return Reply.json(status, {"code": code, "message": message})

    def media_head(self) -> bytes:
        return recorded("bird", "download_recording", "GET").body

    def media_type(self) -> str:
        return recorded("bird", "download_recording", "GET").content_type

    def route(self, method: str, path: str, query: dict[str, str],
              headers: Mapping[str, str], body: bytes) -> Route | None:
        ws = f"/workspaces/{self.WORKSPACE}"
        calls = f"{ws}/channels/{self.CHANNEL}/calls"
        if path == calls and method == "POST":
            data = _json(body)
            key = data.get("to") if isinstance(data, dict) else None
            return Route("create", key, lambda: self._create(data))
        if path == f"{ws}/channels/calls" and method == "GET":
            return Route("lookup", query.get("tag"), lambda: self._lookup(query))
        if path.startswith(f"{calls}/") and method == "GET":
            call_id = path[len(calls) + 1:]
            return Route("get", call_id, lambda: self._get(call_id))
        if path.startswith(f"{ws}/recordings/") and method == "GET":
            rec_id = path[len(ws) + len("/recordings/"):]
            if rec_id.endswith(".mp3"):
                return Route("media", rec_id[:-4],
                             lambda: self._media_reply(rec_id[:-4], headers)
                             if self._recording(rec_id[:-4]) else self.error(404, "no such"))
            return Route("recording", rec_id, lambda: self._get_recording(rec_id))
        return None

    def _create(self, data: Any) -> Reply:
        if not isinstance(data, dict) or not isinstance(data.get("to"), str) or (
                not isinstance(data.get("callFlow"), list)):
            return self.error(422, "to and callFlow are required")
        call_id = self._new_id("c")
        now = _iso_ms(self.clock.now())
        call = recorded("bird", "create_call", "POST", status=202).json()
        flow_id = self._new_id("f")
        call.update({
            "id": call_id, "channelId": self.CHANNEL, "to": data["to"],
            "from": data.get("from", "+3197058016631"), "status": "accepted",
            "createdAt": now, "updatedAt": now, "tags": list(data.get("tags") or []),
            "notification": data.get("notification") or {},
            "callFlow": {"id": flow_id, "commands": [
                {"id": self._new_id("k"), "callId": call_id, "callFlowId": flow_id,
                 "command": c.get("command"), "status": "accepted"}
                for c in data["callFlow"] if isinstance(c, dict)]}})
        call["receiver"] = {**call.get("receiver", {}),
                            "number": {"type": "pstn", "number": data["to"]}}
        self._place(data["to"], call, call_id)
        return Reply.json(202, call)

    def _lookup(self, query: dict[str, str]) -> Reply:
        found = self._all_calls()
        if "channelId" in query:
            found = [c for c in found if c.get("channelId") == query["channelId"]]
        if "tag" in query:
            found = [c for c in found if query["tag"] in c.get("tags", [])]
        limit = int(query.get("limit") or 10)
        start = int(query.get("pageToken") or 0)
        body: dict[str, Any] = {"results": found[start:start + limit]}
        if start + limit < len(found):
            body["nextPageToken"] = str(start + limit)
        return Reply.json(200, body)

    def _get(self, call_id: str) -> Reply:
        call = self._call(call_id)
        if call is None:
            return self.error(404, "The requested resource was not found")
        return Reply.json(200, call)

    def _get_recording(self, rec_id: str) -> Reply:
        rec = self._recording(rec_id)
        if rec is None:
            return self.error(404, "The requested resource was not found")
        data = recorded("bird", "get_recording", "GET", status=200).json()
        data.update({"id": rec_id, "sourceId": rec["call_id"], "source": "call",
                     "channelId": self.CHANNEL})
        return Reply.json(200, data)


# The server --------------------------------------------------------------------------------


DOUBLES: dict[str, type[ProviderDouble]] = {
    "bandwidth": BandwidthDouble, "messagebird": MessageBirdDouble, "bird": BirdDouble}


class ProviderFaultServer:
    """A provider double served by uvicorn on 127.0.0.1 (port 0) in a background thread.

    ``settings``: what ``Voice(provider, **server.settings)`` needs, ``api_url`` included.
    """

    def __init__(self, app: ProviderDouble) -> None:
        self.app = app
        self._live = LiveServer(app, name=f"{app.provider}-fault-server")
        self.url = self._live.url

    @property
    def provider(self) -> str:
        return self.app.provider

    @property
    def clock(self) -> VirtualClock:
        return self.app.clock

    @property
    def settings(self) -> dict[str, Any]:
        return {**self.app.settings, "api_url": self.app.api_url(self.url)}

    def start(self) -> Self:
        self._live.start()
        return self

    def stop(self) -> None:
        self.app.stopping.set()
        self._live.stop()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
