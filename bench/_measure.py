"""What the benchmarks here share: variants timed round-robin, medians with their spread,
ratios paired per round, and local servers in child processes (CPU time read from /proc).

Round-robin and pairing are for a shared, noisy machine: the variants of one round run
moments apart, so a burst of load slows both sides of that round's ratio alike.
"""

from __future__ import annotations

import gc
import importlib.util
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Callable, Iterable, Mapping, Sequence
from dataclasses import dataclass
from pathlib import Path
from typing import Any

# What uvicorn's "auto" would pick: httptools (C parser) and uvloop when installed.
SERVER_HTTP = "httptools" if importlib.util.find_spec("httptools") else "h11"
SERVER_LOOP = "uvloop" if importlib.util.find_spec("uvloop") else "asyncio"

Batch = Callable[[], object]  # one round's calls of a variant, timed as a whole
MakeBatch = Callable[[], Batch]  # made before the clock starts (fresh per-round state)


@dataclass(frozen=True)
class Spread:
    """The median of some rounds' figures, with the lowest and the highest."""

    median: float
    low: float
    high: float

    @classmethod
    def of(cls, values: Iterable[float]) -> Spread:
        got = list(values)
        return cls(statistics.median(got), min(got), max(got))

    def as_dict(self) -> dict[str, float]:
        return {"median": self.median, "low": self.low, "high": self.high}


def paired(mine: Sequence[float], other: Sequence[float]) -> Spread:
    """Each round's ratio ``mine / other``: both measured in that round."""
    return Spread.of(a / b for a, b in zip(mine, other, strict=True))


def over(fn: Callable[[str], object], args: Sequence[str]) -> MakeBatch:
    """A variant calling ``fn`` once for each of ``args`` per round."""
    def batch() -> None:
        for arg in args:
            fn(arg)
    return lambda: batch


def repeat(fn: Callable[[], object], calls: int) -> MakeBatch:
    """A variant calling ``fn`` ``calls`` times per round."""
    def batch() -> None:
        for _ in range(calls):
            fn()
    return lambda: batch


def round_robin(variants: Mapping[str, MakeBatch], calls: int, rounds: int
                ) -> dict[str, list[float]]:
    """µs per call of each variant in each round; one warm-up round first (caches, lazy
    imports). The collector is off while a batch runs: a collection would land on
    whichever variant runs then."""
    samples: dict[str, list[float]] = {name: [] for name in variants}
    for make in variants.values():
        make()()
    for _ in range(rounds):
        for name, make in variants.items():
            batch = make()
            gc.collect()
            gc.disable()
            try:
                start = time.perf_counter()
                batch()
                samples[name].append((time.perf_counter() - start) / calls * 1e6)
            finally:
                gc.enable()
    return samples


# Child processes --------------------------------------------------------------------------


def cpu_seconds(pid: int) -> float | None:
    """User + system CPU seconds of process ``pid`` so far (None when not on Linux)."""
    try:
        fields = Path(f"/proc/{pid}/stat").read_text().rsplit(")", 1)[1].split()
    except OSError:
        return None
    return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")


def stop(proc: subprocess.Popen[bytes]) -> None:
    proc.terminate()
    try:
        proc.wait(timeout=5)
    except subprocess.TimeoutExpired:
        proc.kill()
        proc.wait()


class ChildServer:
    """``python script --serve FD URL *args``: a server in a child process, on a socket
    bound here (no port race)."""

    def __init__(self, script: Path, *args: str) -> None:
        listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.url = f"http://127.0.0.1:{listener.getsockname()[1]}"
        self.proc = subprocess.Popen(
            [sys.executable, str(script), "--serve", str(listener.fileno()), self.url, *args],
            pass_fds=[listener.fileno()])
        listener.close()

    def ready(self, path: str, seconds: float = 20) -> ChildServer:
        """Wait until ``path`` answers (any status under 400)."""
        deadline = time.monotonic() + seconds
        while True:
            try:
                with urllib.request.urlopen(self.url + path, timeout=1):
                    return self
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError(f"the bench server {self.url} did not start") from None
                time.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        return cpu_seconds(self.proc.pid)

    def stop(self) -> None:
        stop(self.proc)


def cli(main: Callable[..., dict[str, Any]], report: Callable[[dict[str, Any]], None],
        **options: Any) -> None:
    """A benchmark script's command line: ``--quick`` (a smoke run), ``--json`` (the
    results, else the report)."""
    results = main(quick="--quick" in sys.argv, **options)
    if "--json" in sys.argv:
        print(json.dumps(results, indent=2, ensure_ascii=False))
    else:
        report(results)
