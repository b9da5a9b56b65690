"""Sending operations' requests straight over an aiohttp session, for ``AsyncVoice``.

Operations keep speaking httpx (requests built, responses parsed); only the sending
skips httpx's client layer, which costs more than aiohttp itself at 50 requests in
flight (bench/rest_bench.py). A request from ``univoice.operations.build_request`` is
sent from its parts without ever being built as an ``httpx.Request`` (see ``LazyRequest``),
and the answer, read in full, becomes an ``httpx.Response`` without a second pass over
its bytes. Errors come back as the httpx exceptions the transport understands, with the
aiohttp original as the cause, so ``univoice.transport.was_sent`` can tell a failed
connect from a lost answer.

Auth follows httpx's contract, every step of it:

- an auth that does I/O of its own overrides ``httpx.Auth.async_auth_flow`` (or says so
  with a true ``multi_step`` attribute, see ``drives_async_flow``): that flow is driven
  to its end, each request it yields sent here (a token fetch included, so it never
  blocks the event loop) and each answer fed back;
- any other auth's plain ``auth_flow`` generator is driven the same way, synchronously
  (httpx forbids I/O in it): a header-setting auth (Basic, Bearer, AccessKey) is done
  after one step, and a challenge-answering one gets its 401 back.

A request an auth makes of its own (a token fetch) that fails in transit is reported as
a ``ConnectError``: the operation's request was not sent, or was refused with a 401,
so repeating the operation cannot repeat anything the provider did.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import aiohttp
import httpx

from univoice.operations import LazyRequest

if TYPE_CHECKING:
    from univoice.transport import HttpSettings

# Headers that describe the wire form of a body aiohttp has already decoded.
_WIRE_FORM = ("Content-Encoding", "Transfer-Encoding")
# What httpx.Response sets only when used (caches), and tests for with hasattr.
_SET_LATER = frozenset({"_text", "_decoder", "_elapsed"})
# Answers after which an auth may try again (a challenge): the request was refused.
_CHALLENGES = frozenset({401, 407})


def drives_async_flow(auth: httpx.Auth) -> bool:
    """Whether ``auth`` needs its ``async_auth_flow`` driven (it does I/O of its own).

    True when its class overrides ``httpx.Auth.async_auth_flow`` (as an OAuth2 auth that
    reads its token answer does), or when it carries ``multi_step = True``; the marker
    lets an auth say so explicitly, and ``multi_step = False`` keeps an overriding auth on
    the plain-generator path.
    """
    marker = getattr(auth, "multi_step", None)
    if isinstance(marker, bool):
        return marker
    return type(auth).async_auth_flow is not httpx.Auth.async_auth_flow


def read_response(status: int, headers: Any, body: bytes, request: httpx.Request
                  ) -> httpx.Response:
    """An ``httpx.Response`` of a body already read in full, in the state ``read()``
    would leave it (content in hand, stream consumed and closed), without ``read()``'s
    decoding and chunking passes over bytes that are already final, and with its headers
    (raw ``(name, value)`` pairs, as aiohttp gives them) normalised only if read."""
    return _ReadResponse(status, headers, body, request)


class _ReadResponse(httpx.Response):
    """What ``read_response`` returns: every attribute ``httpx.Response.__init__`` sets is
    set here, cheaply, except ``headers`` (built when first read); any other attribute a
    later httpx reads first builds the response the ordinary way, in the same read state."""

    def __init__(self, status: int, headers: Any, body: bytes, request: httpx.Request
                 ) -> None:
        # Deliberately not httpx.Response.__init__: see the class docstring.
        self.status_code = status
        self._raw_headers = headers
        self._request = request
        self.next_request = None
        self.extensions = {}
        self.history = []
        self.default_encoding = "utf-8"
        self.stream = httpx.ByteStream(body)
        self._read(body)

    def _read(self, body: bytes) -> None:
        self._content = body
        self._num_bytes_downloaded = 0  # as for httpx.Response(content=...)
        self.is_stream_consumed = True
        self.is_closed = True

    def __getattr__(self, name: str) -> Any:
        # Called only for an attribute not set: the headers, before they are first read.
        state = self.__dict__
        if name == "headers" and "_raw_headers" in state:
            headers = self.headers = httpx.Headers(state.pop("_raw_headers"))
            return headers
        if (name.startswith("__") or name in _SET_LATER or "_whole" in state
                or "_content" not in state):
            raise AttributeError(name)
        # Something httpx.Response.__init__ sets that this one did not: build it that way.
        state["_whole"] = True
        raw = state.pop("_raw_headers", None)
        httpx.Response.__init__(self, self.status_code,
                                headers=raw if raw is not None else state["headers"],
                                stream=self.stream, request=self._request,
                                extensions=self.extensions, history=self.history)
        self._read(self._content)
        return getattr(self, name)


class AiohttpSender:
    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None
        self._auth: httpx.Auth | None = None
        self._auth_is_async = False

    def _open(self) -> aiohttp.ClientSession:
        if self._session is None or self._session.closed:
            s = self._settings
            self._session = aiohttp.ClientSession(
                # Idle connections are dropped before a server's usual 5 s keep-alive
                # ends, so a request is not sent on a socket the server is closing.
                connector=aiohttp.TCPConnector(limit=s.max_connections, keepalive_timeout=4.0),
                timeout=aiohttp.ClientTimeout(total=None, sock_connect=s.connect_timeout,
                                              sock_read=s.timeout, connect=s.timeout),
                auto_decompress=True, cookie_jar=aiohttp.DummyCookieJar())
        return self._session

    async def send(self, request: httpx.Request, auth: httpx.Auth | None) -> httpx.Response:
        if auth is None:
            return await self._exchange(request)
        if auth is not self._auth:  # decided once per auth, not per request
            self._auth, self._auth_is_async = auth, drives_async_flow(auth)
        if self._auth_is_async:
            return await self._drive_async(request, auth)
        flow = auth.auth_flow(request)
        try:
            outgoing = next(flow)
            answered = False
            while True:
                if outgoing is request:
                    response = await self._exchange(request)
                    answered = response.status_code not in _CHALLENGES
                else:
                    response = await self._own(outgoing, request, answered)
                try:
                    outgoing = flow.send(response)
                except StopIteration:
                    return response
        except BaseException:
            flow.close()
            raise

    async def _drive_async(self, request: httpx.Request, auth: httpx.Auth) -> httpx.Response:
        flow = auth.async_auth_flow(request)
        try:
            outgoing = await flow.__anext__()
            answered = False
            while True:
                if outgoing is request:
                    response = await self._exchange(request)
                    answered = response.status_code not in _CHALLENGES
                else:
                    response = await self._own(outgoing, request, answered)
                try:
                    outgoing = await flow.asend(response)
                except StopAsyncIteration:
                    return response
        finally:
            await flow.aclose()

    async def _own(self, outgoing: httpx.Request, request: httpx.Request, answered: bool
                   ) -> httpx.Response:
        """Send a request the auth makes of its own (a token fetch) for ``request``."""
        if answered:  # the operation's request has had its answer: nothing to protect
            return await self._exchange(outgoing)
        try:
            return await self._exchange(outgoing)
        except httpx.TransportError as exc:
            # Raised without the aiohttp cause: was_sent reads this one as "not sent".
            raise httpx.ConnectError(
                f"the auth's own request ({outgoing.method} {outgoing.url.host}) failed "
                f"before the request could be sent: {exc}", request=request) from exc

    async def _exchange(self, request: httpx.Request) -> httpx.Response:
        if isinstance(request, LazyRequest):
            method, url, headers, body = request.wire()
        else:
            method, url = request.method, str(request.url)
            headers = request.headers.multi_items()
            try:
                body = request.content or None
            except httpx.RequestNotRead:  # a streamed body: read it (it is sent whole)
                body = await request.aread() or None
        try:
            session = self._session
            if session is None or session.closed:
                session = self._open()
            async with session.request(method, url, headers=headers, data=body,
                                       allow_redirects=False) as answer:
                content = await answer.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientError as exc:  # disconnected, payload error: after sending
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        raw: Any = answer.raw_headers
        seen = answer.headers
        if _WIRE_FORM[0] in seen or _WIRE_FORM[1] in seen:
            # The body is already decoded: leave out the headers that describe the wire form.
            raw = [(k, v) for k, v in raw if k.lower() not in (b"content-encoding",
                                                                b"transfer-encoding")]
        return read_response(answer.status, raw, content, request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
