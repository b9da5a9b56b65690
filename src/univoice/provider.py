"""The base every provider adapter implements, and the compiled-document type."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from univoice.errors import UnsupportedFeature

if TYPE_CHECKING:
    from univoice.capabilities import Capabilities, Feature
    from univoice.flow import Flow


@dataclass(frozen=True)
class Document:
    """A flow compiled into a provider's own language (BXML, call-flow JSON, ...)."""

    provider: str
    media_type: str
    body: str
    native: Any = None  # the same document as data (dict, element tree), for tests

    def __str__(self) -> str:
        return self.body


class Provider(ABC):
    """A provider adapter. Subclasses hold only what is different about their provider.

    ``compile_flow`` is pure (no I/O): translation lives here, requests in the transport.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    capabilities: ClassVar[Capabilities]

    def __init__(self, **settings: Any) -> None:
        self.settings = settings

    def __repr__(self) -> str:  # settings may hold secrets: never shown
        return f"<{type(self).__name__} {self.name!r}>"

    def check_flow(self, flow: Flow) -> None:
        """Raise ``UnsupportedFeature`` for the first feature (in document order) missing."""
        missing = self.capabilities.missing(flow)
        if not missing:
            return
        feature, paths = min(missing.items(), key=lambda item: _order(item[1][0]))
        raise self.unsupported(feature, path=paths[0])

    def unsupported(self, feature: Feature, *, path: str | None = None) -> UnsupportedFeature:
        from univoice.plugins import providers_supporting

        return UnsupportedFeature(
            feature.value, self.name, path=path,
            alternatives=[p for p in providers_supporting(feature) if p != self.name],
            detail=self.capabilities.notes.get(feature),
        )

    @abstractmethod
    def compile_flow(self, flow: Flow) -> Document:
        """Translate ``flow`` into this provider's document; call ``check_flow`` first."""


def _order(path: str) -> tuple[int, str]:
    # Top-level options (record, machine_detection) come before steps.
    return (0 if not path.startswith("steps") else 1, path)
