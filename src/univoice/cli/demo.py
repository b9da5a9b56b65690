"""``univoice demo``: the bundled support line, run for three scripted callers."""

from __future__ import annotations

from pathlib import Path
from typing import Any

from rich.table import Table

from univoice.cli.flows import AsJson
from univoice.cli.output import emit_json, stdout

EXAMPLE = "support_ivr.yaml"
CALLERS: list[tuple[str, dict[str, Any]]] = [
    ("Ana presses 1 for sales and is put through",
     {"keys": ["1"], "transfers": [True], "talk_seconds": 42}),
    ("Ben picks support (2), technical (2), types ticket 4711#; no engineer answers",
     {"keys": ["2", "2", "4711#"], "transfers": [False], "record_seconds": 12}),
    ("Cleo stays silent at every prompt", {"keys": [None, None, None]}),
]


def example_path(name: str = EXAMPLE) -> Path:
    """Examples ship inside the wheel; in a source checkout they are at the top level."""
    for base in (Path(__file__).parent.parent / "examples",
                 Path(__file__).parents[3] / "examples"):
        if (base / name).is_file():
            return base / name
    raise FileNotFoundError(name)


def demo(as_json: AsJson = False) -> None:
    """Run the bundled support-line IVR on the simulator for three scripted callers."""
    from univoice.flow import Flow
    from univoice.plugins import providers
    from univoice.simulator import CalleeScript, simulate

    path = example_path()
    flow = Flow.from_yaml(path)
    runs = [(who, simulate(flow, CalleeScript(**script), call_id=f"demo-{i}"))
            for i, (who, script) in enumerate(CALLERS, 1)]
    support = {name: cls.capabilities.missing(flow) for name, cls in providers().items()}
    if as_json:
        emit_json({
            "flow": str(path),
            "calls": [{"caller": who, "trace": trace.to_dict()} for who, trace in runs],
            "providers": {name: {"can_run": not missing, "missing": sorted(missing)}
                          for name, missing in support.items()},
        })
        return
    stdout.print(f"[bold]{flow.name}[/]  ({path})\n")
    for who, trace in runs:
        stdout.rule(who, align="left")
        stdout.print(trace.transcript(), markup=False)
        stdout.print(f"events: {', '.join(trace.kinds())}\n", markup=False)
    table = Table(title="Which installed providers can run this flow", title_justify="left")
    table.add_column("provider")
    table.add_column("can run it")
    table.add_column("missing features")
    for name, missing in support.items():
        table.add_row(name, "[green]yes[/]" if not missing else "[red]no[/]",
                      ", ".join(f"{f} (at {paths[0]})" for f, paths in missing.items()) or "-")
    stdout.print(table)
    stdout.print("Try: univoice simulate examples/support_ivr.yaml --press 2 --press 1")
