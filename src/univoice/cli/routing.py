"""``univoice route TO --flow FILE``: which provider a call would take, and why."""

from __future__ import annotations

from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from univoice.cli.config import ConfigPath
from univoice.cli.flows import AsJson
from univoice.cli.output import emit_json, stdout

if TYPE_CHECKING:
    from univoice.config import Config
    from univoice.routing.config import RoutingConfig


def effective_routing(config: Config) -> RoutingConfig:
    """The configured routing, or the one route of a single-provider configuration."""
    from univoice.routing.config import RoutingConfig

    return config.routing or RoutingConfig(providers=[config.provider])


def breaker_states(config: Config, names: list[str]) -> dict[str, dict[str, Any]] | str:
    """Each provider's breaker as the configured store holds it, or why it cannot be read."""
    from univoice.routing.breaker import Breakers
    from univoice.store import StoreUnavailable, open_store

    try:
        with open_store(config.flow_store) as store:
            return Breakers(store, effective_routing(config).breaker).states(names)
    except StoreUnavailable as exc:
        return f"the store is unavailable: {exc}"


def route(
    to: Annotated[str, typer.Argument(help="The number to call (E.164) or a SIP URI.")],
    flow: Annotated[Path | None, typer.Option("--flow", "-f", help="The flow the call runs.")]
    = None,
    tag: Annotated[str | None, typer.Option(
        help="The call's tag (a weighted split is decided by it; default: a new one).")]
    = None,
    machine_detection: Annotated[bool, typer.Option(
        "--machine-detection", help="The call asks for answering-machine detection.")]
    = False,
    config: ConfigPath = None,
    as_json: AsJson = False,
) -> None:
    """Explain which provider a call to TO would take, in which order, and why: the
    matching rule, the split, providers that cannot run the flow, open circuits."""
    import os

    from univoice.config import Config
    from univoice.flow import Flow
    from univoice.plugins import provider_class
    from univoice.routing.decide import check_destination, decide

    cfg = Config.load(config)
    routing = effective_routing(cfg)
    check_destination(to)
    neutral = Flow.load(flow) if flow is not None else None
    names = routing.members()
    providers = {name: provider_class(name).offline() for name in names}
    chosen_tag = tag or f"uv-{os.urandom(12).hex()}"
    decision = decide(routing, providers, to, tag=chosen_tag, flow=neutral,
                      machine_detection=machine_detection,
                      app_known=cfg.public_url is not None)
    health = breaker_states(cfg, decision.order)
    if as_json:
        emit_json({"to": to, "rule": decision.rule, "why": decision.why,
                   "tag": chosen_tag, "order": decision.order,
                   "passed_over": {p.provider: p.why for p in decision.passed},
                   "breakers": health, "routing_configured": cfg.routing is not None})
        return
    if cfg.routing is None:
        stdout.print(f"no [routing] table: every call goes to '{cfg.provider}'", markup=False)
    for line in decision.lines():
        stdout.print(line, markup=False)
    if isinstance(health, str):
        stdout.print(f"  (circuit breakers not shown: {health})", markup=False)
        return
    for name in decision.order:
        state = health[name]
        if not state["accepting"]:
            stdout.print(f"  !  {name}: {state['detail']}: skipped now", markup=False)
    if decision.order and all(not health[n]["accepting"] for n in decision.order):
        stdout.print("  every provider of this route is unavailable now", markup=False)
