"""Moving between providers: native documents read into neutral flows, and where a flow
can run.

An importer (``Provider.import_document``) reads what a team already has (BXML, a
MessageBird call flow, Bird ``callFlow`` commands) into a ``Flow``, and says of every
construct that did not carry over as it was where it is in the source and what became of
it (``ImportNote``): kept as a ``native`` step (it compiles back only to its provider),
carried over with a changed meaning, or not carried over. Nothing is dropped silently.

``portability`` tells, for a neutral flow, how each installed provider would run it.
"""

from __future__ import annotations

from dataclasses import dataclass
from enum import StrEnum
from typing import TYPE_CHECKING, Any

from univoice.errors import InvalidInput, UnivoiceError, UnsupportedFeature, one_line

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.provider import Provider

MAX_DOCUMENT = 1024 * 1024  # bytes of a native document an importer reads


class InvalidDocument(InvalidInput):
    """A native document an importer cannot read. Each issue's path is where: ``line 3,
    column 7`` in XML, a JSON pointer (``/steps/2/action``) in JSON."""

    what = "document"


class Carry(StrEnum):
    NATIVE = "kept as native"  # a ``native`` step: compiles back only to its provider
    CHANGED = "changed"  # carried over, meaning something different (the detail says what)
    DROPPED = "not carried over"  # nothing in the flow stands for it (the detail says why)


@dataclass(frozen=True)
class ImportNote:
    """One construct of the source that did not carry over as it was."""

    at: str  # its position in the source (line/column or JSON pointer)
    construct: str  # e.g. "<SendDtmf>", "action 'fetchCallFlow'"
    carry: Carry
    detail: str
    step: str | None = None  # the neutral step path it became, if any

    def __post_init__(self) -> None:
        object.__setattr__(self, "detail", one_line(self.detail))

    def __str__(self) -> str:
        became = f" -> {self.step}" if self.step else ""
        return f"{self.at}: {self.construct}: {self.carry.value}{became}: {self.detail}"

    def to_dict(self) -> dict[str, Any]:
        return {"at": self.at, "construct": self.construct, "carry": self.carry.name.lower(),
                "detail": self.detail, "step": self.step}


@dataclass(frozen=True)
class Imported:
    """A native document read into a neutral flow, and what did not carry over."""

    flow: Flow
    provider: str
    notes: tuple[ImportNote, ...] = ()


def read_source(source: str | bytes, *, limit: int = MAX_DOCUMENT) -> bytes:
    """A document's bytes, refused (typed) when larger than ``limit``."""
    data = source.encode("utf-8", "surrogatepass") if isinstance(source, str) else source
    if len(data) > limit:
        raise InvalidDocument([_issue("", f"larger than {limit} bytes")])
    if not data.strip():
        raise InvalidDocument([_issue("", "empty document")])
    return data


def _issue(at: str, message: str) -> Any:
    from univoice.errors import FlowIssue

    return FlowIssue(at, message)


# Portability --------------------------------------------------------------------------


class Runs(StrEnum):
    NATIVELY = "natively"
    WITH_APP = "with the webhook app"  # continues through univoice's app
    CANNOT = "cannot"


@dataclass(frozen=True)
class Portability:
    provider: str
    runs: Runs
    detail: str  # how, or which step and why not
    step: str | None = None  # the step that cannot run

    def to_dict(self) -> dict[str, Any]:
        return {"provider": self.provider, "runs": self.runs.name.lower(),
                "detail": self.detail, "step": self.step}


def portability(flow: Flow, provider: Provider) -> Portability:
    """How ``provider`` (an offline instance will do) would run ``flow``."""
    name = provider.name
    try:
        provider.check_flow(flow)
        provider.compile_flow(flow)
    except UnsupportedFeature as exc:
        why = exc.feature + (f": {exc.detail}" if exc.detail else "")
        if exc.alternatives:
            why += f" (runs on {', '.join(exc.alternatives)})"
        return Portability(name, Runs.CANNOT, why, exc.path)
    except UnivoiceError as exc:
        return Portability(name, Runs.CANNOT, one_line(str(exc)))
    if provider.needs_app(flow):
        how = ("every document is fetched from it" if provider.fetches_documents
               else "the parts it cannot run alone continue through it")
        return Portability(name, Runs.WITH_APP, how)
    return Portability(name, Runs.NATIVELY, "the whole flow is sent with the call"
                       if name != "simulator" else "the reference semantics")
