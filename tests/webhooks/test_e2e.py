"""The webhook app over real HTTP: uvicorn processes on 127.0.0.1 sharing one store."""

from __future__ import annotations

import asyncio
import json
import os
import socket
import subprocess
import sys
import time
import uuid
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest

from univoice import Flow
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.callbacks import SIGNATURE_HEADER, inbound_payload, payloads, sign
from univoice.store import open_store

from .sample_app import IVR

ROOT = Path(__file__).resolve().parents[2]
SECRET = "whsec-e2e-0123456789"


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class Server:
    """`univoice serve --app ...` in its own process."""

    def __init__(self, store: str, log: Path) -> None:
        self.port = free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        env = {**os.environ, "SAMPLE_STORE": store, "SAMPLE_LOG": str(log),
               "SAMPLE_SECRET": SECRET, "SAMPLE_PUBLIC_URL": self.url,
               "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        self.proc = subprocess.Popen(
            [sys.executable, "-m", "univoice", "serve", "--port", str(self.port),
             "--app", "tests.webhooks.sample_app:create_app", "--no-log-events"],
            cwd=ROOT, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
        deadline = time.monotonic() + 30
        while time.monotonic() < deadline:
            try:
                if httpx.get(f"{self.url}/univoice/health", timeout=1).status_code == 200:
                    return
            except httpx.TransportError:
                pass
            if self.proc.poll() is not None:
                break
            time.sleep(0.1)
        self.stop()
        out = self.proc.stdout.read().decode() if self.proc.stdout else ""
        raise RuntimeError(f"server did not start: {out[-2000:]}")

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'shared.db'}"
    server = request.getfixturevalue("redis_server")  # skips when redis-server is absent
    return str(server.url(query=f"namespace=e2e-{uuid.uuid4().hex[:8]}"))


@pytest.fixture
def two_servers(store_url: str, tmp_path: Path) -> Iterator[tuple[Server, Server, Path]]:
    log = tmp_path / "handled.log"
    servers = [Server(store_url, log), Server(store_url, log)]
    try:
        yield servers[0], servers[1], log
    finally:
        for server in servers:
            server.stop()


def signed(server: Server, payload: dict[str, object]) -> tuple[str, bytes, dict[str, str]]:
    url = f"{server.url}/univoice/simulator/events"
    body = json.dumps(payload).encode()
    return url, body, {"content-type": "application/json",
                       SIGNATURE_HEADER: sign(SECRET, url, body)}


def test_100_concurrent_duplicates_across_two_processes_are_handled_once(
        two_servers: tuple[Server, Server, Path]) -> None:
    a, b, log = two_servers
    trace = simulate(IVR, CalleeScript.presses("1"), call_id="dup-1")
    events = payloads(trace)[:10]
    deliveries = [signed((a, b)[i % 2], events[i % len(events)]) for i in range(100)]

    async def deliver_all() -> list[int]:
        async with httpx.AsyncClient(timeout=30) as client:
            responses = await asyncio.gather(*(
                client.post(url, content=body, headers=headers)
                for url, body, headers in deliveries))
        return [r.status_code for r in responses]

    assert set(asyncio.run(deliver_all())) == {200}
    handled = log.read_text().split()
    assert sorted(handled) == sorted(e["id"] for e in events)  # each exactly once


def test_inbound_call_answered_over_http_runs_like_in_process(
        two_servers: tuple[Server, Server, Path]) -> None:
    a, _, log = two_servers
    url, body, headers = signed(a, inbound_payload("in-1", "+31612345678", "+31201234567"))
    answer = httpx.post(url, content=body, headers=headers, timeout=10)
    assert answer.status_code == 200
    served = Flow.from_json(answer.content)
    script = CalleeScript.presses("1")
    remote = simulate(served, script, call_id="in-1")
    assert remote == simulate(IVR, script, call_id="in-1")
    # The call's callbacks go back to the app and reach the handlers.
    with httpx.Client(timeout=10) as client:
        from univoice.simulator.callbacks import deliver

        codes = {r.status_code for r in deliver(remote, url, client, secret=SECRET)}
    assert codes == {200}
    assert len(log.read_text().split()) == len(payloads(remote)) + 1  # + the inbound event


def test_restart_mid_call_loses_no_flow_state(store_url: str, tmp_path: Path) -> None:
    store = open_store(store_url)
    store.put_flow("flow-1", IVR.to_dict())
    store.update_state("simulator:call:c-1", lambda s: {**s, "account": "4711"})
    server = Server(store_url, tmp_path / "log")
    node = "steps[0].gather.options['1']"

    def branch(srv: Server) -> Flow:
        path = f"/univoice/simulator/flow/flow-1/{node}"
        r = httpx.get(srv.url + path, timeout=10,
                      headers={SIGNATURE_HEADER: sign(SECRET, srv.url + path, b"")})
        assert r.status_code == 200, r.text
        return Flow.from_json(r.content)

    before = branch(server)
    server.stop()
    restarted = Server(store_url, tmp_path / "log")
    try:
        assert branch(restarted) == before
        assert store.get_state("simulator:call:c-1") == {"account": "4711"}
    finally:
        restarted.stop()
        store.close()


SUPPORT = Flow.from_yaml(ROOT / "examples" / "support_ivr.yaml")
SCRIPTS = [
    CalleeScript.presses("1"),
    CalleeScript.presses("1", transfers=[False], record_seconds=12),
    CalleeScript.presses("2", "1"),
    CalleeScript.presses("2", "2", "4711#", transfers=[False]),
    CalleeScript.presses(None, None, None),
    CalleeScript.presses("9", "8", "7"),
    CalleeScript.presses("3"),
    CalleeScript.presses("2", hang_up_after=20),
]


def test_flow_fetched_document_by_document_runs_like_in_process(store_url: str,
                                                                tmp_path: Path) -> None:
    from univoice.simulator.remote import comparable, simulate_via_app

    with open_store(store_url) as store:
        store.put_flow("support", SUPPORT.to_dict())
    server = Server(store_url, tmp_path / "log")
    try:
        with httpx.Client(timeout=10) as client:
            for script in SCRIPTS:
                remote = simulate_via_app(server.url, "support", script, client,
                                          secret=SECRET, call_id="r-1")
                local = simulate(SUPPORT, script, call_id="r-1")
                assert comparable(remote) == comparable(local), script
                assert remote.end_reason == local.end_reason
                assert remote.variables == local.variables
                assert any(e.kind == "redirected" for e in remote.events)  # it did fetch
    finally:
        server.stop()


def test_serve_flow_answers_every_inbound_call(tmp_path: Path) -> None:
    port = free_port()
    url = f"http://127.0.0.1:{port}"
    env = {**os.environ, "UNIVOICE_FLOW_STORE": f"sqlite:///{tmp_path / 'serve.db'}",
           "UNIVOICE_SIMULATOR__WEBHOOK_SECRET": SECRET}
    env.pop("UNIVOICE_SERVE_APP", None)
    proc = subprocess.Popen(
        [sys.executable, "-m", "univoice", "serve", "--port", str(port), "--public-url", url,
         "--flow", str(ROOT / "examples" / "conference_bridge.yaml"), "--no-log-events"],
        cwd=tmp_path, env=env, stdout=subprocess.PIPE, stderr=subprocess.STDOUT)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                if httpx.get(f"{url}/univoice/health", timeout=1).status_code == 200:
                    break
            except httpx.TransportError:
                pass
            assert proc.poll() is None and time.monotonic() < deadline, "server did not start"
            time.sleep(0.1)
        events = f"{url}/univoice/simulator/events"
        body = json.dumps(inbound_payload("in-9", "+31612345678", "+31209999999")).encode()
        answer = httpx.post(events, content=body, timeout=10, headers={
            "content-type": "application/json", SIGNATURE_HEADER: sign(SECRET, events, body)})
        assert answer.status_code == 200, answer.text
        assert Flow.from_json(answer.content).name == "Acme conference bridge"
        unsigned = httpx.post(events, content=body, timeout=10,
                              headers={"content-type": "application/json"})
        assert unsigned.status_code == 401  # the configured secret is enforced
    finally:
        proc.terminate()
        proc.wait(timeout=10)
    out = proc.stdout.read().decode() if proc.stdout else ""
    assert f"simulator: callbacks and inbound calls -> {url}/univoice/simulator/events" in out
    assert SECRET not in out
