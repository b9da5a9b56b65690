"""Campaigns against a fault-injecting provider server: the rate is kept, every row is
called exactly once, through random faults and through SIGKILLs of the runner.

In-process: 1,000 rows through ``AsyncVoice`` against a Bandwidth server failing ~10% of
creates and ~5% of lookups; the placed calls' measured rate stays within 5% of the limit.
Out of process: ``univoice campaign run`` against a Bird server, SIGKILLed three times at
seeded random moments and resumed each time; no number is called twice, none skipped.

Long variant: ``UNIVOICE_LONG=1`` uses 10,000 rows.
"""

from __future__ import annotations

import json
import os
import random
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

import univoice
from tests.reliability.harness import Sleeps, http, number, serve
from tests.support.provider_fault_server import FaultSchedule, ProviderFaultServer
from univoice import campaigns
from univoice.campaigns.state import CampaignDB

LONG = os.environ.get("UNIVOICE_LONG", "") not in ("", "0", "false")
ROWS = 10_000 if LONG else 1_000
RATE = 100.0
SEED = int(os.environ.get("UNIVOICE_SEED", "20240609"))
FLOW = ("name: reminder\ninputs: [name]\nsteps:\n"
        "  - say: Hello {name}, see you tomorrow.\n  - hangup\n")
CREATE_FAULTS = {"reset": 2, "status:429:0.05": 2, "status:503:0.05": 1, "status:500": 1,
                 "reset_after": 2, "status_after:500": 1, "truncated": 1, "non_json": 1,
                 "drop_after": 1}
LOOKUP_FAULTS = {"reset": 1, "status:500": 1}


def write_list(folder: Path, rows: int) -> Path:
    path = folder / "list.csv"
    path.write_text("to,name\n" + "".join(f"{number(i)},Customer {i}\n"
                                          for i in range(rows)))
    return path


def write_flow(folder: Path) -> Path:
    path = folder / "reminder.yaml"
    path.write_text(FLOW)
    return path


def created_at(server: ProviderFaultServer) -> list[float]:
    """When the server placed each call (creates it acted on), in order."""
    return sorted(s.at for s in server.app.seen if s.kind == "create" and s.acted)


def exactly_once(server: ProviderFaultServer, rows: int) -> None:
    placed = {i: server.app.placed(number(i)) for i in range(rows)}
    twice = {i: ids for i, ids in placed.items() if len(ids) > 1}
    never = [i for i, ids in placed.items() if not ids]
    assert not twice, f"{len(twice)} rows called more than once: {list(twice.items())[:5]}"
    assert not never, f"{len(never)} rows never called: {never[:10]}"
    assert server.app.duplicates() == {}


@pytest.mark.anyio
async def test_a_campaign_keeps_its_rate_and_calls_each_row_once_through_faults(
        tmp_path: Path) -> None:
    schedule = FaultSchedule(SEED, rates={"create": 0.1, "lookup": 0.05},
                             mix={"create": CREATE_FAULTS, "lookup": LOOKUP_FAULTS})
    db = tmp_path / "campaigns.sqlite3"
    with serve("bandwidth", schedule) as server:
        campaign, bad = campaigns.create(write_list(tmp_path, ROWS), write_flow(tmp_path),
                                         rate=RATE, concurrency=50, from_="+19195550100",
                                         db=db)
        assert bad == []
        voice = univoice.AsyncVoice(
            "bandwidth", http=http(1.0), public_url="https://voice.example",
            flow_store=f"sqlite:///{tmp_path / 'flows.db'}", callback_username="cb",
            callback_password="cb-secret-2f9a", **server.settings)
        voice.provider.clock = server.clock.now  # type: ignore[attr-defined]
        voice._transport._sleep = Sleeps().asynchronous  # backoff recorded, not slept
        async with voice:
            counts = await campaigns.arun(campaign.id, voice, db=db)
        assert counts["placed"] == ROWS, counts
        exactly_once(server, ROWS)
        times = created_at(server)
    measured = (len(times) - 1) / (times[-1] - times[0])
    print(f"\n{ROWS} rows at {RATE:g}/s: measured {measured:.2f}/s, counts {counts}")
    assert abs(measured - RATE) / RATE < 0.05
    # The tags are the rows': a row's call is found again by its tag.
    with CampaignDB(db) as store:
        rows = store.rows(campaign.id)
    assert {r.tag for r in rows} == {f"{campaign.id}-{r.line}" for r in rows}
    assert all(r.status == "placed" and r.call_id for r in rows)


def config_for(server: ProviderFaultServer, folder: Path) -> Path:
    lines = ['provider = "bird"', 'public_url = "https://voice.example"',
             f'flow_store = "sqlite:///{folder / "flows.db"}"', "[http]", "timeout = 2",
             "backoff = 0.05", "[bird]",
             *(f"{k} = {json.dumps(v)}" for k, v in server.settings.items())]
    path = folder / "univoice.toml"
    path.write_text("\n".join(lines) + "\n")
    return path


def campaign_cli(*args: str) -> list[str]:
    return [sys.executable, "-m", "univoice", "campaign", *args]


def test_three_kills_and_resumes_call_each_row_exactly_once(tmp_path: Path) -> None:
    rng = random.Random(SEED)
    schedule = FaultSchedule(SEED, rates={"create": 0.05, "lookup": 0.02},
                             mix={"create": CREATE_FAULTS, "lookup": LOOKUP_FAULTS})
    db = tmp_path / "campaigns.sqlite3"
    with serve("bird", schedule) as server:
        config = config_for(server, tmp_path)
        env = {**os.environ, "UNIVOICE_CONFIG": str(config)}
        for name in [k for k in env if k.startswith("UNIVOICE_") and k != "UNIVOICE_CONFIG"]:
            env.pop(name)
        first = campaign_cli("run", str(write_list(tmp_path, ROWS)), "--flow",
                             str(write_flow(tmp_path)), "--rate", f"{RATE:g}/s",
                             "--from", "+3197058016631", "--db", str(db), "--json")
        span = ROWS / RATE
        kills = 0
        command = first
        campaign_id = None
        while True:
            proc = subprocess.Popen(command, env=env, cwd=tmp_path, stdout=subprocess.PIPE,
                                    stderr=subprocess.PIPE, text=True)
            if kills < 3:
                # A random moment while it dials: after start-up, before it could finish.
                time.sleep(1.0 + rng.random() * span / 4)
                proc.send_signal(signal.SIGKILL)
                proc.wait(timeout=30)
                kills += 1
            else:
                out, err = proc.communicate(timeout=300)
                assert proc.returncode == 0, err
                final = json.loads(out)
                break
            if campaign_id is None:
                with CampaignDB(db) as store:
                    campaign_id = store.campaigns()[0].id
            command = campaign_cli("resume", campaign_id, "--db", str(db), "--json")
        assert final["status"] == "done", final
        assert final["rows"]["placed"] == ROWS, final
        exactly_once(server, ROWS)
        lookups = sum(1 for s in server.app.seen if s.kind == "lookup")
    print(f"\n{ROWS} rows, 3 SIGKILLs: all placed once; {lookups} lookups settled doubts")
    assert lookups > 0  # rows were in doubt after the kills, and settled by lookup
