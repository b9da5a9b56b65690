"""The live list of events: what the webhook app handled, as server-sent events.

The source is the app's flow store (``FlowStore.events``), the record every worker
writes each event to before and after its handlers run. So the list shows the events of
every ``univoice serve`` worker (and of every machine sharing a Redis store), each with
its status (claimed, done, failed), not only those of the process serving the page.
The store is read every ``POLL`` seconds; within the process serving the page, the
console's own handler (registered with ``VoiceApp.on()``, so it sees each event as it is
handled) wakes the stream at once.

Every value leaves here as JSON data that the page sets with ``textContent``; fields
with secret-looking names and the configured providers' secret values are masked
(``univoice.redact``) before anything is sent.
"""

from __future__ import annotations

import asyncio
import json
import time
from collections.abc import AsyncGenerator, Awaitable, Callable
from datetime import UTC, datetime
from typing import Any

import anyio
from anyio import to_thread

from univoice.events import BaseEvent
from univoice.redact import Redactor
from univoice.store import FlowStore, StoreUnavailable
from univoice.store.base import StoredEvent

POLL = 1.0  # seconds between reads of the store
SETTLE = 0.15  # after a wake-up: time for the handled event's outcome to be recorded
RECENT = 200  # events sent when a page connects (newest ones)
LIFETIME = 20.0  # seconds a stream lasts; the browser reconnects (a server can stop)
MAX_DETAIL = 4000  # characters of an event's JSON shown


class Feed:
    def __init__(self, store: FlowStore, redactor: Redactor) -> None:
        self.store = store
        self.redactor = redactor
        self._waiters: set[asyncio.Event] = set()

    async def handled(self, event: BaseEvent) -> None:
        """A ``VoiceApp`` handler for every event: wakes the streams of this process."""
        for waiter in self._waiters:
            waiter.set()

    async def _pause(self, seconds: float) -> bool:
        """Wait ``seconds`` or until an event is handled here; True when woken."""
        waiter = asyncio.Event()
        self._waiters.add(waiter)
        try:
            with anyio.move_on_after(seconds):
                await waiter.wait()
                return True
            return False
        finally:
            self._waiters.discard(waiter)

    async def stream(self, gone: Callable[[], Awaitable[bool]]
                     ) -> AsyncGenerator[str, None]:
        """SSE frames: each event (again whenever its status changes), then new ones,
        for ``LIFETIME`` seconds or until ``gone()``."""
        sent: dict[str, tuple[str, float]] = {}
        yield "retry: 1000\n\n"
        ends = time.monotonic() + LIFETIME
        problem = False
        while time.monotonic() < ends and not await gone():
            try:
                records = await to_thread.run_sync(self.store.events, None, RECENT)
            except StoreUnavailable:
                if not problem:
                    yield frame("problem", {"error": "the event store is unavailable"})
                problem = True
                records = []
            else:
                if problem:
                    yield frame("problem", {"error": None})
                problem = False
            for record in reversed(records):  # oldest first
                mark = (record.status, record.updated_at)
                if sent.get(record.key) != mark:
                    sent[record.key] = mark
                    yield frame("event", self.row(record))
            yield ": alive\n\n"
            if await self._pause(POLL):
                await anyio.sleep(SETTLE)

    def row(self, record: StoredEvent) -> dict[str, Any]:
        event = self.redactor.payload(record.event)
        raw = event.pop("raw", None)
        summary = {k: v for k, v in event.items()
                   if k not in ("type", "id", "provider", "call_id", "tag", "occurred_at")
                   and v not in (None, "", [], {})}
        return {
            "key": record.key, "provider": record.provider, "status": record.status,
            "type": str(event.get("type", "")), "call_id": event.get("call_id"),
            "id": event.get("id"), "tag": event.get("tag"),
            "occurred_at": event.get("occurred_at"),
            "received_at": _iso(record.created_at), "attempts": record.attempts,
            "error": self.redactor.text(record.error) if record.error else None,
            "summary": ", ".join(f"{k}={_short(v)}" for k, v in summary.items()),
            "detail": _cut(json.dumps({**event, "raw": raw}, indent=1, ensure_ascii=False,
                                      default=str)),
        }


def frame(kind: str, data: dict[str, Any]) -> str:
    # json.dumps never writes a raw newline, so one data line holds the whole value.
    return f"event: {kind}\ndata: {json.dumps(data, ensure_ascii=False, default=str)}\n\n"


def _iso(epoch: float) -> str:
    return datetime.fromtimestamp(epoch, UTC).isoformat(timespec="seconds")


def _short(value: Any) -> str:
    text = value if isinstance(value, str) else json.dumps(value, default=str)
    return text if len(text) <= 80 else text[:79] + "…"


def _cut(text: str) -> str:
    return text if len(text) <= MAX_DETAIL else text[:MAX_DETAIL] + "\n…"
