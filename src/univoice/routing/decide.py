"""Which providers a call may take, in which order, and why: a pure decision.

1. The destination's rule: the first whose ``countries`` (the number's region, read by
   ``phonenumbers``) or ``prefixes`` (the longest E.164 prefix wins within a rule) match,
   else the default route (``[routing].providers``).
2. A weighted split picks the first provider: by a hash of the call's tag, so the same
   tag always takes the same provider (a create retried with its tag is looked up where
   it was made) and distinct tags split as the weights say. The others follow in order.
3. Providers that cannot run the call are passed over with the reason (the flow's
   features, machine detection, a flow that needs the webhook app when none is
   configured), before any request.
"""

from __future__ import annotations

import hashlib
from collections.abc import Mapping
from dataclasses import dataclass, field

from univoice.capabilities import Feature
from univoice.errors import UnsupportedFeature
from univoice.flow import Flow
from univoice.provider import Provider
from univoice.routing.config import RoutingConfig, Rule

DEFAULT = "default"


@dataclass(frozen=True, slots=True)
class Destination:
    number: str
    region: str | None  # ISO region, e.g. "NL"; None for a SIP URI or an unknown one
    calling_code: int | None

    @classmethod
    def parse(cls, to: str) -> Destination:
        if not to.startswith("+"):
            return cls(to, None, None)
        import phonenumbers

        try:
            parsed = phonenumbers.parse(to, None)
        except phonenumbers.NumberParseException:
            return cls(to, None, None)
        return cls(to, phonenumbers.region_code_for_number(parsed), parsed.country_code)


def check_destination(to: object) -> str:
    """``to`` as a call's destination (E.164 or SIP URI), else ``InvalidArguments``."""
    from pydantic import TypeAdapter, ValidationError

    from univoice.errors import FlowIssue, InvalidArguments
    from univoice.flow.fields import Target

    try:
        return TypeAdapter(Target).validate_python(to)
    except ValidationError as exc:
        message = exc.errors(include_url=False, include_input=False)[0]["msg"]
        raise InvalidArguments([FlowIssue("to", message)]) from None


@dataclass(frozen=True, slots=True)
class Passed:
    provider: str
    why: str


@dataclass(frozen=True)
class Decision:
    """The route of one call: ``order`` is what will be tried, first to last."""

    to: str
    rule: str
    why: str
    order: list[str]
    passed: list[Passed] = field(default_factory=list)

    def lines(self) -> list[str]:
        out = [f"route: {self.rule} ({self.why})"]
        for i, name in enumerate(self.order, 1):
            out.append(f"  {i}. {name}" + (" (first choice)" if i == 1 else " (failover)"))
        out += [f"  -  {p.provider}: passed over: {p.why}" for p in self.passed]
        if not self.order:
            out.append("  no provider can take this call")
        return out


def _matches(rule: Rule, dest: Destination) -> str | None:
    if not rule.countries and not rule.prefixes:
        return "matches every destination"
    if dest.region is not None and dest.region in rule.countries:
        return f"the destination is in {dest.region}"
    prefixes = [p for p in rule.prefixes if dest.number.startswith(p)]
    if prefixes:
        return f"the destination starts with {max(prefixes, key=len)}"
    return None


def split_point(tag: str, rule: str) -> float:
    """Where ``tag`` falls in [0, 1) for the weighted split of ``rule``: uniform over
    tags, the same for the same tag."""
    digest = hashlib.sha256(f"{rule}\x00{tag}".encode()).digest()
    return int.from_bytes(digest[:8], "big") / 2.0 ** 64


def _weighted(providers: list[str], weights: Mapping[str, int], tag: str, rule: str
              ) -> tuple[list[str], str]:
    total = sum(weights.values())
    point = split_point(tag, rule) * total
    split = " / ".join(f"{n} {w}" for n, w in weights.items())
    running = 0.0
    for name, weight in weights.items():
        running += weight
        if weight and point < running:
            rest = [n for n in providers if n != name]
            return [name, *rest], f"split {split}: {name} by the call's tag"
    return providers, f"split {split}"  # not reached: the point is below the total


def beyond(provider: Provider, flow: Flow | None, *, machine_detection: bool = False,
           app_known: bool = True) -> str | None:
    """Why ``provider`` cannot take the call, or None when it can (no I/O)."""
    try:
        if flow is not None:
            provider.check_flow(flow)
        detect = machine_detection or (flow is not None and flow.machine_detection is not None)
        if detect and Feature.FLOW_MACHINE_DETECTION not in provider.capabilities.features:
            raise provider.unsupported(Feature.FLOW_MACHINE_DETECTION)
    except UnsupportedFeature as exc:
        return str(exc)
    if flow is not None and not app_known and provider.needs_app(flow):
        return ("this flow runs through the univoice webhook app and no public_url is "
                "configured")
    return None


def decide(config: RoutingConfig, providers: Mapping[str, Provider], to: str, *,
           tag: str, flow: Flow | None = None, machine_detection: bool = False,
           app_known: bool = True) -> Decision:
    dest = Destination.parse(to)
    rule_name, why, order, weights = DEFAULT, "no rule matches", list(config.providers), \
        dict(config.weights)
    for i, rule in enumerate(config.rules):
        matched = _matches(rule, dest)
        if matched is not None:
            rule_name = rule.name or f"rules[{i}]"
            why, order, weights = matched, list(rule.providers), dict(rule.weights)
            break
    if weights:
        order, split = _weighted(order, weights, tag, rule_name)
        why = f"{why}; {split}"
    passed: list[Passed] = []
    usable: list[str] = []
    for name in order:
        reason = beyond(providers[name], flow, machine_detection=machine_detection,
                        app_known=app_known)
        if reason is None:
            usable.append(name)
        else:
            passed.append(Passed(name, reason))
    return Decision(to, rule_name, why, usable, passed)
