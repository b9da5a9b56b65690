"""Sending ``httpx.Request``s straight over an aiohttp session, for ``AsyncVoice``.

Operations keep speaking httpx (requests built, responses parsed); only the sending
skips httpx's client layer, which costs more than aiohttp itself at 50 requests in
flight (bench/rest_bench.py: ~170 us of ~270 us per request). Errors come back as the
httpx exceptions the transport understands, with the aiohttp original as the cause, so
``univoice.transport.was_sent`` can tell a failed connect from a lost answer.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

import aiohttp
import httpx

if TYPE_CHECKING:
    from univoice.transport import HttpSettings


class AiohttpSender:
    def __init__(self, settings: HttpSettings) -> None:
        self._settings = settings
        self._session: aiohttp.ClientSession | None = None

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
        if auth is not None:
            # Header-setting auths (Basic, Bearer, AccessKey) finish in one step, so the
            # plain generator serves (cheaper than the async one per request).
            request = next(auth.auth_flow(request))
        try:
            async with self._open().request(
                    request.method, str(request.url), headers=request.headers.multi_items(),
                    data=request.content or None, allow_redirects=False) as answer:
                body = await answer.read()
        except (aiohttp.ClientConnectorError, aiohttp.ConnectionTimeoutError) as exc:
            raise httpx.ConnectError(str(exc) or type(exc).__name__, request=request) from exc
        except (TimeoutError, aiohttp.ServerTimeoutError) as exc:
            raise httpx.ReadTimeout(str(exc) or "timed out", request=request) from exc
        except aiohttp.ClientError as exc:  # disconnected, payload error: after sending
            raise httpx.ReadError(str(exc) or type(exc).__name__, request=request) from exc
        # The body is already decoded: leave out the headers that describe the wire form.
        headers = [(k, v) for k, v in answer.raw_headers
                   if k.lower() not in (b"content-encoding", b"transfer-encoding")]
        return httpx.Response(answer.status, headers=headers, content=body, request=request)

    async def aclose(self) -> None:
        if self._session is not None:
            await self._session.close()
