"""Campaign dial throughput and the scheduling overhead per call.

    python bench/campaign_bench.py [--quick] [--json]

Against rest_bench.py's local provider server (a child process), per round, ``CALLS``
creates with 50 in flight, the same flow each:

- univoice campaign: ``univoice.campaigns`` running a campaign of that many rows (each row
  claimed in SQLite, paced, created with its tag, its outcome committed), its rate set far
  above what the machine reaches, so the pacer never waits;
- AsyncVoice alone (the floor): ``calls.create`` with no campaign around it.

Throughput is calls per second; the overhead is the difference in wall time per call: what
the campaign's durability (two SQLite commits per row) and pacing cost on top of the create.
"""

from __future__ import annotations

import argparse
import asyncio
import json
import sys
import tempfile
import time
from pathlib import Path
from typing import Any

HERE = Path(__file__).resolve().parent
sys.path.insert(0, str(HERE))

from _measure import ChildServer, Spread, paired  # noqa: E402
from rest_bench import CONCURRENCY, provider  # noqa: E402

CALLS = 2_000
FLOW = "name: bench\nsteps:\n  - say: Your parcel arrives tomorrow.\n  - hangup\n"


def _list(folder: Path, calls: int, round_no: int) -> Path:
    path = folder / f"list-{round_no}.csv"
    path.write_text("to\n" + "".join(f"+316{round_no % 5 + 1}{i:07d}\n" for i in range(calls)))
    return path


async def campaign_round(url: str, folder: Path, calls: int, round_no: int) -> float:
    from univoice import AsyncVoice, campaigns

    flow = folder / "flow.yaml"
    flow.write_text(FLOW)
    db = folder / f"bench-{round_no}.sqlite3"
    campaign, _ = campaigns.create(_list(folder, calls, round_no), flow, rate=10_000,
                                   concurrency=CONCURRENCY, from_="+31201234567", db=db)
    async with AsyncVoice(provider(url)) as voice:
        started = time.perf_counter()
        counts = await campaigns.arun(campaign.id, voice, db=db)
        elapsed = time.perf_counter() - started
    assert counts["placed"] == calls, counts
    return elapsed


async def direct_round(url: str, calls: int) -> float:
    from univoice import AsyncVoice
    from univoice.flow import Flow

    flow = Flow.from_yaml(FLOW)
    left = calls

    async with AsyncVoice(provider(url)) as voice:
        async def worker() -> None:
            nonlocal left
            while left > 0:
                left -= 1
                await voice.calls.create(f"+3161{left:07d}", "+31201234567", flow=flow,
                                         tag=f"t-{left}")

        started = time.perf_counter()
        await asyncio.gather(*(worker() for _ in range(CONCURRENCY)))
        return time.perf_counter() - started


def main(quick: bool = False, rounds: int | None = None) -> dict[str, Any]:
    calls = 500 if quick else CALLS
    rounds = rounds or (3 if quick else 5)
    server = ChildServer(HERE / "rest_bench.py").ready("/calls/probe")
    campaign_s: list[float] = []
    direct_s: list[float] = []
    try:
        with tempfile.TemporaryDirectory() as tmp:
            for n in range(rounds):  # round-robin: both variants moments apart
                campaign_s.append(asyncio.run(campaign_round(server.url, Path(tmp), calls, n)))
                direct_s.append(asyncio.run(direct_round(server.url, calls)))
    finally:
        server.stop()
    return {
        "calls": calls, "rounds": rounds,
        "campaign_calls_per_s": Spread.of(calls / s for s in campaign_s).as_dict(),
        "direct_calls_per_s": Spread.of(calls / s for s in direct_s).as_dict(),
        "ratio": paired([calls / s for s in campaign_s],
                        [calls / s for s in direct_s]).as_dict(),
        "overhead_us_per_call": Spread.of((c - d) / calls * 1e6 for c, d in
                                          zip(campaign_s, direct_s, strict=True)).as_dict(),
    }


def report(results: dict[str, Any]) -> None:
    c, d = results["campaign_calls_per_s"], results["direct_calls_per_s"]
    print(f"campaign dial throughput ({results['calls']} calls, {CONCURRENCY} in flight, "
          f"{results['rounds']} rounds)")
    print(f"  univoice campaign     {c['median']:8.0f} calls/s  ({c['low']:.0f}-{c['high']:.0f})")
    print(f"  AsyncVoice alone      {d['median']:8.0f} calls/s  ({d['low']:.0f}-{d['high']:.0f})")
    print(f"  ratio                 {results['ratio']['median']:8.2f}x")
    print(f"  scheduling overhead   {results['overhead_us_per_call']['median']:8.0f} µs/call")


if __name__ == "__main__":
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true")
    parser.add_argument("--json", action="store_true")
    args = parser.parse_args()
    out = main(args.quick)
    print(json.dumps(out, indent=2)) if args.json else report(out)
