"""A campaign's durable state: one SQLite file, every row's progress committed as it happens.

A row is ``pending`` until a runner claims it (``dialing``: the create may be on its way),
then ``placed`` (with the call's id and provider), ``failed`` (the provider provably placed
nothing: the error says why) or ``doubt`` (the create's effect is unknown, an
``AmbiguousCreate``, or the runner died while dialing). A row in doubt is never dialled
again before a lookup by its tag shows no call exists; ``cancelled`` rows are left alone.

Each campaign has one runner at a time: it holds the campaign's lease (renewed as it
works); a runner that finds the lease held by a live process on this machine refuses,
and takes over one held by a process that died.
"""

from __future__ import annotations

import json
import os
import socket
import sqlite3
import time
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass
from pathlib import Path
from typing import Any, Literal

from univoice.campaigns.rows import BadRow, CallList, Row
from univoice.errors import UnivoiceError

Status = Literal["ready", "running", "paused", "cancelled", "done"]
RowStatus = Literal["pending", "dialing", "placed", "failed", "doubt", "cancelled"]
ROW_STATUSES: tuple[RowStatus, ...] = ("pending", "dialing", "placed", "failed", "doubt",
                                       "cancelled")
DEFAULT_DB = "univoice-campaigns.sqlite3"
LEASE = 30.0  # seconds a runner's hold on its campaign lasts without renewal

_SCHEMA = """
CREATE TABLE IF NOT EXISTS campaigns (
    id TEXT PRIMARY KEY,
    name TEXT,
    source TEXT NOT NULL,
    flow TEXT NOT NULL,
    rate REAL NOT NULL,
    concurrency INTEGER NOT NULL,
    caller_id TEXT,
    status TEXT NOT NULL,
    owner TEXT,
    lease_until REAL,
    created_at REAL NOT NULL,
    updated_at REAL NOT NULL
);
CREATE TABLE IF NOT EXISTS rows (
    campaign TEXT NOT NULL,
    line INTEGER NOT NULL,
    to_number TEXT NOT NULL,
    from_number TEXT,
    variables TEXT NOT NULL,
    status TEXT NOT NULL,
    tag TEXT NOT NULL,
    call_id TEXT,
    provider TEXT,
    error TEXT,
    attempts INTEGER NOT NULL DEFAULT 0,
    claimed_at REAL,
    done_at REAL,
    PRIMARY KEY (campaign, line)
);
CREATE INDEX IF NOT EXISTS rows_status ON rows (campaign, status, line);
CREATE TABLE IF NOT EXISTS bad_rows (
    campaign TEXT NOT NULL,
    line INTEGER NOT NULL,
    problems TEXT NOT NULL,
    PRIMARY KEY (campaign, line)
);
"""


class CampaignError(UnivoiceError):
    """A campaign that does not exist, is finished, or is run by another process."""


@dataclass(frozen=True, slots=True)
class Campaign:
    id: str
    name: str | None
    source: str
    flow: dict[str, Any]
    rate: float
    concurrency: int
    caller_id: str | None  # the rows' caller id where a row has no "from"
    status: Status
    owner: str | None
    created_at: float


@dataclass(frozen=True, slots=True)
class RowState:
    campaign: str
    line: int
    to: str
    from_: str | None
    variables: dict[str, str]
    status: RowStatus
    tag: str
    call_id: str | None
    provider: str | None
    error: str | None
    attempts: int
    claimed_at: float | None
    done_at: float | None


def me() -> str:
    return f"{socket.gethostname()}:{os.getpid()}"


def _alive(owner: str | None) -> bool:
    """Whether ``owner`` (host:pid) is a live process on this machine (else unknown: no)."""
    if not owner:
        return False
    host, _, pid = owner.rpartition(":")
    if host != socket.gethostname() or not pid.isdigit():
        return False
    try:
        os.kill(int(pid), 0)
    except ProcessLookupError:
        return False
    except PermissionError:
        return True
    return True


def _row(r: sqlite3.Row) -> RowState:
    return RowState(r["campaign"], r["line"], r["to_number"], r["from_number"],
                    json.loads(r["variables"]), r["status"], r["tag"], r["call_id"],
                    r["provider"], r["error"], r["attempts"], r["claimed_at"], r["done_at"])


def _campaign(r: sqlite3.Row) -> Campaign:
    return Campaign(r["id"], r["name"], r["source"], json.loads(r["flow"]), r["rate"],
                    r["concurrency"], r["caller_id"], r["status"], r["owner"],
                    r["created_at"])


class CampaignDB:
    """The campaigns of one SQLite file (``univoice-campaigns.sqlite3`` by default)."""

    def __init__(self, path: str | Path = DEFAULT_DB) -> None:
        self.path = str(path)
        try:
            self._conn = sqlite3.connect(self.path, timeout=30, isolation_level=None,
                                         check_same_thread=False)
            self._conn.row_factory = sqlite3.Row
            self._conn.execute("PRAGMA journal_mode=WAL")
            self._conn.execute("PRAGMA synchronous=NORMAL")
            self._conn.executescript(_SCHEMA)
        except sqlite3.Error as exc:
            raise CampaignError(f"cannot open the campaign database {self.path}: {exc}"
                                ) from None

    def close(self) -> None:
        self._conn.close()

    def __enter__(self) -> CampaignDB:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()

    @contextmanager
    def _tx(self) -> Iterator[sqlite3.Connection]:
        self._conn.execute("BEGIN IMMEDIATE")
        try:
            yield self._conn
        except BaseException:
            self._conn.execute("ROLLBACK")
            raise
        self._conn.execute("COMMIT")

    # Campaigns --------------------------------------------------------------------------

    def create(self, calls: CallList, flow: dict[str, Any], *, rate: float,
               concurrency: int, name: str | None = None,
               caller_id: str | None = None) -> Campaign:
        now = time.time()
        campaign_id = f"cmp-{os.urandom(6).hex()}"
        with self._tx() as db:
            db.execute("INSERT INTO campaigns (id, name, source, flow, rate, concurrency, "
                       "caller_id, status, created_at, updated_at) VALUES (?,?,?,?,?,?,?,?,?,?)",
                       (campaign_id, name, calls.source, json.dumps(flow), rate, concurrency,
                        caller_id, "ready", now, now))
            db.executemany(
                "INSERT INTO rows (campaign, line, to_number, from_number, variables, status,"
                " tag) VALUES (?,?,?,?,?,?,?)",
                [(campaign_id, r.line, r.to, r.from_, json.dumps(r.variables), "pending",
                  f"{campaign_id}-{r.line}") for r in calls.rows])
            db.executemany("INSERT INTO bad_rows VALUES (?,?,?)",
                           [(campaign_id, b.line, json.dumps(b.problems)) for b in calls.bad])
        return self.get(campaign_id)

    def get(self, campaign_id: str) -> Campaign:
        row = self._conn.execute("SELECT * FROM campaigns WHERE id = ?",
                                 (campaign_id,)).fetchone()
        if row is None:
            raise CampaignError(f"no campaign {campaign_id!r} in {self.path}")
        return _campaign(row)

    def campaigns(self) -> list[Campaign]:
        return [_campaign(r) for r in self._conn.execute(
            "SELECT * FROM campaigns ORDER BY created_at DESC")]

    def set_status(self, campaign_id: str, status: Status) -> Campaign:
        campaign = self.get(campaign_id)
        if campaign.status in ("cancelled", "done") and status != campaign.status:
            raise CampaignError(f"campaign {campaign_id} is {campaign.status}")
        with self._tx() as db:
            db.execute("UPDATE campaigns SET status = ?, updated_at = ? WHERE id = ?",
                       (status, time.time(), campaign_id))
            if status == "cancelled":
                db.execute("UPDATE rows SET status = 'cancelled' WHERE campaign = ? AND "
                           "status = 'pending'", (campaign_id,))
        return self.get(campaign_id)

    def take(self, campaign_id: str, owner: str, lease: float = LEASE) -> Campaign:
        """Hold the campaign for this runner; rows left dialing by a dead runner become
        doubtful (looked up before anything is dialled again)."""
        now = time.time()
        with self._tx() as db:
            row = db.execute("SELECT * FROM campaigns WHERE id = ?", (campaign_id,)).fetchone()
            if row is None:
                raise CampaignError(f"no campaign {campaign_id!r} in {self.path}")
            current = _campaign(row)
            if current.status in ("cancelled", "done"):
                raise CampaignError(f"campaign {campaign_id} is {current.status}")
            holder, until = row["owner"], row["lease_until"] or 0.0
            if holder and holder != owner and until > now and _alive(holder):
                raise CampaignError(f"campaign {campaign_id} is being run by {holder}")
            db.execute("UPDATE campaigns SET owner = ?, lease_until = ?, status = 'running',"
                       " updated_at = ? WHERE id = ?", (owner, now + lease, now, campaign_id))
            db.execute("UPDATE rows SET status = 'doubt', error = 'the runner stopped while "
                       "dialing' WHERE campaign = ? AND status = 'dialing'", (campaign_id,))
        return self.get(campaign_id)

    def renew(self, campaign_id: str, owner: str, lease: float = LEASE) -> Status:
        """Keep holding the campaign; its status (a pause or cancel from another command)."""
        with self._tx() as db:
            db.execute("UPDATE campaigns SET lease_until = ? WHERE id = ? AND owner = ?",
                       (time.time() + lease, campaign_id, owner))
            row = db.execute("SELECT status FROM campaigns WHERE id = ?",
                             (campaign_id,)).fetchone()
        status: Status = row["status"]
        return status

    def release(self, campaign_id: str, owner: str) -> Campaign:
        with self._tx() as db:
            left = db.execute("SELECT COUNT(*) FROM rows WHERE campaign = ? AND status IN "
                              "('pending', 'dialing', 'doubt')", (campaign_id,)).fetchone()[0]
            db.execute("UPDATE campaigns SET owner = NULL, lease_until = NULL, status = "
                       "CASE WHEN status = 'running' AND ? = 0 THEN 'done' "
                       "WHEN status = 'running' THEN 'paused' ELSE status END, "
                       "updated_at = ? WHERE id = ? AND owner = ?",
                       (left, time.time(), campaign_id, owner))
        return self.get(campaign_id)

    # Rows ---------------------------------------------------------------------------------

    def claim(self, campaign_id: str, limit: int) -> list[RowState]:
        """The next ``limit`` pending rows, marked dialing (committed before any create)."""
        now = time.time()
        with self._tx() as db:
            rows = db.execute(
                "UPDATE rows SET status = 'dialing', attempts = attempts + 1, claimed_at = ? "
                "WHERE campaign = ? AND line IN (SELECT line FROM rows WHERE campaign = ? AND "
                "status = 'pending' ORDER BY line LIMIT ?) RETURNING *",
                (now, campaign_id, campaign_id, limit)).fetchall()
        return sorted((_row(r) for r in rows), key=lambda r: r.line)

    def doubtful(self, campaign_id: str) -> list[RowState]:
        return [_row(r) for r in self._conn.execute(
            "SELECT * FROM rows WHERE campaign = ? AND status = 'doubt' ORDER BY line",
            (campaign_id,))]

    def placed(self, row: RowState, call_id: str, provider: str) -> None:
        self._finish(row, "placed", call_id=call_id, provider=provider, error=None)

    def failed(self, row: RowState, error: str, provider: str | None = None) -> None:
        self._finish(row, "failed", call_id=None, provider=provider, error=error)

    def doubt(self, row: RowState, error: str) -> None:
        self._finish(row, "doubt", call_id=None, provider=None, error=error)

    def redial(self, row: RowState) -> None:
        """A doubtful row whose lookup found no call: pending again."""
        self._finish(row, "pending", call_id=None, provider=None, error=None)

    def _finish(self, row: RowState, status: RowStatus, *, call_id: str | None,
                provider: str | None, error: str | None) -> None:
        with self._tx() as db:
            db.execute("UPDATE rows SET status = ?, call_id = ?, provider = ?, error = ?, "
                       "done_at = ? WHERE campaign = ? AND line = ?",
                       (status, call_id, provider, error, time.time(), row.campaign,
                        row.line))

    def rows(self, campaign_id: str) -> list[RowState]:
        return [_row(r) for r in self._conn.execute(
            "SELECT * FROM rows WHERE campaign = ? ORDER BY line", (campaign_id,))]

    def bad_rows(self, campaign_id: str) -> list[BadRow]:
        return [BadRow(r["line"], json.loads(r["problems"])) for r in self._conn.execute(
            "SELECT * FROM bad_rows WHERE campaign = ? ORDER BY line", (campaign_id,))]

    def counts(self, campaign_id: str) -> dict[str, int]:
        out: dict[str, int] = dict.fromkeys(ROW_STATUSES, 0)
        for r in self._conn.execute("SELECT status, COUNT(*) AS n FROM rows WHERE "
                                    "campaign = ? GROUP BY status", (campaign_id,)):
            out[r["status"]] = r["n"]
        out["bad"] = self._conn.execute("SELECT COUNT(*) FROM bad_rows WHERE campaign = ?",
                                        (campaign_id,)).fetchone()[0]
        return out


def row_of(state: RowState) -> Row:
    return Row(state.line, state.to, state.from_, state.variables)
