"""No duplicate calls, nothing lost: many creates through a provider that fails at random.

For each provider, ``COUNT`` intended calls are placed through ``Voice`` (one after
another) and through ``AsyncVoice`` (``CONCURRENCY`` in flight) against the provider's
fault server (tests/support/provider_fault_server.py) on a seeded schedule: about 30% of
creates and 20% of the lookups that reconcile them fail, in every way the server knows
(resets and closes before and after acting, timeouts after acting, 429 with and without
Retry-After, 500/502/503, HTML error pages, cut short, truncated and non-JSON bodies, answers
without an id, slow bodies), every error page quoting the credentials it was sent.
``harness.check`` then holds every intent to the rule: placed exactly once and returned,
or failed with a typed univoice error (``AmbiguousCreate`` only where a create reached the
server, and then at most one call); never two calls for one intent; no secret in any
error. Each run prints its tally (``pytest -s``): the figures the README quotes.

The client's waits (backoff, Retry-After, settle) are recorded, not slept: the server never
acts late except when told to (``late``, tests/reliability/test_faults.py), so nothing is
lost by not waiting, and a run costs its requests plus the injected timeouts.

Long variant: ``UNIVOICE_LONG=1 python -m pytest tests/reliability`` places 10,000 calls
per provider and client instead of 1,000 (``UNIVOICE_SEED`` changes the seed, 20240609).
"""

from __future__ import annotations

import os

import pytest

from tests.reliability.harness import (
    PROVIDERS,
    Sleeps,
    Tally,
    async_voice,
    check,
    http,
    number,
    place_all,
    place_all_async,
    serve,
    voice,
)
from tests.support.provider_fault_server import FaultSchedule
from univoice.errors import AmbiguousCreate

LONG = os.environ.get("UNIVOICE_LONG", "") not in ("", "0", "false")
COUNT = 10_000 if LONG else 1_000
CONCURRENCY = 50
SEED = int(os.environ.get("UNIVOICE_SEED", "20240609"))

# What goes wrong, and how often (weights). A timeout costs the client's timeout in wall
# time, so timeouts are rarer than the rest.
CREATE_FAULTS = {
    "reset": 2, "drop": 1, "timeout": 0.1,  # never acted on
    "status:429": 2, "status:429:1": 2, "status:503:2": 1, "status:500": 1,
    "status:502": 1, "html:502": 1,
    "reset_after": 2, "drop_after": 1, "timeout_after": 0.1,  # acted on, answer lost
    "status_after:500": 1, "status_after:503": 1, "html_after:504": 1,
    "truncated": 1, "non_json": 1, "missing_fields": 1, "short": 1,
    "delay:0.002": 1, "slow:0.001": 1,  # late but whole
}
LOOKUP_FAULTS = {
    "reset": 1, "drop_after": 1, "timeout": 0.1, "status:500": 1, "status:503:1": 1,
    "status:429": 1, "html:502": 1, "non_json": 1, "truncated": 1, "short": 1,
    "slow:0.001": 1,
}


def schedule(seed: int) -> FaultSchedule:
    """The seeded schedule; the first intents' first creates meet each fault once."""
    first = {("create", number(i)): spec for i, spec in enumerate(CREATE_FAULTS)}
    return FaultSchedule(seed, rates={"create": 0.3, "lookup": 0.2},
                         mix={"create": CREATE_FAULTS, "lookup": LOOKUP_FAULTS}, first=first)


def proven(tally: Tally) -> None:
    """What every run must show besides the rule: the schedule did its work."""
    print(f"\n{tally.line()}")
    injected = {f.split(" ", 1)[1] for f in tally.faults if f.startswith("create ")}
    assert injected == set(CREATE_FAULTS), set(CREATE_FAULTS) - injected
    assert tally.requests["lookup"] > 0
    assert tally.returned + sum(tally.failures.values()) == tally.attempted
    assert tally.returned > tally.attempted * 0.8


@pytest.mark.parametrize("provider", PROVIDERS)
def test_sync_creates_place_each_call_exactly_once(provider: str) -> None:
    with serve(provider, schedule(SEED), echo_auth=True) as server:
        sleeps = Sleeps()
        with voice(server, http(0.3), sleeps) as v:
            outcomes = place_all(v, provider, COUNT, SEED)
        tally = check(server, outcomes, "Voice")
    tally.sleeps = len(sleeps.seen)
    proven(tally)


@pytest.mark.anyio
@pytest.mark.parametrize("provider", PROVIDERS)
async def test_async_creates_50_in_flight_place_each_call_exactly_once(provider: str) -> None:
    with serve(provider, schedule(SEED + 1), echo_auth=True) as server:
        sleeps = Sleeps()
        async with async_voice(server, http(1.0), sleeps) as v:
            outcomes = await place_all_async(v, provider, COUNT, SEED + 1, CONCURRENCY)
        tally = check(server, outcomes, f"AsyncVoice x{CONCURRENCY}")
    tally.sleeps = len(sleeps.seen)
    proven(tally)


def test_the_check_catches_a_client_that_retries_creates_blindly(
        monkeypatch: pytest.MonkeyPatch) -> None:
    """The rule has teeth: a client that repeats creates without looking them up first
    (every operation 'safe to retry') places calls twice, and ``check`` says so."""
    from univoice.operations import Operation

    monkeypatch.setattr(Operation, "safe_to_retry", property(lambda self: True))
    with serve("bandwidth", schedule(SEED)) as server:
        with voice(server, http(0.3), Sleeps()) as v:
            outcomes = place_all(v, "bandwidth", 100, SEED)
        with pytest.raises(AssertionError, match="calls placed"):
            check(server, outcomes, "Voice")
        assert server.app.duplicates()


def test_the_check_catches_an_ambiguous_create_that_never_reached_the_server() -> None:
    with serve("bandwidth") as server:
        fake = AmbiguousCreate("made up", provider="bandwidth", operation="calls.create",
                               tag=None)
        with pytest.raises(AssertionError, match="no create reached the server"):
            check(server, [fake], "Voice")
        assert number(0) not in {c["to"] for c in server.app.calls}


def test_the_check_catches_a_secret_in_an_error() -> None:
    from univoice.errors import ServerError

    with serve("messagebird") as server:
        secret = server.app.secrets()[0]
        leaky = ServerError("boom", provider="messagebird", operation="calls.create",
                            raw={"echo": f"AccessKey {secret}"})
        with pytest.raises(AssertionError, match="a secret shows"):
            check(server, [leaky], "Voice")
