"""``RetryPolicy.delay`` with a pinned jitter, and ``parse_retry_after``: pure functions."""

from __future__ import annotations

from datetime import datetime, timedelta

import pytest
from hypothesis import given
from hypothesis import strategies as st

from tests.transport.conftest import http_date
from univoice.operations import Operation
from univoice.retry import (
    NO_RETRY,
    REFUSED_STATUSES,
    RETRY_STATUSES,
    RetryPolicy,
    parse_retry_after,
)


def pinned(value: float, **options: float) -> RetryPolicy:
    return RetryPolicy(jitter=lambda: value, **options)  # type: ignore[arg-type]


# delay ----------------------------------------------------------------------------------


@pytest.mark.parametrize(("jitter", "expected"), [
    (0.0, [0.25, 0.5, 1.0, 2.0, 4.0, 4.0]),  # "equal jitter": never less than half
    (0.5, [0.375, 0.75, 1.5, 3.0, 6.0, 6.0]),
    (1.0, [0.5, 1.0, 2.0, 4.0, 8.0, 8.0]),  # doubling, capped at max_backoff
])
def test_delay_doubles_with_equal_jitter_up_to_the_cap(jitter: float,
                                                       expected: list[float]) -> None:
    policy = pinned(jitter, max_attempts=7, backoff=0.5, max_backoff=8.0)
    assert [policy.delay(attempt) for attempt in range(1, 7)] == expected


def test_delay_gives_up_after_max_attempts() -> None:
    policy = pinned(1.0, max_attempts=3)
    assert policy.delay(2) is not None
    assert policy.delay(3) is None
    assert policy.delay(4) is None
    assert policy.delay(3, retry_after=0.0) is None  # Retry-After does not add attempts
    assert NO_RETRY.delay(1) is None
    assert NO_RETRY.delay(1, 1.0) is None


def test_delay_honours_retry_after_exactly_up_to_the_maximum() -> None:
    policy = pinned(1.0, max_attempts=3, backoff=0.5, max_retry_after=60.0)
    assert policy.delay(1, retry_after=7.0) == 7.0
    assert policy.delay(1, retry_after=0.0) == 0.0  # not replaced by the backoff
    assert policy.delay(2, retry_after=60.0) == 60.0
    assert policy.delay(1, retry_after=60.001) is None
    assert policy.delay(1, retry_after=float("inf")) is None


def test_zero_backoff_never_sleeps() -> None:
    policy = RetryPolicy(backoff=0.0, max_attempts=5)
    assert {policy.delay(n) for n in range(1, 5)} == {0.0}


def test_default_policy() -> None:
    policy = RetryPolicy()
    assert (policy.max_attempts, policy.backoff, policy.max_backoff,
            policy.max_retry_after) == (3, 0.5, 8.0, 60.0)
    assert 0.25 <= policy.delay(1) <= 0.5  # type: ignore[operator]
    assert RetryPolicy() == RetryPolicy(jitter=lambda: 0.3)  # jitter is not compared


@given(jitter=st.floats(0.0, 1.0), attempt=st.integers(1, 60),
       backoff=st.floats(0.0, 10.0), max_backoff=st.floats(0.0, 100.0))
def test_delay_stays_between_half_and_all_of_the_capped_backoff(
        jitter: float, attempt: int, backoff: float, max_backoff: float) -> None:
    policy = pinned(jitter, max_attempts=100, backoff=backoff, max_backoff=max_backoff)
    delay = policy.delay(attempt)
    base = min(max_backoff, backoff * 2.0 ** (attempt - 1))
    assert delay is not None
    assert base / 2 <= delay <= base


def test_delay_with_many_attempts_stays_capped() -> None:
    policy = pinned(1.0, max_attempts=5000, backoff=0.5, max_backoff=8.0)
    assert policy.delay(1024) == 8.0
    assert policy.delay(1025) == 8.0


# Which failures are retried ------------------------------------------------------------


def test_statuses() -> None:
    assert frozenset({429, 500, 502, 503, 504}) == RETRY_STATUSES
    assert REFUSED_STATUSES <= RETRY_STATUSES
    assert 500 not in REFUSED_STATUSES


@pytest.mark.parametrize(("creates", "key", "safe"), [
    (False, None, True), (True, None, False), (True, "idem-1", True)])
def test_only_a_create_without_an_idempotency_key_is_unsafe(creates: bool, key: str | None,
                                                            safe: bool) -> None:
    import httpx

    op: Operation[None] = Operation("x", httpx.Request("POST", "http://127.0.0.1/"),
                                    lambda r: None, creates=creates, idempotency_key=key)
    assert op.safe_to_retry is safe


# parse_retry_after ----------------------------------------------------------------------


@pytest.mark.parametrize(("value", "seconds"), [
    ("120", 120.0), ("0", 0.0), ("1.5", 1.5), (" 7 ", 7.0), ("-5", 0.0), ("1e3", 1000.0)])
def test_parse_retry_after_seconds(value: str, seconds: float) -> None:
    assert parse_retry_after(value) == seconds


@pytest.mark.parametrize("value", [None, "", "   ", "soon", "Someday, 99 Foo 2030",
                                   "12 seconds"])
def test_parse_retry_after_rejects_what_it_cannot_read(value: str | None) -> None:
    assert parse_retry_after(value) is None


def test_parse_retry_after_http_dates(frozen_now: datetime) -> None:
    assert parse_retry_after(http_date(frozen_now + timedelta(seconds=90))) == 90.0
    assert parse_retry_after(http_date(frozen_now)) == 0.0
    assert parse_retry_after(http_date(frozen_now - timedelta(days=3))) == 0.0  # past: now
    # RFC 850 and asctime forms, which RFC 9110 says a recipient must accept
    assert parse_retry_after("Wednesday, 02-Jan-30 03:05:05 GMT") == 60.0
    assert parse_retry_after("Wed Jan  2 03:06:05 2030") == 120.0
    # "-0000" (no zone information) is read as UTC
    assert parse_retry_after("Wed, 02 Jan 2030 03:04:35 -0000") == 30.0
    assert parse_retry_after("Wed, 02 Jan 2030 04:04:35 +0100") == 30.0


def test_parse_retry_after_ignores_nan() -> None:
    # float("nan") parses; it must not become a delay
    value = parse_retry_after("nan")
    assert value is None or value == 0.0
