"""The real redis-server fixtures of the store tests, for the load tests with Redis."""

from __future__ import annotations

from ..store.conftest import redis_factory, redis_server

__all__ = ["redis_factory", "redis_server"]
