"""Failures the fuzzer found in code outside the fuzzing work's files, awaiting their fix.

Each entry names the failure (exception type and the innermost univoice frame it left, or
a predicate), the file to fix and how. While an entry is here the fuzz runs count its
failures as ``pending ...`` instead of failing, and ``test_pending.py`` replays its
reproducer as a strict xfail: once the fix lands that test passes unexpectedly and fails
the run, and the entry (and its xfail) must be deleted, so nothing stays excused after
it is fixed.
"""

from __future__ import annotations

from collections.abc import Callable
from dataclasses import dataclass

from .harness import where


@dataclass(frozen=True)
class Pending:
    key: str
    fix: str  # the file, and what to change
    matches: Callable[[str, BaseException], bool]  # (target, error)


def _at(kind: str, place: str) -> Callable[[str, BaseException], bool]:
    return lambda target, error: type(error).__name__ == kind and where(error) == place


def _surrogate(target: str, error: BaseException) -> bool:
    return target.endswith(".rest") and "surrogates not allowed" in str(error)


PENDING: tuple[Pending, ...] = ()  # all fixed: their reproducers are in test_pending.py


def pending_for(target: str, error: BaseException) -> Pending | None:
    return next((p for p in PENDING if p.matches(target, error)), None)
