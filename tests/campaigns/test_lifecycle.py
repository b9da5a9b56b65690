"""Pause, resume, cancel, status and export, through the Python API and the CLI."""

from __future__ import annotations

import asyncio
import json
from collections.abc import Callable
from pathlib import Path

import pytest

import univoice
from tests.campaigns.test_campaign_faults import config_for, exactly_once, write_flow
from tests.cli.conftest import Result, cli
from tests.reliability.harness import http, number, serve
from univoice import campaigns
from univoice.campaigns.state import CampaignError
from univoice.store import open_store

__all__ = ["cli"]
FROM = "+3197058016631"


def write_list(folder: Path, rows: int) -> Path:
    path = folder / "list.csv"
    path.write_text("to,name\n" + "".join(f"{number(i)},N{i}\n" for i in range(rows)))
    return path


@pytest.mark.anyio
async def test_pause_stops_dialling_and_resume_finishes_exactly_once(
        tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> None:
    from univoice.campaigns import runner

    monkeypatch.setattr(runner, "HEARTBEAT", 0.1)
    db = tmp_path / "c.sqlite3"
    with serve("bird") as server:
        campaign, _ = campaigns.create(write_list(tmp_path, 120), write_flow(tmp_path),
                                       rate="40/s", from_=FROM, db=db)
        async with univoice.AsyncVoice("bird", http=http(1.0), **server.settings) as voice:
            running = asyncio.create_task(campaigns.arun(campaign.id, voice, db=db))
            await asyncio.sleep(1.0)
            campaigns.pause(campaign.id, db=db)
            paused = await asyncio.wait_for(running, 10)
            assert 0 < paused["placed"] < 120 and paused["pending"] > 0
            assert campaigns.status(campaign.id, db=db)["status"] == "paused"
            await asyncio.sleep(0.3)  # paused: nothing more is dialled
            assert sum(1 for i in range(120) if server.app.placed(number(i))) == \
                paused["placed"]
            done = await campaigns.arun(campaign.id, voice, db=db)
        assert done["placed"] == 120
        exactly_once(server, 120)
        assert campaigns.status(campaign.id, db=db)["status"] == "done"
        with pytest.raises(CampaignError, match="is done"):
            await campaigns.arun(campaign.id, voice, db=db)


@pytest.mark.anyio
async def test_cancel_leaves_undialled_rows_alone(tmp_path: Path,
                                                  monkeypatch: pytest.MonkeyPatch) -> None:
    from univoice.campaigns import runner

    monkeypatch.setattr(runner, "HEARTBEAT", 0.1)
    db = tmp_path / "c.sqlite3"
    with serve("bird") as server:
        campaign, _ = campaigns.create(write_list(tmp_path, 100), write_flow(tmp_path),
                                       rate="40/s", from_=FROM, db=db)
        async with univoice.AsyncVoice("bird", http=http(1.0), **server.settings) as voice:
            running = asyncio.create_task(campaigns.arun(campaign.id, voice, db=db))
            await asyncio.sleep(0.8)
            campaigns.cancel(campaign.id, db=db)
            counts = await asyncio.wait_for(running, 10)
        placed = [i for i in range(100) if server.app.placed(number(i))]
    assert counts["cancelled"] > 0 and counts["placed"] == len(placed)
    assert counts["placed"] + counts["cancelled"] == 100
    with pytest.raises(CampaignError, match="cancelled"):
        await campaigns.arun(campaign.id, univoice.AsyncVoice("simulator"), db=db)


def test_a_second_runner_is_refused_while_the_first_lives(tmp_path: Path) -> None:
    from univoice.campaigns.state import CampaignDB

    db = tmp_path / "c.sqlite3"
    campaign, _ = campaigns.create(write_list(tmp_path, 3), write_flow(tmp_path),
                                   from_=FROM, db=db)
    with CampaignDB(db) as store:
        store.take(campaign.id, "elsewhere:1")  # a runner on another machine
        store.take(campaign.id, "elsewhere:1")  # the same runner again: fine
    with CampaignDB(db) as store:
        import os
        import socket

        store.take(campaign.id, f"{socket.gethostname()}:{os.getpid()}")  # not alive there
        with pytest.raises(CampaignError, match="is being run by"):
            store.take(campaign.id, "other:2")


def test_rows_without_a_caller_id_are_refused_before_dialling(tmp_path: Path) -> None:
    db = tmp_path / "c.sqlite3"
    campaign, _ = campaigns.create(write_list(tmp_path, 3), write_flow(tmp_path), db=db)
    with pytest.raises(CampaignError, match="need a caller id"):
        campaigns.run(campaign.id, univoice.AsyncVoice("simulator"), db=db)
    assert campaigns.status(campaign.id, db=db)["rows"]["pending"] == 3


def test_the_cli_runs_reports_and_exports(cli: Callable[..., Result], tmp_path: Path,
                                          monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.chdir(tmp_path)
    with serve("bird") as server:
        config = config_for(server, tmp_path)
        monkeypatch.setenv("UNIVOICE_CONFIG", str(config))
        listing = write_list(tmp_path, 20)
        listing.write_text(listing.read_text() + "0612,Bad\n" + f"{number(0)},Twice\n")
        run = cli("campaign", "run", str(listing), "--flow", str(write_flow(tmp_path)),
                  "--rate", "50/s", "--from", FROM, "--json")
        assert run.code == 0, run.err
        shown = json.loads(run.out)
        assert shown["status"] == "done" and shown["rows"]["placed"] == 20
        assert shown["rows"]["bad"] == 2
        assert "line 22" in run.err and "line 23" in run.err and "already listed" in run.err
        exactly_once(server, 20)
        campaign_id = shown["id"]
        call_id = server.app.placed(number(3))[0]
    # The webhook app recorded this call's events: the export joins them.
    with open_store(f"sqlite:///{tmp_path / 'flows.db'}") as store:
        for kind, extra in (("call.answered", {}),
                            ("gather.digits", {"digits": "12"}),
                            ("call.completed", {"end_reason": "hangup", "duration": 31.0})):
            store.claim_event(f"bird:{kind}:{call_id}", "bird",
                              {"type": kind, "id": kind, "provider": "bird",
                               "call_id": call_id, **extra})
    exported = cli("campaign", "export", campaign_id)
    assert exported.code == 0, exported.err
    lines = exported.out.splitlines()
    assert lines[0].startswith("line,to,status,call_id,provider")
    assert len(lines) == 21
    row = next(line for line in lines if number(3) in line)
    assert f",{call_id},bird,,true,hangup,31.0,12," in row
    records = json.loads(cli("campaign", "export", campaign_id, "--format", "json").out)
    assert records[3]["answered"] is True and records[3]["variables"] == {"name": "N3"}
    listing_all = cli("campaign", "status")
    assert campaign_id in listing_all.out and "done" in listing_all.out
    assert cli("campaign", "pause", campaign_id).code == 1  # done: nothing to pause
    bad = cli("campaign", "run", str(listing), "--flow", str(write_flow(tmp_path)),
              "--rate", "fast")
    assert bad.code == 1 and "not a rate" in bad.err
