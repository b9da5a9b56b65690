"""Typed errors: every failure a user can see is one of these.

None of them subclasses ``ValueError``: pydantic wraps ``ValueError`` raised inside a
validator into its own error, and a ``FlowValidationError`` raised while validating a
flow must reach the caller whole, with every problem it lists.
"""

from __future__ import annotations

import re
from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Any, Literal

Severity = Literal["error", "warning"]


class UnivoiceError(Exception):
    """Base of every error univoice raises on purpose."""

    # Set on the error a create ends with when the provider provably created nothing:
    # it refused before acting, was never reached, or the lookup after an ambiguous
    # failure found nothing. What makes trying another provider safe (univoice.routing).
    nothing_created: bool = False
    # On an error a routed create ends with: the ``RouteRecord`` of every attempt made.
    route: Any = None


class ConfigError(UnivoiceError):
    """The configuration is missing something or names something that does not exist."""


_CONTROL = re.compile(r"[\x00-\x1f\x7f-\x9f\u2028\u2029]")


def one_line(text: str) -> str:
    """Escape control characters (user data may hold them) so a problem stays one line."""
    return _CONTROL.sub(lambda m: repr(m.group())[1:-1], text)


@dataclass(frozen=True, slots=True)
class FlowIssue:
    """One problem found in a flow, located by its path (``steps[2].say.text``)."""

    path: str
    message: str
    severity: Severity = "error"

    def __post_init__(self) -> None:
        object.__setattr__(self, "path", one_line(self.path))
        object.__setattr__(self, "message", one_line(self.message))

    def __str__(self) -> str:
        return f"{self.path}: {self.message}" if self.path else self.message


class InvalidInput(UnivoiceError):
    """Input was rejected before any request; ``issues`` lists every problem found."""

    what = "input"

    def __init__(self, issues: Iterable[FlowIssue], *, source: str | None = None) -> None:
        self.issues: list[FlowIssue] = list(issues)
        self.source = source
        super().__init__(self._summary())

    def _summary(self) -> str:
        head = f"invalid {self.what}{f' in {self.source}' if self.source else ''}"
        n = len(self.issues)
        lines = [f"{head}: {n} problem{'s' if n != 1 else ''}"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.issues,), {"source": self.source})


class FlowValidationError(InvalidInput):
    """A flow document or model is invalid; ``issues`` lists every problem found."""

    what = "flow"


class InvalidArguments(InvalidInput):
    """Arguments to a client call are invalid (bad number, negative timeout, ...)."""

    what = "arguments"


class UnsupportedFeature(UnivoiceError):
    """The chosen provider cannot do something the flow or call asks for.

    Raised before any request is sent, so no money is spent on a call that would
    misbehave.
    """

    def __init__(
        self,
        feature: str,
        provider: str,
        *,
        path: str | None = None,
        alternatives: Sequence[str] = (),
        detail: str | None = None,
    ) -> None:
        self.feature = feature
        self.provider = provider
        self.path = path
        self.alternatives = list(alternatives)
        self.detail = detail
        where = f" (at {path})" if path else ""
        msg = f"provider '{provider}' does not support {feature}{where}"
        if detail:
            msg += f": {detail}"
        if self.alternatives:
            msg += f"; supported by: {', '.join(self.alternatives)}"
        super().__init__(msg)


class NoRouteAvailable(UnivoiceError):
    """A routed create found no provider to place the call: each was skipped or provably
    created nothing. ``route`` (a ``RouteRecord``) says what each attempt met."""

    def __init__(self, to: str, route: Any) -> None:
        self.to = to
        self.route = route
        lines = [f"no provider could place the call to {one_line(to)} "
                 f"(route {route.rule!r}):"]
        for attempt in route.attempts:
            why = attempt.error or attempt.reason or ""
            lines.append(f"  {attempt.provider}: {attempt.outcome}"
                         f"{f' ({one_line(why)})' if why else ''}")
        super().__init__("\n".join(lines))


class ProviderNotFound(ConfigError):
    """No installed provider has the requested name."""

    def __init__(self, name: str, installed: Sequence[str]) -> None:
        self.name = name
        self.installed = list(installed)
        super().__init__(
            f"no provider named '{name}' is installed; installed: {', '.join(installed) or 'none'}"
        )


class TransportError(UnivoiceError):
    """The request did not get an HTTP answer (connect failure, timeout, reset)."""

    def __init__(self, message: str, *, provider: str, operation: str,
                 sent: bool = False) -> None:
        self.provider = provider
        self.operation = operation
        # True when the request may have reached the provider (a timeout while reading,
        # a reset): the effect of a create is then unknown until reconciled.
        self.sent = sent
        super().__init__(f"{provider} {operation}: {message}")


class RequestTimeout(TransportError):
    """The provider did not answer in time."""


class ConnectFailed(TransportError):
    """The provider could not be reached; the request was never sent."""


class AmbiguousCreate(TransportError):
    """A create may or may not have happened, and it could not be reconciled.

    Raised instead of retrying blindly: a retry could place a second call. ``tag`` is
    what to look the call up by once the provider answers again.
    """

    def __init__(self, message: str, *, provider: str, operation: str,
                 tag: str | None) -> None:
        self.tag = tag
        super().__init__(message, provider=provider, operation=operation, sent=True)


class ProviderError(UnivoiceError):
    """The provider answered with an error (or with something that is not a valid answer)."""

    def __init__(self, message: str, *, provider: str, operation: str,
                 status: int | None = None, code: str | None = None,
                 request_id: str | None = None, raw: Any = None) -> None:
        self.provider = provider
        self.operation = operation
        self.status = status
        self.code = code
        self.provider_message = message
        self.request_id = request_id
        self.raw = raw  # the response body as received (already redacted)
        parts = [f"{provider} {operation}"]
        if status is not None:
            parts.append(f"HTTP {status}")
        if code:
            parts.append(f"code {code}")
        text = f"{' '.join(parts)}: {message}"
        if request_id:
            text += f" (request id {request_id})"
        super().__init__(text)


class AuthenticationError(ProviderError):
    """401/403: the credentials are wrong or lack the rights for this operation."""


class NotFound(ProviderError):
    """404: no such call, recording, conference, ..."""


class RateLimited(ProviderError):
    """429 (or 503 with Retry-After) after the retries ran out; ``retry_after`` in seconds."""

    def __init__(self, message: str, *, retry_after: float | None = None, **kw: Any) -> None:
        self.retry_after = retry_after
        super().__init__(message, **kw)


class InvalidRequest(ProviderError):
    """400/409/415/422: the provider refused the request as invalid or not possible now."""


class ServerError(ProviderError):
    """5xx: the provider failed."""
