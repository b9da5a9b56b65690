"""The Redis FlowStore: for several machines serving webhooks behind a load balancer.

Keys are ``{namespace}:{kind}:{key}`` (namespace "univoice"): ``flow``, ``state`` and
``lease`` hold strings, ``event`` a hash. Redis expires them itself (PX). Sorted sets
make them countable and listable: ``{ns}:index:{flow|state|event}`` scored by expiry
time (what ``purge_expired`` trims) and ``{ns}:status:{claimed|done|failed}`` scored by
creation time (what ``events()`` pages through).

Every event transition is one Lua script, so the record, its lease and the indexes change
together or not at all. A lease is a key of its own with a PX expiry, so "the lease ran
out" is judged by the Redis server's clock, not by the clocks of the machines sharing it.

redis-py is imported only when a RedisStore is made: the package works without it.
"""

from __future__ import annotations

import asyncio
import random
import time
from collections.abc import AsyncIterator, Iterator, Sequence
from contextlib import asynccontextmanager, contextmanager, suppress
from types import ModuleType
from typing import TYPE_CHECKING, Any, cast
from urllib.parse import parse_qsl, urlencode, urlsplit, urlunsplit

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
    mask_url,
)

if TYPE_CHECKING:
    import redis

DEFAULT_TIMEOUT = 5.0
PURGE_EVERY = 60.0
_PURGE_BATCH = 500  # expired index entries removed per script call (keeps Redis responsive)
# Error replies that mean "not now" rather than "wrong": the app answers 503 for these.
_TRANSIENT_REPLIES = frozenset({"LOADING", "BUSY", "MISCONF", "MASTERDOWN", "TRYAGAIN",
                                "CLUSTERDOWN", "READONLY", "NOREPLICAS"})

# KEYS: event, lease, claimed, done, failed, index:event
# ARGV: key, provider, event json, now, lease ms, ttl ms, expires at
_CLAIM = """
local status = redis.call('HGET', KEYS[1], 'status')
if status then
  if status ~= 'claimed' or redis.call('EXISTS', KEYS[2]) == 1 then return 0 end
  redis.call('HINCRBY', KEYS[1], 'attempts', 1)
  redis.call('HSET', KEYS[1], 'updated_at', ARGV[4])
else
  redis.call('HSET', KEYS[1], 'provider', ARGV[2], 'status', 'claimed', 'event', ARGV[3],
             'attempts', 1, 'created_at', ARGV[4], 'updated_at', ARGV[4])
  -- an earlier record of this key may have expired while still listed elsewhere
  redis.call('ZREM', KEYS[4], ARGV[1])
  redis.call('ZREM', KEYS[5], ARGV[1])
  redis.call('ZADD', KEYS[3], ARGV[4], ARGV[1])
end
redis.call('SET', KEYS[2], '1', 'PX', ARGV[5])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[6], ARGV[7], ARGV[1])
return 1
"""

# KEYS: event, lease, claimed, done, failed, index:event
# ARGV: key, status, error, has error, now, ttl ms, expires at
_FINISH = """
local created = redis.call('HGET', KEYS[1], 'created_at')
if not created then return 0 end
redis.call('HSET', KEYS[1], 'status', ARGV[2], 'updated_at', ARGV[5])
if ARGV[4] == '1' then
  redis.call('HSET', KEYS[1], 'error', ARGV[3])
else
  redis.call('HDEL', KEYS[1], 'error')
end
redis.call('ZREM', KEYS[3], ARGV[1])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZREM', KEYS[5], ARGV[1])
redis.call('ZADD', ARGV[2] == 'failed' and KEYS[5] or KEYS[4], created, ARGV[1])
redis.call('DEL', KEYS[2])
redis.call('PEXPIRE', KEYS[1], ARGV[6])
redis.call('ZADD', KEYS[6], ARGV[7], ARGV[1])
return 1
"""

# KEYS: event, lease, claimed, failed, index:event
# ARGV: key, now, lease ms, ttl ms, expires at
_RECLAIM = """
if redis.call('HGET', KEYS[1], 'status') ~= 'failed' then return false end
redis.call('HINCRBY', KEYS[1], 'attempts', 1)
redis.call('HSET', KEYS[1], 'status', 'claimed', 'updated_at', ARGV[2])
redis.call('ZREM', KEYS[4], ARGV[1])
redis.call('ZADD', KEYS[3], redis.call('HGET', KEYS[1], 'created_at'), ARGV[1])
redis.call('SET', KEYS[2], '1', 'PX', ARGV[3])
redis.call('PEXPIRE', KEYS[1], ARGV[4])
redis.call('ZADD', KEYS[5], ARGV[5], ARGV[1])
return redis.call('HGETALL', KEYS[1])
"""

# KEYS: index:flow, index:state, index:event, claimed, done, failed
# ARGV: now, batch size.  The entries themselves are gone already (Redis expired them);
# this trims the indexes that count and list them.
_PURGE = """
local removed = 0
for i = 1, 2 do
  local gone = redis.call('ZRANGEBYSCORE', KEYS[i], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
  if #gone > 0 then removed = removed + redis.call('ZREM', KEYS[i], unpack(gone)) end
end
local gone = redis.call('ZRANGEBYSCORE', KEYS[3], '-inf', ARGV[1], 'LIMIT', 0, ARGV[2])
if #gone > 0 then
  for s = 4, 6 do redis.call('ZREM', KEYS[s], unpack(gone)) end
  removed = removed + redis.call('ZREM', KEYS[3], unpack(gone))
end
return removed
"""


def _import_redis() -> ModuleType:
    try:
        import redis
    except ImportError:
        raise ConfigError("a redis:// store needs redis-py: pip install 'univoice[redis]'"
                          ) from None
    major = redis.__version__.split(".")[0]
    if not major.isdigit() or int(major) < 5:
        raise ConfigError(f"the Redis store needs redis-py 5 or later, not "
                          f"{redis.__version__}: pip install 'univoice[redis]'")
    return redis


class RedisStore(FlowStore):
    """A FlowStore in Redis, shared by every process and machine that uses the same URL.

    URL: ``redis[s]://[[user]:password@]host[:port][/db]``, plus optional query
    parameters ``timeout`` (seconds, for connecting, replies and a contended
    ``update_state``; default 5) and ``namespace`` (key prefix, default "univoice"); any
    other query parameter goes to redis-py.
    """

    backend = "redis"

    def __init__(self, url: str, *, ttl: float = DEFAULT_TTL,
                 namespace: str | None = None) -> None:
        super().__init__(ttl=ttl)
        self._lib = _import_redis()
        self.url = mask_url(url)
        clean, options = _split_options(url)
        self.timeout = options.get("timeout", DEFAULT_TIMEOUT)
        ns = namespace or cast(str, options.get("namespace", "univoice"))
        self.namespace = ns
        from redis.backoff import ExponentialBackoff
        from redis.retry import Retry

        try:
            self._r: redis.Redis = self._lib.Redis.from_url(
                clean, decode_responses=True, socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout,
                # One quick retry replaces a pooled connection that a server restart
                # broke; more would only delay the 503 that makes the provider retry.
                retry=Retry(ExponentialBackoff(cap=0.1, base=0.01), 1))
        except ValueError as exc:
            raise ConfigError(f"invalid Redis store URL {self.url}: {exc}") from None
        self._clean_url = clean
        self._async: tuple[Any, Any, Any] | None = None  # client, claim, finish scripts
        self._async_loop: object = None
        self._claim = self._r.register_script(_CLAIM)
        self._finish = self._r.register_script(_FINISH)
        self._reclaim = self._r.register_script(_RECLAIM)
        self._purge = self._r.register_script(_PURGE)
        self._closed = False
        self._next_purge = 0.0
        self._transient = (self._lib.exceptions.ConnectionError,
                           self._lib.exceptions.TimeoutError)

    # Keys ---------------------------------------------------------------------------

    def _key(self, kind: str, key: str) -> str:
        return f"{self.namespace}:{kind}:{key}"

    def _index(self, kind: str) -> str:
        return f"{self.namespace}:index:{kind}"

    def _status(self, status: str) -> str:
        return f"{self.namespace}:status:{status}"

    def _event_keys(self, key: str) -> list[str]:
        return [self._key("event", key), self._key("lease", key),
                *(self._status(s) for s in STATUSES), self._index("event")]

    @contextmanager
    def _errors(self) -> Iterator[None]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        try:
            yield
        except self._lib.exceptions.RedisError as exc:
            raise self._unavailable(exc) from exc
        self._maybe_purge()

    def _unavailable(self, exc: Exception) -> Exception:
        """StoreUnavailable for a failure that retrying later can cure; else ``exc``."""
        transient = isinstance(exc, self._transient) or (
            isinstance(exc, self._lib.exceptions.ResponseError)
            and str(exc).split(" ", 1)[0] in _TRANSIENT_REPLIES)  # LOADING, BUSY, ...
        return StoreUnavailable(f"Redis store {self.url}: {exc}") if transient else exc

    def _maybe_purge(self) -> None:
        if time.monotonic() < self._next_purge:
            return
        self._next_purge = time.monotonic() + PURGE_EVERY
        with suppress(StoreUnavailable):  # opportunistic; tried again after PURGE_EVERY
            self.purge_expired()

    # Flows and states ---------------------------------------------------------------

    def _put(self, kind: str, key: str, text: str, ttl: float) -> None:
        with self._errors(), self._r.pipeline(transaction=True) as pipe:
            pipe.set(self._key(kind, key), text, px=_ms(ttl))
            pipe.zadd(self._index(kind), {key: time.time() + ttl})
            pipe.execute()

    def _get(self, kind: str, key: str) -> dict[str, Any] | None:
        with self._errors():
            text = cast(str | None, self._r.get(self._key(kind, key)))
        return None if text is None else load(text)

    def put_flow(self, flow_id: str, document: dict[str, Any], ttl: float | None = None) -> None:
        self._put("flow", flow_id, dump(document, "a flow document"), self._ttl(ttl))

    def get_flow(self, flow_id: str) -> dict[str, Any] | None:
        return self._get("flow", flow_id)

    def get_state(self, key: str) -> dict[str, Any] | None:
        return self._get("state", key)

    def put_state(self, key: str, state: dict[str, Any], ttl: float | None = None) -> None:
        self._put("state", key, dump(state, "a state"), self._ttl(ttl))

    def update_state(self, key: str, fn: StateFn, ttl: float | None = None) -> dict[str, Any]:
        ttl = self._ttl(ttl)
        name = self._key("state", key)
        deadline = time.monotonic() + self.timeout
        backoff = 0.001
        with self._errors(), self._r.pipeline(transaction=True) as pipe:
            while True:
                try:
                    # Optimistic: if another writer changes the key between WATCH and
                    # EXEC, EXEC fails and the whole read-modify-write runs again.
                    pipe.watch(name)  # type: ignore[no-untyped-call]
                    text = cast(str | None, pipe.get(name))
                    new = fn({} if text is None else load(text))
                    data = dump(new, "update_state's function result")
                    pipe.multi()
                    pipe.set(name, data, px=_ms(ttl))
                    pipe.zadd(self._index("state"), {key: time.time() + ttl})
                    pipe.execute()
                    return new
                except self._lib.exceptions.WatchError:
                    if time.monotonic() > deadline:
                        raise StoreUnavailable(
                            f"Redis store {self.url}: state {key!r} is too contended to "
                            f"update within {self.timeout:g} s") from None
                    # S311: retry jitter, not a secret
                    time.sleep(random.uniform(0, backoff))  # de-synchronise the writers  # noqa: S311
                    backoff = min(backoff * 2, 0.05)

    # Events -------------------------------------------------------------------------

    def claim_event(self, key: str, provider: str, event: dict[str, Any], *,
                    lease: float = DEFAULT_LEASE) -> bool:
        text = dump(event, "an event")
        lease = check_lease(lease)
        now = time.time()
        with self._errors():
            won = self._claim(keys=self._event_keys(key), args=[
                key, provider, text, repr(now), _ms(lease), _ms(self.ttl),
                repr(now + self.ttl)])
        return bool(won)

    def finish_event(self, key: str, *, error: str | None = None) -> bool:
        now = time.time()
        with self._errors():
            done = self._finish(keys=self._event_keys(key), args=[
                key, "done" if error is None else "failed", error or "",
                "0" if error is None else "1", repr(now), _ms(self.ttl),
                repr(now + self.ttl)])
        return bool(done)

    # From the event loop: redis.asyncio, one client per loop (no thread hop per call).

    def _aclient(self) -> tuple[Any, Any, Any]:
        loop = asyncio.get_running_loop()
        if self._async is None or self._async_loop is not loop:
            from redis import asyncio as aredis

            # Blocking pool: a burst of callbacks waits for a connection, not fails.
            pool = aredis.BlockingConnectionPool.from_url(
                self._clean_url, decode_responses=True, socket_timeout=self.timeout,
                socket_connect_timeout=self.timeout, max_connections=64,
                timeout=self.timeout)
            client = aredis.Redis(connection_pool=pool)
            self._async = (client, client.register_script(_CLAIM),
                           client.register_script(_FINISH))
            self._async_loop = loop
        return self._async

    async def aclaim_event(self, key: str, provider: str, event: dict[str, Any], *,
                           lease: float = DEFAULT_LEASE) -> bool:
        text, lease = dump(event, "an event"), check_lease(lease)
        now = time.time()
        _, claim, _ = self._aclient()
        async with self._aerrors():
            won = await claim(keys=self._event_keys(key), args=[
                key, provider, text, repr(now), _ms(lease), _ms(self.ttl),
                repr(now + self.ttl)])
        return bool(won)

    async def afinish_event(self, key: str, *, error: str | None = None) -> bool:
        now = time.time()
        _, _, finish = self._aclient()
        async with self._aerrors():
            done = await finish(keys=self._event_keys(key), args=[
                key, "done" if error is None else "failed", error or "",
                "0" if error is None else "1", repr(now), _ms(self.ttl),
                repr(now + self.ttl)])
        return bool(done)

    @asynccontextmanager
    async def _aerrors(self) -> AsyncIterator[None]:
        if self._closed:
            raise StoreUnavailable("the store is closed")
        try:
            yield
        except self._lib.exceptions.RedisError as exc:
            raise self._unavailable(exc) from exc

    def get_event(self, key: str) -> StoredEvent | None:
        with self._errors():
            fields = cast(dict[str, str], self._r.hgetall(self._key("event", key)))
        return _event(key, fields) if fields else None

    def events(self, status: EventStatus | None = None, limit: int = 100) -> list[StoredEvent]:
        check_status(status)
        if limit <= 0:
            return []
        with self._errors():
            if status is not None:
                return self._listed(status, limit)
            merged = [e for s in STATUSES for e in self._listed(s, limit)]
        merged.sort(key=lambda e: (e.created_at, e.key), reverse=True)
        return merged[:limit]

    def _listed(self, status: EventStatus, limit: int) -> list[StoredEvent]:
        """Up to ``limit`` live events of ``status``, paging past index entries whose
        record expired (they stay listed until the next purge)."""
        out: list[StoredEvent] = []
        start = 0
        while len(out) < limit:
            keys = cast(list[str], self._r.zrevrange(self._status(status), start,
                                                     start + limit - 1))
            if not keys:
                break
            start += len(keys)
            with self._r.pipeline(transaction=False) as pipe:
                for key in keys:
                    pipe.hgetall(self._key("event", key))
                records = cast(list[dict[str, str]], pipe.execute())
            out += [_event(key, fields) for key, fields in zip(keys, records, strict=True)
                    if fields and fields.get("status") == status]
        return out[:limit]

    def reclaim_failed(self, key: str, *, lease: float = DEFAULT_LEASE) -> StoredEvent | None:
        lease = check_lease(lease)
        now = time.time()
        keys = self._event_keys(key)
        with self._errors():
            flat = self._reclaim(
                keys=[keys[0], keys[1], self._status("claimed"), self._status("failed"),
                      self._index("event")],
                args=[key, repr(now), _ms(lease), _ms(self.ttl), repr(now + self.ttl)])
        if not flat:
            return None
        items = cast(Sequence[str], flat)
        return _event(key, dict(zip(items[::2], items[1::2], strict=True)))

    # Housekeeping -------------------------------------------------------------------

    def health(self) -> dict[str, Any]:
        out: dict[str, Any] = {"backend": self.backend, "location": self.url}
        try:
            self.purge_expired()  # so the event counts below are of live records only
            now = time.time()
            with self._errors(), self._r.pipeline(transaction=False) as pipe:
                pipe.zcount(self._index("flow"), f"({now!r}", "+inf")
                pipe.zcount(self._index("state"), f"({now!r}", "+inf")
                for status in STATUSES:
                    pipe.zcard(self._status(status))
                counts = cast(list[int], pipe.execute())
        except StoreUnavailable as exc:
            return {**out, "reachable": False, "error": str(exc)}
        return {**out, "reachable": True, "flows": counts[0], "states": counts[1],
                "events": dict(zip(STATUSES, counts[2:], strict=True))}

    def purge_expired(self) -> int:
        keys = [self._index("flow"), self._index("state"), self._index("event"),
                *(self._status(s) for s in STATUSES)]
        self._next_purge = time.monotonic() + PURGE_EVERY
        removed = 0
        with self._errors():
            while True:
                batch = int(cast(int, self._purge(keys=keys,
                                                  args=[repr(time.time()), _PURGE_BATCH])))
                removed += batch
                if batch < _PURGE_BATCH:
                    return removed

    def close(self) -> None:
        self._closed = True
        self._r.close()
        self._async = None  # its connections close with their event loop

    def __repr__(self) -> str:
        return f"RedisStore({self.url!r})"


def _ms(seconds: float) -> int:
    return max(1, round(seconds * 1000))


def _split_options(url: str) -> tuple[str, dict[str, Any]]:
    """The URL without univoice's own query parameters, and their values."""
    parts = urlsplit(url)
    rest: list[tuple[str, str]] = []
    options: dict[str, Any] = {}
    for name, value in parse_qsl(parts.query, keep_blank_values=True):
        if name == "timeout":
            try:
                options["timeout"] = float(value)
            except ValueError:
                options["timeout"] = -1.0
            if not options["timeout"] > 0:
                raise ConfigError(f"Redis store URL: timeout must be a positive number of "
                                  f"seconds, not {value!r}")
        elif name == "namespace":
            if not value or any(c.isspace() for c in value):
                raise ConfigError(f"Redis store URL: invalid namespace {value!r}")
            options["namespace"] = value
        else:
            rest.append((name, value))
    return urlunsplit(parts._replace(query=urlencode(rest))), options


def _event(key: str, fields: dict[str, str]) -> StoredEvent:
    return StoredEvent(key=key, provider=fields["provider"],
                       status=cast(EventStatus, fields["status"]),
                       event=load(fields["event"]), error=fields.get("error"),
                       attempts=int(fields["attempts"]),
                       created_at=float(fields["created_at"]),
                       updated_at=float(fields["updated_at"]))

