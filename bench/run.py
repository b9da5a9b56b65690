"""univoice's cost beside what a developer would use instead, in one run, as one table.

    python -m pip install -e '.[bench]'      # the peers: bandwidth-sdk, twilio
    python bench/run.py [--quick] [--json] [--only bxml,json,flow,rest,webhook,cold]

Each row: what is measured, univoice's figure, the peer's or floor's (measured in the same
run, moments apart), their ratio and the target. Figures are medians of rounds, ``±`` half
their min-max range; a ratio is univoice ÷ peer per round (the median, then the lowest
and highest), of times (lower is better) or of rates (req/s, events/s: higher is better).
A peer that is not installed says so instead. How to read it: bench/README.md. The
measuring is the group scripts' own (bxml_bench.py, json_flow_bench.py, flow_bench.py,
rest_bench.py, webhook_bench.py, cold_bench.py); this only runs them and lays them out.
"""

from __future__ import annotations

import argparse
import importlib.metadata
import json
import os
import platform
import sys
import time
from collections.abc import Callable, Sequence
from dataclasses import asdict, dataclass
from typing import Any

from _measure import Spread, paired

NOT_INSTALLED = "not installed (pip install -e '.[bench]')"
VERSIONS = ("univoice", "httpx", "lxml", "pydantic", "bandwidth-sdk", "twilio", "aiohttp",
            "urllib3", "uvicorn", "starlette")


@dataclass(frozen=True)
class Target:
    """``op`` ("<=", "<" or ">=") ``limit``, on the ratio (``unit`` "x") or on univoice's
    own median (``unit`` "ms")."""

    op: str
    limit: float
    unit: str = "x"

    def met(self, ratio: Spread | None, mine: Spread) -> bool | None:
        value = mine.median if self.unit != "x" else None if ratio is None else ratio.median
        if value is None:
            return None
        return {"<=": value <= self.limit, "<": value < self.limit,
                ">=": value >= self.limit}[self.op]

    def __str__(self) -> str:
        return f"{self.op} {self.limit:g}{' ' if self.unit != 'x' else ''}{self.unit}"


@dataclass(frozen=True)
class Row:
    group: str
    measured: str
    unit: str  # of both figures: µs, ms, req/s, events/s
    univoice: Spread
    peer: str  # its name
    theirs: Spread | None  # None: not installed, or no peer (then ``peer`` says why)
    ratio: Spread | None
    target: Target | None  # None: for information
    met: bool | None


def row(group: str, measured: str, unit: str, mine: Sequence[float], peer: str,
        theirs: Sequence[float] | None, target: Target | None = None) -> Row:
    """A row from per-round figures (paired by round: both lists from one run)."""
    ratio = None if theirs is None else paired(mine, theirs)
    spread = Spread.of(mine)
    return Row(group, measured, unit, spread, peer, None if theirs is None else
               Spread.of(theirs), ratio, target, None if target is None else
               target.met(ratio, spread))


def rates(us: Sequence[float]) -> list[float]:
    """Per-round µs per request as requests per second."""
    return [1e6 / value for value in us]


# The groups: each runs its script's measuring and makes rows of it ------------------------


def bxml_rows(quick: bool) -> list[Row]:
    import bxml_bench as b

    got = b.main(quick, rounds=None if quick else 7, essential=True)
    first, after = got["samples"][b.FIRST], got["samples"][b.AFTER]
    sdk = "bandwidth-sdk BXML" if "bandwidth-sdk" in first else f"bandwidth-sdk: {NOT_INSTALLED}"
    twilio = "twilio VoiceResponse" if b.TWIML in first else f"twilio: {NOT_INSTALLED}"
    g, us = "BXML", "µs"
    return [
        row(g, "first document, reference IVR", us, first["univoice"], "raw lxml",
            first["raw lxml"], Target("<=", b.TARGETS["lxml"])),
        row(g, "first document, reference IVR", us, first["univoice"], sdk,
            first.get("bandwidth-sdk"), Target("<", 1)),
        row(g, "first document, reference IVR", us, first["univoice"], "string join",
            first["string join"]),
        row(g, "after a menu choice (flow served before)", us, after["univoice"],
            "string join", after["string join"], Target("<=", b.TARGETS["join"])),
        row(g, "after a menu choice (flow served before)", us, after["univoice"], "raw lxml",
            after["raw lxml"], Target("<", 1)),
        row(g, "after a menu choice (flow served before)", us, after["univoice"], sdk,
            after.get("bandwidth-sdk")),
        row(g, "after a menu choice, via render_continuation", us,
            after["univoice render_continuation"], "raw lxml", after["raw lxml"]),
        row(g, "first document, flow never served", us, first[b.NEW_FLOW], "raw lxml",
            first["raw lxml"]),
        row("TwiML", "first document (univoice BXML)", us, first["univoice"], twilio,
            first.get(b.TWIML)),
        row("TwiML", "after a menu choice (univoice BXML)", us, after["univoice"], twilio,
            after.get(b.TWIML)),
    ]


def json_rows(quick: bool) -> list[Row]:
    import json_flow_bench as j

    got = j.run(quick)["samples"]
    hand = "hand-built dicts + json.dumps"
    return [
        row("JSON", "MessageBird call flow, support line", "µs", got["messagebird"], hand,
            got["messagebird by hand"], Target("<=", 2)),
        row("JSON", "MessageBird call flow, flow's first call", "µs",
            got["messagebird first call"], hand, got["messagebird by hand"]),
        row("JSON", "Bird callFlow, menu", "µs", got["bird"], hand, got["bird by hand"],
            Target("<=", 2)),
    ]


def flow_rows(quick: bool) -> list[Row]:
    import flow_bench as f

    got = f.main(quick)["samples"]
    return [
        row("flow", "load + validate 200 steps from YAML", "ms",
            got["load+validate (YAML text)"], "yaml.load alone (C safe loader)",
            got["floor: yaml.load (C safe loader)"]),
        row("flow", "validate + simulate 200 steps", "ms", got["validate+simulate"],
            "(no peer)", None, Target("<", 5, "ms")),
        row("flow", "simulate 200 steps", "ms", got["simulate"], "(no peer)", None),
    ]


def rest_rows(quick: bool) -> list[Row]:
    import rest_bench as r

    got = r.main(quick, rounds=None if quick else 6, bandwidth=True, essential=True,
                 iterations=None if quick else (250, 500))
    by = {one["name"]: one["rounds_us"] for one in got["rows"]}
    sdk = by.get("bandwidth-sdk CallsApi")
    return [
        row("REST", "sync create + get, per request", "µs", by["univoice Voice"],
            "bare httpx.Client", by["httpx.Client"], Target("<=", r.SYNC_TARGET)),
        row("REST", "sync create + get, per request", "µs", by["univoice Voice"],
            "bare urllib3", by["urllib3"]),
        row("REST", f"async, {r.CONCURRENCY} in flight, throughput", "req/s",
            rates(by["univoice AsyncVoice (aiohttp)"]), "bare aiohttp",
            rates(by["aiohttp"]), Target(">=", r.ASYNC_TARGET)),
        row("REST", "Bandwidth API sync create + get", "µs", by["univoice Voice (Bandwidth)"],
            "bandwidth-sdk CallsApi" if sdk else f"bandwidth-sdk: {NOT_INSTALLED}", sdk),
    ]


def webhook_rows(quick: bool) -> list[Row]:
    import webhook_bench as w

    got = w.main(quick, essential=True, requests=None if quick else 1000,
                 rounds=None if quick else 6)
    by = {one["name"]: one["rounds_per_s"] for one in got["rows"]}
    return [row("webhook", "signed events, SQLite store", "events/s", by[w.SQLITE],
                "bare Starlette endpoint", by[w.BARE], Target(">=", w.TARGET))]


def cold_rows(quick: bool) -> list[Row]:
    import cold_bench as c

    got = c.main(quick)["samples"]

    def peer(name: str) -> tuple[str, list[float] | None]:
        return (name, got[name]) if got[name] is not None else (
            f"{name}: {NOT_INSTALLED}", None)

    limit = Target("<", c.TARGETS_MS["import univoice"], "ms")
    first = Target("<", c.TARGETS_MS["univoice first BXML document"], "ms")
    mine, document = got["import univoice"], got["univoice first BXML document"]
    return [
        row("cold", "import univoice", "ms", mine, *peer("import twilio.rest"), limit),
        row("cold", "import univoice", "ms", mine, *peer("import bandwidth"), limit),
        row("cold", "from_config() to first BXML document", "ms", document,
            *peer("bandwidth-sdk first BXML document"), first),
        row("cold", "from_config() to first BXML document", "ms", document,
            c.DEPENDENCIES, got[c.DEPENDENCIES]),
    ]


GROUPS: dict[str, Callable[[bool], list[Row]]] = {
    "cold": cold_rows, "bxml": bxml_rows, "json": json_rows, "flow": flow_rows,
    "rest": rest_rows, "webhook": webhook_rows}


# The table --------------------------------------------------------------------------------


def machine() -> dict[str, Any]:
    def version(dist: str) -> str:
        try:
            return importlib.metadata.version(dist)
        except importlib.metadata.PackageNotFoundError:
            return "not installed"

    cpu = next((line.split(":", 1)[1].strip() for line in _cpuinfo()
                if line.startswith("model name")), platform.processor() or "?")
    return {"cpus": os.cpu_count(), "cpu": cpu, "platform": platform.platform(),
            "python": f"{platform.python_implementation()} {platform.python_version()}",
            "load": os.getloadavg()[0] if hasattr(os, "getloadavg") else None,
            "versions": {dist: version(dist) for dist in VERSIONS}}


def _cpuinfo() -> list[str]:
    try:
        with open("/proc/cpuinfo") as info:
            return info.readlines()
    except OSError:
        return []


def _num(value: float) -> str:
    return f"{value:.3g}" if abs(value) < 1000 else f"{value:.0f}"


def _figure(spread: Spread, unit: str) -> str:
    width = (spread.high - spread.low) / 2 / spread.median * 100 if spread.median else 0
    return f"{_num(spread.median)} {unit} ±{width:.0f}%"


def cells(one: Row) -> list[str]:
    theirs = one.peer if one.theirs is None else (
        f"{one.peer} {_figure(one.theirs, one.unit)}")
    ratio = "-" if one.ratio is None else (
        f"{one.ratio.median:.2f} ({one.ratio.low:.2f}-{one.ratio.high:.2f})")
    met = "-" if one.met is None else "yes" if one.met else "MISSED"
    return [f"{one.group}: {one.measured}", _figure(one.univoice, one.unit), theirs, ratio,
            "info" if one.target is None else str(one.target), met]


HEADINGS = ["measured", "univoice", "peer or floor", "ratio (min-max)", "target", "met"]


def table(rows: list[Row]) -> str:
    lines = [HEADINGS, *(cells(one) for one in rows)]
    widths = [max(len(line[i]) for line in lines) for i in range(len(HEADINGS))]
    return "\n".join("  ".join(cell.ljust(width) for cell, width in zip(line, widths,
                                                                         strict=True)).rstrip()
                     for line in lines)


def report(rows: list[Row], about: dict[str, Any]) -> str:
    versions = ", ".join(f"{k} {v}" for k, v in about["versions"].items())
    aimed = [one for one in rows if one.met is not None]
    missed = [f"{one.group}: {one.measured}"
              + (f" vs {one.peer}" if one.target and one.target.unit == "x" else "")
              for one in aimed if not one.met]
    took = ", ".join(f"{name} {seconds:.0f}" for name, seconds in about["seconds"].items())
    load = "" if about["load"] is None else f"load average {about['load']:.2f} at the start; "
    return "\n".join([
        f"univoice benchmarks{' (--quick: figures are not meaningful)' if about['quick'] else ''}"
        f" - {about['cpus']} CPUs ({about['cpu']}), {about['platform']}, {about['python']}",
        f"versions: {versions}",
        f"{load}{sum(about['seconds'].values()):.0f} s in all ({took})",
        "figures: medians of rounds, ± half their range; ratio: univoice ÷ peer per round "
        "(of req/s and events/s: higher is better)", "",
        table(rows), "",
        f"targets met: {len(aimed) - len(missed)} of {len(aimed)}"
        + (f"; missed: {'; '.join(missed)}" if missed else "")])


def main(argv: list[str] | None = None) -> dict[str, Any]:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--quick", action="store_true", help="tiny runs (the smoke test)")
    parser.add_argument("--json", action="store_true", help="print JSON, not the table")
    parser.add_argument("--only", default=",".join(GROUPS),
                        help=f"groups, comma-separated: {','.join(GROUPS)}")
    args = parser.parse_args(argv)
    chosen = [name.strip() for name in args.only.split(",") if name.strip()]
    unknown = set(chosen) - set(GROUPS)
    if unknown:
        parser.error(f"unknown groups: {', '.join(sorted(unknown))}")
    about: dict[str, Any] = {**machine(), "quick": args.quick, "seconds": {}}
    rows: list[Row] = []
    for name in chosen:
        print(f"running {name} ...", file=sys.stderr, flush=True)
        start = time.perf_counter()
        rows += GROUPS[name](args.quick)
        about["seconds"][name] = round(time.perf_counter() - start, 1)
    print(json.dumps({"machine": about, "rows": [_plain(one) for one in rows]}, indent=1)
          if args.json else report(rows, about))
    return {"machine": about, "rows": rows}


def _plain(one: Row) -> dict[str, Any]:
    out = asdict(one)
    out["target"] = None if one.target is None else str(one.target)
    return out


if __name__ == "__main__":
    main()
