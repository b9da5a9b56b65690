"""``univoice flow check|schema|render|graph`` and ``univoice simulate``."""

from __future__ import annotations

from pathlib import Path
from typing import Annotated, Any

import typer

from univoice.cli.output import emit_json, issue_lines, stderr, stdout
from univoice.errors import FlowValidationError

app = typer.Typer(help="Check, render and describe flow files.", no_args_is_help=True)

AsJson = Annotated[bool, typer.Option("--json", help="Print machine-readable JSON.")]
FlowFile = Annotated[Path, typer.Argument(help="Flow file (.yaml, .yml or .json).")]


def load(path: Path) -> Any:
    from univoice.flow import Flow

    return Flow.load(path)


@app.command()
def check(
    files: Annotated[list[Path], typer.Argument(help="Flow files (.yaml, .yml or .json).")],
    as_json: AsJson = False,
) -> None:
    """Validate flow files; print every problem with its step path. Exit 1 if any is invalid."""
    results: list[dict[str, Any]] = []
    for path in files:
        try:
            flow = load(path)
        except FlowValidationError as exc:
            results.append({"file": str(path), "valid": False,
                            "errors": [vars_of(i) for i in exc.issues], "warnings": []})
            if not as_json:
                for line in issue_lines(exc):
                    stderr.print(f"error: {line}", markup=False)
            continue
        warnings = flow.warnings()
        results.append({"file": str(path), "valid": True, "errors": [],
                        "warnings": [vars_of(w) for w in warnings]})
        if not as_json:
            stdout.print(f"ok: {path} ({_count_steps(flow)} steps)", markup=False)
            for w in warnings:
                stdout.print(f"warning: {path}: {w}", markup=False)
    if as_json:
        emit_json(results)
    if not all(r["valid"] for r in results):
        raise typer.Exit(1)


@app.command()
def schema() -> None:
    """Print the JSON Schema of flow documents (for editor completion of YAML flows)."""
    from univoice.flow import Flow

    emit_json(Flow.json_schema())


@app.command()
def render(
    file: FlowFile,
    provider: Annotated[str, typer.Option("--provider", "-p", help="Provider to compile for.")],
) -> None:
    """Print the flow compiled into a provider's own document (BXML, call-flow JSON, ...)."""
    from univoice.plugins import provider_class

    flow = load(file)
    adapter = provider_class(provider).offline()  # compiling needs no account
    adapter.check_flow(flow)
    typer.echo(adapter.compile_flow(flow).body)


@app.command()
def graph(
    file: FlowFile,
    output: Annotated[Path | None, typer.Option(
        "--output", "-o", help="Write the diagram here; its suffix picks the format: .mmd "
        "(or .md, fenced) for Mermaid, .svg, .html (a self-contained page). Without it, "
        "Mermaid goes to stdout.")] = None,
    provider: Annotated[str | None, typer.Option(
        "--provider", "-p", help="Mark where this provider calls the webhook app back, "
        "and the steps it cannot run.")] = None,
) -> None:
    """Draw the flow: steps as nodes, keys, no-input, invalid, retries and no-answer as
    labelled edges. Rendered here, with no network."""
    from univoice.graph import FORMATS, Format, render

    form: Format = "mermaid"
    if output is not None:
        suffix = output.suffix.lower()
        if suffix not in FORMATS:
            stderr.print(f"error: cannot tell the format of {str(output)!r} from its suffix; "
                         f"use one of {', '.join(FORMATS)}", markup=False)
            raise typer.Exit(2)
        form = FORMATS[suffix]
    adapter = None
    if provider is not None:
        from univoice.plugins import provider_class

        adapter = provider_class(provider).offline()  # marking needs no account
    text = render(load(file), form, adapter)
    if output is None:
        typer.echo(text, nl=False)
        return
    if output.suffix.lower() == ".md":
        text = f"```mermaid\n{text}```\n"
    try:
        output.write_text(text, encoding="utf-8")
    except OSError as exc:
        stderr.print(f"error: cannot write {output}: {exc.strerror}", markup=False)
        raise typer.Exit(1) from None
    stderr.print(f"wrote {output} ({form})", markup=False)


def simulate(
    file: FlowFile,
    press: Annotated[list[str] | None, typer.Option(
        "--press", help="Keys the caller presses at the next gather (repeat, in order).")] = None,
    silence: Annotated[bool, typer.Option(
        "--silence", help="The caller presses nothing at the next gather (in order with "
        "--press).")] = False,
    no_answer: Annotated[bool, typer.Option("--no-answer", help="Nobody answers.")] = False,
    busy: Annotated[bool, typer.Option("--busy", help="The line is busy.")] = False,
    machine: Annotated[bool, typer.Option("--machine", help="A machine answers.")] = False,
    failed: Annotated[bool, typer.Option("--failed", help="The call fails.")] = False,
    transfer_no_answer: Annotated[bool, typer.Option(
        "--transfer-no-answer", help="No transfer target answers.")] = False,
    hang_up_after: Annotated[float | None, typer.Option(
        "--hang-up-after", help="The caller hangs up this many seconds after answering.")] = None,
    hang_up_at: Annotated[str | None, typer.Option(
        "--hang-up-at", help="The caller hangs up as this step starts (e.g. steps[2]).")] = None,
    as_json: AsJson = False,
) -> None:
    """Run a flow on the simulator against a scripted caller; print the transcript."""
    from univoice.simulator import CalleeScript
    from univoice.simulator import simulate as run

    modes = [m for m, on in (("no_answer", no_answer), ("busy", busy), ("machine", machine),
                             ("failed", failed)) if on]
    if len(modes) > 1:
        stderr.print("error: choose at most one of --no-answer, --busy, --machine, --failed")
        raise typer.Exit(2)
    flow = load(file)
    script = CalleeScript(
        answer=modes[0] if modes else "human",
        keys=callee_keys(press, silence),
        transfers=[False] * _count_steps(flow, "transfer") if transfer_no_answer else [],
        hang_up_after=hang_up_after,
        hang_up_at=hang_up_at,
    )
    trace = run(flow, script)
    if as_json:
        emit_json(trace.to_dict())
    else:
        stdout.print(trace.transcript(), markup=False)


def callee_keys(press: list[str] | None, silence: bool) -> list[str | None]:
    """The callee's keys per gather: each --press in order ('' and --silence: silence)."""
    return [k or None for k in press or []] + ([None] if silence else [])


def vars_of(issue: Any) -> dict[str, str]:
    return {"path": issue.path, "message": issue.message, "severity": issue.severity}


def _count_steps(flow: Any, kind: str | None = None) -> int:
    return sum(1 for _, step in flow.walk() if kind is None or step.kind == kind)
