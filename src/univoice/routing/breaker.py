"""A circuit breaker per provider, its state in the FlowStore so every process agrees.

closed     calls go through; ``failures`` consecutive failures open it.
open       calls skip the provider until ``cooldown`` seconds have passed; then the next
           call is let through as the one trial (half-open).
half_open  one trial at a time (held for ``trial_timeout`` seconds, so a trial whose
           process died frees it); its success closes the breaker, its failure opens it
           again for another cool-down.

The transitions are pure functions of the stored state and the time; ``Breakers`` applies
them with ``FlowStore.update_state`` (atomic across threads and processes) and writes only
on a change: a healthy provider costs one read per call.
"""

from __future__ import annotations

import time
from collections.abc import Callable
from dataclasses import dataclass
from typing import Any, Literal

from univoice.routing.config import BreakerConfig
from univoice.store import FlowStore

State = Literal["closed", "open", "half_open"]
KEY = "univoice:breaker:{}"


@dataclass(frozen=True, slots=True)
class Verdict:
    allowed: bool
    state: State
    why: str  # one line for the route's record and `univoice route`


def _state(record: dict[str, Any]) -> State:
    state = record.get("state")
    return state if state in ("open", "half_open") else "closed"


def admit(record: dict[str, Any], now: float, config: BreakerConfig
          ) -> tuple[Verdict, dict[str, Any] | None]:
    """Whether a call may go to the provider now, and the record to write (None: none)."""
    state = _state(record)
    if state == "closed":
        return Verdict(True, "closed", "healthy"), None
    if state == "open":
        reopens = float(record.get("opened_at", 0.0)) + config.cooldown
        if now < reopens:
            return Verdict(False, "open", f"circuit open for {reopens - now:.0f} s more "
                           f"({record.get('failures', 0)} failures, last: "
                           f"{record.get('last_error') or '?'})"), None
    elif now < float(record.get("trial_until", 0.0)):
        return Verdict(False, "half_open", "circuit half-open: a trial call is under way"), None
    trial = {**record, "state": "half_open", "trial_until": now + config.trial_timeout}
    return Verdict(True, "half_open", "circuit half-open: this call is the trial"), trial


def succeeded(record: dict[str, Any]) -> dict[str, Any] | None:
    """The record after a call the provider placed (None: unchanged)."""
    if _state(record) == "closed" and not record.get("failures"):
        return None
    return {"state": "closed", "failures": 0}


def failed(record: dict[str, Any], now: float, config: BreakerConfig, error: str
           ) -> dict[str, Any]:
    """The record after a failure that counts against the provider's health."""
    failures = int(record.get("failures", 0)) + 1
    state = _state(record)
    out: dict[str, Any] = {**record, "failures": failures, "last_error": error[:200]}
    if state == "half_open" or (state == "closed" and failures >= config.failures):
        out.update(state="open", opened_at=now)
        out.pop("trial_until", None)
    return out


class Breakers:
    """The breakers of a set of providers, kept in ``store`` under ``univoice:breaker:*``."""

    def __init__(self, store: FlowStore, config: BreakerConfig, *,
                 clock: Callable[[], float] = time.time) -> None:
        self.store = store
        self.config = config
        self.clock = clock

    def record(self, provider: str) -> dict[str, Any]:
        return self.store.get_state(KEY.format(provider)) or {}

    def peek(self, provider: str) -> Verdict:
        """What ``admit`` would say, without taking a half-open trial."""
        return admit(self.record(provider), self.clock(), self.config)[0]

    def admit(self, provider: str) -> Verdict:
        """Whether a call may go to ``provider`` now; a half-open trial is taken here."""
        verdict, change = admit(self.record(provider), self.clock(), self.config)
        if change is None:
            return verdict
        outcome: list[Verdict] = []

        def take(current: dict[str, Any]) -> dict[str, Any]:
            # Decided again on the latest record: two processes race for one trial.
            seen, new = admit(current, self.clock(), self.config)
            outcome[:] = [seen]
            return new if new is not None else current

        self.store.update_state(KEY.format(provider), take)
        return outcome[-1]

    def success(self, provider: str) -> None:
        if succeeded(self.record(provider)) is None:
            return
        self.store.update_state(KEY.format(provider),
                                lambda current: succeeded(current) or current)

    def failure(self, provider: str, error: str) -> None:
        now = self.clock()
        self.store.update_state(KEY.format(provider),
                                lambda current: failed(current, now, self.config, error))

    def states(self, providers: list[str]) -> dict[str, dict[str, Any]]:
        """Each provider's breaker for ``/univoice/health`` and ``providers --health``."""
        out: dict[str, dict[str, Any]] = {}
        now = self.clock()
        for name in providers:
            record = self.record(name)
            verdict = admit(record, now, self.config)[0]
            entry: dict[str, Any] = {"state": _state(record), "accepting": verdict.allowed,
                                     "failures": int(record.get("failures", 0)),
                                     "detail": verdict.why}
            if record.get("last_error"):
                entry["last_error"] = record["last_error"]
            if _state(record) == "open":
                entry["retry_in"] = round(max(0.0, float(record.get("opened_at", 0.0))
                                              + self.config.cooldown - now), 1)
            out[name] = entry
        return out
