"""One routed create's bookkeeping, shared by the sync and async clients.

The drivers (``univoice.routing.client``) only place the member calls; what is tried next,
what a failure means, what the breakers and the record say, is decided here once.
"""

from __future__ import annotations

import logging
from collections.abc import Callable, Mapping
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from univoice.errors import (
    ConfigError,
    NoRouteAvailable,
    UnivoiceError,
    UnsupportedFeature,
    one_line,
)
from univoice.events import BaseEvent, CallRouted, RouteAttemptFailed
from univoice.flow import Flow
from univoice.models import Call, RouteAttempt, RouteRecord
from univoice.provider import Provider
from univoice.routing.breaker import Breakers
from univoice.routing.config import RoutingConfig
from univoice.routing.decide import Decision, decide
from univoice.routing.failover import failover_reason, unhealthy
from univoice.store import FlowStore

log = logging.getLogger("univoice.routing")
CALL_KEY = "univoice:call:{}"  # which provider a routed call is on
EventSink = Callable[[BaseEvent], None]


@dataclass
class Router:
    """What a routed client knows: the rules, its providers, their breakers, the store
    that remembers each call's provider, and who hears the routing events."""

    config: RoutingConfig
    providers: Mapping[str, Provider]
    breakers: Breakers
    store: FlowStore
    app_known: bool = True
    sinks: list[EventSink] = field(default_factory=list)

    def decide(self, to: str, *, tag: str, flow: Flow | None = None,
               machine_detection: bool = False) -> Decision:
        return decide(self.config, self.providers, to, tag=tag, flow=flow,
                      machine_detection=machine_detection, app_known=self.app_known)

    def provider_of(self, call_id: str) -> str | None:
        state = self.store.get_state(CALL_KEY.format(call_id))
        name = state.get("provider") if state else None
        return name if isinstance(name, str) and name in self.providers else None

    def remember(self, call_id: str, provider: str) -> None:
        self.store.put_state(CALL_KEY.format(call_id), {"provider": provider})

    def emit(self, event: BaseEvent) -> None:
        for sink in self.sinks:
            sink(event)
        from univoice.plugins import registry

        registry().manager.hook.univoice_event(event=event)


def _text(error: BaseException) -> str:
    return one_line(str(error))[:300]  # univoice's errors are built redacted


class RouteRun:
    """The attempts of one create, in the order ``decision`` gives."""

    def __init__(self, router: Router, decision: Decision, tag: str) -> None:
        self.router = router
        self.decision = decision
        self.tag = tag
        self.attempts = [RouteAttempt(provider=p.provider, outcome="skipped",
                                      reason="cannot run this call", error=p.why)
                         for p in decision.passed]

    def record(self, chosen: str | None = None) -> RouteRecord:
        return RouteRecord(rule=self.decision.rule, why=self.decision.why, chosen=chosen,
                           attempts=list(self.attempts))

    def admit(self, name: str) -> bool:
        """Whether ``name``'s breaker lets this call through (recorded when not)."""
        verdict = self.router.breakers.admit(name)
        if not verdict.allowed:
            self.attempts.append(RouteAttempt(provider=name, outcome="skipped",
                                              reason=f"circuit {verdict.state}",
                                              error=verdict.why))
        return verdict.allowed

    def failed(self, name: str, error: UnivoiceError) -> None:
        """Take ``name``'s failure; returns when the next provider may be tried, else
        raises ``error`` (with this route attached)."""
        if isinstance(error, (UnsupportedFeature, ConfigError)):
            # Refused before any request (a limit of this provider's): nothing spent.
            self.attempts.append(RouteAttempt(provider=name, outcome="skipped",
                                              reason="cannot run this call",
                                              error=_text(error)))
            return
        reason = failover_reason(error, self.router.config.failover_on)
        if unhealthy(error):
            self.router.breakers.failure(name, f"{type(error).__name__}: {_text(error)}")
        self.attempts.append(RouteAttempt(
            provider=name, outcome="failed_over" if reason else "failed",
            reason=reason, error=f"{type(error).__name__}: {_text(error)}"))
        self.router.emit(RouteAttemptFailed(
            id=f"route:{self.tag}:{len(self.attempts)}", provider=name, tag=self.tag,
            occurred_at=datetime.now(UTC),
            to=self.decision.to, attempt=len(self.attempts), reason=reason,
            error=f"{type(error).__name__}: {_text(error)}", failed_over=reason is not None))
        if reason is None:
            error.route = self.record()
            raise error
        log.warning("%s failed over (%s): %s", name, reason, _text(error))

    def placed(self, name: str, call: Call) -> Call:
        self.router.breakers.success(name)
        self.router.remember(call.id, name)
        self.attempts.append(RouteAttempt(provider=name, outcome="placed"))
        record = self.record(chosen=name)
        self.router.emit(CallRouted(
            id=f"route:{self.tag}:placed", provider=name, call_id=call.id, tag=self.tag,
            occurred_at=datetime.now(UTC),
            to=self.decision.to, rule=record.rule,
            attempts=sum(a.outcome != "skipped" for a in record.attempts)))
        return call.model_copy(update={"route": record})

    def exhausted(self) -> NoRouteAvailable:
        return NoRouteAvailable(self.decision.to, self.record())


def create_args(config: RoutingConfig, name: str, from_: str | None,
                options: dict[str, Any]) -> dict[str, Any]:
    """The member create's keyword arguments: the caller id for that provider when the
    create named none."""
    return {**options, "from_": from_ if from_ is not None else config.caller_id.get(name)}
