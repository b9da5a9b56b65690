"""Work done in spawned processes, sharing a store with the test process by its URL."""

from __future__ import annotations

import os
import threading
from concurrent.futures import ThreadPoolExecutor
from typing import Any

from univoice.store import open_store

_barrier: Any = None  # a multiprocessing Barrier(2), set by the pool initializer


def init(barrier: Any) -> None:
    global _barrier
    _barrier = barrier


def _together(threads: int, task: Any) -> list[Any]:
    """Run ``task(i)`` in ``threads`` threads released at once, after the other process."""
    _barrier.wait(timeout=20)
    gate = threading.Barrier(threads)

    def one(i: int) -> Any:
        gate.wait(timeout=20)
        return task(i)

    with ThreadPoolExecutor(threads) as pool:
        return list(pool.map(one, range(threads)))


def claim(url: str, key: str, threads: int) -> tuple[int, int]:
    """(pid, how many of ``threads`` concurrent claims of ``key`` won)."""
    store = open_store(url)
    try:
        wins = _together(threads, lambda i: store.claim_event(key, "test", {"n": i}))
    finally:
        store.close()
    return os.getpid(), sum(wins)


def increment(url: str, key: str, threads: int) -> int:
    """Increment ``counter`` in state ``key`` once from each of ``threads`` threads."""
    store = open_store(url)
    try:
        _together(threads, lambda i: store.update_state(
            key, lambda s: {**s, "counter": s.get("counter", 0) + 1}))
    finally:
        store.close()
    return os.getpid()
