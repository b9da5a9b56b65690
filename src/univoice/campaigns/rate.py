"""Calls per second, per provider: each create waits for its own slot.

A slot schedule (the GCRA form of a token bucket with a burst of one): the n-th create to
a provider may start at ``max(now, previous slot) + 1 / rate``, so creates are evenly
spaced and the rate is never exceeded over any window, however many workers share it.
``LocalPacer`` keeps the schedule in the process; ``RedisPacer`` keeps it in Redis (one
atomic script, Redis's own clock) so workers on several machines share one limit.
"""

from __future__ import annotations

import asyncio
import re
import time
from typing import Any, Protocol

from univoice.errors import FlowIssue, InvalidArguments

_RATE = re.compile(r"^\s*(\d+(?:\.\d+)?)\s*(?:/\s*(s|sec|second|m|min|minute))?\s*$")


def parse_rate(text: str | float) -> float:
    """Calls per second from ``5``, ``5/s``, ``2.5/s`` or ``120/min``."""
    if isinstance(text, (int, float)):
        value = float(text)
    else:
        match = _RATE.match(text)
        if match is None:
            raise InvalidArguments([FlowIssue("rate", f"{text!r} is not a rate (5/s, 120/min)")])
        value = float(match[1]) / (60.0 if (match[2] or "s").startswith("m") else 1.0)
    if not 0 < value <= 10_000:
        raise InvalidArguments([FlowIssue("rate", "must be above 0 and at most 10000/s")])
    return value


class Pacer(Protocol):
    async def wait(self, provider: str) -> None:
        """Return when this create to ``provider`` may start."""


class LocalPacer:
    def __init__(self, rate: float) -> None:
        self.interval = 1.0 / rate
        self._next: dict[str, float] = {}

    def reserve(self, provider: str, now: float) -> float:
        """Take the next slot; seconds to wait for it."""
        slot = max(now, self._next.get(provider, now))
        self._next[provider] = slot + self.interval
        return slot - now

    async def wait(self, provider: str) -> None:
        delay = self.reserve(provider, time.monotonic())
        if delay > 0:
            await asyncio.sleep(delay)


# KEYS[1]: the provider's next free slot (microseconds on Redis's clock); ARGV[1]: the
# interval in microseconds. Returns the microseconds to wait for the slot taken.
_RESERVE = """
local t = redis.call('TIME')
local now = tonumber(t[1]) * 1000000 + tonumber(t[2])
local nxt = tonumber(redis.call('GET', KEYS[1]) or '0')
local slot = math.max(now, nxt)
local interval = tonumber(ARGV[1])
redis.call('SET', KEYS[1], string.format('%.0f', slot + interval), 'PX',
           math.ceil((slot + interval - now) / 1000) + 60000)
return string.format('%.0f', slot - now)
"""


class RedisPacer:
    """The slot schedule in Redis, shared by every worker that uses ``url``."""

    def __init__(self, url: str, rate: float, *, prefix: str = "univoice:pace:") -> None:
        import redis.asyncio as aioredis

        self.interval_us = int(1_000_000 / rate)
        self.prefix = prefix
        connect: Any = aioredis.from_url  # untyped in some redis-py releases
        self._redis: Any = connect(url)
        self._script: Any = self._redis.register_script(_RESERVE)

    async def wait(self, provider: str) -> None:
        delay_us = int(await self._script(keys=[self.prefix + provider],
                                          args=[self.interval_us]))
        if delay_us > 0:
            await asyncio.sleep(delay_us / 1_000_000)

    async def aclose(self) -> None:
        await self._redis.aclose()
