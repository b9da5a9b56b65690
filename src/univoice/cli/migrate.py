"""``univoice convert`` (a native document -> a neutral flow, or another provider's
document) and ``univoice port`` (how each installed provider would run a flow)."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Annotated

import typer

from univoice.cli.output import emit_json, stderr, stdout

AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]


def convert(
    file: Annotated[Path | None, typer.Argument(
        help="The native document (BXML, call-flow JSON, callFlow JSON); '-' reads stdin.",
        show_default=False)] = None,
    from_: Annotated[str, typer.Option("--from", help="The provider the document is for.")] = "",
    to: Annotated[str | None, typer.Option(
        "--to", help="Print the flow compiled for this provider instead of neutral YAML.")
    ] = None,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the result to this file.")] = None,
    stored: Annotated[str | None, typer.Option(
        "--stored", help="Read the flow stored at the provider under this id (REST, with "
        "the configured credentials) instead of a file.")] = None,
    as_json: AsJson = False,
) -> None:
    """Convert a provider's native document into a neutral flow (YAML), or into another
    provider's document; report every construct that changed meaning or did not carry over.
    """
    from univoice.plugins import provider_class

    if not from_:
        stderr.print("error: --from names the provider the document is for")
        raise typer.Exit(2)
    if (file is None) == (stored is None):
        stderr.print("error: give one of FILE or --stored ID")
        raise typer.Exit(2)
    importer = provider_class(from_).offline()
    imported = importer.import_document(_source(file, from_, stored))
    document = None
    if to is not None:
        target = provider_class(to).offline()
        target.check_flow(imported.flow)
        document = target.compile_flow(imported.flow).body
    text = document if document is not None else imported.flow.to_yaml()
    if as_json:
        emit_json({"provider": imported.provider, "flow": imported.flow.to_dict(),
                   "document": document, "notes": [n.to_dict() for n in imported.notes]})
    elif output is not None:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    else:
        typer.echo(text.rstrip("\n"))
    if as_json and output is not None:
        output.write_text(text if text.endswith("\n") else text + "\n", encoding="utf-8")
    if not as_json:  # the report goes to stderr: stdout stays the document alone
        if imported.notes:
            stderr.print(f"{len(imported.notes)} construct(s) did not carry over as they "
                         "were:", markup=False)
            for note in imported.notes:
                stderr.print(f"  {note}", markup=False)
        else:
            stderr.print("everything carried over", markup=False)


def _source(file: Path | None, provider: str, stored: str | None) -> bytes:
    if stored is not None:
        from univoice import Voice

        with Voice.from_config(provider=provider) as voice:
            found = voice.flows.get(stored)
        document = found.document if found.document is not None else found.raw
        return json.dumps(document).encode()
    assert file is not None
    if str(file) == "-":
        import sys

        return sys.stdin.buffer.read()
    from univoice.migrate import MAX_DOCUMENT, InvalidDocument

    try:
        with file.open("rb") as handle:
            data = handle.read(MAX_DOCUMENT + 1)
    except OSError as exc:
        from univoice.errors import FlowIssue

        raise InvalidDocument([FlowIssue("", f"cannot read it: {exc.strerror}")],
                              source=str(file)) from None
    return data


def port(
    file: Annotated[Path, typer.Argument(help="Flow file (.yaml, .yml or .json).")],
    as_json: AsJson = False,
) -> None:
    """For a neutral flow, how every installed provider would run it: natively, with the
    webhook app, or not at all (which step, and why)."""
    from rich.table import Table
    from rich.text import Text

    from univoice.cli.flows import load
    from univoice.migrate import Runs, portability
    from univoice.plugins import provider_class, provider_names

    flow = load(file)
    rows = [portability(flow, provider_class(name).offline())
            for name in provider_names()]
    if as_json:
        emit_json([row.to_dict() for row in rows])
        return
    table = Table(title=str(file))
    for column in ("provider", "runs", "step", "how / why not"):
        table.add_column(column, overflow="fold")
    for row in rows:
        style = {Runs.NATIVELY: "green", Runs.WITH_APP: "yellow", Runs.CANNOT: "red"}[row.runs]
        table.add_row(row.provider, Text(row.runs.value, style=style), Text(row.step or ""),
                      Text(row.detail))
    stdout.print(table)
