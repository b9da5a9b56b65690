"""What the reliability tests share: clients of a provider fault server, intended calls,
and the check that every intended call was placed exactly once or failed visibly.

An *intent* is one call the test means to place: its own destination number (the key
the server counts placed calls by) and its own tag. ``check`` holds a run's outcomes to
the rule, intent by intent, and returns a ``Tally`` of what happened:

- a returned ``Call``: exactly one call on the server for the intent, and it is that call;
- ``AmbiguousCreate``: at least one create of the intent reached the server (the client
  could not know its effect), and at most one call was placed;
- any other univoice error: no call placed (what failed, failed);
- anything else (an httpx, aiohttp or Python exception): the test fails.

Two calls for one intent fail the test whatever the client returned.
"""

from __future__ import annotations

import asyncio
from collections import Counter
from collections.abc import Iterator
from contextlib import contextmanager
from dataclasses import dataclass, field
from typing import Any

import univoice
from tests.support.provider_fault_server import DOUBLES, FaultSchedule, ProviderFaultServer
from univoice.errors import AmbiguousCreate, UnivoiceError
from univoice.flow import Flow
from univoice.models import Call
from univoice.retry import RetryPolicy
from univoice.transport import Hooks, HttpSettings

PROVIDERS = ("bandwidth", "messagebird", "bird")
SOURCE = {"bandwidth": "+19195550100", "messagebird": "+31201234567",
          "bird": "+3197058016631"}
ANSWER_URL = "https://app.example/answer"
GREETING = Flow.builder().say("Hello from univoice.").hangup().build()


def number(i: int) -> str:
    """The i-th intent's destination: a valid Dutch mobile number (06-1 .. 06-5)."""
    return f"+316{1 + i // 10_000_000 % 5}{i % 10_000_000:07d}"


def tag(seed: int, i: int) -> str:
    return f"order-{seed}-{i}"


def create_options(provider: str) -> dict[str, Any]:
    """How the provider is given the call's flow: Bird only runs flows pushed to it."""
    return {"flow": GREETING} if provider == "bird" else {"answer_url": ANSWER_URL}


def http(timeout: float, *, attempts: int = 3, backend: str = "aiohttp") -> HttpSettings:
    return HttpSettings(timeout=timeout, connect_timeout=timeout, async_backend=backend,
                        retry=RetryPolicy(max_attempts=attempts, backoff=0.25, settle=2.0,
                                          max_retry_after=30.0))


@contextmanager
def serve(provider: str, schedule: FaultSchedule | None = None,
          **options: Any) -> Iterator[ProviderFaultServer]:
    with ProviderFaultServer(DOUBLES[provider](schedule=schedule, **options)) as server:
        yield server


@dataclass
class Sleeps:
    """The client's waits (backoff, Retry-After, settle), recorded instead of slept."""

    seen: list[float] = field(default_factory=list)

    def sync(self, seconds: float) -> None:
        self.seen.append(seconds)

    async def asynchronous(self, seconds: float) -> None:
        self.seen.append(seconds)
        await asyncio.sleep(0)


def voice(server: ProviderFaultServer, settings: HttpSettings,
          sleeps: Sleeps | None = None, hooks: Hooks | None = None) -> univoice.Voice:
    client = univoice.Voice(server.provider, http=settings, hooks=hooks, **server.settings)
    client.provider.clock = server.clock.now  # type: ignore[attr-defined]
    if sleeps is not None:  # Voice takes no sleep function; its transport does
        client._transport._sleep = sleeps.sync
    return client


def async_voice(server: ProviderFaultServer, settings: HttpSettings,
                sleeps: Sleeps | None = None, hooks: Hooks | None = None
                ) -> univoice.AsyncVoice:
    client = univoice.AsyncVoice(server.provider, http=settings, hooks=hooks,
                                 **server.settings)
    client.provider.clock = server.clock.now  # type: ignore[attr-defined]
    if sleeps is not None:
        client._transport._sleep = sleeps.asynchronous
    return client


Outcome = Call | BaseException


def place_all(v: univoice.Voice, provider: str, count: int, seed: int) -> list[Outcome]:
    """``count`` intended calls, one after another; each outcome as returned or raised."""
    options = create_options(provider)
    source = SOURCE[provider]
    outcomes: list[Outcome] = []
    for i in range(count):
        try:
            outcomes.append(v.calls.create(number(i), source, tag=tag(seed, i), **options))
        except Exception as exc:  # judged by check(): typed, or the test fails
            outcomes.append(exc)
    return outcomes


async def place_all_async(v: univoice.AsyncVoice, provider: str, count: int, seed: int,
                          concurrency: int) -> list[Outcome]:
    """The same, ``concurrency`` creates in flight at once."""
    options = create_options(provider)
    source = SOURCE[provider]
    outcomes: list[Outcome | None] = [None] * count
    todo = iter(range(count))

    async def worker() -> None:
        for i in todo:
            try:
                outcomes[i] = await v.calls.create(number(i), source, tag=tag(seed, i),
                                                   **options)
            except Exception as exc:
                outcomes[i] = exc

    await asyncio.gather(*(worker() for _ in range(concurrency)))
    assert all(o is not None for o in outcomes)
    return [o for o in outcomes if o is not None]


@dataclass
class Tally:
    """What a run proved, for the README: creates attempted, calls placed, failures by
    type, duplicates; and the faults the server injected."""

    provider: str
    client: str
    attempted: int = 0
    placed: int = 0
    returned: int = 0
    failures: Counter[str] = field(default_factory=Counter)
    placed_despite_ambiguous: int = 0
    duplicates: int = 0
    faults: Counter[str] = field(default_factory=Counter)
    requests: Counter[str] = field(default_factory=Counter)
    sleeps: int = 0

    def line(self) -> str:
        failures = ", ".join(f"{k} {v}" for k, v in sorted(self.failures.items())) or "none"
        return (f"{self.provider} {self.client}: {self.attempted} creates attempted, "
                f"{self.placed} placed ({self.returned} returned, "
                f"{self.placed_despite_ambiguous} placed behind an AmbiguousCreate), "
                f"failures: {failures}; duplicates {self.duplicates}; requests "
                f"{dict(sorted(self.requests.items()))}; faults injected "
                f"{sum(self.faults.values())} ({len(self.faults)} kinds)")


def leaks(error: BaseException, secrets: list[str]) -> list[str]:
    """The secrets that show in an error as a caller prints or logs it: its message, its
    attributes (``raw`` included), and the exceptions a traceback shows chained to it
    (a context suppressed with ``from None`` is not shown, so not looked at)."""
    shown: list[str] = []
    seen: BaseException | None = error
    while seen is not None:
        shown += [str(seen), repr(seen), repr(vars(seen))]
        seen = seen.__cause__ if seen.__cause__ is not None else (
            None if seen.__suppress_context__ else seen.__context__)
    text = "\n".join(shown)
    return [s for s in secrets if s in text]


def check(server: ProviderFaultServer, outcomes: list[Outcome], client: str) -> Tally:
    """Hold a run to the rule (see the module's doc); the tally of what happened."""
    app = server.app
    tally = Tally(server.provider, client, attempted=len(outcomes))
    problems: list[str] = []
    for i, outcome in enumerate(outcomes):
        if isinstance(outcome, BaseException) and leaks(outcome, app.secrets()):
            problems.append(f"intent {i}: a secret shows in {type(outcome).__name__}")
        key = number(i)
        placed = app.placed(key)
        reached = app.requests("create", key)
        if len(placed) > 1:
            problems.append(f"intent {i}: {len(placed)} calls placed ({placed})")
        tally.placed += len(placed) == 1
        if isinstance(outcome, Call):
            tally.returned += 1
            if placed != [outcome.id]:
                problems.append(f"intent {i}: returned call {outcome.id}, placed {placed}")
            if outcome.to != key:
                problems.append(f"intent {i}: returned a call to {outcome.to}, not {key}")
        elif isinstance(outcome, AmbiguousCreate):
            tally.failures[type(outcome).__name__] += 1
            tally.placed_despite_ambiguous += len(placed) == 1
            if not reached:
                problems.append(f"intent {i}: AmbiguousCreate, but no create reached the "
                                f"server: {outcome}")
        elif isinstance(outcome, UnivoiceError):
            tally.failures[type(outcome).__name__] += 1
            if placed:
                problems.append(f"intent {i}: {type(outcome).__name__} ({outcome}), but "
                                f"the call was placed: {placed}")
        else:
            problems.append(f"intent {i}: untyped {type(outcome).__name__}: {outcome!r}")
    tally.duplicates = sum(len(v) - 1 for v in app.duplicates().values())
    for seen in app.seen:
        tally.requests[seen.kind] += 1
        if seen.fault is not None:
            tally.faults[f"{seen.kind} {seen.fault}"] += 1
    assert not problems, f"{len(problems)} broken intents:\n" + "\n".join(problems[:20])
    assert tally.duplicates == 0
    return tally
