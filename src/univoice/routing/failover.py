"""When a failed create may be tried at the next provider, and what counts against health.

Trying another provider is safe only when the first provably placed no call: the
transport marks the error a create ends with ``nothing_created`` when the provider refused
before acting, was never reached, or the lookup after an ambiguous failure found nothing
(see ``univoice.retry``). An ``AmbiguousCreate`` never fails over: the call may exist.
"""

from __future__ import annotations

from univoice.errors import (
    AmbiguousCreate,
    AuthenticationError,
    ConnectFailed,
    InvalidRequest,
    NotFound,
    ProviderError,
    RateLimited,
    RequestTimeout,
    ServerError,
    TransportError,
    UnivoiceError,
)
from univoice.routing.config import FailoverReason

# Failures that say the provider is unwell (or unusable for this account), as opposed to
# a request it refused on its merits.
UNHEALTHY: frozenset[FailoverReason] = frozenset(
    {"unreachable", "timeout", "server_error", "rate_limited", "auth", "account"})
_ACCOUNT_STATUSES = frozenset({402})


def classify(error: UnivoiceError) -> FailoverReason | None:
    """The kind of failure ``error`` is, in the words of ``failover_on``."""
    if isinstance(error, RequestTimeout):
        return "timeout"
    if isinstance(error, TransportError):  # ConnectFailed, a reset, a lost answer
        return "unreachable"
    if isinstance(error, RateLimited):
        return "rate_limited"
    if isinstance(error, ServerError):
        return "server_error"
    if isinstance(error, AuthenticationError):
        return "auth"
    # A create's 404 names a missing account or application, not a missing call.
    if isinstance(error, NotFound) or (isinstance(error, ProviderError)
                                       and error.status in _ACCOUNT_STATUSES):
        return "account"
    if isinstance(error, InvalidRequest):
        return "invalid_request"
    return None


def failover_reason(error: UnivoiceError, allowed: frozenset[FailoverReason]
                    ) -> FailoverReason | None:
    """Why the next provider may be tried after ``error``, or None when it must not."""
    if isinstance(error, AmbiguousCreate) or not error.nothing_created:
        return None
    reason = classify(error)
    return reason if reason in allowed else None


def unhealthy(error: UnivoiceError) -> bool:
    """Whether ``error`` counts as a failure of the provider for its circuit breaker."""
    return isinstance(error, (AmbiguousCreate, ConnectFailed)) or classify(error) in UNHEALTHY
