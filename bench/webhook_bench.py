"""Webhook benchmark: signed callbacks through univoice's ``VoiceApp`` against a bare
Starlette endpoint, over real HTTP on 127.0.0.1, in one run.

    python bench/webhook_bench.py [--json] [--quick] [--requests=N]   # --quick: seconds

Each server is uvicorn (one worker; httptools, uvloop when installed) in its own process on
a socket bound here; the load is this process, one aiohttp session, 50 requests in flight.
Rows: univoice events (SQLite file | throwaway redis-server, skipped with the reason when
absent): signed simulator callbacks of a simulated call, each with a new event id, so each
is verified, parsed, claimed in the store, handed to a no-op handler and recorded done;
bare Starlette: the same requests read and answered 200 JSON (the floor); univoice flow
start | branch: a stored flow's continuation documents (signed GETs, SQLite store).
Variants run round-robin after a warm-up: req/s (median of rounds), latency percentiles,
CPU% (median of rounds) of this client, of the server and of redis-server; a CPU near 100%
names the side that bounded throughput (the bare row is mostly bounded by this client).
Target: SQLite events/s >= 0.5x bare; the Redis ratio is reported. No time is asserted.
"""

from __future__ import annotations

import asyncio
import gc
import importlib.util
import itertools
import json
import os
import shutil
import socket
import statistics
import subprocess
import sys
import tempfile
import time
from collections.abc import Callable
from contextlib import ExitStack
from dataclasses import dataclass
from pathlib import Path
from typing import Any
from urllib.parse import quote

import yarl
from _measure import SERVER_HTTP, SERVER_LOOP, ChildServer, cli, cpu_seconds, paired, stop

from univoice.simulator.callbacks import SIGNATURE_HEADER, sign

HERE = Path(__file__).resolve()
SECRET = "whsec-bench-0123456789"
FLOW_ID, BRANCH = "bench-flow", "steps[0].gather.options['1']"
FLOW = {"steps": [{"gather": {"prompt": "Press 1 or 2.", "options": {
    "1": [{"say": "One."}, {"record": {"max_length": 10, "transcribe": True}}],
    "2": [{"say": "Two."}, "hangup"]}}}, {"say": "Bye."}]}  # tests/webhooks' sample IVR
CONCURRENCY, TARGET = 50, 0.5
FULL, QUICK = (2000, 5), (200, 2)  # requests per variant and round, rounds
SQLITE, REDIS, BARE = "univoice events (SQLite)", "univoice events (Redis)", "bare Starlette"
START, BRANCH_ROW = "univoice flow start (SQLite)", "univoice flow branch (SQLite)"
Request = tuple[str, str, bytes, dict[str, str]]  # method, url, body, headers


# The servers ---------------------------------------------------------------------------------


def make_app(kind: str, store: str, public_url: str) -> Any:
    if kind == "bare":
        from starlette.applications import Starlette
        from starlette.requests import Request as HTTPRequest
        from starlette.responses import JSONResponse
        from starlette.routing import Route

        async def ok(request: HTTPRequest) -> JSONResponse:
            await request.body()
            return JSONResponse({"ok": True})

        return Starlette(routes=[Route("/{path:path}", ok, methods=["GET", "POST"])])
    from univoice import Flow
    from univoice.plugins import get_provider
    from univoice.webhooks import VoiceApp

    app = VoiceApp(public_url=public_url, store=store,
                   providers=[get_provider("simulator", webhook_secret=SECRET)])

    @app.on()
    async def noop(event: Any) -> None:
        return None

    app.continuations("simulator").save_flow(Flow.from_dict(FLOW), FLOW_ID)
    return app


def serve(fd: int, kind: str, store: str, public_url: str) -> None:
    import uvicorn

    config = uvicorn.Config(make_app(kind, store, public_url), http=SERVER_HTTP,
                            loop=SERVER_LOOP, lifespan="off", access_log=False,
                            log_level="warning")
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


def start_server(stack: ExitStack, kind: str, store: str = "") -> ChildServer:
    """A server in a child process, stopped with ``stack``."""
    server = ChildServer(HERE, kind, store)
    stack.callback(server.stop)
    return server


def start_redis(stack: ExitStack, workdir: str) -> tuple[int | None, str]:
    """A throwaway redis-server: its pid and URL, or None and why there is none."""
    exe = shutil.which("redis-server") or "/usr/bin/redis-server"
    if not Path(exe).is_file():
        return None, "redis-server is not installed (apt-get install redis-server)"
    if importlib.util.find_spec("redis") is None:
        return None, "redis-py is not installed (pip install -e '.[redis]')"
    with socket.socket() as probe:
        probe.bind(("127.0.0.1", 0))
        port = probe.getsockname()[1]
    proc = subprocess.Popen([exe, "--port", str(port), "--bind", "127.0.0.1", "--save", "",
                             "--appendonly", "no", "--dir", workdir, "--loglevel", "warning"],
                            stdout=subprocess.DEVNULL)
    stack.callback(stop, proc)
    deadline = time.monotonic() + 10
    while proc.poll() is None and time.monotonic() < deadline:
        try:
            with socket.create_connection(("127.0.0.1", port), timeout=0.5) as sock:
                sock.sendall(b"PING\r\n")
                if sock.recv(16).startswith(b"+PONG"):
                    return proc.pid, f"redis://127.0.0.1:{port}/0?namespace=bench"
        except OSError:
            time.sleep(0.02)
    return None, "redis-server did not start"


# The load ------------------------------------------------------------------------------------

_ids = itertools.count()


def callback_templates() -> list[dict[str, Any]]:
    from univoice import Flow
    from univoice.simulator import CalleeScript, simulate
    from univoice.simulator.callbacks import payloads

    return payloads(simulate(Flow.from_dict(FLOW), CalleeScript.presses("1")))


def event_requests(url: str, templates: list[dict[str, Any]], n: int) -> list[Request]:
    """``n`` signed callbacks, each with an event id never sent before."""
    target, out = f"{url}/univoice/simulator/events", []
    for _ in range(n):
        i = next(_ids)
        call = f"bench-call-{i // len(templates)}"
        body = json.dumps({**templates[i % len(templates)], "id": f"{call}-{i}",
                           "call_id": call}).encode()
        out.append(("POST", target, body, {"content-type": "application/json",
                                           SIGNATURE_HEADER: sign(SECRET, target, body)}))
    return out


def flow_requests(url: str, node: str, n: int) -> list[Request]:
    # Signed as aiohttp sends it: yarl normalises percent-encoding (%27 becomes ').
    target = str(yarl.URL(f"{url}/univoice/simulator/flow/{FLOW_ID}/{quote(node, safe='.')}"))
    return [("GET", target, b"", {SIGNATURE_HEADER: sign(SECRET, target, b"")})] * n


async def fire(session: Any, requests: list[Request], expect: bytes) -> list[float]:
    """Send ``requests``, ``CONCURRENCY`` of them in flight at all times; their latencies."""
    pending, latencies = iter(requests), []

    async def worker() -> None:
        for method, url, body, headers in pending:
            start = time.perf_counter()
            async with session.request(method, url, data=body or None,
                                       headers=headers) as response:
                data = await response.read()
            latencies.append(time.perf_counter() - start)
            if response.status != 200 or expect not in data:
                raise RuntimeError(f"{method} {url}: {response.status} {data[:200]!r}")

    await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, len(requests)))))
    return latencies


# Measuring -----------------------------------------------------------------------------------


@dataclass
class Variant:
    make: Callable[[int], list[Request]]  # n requests, built before the clock starts
    expect: bytes  # in every answer's body (a 200)
    pids: dict[str, int]  # "server" (and "redis"): the processes whose CPU is reported


async def measure(variants: dict[str, Variant], n: int, rounds: int
                  ) -> dict[str, dict[str, list[float]]]:
    """Per variant: "latency" of every request; per round "wall" and CPU seconds of
    "client" (this process) and of each of its pids."""
    import aiohttp

    got: dict[str, dict[str, list[float]]] = {
        name: {key: [] for key in ("latency", "wall", "client", *v.pids)}
        for name, v in variants.items()}
    async with aiohttp.ClientSession(connector=aiohttp.TCPConnector(limit=CONCURRENCY)) as s:
        for v in variants.values():  # warm-up: connections, threads, caches
            await fire(s, v.make(max(CONCURRENCY, n // 10)), v.expect)
        for _ in range(rounds):
            for name, v in variants.items():
                requests, mine = v.make(n), got[name]
                gc.collect()
                cpu = {key: cpu_seconds(pid) for key, pid in v.pids.items()}
                wall, client = time.perf_counter(), time.process_time()
                mine["latency"] += await fire(s, requests, v.expect)
                mine["wall"].append(time.perf_counter() - wall)
                mine["client"].append(time.process_time() - client)
                for key, pid in v.pids.items():
                    before, after = cpu[key], cpu_seconds(pid)
                    if before is not None and after is not None:
                        mine[key].append(after - before)
    return got


def row(name: str, got: dict[str, list[float]], n: int) -> dict[str, Any]:
    wall = got["wall"]
    cuts = statistics.quantiles(got["latency"], n=100, method="inclusive")

    def pct(key: str) -> float | None:  # None: no such process, or not Linux
        used = got.get(key, [])
        return statistics.median(u / w * 100 for u, w in zip(used, wall, strict=True)) if (
            used and len(used) == len(wall)) else None

    return {"name": name, "requests_per_s": n / statistics.median(wall),
            "rounds_per_s": [n / w for w in wall],
            "p50_ms": cuts[49] * 1e3, "p99_ms": cuts[98] * 1e3,
            "max_ms": max(got["latency"]) * 1e3, "client_cpu_pct": pct("client"),
            "server_cpu_pct": pct("server"), "redis_cpu_pct": pct("redis")}


def main(quick: bool = False, requests: int | None = None, *, essential: bool = False,
         rounds: int | None = None) -> dict[str, Any]:
    """Every row and the ratios, with their per-round spread. ``essential``: only the
    target's two rows (SQLite events, the bare endpoint), as bench/run.py shows."""
    n, default_rounds = QUICK if quick else FULL
    n, rounds = requests or n, rounds or default_rounds
    with tempfile.TemporaryDirectory(prefix="univoice-webhook-bench-") as tmp, \
            ExitStack() as stack:  # stops every process before the directory goes
        redis_pid, redis_url = (None, "not run") if essential else start_redis(stack, tmp)
        started = {"sqlite": start_server(stack, "univoice", f"sqlite:///{tmp}/bench.db"),
                   "bare": start_server(stack, "bare")}
        if redis_pid:
            started["redis"] = start_server(stack, "univoice", redis_url)
        pid = {name: server.ready("/univoice/health").proc.pid
               for name, server in started.items()}
        sqlite, bare = started["sqlite"].url, started["bare"].url
        templates = callback_templates()
        variants = {
            SQLITE: Variant(lambda k: event_requests(sqlite, templates, k), b'"handled":1',
                            {"server": pid["sqlite"]}),
            BARE: Variant(lambda k: event_requests(bare, templates, k), b'"ok"',
                          {"server": pid["bare"]}),
            START: Variant(lambda k: flow_requests(sqlite, "start", k), b'"steps"',
                           {"server": pid["sqlite"]}),
            BRANCH_ROW: Variant(lambda k: flow_requests(sqlite, BRANCH, k), b'"steps"',
                                {"server": pid["sqlite"]})}
        if redis_pid:
            red = started["redis"].url
            variants[REDIS] = Variant(lambda k: event_requests(red, templates, k), b'"handled":1',
                                      {"server": pid["redis"], "redis": redis_pid})
        if essential:
            variants = {name: variants[name] for name in (SQLITE, BARE)}
        got = asyncio.run(measure(variants, n, rounds))
    names = (SQLITE, BARE) if essential else (SQLITE, REDIS, BARE, START, BRANCH_ROW)
    rows: list[dict[str, Any]] = [
        row(name, got[name], n) if name in got else {"name": name, "skipped": redis_url}
        for name in names]
    sqlite_ratio = paired(got[BARE]["wall"], got[SQLITE]["wall"])  # req/s: the inverse
    redis_ratio = paired(got[BARE]["wall"], got[REDIS]["wall"]) if REDIS in got else None
    return {"quick": quick, "cpus": os.cpu_count(), "requests": n, "rounds": rounds,
            "server": f"uvicorn/{SERVER_HTTP}/{SERVER_LOOP}", "rows": rows,
            "ratios": [
                {"name": "univoice SQLite events/s ÷ bare endpoint",
                 "ratio": sqlite_ratio.median, "spread": sqlite_ratio.as_dict(),
                 "target": f">= {TARGET}", "met": sqlite_ratio.median >= TARGET},
                {"name": "univoice Redis events/s ÷ bare endpoint", "target": None,
                 "ratio": None if redis_ratio is None else redis_ratio.median,
                 "spread": None if redis_ratio is None else redis_ratio.as_dict(),
                 "met": None}]}


def report(results: dict[str, Any]) -> None:
    print(f"{'quick run, ' if results['quick'] else ''}{results['cpus']} CPUs, server "
          f"{results['server']}, {CONCURRENCY} in flight; {results['rounds']} rounds of "
          f"{results['requests']} requests a row")
    print(f"  {'':<30}{'req/s':>7}{'p50 ms':>8}{'p99 ms':>8}{'max ms':>8}{'client cpu':>12}"
          f"{'srv cpu':>9}{'redis cpu':>11}")
    for r in results["rows"]:
        if "skipped" in r:
            print(f"  {r['name']:<30}skipped: {r['skipped']}")
            continue
        cpus = ["-" if r[k] is None else f"{r[k]:.0f}%"
                for k in ("client_cpu_pct", "server_cpu_pct", "redis_cpu_pct")]
        print(f"  {r['name']:<30}{r['requests_per_s']:7.0f}{r['p50_ms']:8.1f}{r['p99_ms']:8.1f}"
              f"{r['max_ms']:8.1f}{cpus[0]:>12}{cpus[1]:>9}{cpus[2]:>11}")
    for ratio in results["ratios"]:
        value = "-" if ratio["ratio"] is None else f"{ratio['ratio']:.3f}"
        if ratio["target"] is None:
            print(f"  {ratio['name']}: {value} (reported)")
        else:
            print(f"  target {ratio['name']} {ratio['target']}: {value} "
                  f"{'met' if ratio['met'] else 'MISSED'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:  # --serve FD URL KIND STORE
        serve(int(sys.argv[2]), sys.argv[4], sys.argv[5], sys.argv[3])
    else:
        count = next((int(a.partition("=")[2]) for a in sys.argv
                      if a.startswith("--requests=")), None)
        cli(main, report, requests=count)
