"""Fixtures for the routing tests: the real redis-server of the store tests, and the
one SSL context the reliability tests share (clients here talk plain HTTP to 127.0.0.1)."""

import pytest

from tests.reliability.conftest import _one_ssl_context
from tests.store.conftest import redis_factory, redis_server

__all__ = ["_one_ssl_context", "redis_factory", "redis_server"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
