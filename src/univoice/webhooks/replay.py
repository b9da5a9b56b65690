"""A bounded, thread-safe memory of what has been seen until it expires: how a provider's
signature check refuses a replayed request (a JWT's ``jti``, a signature) in one process.
Across processes the app's event store de-duplicates the events themselves."""

from __future__ import annotations

import heapq
import threading

REPLAY_MEMORY = 100_000  # keys remembered per process


class ReplayGuard:
    """Keys remembered until they expire, at most ``size`` of them; when full, the ones
    that expire soonest are forgotten first. Thread-safe."""

    def __init__(self, size: int = REPLAY_MEMORY) -> None:
        self.size = size
        self._until: dict[str, float] = {}
        self._queue: list[tuple[float, str]] = []  # heap of (until, key)
        self._lock = threading.Lock()

    def __len__(self) -> int:
        return len(self._until)

    def first_time(self, key: str, until: float, now: float) -> bool:
        """Remember ``key`` until ``until``; False if it is already remembered."""
        with self._lock:
            while self._queue and self._queue[0][0] < now:
                del self._until[heapq.heappop(self._queue)[1]]
            if key in self._until:
                return False
            while len(self._until) >= self.size:
                del self._until[heapq.heappop(self._queue)[1]]
            self._until[key] = until
            heapq.heappush(self._queue, (until, key))
            return True
