"""REST benchmark: univoice's clients against bare HTTP clients and bandwidth-sdk's own
client, one local server, one run.

    python bench/rest_bench.py [--json] [--quick] [--rounds N] [--bandwidth]
                                   # --quick: a few seconds (smoke test); --rounds: more
                                   # rounds, steadier medians on a busy machine (default 5);
                                   # --bandwidth: the Bandwidth group too

A provider-like server (raw ASGI app under uvicorn, in its own process: no shared GIL)
answers ``POST /calls`` (201) and ``GET /calls/{id}`` (200), and Bandwidth's
``/api/v2/accounts/{id}/calls`` the same way; an iteration creates a call and fetches it
(two requests), sync one at a time, async 50 in flight. Variants run round-robin after a
warm-up; figures are medians of rounds: wall µs and client-process CPU µs per request,
requests/s, server-process CPU (near 100%: the server bounds throughput and flatters
ratios, so the client-CPU ratio is given beside; uvicorn with httptools keeps the server
well below that). Targets: univoice sync µs/request <= 1.15x bare httpx, async req/s >=
0.5x bare aiohttp. The Bandwidth group (``--bandwidth``) puts univoice's Bandwidth adapter
beside bandwidth-sdk's ``CallsApi`` (a ``bench`` extra; without it its row says so). Nothing here
is a test: no assertion is made on a time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import socket
import statistics
import sys
import time
from collections.abc import Awaitable, Callable, Collection, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from _measure import SERVER_HTTP, SERVER_LOOP, ChildServer, cli, paired

HERE = Path(__file__).resolve().parent
TO, FROM, ANSWER_URL = "+31612345678", "+31201234567", "https://app.example.com/answer"
ACCESS_KEY = "bench-access-key-0123456789"
HEADERS = {"Authorization": f"AccessKey {ACCESS_KEY}"}
BODY = {"to": TO, "from": FROM, "ringTimeout": 30.0, "tag": "uv-bench", "answerUrl": ANSWER_URL}
CONCURRENCY = 50
SYNC_TARGET, ASYNC_TARGET = 1.15, 0.5
FULL, QUICK = (1000, 1000, 5), (100, 200, 2)  # iterations: sync, async; rounds
ACCOUNT, APPLICATION = "9900000", "04e88489-df02-4e34-a0ee-27a91849555f"
BANDWIDTH_CALLS = f"/api/v2/accounts/{ACCOUNT}/calls"
NOT_INSTALLED = "not installed (pip install -e '.[bench]')"

SyncVariant = tuple[Callable[[], object], Callable[[], object]]  # (one iteration, close)
AsyncVariant = tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]


# The server ----------------------------------------------------------------------------------


def call_json(call_id: str, sent: dict[str, Any]) -> bytes:
    return json.dumps({
        "id": call_id, "status": "queued", "direction": "outgoing",
        "from": sent.get("from", FROM), "to": sent.get("to", TO),
        "createdAt": "2024-05-01T12:00:00Z", "tag": sent.get("tag"),
        "answerUrl": sent.get("answerUrl", ANSWER_URL), "legs": [],
    }).encode()


def bandwidth_call_json(call_id: str, sent: dict[str, Any] | None) -> bytes:
    """A ``createCallResponse`` (``sent``: the create's body) or a ``callState``."""
    call = {"applicationId": APPLICATION, "accountId": ACCOUNT, "callId": call_id,
            "to": TO, "from": FROM, "enqueuedTime": "2024-05-01T12:00:00.000Z"}
    if sent is None:
        return json.dumps({**call, "direction": "outbound", "state": "initiated",
                           "startTime": "2024-05-01T12:00:00.000Z"}).encode()
    return json.dumps({**call, "to": sent.get("to", TO), "from": sent.get("from", FROM),
                       "callUrl": f"https://voice.bandwidth.com{BANDWIDTH_CALLS}/{call_id}",
                       "callTimeout": 30.0, "callbackTimeout": 15.0, "tag": sent.get("tag"),
                       "answerMethod": "POST", "answerUrl": sent.get("answerUrl", ANSWER_URL),
                       "disconnectMethod": "POST"}).encode()


async def app(scope: dict[str, Any], receive: Any, send: Any) -> None:
    """The provider: stateless, so a GET of any id answers with a call."""
    body, more = b"", True
    while more:
        message = await receive()
        body, more = body + message.get("body", b""), message.get("more_body", False)
    method, path = scope["method"], scope["path"]
    if method == "POST" and path == "/calls":
        status, data = 201, call_json(os.urandom(8).hex(), json.loads(body))
    elif method == "GET" and path.startswith("/calls/"):
        status, data = 200, call_json(path.removeprefix("/calls/"), {})
    elif method == "POST" and path == BANDWIDTH_CALLS:
        status, data = 201, bandwidth_call_json(f"c-{os.urandom(8).hex()}", json.loads(body))
    elif method == "GET" and path.startswith(BANDWIDTH_CALLS + "/"):
        status, data = 200, bandwidth_call_json(path.rsplit("/", 1)[1], None)
    else:
        status, data = 404, b'{"message": "not found"}'
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def serve(fd: int) -> None:
    import uvicorn

    config = uvicorn.Config(app, http=SERVER_HTTP, loop=SERVER_LOOP, lifespan="off",
                            access_log=False, log_level="warning")
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


# The clients ---------------------------------------------------------------------------------


def provider(url: str) -> Any:
    if str(HERE) not in sys.path:
        sys.path.insert(0, str(HERE))
    from bench_provider import BenchProvider

    return BenchProvider(base_url=url, access_key=ACCESS_KEY)


def sync_variants(url: str) -> dict[str, SyncVariant]:
    import httpx
    import urllib3

    from univoice import Voice

    voice = Voice(provider(url))
    client = httpx.Client(base_url=url, headers=HEADERS)
    pool = urllib3.PoolManager(headers=HEADERS)

    def univoice_sync() -> None:
        voice.calls.get(voice.calls.create(TO, FROM, answer_url=ANSWER_URL).id)

    def httpx_sync() -> None:
        created = client.post("/calls", json=BODY).raise_for_status().json()
        client.get(f"/calls/{created['id']}").raise_for_status().json()

    def urllib3_sync() -> None:
        created = pool.request("POST", f"{url}/calls", json=BODY)
        got = pool.request("GET", f"{url}/calls/{created.json()['id']}")
        if created.status != 201 or got.status != 200:
            raise RuntimeError(f"unexpected status {created.status}, {got.status}")
        got.json()

    return {"univoice Voice": (univoice_sync, voice.close),
            "httpx.Client": (httpx_sync, client.close), "urllib3": (urllib3_sync, pool.clear)}


def bandwidth_variants(url: str) -> dict[str, SyncVariant]:
    """The same create + get on Bandwidth's API: univoice's Bandwidth adapter and
    bandwidth-sdk's ``CallsApi`` (when installed), HTTP Basic auth for both."""
    from univoice import Voice
    from univoice_bandwidth import BandwidthProvider

    voice = Voice(BandwidthProvider(account_id=ACCOUNT, application_id=APPLICATION,
                                    username="api-user", password="api-password",
                                    api_url=f"{url}/api/v2"))

    def univoice_sync() -> None:
        voice.calls.get(voice.calls.create(TO, FROM, answer_url=ANSWER_URL).id)

    variants: dict[str, SyncVariant] = {"univoice Voice (Bandwidth)": (univoice_sync, voice.close)}
    try:
        from bandwidth import (  # type: ignore[import-untyped, import-not-found, unused-ignore]
            ApiClient,
            CallsApi,
            Configuration,
            CreateCall,
        )
    except ImportError:
        return variants
    client = ApiClient(Configuration(  # its calls go to voice.bandwidth.com unless told
        host=f"{url}/api/v2", username="api-user", password="api-password",
        ignore_operation_servers=True))
    calls = CallsApi(client)

    def sdk_sync() -> None:
        created = calls.create_call(ACCOUNT, CreateCall(
            to=TO, var_from=FROM, application_id=APPLICATION, answer_url=ANSWER_URL))
        calls.get_call_state(ACCOUNT, created.call_id)

    return {**variants, "bandwidth-sdk CallsApi": (sdk_sync, client.rest_client.pool_manager.clear)}


def async_variants(url: str) -> dict[str, AsyncVariant]:
    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    from univoice import AsyncVoice

    def univoice_async(voice: AsyncVoice) -> AsyncVariant:
        async def one() -> None:
            await voice.calls.get((await voice.calls.create(TO, FROM, answer_url=ANSWER_URL)).id)
        return one, voice.aclose

    def httpx_async(client: httpx.AsyncClient) -> AsyncVariant:
        async def one() -> None:
            created = (await client.post("/calls", json=BODY)).raise_for_status().json()
            (await client.get(f"/calls/{created['id']}")).raise_for_status().json()
        return one, client.aclose

    # Idle connections dropped after 4 s, as univoice's own session does: other variants
    # run for longer than the server's 5 s keep-alive between this one's rounds, and a
    # socket the server is closing fails the write ("Cannot write to closing transport").
    session = aiohttp.ClientSession(base_url=url, headers=HEADERS,
                                    connector=aiohttp.TCPConnector(keepalive_timeout=4.0))

    async def aiohttp_one() -> None:
        async with session.post("/calls", json=BODY, raise_for_status=True) as response:
            created = await response.json()
        async with session.get(f"/calls/{created['id']}", raise_for_status=True) as response:
            await response.json()

    return {
        "univoice AsyncVoice (aiohttp)": univoice_async(AsyncVoice(provider(url))),
        "univoice AsyncVoice (httpx)": univoice_async(
            AsyncVoice(provider(url), http={"async_backend": "httpx"})),
        "aiohttp": (aiohttp_one, session.close),
        "httpx.AsyncClient": httpx_async(httpx.AsyncClient(base_url=url, headers=HEADERS)),
        "httpx + AiohttpTransport": httpx_async(httpx.AsyncClient(
            base_url=url, headers=HEADERS, transport=AiohttpTransport())),
    }


async def in_flight(one: Callable[[], Awaitable[object]], iterations: int) -> None:
    """Run ``iterations`` iterations with ``CONCURRENCY`` of them under way at all times."""
    left = iterations

    async def worker() -> None:
        nonlocal left
        while left > 0:
            left -= 1
            await one()

    await asyncio.gather(*(worker() for _ in range(min(CONCURRENCY, iterations))))


# Measuring -----------------------------------------------------------------------------------


class Meter:
    """Per round: wall time, this process's CPU time, the server process's CPU time."""

    def __init__(self, server: ChildServer) -> None:
        self.server = server
        self.samples: dict[str, list[tuple[float, float, float | None]]] = {}

    @contextmanager
    def round(self, name: str) -> Iterator[None]:
        gc.collect()
        wall, cpu, server = time.perf_counter(), time.process_time(), self.server.cpu_seconds()
        yield
        server_now = self.server.cpu_seconds()
        self.samples.setdefault(name, []).append((
            time.perf_counter() - wall, time.process_time() - cpu,
            None if server is None or server_now is None else server_now - server))

    def rows(self, mode: str, requests: int) -> list[dict[str, Any]]:
        out = []
        for name, samples in self.samples.items():
            wall = statistics.median(s[0] for s in samples)
            server = [s[2] / s[0] for s in samples if s[2] is not None]
            out.append({
                "mode": mode, "name": name, "us_per_request": wall / requests * 1e6,
                "cpu_us_per_request": statistics.median(s[1] for s in samples) / requests * 1e6,
                "requests_per_s": requests / wall,
                "server_cpu_pct": statistics.median(server) * 100 if server else None,
                "rounds_us": [s[0] / requests * 1e6 for s in samples]})
        return out


def run_sync(server: ChildServer, variants: dict[str, SyncVariant], mode: str, iterations: int,
             rounds: int) -> list[dict[str, Any]]:
    meter = Meter(server)
    try:
        for one, _close in variants.values():  # warm-up: connections, caches
            for _ in range(iterations // 10 or 1):
                one()
        for _ in range(rounds):
            for name, (one, _close) in variants.items():
                with meter.round(name):
                    for _ in range(iterations):
                        one()
    finally:
        for _one, close in variants.values():
            close()
    return meter.rows(mode, 2 * iterations)


async def run_async(server: ChildServer, iterations: int, rounds: int,
                    only: Collection[str] | None) -> list[dict[str, Any]]:
    variants, meter = async_variants(server.url), Meter(server)
    try:
        chosen = {k: v for k, v in variants.items() if only is None or k in only}
        for one, _close in chosen.values():  # warm-up: fills every pool
            await in_flight(one, max(CONCURRENCY, iterations // 10))
        for _ in range(rounds):
            for name, (one, _close) in chosen.items():
                with meter.round(name):
                    await in_flight(one, iterations)
    finally:
        for _one, close in variants.values():
            await close()
    return meter.rows(f"async x{CONCURRENCY}", 2 * iterations)


SYNC, BANDWIDTH, ASYNC = "sync", "sync Bandwidth API", f"async x{CONCURRENCY}"
ESSENTIAL = {"univoice Voice", "httpx.Client", "urllib3", "univoice AsyncVoice (aiohttp)",
             "aiohttp", "univoice Voice (Bandwidth)", "bandwidth-sdk CallsApi"}


def main(quick: bool = False, rounds: int | None = None, *, bandwidth: bool = False,
         essential: bool = False, iterations: tuple[int, int] | None = None
         ) -> dict[str, Any]:
    """Every client's row, the targets with their per-round spread. ``bandwidth``: the
    Bandwidth group too; ``essential``: only the clients the targets and bench/run.py
    name; ``iterations``: (sync, async)."""
    sync_iterations, async_iterations, default_rounds = QUICK if quick else FULL
    sync_iterations, async_iterations = iterations or (sync_iterations, async_iterations)
    rounds = rounds or default_rounds
    server = ChildServer(HERE / "rest_bench.py").ready("/calls/ready", seconds=15)
    try:
        rows = run_sync(server, sync_variants(server.url), SYNC, sync_iterations, rounds)
        if bandwidth:
            rows += run_sync(server, bandwidth_variants(server.url), BANDWIDTH,
                             sync_iterations, rounds)
        rows += asyncio.run(run_async(server, async_iterations, rounds,
                                      ESSENTIAL if essential else None))
    finally:
        server.stop()
    by = {row["name"]: row for row in rows}
    sync, httpx_ = by["univoice Voice"], by["httpx.Client"]
    univoice, aiohttp_ = by["univoice AsyncVoice (aiohttp)"], by["aiohttp"]
    sync_ratio = paired(sync["rounds_us"], httpx_["rounds_us"])
    async_ratio = paired(aiohttp_["rounds_us"], univoice["rounds_us"])  # req/s: inverse
    sdk = by.get("bandwidth-sdk CallsApi")
    return {"quick": quick, "rounds": rounds, "cpus": os.cpu_count(), "rows": rows,
            "server": f"uvicorn/{SERVER_HTTP}/{SERVER_LOOP}",
            "bandwidth_sdk": None if not bandwidth else "installed" if sdk else NOT_INSTALLED,
            "targets": [
                {"name": "sync: univoice ÷ bare httpx, µs/request", "ratio": sync_ratio.median,
                 "spread": sync_ratio.as_dict(),
                 "cpu_ratio": sync["cpu_us_per_request"] / httpx_["cpu_us_per_request"],
                 "target": f"<= {SYNC_TARGET}", "met": sync_ratio.median <= SYNC_TARGET},
                {"name": f"async x{CONCURRENCY}: univoice ÷ bare aiohttp, req/s",
                 "ratio": async_ratio.median, "spread": async_ratio.as_dict(),
                 "cpu_ratio": aiohttp_["cpu_us_per_request"] / univoice["cpu_us_per_request"],
                 "target": f">= {ASYNC_TARGET}", "met": async_ratio.median >= ASYNC_TARGET}]}


def report(results: dict[str, Any]) -> None:
    print(f"{'quick run, ' if results['quick'] else ''}{results['cpus']} CPUs, server "
          f"{results['server']}; medians of {results['rounds']} rounds; iteration = create + get")
    print(f"  {'':<20}{'client':<32}{'µs/req':>9}{'cpu µs/req':>12}{'req/s':>9}{'srv cpu':>9}")
    for row in results["rows"]:
        server = "-" if row["server_cpu_pct"] is None else f"{row['server_cpu_pct']:.0f}%"
        print(f"  {row['mode']:<20}{row['name']:<32}{row['us_per_request']:9.1f}"
              f"{row['cpu_us_per_request']:12.1f}{row['requests_per_s']:9.0f}{server:>9}")
    if results["bandwidth_sdk"] not in (None, "installed"):
        print(f"  {BANDWIDTH:<20}{'bandwidth-sdk CallsApi':<32}{results['bandwidth_sdk']}")
    for target in results["targets"]:
        spread = target["spread"]
        print(f"  target {target['name']} {target['target']}: {target['ratio']:.2f} "
              f"({spread['low']:.2f}-{spread['high']:.2f}) "
              f"{'met' if target['met'] else 'MISSED'} (client CPU: {target['cpu_ratio']:.2f})")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))  # then the URL, which it does not need
    else:
        asked = sys.argv.index("--rounds") + 1 if "--rounds" in sys.argv else 0
        cli(main, report, rounds=int(sys.argv[asked]) if asked else None,
            bandwidth="--bandwidth" in sys.argv)
