"""The providers' side of the wire: deliver callbacks over real HTTP, redeliver what got no 2xx.

``Sender(targets).run(deliveries)`` POSTs every callback with ``in_flight`` requests at a
time through one ``aiohttp`` session (keep-alive connections; httpx costs some 0.9 ms of
CPU a request here against aiohttp's 0.2, and the sender shares two cores with the apps
it measures), as a provider behind a load balancer would: the
first attempt of delivery ``i`` goes to target ``i % len(targets)``, each redelivery to the
next target. Every attempt is authenticated afresh (Bandwidth: the callback credentials;
MessageBird: a new JWT, new ``jti``). An answer that is not 2xx, a connection error or a
timeout is redelivered after a backoff (exponential with seeded jitter, capped), at most
``max_attempts`` times in all; redeliveries go ahead of callbacks not yet sent, but wait
for their backoff, so the stream goes on meanwhile. ``on_progress(acknowledged)`` runs in
the event loop after each acknowledgement (to kill a process or stop the store
mid-stream).
"""

from __future__ import annotations

import asyncio
import base64
import json
import random
import time
from collections import Counter
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field

import aiohttp

from univoice_messagebird.events import sign

from .app_factory import BANDWIDTH_PASSWORD, BANDWIDTH_USER, MESSAGEBIRD_KEY, PUBLIC_URL
from .traffic import Callback

BASIC = "Basic " + base64.b64encode(f"{BANDWIDTH_USER}:{BANDWIDTH_PASSWORD}".encode()).decode()


@dataclass
class Report:
    deliveries: int = 0
    acknowledged: int = 0
    attempts: int = 0
    statuses: Counter[int] = field(default_factory=Counter)  # per attempt answered
    errors: Counter[str] = field(default_factory=Counter)  # per attempt unanswered
    retry_after: Counter[str] = field(default_factory=Counter)  # on 503 answers
    given_up: list[int] = field(default_factory=list)  # deliveries never acknowledged
    handled_in_answers: int = 0  # sums of the app's counts (informational)
    duplicates_in_answers: int = 0
    seconds: float = 0.0

    @property
    def redeliveries(self) -> int:
        return self.attempts - self.deliveries

    @property
    def per_second(self) -> float:
        return self.acknowledged / self.seconds if self.seconds else 0.0

    def summary(self) -> str:
        return (f"{self.deliveries} deliveries, {self.acknowledged} acknowledged, "
                f"{self.attempts} attempts ({self.redeliveries} redeliveries), answers "
                f"{dict(sorted(self.statuses.items()))}, errors {dict(self.errors)}, "
                f"{len(self.given_up)} given up, {self.seconds:.1f} s, "
                f"{self.per_second:.0f} callbacks/s")


class Sender:
    def __init__(self, targets: Sequence[str], *, in_flight: int = 32, max_attempts: int = 40,
                 backoff: float = 0.05, max_backoff: float = 1.0, timeout: float = 30.0,
                 seed: int = 7,
                 on_progress: Callable[[int], None] | None = None) -> None:
        self.targets = list(targets)
        self.in_flight = in_flight
        self.max_attempts = max_attempts
        self.backoff = backoff
        self.max_backoff = max_backoff
        self.timeout = timeout
        self.rng = random.Random(seed)
        self.on_progress = on_progress

    def run(self, deliveries: Sequence[Callback]) -> Report:
        return asyncio.run(self.arun(deliveries))

    async def arun(self, deliveries: Sequence[Callback]) -> Report:
        report = Report(deliveries=len(deliveries))
        # (0, seq): a redelivery whose backoff is over; (1, index): the stream, in order.
        queue: asyncio.PriorityQueue[tuple[int, int, int, int]] = asyncio.PriorityQueue()
        for index in range(len(deliveries)):
            queue.put_nowait((1, index, index, 0))
        settled = 0
        done = asyncio.Event()
        loop = asyncio.get_running_loop()
        sequence = 0
        started = time.monotonic()

        def settle() -> None:
            nonlocal settled
            settled += 1
            if settled == len(deliveries):
                done.set()

        async def worker(client: aiohttp.ClientSession) -> None:
            nonlocal sequence
            while True:
                _, _, index, attempt = await queue.get()
                callback = deliveries[index]
                target = self.targets[(index + attempt) % len(self.targets)]
                report.attempts += 1
                if await self._post(client, target, callback, report):
                    report.acknowledged += 1
                    settle()
                    if self.on_progress is not None:
                        self.on_progress(report.acknowledged)
                    continue
                if attempt + 1 >= self.max_attempts:
                    report.given_up.append(index)
                    settle()
                    continue
                delay = min(self.max_backoff, self.backoff * 2 ** attempt)
                delay *= self.rng.uniform(0.5, 1.0)
                sequence += 1
                loop.call_later(delay, queue.put_nowait, (0, sequence, index, attempt + 1))

        timeout = aiohttp.ClientTimeout(total=self.timeout)
        connector = aiohttp.TCPConnector(limit=self.in_flight * len(self.targets))
        async with aiohttp.ClientSession(connector=connector, timeout=timeout) as client:
            workers = [asyncio.create_task(worker(client)) for _ in range(self.in_flight)]
            try:
                if deliveries:
                    await done.wait()
            finally:
                for task in workers:
                    task.cancel()
                await asyncio.gather(*workers, return_exceptions=True)
        report.seconds = time.monotonic() - started
        return report

    async def _post(self, client: aiohttp.ClientSession, target: str, callback: Callback,
                    report: Report) -> bool:
        headers = {"content-type": "application/json"}
        if callback.provider == "bandwidth":
            headers["authorization"] = BASIC
        else:  # signed for the public URL the provider was given, not this process's
            headers.update(sign(MESSAGEBIRD_KEY, PUBLIC_URL + callback.path, callback.body))
        try:
            async with client.post(target + callback.path, data=callback.body,
                                   headers=headers) as answer:
                status = answer.status
                retry_after = answer.headers.get("retry-after", "")
                kind = answer.headers.get("content-type", "")
                text = await answer.read()
        except (aiohttp.ClientError, TimeoutError) as exc:  # refused, reset, timed out
            report.errors[type(exc).__name__] += 1
            return False
        report.statuses[status] += 1
        if status == 503:
            report.retry_after[retry_after] += 1
        if not 200 <= status < 300:
            return False
        if kind.startswith("application/json"):
            counts = json.loads(text)
            report.handled_in_answers += counts.get("handled", 0)
            report.duplicates_in_answers += counts.get("duplicates", 0)
        return True
