"""``univoice.AsyncVoice`` against a real local server with injected faults.

Every test runs over both async backends: httpx over aiohttp (httpx-aiohttp, the
default) and httpx's own transport (``http={"async_backend": "httpx"}``).
"""

from __future__ import annotations

import asyncio
import logging
from collections.abc import AsyncIterator
from contextlib import asynccontextmanager
from dataclasses import dataclass
from datetime import datetime, timedelta

import httpx
import pytest

import univoice
from tests.support.fake_provider import FakeProvider, FakeProviderNoReconcile
from tests.support.fault_server import FaultServer
from tests.transport.conftest import ANSWER, FROM, TO, Observed, http, http_date
from univoice.errors import (
    AmbiguousCreate,
    AuthenticationError,
    ConnectFailed,
    InvalidRequest,
    NotFound,
    ProviderError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
    UnivoiceError,
)
from univoice.models import Call, CallStatus
from univoice.resources import AsyncCalls
from univoice.transport import AsyncTransport, Hooks, HttpSettings, was_sent

pytestmark = pytest.mark.anyio


@dataclass
class Client:
    """``voice.calls`` over an async transport whose sleeps are recorded, not slept."""

    calls: AsyncCalls
    sleeps: list[float]


@asynccontextmanager
async def recording(provider: FakeProvider, settings: HttpSettings) -> AsyncIterator[Client]:
    sleeps: list[float] = []

    async def sleep(seconds: float) -> None:
        sleeps.append(seconds)

    transport = AsyncTransport(provider, settings, sleep=sleep)
    try:
        yield Client(AsyncCalls(transport.run, provider), sleeps)
    finally:
        await transport.aclose()


def avoice(provider: FakeProvider, backend: str, *, timeout: float = 2.0,
           hooks: Hooks | None = None) -> univoice.AsyncVoice:
    return univoice.AsyncVoice(provider, http=http(backend=backend, timeout=timeout),
                               hooks=hooks)


async def create(v: univoice.AsyncVoice | Client, **options: str) -> Call:
    return await v.calls.create(TO, FROM, answer_url=ANSWER, **options)


async def test_the_backend_setting_selects_the_transport(provider: FakeProvider) -> None:
    from httpx_aiohttp import AiohttpTransport

    async with univoice.AsyncVoice(provider) as default, \
            univoice.AsyncVoice(provider, http={"async_backend": "httpx"}) as own:
        assert isinstance(default._transport.client._transport, AiohttpTransport)
        assert isinstance(own._transport.client._transport, httpx.AsyncHTTPTransport)


# Success and retries ------------------------------------------------------------------


async def test_create_get_and_list_succeed(server: FaultServer, provider: FakeProvider,
                                           backend: str) -> None:
    async with avoice(provider, backend) as v:
        call = await create(v, tag="t-1")
        assert (call.id, call.tag, call.status) == ("c-1", "t-1", CallStatus.QUEUED)
        assert await v.calls.get("c-1") == call
        assert [c.id async for c in v.calls.list(tag="t-1")] == ["c-1"]
    assert server.created == 1
    assert server.seen("POST")[0].headers["authorization"] == f"Bearer {server.token}"


async def test_503_then_success_is_retried_and_observed(
        server: FaultServer, provider: FakeProvider, backend: str, observed: Observed) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", "status:503")
    async with avoice(provider, backend, hooks=observed.hooks()) as v:
        assert (await v.calls.get(cid)).id == cid
    [(operation, attempt, _delay, error)] = observed.retries
    assert (operation, attempt) == ("calls.get", 1)
    assert isinstance(error, ServerError)
    assert [(s["operation"], s["attempt"]) for s in observed.plugin_retries] == [("calls.get", 1)]
    assert len(server.seen("GET")) == 2


@pytest.mark.parametrize("status", [429, 503])
async def test_retry_after_is_honoured_exactly(server: FaultServer, provider: FakeProvider,
                                               backend: str, status: int) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", f"status:{status}:7")
    async with recording(provider, http(backend=backend)) as client:
        assert (await client.calls.get(cid)).id == cid
    assert client.sleeps == [7.0]


async def test_retry_after_above_the_maximum_raises_rate_limited(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("GET /calls/*", "status:429:61")
    async with recording(provider, http(backend=backend, max_retry_after=60)) as client:
        with pytest.raises(RateLimited) as info:
            await client.calls.get("c-1")
    assert info.value.retry_after == 61.0
    assert client.sleeps == []


async def test_retry_after_as_an_http_date(server: FaultServer, provider: FakeProvider,
                                           backend: str, frozen_now: datetime) -> None:
    [cid] = server.seed()
    server.inject("GET /calls/*", f"status:429:{http_date(frozen_now + timedelta(seconds=9))}")
    async with recording(provider, http(backend=backend)) as client:
        await client.calls.get(cid)
    assert client.sleeps == [9.0]


async def test_retries_exhausted_on_500_raise_server_error_with_details(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("GET /calls/*", "status:500", "status:500", "status:500")
    async with avoice(provider, backend) as v:
        with pytest.raises(ServerError) as info:
            await v.calls.get("c-1")
    error = info.value
    assert (error.status, error.code, error.provider_message) == (500, "E500", "injected 500")
    assert error.request_id == server.requests[-1].request_id
    assert error.raw == {"message": "injected 500", "code": "E500"}
    assert len(server.seen("GET")) == 3


@pytest.mark.parametrize(("fault", "error_type"), [
    ("status:401", AuthenticationError), ("status:404", NotFound),
    ("status:400", InvalidRequest), ("status:409", InvalidRequest),
    ("status:422", InvalidRequest)])
async def test_client_errors_are_typed_and_not_retried(
        server: FaultServer, provider: FakeProvider, backend: str, fault: str,
        error_type: type[ProviderError]) -> None:
    server.inject("GET /calls/*", fault)
    async with avoice(provider, backend) as v:
        with pytest.raises(error_type) as info:
            await v.calls.get("c-1")
    assert info.value.status == int(fault.split(":")[1])
    assert len(server.requests) == 1


async def test_wrong_token_and_unknown_call(server: FaultServer, provider: FakeProvider,
                                            backend: str) -> None:
    wrong = FakeProvider(base_url=server.base_url, token="sk_test_wrong_wrong_wrong")
    async with avoice(wrong, backend) as v:
        with pytest.raises(AuthenticationError, match="bad credentials"):
            await v.calls.get("c-1")
    async with avoice(provider, backend) as v:
        with pytest.raises(NotFound) as info:
            await v.calls.get("c-1")
    assert info.value.code == "not_found"


# Timeouts and connection failures -----------------------------------------------------


async def test_get_timeouts_are_retried_then_raise_request_timeout(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("GET /calls/*", "delay_after:3", "delay_after:3", "delay_after:3")
    async with avoice(provider, backend, timeout=0.2) as v:
        with pytest.raises(RequestTimeout) as info:
            await v.calls.get("c-1")
    assert info.value.sent is True
    assert len(server.seen("GET")) == 3


async def test_connect_refused_raises_connect_failed_after_retries(
        refused: str, backend: str, observed: Observed) -> None:
    nowhere = FakeProvider(base_url=refused, token="sk_test_nowhere_nowhere")
    async with avoice(nowhere, backend, hooks=observed.hooks()) as v:
        with pytest.raises(ConnectFailed) as info:
            await v.calls.get("c-1")
        with pytest.raises(ConnectFailed):
            await create(v)  # never sent: retried at once, no lookup
    assert info.value.sent is False
    assert [(r[0], r[1]) for r in observed.retries] == [
        ("calls.get", 1), ("calls.get", 2), ("calls.create", 1), ("calls.create", 2)]


# Never a duplicate call ---------------------------------------------------------------


async def test_create_answer_lost_after_processing_is_reconciled(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    """httpx-aiohttp maps this disconnect to httpx.ConnectTimeout: still "sent"."""
    server.inject("POST /calls", "drop_after")
    async with avoice(provider, backend) as v:
        call = await create(v, tag="once")
    assert server.created == 1
    assert server.posts == 1
    assert call.id == server.calls[0]["id"]
    assert call.tag == "once"
    assert [r.query["tag"] for r in server.lookups()] == ["once"]


async def test_create_answer_lost_on_a_reused_connection_is_reconciled(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    async with avoice(provider, backend) as v:
        await create(v, tag="warm-up")  # leaves a keep-alive connection in the pool
        server.inject("POST /calls", "drop_after")
        call = await create(v, tag="reused")
    assert server.created == 2
    assert server.posts == 2
    assert call.tag == "reused"
    assert call.id == server.calls[1]["id"]


async def test_create_dropped_before_processing_is_created_once(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("POST /calls", "drop")
    async with avoice(provider, backend) as v:
        call = await create(v, tag="dropped")
    assert server.created == 1
    assert server.posts == 2
    assert len(server.lookups()) == 2  # no answer: looked up again after the settle window
    assert call.id == server.calls[0]["id"]


async def test_create_read_timeout_is_reconciled_to_the_same_call(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("POST /calls", "delay_after:3")
    async with avoice(provider, backend, timeout=0.2) as v:
        call = await create(v, tag="slow")
    assert server.created == 1
    assert server.posts == 1
    assert call.id == "c-1"
    assert call.id == server.calls[0]["id"]


@pytest.mark.parametrize("fault", ["status:500", "html:502"])
async def test_create_5xx_is_reconciled(server: FaultServer, provider: FakeProvider,
                                        backend: str, fault: str) -> None:
    server.inject("POST /calls", fault)
    async with avoice(provider, backend) as v:
        call = await create(v, tag="five")
    assert server.created == 1
    assert server.posts == 2
    assert len(server.lookups()) == 1
    assert call.id == server.calls[0]["id"]


async def test_create_5xx_after_processing_is_reconciled(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("POST /calls", "status_after:500")
    async with avoice(provider, backend) as v:
        call = await create(v, tag="made")
    assert server.created == 1
    assert server.posts == 1
    assert call.id == server.calls[0]["id"]


async def test_create_429_is_retried_without_reconciling(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("POST /calls", "status:429:0")
    async with recording(provider, http(backend=backend)) as client:
        await create(client, tag="refused")
    assert client.sleeps == [0.0]
    assert server.created == 1
    assert server.posts == 2
    assert server.lookups() == []


async def test_create_without_reconcile_raises_ambiguous_create(
        server: FaultServer, backend: str) -> None:
    provider = FakeProviderNoReconcile(base_url=server.base_url, token=server.token)
    server.inject("POST /calls", "drop_after")
    async with avoice(provider, backend) as v:
        with pytest.raises(AmbiguousCreate) as info:
            await create(v, tag="maybe")
    assert info.value.tag == "maybe"
    assert info.value.sent is True
    assert server.created == 1
    assert server.posts == 1
    assert server.lookups() == []


async def test_create_whose_lookup_fails_raises_ambiguous_create(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("POST /calls", "drop_after")
    server.inject("GET /calls", "status:503", "status:503", "status:503")
    async with avoice(provider, backend) as v:
        with pytest.raises(AmbiguousCreate) as info:
            await create(v, tag="lost")
    assert info.value.tag == "lost"
    assert server.created == 1
    assert server.posts == 1
    assert len(server.lookups()) == 3


# Malformed answers --------------------------------------------------------------------


async def test_html_error_page_raises_server_error_keeping_the_html(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.inject("GET /calls/*", "html:502", "html:502", "html:502")
    async with avoice(provider, backend) as v:
        with pytest.raises(ServerError) as info:
            await v.calls.get("c-1")
    assert info.value.status == 502
    assert isinstance(info.value.raw, str)
    assert "<h1>502 Bad Gateway</h1>" in info.value.raw


@pytest.mark.parametrize("fault", ["truncated", "missing_fields"])
async def test_malformed_200_raises_provider_error_keeping_the_body(
        server: FaultServer, provider: FakeProvider, backend: str, fault: str) -> None:
    [cid] = server.seed(tag="x")
    server.inject("GET /calls/*", fault)
    async with avoice(provider, backend) as v:
        with pytest.raises(ProviderError) as info:
            await v.calls.get(cid)
    assert type(info.value) is ProviderError
    assert info.value.status == 200
    assert isinstance(info.value.raw, str)
    assert info.value.raw.startswith("{")
    assert len(server.seen("GET")) == 1


# Paging -------------------------------------------------------------------------------


async def test_list_fetches_only_the_pages_it_needs(server: FaultServer,
                                                    provider: FakeProvider,
                                                    backend: str) -> None:
    server.seed(5, tag="p")
    async with avoice(provider, backend) as v:
        pager = v.calls.list(tag="p", limit=3)
        assert server.requests == []
        ids = [c.id async for c in pager]
    assert ids == ["c-1", "c-2", "c-3"]
    assert [r.query.get("cursor") for r in server.requests] == [None, "2"]


async def test_a_cursor_returned_twice_raises_provider_error(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    server.seed(6, tag="loop")
    server.inject("GET /calls", "cursor:2", "cursor:2")
    async with avoice(provider, backend) as v:
        with pytest.raises(ProviderError, match="already returned"):
            async for _ in v.calls.list(tag="loop"):
                pass
    assert len(server.requests) == 2


# Redaction ----------------------------------------------------------------------------


async def test_the_token_is_redacted_everywhere(
        server: FaultServer, provider: FakeProvider, backend: str, refused: str,
        caplog: pytest.LogCaptureFixture) -> None:
    caplog.set_level(logging.DEBUG)
    token = server.token
    server.echo_auth = True
    [cid] = server.seed()
    shown: list[str] = []
    hooks = Hooks(request=[lambda r: shown.append(f"{r.url} {dict(r.headers)} {r.content!r}")])
    errors: list[UnivoiceError] = []
    async with univoice.AsyncVoice(provider, http=http(backend=backend), hooks=hooks) as v:
        server.inject("POST /calls", "drop")
        await create(v, tag=f"leak-{token}")  # the token in a body and a lookup URL
        # httpx itself logs every URL (the planted tag included): not univoice's output.
        caplog.clear()
        for faults in (["status:500"] * 3, ["html:503"] * 3, ["status:401"],
                       ["missing_fields"]):
            server.inject("GET /calls/*", *faults)
            with pytest.raises(UnivoiceError) as info:
                await v.calls.get(cid)
            errors.append(info.value)
        assert token not in repr(v)
        assert token not in repr(v.provider)
    async with avoice(FakeProvider(base_url=refused, token=token), backend) as v:
        with pytest.raises(TransportError) as failed:
            await v.calls.get("c-1")
        errors.append(failed.value)
    assert len(shown) == 4 + 3 + 3 + 1 + 1  # the lost create looks its call up twice
    assert "Bearer ***" in repr([e.raw for e in errors if isinstance(e, ProviderError)])
    for text in [*shown, *(f"{e} {e!r} {getattr(e, 'raw', None)!r}" for e in errors),
                 caplog.text, *(f"{r.getMessage()} {r.args!r}" for r in caplog.records)]:
        assert not [token[i:i + 12] for i in range(len(token) - 11) if token[i:i + 12] in text]


async def test_concurrent_creates_under_mixed_faults_are_never_duplicated(
        server: FaultServer, provider: FakeProvider, backend: str) -> None:
    """Creates in flight together, the faults taken by whichever request comes first."""
    faults = ["drop_after", "drop", "status:500", "status_after:502", "status:429:0",
              "html:504", "delay_after:3", "drop_after"]
    server.inject("POST /calls", *faults)
    tags = [f"mixed-{i}" for i in range(len(faults) + 2)]
    async with avoice(provider, backend, timeout=0.5) as v:
        results = await asyncio.gather(*(create(v, tag=tag) for tag in tags),
                                       return_exceptions=True)
    made = [call["tag"] for call in server.calls]
    assert len(made) == len(set(made))  # never two calls for one create
    for tag, result in zip(tags, results, strict=True):
        if isinstance(result, Call):
            assert result.tag == tag
            assert made.count(tag) == 1
        else:
            assert isinstance(result, UnivoiceError)
    assert server.pending == []


# What the backends raise, and how ``was_sent`` reads it --------------------------------


async def _failure(url: str, backend: str) -> httpx.TransportError:
    from univoice.transport import default_async_transport

    transport = default_async_transport(http(backend=backend))
    async with httpx.AsyncClient(transport=transport, timeout=2.0) as client:
        with pytest.raises(httpx.TransportError) as info:
            await client.post(f"{url}/calls", json={"to": TO, "from": FROM})
    return info.value


async def test_a_disconnect_after_sending_counts_as_sent(server: FaultServer,
                                                         backend: str) -> None:
    server.inject("POST /calls", "drop_after")
    error = await _failure(server.base_url, backend)
    if backend == "aiohttp":  # httpx-aiohttp's mapping, which was_sent has to see through
        assert type(error) is httpx.ConnectTimeout
        assert type(error.__cause__).__name__ == "ServerDisconnectedError"
    assert was_sent(error) is True


async def test_a_refused_connection_counts_as_not_sent(refused: str, backend: str) -> None:
    error = await _failure(refused, backend)
    assert was_sent(error) is False
