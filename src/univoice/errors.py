"""Typed errors: every failure a user can see is one of these.

None of them subclasses ``ValueError``: pydantic wraps ``ValueError`` raised inside a
validator into its own error, and a ``FlowValidationError`` raised while validating a
flow must reach the caller whole, with every problem it lists.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from dataclasses import dataclass
from typing import Literal

Severity = Literal["error", "warning"]


class UnivoiceError(Exception):
    """Base of every error univoice raises on purpose."""


class ConfigError(UnivoiceError):
    """The configuration is missing something or names something that does not exist."""


@dataclass(frozen=True, slots=True)
class FlowIssue:
    """One problem found in a flow, located by its path (``steps[2].say.text``)."""

    path: str
    message: str
    severity: Severity = "error"

    def __str__(self) -> str:
        where = self.path or "flow"
        return f"{where}: {self.message}"


class FlowValidationError(UnivoiceError):
    """A flow document or model is invalid; ``issues`` lists every problem found."""

    def __init__(self, issues: Iterable[FlowIssue], *, source: str | None = None) -> None:
        self.issues: list[FlowIssue] = list(issues)
        self.source = source
        super().__init__(self._summary())

    def _summary(self) -> str:
        head = f"invalid flow{f' in {self.source}' if self.source else ''}"
        n = len(self.issues)
        lines = [f"{head}: {n} problem{'s' if n != 1 else ''}"]
        lines += [f"  {issue}" for issue in self.issues]
        return "\n".join(lines)

    def __reduce__(self) -> tuple[object, ...]:
        return (type(self), (self.issues,), {"source": self.source})


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


class ProviderNotFound(ConfigError):
    """No installed provider has the requested name."""

    def __init__(self, name: str, installed: Sequence[str]) -> None:
        self.name = name
        self.installed = list(installed)
        super().__init__(
            f"no provider named '{name}' is installed; installed: {', '.join(installed) or 'none'}"
        )
