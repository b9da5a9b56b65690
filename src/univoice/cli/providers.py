"""``univoice providers``: the capability matrix of every installed provider."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated

import typer
from rich.table import Table

from univoice.cli.config import ConfigPath
from univoice.cli.flows import AsJson
from univoice.cli.output import emit_json, stdout


def providers(
    health: Annotated[bool, typer.Option(
        "--health", help="Show each configured provider's circuit breaker instead (as "
        "the configured store holds it; shared by every process using that store).")]
    = False,
    config: ConfigPath = None,
    as_json: AsJson = False,
) -> None:
    """Show which installed provider supports which flow feature and REST resource."""
    if health:
        _health(config, as_json)
        return
    from univoice.capabilities import Feature, Resource
    from univoice.plugins import registry

    reg = registry()
    found = reg.providers()
    if as_json:
        emit_json({
            "providers": {
                name: {
                    "title": cls.title,
                    "features": sorted(cls.capabilities.features),
                    "resources": sorted(cls.capabilities.resources),
                    "notes": {str(k): v for k, v in cls.capabilities.notes.items()},
                } for name, cls in found.items()
            },
            "broken": reg.broken,
        })
        return
    table = Table(title="univoice providers", title_justify="left")
    table.add_column("capability")
    for name in found:
        table.add_column(name, justify="center")
    for group in (Feature, Resource):
        for item in group:
            marks = ["[green]✓[/]" if item in (cls.capabilities.features
                                               | cls.capabilities.resources)
                     else "[red]–[/]" for cls in found.values()]
            table.add_row(item.value, *marks)
        table.add_section()
    stdout.print(table)
    for name, cls in found.items():
        stdout.print(f"  {name}: {cls.title}", markup=False)
    for entry, why in reg.broken.items():
        stdout.print(f"  [yellow]plugin '{entry}' failed to load:[/] {why}")


def _health(path: Path | None, as_json: bool) -> None:
    from univoice.cli.routing import breaker_states, effective_routing
    from univoice.config import Config
    from univoice.errors import UnivoiceError

    config = Config.load(path)
    names = effective_routing(config).members()
    states = breaker_states(config, names)
    if isinstance(states, str):
        raise UnivoiceError(states)
    if as_json:
        emit_json({"routing_configured": config.routing is not None, "providers": states})
        return
    table = Table(title="univoice provider health", title_justify="left")
    for column in ("provider", "circuit", "accepting calls", "failures", "detail"):
        table.add_column(column)
    colours = {"closed": "green", "half_open": "yellow", "open": "red"}
    for name, state in states.items():
        table.add_row(name, f"[{colours[state['state']]}]{state['state']}[/]",
                      "yes" if state["accepting"] else "no", str(state["failures"]),
                      state["detail"])
    stdout.print(table)
    if config.routing is None:
        stdout.print(f"  no [routing] table: only '{config.provider}' is used", markup=False)
