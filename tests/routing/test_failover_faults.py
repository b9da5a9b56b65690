"""Failover under faults: a provider outage mid-run moves new calls to the next provider,
and no intended call is ever placed twice, on one provider or across them.

Three provider fault servers (tests/support/provider_fault_server.py) fail at random on
seeded schedules; ``COUNT`` intended calls go through one routed client (order bandwidth,
messagebird, bird), one after another with ``RoutedVoice`` and 50 in flight with
``AsyncRoutedVoice``. From intent 30% to 60% Bandwidth is down: every create is refused or
dropped (503, 500, HTML 502, resets, closes) and half its lookups fail, so some failures
are provably harmless (failed over) and some ambiguous (must not fail over). The breakers
run on a fake clock, one second per intent: Bandwidth's opens, its trials fail during
the outage, and one succeeds after it. Every intent is then held to the rule across all
three servers (see ``judge``).

Long variant: ``UNIVOICE_LONG=1`` places 10,000 calls per client instead of 1,000.
"""

from __future__ import annotations

import asyncio
import os
import threading
from collections import Counter
from collections.abc import Iterator
from contextlib import ExitStack, contextmanager
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import pytest

import univoice
from tests.reliability.harness import Sleeps, http, leaks, number, serve
from tests.support.provider_fault_server import FaultSchedule, ProviderFaultServer
from univoice.errors import AmbiguousCreate, UnivoiceError
from univoice.events import BaseEvent, CallRouted, RouteAttemptFailed
from univoice.flow import Flow
from univoice.models import Call
from univoice.routing.client import AsyncRoutedVoice, RoutedVoice
from univoice.routing.config import RoutingConfig

LONG = os.environ.get("UNIVOICE_LONG", "") not in ("", "0", "false")
COUNT = 10_000 if LONG else 1_000
SEED = int(os.environ.get("UNIVOICE_SEED", "20240609"))
ORDER = ["bandwidth", "messagebird", "bird"]
OUTAGE = (int(COUNT * 0.3), int(COUNT * 0.6))
FLOW = Flow.builder().say("Your appointment is tomorrow at nine.").hangup().build()
CALLER_ID = {"bandwidth": "+19195550100", "messagebird": "+31201234567",
             "bird": "+3197058016631"}
CALLBACK = {"callback_username": "univoice", "callback_password": "cb-secret-2f9a"}

CREATE_FAULTS = {"reset": 2, "drop": 1, "status:429": 2, "status:503:1": 1, "status:500": 1,
                 "html:502": 1, "reset_after": 2, "drop_after": 1, "status_after:500": 1,
                 "html_after:504": 1, "truncated": 1, "non_json": 1, "missing_fields": 1,
                 "short": 1, "slow:0.001": 1}
LOOKUP_FAULTS = {"reset": 1, "status:500": 1, "status:503:1": 1, "html:502": 1,
                 "non_json": 1, "short": 1}
DOWN_CREATES = {"status:503": 3, "status:500": 2, "html:502": 2, "reset": 2, "drop": 1}
DOWN_LOOKUPS = {"status:503": 1, "reset": 1, "html:502": 1}
ROUTING = RoutingConfig.model_validate({
    "providers": ORDER, "caller_id": CALLER_ID,
    "breaker": {"failures": 5, "cooldown": 30, "trial_timeout": 60}})


def normal(seed: int) -> FaultSchedule:
    return FaultSchedule(seed, rates={"create": 0.15, "lookup": 0.1},
                         mix={"create": CREATE_FAULTS, "lookup": LOOKUP_FAULTS})


def down(seed: int) -> FaultSchedule:
    return FaultSchedule(seed, rates={"create": 1.0, "lookup": 0.5},
                         mix={"create": DOWN_CREATES, "lookup": DOWN_LOOKUPS})


class Clock:
    """The breakers' time: one second per intent begun."""

    def __init__(self) -> None:
        self.now = 1_000_000.0
        self._lock = threading.Lock()

    def __call__(self) -> float:
        return self.now

    def tick(self) -> None:
        with self._lock:
            self.now += 1.0


@dataclass
class Run:
    servers: dict[str, ProviderFaultServer]
    clock: Clock
    seed: int
    events: list[BaseEvent] = field(default_factory=list)

    def phase(self, i: int) -> None:
        """Intent ``i`` begins: the clock moves on; the outage starts or ends."""
        self.clock.tick()
        if i == OUTAGE[0]:
            self.servers["bandwidth"].app.schedule = down(self.seed + 100)
        elif i == OUTAGE[1]:
            self.servers["bandwidth"].app.schedule = normal(self.seed + 200)


@contextmanager
def servers(seed: int) -> Iterator[dict[str, ProviderFaultServer]]:
    with ExitStack() as stack:
        yield {name: stack.enter_context(serve(name, normal(seed + k), echo_auth=True))
               for k, name in enumerate(ORDER)}


def member_options(server: ProviderFaultServer, store: str) -> dict[str, Any]:
    extra = CALLBACK if server.provider == "bandwidth" else {}
    return {"public_url": "https://voice.example", "flow_store": store,
            **server.settings, **extra}


def routed(run: Run, store: str, sleeps: Sleeps) -> RoutedVoice:
    members = {}
    for name, server in run.servers.items():
        voice = univoice.Voice(name, http=http(0.3), **member_options(server, store))
        voice.provider.clock = server.clock.now  # type: ignore[attr-defined]
        voice._transport._sleep = sleeps.sync
        members[name] = voice
    return RoutedVoice(members, ROUTING, store=store, on_event=run.events.append,
                       clock=run.clock)


def async_routed(run: Run, store: str, sleeps: Sleeps) -> AsyncRoutedVoice:
    members = {}
    for name, server in run.servers.items():
        voice = univoice.AsyncVoice(name, http=http(1.0), **member_options(server, store))
        voice.provider.clock = server.clock.now  # type: ignore[attr-defined]
        voice._transport._sleep = sleeps.asynchronous
        members[name] = voice
    return AsyncRoutedVoice(members, ROUTING, store=store, on_event=run.events.append,
                            clock=run.clock)


Outcome = Call | BaseException


def tag(seed: int, i: int) -> str:
    return f"routed-{seed}-{i}"


def place_all(voice: RoutedVoice, run: Run) -> list[Outcome]:
    outcomes: list[Outcome] = []
    for i in range(COUNT):
        run.phase(i)
        try:
            outcomes.append(voice.calls.create(number(i), flow=FLOW, tag=tag(run.seed, i)))
        except Exception as exc:  # judged: typed, or the test fails
            outcomes.append(exc)
    return outcomes


async def place_all_async(voice: AsyncRoutedVoice, run: Run, concurrency: int
                          ) -> list[Outcome]:
    outcomes: list[Outcome | None] = [None] * COUNT
    todo = iter(range(COUNT))

    async def worker() -> None:
        for i in todo:
            run.phase(i)
            try:
                outcomes[i] = await voice.calls.create(number(i), flow=FLOW,
                                                       tag=tag(run.seed, i))
            except Exception as exc:
                outcomes[i] = exc

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    return [o for o in outcomes if o is not None]


@dataclass
class Tally:
    placed_on: Counter[str] = field(default_factory=Counter)
    placed_after_outage: Counter[str] = field(default_factory=Counter)
    failed_over: int = 0
    skipped_open: int = 0
    failures: Counter[str] = field(default_factory=Counter)


def judge(run: Run, outcomes: list[Outcome]) -> Tally:
    """Every intent: at most one call across all servers; a returned Call is that call,
    on the provider its route names, after attempts that placed nothing; an
    ``AmbiguousCreate`` is the only failure behind which a call may exist; no secret in
    any error; every outcome typed."""
    secrets = [s for server in run.servers.values() for s in server.app.secrets()]
    secrets.append(CALLBACK["callback_password"])
    tally, problems = Tally(), []
    for i, outcome in enumerate(outcomes):
        key = number(i)
        placed = {name: server.app.placed(key) for name, server in run.servers.items()}
        where = {name: ids for name, ids in placed.items() if ids}
        total = sum(len(ids) for ids in placed.values())
        if total > 1:
            problems.append(f"intent {i}: {total} calls placed: {where}")
        if isinstance(outcome, Call):
            route = outcome.route
            tally.placed_on[outcome.provider] += 1
            if i >= OUTAGE[1]:
                tally.placed_after_outage[outcome.provider] += 1
            if placed[outcome.provider] != [outcome.id] or route is None \
                    or route.chosen != outcome.provider:
                problems.append(f"intent {i}: returned {outcome.provider} {outcome.id}, "
                                f"placed {where}, route {route}")
                continue
            if [a.provider for a in route.attempts if a.outcome == "placed"] != \
                    [outcome.provider]:
                problems.append(f"intent {i}: route {route.attempts}")
        elif isinstance(outcome, UnivoiceError):
            tally.failures[type(outcome).__name__] += 1
            if leaks(outcome, secrets):
                problems.append(f"intent {i}: a secret shows in {type(outcome).__name__}")
            if outcome.route is None:
                problems.append(f"intent {i}: {type(outcome).__name__} without its route")
            if not isinstance(outcome, AmbiguousCreate) and total:
                problems.append(f"intent {i}: {type(outcome).__name__} ({outcome}), but "
                                f"placed {where}")
        else:
            problems.append(f"intent {i}: untyped {type(outcome).__name__}: {outcome!r}")
        attempts = outcome.route.attempts if getattr(outcome, "route", None) else []
        for attempt in attempts:
            tally.failed_over += attempt.outcome == "failed_over"
            tally.skipped_open += (attempt.reason or "").startswith("circuit")
    assert not problems, f"{len(problems)} broken intents:\n" + "\n".join(problems[:20])
    return tally


def proven(run: Run, tally: Tally, client: str) -> None:
    """What the run must show besides the rule: the outage moved calls, the breaker
    opened and closed again, and the events tell the same story."""
    print(f"\n{client}: placed on {dict(tally.placed_on)} (after the outage: "
          f"{dict(tally.placed_after_outage)}), {tally.failed_over} attempts failed over, "
          f"{tally.skipped_open} skipped by an open circuit, failures "
          f"{dict(tally.failures)}")
    assert tally.failed_over > 0 and tally.skipped_open > 0
    assert sum(tally.placed_on.values()) > COUNT * 0.9
    outage_span = OUTAGE[1] - OUTAGE[0]
    assert tally.placed_on["messagebird"] > outage_span * 0.8  # took Bandwidth's traffic
    assert tally.placed_after_outage["bandwidth"] > (COUNT - OUTAGE[1]) * 0.7  # and back
    routed = [e for e in run.events if isinstance(e, CallRouted)]
    assert len(routed) == sum(tally.placed_on.values())
    failed = [e for e in run.events if isinstance(e, RouteAttemptFailed)]
    assert sum(e.failed_over for e in failed) == tally.failed_over


def test_sync_routed_creates_fail_over_with_no_duplicates(tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'routing.db'}"
    with servers(SEED) as running:
        run = Run(running, Clock(), SEED)
        with routed(run, store, Sleeps()) as voice:
            outcomes = place_all(voice, run)
            health = voice.health()
        tally = judge(run, outcomes)
    proven(run, tally, "RoutedVoice")
    assert health["bandwidth"]["state"] == "closed"


@pytest.mark.anyio
async def test_async_routed_creates_50_in_flight_fail_over_with_no_duplicates(
        tmp_path: Path) -> None:
    store = f"sqlite:///{tmp_path / 'routing.db'}"
    with servers(SEED + 1) as running:
        run = Run(running, Clock(), SEED + 1)
        async with async_routed(run, store, Sleeps()) as voice:
            outcomes = await place_all_async(voice, run, 50)
        tally = judge(run, outcomes)
    proven(run, tally, "AsyncRoutedVoice x50")


def test_the_judge_catches_a_router_that_fails_over_after_an_ambiguous_create(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule has teeth: a router that fails over whatever the first provider may have
    done places calls twice, and ``judge`` says so."""
    from univoice.routing import route

    monkeypatch.setattr(route, "failover_reason", lambda error, allowed: "server_error")
    store = f"sqlite:///{tmp_path / 'routing.db'}"
    with servers(SEED) as running:
        run = Run(running, Clock(), SEED)
        running["bandwidth"].app.schedule = FaultSchedule(
            SEED, rates={"create": 1.0}, mix={"create": {"reset_after": 1}})
        running["bandwidth"].app.inject("lookup *", *["status:500"] * 50)
        with routed(run, store, Sleeps()) as voice:
            outcomes = []
            for i in range(5):
                try:
                    outcomes.append(voice.calls.create(number(i), flow=FLOW))
                except UnivoiceError as exc:
                    outcomes.append(exc)
        with pytest.raises(AssertionError, match="calls placed"):
            judge(run, outcomes)
