"""The ``univoice`` command line (typer + rich).

Errors print one clear line per problem and exit 1 (invalid input) or 2 (usage);
never a traceback unless ``UNIVOICE_DEBUG=1`` asks for one.
"""

from __future__ import annotations

import os
import sys
from collections.abc import Sequence

import typer

from univoice import __version__
from univoice.cli import campaigns, config, demo, events, flows, migrate, providers, routing
from univoice.cli.output import fail, stderr
from univoice.errors import UnivoiceError

app = typer.Typer(
    name="univoice",
    help="Write a phone-call flow once; run it on MessageBird, Bird, Bandwidth or the "
    "built-in simulator.",
    no_args_is_help=True,
    add_completion=False,
    pretty_exceptions_enable=False,
    rich_markup_mode=None,
)
app.add_typer(flows.app, name="flow")
app.add_typer(config.app, name="config")
app.add_typer(events.app, name="events")
app.add_typer(campaigns.app, name="campaign")
app.command("serve")(events.serve)
app.command("call")(config.call)
app.command("simulate")(flows.simulate)
app.command("demo")(demo.demo)
app.command("providers")(providers.providers)
app.command("convert")(migrate.convert)
app.command("port")(migrate.port)
app.command("route")(routing.route)


def _version(value: bool) -> None:
    if value:
        typer.echo(f"univoice {__version__}")
        raise typer.Exit()


@app.callback()
def _root(
    version: bool = typer.Option(False, "--version", callback=_version, is_eager=True,
                                 help="Print the version and exit."),
) -> None:
    """univoice: one voice API over several providers."""


def ordered_args(args: Sequence[str]) -> list[str]:
    """Spell ``--silence`` as an empty ``--press`` so presses and silences keep their order.

    click gathers each repeated option into its own list, which would lose the order of
    ``--press 1 --silence --press 3``; as one option the order is kept.
    """
    return ["--press=" if a == "--silence" else a for a in args]


def main(args: Sequence[str] | None = None) -> None:
    """The console script. typer handles usage errors (exit 2); univoice's own errors
    print one line per problem and exit 1; anything else is an internal error (70)."""
    argv = ordered_args(sys.argv[1:] if args is None else args)
    command = typer.main.get_command(app)
    try:
        command.main(argv, prog_name="univoice", standalone_mode=True)
    except UnivoiceError as exc:
        fail(exc)
    except Exception as exc:
        if os.environ.get("UNIVOICE_DEBUG"):
            raise
        stderr.print(f"internal error: {type(exc).__name__}: {exc} "
                     "(set UNIVOICE_DEBUG=1 for the traceback)", markup=False)
        sys.exit(70)
