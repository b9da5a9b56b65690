"""``univoice providers``: the capability matrix of every installed provider."""

from __future__ import annotations

from rich.table import Table

from univoice.cli.flows import AsJson
from univoice.cli.output import emit_json, stdout


def providers(
    as_json: AsJson = False,
) -> None:
    """Show which installed provider supports which flow feature and REST resource."""
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
