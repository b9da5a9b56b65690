"""``univoice campaign run|status|pause|resume|cancel|export``."""

from __future__ import annotations

import time
from pathlib import Path
from typing import TYPE_CHECKING, Annotated, Any

import typer

from univoice.cli.config import ConfigPath
from univoice.cli.flows import AsJson
from univoice.cli.output import emit_json, stderr, stdout

if TYPE_CHECKING:
    from univoice.campaigns.runner import Progress

app = typer.Typer(help="Outbound campaigns: a CSV of numbers called at a provider-safe rate, "
                  "each exactly once, resumable after a crash.", no_args_is_help=True)
Db = Annotated[Path, typer.Option("--db", help="The campaign database (SQLite).")]
CampaignId = Annotated[str, typer.Argument(help="The campaign's id (campaign status lists them).")]
DEFAULT_DB = Path("univoice-campaigns.sqlite3")


class _Bar:
    """A rich progress bar: placed / answered / failed / remaining, with the ETA."""

    def __init__(self, total: int, flow_store: str | None) -> None:
        from rich.progress import (
            BarColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        self.progress = Progress(
            TextColumn("{task.description}"), BarColumn(), TextColumn("{task.completed}/"
                                                                      "{task.total}"),
            TextColumn("{task.fields[detail]}"), TimeElapsedColumn(), TimeRemainingColumn(),
            console=stderr, transient=False)
        self.task = self.progress.add_task("calls", total=total, detail="")
        self.flow_store = flow_store
        self.answered = 0
        self._looked = 0.0

    def __call__(self, p: Progress) -> None:
        c = p.counts
        done = c["placed"] + c["failed"] + c["cancelled"]
        if self.flow_store and time.monotonic() - self._looked > 2.0:
            self._looked = time.monotonic()
            self.answered = _answered(self.flow_store, p)
        remaining = c["pending"] + c["dialing"] + c["doubt"]
        self.progress.update(self.task, completed=done, detail=(
            f"placed {c['placed']} · answered {self.answered} · failed {c['failed']} · "
            f"in doubt {c['doubt']} · remaining {remaining}"))


def _answered(flow_store: str, p: Progress) -> int:
    from univoice.store import StoreUnavailable, open_store

    try:
        with open_store(flow_store) as store:
            return sum(1 for e in store.events(limit=100_000)
                       if e.event.get("type") == "call.answered")
    except StoreUnavailable:
        return 0


def run(
    source: Annotated[Path, typer.Argument(help="CSV: a 'to' column, optional 'from', and "
                                           "one column per flow variable.")],
    flow: Annotated[Path, typer.Option("--flow", "-f", help="The flow each call runs.")],
    rate: Annotated[str, typer.Option(help="Calls per second per provider (5/s, 120/min).")]
    = "5/s",
    concurrency: Annotated[int, typer.Option(help="Creates in flight at once.")] = 50,
    from_: Annotated[str | None, typer.Option("--from", help="Caller id of rows without "
                                              "a 'from' column.")] = None,
    name: Annotated[str | None, typer.Option(help="A name to find the campaign by.")] = None,
    db: Db = DEFAULT_DB,
    config: ConfigPath = None,
    as_json: AsJson = False,
) -> None:
    """Check every row, then call them at the rate; Ctrl-C (or a crash) stops, and
    'campaign resume ID' continues with no row called twice and none skipped."""
    from univoice import campaigns
    from univoice.config import Config

    campaign, bad = campaigns.create(source, flow, rate=rate, concurrency=concurrency,
                                     name=name, from_=from_, db=db)
    for row in bad:
        stderr.print(f"skipped {source}:{row}", markup=False)
    stderr.print(f"campaign {campaign.id}: {len(bad)} bad rows never dialled", markup=False)
    _run(campaign.id, db, config, as_json, Config.load(config).flow_store)


def resume(campaign_id: CampaignId, db: Db = DEFAULT_DB, config: ConfigPath = None,
           as_json: AsJson = False) -> None:
    """Continue a paused or interrupted campaign: rows whose call may have been placed are
    looked up first, never dialled blind."""
    from univoice.config import Config

    _run(campaign_id, db, config, as_json, Config.load(config).flow_store)


def _run(campaign_id: str, db: Path, config: Path | None, as_json: bool,
         flow_store: str) -> None:
    from univoice import campaigns

    counts0 = campaigns.status(campaign_id, db=db)["rows"]
    total = sum(v for k, v in counts0.items() if k != "bad")
    bar = None if as_json else _Bar(total, flow_store)
    try:
        if bar is not None:
            with bar.progress:
                counts = campaigns.run(campaign_id, db=db, config=config, on_progress=bar)
        else:
            counts = campaigns.run(campaign_id, db=db, config=config)
    except KeyboardInterrupt:
        stderr.print(f"interrupted: 'univoice campaign resume {campaign_id}' continues",
                     markup=False)
        raise typer.Exit(130) from None
    shown = campaigns.status(campaign_id, db=db)
    if as_json:
        emit_json(shown)
        return
    stdout.print(f"campaign {campaign_id}: {shown['status']}; " + ", ".join(
        f"{k} {v}" for k, v in counts.items() if v), markup=False)
    if counts["doubt"]:
        stdout.print(f"  {counts['doubt']} rows could not be settled (their lookup failed): "
                     f"'univoice campaign resume {campaign_id}' tries again", markup=False)


def status(campaign_id: Annotated[str | None, typer.Argument(help="The campaign (default: "
                                                             "list them all).")] = None,
           db: Db = DEFAULT_DB, as_json: AsJson = False) -> None:
    """How far a campaign got (row counts by state), or every campaign in the database."""
    from univoice import campaigns
    from univoice.campaigns.state import CampaignDB

    if campaign_id is None:
        with CampaignDB(db) as store:
            shown: Any = [campaigns.status(c.id, db=db) for c in store.campaigns()]
    else:
        shown = campaigns.status(campaign_id, db=db)
    if as_json:
        emit_json(shown)
        return
    for item in shown if isinstance(shown, list) else [shown]:
        rows = item["rows"]
        stdout.print(f"{item['id']} {item['name'] or ''} {item['status']}: " + ", ".join(
            f"{k} {v}" for k, v in rows.items() if v) + f" (rate {item['rate']:g}/s)",
            markup=False)


def pause(campaign_id: CampaignId, db: Db = DEFAULT_DB) -> None:
    """Stop dialling (a running campaign stops within seconds); resume continues."""
    from univoice import campaigns

    stdout.print(f"{campaigns.pause(campaign_id, db=db).id}: paused", markup=False)


def cancel(campaign_id: CampaignId, db: Db = DEFAULT_DB) -> None:
    """Stop for good: rows not yet dialled are cancelled."""
    from univoice import campaigns

    stdout.print(f"{campaigns.cancel(campaign_id, db=db).id}: cancelled", markup=False)


def export(
    campaign_id: CampaignId,
    fmt: Annotated[str, typer.Option("--format", help="csv or json.")] = "csv",
    output: Annotated[Path | None, typer.Option("-o", "--output", help="File to write "
                                                "(default: standard output).")] = None,
    db: Db = DEFAULT_DB,
    config: ConfigPath = None,
) -> None:
    """Every row joined to its call's outcome from the webhook events (answered, how it
    ended, keys pressed, machine detection)."""
    from univoice import campaigns
    from univoice.config import Config

    if fmt not in ("csv", "json"):
        raise typer.BadParameter("--format must be csv or json")
    text = campaigns.export(campaign_id, "json" if fmt == "json" else "csv", db=db,
                            flow_store=Config.load(config).flow_store)
    if output is None:
        stdout.out(text, end="", highlight=False)
    else:
        output.write_text(text, encoding="utf-8")
        stderr.print(f"wrote {output}", markup=False)


for command in (run, status, pause, resume, cancel, export):
    app.command(command.__name__)(command)
