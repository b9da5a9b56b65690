"""What one provider makes of each step of a flow: where a call goes back to the webhook
app for what runs next (``Provider.continuation_points``), and which steps it cannot run
at all (its capabilities, native steps of another provider, its compiler's own limits).
Pure: an offline provider instance will do; the core asks, it never imports a provider.
"""

from __future__ import annotations

from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from univoice.errors import InvalidInput, UnivoiceError, UnsupportedFeature
from univoice.flow.steps import Native
from univoice.migrate import Runs, portability

if TYPE_CHECKING:
    from collections.abc import Iterable

    from univoice.flow import Flow
    from univoice.provider import Provider

FLOW_LEVEL = ""  # the key of a mark on the flow as a whole (shown on the start node)


@dataclass(frozen=True)
class Marks:
    provider: str
    summary: str  # how the provider runs the flow (``univoice port``'s verdict)
    start: str | None = None  # why the call's first document comes from the app, if it does
    continuations: dict[str, str] = field(default_factory=dict)  # step path -> why
    unsupported: dict[str, str] = field(default_factory=dict)  # step path (or "") -> why


def marks_for(flow: Flow, provider: Provider) -> Marks:
    verdict = portability(flow, provider)
    how = {Runs.NATIVELY: "runs natively", Runs.WITH_APP: "runs with the webhook app",
           Runs.CANNOT: "cannot run this flow"}[verdict.runs]
    summary = f"{provider.name} {how} ({verdict.detail})"
    try:
        continuations = dict(provider.continuation_points(flow))
    except UnivoiceError:  # a flow it cannot compile: the unsupported marks say why
        continuations = {}
    start = ("the call's first document is fetched from the webhook app"
             if provider.fetches_documents else None)
    return Marks(provider.name, summary, start, continuations, unsupported(flow, provider))


def unsupported(flow: Flow, provider: Provider) -> dict[str, str]:
    """Every step ``provider`` cannot run, with why (``check_flow`` stops at the first)."""
    steps = [path for path, _ in flow.walk()]
    found: dict[str, str] = {}

    def mark(path: str | None, why: str) -> None:
        found.setdefault(_owner(path or "", steps), why)

    for path, step in flow.walk():
        if isinstance(step, Native) and step.provider != provider.name:
            mark(path, f"a {step.provider} instruction")
    for feature, paths in provider.capabilities.missing(flow).items():
        note = provider.capabilities.notes.get(feature)
        for path in paths:
            mark(path, feature.value + (f" ({note})" if note else ""))
    if found:
        return found
    try:  # the compiler's own limits, once every feature is there
        provider.check_flow(flow)
        provider.compile_flow(flow)
    except InvalidInput as exc:
        for issue in exc.issues:
            mark(issue.path, issue.message)
    except UnsupportedFeature as exc:
        mark(exc.path, exc.feature + (f" ({exc.detail})" if exc.detail else ""))
    except UnivoiceError as exc:
        mark(None, str(exc))
    return found


def _owner(path: str, steps: Iterable[str]) -> str:
    """The step a path is in (the longest step path it starts with); "" for the flow."""
    best = FLOW_LEVEL
    for step in steps:
        if (path == step or path.startswith((step + ".", step + "["))) and len(step) > len(
                best):
            best = step
    return best
