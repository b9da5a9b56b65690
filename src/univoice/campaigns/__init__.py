"""Outbound campaigns: a list of numbers called at a provider-safe rate, each exactly once.

    from univoice import campaigns

    campaign, bad = campaigns.create("reminders.csv", "flows/reminder.yaml", rate="5/s")
    counts = campaigns.run(campaign.id)           # Ctrl-C, a crash: run it again to resume
    print(campaigns.status(campaign.id))
    open("results.csv", "w").write(campaigns.export(campaign.id, "csv"))

The same as ``univoice campaign run|status|pause|resume|cancel|export``. State lives in one
SQLite file (``univoice-campaigns.sqlite3`` unless ``db=`` says otherwise).
"""

from __future__ import annotations

import asyncio
from pathlib import Path
from typing import Any, Literal

from univoice.campaigns.rate import parse_rate
from univoice.campaigns.rows import BadRow, read
from univoice.campaigns.runner import Progress
from univoice.campaigns.state import DEFAULT_DB, Campaign, CampaignDB, CampaignError
from univoice.errors import FlowIssue, InvalidArguments
from univoice.flow import Flow

__all__ = ["DEFAULT_DB", "BadRow", "Campaign", "CampaignError", "Progress", "arun", "cancel",
           "create", "export", "pause", "resume", "run", "status"]


def create(source: str | Path, flow: Flow | str | Path, *, rate: str | float = "5/s",
           concurrency: int = 50, name: str | None = None, from_: str | None = None,
           db: str | Path = DEFAULT_DB) -> tuple[Campaign, list[BadRow]]:
    """Check every row of the list at ``source`` against ``flow`` and store the campaign
    (nothing is dialled). Bad rows are returned, never dialled. ``from_``: the caller id
    of rows without a ``from`` column (a routed client can take each provider's from its
    ``caller_id`` table instead)."""
    neutral = flow if isinstance(flow, Flow) else Flow.load(flow)
    if from_ is not None:
        from univoice.campaigns.rows import _number_problem

        if (problem := _number_problem(from_)) is not None:
            raise InvalidArguments([FlowIssue("from", problem)])
    per_second = parse_rate(rate)
    if not 1 <= concurrency <= 10_000:
        raise InvalidArguments([FlowIssue("concurrency", "must be between 1 and 10000")])
    calls = read(source, neutral)
    with CampaignDB(db) as store:
        campaign = store.create(calls, neutral.to_dict(), rate=per_second,
                                concurrency=concurrency, name=name, caller_id=from_)
    return campaign, calls.bad


async def arun(campaign_id: str, voice: Any = None, *, db: str | Path = DEFAULT_DB,
               config: str | Path | None = None, on_progress: Any = None,
               rate: str | float | None = None, concurrency: int | None = None
               ) -> dict[str, int]:
    """Run or resume the campaign with ``voice`` (an ``AsyncVoice``; default: from the
    configuration, routed if it has a ``[routing]`` table); the row counts at the end."""
    from univoice.campaigns.rate import LocalPacer
    from univoice.campaigns.runner import run as run_campaign
    from univoice.client import AsyncVoice

    own = voice is None
    client = AsyncVoice.from_config(config) if own else voice
    try:
        with CampaignDB(db) as store:
            pacer = LocalPacer(parse_rate(rate)) if rate is not None else None
            return await run_campaign(store, campaign_id, client, pacer=pacer,
                                      concurrency=concurrency, on_progress=on_progress)
    finally:
        if own:
            await client.aclose()


def run(campaign_id: str, voice: Any = None, **options: Any) -> dict[str, int]:
    """``arun`` for code that is not async."""
    return asyncio.run(arun(campaign_id, voice, **options))


resume = run  # a run picks up where the last one stopped


def status(campaign_id: str, *, db: str | Path = DEFAULT_DB) -> dict[str, Any]:
    with CampaignDB(db) as store:
        campaign = store.get(campaign_id)
        return {"id": campaign.id, "name": campaign.name, "status": campaign.status,
                "source": campaign.source, "rate": campaign.rate,
                "concurrency": campaign.concurrency, "runner": campaign.owner,
                "rows": store.counts(campaign_id)}


def pause(campaign_id: str, *, db: str | Path = DEFAULT_DB) -> Campaign:
    """Stop dialling (a running runner stops within seconds); ``resume`` continues."""
    with CampaignDB(db) as store:
        return store.set_status(campaign_id, "paused")


def cancel(campaign_id: str, *, db: str | Path = DEFAULT_DB) -> Campaign:
    """Stop for good: rows not yet dialled are cancelled."""
    with CampaignDB(db) as store:
        return store.set_status(campaign_id, "cancelled")


def export(campaign_id: str, fmt: Literal["csv", "json"] = "csv", *,
           db: str | Path = DEFAULT_DB, flow_store: str | None = None) -> str:
    """Every row with its call's outcome from the webhook events in ``flow_store``
    (default: the configuration's)."""
    from univoice.campaigns.outcomes import collect, joined, to_csv, to_json
    from univoice.store import open_store

    if flow_store is None:
        from univoice.config import Config

        flow_store = Config.load().flow_store
    with CampaignDB(db) as store:
        rows = store.rows(campaign_id)
    with open_store(flow_store) as events:
        outcomes = collect(events, (r.call_id for r in rows if r.call_id))
    records = joined(rows, outcomes)
    return to_json(records) if fmt == "json" else to_csv(records)
