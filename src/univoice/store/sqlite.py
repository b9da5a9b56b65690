"""The SQLite FlowStore: the default, one embedded file shared by every local process.

WAL lets readers run beside the one writer; ``synchronous=NORMAL`` keeps commits off the
fsync path (durable across process crashes, which is what redeliveries need). Every write
is one ``BEGIN IMMEDIATE`` transaction, so a read-modify-write takes the write lock
before it reads and no update is lost between processes. A lock held beyond the busy
timeout raises ``StoreUnavailable``.
"""

from __future__ import annotations

import asyncio
import os
import queue
import sqlite3
import threading
import time
from collections.abc import Callable, Iterator
from contextlib import AbstractContextManager, contextmanager, nullcontext, suppress
from pathlib import Path
from typing import Any, cast
from urllib.parse import parse_qsl, unquote

from univoice.errors import ConfigError
from univoice.store.base import (
    DEFAULT_LEASE,
    DEFAULT_TTL,
    STATUSES,
    EventStatus,
    FlowStore,
    StateFn,
    StoredEvent,
    StoreUnavailable,
    check_lease,
    check_status,
    dump,
    load,
)

MEMORY = ":memory:"
DEFAULT_TIMEOUT = 5.0
PURGE_EVERY = 60.0  # seconds between opportunistic purges, per store object
SCHEMA_VERSION = 1

_SCHEMA = """
CREATE TABLE IF NOT EXISTS flows (
    id TEXT PRIMARY KEY,
    document TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS states (
    key TEXT PRIMARY KEY,
    state TEXT NOT NULL,
    expires_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS events (
    key TEXT PRIMARY KEY,
    provider TEXT NOT NULL,
    status TEXT NOT NULL CHECK (status IN ('claimed', 'done', 'failed')),
    event TEXT NOT NULL,
    error TEXT,
    attempts INTEGER NOT NULL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL,
    lease_until REAL,
    expires_at REAL NOT NULL
);
CREATE INDEX IF NOT EXISTS flows_expiry ON flows (expires_at);
CREATE INDEX IF NOT EXISTS states_expiry ON states (expires_at);
CREATE INDEX IF NOT EXISTS events_expiry ON events (expires_at);
CREATE INDEX IF NOT EXISTS events_status ON events (status, created_at);
CREATE INDEX IF NOT EXISTS events_created ON events (created_at);
"""

# One statement, so the claim is atomic without an explicit transaction: insert, or take
# over a record that expired or whose lease ran out; otherwise change nothing (0 rows).
_CLAIM = """
INSERT INTO events (key, provider, status, event, error, attempts, created_at, updated_at,
                    lease_until, expires_at)
VALUES (:key, :provider, 'claimed', :event, NULL, 1, :now, :now, :lease_until, :expires_at)
ON CONFLICT (key) DO UPDATE SET
    provider = CASE WHEN events.expires_at <= :now THEN excluded.provider ELSE provider END,
    event = CASE WHEN events.expires_at <= :now THEN excluded.event ELSE event END,
    error = CASE WHEN events.expires_at <= :now THEN NULL ELSE error END,
    attempts = CASE WHEN events.expires_at <= :now THEN 1 ELSE attempts + 1 END,
    created_at = CASE WHEN events.expires_at <= :now THEN :now ELSE created_at END,
    status = 'claimed',
    updated_at = :now,
    lease_until = :lease_until,
    expires_at = :expires_at
WHERE events.expires_at <= :now
   OR (events.status = 'claimed' AND events.lease_until <= :now)
"""

_EVENT_COLUMNS = "key, provider, status, event, error, attempts, created_at, updated_at"


class SqliteStore(FlowStore):
    """A FlowStore in one SQLite file (or in memory, for tests)."""

    backend = "sqlite"

    def __init__(self, path: str | os.PathLike[str], *, ttl: float = DEFAULT_TTL,
                 timeout: float = DEFAULT_TIMEOUT) -> None:
        super().__init__(ttl=ttl)
        if not timeout > 0:
            raise ValueError(f"timeout must be a positive number of seconds, not {timeout!r}")
        self.path = str(path)
        self.timeout = float(timeout)
        self.memory = self.path == MEMORY
        self._local = threading.local()
        self._connections: list[sqlite3.Connection] = []
        self._inherited: list[sqlite3.Connection] = []
        self._registry = threading.Lock()
        # In memory there is one database per connection, so all threads share one
        # connection and take turns; a file gets one connection per thread instead.
        self._shared_lock = threading.RLock()
        self._shared: sqlite3.Connection | None = None
        self._closed = False
        self._pid = os.getpid()
        self._next_purge = 0.0
        self._jobs: queue.SimpleQueue[_Job | None] | None = None  # the batching writer's
        self._jobs_pid = 0
        if not self.memory:
            Path(self.path).parent.mkdir(parents=True, exist_ok=True)
        self._setup()

    # Connections --------------------------------------------------------------------

    def _connect(self) -> sqlite3.Connection:
        try:
            # isolation_level=None: the module must not open transactions on its own;
            # every write below opens its own BEGIN IMMEDIATE.
            conn = sqlite3.connect(self.path, timeout=self.timeout, isolation_level=None,
                                   check_same_thread=False)
            conn.execute(f"PRAGMA busy_timeout = {int(self.timeout * 1000)}")
            conn.execute("PRAGMA synchronous = NORMAL")
        except sqlite3.Error as exc:
            raise StoreUnavailable(f"cannot open SQLite store {self.path}: {exc}") from exc
        with self._registry:
            self._connections.append(conn)
        return conn

    def _conn(self) -> sqlite3.Connection:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        if os.getpid() != self._pid:  # forked: the parent's connections are not ours to use
            self._pid = os.getpid()
            self._local = threading.local()
            self._shared = None
            with self._registry:
                # Kept referenced, never closed here: closing a connection inherited
                # across fork can disturb the parent's locks on the file.
                self._inherited += self._connections
                self._connections = []
        if self.memory:
            if self._shared is None:
                self._shared = self._connect()
            return self._shared
        conn: sqlite3.Connection | None = getattr(self._local, "conn", None)
        if conn is None:
            conn = self._local.conn = self._connect()
        return conn

    def _guard(self) -> AbstractContextManager[Any]:
        return self._shared_lock if self.memory else nullcontext()

    @contextmanager
    def _errors(self) -> Iterator[None]:
        try:
            yield
        except sqlite3.OperationalError as exc:  # locked, busy, I/O, cannot open
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc
        except sqlite3.DatabaseError as exc:
            if isinstance(exc, sqlite3.IntegrityError | sqlite3.ProgrammingError):
                raise
            raise StoreUnavailable(f"SQLite store {self.path}: {exc}") from exc

    @contextmanager
    def _read(self) -> Iterator[sqlite3.Connection]:
        with self._guard(), self._errors():
            yield self._conn()

    @contextmanager
    def _write(self) -> Iterator[sqlite3.Connection]:
        """One write transaction, taking the write lock first (no lost updates)."""
        with self._guard(), self._errors():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                yield conn
            except BaseException:
                conn.execute("ROLLBACK")
                raise
            try:
                conn.execute("COMMIT")
            except sqlite3.Error:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        self._maybe_purge()

    def _setup(self) -> None:
        deadline = time.monotonic() + self.timeout
        while True:
            try:
                with self._guard(), self._errors():
                    conn = self._conn()
                    if not self.memory:
                        # Switching to WAL needs a moment alone with the file; when
                        # several processes start at once one of them may see "locked".
                        conn.execute("PRAGMA journal_mode = WAL")
                    conn.execute("BEGIN IMMEDIATE")
                    try:
                        # Statement by statement: executescript() would COMMIT first.
                        for statement in _SCHEMA.split(";"):
                            if statement.strip():
                                conn.execute(statement)
                        conn.execute(f"PRAGMA user_version = {SCHEMA_VERSION}")
                        conn.execute("COMMIT")
                    except BaseException:
                        if conn.in_transaction:
                            conn.execute("ROLLBACK")
                        raise
                break
            except StoreUnavailable as exc:
                locked = "locked" in str(exc.__cause__) or "busy" in str(exc.__cause__)
                if not locked or time.monotonic() > deadline:
                    raise
                time.sleep(0.02)
        self._maybe_purge()

    def _maybe_purge(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY
        with suppress(StoreUnavailable):  # opportunistic; tried again after PURGE_EVERY
            self.purge_expired()

    # Flows and states ---------------------------------------------------------------

    def put_flow(self, flow_id: str, document: dict[str, Any], ttl: float | None = None) -> None:
        text = dump(document, "a flow document")
        expires = time.time() + self._ttl(ttl)
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO flows (id, document, expires_at) "
                         "VALUES (?, ?, ?)", (flow_id, text, expires))

    def get_flow(self, flow_id: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute("SELECT document FROM flows WHERE id = ? AND expires_at > ?",
                               (flow_id, time.time())).fetchone()
        return None if row is None else load(row[0])

    def get_state(self, key: str) -> dict[str, Any] | None:
        with self._read() as conn:
            row = conn.execute("SELECT state FROM states WHERE key = ? AND expires_at > ?",
                               (key, time.time())).fetchone()
        return None if row is None else load(row[0])

    def put_state(self, key: str, state: dict[str, Any], ttl: float | None = None) -> None:
        text = dump(state, "a state")
        expires = time.time() + self._ttl(ttl)
        with self._write() as conn:
            conn.execute("INSERT OR REPLACE INTO states (key, state, expires_at) "
                         "VALUES (?, ?, ?)", (key, text, expires))

    def update_state(self, key: str, fn: StateFn, ttl: float | None = None) -> dict[str, Any]:
        ttl = self._ttl(ttl)
        with self._write() as conn:
            now = time.time()
            row = conn.execute("SELECT state FROM states WHERE key = ? AND expires_at > ?",
                               (key, now)).fetchone()
            new = fn({} if row is None else load(row[0]))
            text = dump(new, "update_state's function result")
            conn.execute("INSERT OR REPLACE INTO states (key, state, expires_at) "
                         "VALUES (?, ?, ?)", (key, text, now + ttl))
        return new

    # Events -------------------------------------------------------------------------

    def claim_event(self, key: str, provider: str, event: dict[str, Any], *,
                    lease: float = DEFAULT_LEASE) -> bool:
        claim = self._claim_op(key, provider, event, lease)
        with self._write() as conn:
            return claim(conn)

    def finish_event(self, key: str, *, error: str | None = None) -> bool:
        finish = self._finish_op(key, error)
        with self._write() as conn:
            return finish(conn)

    def _claim_op(self, key: str, provider: str, event: dict[str, Any], lease: float
                  ) -> Callable[[sqlite3.Connection], bool]:
        text, lease = dump(event, "an event"), check_lease(lease)

        def claim(conn: sqlite3.Connection) -> bool:
            now = time.time()
            cursor = conn.execute(_CLAIM, {
                "key": key, "provider": provider, "event": text, "now": now,
                "lease_until": now + lease, "expires_at": now + self.ttl})
            return cursor.rowcount == 1

        return claim

    def _finish_op(self, key: str, error: str | None) -> Callable[[sqlite3.Connection], bool]:
        status = "done" if error is None else "failed"

        def finish(conn: sqlite3.Connection) -> bool:
            now = time.time()
            cursor = conn.execute(
                "UPDATE events SET status = ?, error = ?, updated_at = ?, lease_until = NULL, "
                "expires_at = ? WHERE key = ? AND expires_at > ?",
                (status, error, now, now + self.ttl, key, now))
            return cursor.rowcount == 1

        return finish

    # From the event loop, claims and finishes go to one writer thread that commits
    # whatever is queued as one transaction: no thread hop per call, no writers
    # contending for SQLite's lock, one commit for many events.

    async def aclaim_event(self, key: str, provider: str, event: dict[str, Any], *,
                           lease: float = DEFAULT_LEASE) -> bool:
        return await self._batched(self._claim_op(key, provider, event, lease))

    async def afinish_event(self, key: str, *, error: str | None = None) -> bool:
        return await self._batched(self._finish_op(key, error))

    async def _batched(self, op: Callable[[sqlite3.Connection], bool]) -> bool:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        loop = asyncio.get_running_loop()
        future: asyncio.Future[bool] = loop.create_future()
        self._writer().put((op, loop, future))
        return await future

    def _writer(self) -> queue.SimpleQueue[_Job | None]:
        with self._registry:
            if self._jobs is None or self._jobs_pid != os.getpid():
                self._jobs, self._jobs_pid = queue.SimpleQueue(), os.getpid()
                threading.Thread(target=self._write_batches, args=(self._jobs,),
                                 name="univoice-sqlite-writer", daemon=True).start()
            return self._jobs

    def _write_batches(self, jobs: queue.SimpleQueue[_Job | None]) -> None:
        while True:
            first = jobs.get()
            if first is None:
                return
            batch = [first]
            while len(batch) < MAX_BATCH:
                try:
                    job = jobs.get_nowait()
                except queue.Empty:
                    break
                if job is None:
                    jobs.put(None)  # finish this batch, then stop
                    break
                batch.append(job)
            outcomes: list[tuple[bool, Any]] = []
            try:
                with self._write() as conn:
                    for op, _, _ in batch:
                        outcomes.append(_one(conn, op))
            except Exception as exc:  # the whole transaction failed: so did every job
                failure = exc if isinstance(exc, StoreUnavailable) else StoreUnavailable(
                    f"SQLite store {self.path}: {exc}")
                outcomes = [(False, failure)] * len(batch)
            for (_, loop, future), (ok, value) in zip(batch, outcomes, strict=True):
                loop.call_soon_threadsafe(_settle, future, ok, value)

    def get_event(self, key: str) -> StoredEvent | None:
        with self._read() as conn:
            # S608: only constant column and table names are interpolated
            row = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events "  # noqa: S608
                               "WHERE key = ? AND expires_at > ?",
                               (key, time.time())).fetchone()
        return None if row is None else _event(row)

    def events(self, status: EventStatus | None = None, limit: int = 100) -> list[StoredEvent]:
        check_status(status)
        if limit <= 0:
            return []
        where = "expires_at > ?"
        args: list[object] = [time.time()]
        if status is not None:
            where = f"status = ? AND {where}"
            args = [status, *args]
        with self._read() as conn:
            # S608: only constant column and table names are interpolated
            rows = conn.execute(f"SELECT {_EVENT_COLUMNS} FROM events WHERE {where} "  # noqa: S608
                                "ORDER BY created_at DESC, key DESC LIMIT ?",
                                (*args, limit)).fetchall()
        return [_event(row) for row in rows]

    def reclaim_failed(self, key: str, *, lease: float = DEFAULT_LEASE) -> StoredEvent | None:
        lease = check_lease(lease)
        with self._write() as conn:
            now = time.time()
            row = conn.execute(
                # S608: only constant column and table names are interpolated
                "UPDATE events SET status = 'claimed', attempts = attempts + 1, "  # noqa: S608
                "updated_at = ?, lease_until = ?, expires_at = ? "
                "WHERE key = ? AND status = 'failed' AND expires_at > ? "
                f"RETURNING {_EVENT_COLUMNS}",
                (now, now + lease, now + self.ttl, key, now)).fetchone()
        return None if row is None else _event(row)

    # Housekeeping -------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.backend, "location": self.path}
        try:
            with self._read() as conn:
                now = time.time()
                flows = conn.execute("SELECT count(*) FROM flows WHERE expires_at > ?",
                                     (now,)).fetchone()[0]
                states = conn.execute("SELECT count(*) FROM states WHERE expires_at > ?",
                                      (now,)).fetchone()[0]
                by_status = dict(conn.execute(
                    "SELECT status, count(*) FROM events WHERE expires_at > ? GROUP BY status",
                    (now,)).fetchall())
        except StoreUnavailable as exc:
            return {**out, "reachable": False, "error": str(exc)}
        return {**out, "reachable": True, "flows": flows, "states": states,
                "events": {status: by_status.get(status, 0) for status in STATUSES}}

    def purge_expired(self) -> int:
        removed = 0
        # Not through _write(): that would try to purge again on the way out.
        with self._guard(), self._errors():
            conn = self._conn()
            conn.execute("BEGIN IMMEDIATE")
            try:
                now = time.time()
                for table in ("flows", "states", "events"):
                    # S608: only constant column and table names are interpolated
                    removed += conn.execute(f"DELETE FROM {table} WHERE expires_at <= ?",  # noqa: S608
                                            (now,)).rowcount
                conn.execute("COMMIT")
            except BaseException:
                if conn.in_transaction:
                    conn.execute("ROLLBACK")
                raise
        return removed

    def close(self) -> None:
        with self._registry:
            if self._jobs is not None and self._jobs_pid == os.getpid():
                self._jobs.put(None)
            self._jobs = None
        self._closed = True
        with self._registry:
            connections, self._connections = self._connections, []
        for conn in connections:
            with suppress(sqlite3.Error):  # closing anyway; nothing left to protect
                conn.close()

    def __repr__(self) -> str:
        return f"SqliteStore({self.path!r})"


_Job = tuple[Callable[[sqlite3.Connection], bool], asyncio.AbstractEventLoop,
             "asyncio.Future[bool]"]
MAX_BATCH = 256


def _one(conn: sqlite3.Connection, op: Callable[[sqlite3.Connection], bool]
         ) -> tuple[bool, Any]:
    """Run one job inside the batch's transaction; its failure undoes only itself."""
    conn.execute("SAVEPOINT job")
    try:
        value = op(conn)
    except sqlite3.Error as exc:
        conn.execute("ROLLBACK TO job")
        conn.execute("RELEASE job")
        return False, StoreUnavailable(f"SQLite store: {exc}")
    conn.execute("RELEASE job")
    return True, value


def _settle(future: asyncio.Future[bool], ok: bool, value: Any) -> None:
    if not future.done():  # the awaiting request may have been cancelled
        if ok:
            future.set_result(value)
        else:
            future.set_exception(value)


def _event(row: tuple[Any, ...]) -> StoredEvent:
    key, provider, status, event, error, attempts, created_at, updated_at = row
    return StoredEvent(key=key, provider=provider, status=cast(EventStatus, status),
                       event=load(event), error=error, attempts=int(attempts),
                       created_at=float(created_at), updated_at=float(updated_at))


def parse_url(url: str) -> tuple[str, float]:
    """The path and busy timeout of a ``sqlite://`` URL.

    ``sqlite:///relative/path.db``, ``sqlite:////absolute/path.db`` or
    ``sqlite://:memory:``, with an optional ``?timeout=seconds`` (the busy timeout).
    """
    scheme, sep, rest = url.partition("://")
    if scheme.lower() != "sqlite" or not sep:
        raise ConfigError(f"not a sqlite:// URL: {url!r}")
    rest, _, query = rest.partition("?")
    timeout = DEFAULT_TIMEOUT
    for name, value in parse_qsl(query, keep_blank_values=True):
        if name != "timeout":
            raise ConfigError(f"SQLite store URL: unknown parameter {name!r} "
                              "(the only one is timeout)")
        try:
            timeout = float(value)
        except ValueError:
            timeout = -1.0
        if not timeout > 0:
            raise ConfigError(f"SQLite store URL: timeout must be a positive number of "
                              f"seconds, not {value!r}")
    if rest in (MEMORY, "/" + MEMORY):
        return MEMORY, timeout
    if not rest.startswith("/") or rest in ("/", "//"):
        raise ConfigError(f"SQLite store URL {url!r} names no file: use "
                          "sqlite:///relative/path.db, sqlite:////absolute/path.db or "
                          "sqlite://:memory:")
    return unquote(rest[1:]), timeout  # "///rel" -> "rel", "////abs" -> "/abs"
