"""The FlowStore interface: what the webhook app remembers between requests.

Three kinds of entries, each with an expiry:

- flows: continuation documents (the rest of a neutral flow) under an id;
- states: per-call state (variables gathered, retries used), updated atomically;
- events: one record per provider event, so a redelivery is handled only once.

Methods are synchronous: the ASGI app calls them in a thread pool, and both backends
(sqlite3, redis-py) are blocking clients. A backend that cannot be reached, or stays
locked beyond its busy timeout, raises ``StoreUnavailable``; the app answers 503 so the
provider delivers again, and nothing is half-written.
"""

from __future__ import annotations

import json
from abc import ABC, abstractmethod
from collections.abc import Callable
from dataclasses import dataclass
from functools import partial
from types import TracebackType
from typing import Any, Literal, Self, get_args
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

from univoice.errors import UnivoiceError
from univoice.redact import MASK, is_secret_field

EventStatus = Literal["claimed", "done", "failed"]
STATUSES: tuple[EventStatus, ...] = get_args(EventStatus)
DEFAULT_TTL = 7 * 86400.0
DEFAULT_LEASE = 60.0

StateFn = Callable[[dict[str, Any]], dict[str, Any]]


class StoreUnavailable(UnivoiceError):
    """The store cannot be reached, or is locked or busy beyond its timeout.

    Transient by nature: the webhook app turns it into HTTP 503 so the provider retries.
    """


@dataclass(frozen=True, slots=True)
class StoredEvent:
    """One provider event as the store remembers it."""

    key: str
    provider: str
    status: EventStatus
    event: dict[str, Any]  # the neutral event, as JSON
    error: str | None  # the error of the last failed attempt, if any
    attempts: int  # how many times the event was claimed (1 on first delivery)
    created_at: float  # epoch seconds
    updated_at: float


class FlowStore(ABC):
    """A durable, shared store of continuation flows, call state and event records."""

    backend: str = "abstract"

    def __init__(self, *, ttl: float = DEFAULT_TTL) -> None:
        self.ttl = check_ttl(ttl)

    # Continuation documents ---------------------------------------------------------

    @abstractmethod
    def put_flow(self, flow_id: str, document: dict[str, Any], ttl: float | None = None) -> None:
        """Store (or replace) a continuation document under ``flow_id``."""

    @abstractmethod
    def get_flow(self, flow_id: str) -> dict[str, Any] | None:
        """The document stored under ``flow_id``, or None if unknown or expired."""

    # Per-call state -----------------------------------------------------------------

    @abstractmethod
    def get_state(self, key: str) -> dict[str, Any] | None:
        """The state stored under ``key``, or None if unknown or expired."""

    @abstractmethod
    def put_state(self, key: str, state: dict[str, Any], ttl: float | None = None) -> None:
        """Store (or replace) the state under ``key``."""

    @abstractmethod
    def update_state(self, key: str, fn: StateFn, ttl: float | None = None) -> dict[str, Any]:
        """Atomically replace the state under ``key`` by ``fn(current)`` and return it.

        ``current`` is ``{}`` when there is no state yet. No update is lost, across threads
        and processes. ``fn`` must be free of side effects: an optimistic backend (Redis)
        may call it again when another writer got there first. If ``fn`` raises, nothing
        is written and the exception propagates.
        """

    # Exactly-once events ------------------------------------------------------------

    @abstractmethod
    def claim_event(self, key: str, provider: str, event: dict[str, Any], *,
                    lease: float = DEFAULT_LEASE) -> bool:
        """Claim the event ``key`` for handling: True exactly once per event.

        False when a record exists already, except for one still "claimed" whose lease
        ran out (the process handling it died): that one is claimed again, with
        ``attempts`` incremented.
        """

    @abstractmethod
    def finish_event(self, key: str, *, error: str | None = None) -> bool:
        """Mark the event "done" (or "failed" with ``error``); False if there is no record."""

    async def aclaim_event(self, key: str, provider: str, event: dict[str, Any], *,
                           lease: float = DEFAULT_LEASE) -> bool:
        """``claim_event`` for the event loop (in a worker thread unless a store does
        better, as the SQLite store does by batching writes)."""
        from anyio import to_thread

        return await to_thread.run_sync(
            partial(self.claim_event, key, provider, event, lease=lease))

    async def afinish_event(self, key: str, *, error: str | None = None) -> bool:
        """``finish_event`` for the event loop."""
        from anyio import to_thread

        return await to_thread.run_sync(partial(self.finish_event, key, error=error))

    @abstractmethod
    def get_event(self, key: str) -> StoredEvent | None:
        """The record of event ``key``, or None if unknown or expired."""

    @abstractmethod
    def events(self, status: EventStatus | None = None, limit: int = 100) -> list[StoredEvent]:
        """Event records, newest (by creation) first, optionally only those in ``status``."""

    @abstractmethod
    def reclaim_failed(self, key: str, *, lease: float = DEFAULT_LEASE) -> StoredEvent | None:
        """Set a "failed" event back to "claimed" (attempts + 1) for a replay, and return it.

        None if the event is unknown, expired or not failed (so two replays of the same
        event cannot both run it).
        """

    # Housekeeping -------------------------------------------------------------------

    @abstractmethod
    def health(self) -> dict[str, Any]:
        """Backend, reachability, location (secrets masked) and live entry counts.

        Never raises for an unreachable backend: ``reachable`` is False and ``error``
        says why.
        """

    @abstractmethod
    def purge_expired(self) -> int:
        """Remove expired entries now; return how many were removed."""

    @abstractmethod
    def close(self) -> None:
        """Release connections. Calls after ``close`` raise ``StoreUnavailable``."""

    def __enter__(self) -> Self:
        return self

    def __exit__(self, kind: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.close()

    def _ttl(self, ttl: float | None) -> float:
        return self.ttl if ttl is None else check_ttl(ttl)


def check_ttl(ttl: float) -> float:
    if not ttl > 0:  # also rejects NaN
        raise ValueError(f"ttl must be a positive number of seconds, not {ttl!r}")
    return float(ttl)


def check_lease(lease: float) -> float:
    if not lease > 0:
        raise ValueError(f"lease must be a positive number of seconds, not {lease!r}")
    return float(lease)


def check_status(status: str | None) -> None:
    if status is not None and status not in STATUSES:
        raise ValueError(f"status must be one of {', '.join(STATUSES)}, not {status!r}")


def dump(value: dict[str, Any], what: str) -> str:
    """JSON text of a document; a TypeError naming ``what`` for anything else."""
    if not isinstance(value, dict):
        raise TypeError(f"{what} must be a dict, not {type(value).__name__}")
    return json.dumps(value, separators=(",", ":"), ensure_ascii=False, allow_nan=False)


def load(text: str | bytes) -> dict[str, Any]:
    value = json.loads(text)
    if not isinstance(value, dict):  # only ever written by dump(); guard a foreign writer
        raise StoreUnavailable("the store holds a malformed entry (not a JSON object)")
    return value


def mask_url(url: str) -> str:
    """``url`` with its password (in the authority or a query parameter) masked."""
    try:
        parts = urlsplit(url)
        password = parts.password
    except ValueError:  # e.g. a port that is not a number: show nothing of the authority
        return url.split("://", 1)[0] + "://" + MASK
    netloc = parts.netloc
    if password is not None:
        user, _, host = netloc.rpartition("@")
        netloc = f"{user.partition(':')[0]}:{MASK}@{host}"
    query = [(k, MASK if is_secret_field(k) and v else v)
             for k, v in parse_qsl(parts.query, keep_blank_values=True)]
    return urlunsplit(parts._replace(netloc=netloc, query=urlencode(query, safe="*")))
