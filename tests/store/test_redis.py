"""What only the Redis backend does: key layout, masking, an unreachable server."""

from __future__ import annotations

import sys
from collections.abc import Callable

import pytest

from tests.store.conftest import RedisServer
from univoice.errors import ConfigError
from univoice.store import StoreUnavailable, open_store
from univoice.store.redis import RedisStore


def test_keys_are_namespaced_and_expire(redis_server: RedisServer) -> None:
    import redis

    url = redis_server.url(db=15)
    raw = redis.Redis.from_url(url, decode_responses=True)
    raw.flushdb()
    try:
        with open_store(url, ttl=3600) as store:
            store.put_flow("f1", {"a": 1})
            store.put_state("call-1", {"b": 2}, ttl=60)
            store.claim_event("sim:e1", "sim", {"c": 3}, lease=30)
            assert set(raw.keys("univoice:*")) >= {
                "univoice:flow:f1", "univoice:state:call-1", "univoice:event:sim:e1",
                "univoice:lease:sim:e1", "univoice:status:claimed"}
            assert 3_500_000 < raw.pttl("univoice:flow:f1") <= 3_600_000
            assert 50_000 < raw.pttl("univoice:state:call-1") <= 60_000
            assert 0 < raw.pttl("univoice:lease:sim:e1") <= 30_000
            assert raw.get("univoice:flow:f1") == '{"a":1}'
            assert raw.hget("univoice:event:sim:e1", "status") == "claimed"
            store.finish_event("sim:e1")
            assert raw.exists("univoice:lease:sim:e1") == 0
            assert raw.zrange("univoice:status:done", 0, -1) == ["sim:e1"]
            assert raw.zcard("univoice:status:claimed") == 0
    finally:
        raw.flushdb()
        raw.close()


def test_health_masks_the_password(redis_factory: Callable[..., RedisServer]) -> None:
    server = redis_factory(password="s3cret-pass")
    with open_store(server.url(query="timeout=2")) as store:
        store.put_flow("f", {})
        health = store.health()
        assert health["reachable"] is True
        assert health["flows"] == 1
        assert "s3cret" not in health["location"]
        assert health["location"].startswith("redis://:***@127.0.0.1:")
        assert "s3cret" not in repr(store)
    wrong = server.url().replace("s3cret-pass", "wrong-pass")
    with open_store(wrong) as store:
        with pytest.raises(StoreUnavailable) as caught:
            store.get_flow("f")
        assert "wrong-pass" not in str(caught.value)
        health = store.health()
        assert health["reachable"] is False
        assert "wrong-pass" not in str(health)


def test_stopped_server_is_unavailable(redis_factory: Callable[..., RedisServer]) -> None:
    server = redis_factory()
    store = open_store(server.url(query="timeout=1"))
    store.put_flow("f", {})
    store.put_state("s", {"n": 1})
    server.stop()
    calls: list[Callable[[], object]] = [
        lambda: store.get_flow("f"), lambda: store.put_flow("g", {}),
        lambda: store.update_state("s", lambda s: s),
        lambda: store.claim_event("e", "sim", {}), lambda: store.finish_event("e"),
        lambda: store.events(), lambda: store.reclaim_failed("e"),
        store.purge_expired]
    for call in calls:
        with pytest.raises(StoreUnavailable, match="Redis store"):
            call()
    health = store.health()
    assert (health["backend"], health["reachable"]) == ("redis", False)
    assert "error" in health
    store.close()


def test_namespaces_keep_stores_apart(redis_server: RedisServer) -> None:
    with open_store(redis_server.url(query="namespace=left")) as left, \
            open_store(redis_server.url(query="namespace=right")) as right:
        left.put_flow("f", {"side": "left"})
        assert right.get_flow("f") is None
        assert left.get_flow("f") == {"side": "left"}


@pytest.mark.parametrize(("query", "message"), [
    ("timeout=0", "timeout must be a positive number"),
    ("timeout=soon", "timeout must be a positive number"),
    ("namespace=", "invalid namespace"),
])
def test_bad_url_options(query: str, message: str) -> None:
    pytest.importorskip("redis")
    with pytest.raises(ConfigError, match=message):
        open_store(f"redis://127.0.0.1:1/0?{query}")


def test_without_redis_py_says_what_to_install(monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setitem(sys.modules, "redis", None)  # makes `import redis` fail
    with pytest.raises(ConfigError, match=r"pip install 'univoice\[redis\]'"):
        open_store("redis://127.0.0.1:6379/0")


def test_no_connection_is_made_until_used() -> None:
    pytest.importorskip("redis")
    # Port 1 has no server: opening succeeds (an app can start while Redis is down).
    store = RedisStore("redis://127.0.0.1:1/0?timeout=0.5")
    assert store.health()["reachable"] is False
    store.close()


def test_claims_from_the_event_loop_are_exactly_once(redis_server: RedisServer) -> None:
    """aclaim_event/afinish_event use redis.asyncio: no thread hop per call."""
    import asyncio
    import uuid

    store = open_store(redis_server.url(query=f"namespace=async-{uuid.uuid4().hex[:8]}"))

    async def main() -> list[bool]:
        keys = [f"k{i % 50}" for i in range(200)]
        won = await asyncio.gather(*(store.aclaim_event(k, "p", {"n": k}) for k in keys))
        await asyncio.gather(*(store.afinish_event(k, error="boom" if k == "k0" else None)
                               for k in {f"k{i}" for i in range(50)}))
        return list(won)

    assert sum(asyncio.run(main())) == 50
    assert {e.key for e in store.events(status="failed")} == {"k0"}
    assert len(store.events(status="done", limit=100)) == 49
    store.close()


def test_event_loop_claims_on_a_stopped_server_are_unavailable(
        redis_factory: Callable[..., RedisServer]) -> None:
    import asyncio

    server = redis_factory()
    store = open_store(server.url(query="timeout=0.5"))
    server.stop()
    with pytest.raises(StoreUnavailable):
        asyncio.run(store.aclaim_event("k", "p", {}))
    store.close()
