"""What only the SQLite backend does: URL forms, WAL, the busy timeout, a bad file."""

from __future__ import annotations

import sqlite3
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tests.store import workers
from univoice.errors import ConfigError
from univoice.store import StoreUnavailable, open_store
from univoice.store.sqlite import DEFAULT_TIMEOUT, MEMORY, SqliteStore, parse_url


@pytest.mark.parametrize(("url", "path", "timeout"), [
    ("sqlite:///relative/path.db", "relative/path.db", DEFAULT_TIMEOUT),
    ("sqlite:////absolute/path.db", "/absolute/path.db", DEFAULT_TIMEOUT),
    ("sqlite://:memory:", MEMORY, DEFAULT_TIMEOUT),
    ("sqlite:///:memory:", MEMORY, DEFAULT_TIMEOUT),
    ("sqlite:///v.db?timeout=0.2", "v.db", 0.2),
    ("SQLITE:///with%20space.db", "with space.db", DEFAULT_TIMEOUT),
])
def test_url_forms(url: str, path: str, timeout: float) -> None:
    assert parse_url(url) == (path, timeout)


@pytest.mark.parametrize(("url", "message"), [
    ("sqlite://", "names no file"),
    ("sqlite:///", "names no file"),
    ("sqlite://host/file.db", "names no file"),
    ("sqlite:///v.db?timeout=0", "timeout must be a positive number"),
    ("sqlite:///v.db?timeout=soon", "timeout must be a positive number"),
    ("sqlite:///v.db?mode=ro", "unknown parameter 'mode'"),
])
def test_bad_urls(url: str, message: str) -> None:
    with pytest.raises(ConfigError, match=message) as caught:
        open_store(url)
    assert "\n" not in str(caught.value)


def test_relative_path_is_under_the_working_directory(tmp_path: Path,
                                                      monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with open_store("sqlite:///data/deep/univoice.db") as store:
        store.put_flow("f", {})
        assert store.health()["location"] == "data/deep/univoice.db"
    assert (tmp_path / "data" / "deep" / "univoice.db").is_file()


def test_file_is_wal_with_a_schema_version(tmp_path: Path) -> None:
    path = tmp_path / "s.db"
    with open_store(f"sqlite:///{path}") as store:
        store.put_flow("f", {"a": 1})
    conn = sqlite3.connect(path)
    try:
        assert conn.execute("PRAGMA journal_mode").fetchone() == ("wal",)
        assert conn.execute("PRAGMA user_version").fetchone() == (1,)
        # JSON as TEXT: readable with any SQLite tool.
        assert conn.execute("SELECT document FROM flows").fetchone() == ('{"a":1}',)
    finally:
        conn.close()


def test_locked_beyond_the_busy_timeout_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "locked.db"
    store = open_store(f"sqlite:///{path}?timeout=0.2")
    store.put_flow("f", {"v": 1})
    store.put_state("s", {"n": 1})
    other = sqlite3.connect(path, isolation_level=None)
    other.execute("BEGIN EXCLUSIVE")  # another process holding the write lock
    try:
        with pytest.raises(StoreUnavailable, match="locked"):
            store.put_flow("f", {"v": 2})
        with pytest.raises(StoreUnavailable):
            store.claim_event("e", "sim", {})
        with pytest.raises(StoreUnavailable):
            store.update_state("s", lambda s: {"n": s["n"] + 1})
        with pytest.raises(StoreUnavailable):
            store.finish_event("e")
        assert store.get_flow("f") == {"v": 1}  # WAL: readers are not blocked
    finally:
        other.execute("ROLLBACK")
        other.close()
    # Nothing was half-written, and the store works again once the lock is gone.
    assert store.get_state("s") == {"n": 1}
    assert store.get_event("e") is None
    assert store.claim_event("e", "sim", {})
    assert store.update_state("s", lambda s: {"n": s["n"] + 1}) == {"n": 2}
    store.close()


def test_not_a_database_is_unavailable(tmp_path: Path) -> None:
    path = tmp_path / "garbage.db"
    path.write_bytes(b"this is not an SQLite file, just bytes " * 100)
    with pytest.raises(StoreUnavailable, match="not a database"):
        open_store(f"sqlite:///{path}")


def test_fresh_file_opened_by_two_processes_at_once(
        tmp_path: Path, process_pool: ProcessPoolExecutor) -> None:
    url = f"sqlite:///{tmp_path / 'fresh.db'}"  # no schema yet: both workers create it
    futures = [process_pool.submit(workers.claim, url, "e", 10) for _ in range(2)]
    assert sum(f.result(timeout=60)[1] for f in futures) == 1


def test_memory_stores_are_separate() -> None:
    with open_store("sqlite://:memory:") as a, open_store("sqlite://:memory:") as b:
        a.put_flow("f", {})
        assert b.get_flow("f") is None
        assert isinstance(a, SqliteStore)
        assert a.health()["location"] == MEMORY


def test_bad_timeout_argument() -> None:
    with pytest.raises(ValueError, match="timeout"):
        SqliteStore(MEMORY, timeout=0)


def test_batched_claims_from_the_event_loop_are_exactly_once(tmp_path: Path) -> None:
    """aclaim_event/afinish_event go through one writer thread committing batches."""
    import asyncio

    from univoice.store import open_store

    store = open_store(f"sqlite:///{tmp_path / 'batch.db'}")

    async def main() -> list[bool]:
        keys = [f"k{i % 50}" for i in range(200)]  # every key claimed four times at once
        won = await asyncio.gather(*(store.aclaim_event(k, "p", {"n": k}) for k in keys))
        await asyncio.gather(*(store.afinish_event(k) for k in {f"k{i}" for i in range(50)}))
        return list(won)

    won = asyncio.run(main())
    assert sum(won) == 50
    assert {e.status for e in store.events(limit=100)} == {"done"}
    store.close()

    async def after_close() -> bool:
        return await store.aclaim_event("late", "p", {})

    with pytest.raises(StoreUnavailable):
        asyncio.run(after_close())
