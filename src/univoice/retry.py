"""When to retry a request, and how long to wait: one pure decision shared by sync and async.

The rule that keeps calls from being placed twice:
- a request that is safe to repeat (GET, PUT, DELETE, or a create the provider
  de-duplicates by idempotency key) is retried on connect errors, timeouts, 429, 5xx;
- a create is retried at once only when it provably never reached the provider (the
  connection was never made) or the provider refused it before acting (429);
- after an ambiguous failure of a create (a timeout or reset after sending, a 5xx) the
  transport first reconciles: it looks the call up by its tag and returns it if it is
  there, and creates again only when the provider says it is not. When no answer came
  at all, the provider may still be working on the request, so an empty lookup is
  repeated after ``settle`` seconds before the create is. A provider with no lookup gets
  ``AmbiguousCreate`` instead of a retry.
"""

from __future__ import annotations

import random
from collections.abc import Callable
from dataclasses import dataclass, field

RETRY_STATUSES = frozenset({429, 500, 502, 503, 504})
# Statuses after which a create has certainly not happened.
REFUSED_STATUSES = frozenset({429})


@dataclass(frozen=True)
class RetryPolicy:
    """Exponential backoff with jitter, honouring Retry-After up to ``max_retry_after``."""

    max_attempts: int = 3  # in all, the first try included
    backoff: float = 0.5  # seconds before the first retry, doubled each time
    max_backoff: float = 8.0
    max_retry_after: float = 60.0  # a longer Retry-After is not waited for: RateLimited
    # How long a provider may go on creating a call whose answer was lost: an empty
    # lookup is repeated after this long before the create is repeated.
    settle: float = 5.0
    jitter: Callable[[], float] = field(default=random.random, repr=False, compare=False)

    def delay(self, attempt: int, retry_after: float | None = None) -> float | None:
        """Seconds to wait before attempt ``attempt + 1``, or None to give up."""
        if attempt >= self.max_attempts:
            return None
        if retry_after is not None:
            return retry_after if retry_after <= self.max_retry_after else None
        base = min(self.max_backoff, self.backoff * 2.0 ** min(attempt - 1, 63))
        return base * (0.5 + self.jitter() / 2)  # "equal jitter": never less than half


NO_RETRY = RetryPolicy(max_attempts=1)


def parse_retry_after(value: str | None) -> float | None:
    """Retry-After as seconds: a number, or an HTTP date (RFC 9110)."""
    if not value:
        return None
    value = value.strip()
    try:
        return max(0.0, float(value))
    except ValueError:
        pass
    from datetime import UTC, datetime
    from email.utils import parsedate_to_datetime

    try:
        when = parsedate_to_datetime(value)
    except (TypeError, ValueError):
        return None
    if when.tzinfo is None:
        when = when.replace(tzinfo=UTC)
    return max(0.0, (when - datetime.now(UTC)).total_seconds())
