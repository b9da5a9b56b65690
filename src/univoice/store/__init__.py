"""Durable storage for the webhook app: continuation flows, per-call state, event records.

    store = open_store("sqlite:///univoice.sqlite3")        # default: one local file
    store = open_store("redis://:password@redis.internal:6379/0")   # several machines

Both backends keep every entry for ``ttl`` seconds after its last write (7 days unless
told), are safe with concurrent writers across threads and processes, and raise
``StoreUnavailable`` when the backend is unreachable or busy beyond a short timeout.
"""

from __future__ import annotations

from univoice.errors import ConfigError
from univoice.store.base import (
    DEFAULT_TTL,
    EventStatus,
    FlowStore,
    StoredEvent,
    StoreUnavailable,
    check_ttl,
    mask_url,
)

__all__ = ["EventStatus", "FlowStore", "StoreUnavailable", "StoredEvent", "open_store"]


def open_store(url: str, *, ttl: float = DEFAULT_TTL) -> FlowStore:
    """Open the store a URL names: ``sqlite://...``, ``redis://...`` or ``rediss://...``."""
    try:
        check_ttl(ttl)
    except ValueError as exc:
        raise ConfigError(f"flow store: {exc}") from None
    scheme = url.partition("://")[0].lower() if "://" in url else ""
    if scheme == "sqlite":
        from univoice.store.sqlite import SqliteStore, parse_url

        path, timeout = parse_url(url)
        return SqliteStore(path, ttl=ttl, timeout=timeout)
    if scheme in ("redis", "rediss"):
        from univoice.store.redis import RedisStore

        return RedisStore(url, ttl=ttl)
    raise ConfigError(f"unsupported flow store URL {mask_url(url)!r}: use sqlite:///path.db, "
                      "sqlite://:memory:, redis://host:port/db or rediss://...")
