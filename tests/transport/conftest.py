"""Fixtures for the transport tests: a fault server, the fake provider, fast settings."""

from __future__ import annotations

import datetime as datetime_module
from collections.abc import Iterator
from dataclasses import dataclass, field
from datetime import UTC, datetime, tzinfo
from email.utils import format_datetime
from typing import Any

import pytest

from tests.support.fake_provider import FakeProvider
from tests.support.fault_server import FaultServer, refused_url
from univoice.hooks import hookimpl
from univoice.plugins import registry
from univoice.retry import RetryPolicy
from univoice.transport import Hooks, HttpSettings

TO = "+31612345678"
FROM = "+31201234567"
ANSWER = "https://example.com/answer"


def http(*, timeout: float = 2.0, attempts: int = 3, max_retry_after: float = 60.0,
         backend: str = "aiohttp", settle: float = 0.05) -> HttpSettings:
    """Settings that keep tests fast: no backoff, short timeouts, a short settle window."""
    return HttpSettings(timeout=timeout, connect_timeout=timeout, async_backend=backend,
                        retry=RetryPolicy(max_attempts=attempts, backoff=0.0,
                                          max_retry_after=max_retry_after, settle=settle))


@dataclass
class Observed:
    """What the per-client hooks and a pluggy plugin saw."""

    requests: list[Any] = field(default_factory=list)
    responses: list[tuple[Any, Any]] = field(default_factory=list)
    retries: list[tuple[str, int, float, Any]] = field(default_factory=list)
    plugin_retries: list[dict[str, Any]] = field(default_factory=list)

    def hooks(self) -> Hooks:
        return Hooks(request=[self.requests.append],
                     response=[lambda req, resp: self.responses.append((req, resp))],
                     retry=[lambda *args: self.retries.append(args)])


class RetryPlugin:
    """A pluggy plugin observing ``univoice_retry``."""

    def __init__(self, seen: list[dict[str, Any]]) -> None:
        self.seen = seen

    @hookimpl
    def univoice_retry(self, provider: str, operation: str, attempt: int, delay: float,
                       error: Any) -> None:
        self.seen.append({"provider": provider, "operation": operation, "attempt": attempt,
                          "delay": delay, "error": error})


@pytest.fixture
def server() -> Iterator[FaultServer]:
    with FaultServer() as srv:
        yield srv


@pytest.fixture
def provider(server: FaultServer) -> FakeProvider:
    return FakeProvider(base_url=server.base_url, token=server.token)


@pytest.fixture
def refused() -> Iterator[str]:
    with refused_url() as url:
        yield url


@pytest.fixture
def observed() -> Iterator[Observed]:
    seen = Observed()
    plugin = RetryPlugin(seen.plugin_retries)
    manager = registry().manager
    manager.register(plugin)
    try:
        yield seen
    finally:
        manager.unregister(plugin)


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"


@pytest.fixture(params=["aiohttp", "httpx"])
def backend(request: pytest.FixtureRequest) -> str:
    """The async client's transport: httpx over aiohttp (the default), or httpx's own."""
    return str(request.param)


FROZEN_NOW = datetime(2030, 1, 2, 3, 4, 5, tzinfo=UTC)


class _FrozenDateTime(datetime):
    @classmethod
    def now(cls, tz: tzinfo | None = None) -> _FrozenDateTime:
        moment = FROZEN_NOW.astimezone(tz) if tz is not None else FROZEN_NOW.replace(
            tzinfo=None)
        return cls.combine(moment.date(), moment.timetz())


@pytest.fixture
def frozen_now(monkeypatch: pytest.MonkeyPatch) -> datetime:
    """Pin ``datetime.now`` for code that imports ``datetime`` when it runs (as
    ``univoice.retry.parse_retry_after`` does), so HTTP-date arithmetic is exact."""
    monkeypatch.setattr(datetime_module, "datetime", _FrozenDateTime)
    return FROZEN_NOW


def http_date(moment: datetime) -> str:
    return format_datetime(moment.astimezone(UTC), usegmt=True)
