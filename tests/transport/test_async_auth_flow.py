"""``AsyncVoice`` on the aiohttp backend drives an auth's whole flow, on the event loop.

An OAuth2 client-credentials auth (Bandwidth's) fetches its token, and renews it after a
401, through the same aiohttp session as the API requests: the tests put the fake
Bandwidth API behind a token endpoint that answers only once a coroutine of the *client's*
event loop opens its gate. A token fetch that blocked the loop could never be let through
(the gate's patience runs out and the test says so), so nothing here measures a time.
"""

from __future__ import annotations

import asyncio
import threading
from collections.abc import AsyncIterator, Awaitable, Callable, Generator, Iterator
from contextlib import asynccontextmanager
from typing import Any, ClassVar, TypeVar

import httpx
import pytest

import univoice
from tests.support.fake_bandwidth import APPLICATION_ID, TOKEN_PATH, FakeBandwidth
from tests.support.fake_provider import FakeProvider
from tests.support.fault_server import FaultServer
from tests.support.live_server import LiveServer
from tests.transport.conftest import ANSWER, FROM, TO, http
from univoice.aiohttp_sender import AiohttpSender, drives_async_flow
from univoice.errors import AuthenticationError, ConnectFailed
from univoice.transport import Hooks
from univoice_bandwidth.auth import BasicAuth, OAuth2ClientCredentials

pytestmark = pytest.mark.anyio

T = TypeVar("T")
ACCOUNT = "9900000"
CLIENT_ID, CLIENT_SECRET = "univoice-test-client", "oauth-client-secret-0123456789abcdef"
ASGI = Callable[[dict[str, Any], Any, Any], Awaitable[None]]


class GatedTokens:
    """ASGI middleware before the fake: each token request waits (off the server's loop)
    until the client side opens the gate once for it, or ``patience`` seconds pass."""

    def __init__(self, app: ASGI, patience: float = 5.0) -> None:
        self.app = app
        self.patience = patience
        self.arrived = 0  # token requests that reached the gate
        self.timeouts = 0  # ... and went through only because nobody opened it
        self.released = 0  # times the client side opened the gate
        self.refuse_api = False  # answer every API request 401
        self._gate = threading.Semaphore(0)
        self._lock = threading.Lock()

    async def __call__(self, scope: dict[str, Any], receive: Any, send: Any) -> None:
        if scope["type"] == "http" and scope["path"] == TOKEN_PATH:
            with self._lock:
                self.arrived += 1
            if not await asyncio.to_thread(self._gate.acquire, True, self.patience):
                with self._lock:
                    self.timeouts += 1
        elif scope["type"] == "http" and self.refuse_api:
            await send({"type": "http.response.start", "status": 401,
                        "headers": [(b"content-type", b"application/json")]})
            await send({"type": "http.response.body", "body":
                        b'{"type": "authentication-error", "description": "refused"}'})
            return
        await self.app(scope, receive, send)

    async def letting_through(self, work: Awaitable[T]) -> tuple[T, int]:
        """Run ``work`` while a coroutine of this loop opens the gate for every token
        request that arrives; returns its result and how many it let through."""
        before = self.released
        done = asyncio.Event()

        async def keeper() -> None:
            while not done.is_set():
                while self.arrived > self.released:
                    self.released += 1
                    self._gate.release()
                await asyncio.sleep(0.001)

        task = asyncio.create_task(keeper())
        try:
            result = await work
        finally:
            done.set()
            await task
        opened = self.released - before
        return result, opened


@pytest.fixture
def bandwidth() -> Iterator[tuple[FakeBandwidth, GatedTokens, dict[str, Any]]]:
    """The fake Bandwidth API (OAuth2 clients only) over HTTP, with a gated token path."""
    fake = FakeBandwidth(username=None, password=None, client_id=CLIENT_ID,
                         client_secret=CLIENT_SECRET, account_id=ACCOUNT, https_only=False)
    server = LiveServer(name="gated-bandwidth")
    fake.base_url = f"{server.url}/api/v2"
    gated = GatedTokens(fake.asgi())
    server.start(gated)  # type: ignore[arg-type]
    try:
        yield fake, gated, {
            "account_id": ACCOUNT, "application_id": APPLICATION_ID, "client_id": CLIENT_ID,
            "client_secret": CLIENT_SECRET, "api_url": f"{server.url}/api/v2",
            "token_url": f"{server.url}{TOKEN_PATH}"}
    finally:
        server.stop()


@asynccontextmanager
async def bandwidth_voice(settings: dict[str, Any], hooks: Hooks | None = None,
                          **http_options: Any) -> AsyncIterator[univoice.AsyncVoice]:
    async with univoice.AsyncVoice("bandwidth", http=http(**http_options), hooks=hooks,
                                   **settings) as v:
        assert v._transport._direct is not None  # the aiohttp sender, not httpx's client
        assert drives_async_flow(v._transport.core.auth)
        yield v


def token_fetches(fake: FakeBandwidth) -> int:
    return [r.url.path for r in fake.requests].count(TOKEN_PATH)


def api_exchanges(fake: FakeBandwidth) -> list[tuple[str, int]]:
    """(method, status) of each API request, token requests left out."""
    return [(req.method, resp.status_code) for req, resp in fake.exchanges
            if req.url.path != TOKEN_PATH]


# OAuth2 through the aiohttp sender ----------------------------------------------------------


async def test_the_token_is_fetched_on_the_loop_without_blocking_it(
        bandwidth: tuple[FakeBandwidth, GatedTokens, dict[str, Any]]) -> None:
    fake, gated, settings = bandwidth
    async with bandwidth_voice(settings) as v:
        call, opened = await gated.letting_through(
            v.calls.create(TO, FROM, answer_url=ANSWER, tag="gated-1"))
        again, reopened = await gated.letting_through(v.calls.get(call.id))
    assert (opened, reopened, gated.timeouts) == (1, 0, 0)
    assert again.id == call.id and call.tag == "gated-1"
    assert token_fetches(fake) == 1  # cached for the second request
    assert api_exchanges(fake) == [("POST", 201), ("GET", 200)]
    [token] = fake.tokens
    assert all(req.headers["authorization"] == f"Bearer {token}"
               for req, _ in fake.exchanges if req.url.path != TOKEN_PATH)


async def test_a_401_renews_the_token_once_and_repeats_the_request(
        bandwidth: tuple[FakeBandwidth, GatedTokens, dict[str, Any]]) -> None:
    fake, gated, settings = bandwidth
    async with bandwidth_voice(settings) as v:
        call, _ = await gated.letting_through(v.calls.create(TO, FROM, answer_url=ANSWER))
        [revoked] = fake.tokens
        fake.tokens.clear()  # revoked before its expiry
        got, opened = await gated.letting_through(v.calls.get(call.id))
    assert (got.id, opened, gated.timeouts) == (call.id, 1, 0)
    assert token_fetches(fake) == 2
    assert api_exchanges(fake) == [("POST", 201), ("GET", 401), ("GET", 200)]
    [renewed] = fake.tokens
    refused, repeated = [req for req, _ in fake.exchanges if req.method == "GET"]
    assert refused.headers["authorization"] == f"Bearer {revoked}"
    assert repeated.headers["authorization"] == f"Bearer {renewed}"


async def test_a_401_after_the_renewal_stands(
        bandwidth: tuple[FakeBandwidth, GatedTokens, dict[str, Any]]) -> None:
    fake, gated, settings = bandwidth
    async with bandwidth_voice(settings) as v:
        call, _ = await gated.letting_through(v.calls.create(TO, FROM, answer_url=ANSWER))
        gated.refuse_api = True
        with pytest.raises(AuthenticationError) as refused:
            await gated.letting_through(v.calls.get(call.id))
    assert refused.value.status == 401
    assert (gated.arrived, gated.timeouts) == (2, 0)  # one renewal, not a loop of them
    assert token_fetches(fake) == 2


async def test_a_token_fetch_that_times_out_is_not_an_ambiguous_create(
        bandwidth: tuple[FakeBandwidth, GatedTokens, dict[str, Any]]) -> None:
    """The token request was sent and lost; the create was not sent at all, so it is a
    ``ConnectFailed`` (safe to repeat), with no lookup and no call made."""
    fake, gated, settings = bandwidth
    gated.patience = 1.0  # nobody opens the gate: the client gives up first
    retries: list[tuple[str, int, float, Any]] = []
    async with bandwidth_voice(settings, Hooks(retry=[lambda *a: retries.append(a)]),
                               timeout=0.2, attempts=2) as v:
        with pytest.raises(ConnectFailed, match="auth's own request"):
            await v.calls.create(TO, FROM, answer_url=ANSWER)
    # Tried again, as a request never sent may be.
    assert [(name, attempt) for name, attempt, _, _ in retries] == [("calls.create", 1)]
    assert isinstance(retries[0][3], ConnectFailed)
    assert api_exchanges(fake) == []
    assert fake.calls == {}


# Which flow the sender drives -----------------------------------------------------------------


class ChallengedBearer(httpx.Auth):
    """A plain (no I/O) two-step auth: a stale token first, the right one after a 401."""

    def __init__(self, stale: str, fresh: str) -> None:
        self.stale, self.fresh = stale, fresh

    def auth_flow(self, request: httpx.Request) -> Generator[httpx.Request, httpx.Response, None]:
        request.headers["Authorization"] = f"Bearer {self.stale}"
        response = yield request
        if response.status_code == 401:
            request.headers["Authorization"] = f"Bearer {self.fresh}"
            yield request


class ChallengedProvider(FakeProvider):
    stale: ClassVar[str] = "stale-token-0123456789"

    def auth(self) -> httpx.Auth:
        return ChallengedBearer(self.stale, self.settings.token.get_secret_value())


class TokenlessOAuthProvider(FakeProvider):
    """The fake provider behind an OAuth2 auth whose token endpoint refuses connections."""

    token_url: ClassVar[str] = ""

    def auth(self) -> httpx.Auth:
        return OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET, self.token_url)


async def test_a_plain_multi_step_auth_is_driven_to_its_end(server: FaultServer) -> None:
    provider = ChallengedProvider(base_url=server.base_url, token=server.token)
    [cid] = server.seed()
    async with univoice.AsyncVoice(provider, http=http(attempts=1)) as v:
        assert not drives_async_flow(v._transport.core.auth)
        call = await v.calls.get(cid)
    assert call.id == cid
    sent = [r.headers["authorization"] for r in server.seen("GET")]
    assert sent == [f"Bearer {ChallengedProvider.stale}", f"Bearer {server.token}"]


async def test_an_unreachable_token_endpoint_is_a_connect_failure(
        server: FaultServer, refused: str) -> None:
    TokenlessOAuthProvider.token_url = f"{refused}/oauth2/token"
    provider = TokenlessOAuthProvider(base_url=server.base_url, token=server.token)
    async with univoice.AsyncVoice(provider, http=http(attempts=2)) as v:
        with pytest.raises(ConnectFailed):
            await v.calls.create(TO, FROM, answer_url=ANSWER)
    assert server.requests == []  # neither the create nor a lookup went out


def test_which_auths_need_their_async_flow_driven() -> None:
    assert not drives_async_flow(BasicAuth("user", "password"))
    assert not drives_async_flow(httpx.BasicAuth("user", "password"))
    assert not drives_async_flow(httpx.DigestAuth("user", "password"))
    oauth = OAuth2ClientCredentials(CLIENT_ID, CLIENT_SECRET, "https://example.com/token")
    assert drives_async_flow(oauth)

    class Marked(httpx.BasicAuth):
        multi_step = True

    class Unmarked(OAuth2ClientCredentials):
        multi_step = False

    assert drives_async_flow(Marked("user", "password"))
    assert not drives_async_flow(Unmarked(CLIENT_ID, CLIENT_SECRET, "https://example.com/t"))


async def test_the_sender_decides_once_per_auth(server: FaultServer) -> None:
    provider = FakeProvider(base_url=server.base_url, token=server.token)
    [cid] = server.seed()
    sender = AiohttpSender(http())
    auth = provider.auth()
    try:
        for _ in range(2):
            response = await sender.send(provider.get_call(cid).request, auth)
            assert response.status_code == 200
            assert response.json()["id"] == cid
        assert sender._auth is auth and sender._auth_is_async is False
    finally:
        await sender.aclose()
