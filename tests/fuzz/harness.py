"""Run a target over a mutator's inputs: count outcomes, catch what must not escape, shrink it.

A target is a function of one input (bytes). It may return anything (a string is counted
as the outcome's label: "HTTP 401", "invalid-bxml") and may raise a
subclass of ``univoice.errors.UnivoiceError`` (the documented typed errors); any other
exception is a failure, and so is an input that runs longer than ``HANG_SECONDS`` (a
watchdog interrupts it). A failure is shrunk (chunks of the input deleted while the same
exception, from the same place, still comes out) and reported with its seed and index, so
``python -m tests.fuzz TARGET --seed S --index I`` replays it.
"""

from __future__ import annotations

import os
import signal
import time
import traceback
from collections import Counter
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from types import FrameType, TracebackType

from univoice.errors import UnivoiceError

from .mutate import Mutator

Target = Callable[[bytes], object]
HANG_SECONDS = float(os.environ.get("UNIVOICE_FUZZ_HANG", "10"))
MAX_FAILURES = 5  # distinct failures kept per run; the run stops after this many
SHRINK_BUDGET = 3000  # target calls spent shrinking one failure


class Hang(BaseException):
    """An input ran past ``HANG_SECONDS`` (raised into it by the watchdog)."""


@dataclass
class Failure:
    index: int
    data: bytes
    error: BaseException
    where: str  # innermost univoice frame: file:function:line
    minimal: bytes = b""

    @property
    def kind(self) -> str:
        return f"{type(self.error).__name__} at {self.where}"

    def describe(self, target: str, seed: int) -> str:
        shown = self.minimal or self.data
        text = repr(shown if len(shown) <= 3000 else shown[:3000] + b"...")
        tail = "".join(traceback.format_exception(self.error)[-6:])
        return (f"{target}: input #{self.index} (seed {seed}) raised {self.kind}: "
                f"{str(self.error)[:300]}\n"
                f"  replay: python -m tests.fuzz {target} --seed {seed} --index {self.index}\n"
                f"  minimal input ({len(shown)} of {len(self.data)} bytes): {text}\n{tail}")


@dataclass
class Report:
    target: str
    seed: int
    inputs: int = 0
    seconds: float = 0.0
    cpu: float = 0.0  # CPU seconds (what the run costs on a machine that is not busy)
    outcomes: Counter[str] = field(default_factory=Counter)  # "ok" or the error's type
    failures: list[Failure] = field(default_factory=list)
    slowest: tuple[float, int] = (0.0, -1)  # seconds, index

    def summary(self) -> str:
        rate = self.inputs / self.seconds if self.seconds else 0.0
        kinds = ", ".join(f"{k} {v}" for k, v in self.outcomes.most_common(8))
        return (f"{self.target}: {self.inputs} inputs in {self.seconds:.1f} s, "
                f"{self.cpu:.1f} s CPU ({rate:,.0f}/s, slowest {self.slowest[0] * 1000:.0f} ms "
                f"#{self.slowest[1]}); {kinds}")

    def failure_text(self) -> str:
        return "\n".join(f.describe(self.target, self.seed) for f in self.failures)


def where(error: BaseException) -> str:
    """The innermost frame of univoice's own code (src/ or providers/) the error passed."""
    found = "?"
    tb: TracebackType | None = error.__traceback__
    while tb is not None:
        path = tb.tb_frame.f_code.co_filename
        if ("/src/univoice/" in path or "/providers/univoice_" in path) and (
                "/tests/" not in path):
            found = (f"{path.rsplit('/', 2)[-2]}/{path.rsplit('/', 1)[-1]}:"
                     f"{tb.tb_frame.f_code.co_name}")
        tb = tb.tb_next
    return found


def outcome(target: Target, data: bytes) -> BaseException | None:
    """None if ``target`` accepted or refused ``data`` as documented, else the error."""
    try:
        target(data)
    except UnivoiceError:
        return None
    except (Exception, Hang) as exc:
        return exc
    return None


class _Watchdog:
    """Interrupts an input that runs past ``limit`` seconds (SIGALRM, main thread only)."""

    def __init__(self, limit: float) -> None:
        self.limit = limit
        self.started = time.monotonic()
        self.armed = False

    def _tick(self, signum: int, frame: FrameType | None) -> None:
        if self.armed and time.monotonic() - self.started > self.limit:
            self.armed = False
            raise Hang(f"ran more than {self.limit:g} s")

    @contextmanager
    def running(self) -> Iterator[None]:
        usable = hasattr(signal, "setitimer") and _main_thread()
        if not usable:
            yield
            return
        previous = signal.signal(signal.SIGALRM, self._tick)
        tick = min(0.5, self.limit / 4)
        signal.setitimer(signal.ITIMER_REAL, tick, tick)
        try:
            yield
        finally:
            signal.setitimer(signal.ITIMER_REAL, 0)
            signal.signal(signal.SIGALRM, previous)


def _main_thread() -> bool:
    import threading

    return threading.current_thread() is threading.main_thread()


def run(name: str, target: Target, mutator: Mutator, inputs: int, *, start: int = 0,
        excuse: Callable[[BaseException], str | None] | None = None,
        hang: float = HANG_SECONDS) -> Report:
    """Feed inputs ``start .. start + inputs - 1`` to ``target``. ``excuse`` names a
    failure that is known and awaits its fix elsewhere (``pending.py``): counted, not
    failed."""
    report = Report(name, mutator.seed)
    watchdog = _Watchdog(hang)
    seen: set[str] = set()
    began, cpu = time.perf_counter(), time.process_time()
    with watchdog.running():
        for index in range(start, start + inputs):
            data = mutator.input(index)
            watchdog.started = time.monotonic()
            watchdog.armed = True
            t0 = time.perf_counter()
            try:
                result = target(data)
                # A target may label its outcome ("HTTP 401", "invalid-bxml") for the counts.
                report.outcomes[result if isinstance(result, str) else "ok"] += 1
                error: BaseException | None = None
            except UnivoiceError as exc:
                report.outcomes[type(exc).__name__] += 1
                error = None
            except (Exception, Hang) as exc:
                error = exc
            finally:
                watchdog.armed = False
            spent = time.perf_counter() - t0
            if spent > report.slowest[0]:
                report.slowest = (spent, index)
            report.inputs += 1
            if error is None:
                continue
            known = excuse(error) if excuse is not None else None
            if known is not None:
                report.outcomes[f"pending {known}"] += 1
                continue
            failure = Failure(index, data, error, where(error))
            report.outcomes[f"FAILED {type(error).__name__}"] += 1
            if failure.kind in seen:
                continue
            seen.add(failure.kind)
            failure.minimal = data if isinstance(error, Hang) else shrink(
                target, data, failure.kind)
            report.failures.append(failure)
            if len(report.failures) >= MAX_FAILURES:
                break
    report.seconds = time.perf_counter() - began
    report.cpu = time.process_time() - cpu
    return report


def shrink(target: Target, data: bytes, kind: str, budget: int = SHRINK_BUDGET) -> bytes:
    """The shortest input found (deleting chunks, halving their size) that still fails the
    same way (same exception type from the same place)."""
    def same(candidate: bytes) -> bool:
        error = outcome(target, candidate)
        return error is not None and not isinstance(error, Hang) and (
            f"{type(error).__name__} at {where(error)}" == kind)

    chunk = max(1, len(data) // 2)
    while chunk >= 1 and budget > 0:
        index, progressed = 0, False
        while index < len(data) and budget > 0:
            candidate = data[:index] + data[index + chunk:]
            budget -= 1
            if candidate != data and same(candidate):
                data, progressed = candidate, True
            else:
                index += chunk
        if not progressed:
            chunk //= 2
    return data
