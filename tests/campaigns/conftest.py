"""Fixtures for the campaign tests: asyncio for anyio, one SSL context for the many
clients (they talk plain HTTP to 127.0.0.1), the store tests' real redis-server."""

import pytest

from tests.reliability.conftest import _one_ssl_context
from tests.store.conftest import redis_factory, redis_server

__all__ = ["_one_ssl_context", "redis_factory", "redis_server"]


@pytest.fixture
def anyio_backend() -> str:
    return "asyncio"
