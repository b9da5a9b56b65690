"""Circuit breakers: every transition on a fake clock, and one state shared by processes.

Two ``Breakers`` on one store are two processes as far as the breaker can tell (its only
state is the store's); the SQLite and Redis variants run the same checks, and a real
second process (spawned) takes part in the half-open race.
"""

from __future__ import annotations

import multiprocessing
from collections.abc import Iterator
from pathlib import Path

import pytest

from univoice.routing.breaker import Breakers
from univoice.routing.config import BreakerConfig
from univoice.store import FlowStore, open_store

CONFIG = BreakerConfig(failures=3, cooldown=30, trial_timeout=10)


class Clock:
    def __init__(self) -> None:
        self.now = 1_000.0

    def __call__(self) -> float:
        return self.now


@pytest.fixture(params=["sqlite", "redis"])
def store(request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[FlowStore]:
    if request.param == "sqlite":
        url = f"sqlite:///{tmp_path / 'breakers.db'}"
    else:
        url = request.getfixturevalue("redis_server").url()
    with open_store(url) as opened:
        yield opened


def fail(b: Breakers, times: int) -> None:
    for _ in range(times):
        b.failure("bandwidth", "ServerError: HTTP 503")


def test_it_opens_after_consecutive_failures_and_a_success_resets_the_count(
        store: FlowStore) -> None:
    clock = Clock()
    b = Breakers(store, CONFIG, clock=clock)
    fail(b, 2)
    b.success("bandwidth")  # not consecutive any more
    fail(b, 2)
    assert b.admit("bandwidth").allowed
    fail(b, 1)
    verdict = b.admit("bandwidth")
    assert not verdict.allowed and verdict.state == "open"
    assert "3 failures" in verdict.why and "HTTP 503" in verdict.why
    assert b.states(["bandwidth"])["bandwidth"]["retry_in"] == 30.0


def test_open_skips_until_the_cooldown_then_lets_exactly_one_trial_through(
        store: FlowStore) -> None:
    clock = Clock()
    one, other = Breakers(store, CONFIG, clock=clock), Breakers(store, CONFIG, clock=clock)
    fail(one, 3)
    clock.now += 29.9
    assert not other.admit("bandwidth").allowed  # the other process agrees: still open
    clock.now += 0.2
    assert other.peek("bandwidth").allowed  # a peek takes nothing
    trial = one.admit("bandwidth")
    assert trial.allowed and trial.state == "half_open"
    second = other.admit("bandwidth")
    assert not second.allowed and "trial call is under way" in second.why


def test_a_trial_that_succeeds_closes_and_one_that_fails_reopens(store: FlowStore) -> None:
    clock = Clock()
    b = Breakers(store, CONFIG, clock=clock)
    fail(b, 3)
    clock.now += 31
    assert b.admit("bandwidth").allowed
    b.failure("bandwidth", "ConnectFailed")  # the trial failed: open for another cool-down
    assert not b.admit("bandwidth").allowed
    clock.now += 29
    assert not b.admit("bandwidth").allowed
    clock.now += 2
    assert b.admit("bandwidth").allowed
    b.success("bandwidth")
    state = b.states(["bandwidth"])["bandwidth"]
    assert state["state"] == "closed" and state["failures"] == 0
    fail(b, 2)
    assert b.admit("bandwidth").allowed  # closed again: counting from zero


def test_a_trial_whose_process_died_frees_the_half_open_slot(store: FlowStore) -> None:
    clock = Clock()
    b = Breakers(store, CONFIG, clock=clock)
    fail(b, 3)
    clock.now += 31
    assert b.admit("bandwidth").allowed  # taken, never reported
    clock.now += 9
    assert not b.admit("bandwidth").allowed
    clock.now += 2  # the trial's hold (10 s) ran out
    assert b.admit("bandwidth").allowed


def test_providers_have_their_own_breakers(store: FlowStore) -> None:
    b = Breakers(store, CONFIG, clock=Clock())
    fail(b, 3)
    assert not b.admit("bandwidth").allowed
    assert b.admit("bird").allowed
    states = b.states(["bandwidth", "bird"])
    assert states["bandwidth"]["accepting"] is False and states["bird"]["accepting"] is True


def test_a_healthy_provider_costs_no_write(store: FlowStore) -> None:
    b = Breakers(store, CONFIG, clock=Clock())
    for _ in range(5):
        assert b.admit("bird").allowed
        b.success("bird")
    assert store.get_state("univoice:breaker:bird") is None


def _race(url: str, now: float, queue: multiprocessing.Queue) -> None:  # type: ignore[type-arg]
    with open_store(url) as store:
        b = Breakers(store, CONFIG, clock=lambda: now)
        queue.put([b.admit("bandwidth").allowed for _ in range(20)])


def test_processes_race_for_the_one_trial(tmp_path: Path) -> None:
    url = f"sqlite:///{tmp_path / 'race.db'}"
    with open_store(url) as store:
        fail(Breakers(store, CONFIG, clock=lambda: 1_000.0), 3)
    ctx = multiprocessing.get_context("spawn")
    queue = ctx.Queue()
    procs = [ctx.Process(target=_race, args=(url, 1_031.0, queue)) for _ in range(3)]
    for p in procs:
        p.start()
    allowed = [x for _ in procs for x in queue.get(timeout=60)]
    for p in procs:
        p.join(timeout=60)
    assert sum(allowed) == 1  # 60 asks across 3 processes: one trial
