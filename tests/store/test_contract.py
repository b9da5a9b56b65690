"""One contract, every FlowStore backend: SQLite file, SQLite in memory, Redis."""

from __future__ import annotations

import threading
import time
import uuid
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor, ThreadPoolExecutor
from pathlib import Path
from typing import Any, TypeVar

import pytest

from tests.store import workers
from tests.store.conftest import RedisServer
from univoice.store import FlowStore, StoredEvent, StoreUnavailable, open_store

T = TypeVar("T")
Make = Callable[..., FlowStore]
SHORT = 0.2  # seconds: the ttl and lease the expiry tests wait out


def eventually(probe: Callable[[], T], *, timeout: float = 5.0) -> T:
    """Poll ``probe`` until it returns something truthy; fail after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        result = probe()
        if result:
            return result
        if time.monotonic() > deadline:
            pytest.fail(f"condition not met within {timeout} s")
        time.sleep(0.02)


def concurrently(n: int, task: Callable[[int], T]) -> list[T]:
    """Run ``task(i)`` for i < n in n threads released together."""
    gate = threading.Barrier(n)

    def one(i: int) -> T:
        gate.wait(timeout=20)
        return task(i)

    with ThreadPoolExecutor(n) as pool:
        return list(pool.map(one, range(n)))


class StoreContract:
    """What every backend promises. Subclasses provide the ``url`` fixture."""

    durable = True  # the same URL opened again sees the same data
    multiprocess = True  # other processes can share the store through its URL

    @pytest.fixture
    def url(self) -> str:
        raise NotImplementedError

    @pytest.fixture
    def make(self, url: str) -> Iterator[Make]:
        opened: list[FlowStore] = []

        def make(**kw: Any) -> FlowStore:
            store = open_store(url, **kw)
            opened.append(store)
            return store

        yield make
        for store in opened:
            store.close()

    @pytest.fixture
    def store(self, make: Make) -> FlowStore:
        return make()

    def _needs_processes(self) -> None:
        if not self.multiprocess:
            pytest.skip("an in-memory database lives in one process")

    # Flows and state ----------------------------------------------------------------

    def test_flow_round_trip(self, store: FlowStore) -> None:
        doc = {"steps": [{"say": {"text": "Grüß Gott ☎", "voice": None}}], "n": 1.5}
        assert store.get_flow("f1") is None
        store.put_flow("f1", doc)
        assert store.get_flow("f1") == doc
        store.put_flow("f1", {"steps": []})
        assert store.get_flow("f1") == {"steps": []}
        assert store.get_flow("other") is None

    def test_state_round_trip(self, store: FlowStore) -> None:
        assert store.get_state("call-1") is None
        store.put_state("call-1", {"digits": "12", "retries": 1})
        assert store.get_state("call-1") == {"digits": "12", "retries": 1}
        assert store.update_state("call-1", lambda s: {**s, "retries": s["retries"] + 1}) \
            == {"digits": "12", "retries": 2}
        assert store.get_state("call-1") == {"digits": "12", "retries": 2}
        assert store.update_state("fresh", lambda s: {**s, "seen": s == {}}) == {"seen": True}

    def test_update_state_that_fails_writes_nothing(self, store: FlowStore) -> None:
        store.put_state("k", {"v": 1})

        def boom(state: dict[str, Any]) -> dict[str, Any]:
            raise RuntimeError("handler bug")

        with pytest.raises(RuntimeError, match="handler bug"):
            store.update_state("k", boom)
        with pytest.raises(TypeError, match="must be a dict"):
            store.update_state("k", lambda s: [1, 2])  # type: ignore[arg-type,return-value]
        with pytest.raises(TypeError):
            store.update_state("k", lambda s: {"x": object()})
        assert store.get_state("k") == {"v": 1}

    def test_rejects_bad_arguments(self, store: FlowStore) -> None:
        with pytest.raises(TypeError, match="must be a dict"):
            store.put_flow("f", ["not", "a", "dict"])  # type: ignore[arg-type]
        with pytest.raises(ValueError, match="ttl"):
            store.put_state("k", {}, ttl=0)
        with pytest.raises(ValueError, match="lease"):
            store.claim_event("e", "p", {}, lease=-1)
        with pytest.raises(ValueError, match="status"):
            store.events("pending")  # type: ignore[arg-type]

    # Expiry -------------------------------------------------------------------------

    def test_entries_expire_after_ttl(self, make: Make) -> None:
        store = make(ttl=SHORT)
        store.put_flow("f", {"a": 1})
        store.put_state("s", {"b": 2})
        assert store.claim_event("e", "sim", {"c": 3})
        store.put_flow("kept", {"a": 2}, ttl=60)  # an explicit ttl beats the default
        assert store.get_flow("f") == {"a": 1}
        assert store.get_state("s") == {"b": 2}
        assert store.get_event("e") is not None

        eventually(lambda: store.get_flow("f") is None)
        eventually(lambda: store.get_state("s") is None)
        eventually(lambda: store.get_event("e") is None)
        assert store.events() == []
        assert store.get_flow("kept") == {"a": 2}
        # An expired event is forgotten: the same key is a new event again.
        assert store.claim_event("e", "sim", {"c": 4})
        event = store.get_event("e")
        assert event is not None
        assert (event.attempts, event.event) == (1, {"c": 4})

    def test_purge_expired_removes_and_counts(self, make: Make) -> None:
        store = make(ttl=SHORT)
        store.put_flow("f", {})
        store.put_state("s", {})
        store.claim_event("e", "sim", {})
        store.put_flow("kept", {}, ttl=60)
        eventually(lambda: store.get_event("e") is None and store.get_flow("f") is None
                   and store.get_state("s") is None)
        assert store.purge_expired() == 3
        assert store.purge_expired() == 0
        health = store.health()
        assert (health["flows"], health["states"]) == (1, 0)
        assert health["events"] == {"claimed": 0, "done": 0, "failed": 0}

    def test_update_state_slides_the_expiry(self, store: FlowStore) -> None:
        store.put_state("s", {"n": 0}, ttl=SHORT)
        store.update_state("s", lambda s: {"n": 1}, ttl=60)
        time.sleep(SHORT * 1.5)
        assert store.get_state("s") == {"n": 1}

    # Exactly-once events ------------------------------------------------------------

    def test_claim_once(self, store: FlowStore) -> None:
        assert store.claim_event("sim:e1", "sim", {"type": "call.answered"}) is True
        assert store.claim_event("sim:e1", "sim", {"type": "call.answered"}) is False
        event = store.get_event("sim:e1")
        assert isinstance(event, StoredEvent)
        assert (event.key, event.provider, event.status, event.event, event.error,
                event.attempts) == ("sim:e1", "sim", "claimed", {"type": "call.answered"},
                                    None, 1)
        assert event.created_at == event.updated_at
        assert abs(event.created_at - time.time()) < 60
        assert store.finish_event("sim:e1") is True
        assert store.claim_event("sim:e1", "sim", {}) is False
        done = store.get_event("sim:e1")
        assert done is not None
        assert (done.status, done.error, done.attempts) == ("done", None, 1)
        assert done.updated_at >= done.created_at
        assert store.finish_event("unknown") is False
        assert store.get_event("unknown") is None

    def test_claim_once_under_100_threads(self, store: FlowStore) -> None:
        wins = concurrently(100, lambda i: store.claim_event("dup", "sim", {"i": i}))
        assert sum(wins) == 1
        event = store.get_event("dup")
        assert event is not None
        assert event.attempts == 1
        assert event.event == {"i": wins.index(True)}

    def test_claim_once_across_two_processes(self, url: str, store: FlowStore,
                                             process_pool: ProcessPoolExecutor) -> None:
        self._needs_processes()
        store.put_flow("warm", {})  # the schema exists before the workers race
        futures = [process_pool.submit(workers.claim, url, "dup", 50) for _ in range(2)]
        results = [f.result(timeout=60) for f in futures]
        assert results[0][0] != results[1][0], "both tasks ran in one process"
        assert sum(wins for _, wins in results) == 1
        event = store.get_event("dup")
        assert event is not None
        assert (event.status, event.attempts) == ("claimed", 1)

    def test_expired_lease_is_claimed_again(self, store: FlowStore) -> None:
        assert store.claim_event("e", "sim", {"v": 1}, lease=SHORT)
        assert not store.claim_event("e", "sim", {"v": 1})  # still leased
        eventually(lambda: store.claim_event("e", "sim", {"v": 1}))  # its handler "died"
        event = store.get_event("e")
        assert event is not None
        assert (event.status, event.attempts, event.event) == ("claimed", 2, {"v": 1})
        assert not store.claim_event("e", "sim", {"v": 1})  # the new lease holds
        store.finish_event("e")
        time.sleep(SHORT)
        assert not store.claim_event("e", "sim", {"v": 1})  # done is never re-claimed

    def test_expired_lease_is_claimed_once(self, store: FlowStore) -> None:
        store.claim_event("x", "sim", {}, lease=SHORT)
        time.sleep(SHORT * 1.5)  # the lease runs out; no probe, a claim would take it
        wins = concurrently(20, lambda i: store.claim_event("x", "sim", {}))
        assert sum(wins) == 1
        event = store.get_event("x")
        assert event is not None
        assert event.attempts == 2

    def test_failed_event_and_replay(self, store: FlowStore) -> None:
        store.claim_event("e", "sim", {"type": "digits"})
        assert store.finish_event("e", error="ValueError: bad digits")
        failed = store.get_event("e")
        assert failed is not None
        assert (failed.status, failed.error) == ("failed", "ValueError: bad digits")
        assert not store.claim_event("e", "sim", {"type": "digits"})  # redelivery: no rerun

        again = store.reclaim_failed("e")
        assert again is not None
        assert (again.status, again.attempts, again.event) == ("claimed", 2, {"type": "digits"})
        assert store.reclaim_failed("e") is None  # two replays cannot both run it
        assert store.finish_event("e")
        done = store.get_event("e")
        assert done is not None
        assert (done.status, done.error, done.attempts) == ("done", None, 2)
        assert store.reclaim_failed("e") is None
        assert store.reclaim_failed("never-seen") is None

    def test_replays_race_for_a_failed_event(self, store: FlowStore) -> None:
        store.claim_event("e", "sim", {})
        store.finish_event("e", error="boom")
        got = concurrently(20, lambda i: store.reclaim_failed("e"))
        assert sum(g is not None for g in got) == 1

    def test_events_listing(self, store: FlowStore) -> None:
        for i in range(5):
            store.claim_event(f"k{i}", "sim", {"i": i})
            time.sleep(0.002)  # distinct creation times: the order is by creation
        store.finish_event("k1")
        store.finish_event("k3", error="boom")
        assert [e.key for e in store.events()] == ["k4", "k3", "k2", "k1", "k0"]
        assert [e.key for e in store.events(limit=2)] == ["k4", "k3"]
        assert [e.key for e in store.events("claimed")] == ["k4", "k2", "k0"]
        assert [e.key for e in store.events("claimed", limit=1)] == ["k4"]
        assert [e.key for e in store.events("done")] == ["k1"]
        failed = store.events("failed")
        assert [(e.key, e.error) for e in failed] == [("k3", "boom")]
        assert store.events(limit=0) == []
        store.reclaim_failed("k3")
        assert store.events("failed") == []
        assert [e.key for e in store.events("claimed")] == ["k4", "k3", "k2", "k0"]

    # Concurrent state updates -------------------------------------------------------

    def test_update_state_under_100_threads(self, store: FlowStore) -> None:
        concurrently(100, lambda i: store.update_state(
            "c", lambda s: {**s, "counter": s.get("counter", 0) + 1}))
        assert store.get_state("c") == {"counter": 100}

    def test_update_state_across_two_processes(self, url: str, store: FlowStore,
                                               process_pool: ProcessPoolExecutor) -> None:
        self._needs_processes()
        store.put_state("c", {"counter": 0, "other": "kept"})
        futures = [process_pool.submit(workers.increment, url, "c", 50) for _ in range(2)]
        pids = {f.result(timeout=60) for f in futures}
        assert len(pids) == 2
        assert store.get_state("c") == {"counter": 100, "other": "kept"}

    # Durability and lifecycle -------------------------------------------------------

    def test_survives_restart(self, make: Make) -> None:
        if not self.durable:
            pytest.skip("an in-memory database ends with its connection")
        first = make()
        first.put_flow("f", {"steps": ["say"]})
        first.put_state("s", {"digits": "4"})
        first.claim_event("e1", "sim", {"n": 1})
        first.claim_event("e2", "sim", {"n": 2})
        first.finish_event("e2", error="boom")
        first.close()

        second = make()
        assert second.get_flow("f") == {"steps": ["say"]}
        assert second.get_state("s") == {"digits": "4"}
        assert not second.claim_event("e1", "sim", {"n": 1})  # still leased: not rerun
        assert [e.key for e in second.events("failed")] == ["e2"]
        assert second.update_state("s", lambda s: {**s, "more": True}) == \
            {"digits": "4", "more": True}

    def test_closed_store_is_unavailable(self, make: Make) -> None:
        store = make()
        store.put_flow("f", {})
        store.close()
        with pytest.raises(StoreUnavailable):
            store.get_flow("f")
        with pytest.raises(StoreUnavailable):
            store.claim_event("e", "sim", {})

    def test_health(self, store: FlowStore) -> None:
        store.put_flow("f1", {})
        store.put_flow("f2", {})
        store.put_state("s", {})
        store.claim_event("a", "sim", {})
        store.claim_event("b", "sim", {})
        store.finish_event("b", error="x")
        health = store.health()
        assert health["backend"] == store.backend
        assert health["reachable"] is True
        assert isinstance(health["location"], str)
        assert (health["flows"], health["states"]) == (2, 1)
        assert health["events"] == {"claimed": 1, "done": 0, "failed": 1}

    def test_context_manager_closes(self, make: Make) -> None:
        with make() as store:
            store.put_flow("f", {})
        with pytest.raises(StoreUnavailable):
            store.get_flow("f")


class TestSqliteFile(StoreContract):
    @pytest.fixture
    def url(self, tmp_path: Path) -> str:
        return f"sqlite:///{tmp_path / 'store.db'}"  # an absolute path: four slashes


class TestSqliteMemory(StoreContract):
    durable = False
    multiprocess = False

    @pytest.fixture
    def url(self) -> str:
        return "sqlite://:memory:"


class TestRedis(StoreContract):
    @pytest.fixture
    def url(self, redis_server: RedisServer) -> str:
        # Tests share one server and keep apart by namespace.
        return redis_server.url(query=f"namespace=t{uuid.uuid4().hex[:12]}")
