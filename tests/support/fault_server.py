"""A tiny HTTP/1.1 provider double on asyncio streams, with faults injected per request.

It runs in a background thread on 127.0.0.1 (port 0), speaks keep-alive HTTP/1.1 with
``Content-Length`` framing, and plays a provider holding an in-memory store of calls:

    POST /calls              {"to", "from", "tag"} -> 201 {"id": "c-1", ..., "status": "queued"}
    GET  /calls/{id}         -> 200 call, or 404 {"message": "no such call", "code": "not_found"}
    GET  /calls?tag=T&cursor=N -> 200 {"items": [...], "next": "<cursor>" | null} (pages of 2)

Every request needs ``Authorization: Bearer <token>`` (else 401); every response carries
``X-Request-Id`` (the request's own, or a generated ``req-N``).

Faults are queued before acting, ``server.inject("POST /calls", "drop_after")``, and each
is consumed (FIFO) by the first request whose ``"METHOD /path"`` matches its pattern
(``fnmatch``: ``"GET /calls/*"``, ``"*"``). Actions:

    status:<code>[:<retry_after>]   answer an error without processing (JSON error body;
                                    Retry-After set when given: seconds or an HTTP date)
    status_after:<code>[:<ra>]      process (e.g. create the call), then answer that error
    drop                            close the connection before processing: nothing happens
    drop_after                      process, then close without answering
    delay:<s>                       sleep, then process and answer normally
    delay_after:<s>                 process, then sleep before answering (read timeouts)
    html:<code>                     answer an HTML error page without processing
    truncated                       process, answer 200 with the JSON cut off
    missing_fields                  process, answer 200 with JSON lacking ``id``
    cursor:<next>                   process a list, but answer ``next`` = <next> ("null": none)
    echo_field:<name>               process, answer 200 with field <name> of the call replaced
                                    by ``{"echo": <the Authorization header received>}``

With ``echo_auth=True`` the server echoes the Authorization header it received into
every error and malformed body (a provider leaking credentials back), for redaction tests.
"""

from __future__ import annotations

import asyncio
import contextlib
import fnmatch
import http
import itertools
import json
import socket
import threading
import time
from collections.abc import Iterator
from dataclasses import dataclass, field
from types import TracebackType
from typing import Any, Self
from urllib.parse import parse_qsl, urlsplit

DEFAULT_TOKEN = "sk_test_9f4c2d7e8b1a6053c9e4d2b7a8f1e0c3"
_ACTIONS = frozenset({"status", "status_after", "drop", "drop_after", "delay", "delay_after",
                      "html", "truncated", "missing_fields", "cursor", "echo_field"})


@dataclass(frozen=True)
class Fault:
    pattern: str  # fnmatch pattern over "METHOD /path"
    spec: str  # the action as given: "status:429:3"
    action: str
    arg: str = ""

    @classmethod
    def parse(cls, pattern: str, spec: str) -> Fault:
        action, _, arg = spec.partition(":")
        if action not in _ACTIONS:
            raise ValueError(f"unknown fault action {spec!r}")
        if action in ("status", "status_after", "html"):
            int(arg.partition(":")[0])  # a status code is required
        elif action in ("delay", "delay_after"):
            float(arg)
        elif action in ("cursor", "echo_field") and not arg:
            raise ValueError(f"{action}:<value> needs a value")
        return cls(pattern, spec, action, arg)


@dataclass(frozen=True)
class SeenRequest:
    """One request as the server received it."""

    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]  # names lower-cased
    body: bytes
    request_id: str  # the X-Request-Id answered (if an answer was sent)
    fault: str | None  # the fault action applied to it, if any

    @property
    def route(self) -> str:
        return f"{self.method} {self.path}"

    def json(self) -> Any:
        return json.loads(self.body)


@dataclass
class _Request:
    method: str
    path: str
    query: dict[str, str]
    headers: dict[str, str]
    body: bytes


@dataclass
class _Reply:
    status: int
    body: bytes
    content_type: str = "application/json"
    headers: dict[str, str] = field(default_factory=dict)

    @classmethod
    def json(cls, status: int, data: Any, **headers: str) -> _Reply:
        return cls(status, json.dumps(data).encode(), headers=headers)


class FaultServer:
    """The provider double; a context manager that starts and stops it."""

    def __init__(self, *, token: str = DEFAULT_TOKEN, page_size: int = 2,
                 echo_auth: bool = False) -> None:
        self.token = token
        self.page_size = page_size
        self.echo_auth = echo_auth
        self.host = "127.0.0.1"
        self.port = 0
        self._lock = threading.Lock()
        self._faults: list[Fault] = []
        self._requests: list[SeenRequest] = []
        self._calls: dict[str, dict[str, Any]] = {}
        self._ids = itertools.count(1)
        self._request_ids = itertools.count(1)
        self._created = 0
        self._busy = 0  # exchanges in progress
        self._loop: asyncio.AbstractEventLoop | None = None
        self._thread: threading.Thread | None = None
        self._server: asyncio.Server | None = None
        self._tasks: set[asyncio.Task[None]] = set()

    @property
    def base_url(self) -> str:
        return f"http://{self.host}:{self.port}"

    # Test API (thread-safe) --------------------------------------------------------------

    def inject(self, pattern: str, *actions: str) -> None:
        """Queue faults for requests matching ``pattern`` (``"POST /calls"``, ``"GET *"``)."""
        faults = [Fault.parse(pattern, spec) for spec in actions]
        with self._lock:
            self._faults.extend(faults)

    def clear_faults(self) -> None:
        with self._lock:
            self._faults.clear()

    @property
    def pending(self) -> list[str]:
        """Faults not consumed yet, as ``"pattern -> action"``."""
        with self._lock:
            return [f"{f.pattern} -> {f.spec}" for f in self._faults]

    @property
    def created(self) -> int:
        """How many calls ``POST /calls`` has created (seeded calls not counted)."""
        with self._lock:
            return self._created

    @property
    def calls(self) -> list[dict[str, Any]]:
        with self._lock:
            return [dict(call) for call in self._calls.values()]

    @property
    def requests(self) -> list[SeenRequest]:
        with self._lock:
            return list(self._requests)

    def seen(self, method: str, path: str | None = None) -> list[SeenRequest]:
        """Requests seen with ``method`` (and ``path`` when given, query excluded)."""
        return [r for r in self.requests
                if r.method == method and (path is None or r.path == path)]

    @property
    def posts(self) -> int:
        return len(self.seen("POST", "/calls"))

    def lookups(self) -> list[SeenRequest]:
        """``GET /calls`` list requests that filter by tag (a reconcile looks like this)."""
        return [r for r in self.seen("GET", "/calls") if "tag" in r.query]

    def seed(self, count: int = 1, *, tag: str | None = None, status: str = "queued",
             to: str = "+31612345678", from_: str = "+31201234567") -> list[str]:
        """Store calls as if created earlier (not counted in ``created``)."""
        ids = []
        with self._lock:
            for _ in range(count):
                call_id = f"c-{next(self._ids)}"
                self._calls[call_id] = {"id": call_id, "to": to, "from": from_, "tag": tag,
                                        "status": status}
                ids.append(call_id)
        return ids

    def wait_idle(self, timeout: float = 5.0) -> None:
        """Wait until no request is being processed (a delayed one has finished)."""
        deadline = time.monotonic() + timeout
        while True:
            with self._lock:
                if self._busy == 0:
                    return
            if time.monotonic() >= deadline:
                raise TimeoutError("the fault server is still busy")
            time.sleep(0.01)

    def set_status(self, call_id: str, status: str) -> None:
        with self._lock:
            self._calls[call_id]["status"] = status

    # Lifecycle ----------------------------------------------------------------------------

    def start(self) -> Self:
        loop = asyncio.new_event_loop()
        started = threading.Event()
        failure: list[BaseException] = []

        def run() -> None:
            asyncio.set_event_loop(loop)
            try:
                loop.run_until_complete(self._open())
            except BaseException as exc:  # reported to the starting thread
                failure.append(exc)
                started.set()
                return
            started.set()
            loop.run_forever()

        self._loop = loop
        self._thread = threading.Thread(target=run, name="fault-server", daemon=True)
        self._thread.start()
        if not started.wait(10) or failure:
            raise RuntimeError(f"fault server did not start: {failure}")
        return self

    def stop(self) -> None:
        loop, thread = self._loop, self._thread
        if loop is None or thread is None:
            return
        with contextlib.suppress(Exception):
            asyncio.run_coroutine_threadsafe(self._close(), loop).result(10)
        loop.call_soon_threadsafe(loop.stop)
        thread.join(10)
        loop.close()
        self._loop = self._thread = None

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()

    async def _open(self) -> None:
        self._server = await asyncio.start_server(self._connection, self.host, 0)
        self.port = self._server.sockets[0].getsockname()[1]

    async def _close(self) -> None:
        if self._server is not None:
            self._server.close()
        tasks = list(self._tasks)
        for task in tasks:
            task.cancel()
        await asyncio.gather(*tasks, return_exceptions=True)
        if self._server is not None:
            with contextlib.suppress(Exception):
                await asyncio.wait_for(self._server.wait_closed(), 5)

    # HTTP ---------------------------------------------------------------------------------

    async def _connection(self, reader: asyncio.StreamReader,
                          writer: asyncio.StreamWriter) -> None:
        task = asyncio.current_task()
        assert task is not None
        self._tasks.add(task)
        try:
            while True:
                request = await _read_request(reader)
                if request is None or not await self._exchange(request, writer):
                    break
        except (ConnectionError, asyncio.IncompleteReadError, ValueError):
            pass
        finally:
            self._tasks.discard(task)
            writer.close()
            with contextlib.suppress(Exception):
                await writer.wait_closed()

    async def _exchange(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        """Answer one request; False to close the connection."""
        with self._lock:
            self._busy += 1
        try:
            return await self._answer(request, writer)
        finally:
            with self._lock:
                self._busy -= 1

    async def _answer(self, request: _Request, writer: asyncio.StreamWriter) -> bool:
        fault = self._take_fault(request)
        request_id = request.headers.get("x-request-id") or f"req-{next(self._request_ids)}"
        with self._lock:
            self._requests.append(SeenRequest(
                request.method, request.path, request.query, request.headers, request.body,
                request_id, fault.spec if fault else None))
        action, arg = (fault.action, fault.arg) if fault else ("", "")
        if action == "drop":
            return False
        if action == "delay":
            await asyncio.sleep(float(arg))
        if action == "status":
            reply = self._error(request, arg)
        elif action == "html":
            reply = self._html(request, int(arg))
        else:
            reply = self._process(request)
            if action == "drop_after":
                return False
            if action == "delay_after":
                await asyncio.sleep(float(arg))
            elif action == "status_after":
                reply = self._error(request, arg)
            elif action == "truncated":
                reply = self._truncated(request, reply)
            elif action == "missing_fields":
                reply = self._missing_fields(request, reply)
            elif action == "echo_field":
                data = json.loads(reply.body)
                data[arg] = {"echo": request.headers.get("authorization", "")}
                reply = _Reply.json(200, data)
            elif action == "cursor":
                data = json.loads(reply.body)
                data["next"] = None if arg == "null" else arg
                reply = _Reply.json(reply.status, data)
        keep_alive = request.headers.get("connection", "").lower() != "close"
        await _write_reply(writer, reply, request_id, keep_alive)
        return keep_alive

    def _take_fault(self, request: _Request) -> Fault | None:
        route = f"{request.method} {request.path}"
        with self._lock:
            for index, fault in enumerate(self._faults):
                if fault.pattern == route or fnmatch.fnmatchcase(route, fault.pattern):
                    return self._faults.pop(index)
        return None

    # What the provider does ---------------------------------------------------------------

    def _process(self, request: _Request) -> _Reply:
        if request.headers.get("authorization") != f"Bearer {self.token}":
            return _Reply.json(401, {"message": "bad credentials", **self._echo(request)})
        parts = request.path.strip("/").split("/")
        if parts[0] != "calls" or len(parts) > 2:
            return _Reply.json(404, {"message": "no such route", "code": "no_route"})
        if len(parts) == 2:
            if request.method != "GET":
                return _Reply.json(405, {"message": "method not allowed"})
            with self._lock:
                call = self._calls.get(parts[1])
                found = dict(call) if call else None
            if found is None:
                return _Reply.json(404, {"message": "no such call", "code": "not_found"})
            return _Reply.json(200, found)
        if request.method == "POST":
            return self._create(request)
        if request.method == "GET":
            return self._list(request)
        return _Reply.json(405, {"message": "method not allowed"})

    def _create(self, request: _Request) -> _Reply:
        try:
            data = json.loads(request.body)
        except ValueError:
            return _Reply.json(400, {"message": "the body is not JSON", "code": "bad_json"})
        if not isinstance(data, dict) or not data.get("to") or not data.get("from"):
            return _Reply.json(422, {"message": "to and from are required",
                                     "code": "missing_field"})
        with self._lock:
            call_id = f"c-{next(self._ids)}"
            call = {"id": call_id, "to": data["to"], "from": data["from"],
                    "tag": data.get("tag"), "status": "queued"}
            self._calls[call_id] = call
            self._created += 1
        return _Reply.json(201, dict(call))

    def _list(self, request: _Request) -> _Reply:
        tag = request.query.get("tag")
        try:
            start = int(request.query.get("cursor") or 0)
        except ValueError:
            return _Reply.json(400, {"message": "bad cursor", "code": "bad_cursor"})
        with self._lock:
            matching = [dict(c) for c in self._calls.values() if tag is None or c["tag"] == tag]
        end = start + self.page_size
        nxt = str(end) if end < len(matching) else None
        return _Reply.json(200, {"items": matching[start:end], "next": nxt})

    # Faulty answers -----------------------------------------------------------------------

    def _echo(self, request: _Request) -> dict[str, str]:
        if not self.echo_auth:
            return {}
        return {"echo": request.headers.get("authorization", "")}

    def _error(self, request: _Request, arg: str) -> _Reply:
        code_text, _, retry_after = arg.partition(":")
        code = int(code_text)
        message = f"injected {code}"
        echo = self._echo(request)
        if echo:
            message += f" (you sent {echo['echo']})"
        reply = _Reply.json(code, {"message": message, "code": f"E{code}", **echo})
        if retry_after:
            reply.headers["Retry-After"] = retry_after
        return reply

    def _html(self, request: _Request, code: int) -> _Reply:
        echo = self._echo(request).get("echo", "")
        page = (f"<html><head><title>{code} {_phrase(code)}</title></head><body>"
                f"<h1>{code} {_phrase(code)}</h1><p>upstream gateway said no {echo}</p>"
                "</body></html>")
        return _Reply(code, page.encode(), content_type="text/html")

    def _truncated(self, request: _Request, reply: _Reply) -> _Reply:
        data = json.loads(reply.body)
        if isinstance(data, dict):
            data = {**self._echo(request), **data}  # the echo first: it survives the cut
        body = json.dumps(data).encode()
        return _Reply(200, body[: max(1, len(body) - max(2, len(body) // 3))])

    def _missing_fields(self, request: _Request, reply: _Reply) -> _Reply:
        data = json.loads(reply.body)
        if isinstance(data, dict):
            data.pop("id", None)
            for item in data.get("items") or []:
                item.pop("id", None)
            data.update(self._echo(request))
        return _Reply.json(200, data)


# Wire format ------------------------------------------------------------------------------


def _phrase(status: int) -> str:
    try:
        return http.HTTPStatus(status).phrase
    except ValueError:
        return "Unknown"


async def _read_request(reader: asyncio.StreamReader) -> _Request | None:
    line = await reader.readline()
    if not line.strip():
        return None
    method, target, _version = line.decode("latin-1").rstrip("\r\n").split(" ", 2)
    headers: dict[str, str] = {}
    while True:
        raw = await reader.readline()
        if raw in (b"\r\n", b"\n", b""):
            break
        name, _, value = raw.decode("latin-1").partition(":")
        headers[name.strip().lower()] = value.strip()
    if "chunked" in headers.get("transfer-encoding", "").lower():
        body = b""
        while True:
            size = int((await reader.readline()).split(b";")[0].strip() or b"0", 16)
            if size == 0:
                await reader.readline()
                break
            body += await reader.readexactly(size)
            await reader.readline()
    else:
        length = int(headers.get("content-length") or 0)
        body = await reader.readexactly(length) if length else b""
    parts = urlsplit(target)
    return _Request(method.upper(), parts.path, dict(parse_qsl(parts.query)), headers, body)


async def _write_reply(writer: asyncio.StreamWriter, reply: _Reply, request_id: str,
                       keep_alive: bool) -> None:
    lines = [f"HTTP/1.1 {reply.status} {_phrase(reply.status)}",
             f"Content-Type: {reply.content_type}",
             f"Content-Length: {len(reply.body)}",
             f"X-Request-Id: {request_id}",
             f"Connection: {'keep-alive' if keep_alive else 'close'}"]
    lines += [f"{name}: {value}" for name, value in reply.headers.items()]
    writer.write(("\r\n".join(lines) + "\r\n\r\n").encode("latin-1") + reply.body)
    await writer.drain()


@contextlib.contextmanager
def refused_url() -> Iterator[str]:
    """A base URL on 127.0.0.1 whose port refuses connections (bound, never listening)."""
    sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
    sock.bind(("127.0.0.1", 0))
    try:
        yield f"http://127.0.0.1:{sock.getsockname()[1]}"
    finally:
        sock.close()
