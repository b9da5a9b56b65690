"""REST benchmark: univoice's clients against bare HTTP clients, on one local server.

    python bench/rest_bench.py            # human-readable
    python bench/rest_bench.py --json     # for scripts
    python bench/rest_bench.py --quick    # a few seconds (the smoke test runs this)

A provider-like server (a raw ASGI app under uvicorn, in its own process so it does not
share the GIL with the clients) answers ``POST /calls`` (201) and ``GET /calls/{id}``
(200). Each iteration creates a call and fetches it again: two requests. Measured:

- sync, one request at a time: ``Voice.calls.create`` + ``.get`` (through the bench-only
  adapter in ``bench/bench_provider.py``), bare ``httpx.Client``, bare ``urllib3``;
- async, 50 requests in flight: ``AsyncVoice`` (default backend: httpx over aiohttp, and
  ``async_backend="httpx"``), bare ``aiohttp``, bare ``httpx.AsyncClient``, and httpx
  over ``httpx_aiohttp.AiohttpTransport``.

Variants run round-robin (warm-up round first) and each figure is the median of the
rounds: wall µs per request, the client process's CPU µs per request, requests per
second, and the server process's CPU use (near 100% means the server, not the client,
bounds the throughput). Targets (issue "Client core"): univoice sync µs per request at
most 1.15x bare httpx; univoice async throughput at least 0.5x bare aiohttp.
Nothing here is a test: no assertion is made on a time.
"""

from __future__ import annotations

import asyncio
import gc
import json
import os
import socket
import statistics
import subprocess
import sys
import time
import urllib.request
from collections.abc import Awaitable, Callable
from pathlib import Path
from typing import Any

TO, FROM, ANSWER_URL = "+31612345678", "+31201234567", "https://app.example.com/answer"
ACCESS_KEY = "bench-access-key-0123456789"
HEADERS = {"Authorization": f"AccessKey {ACCESS_KEY}"}
BODY = {"to": TO, "from": FROM, "ringTimeout": 30.0, "tag": "uv-bench",
        "answerUrl": ANSWER_URL}
CONCURRENCY = 50
SYNC_TARGET, ASYNC_TARGET = 1.15, 0.5
# (iterations per round for sync, for async, rounds after the warm-up)
FULL, QUICK = (1000, 2000, 5), (100, 200, 2)


# The server -------------------------------------------------------------------------------


def call_json(call_id: str, sent: dict[str, Any]) -> bytes:
    return json.dumps({
        "id": call_id, "status": "queued", "direction": "outgoing",
        "from": sent.get("from", FROM), "to": sent.get("to", TO),
        "createdAt": "2024-05-01T12:00:00Z", "tag": sent.get("tag"),
        "answerUrl": sent.get("answerUrl", ANSWER_URL), "legs": [],
    }).encode()


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
    else:
        status, data = 404, b'{"message": "not found"}'
    await send({"type": "http.response.start", "status": status,
                "headers": [(b"content-type", b"application/json"),
                            (b"content-length", str(len(data)).encode())]})
    await send({"type": "http.response.body", "body": data})


def serve(fd: int) -> None:
    import uvicorn

    config = uvicorn.Config(app, lifespan="off", access_log=False, log_level="warning")
    uvicorn.Server(config).run(sockets=[socket.socket(fileno=fd)])


class Server:
    """The server in a child process, on a socket bound here (no port race)."""

    def __init__(self) -> None:
        listener = socket.create_server(("127.0.0.1", 0), backlog=1024)
        self.url = "http://127.0.0.1:{}".format(listener.getsockname()[1])
        self.proc = subprocess.Popen(
            [sys.executable, str(Path(__file__).resolve()), "--serve", str(listener.fileno())],
            pass_fds=[listener.fileno()])
        listener.close()
        deadline = time.monotonic() + 15
        while True:
            try:
                with urllib.request.urlopen(f"{self.url}/calls/ready", timeout=1):
                    return
            except OSError:
                if self.proc.poll() is not None or time.monotonic() > deadline:
                    self.stop()
                    raise RuntimeError("the bench server did not start") from None
                time.sleep(0.05)

    def cpu_seconds(self) -> float | None:
        try:
            fields = Path(f"/proc/{self.proc.pid}/stat").read_text().rsplit(")", 1)[1].split()
        except OSError:
            return None
        return (int(fields[11]) + int(fields[12])) / os.sysconf("SC_CLK_TCK")

    def stop(self) -> None:
        self.proc.terminate()
        try:
            self.proc.wait(timeout=5)
        except subprocess.TimeoutExpired:
            self.proc.kill()
            self.proc.wait()


# The clients: each variant is one iteration (create a call, fetch it) and a close ---------

SyncVariant = tuple[Callable[[], object], Callable[[], object]]
AsyncVariant = tuple[Callable[[], Awaitable[object]], Callable[[], Awaitable[object]]]


def provider(url: str) -> Any:
    sys.path.insert(0, str(Path(__file__).resolve().parent))
    from bench_provider import BenchProvider

    return BenchProvider(base_url=url, access_key=ACCESS_KEY)


def sync_variants(url: str) -> dict[str, SyncVariant]:
    import httpx
    import urllib3

    from univoice import Voice

    voice = Voice(provider(url))

    def univoice_sync() -> None:
        voice.calls.get(voice.calls.create(TO, FROM, answer_url=ANSWER_URL).id)

    client = httpx.Client(base_url=url, headers=HEADERS)

    def httpx_sync() -> None:
        created = client.post("/calls", json=BODY).raise_for_status().json()
        client.get(f"/calls/{created['id']}").raise_for_status().json()

    pool = urllib3.PoolManager(headers=HEADERS)

    def urllib3_sync() -> None:
        created = pool.request("POST", f"{url}/calls", json=BODY)
        got = pool.request("GET", f"{url}/calls/{created.json()['id']}")
        if created.status != 201 or got.status != 200:
            raise RuntimeError(f"unexpected status {created.status}, {got.status}")
        got.json()

    return {"univoice Voice": (univoice_sync, voice.close),
            "httpx.Client": (httpx_sync, client.close),
            "urllib3": (urllib3_sync, pool.clear)}


def async_variants(url: str) -> dict[str, AsyncVariant]:
    import aiohttp
    import httpx
    from httpx_aiohttp import AiohttpTransport

    from univoice import AsyncVoice

    def univoice_async(voice: AsyncVoice) -> AsyncVariant:
        async def one() -> None:
            created = await voice.calls.create(TO, FROM, answer_url=ANSWER_URL)
            await voice.calls.get(created.id)
        return one, voice.aclose

    def httpx_async(client: httpx.AsyncClient) -> AsyncVariant:
        async def one() -> None:
            created = (await client.post("/calls", json=BODY)).raise_for_status().json()
            (await client.get(f"/calls/{created['id']}")).raise_for_status().json()
        return one, client.aclose

    session = aiohttp.ClientSession(base_url=url, headers=HEADERS)

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

Sample = tuple[float, float, float | None]  # wall s, client CPU s, server CPU s


class Meter:
    def __init__(self, server: Server) -> None:
        self.server = server
        self.samples: dict[str, list[Sample]] = {}

    def start(self) -> tuple[float, float, float | None]:
        gc.collect()
        return time.perf_counter(), time.process_time(), self.server.cpu_seconds()

    def stop(self, name: str, begun: tuple[float, float, float | None]) -> None:
        wall, cpu, server = begun
        server_now = self.server.cpu_seconds()
        self.samples.setdefault(name, []).append((
            time.perf_counter() - wall, time.process_time() - cpu,
            None if server is None or server_now is None else server_now - server))

    def rows(self, mode: str, requests: int) -> list[dict[str, Any]]:
        out = []
        for name, samples in self.samples.items():
            wall = statistics.median(s[0] for s in samples)
            servers = [s[2] / s[0] for s in samples if s[2] is not None]
            out.append({
                "mode": mode, "name": name, "us_per_request": wall / requests * 1e6,
                "cpu_us_per_request": statistics.median(s[1] for s in samples) / requests * 1e6,
                "requests_per_s": requests / wall,
                "server_cpu_pct": statistics.median(servers) * 100 if servers else None,
            })
        return out


def run_sync(server: Server, iterations: int, rounds: int) -> list[dict[str, Any]]:
    variants, meter = sync_variants(server.url), Meter(server)
    try:
        for _ in range(iterations // 10 or 1):  # warm-up: connections, caches
            for one, _close in variants.values():
                one()
        for _ in range(rounds):
            for name, (one, _close) in variants.items():
                begun = meter.start()
                for _ in range(iterations):
                    one()
                meter.stop(name, begun)
    finally:
        for _one, close in variants.values():
            close()
    return meter.rows("sync", 2 * iterations)


async def run_async(server: Server, iterations: int, rounds: int) -> list[dict[str, Any]]:
    variants, meter = async_variants(server.url), Meter(server)
    try:
        for one, _close in variants.values():  # warm-up: fills every pool
            await in_flight(one, max(CONCURRENCY, iterations // 10))
        for _ in range(rounds):
            for name, (one, _close) in variants.items():
                begun = meter.start()
                await in_flight(one, iterations)
                meter.stop(name, begun)
    finally:
        for _one, close in variants.values():
            await close()
    return meter.rows(f"async x{CONCURRENCY}", 2 * iterations)


def main(quick: bool = False) -> dict[str, Any]:
    sync_iterations, async_iterations, rounds = QUICK if quick else FULL
    server = Server()
    try:
        rows = run_sync(server, sync_iterations, rounds)
        rows += asyncio.run(run_async(server, async_iterations, rounds))
    finally:
        server.stop()
    by_name = {row["name"]: row for row in rows}
    sync_ratio = (by_name["univoice Voice"]["us_per_request"]
                  / by_name["httpx.Client"]["us_per_request"])
    async_ratio = (by_name["univoice AsyncVoice (aiohttp)"]["requests_per_s"]
                   / by_name["aiohttp"]["requests_per_s"])
    return {
        "quick": quick, "cpus": os.cpu_count(), "rows": rows,
        "targets": [
            {"name": "sync: univoice µs/request ÷ bare httpx", "ratio": sync_ratio,
             "target": f"<= {SYNC_TARGET}", "met": sync_ratio <= SYNC_TARGET},
            {"name": f"async x{CONCURRENCY}: univoice req/s ÷ bare aiohttp",
             "ratio": async_ratio, "target": f">= {ASYNC_TARGET}",
             "met": async_ratio >= ASYNC_TARGET},
        ],
    }


def report(results: dict[str, Any]) -> None:
    print(f"{'quick run, ' if results['quick'] else ''}{results['cpus']} CPUs; "
          "each figure is a median of rounds; an iteration is create + get (2 requests)")
    print(f"  {'':<14}{'client':<32}{'µs/req':>9}{'cpu µs/req':>12}{'req/s':>9}{'srv cpu':>9}")
    for row in results["rows"]:
        server = "-" if row["server_cpu_pct"] is None else f"{row['server_cpu_pct']:.0f}%"
        print(f"  {row['mode']:<14}{row['name']:<32}{row['us_per_request']:9.1f}"
              f"{row['cpu_us_per_request']:12.1f}{row['requests_per_s']:9.0f}{server:>9}")
    for target in results["targets"]:
        print(f"  target {target['name']} {target['target']}: {target['ratio']:.2f} "
              f"{'met' if target['met'] else 'MISSED'}")


if __name__ == "__main__":
    if sys.argv[1:2] == ["--serve"]:
        serve(int(sys.argv[2]))
    else:
        res = main(quick="--quick" in sys.argv)
        if "--json" in sys.argv:
            print(json.dumps(res, indent=2, ensure_ascii=False))
        else:
            report(res)
