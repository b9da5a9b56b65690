"""Each fault, one at a time, on every provider, through ``Voice`` and ``AsyncVoice``.

The provider fault server (tests/support/provider_fault_server.py) plays Bandwidth,
MessageBird or Bird from their cassettes; a fault is queued for the next create (or the
lookup that reconciles it) and one call is placed. Each row says what the client must do:
how many creates and lookups reach the server, and how it ends. Every create that ends in
a call leaves exactly one call on the server, and it is the one returned.

The client's waits are recorded, not slept (``Sleeps``), except in the settle-window tests,
where the server acts only after the client has given up on the answer.
"""

from __future__ import annotations

import time
from collections.abc import Callable, Iterator
from dataclasses import dataclass

import pytest

import univoice
from tests.reliability.harness import (
    PROVIDERS,
    SOURCE,
    Sleeps,
    async_voice,
    create_options,
    leaks,
    number,
    serve,
    voice,
)
from tests.support.provider_fault_server import ProviderFaultServer
from univoice.errors import (
    AmbiguousCreate,
    RateLimited,
    ServerError,
    TransportError,
    UnivoiceError,
)
from univoice.models import Call
from univoice.retry import RetryPolicy
from univoice.transport import HttpSettings

TIMEOUT = 0.3  # the client's, where a request is held: it costs this much
PATIENT = 5.0  # the client's elsewhere: a busy machine never makes it give up


@dataclass(frozen=True)
class Row:
    """A fault on the first create, and what follows: creates and lookups seen, the
    recorded waits (None: not checked), the error raised (None: a call)."""

    fault: str
    creates: int
    lookups: int
    sleeps: list[float] | None = None
    raises: type[UnivoiceError] | None = None

    @property
    def timeout(self) -> float:
        return TIMEOUT if self.fault.startswith("timeout") else PATIENT


ROWS = [
    Row("reset", 2, 2, [2.0, 0.125]),  # no answer: look up, settle, look up again, create
    Row("drop", 2, 2),
    Row("timeout", 2, 2),
    Row("status:429", 2, 0),  # refused: repeated without a lookup
    Row("status:429:1", 2, 0, [1.0]),  # ... after Retry-After
    Row("status:503:2", 2, 1, [2.0]),  # a 5xx may have acted: one lookup, then Retry-After
    Row("status:500", 2, 1),
    Row("status:502", 2, 1),
    Row("html:502", 2, 1),
    Row("reset_after", 1, 1),  # acted, answer lost: the lookup finds the call
    Row("drop_after", 1, 1),
    Row("timeout_after", 1, 1),
    Row("status_after:500", 1, 1),
    Row("status_after:503", 1, 1),
    Row("html_after:504", 1, 1),
    Row("truncated", 1, 1, []),  # acted, answer unreadable: looked up at once
    Row("non_json", 1, 1, []),
    Row("missing_fields", 1, 1, []),
    Row("short", 1, 1),  # fewer bytes than Content-Length: a transport error
    Row("delay:0.01", 1, 0, []),
    Row("delay_after:0.01", 1, 0, []),
    Row("slow:0.005", 1, 0, []),
]


@pytest.fixture(scope="module", params=PROVIDERS)
def server(request: pytest.FixtureRequest) -> Iterator[ProviderFaultServer]:
    with serve(str(request.param), echo_auth=True) as srv:
        yield srv


@pytest.fixture(autouse=True)
def clean(server: ProviderFaultServer) -> None:
    server.app.reset_state()


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


def settings(attempts: int = 3, *, settle: float = 2.0, timeout: float = TIMEOUT,
             backend: str = "aiohttp") -> HttpSettings:
    return HttpSettings(timeout=timeout, connect_timeout=timeout, async_backend=backend,
                        retry=RetryPolicy(max_attempts=attempts, backoff=0.25, settle=settle,
                                          jitter=lambda: 0.0))


def create(v: univoice.Voice, server: ProviderFaultServer, i: int = 0) -> Call:
    return v.calls.create(number(i), SOURCE[server.provider], tag=f"row-{i}",
                          **create_options(server.provider))


async def acreate(v: univoice.AsyncVoice, server: ProviderFaultServer, i: int = 0) -> Call:
    return await v.calls.create(number(i), SOURCE[server.provider], tag=f"row-{i}",
                                **create_options(server.provider))


def verdict(server: ProviderFaultServer, row: Row, outcome: Call | UnivoiceError,
            sleeps: Sleeps) -> None:
    app = server.app
    assert len(app.requests("create")) == row.creates, [s.fault for s in app.seen]
    assert len(app.requests("lookup")) == row.lookups, [s.fault for s in app.seen]
    if row.raises is None:
        assert isinstance(outcome, Call), outcome
        assert app.placed(number(0)) == [outcome.id]
        assert outcome.to == number(0)
    else:
        assert isinstance(outcome, row.raises), outcome
        assert not leaks(outcome, app.secrets())
    if row.sleeps is not None:
        assert sleeps.seen == row.sleeps
    assert app.duplicates() == {}


@pytest.mark.parametrize("row", ROWS, ids=[r.fault for r in ROWS])
def test_a_create_fault_sync(server: ProviderFaultServer, row: Row) -> None:
    server.app.inject("create *", row.fault)
    sleeps = Sleeps()
    with voice(server, settings(timeout=row.timeout), sleeps) as v:
        outcome: Call | UnivoiceError = create(v, server)
    verdict(server, row, outcome, sleeps)


@pytest.mark.anyio
@pytest.mark.parametrize("row", ROWS, ids=[r.fault for r in ROWS])
async def test_a_create_fault_async(server: ProviderFaultServer, row: Row) -> None:
    server.app.inject("create *", row.fault)
    sleeps = Sleeps()
    async with async_voice(server, settings(timeout=row.timeout), sleeps) as v:
        outcome: Call | UnivoiceError = await acreate(v, server)
    verdict(server, row, outcome, sleeps)


# When every attempt fails: a typed error, and what it says is true -----------------------

FAILING = [
    # (faults on creates, faults on lookups, error, calls placed)
    (["status:429:1"] * 3, [], RateLimited, 0),
    (["status:500"] * 3, [], ServerError, 0),
    (["reset"] * 3, [], TransportError, 0),
    # aiohttp repeats a GET once by itself when a kept-alive connection drops: enough resets
    (["status_after:500"], ["reset"] * 6, AmbiguousCreate, 1),
    (["status:500"], ["non_json"], AmbiguousCreate, 0),
    (["reset_after"], ["status:503"] * 3, AmbiguousCreate, 1),
]


@pytest.mark.anyio
@pytest.mark.parametrize(("creates", "lookups", "error", "placed"), FAILING,
                         ids=[f"{c[0]}x{len(c)}-{lk[0] if lk else 'ok'}"
                              for c, lk, _, _ in FAILING])
@pytest.mark.parametrize("client", ["Voice", "AsyncVoice"])
async def test_when_the_attempts_run_out_the_error_is_typed_and_true(
        server: ProviderFaultServer, creates: list[str], lookups: list[str],
        error: type[UnivoiceError], placed: int, client: str) -> None:
    server.app.inject("create *", *creates)
    server.app.inject("lookup *", *lookups)
    outcome: Call | Exception
    try:
        if client == "Voice":
            with voice(server, settings(timeout=PATIENT), Sleeps()) as v:
                outcome = create(v, server)
        else:
            async with async_voice(server, settings(timeout=PATIENT), Sleeps()) as av:
                outcome = await acreate(av, server)
    except Exception as exc:
        outcome = exc
    assert type(outcome) is error, repr(outcome)
    assert len(server.app.placed(number(0))) == placed
    assert not leaks(outcome, server.app.secrets())
    if isinstance(outcome, RateLimited):
        assert outcome.retry_after == 1.0
    if isinstance(outcome, AmbiguousCreate):
        assert outcome.tag == "row-0"


# The settle window: a provider that acts after the client gave up on its answer ----------


def _wait_for(condition: Callable[[], bool], seconds: float = 10.0) -> None:
    deadline = time.monotonic() + seconds
    while not condition():
        if time.monotonic() > deadline:
            raise AssertionError("the server did not get there")
        time.sleep(0.02)


def test_a_create_acted_on_late_within_the_settle_window_is_found_not_repeated(
        server: ProviderFaultServer) -> None:
    # The server acts 0.1 s after the client timed out (0.3 s); the client's empty first
    # lookup waits out the settle window (0.5 s, slept for real) and looks again.
    server.app.inject("create *", "late:0.1")
    with voice(server, settings(settle=0.5)) as v:
        call = create(v, server)
    assert server.app.placed(number(0)) == [call.id]
    assert len(server.app.requests("create")) == 1
    assert len(server.app.requests("lookup")) >= 2


@pytest.mark.anyio
@pytest.mark.parametrize("server", ["bandwidth"], indirect=True)  # as the sync client does
async def test_async_a_create_acted_on_late_within_the_settle_window_is_found(
        server: ProviderFaultServer) -> None:
    server.app.inject("create *", "late:0.1")
    async with async_voice(server, settings(settle=0.5)) as v:
        call = await acreate(v, server)
    assert server.app.placed(number(0)) == [call.id]
    assert len(server.app.requests("create")) == 1


@pytest.mark.parametrize("server", ["bandwidth"], indirect=True)  # the transport's limit
def test_a_create_acted_on_after_the_settle_window_is_the_documented_limit(
        server: ProviderFaultServer) -> None:
    """What the settle window cannot cover: a provider that acts later than the client's
    timeout plus ``settle`` gets the create again (hence the 5 s default)."""
    server.app.inject("create *", "late:0.6")
    with voice(server, settings(settle=0.1)) as v:
        call = create(v, server)
    _wait_for(lambda: len(server.app.placed(number(0))) == 2)
    assert call.id in server.app.placed(number(0))
