"""``univoice config show|check`` and ``univoice call``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import Annotated

import typer

from univoice.cli.flows import AsJson, callee_keys
from univoice.cli.output import emit_json, stderr, stdout

app = typer.Typer(help="Show and check the configuration (univoice.toml + UNIVOICE_*).",
                  no_args_is_help=True)
ConfigPath = Annotated[Path | None, typer.Option(
    "--config", "-c", help="Config file (default: $UNIVOICE_CONFIG or ./univoice.toml).")]


@app.command()
def show(config: ConfigPath = None, as_json: AsJson = False) -> None:
    """Print the effective configuration, secrets masked."""
    from univoice.config import Config
    from univoice.flow.documents import dump_yaml

    shown = Config.load(config).shown()
    if as_json:
        emit_json(shown)
    else:
        stdout.print(dump_yaml(shown).rstrip(), markup=False)


@app.command()
def check(config: ConfigPath = None) -> None:
    """Check that the chosen provider has everything it needs; say precisely what is not."""
    from univoice.config import Config

    cfg = Config.load(config)
    missing = cfg.missing()
    if missing:
        for line in missing:
            stderr.print(f"error: {line}", markup=False)
        raise typer.Exit(1)
    stdout.print(f"ok: provider '{cfg.provider}' is configured"
                 f"{f' ({cfg.source})' if cfg.source else ''}", markup=False)


def call(
    to: Annotated[str, typer.Argument(help="The number to call (E.164) or a SIP URI.")],
    flow: Annotated[Path, typer.Option("--flow", "-f", help="The flow file to run.")],
    from_: Annotated[str, typer.Option("--from", help="Caller id (E.164).")] = "+31201234567",
    press: Annotated[list[str] | None, typer.Option(
        "--press", help="(simulator) Keys the callee presses at the next gather.")] = None,
    silence: Annotated[bool, typer.Option(
        "--silence", help="(simulator) The callee is silent at the next gather.")] = False,
    speed: Annotated[float, typer.Option(
        help="(simulator) Virtual seconds per real second; 0 = instant.")] = 20.0,
    config: ConfigPath = None,
    wait: Annotated[bool, typer.Option(help="Follow the call until it ends.")] = True,
    as_json: AsJson = False,
) -> None:
    """Place a call that runs FLOW on the configured provider (default: the simulator)."""
    from univoice.client import Voice
    from univoice.config import Config

    cfg = Config.load(config)
    if cfg.provider == "simulator":
        script = {"keys": callee_keys(press, silence)}
        cfg = cfg.with_table("simulator", {"speed": speed, "callee": script})
    elif press or silence:
        stderr.print("error: --press and --silence script the simulator's callee; the "
                     f"configured provider is '{cfg.provider}'", markup=False)
        raise typer.Exit(2)
    # public_url and flow_store as Voice.from_config passes them: a provider that fetches
    # each document from the webhook app (Bandwidth) cannot run a flow without them.
    with Voice(cfg.make_provider(), http=cfg.http, public_url=cfg.public_url,
               flow_store=cfg.flow_store) as voice:
        placed = voice.calls.create(to, from_, flow=flow)
        if not as_json:
            stdout.print(f"call {placed.id} on {cfg.provider}: {placed.status}", markup=False)
        current, last = placed, placed.status
        while wait and not current.finished:
            time.sleep(0.25)
            current = voice.calls.get(placed.id)
            if current.status != last and not as_json:
                stdout.print(f"  {current.status}", markup=False)
            last = current.status
        recordings = list(voice.recordings.list(call_id=placed.id)) if wait else []
    if as_json:
        emit_json({"call": current.model_dump(mode="json", by_alias=True),
                   "recordings": [r.model_dump(mode="json") for r in recordings]})
        return
    if current.finished:
        stdout.print(f"ended: {current.end_reason or current.status}"
                     f"{f' after {current.duration} s' if current.duration else ''}",
                     markup=False)
    for rec in recordings:
        stdout.print(f"  recording {rec.id}: {rec.duration} s {rec.format}", markup=False)

