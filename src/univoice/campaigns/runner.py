"""Running a campaign: rows dialled at the paced rate, each exactly once, resumable.

For each row: claim it (``dialing``, committed), wait for the provider's next slot, create
the call with the row's tag (``<campaign>-<line>``), record the outcome. A create that
ends in ``AmbiguousCreate`` leaves the row in doubt; so does a runner that dies between
the claim and the record. Rows in doubt are looked up by their tag
(``calls.find_created``, dated when their create was sent) before anything else is
dialled, and after the last row: found, they are placed; shown absent, they are dialled
again; otherwise they stay in doubt (never dialled blind), and the run ends ``paused``.
"""

from __future__ import annotations

import asyncio
import contextlib
import logging
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from typing import Any

from univoice.campaigns.rate import LocalPacer, Pacer
from univoice.campaigns.rows import personalize
from univoice.campaigns.state import CampaignDB, CampaignError, RowState, me
from univoice.errors import (
    AmbiguousCreate,
    ConfigError,
    InvalidInput,
    NoRouteAvailable,
    UnivoiceError,
    UnsupportedFeature,
    one_line,
)
from univoice.flow import Flow

log = logging.getLogger("univoice.campaigns")
HEARTBEAT = 2.0  # seconds between lease renewals (and pause / cancel checks)
SETTLE_ROUNDS = 3  # passes of lookups and redials before doubtful rows are left for later


@dataclass
class Progress:
    counts: dict[str, int]
    started: float
    placed_now: int = 0  # placed by this run


@dataclass
class _Run:
    db: CampaignDB
    campaign: str
    voice: Any  # an AsyncVoice (or AsyncRoutedVoice)
    flow: Flow
    pacer: Pacer
    owner: str
    caller_id: str | None = None
    stop: asyncio.Event = field(default_factory=asyncio.Event)
    placed: int = 0
    _flows: dict[tuple[tuple[str, str], ...], Flow] = field(default_factory=dict)

    def flow_for(self, row: RowState) -> Flow:
        if not self.flow.inputs:
            return self.flow
        key = tuple(sorted((k, row.variables.get(k, "")) for k in self.flow.inputs))
        if key not in self._flows:
            if len(self._flows) > 1024:
                self._flows.clear()
            self._flows[key] = personalize(self.flow, dict(key))
        return self._flows[key]

    def provider_for(self, row: RowState, flow: Flow) -> str:
        route = getattr(self.voice, "route", None)
        if route is not None:
            order = route(row.to, flow=flow, tag=row.tag).order
            if order:
                return str(order[0])
        return str(self.voice.provider.name)

    async def dial(self, row: RowState) -> None:
        try:
            flow = self.flow_for(row)
            await self.pacer.wait(self.provider_for(row, flow))
            call = await self.voice.calls.create(row.to, row.from_ or self.caller_id,
                                                 flow=flow, tag=row.tag)
        except AmbiguousCreate as exc:
            self.db.doubt(row, _text(exc))
        except (InvalidInput, UnsupportedFeature, ConfigError, NoRouteAvailable) as exc:
            self.db.failed(row, _text(exc))  # refused before any call could be placed
        except UnivoiceError as exc:
            if exc.nothing_created:
                self.db.failed(row, _text(exc), getattr(exc, "provider", None))
            else:
                self.db.doubt(row, _text(exc))
        except BaseException:
            self.db.doubt(row, "the runner stopped while dialing")
            raise
        else:
            self.db.placed(row, call.id, call.provider)
            self.placed += 1

    async def worker(self) -> None:
        while not self.stop.is_set():
            rows = self.db.claim(self.campaign, 1)
            if not rows:
                return
            await self.dial(rows[0])

    async def settle(self) -> int:
        """Look up every doubtful row; returns how many were found absent (to redial)."""
        absent = 0
        for row in self.db.doubtful(self.campaign):
            since = datetime.fromtimestamp(row.claimed_at or 0, UTC)
            try:
                found = await self.voice.calls.find_created(
                    row.to, row.from_ or self.caller_id, tag=row.tag, flow=self.flow_for(row),
                    since=since)
            except UnivoiceError as exc:
                log.warning("line %d stays in doubt: %s", row.line, _text(exc))
                continue
            if found is not None:
                self.db.placed(row, found.id, found.provider)
            else:
                self.db.redial(row)
                absent += 1
        return absent

    async def heartbeat(self) -> None:
        while not self.stop.is_set():
            await asyncio.sleep(HEARTBEAT)
            if self.db.renew(self.campaign, self.owner) in ("paused", "cancelled"):
                self.stop.set()


def _text(error: BaseException) -> str:
    return f"{type(error).__name__}: {one_line(str(error))[:500]}"


async def run(db: CampaignDB, campaign_id: str, voice: Any, *,
              pacer: Pacer | None = None, concurrency: int | None = None,
              on_progress: Callable[[Progress], None] | None = None,
              owner: str | None = None) -> dict[str, int]:
    """Run (or resume) a campaign with an ``AsyncVoice``; the row counts at the end."""
    owner = owner or me()
    campaign = db.get(campaign_id)
    if campaign.caller_id is None and not hasattr(voice, "route") and any(
            r.from_ is None for r in db.rows(campaign_id) if r.status == "pending"):
        raise CampaignError("rows without a 'from' column need a caller id: give the "
                            "campaign one (--from), or route calls with a [routing] "
                            "caller_id table")
    campaign = db.take(campaign_id, owner)
    flow = Flow.from_dict(campaign.flow)
    job = _Run(db, campaign_id, voice, flow, pacer or LocalPacer(campaign.rate), owner,
               campaign.caller_id)
    started = asyncio.get_running_loop().time()
    beat = asyncio.create_task(job.heartbeat())
    ticker = asyncio.create_task(_report(db, campaign_id, job, started, on_progress))
    try:
        for _ in range(SETTLE_ROUNDS):
            await job.settle()
            if job.stop.is_set():
                break
            workers = [asyncio.create_task(job.worker())
                       for _ in range(concurrency or campaign.concurrency)]
            await asyncio.gather(*workers)
            if job.stop.is_set() or not await job.settle():
                break
    finally:
        job.stop.set()
        for task in (beat, ticker):
            task.cancel()
            with contextlib.suppress(asyncio.CancelledError):
                await task
        db.release(campaign_id, owner)
    counts = db.counts(campaign_id)
    if on_progress is not None:
        on_progress(Progress(counts, started, job.placed))
    return counts


async def _report(db: CampaignDB, campaign_id: str, job: _Run, started: float,
                  on_progress: Callable[[Progress], None] | None) -> None:
    if on_progress is None:
        return
    while True:
        on_progress(Progress(db.counts(campaign_id), started, job.placed))
        await asyncio.sleep(0.5)
