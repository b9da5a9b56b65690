"""The webhook app under load and faults, over real HTTP.

Two ``univoice serve`` processes (``tests.load.app_factory``) share one store, SQLite (a
file) or Redis (a real ``redis-server``). A sender playing the providers (``sender.py``)
delivers 10,000 distinct events, Bandwidth and MessageBird callbacks (``traffic.py``),
plus 20% duplicates, shuffled with a seeded RNG, 32 requests in flight, split between the
two processes, and redelivers whatever gets no 2xx, as a provider does. Every handler run
leaves a line in its process's log (``O_APPEND``, written before the app answers), so the
test counts runs per event across processes; the store says how often each was claimed.

What is proved (the fault tests with 2,000 events, 2,400 deliveries):

- no faults: every event handled exactly once (one run, one claim, recorded done);
- one process SIGKILLed after a third of the stream: nothing lost. Each event is handled
  at least once; an event runs twice only when the killed process ran its handler and died
  before recording it done (the redelivery takes over once the claim's lease runs out),
  so every extra run is of an event the killed process ran, and there are at most as
  many as requests were in flight; every run is accounted for by a claim in the store;
- the store down for 2 s (SQLite: another connection holds the write lock; Redis: the
  server shut down, then restarted from its saved data): answers are 503 with a
  Retry-After, never a 2xx for an event not handled, and once the store is back every
  event has been handled exactly once.

The guarantee, precisely: the app answers 2xx only after each event of the callback has
been handled (its handler returned or raised) or found handled already (recorded "done" or
"failed"); a redelivery that finds another delivery of the same event still in progress
waits for it (bounded), and takes it over when the claim's lease runs out. So an event is
lost only if the provider stops redelivering before the lease runs out, and handled twice
only if a process dies between the handler's effect and the "done" record:
at-least-once, exactly once while processes live. (A store that stays down longer than
the app retries recording the outcome leaves a handled event's record "claimed"; it is
acknowledged, and not run again.)

Figures (callbacks/s and the rest) print with ``pytest -s``; no assertion depends on
time. ``UNIVOICE_LONG=1`` runs long variants: 100,000 events without faults; fault tests
of 30,000 events where each process is killed in turn (the first restarted in between),
and where the store goes down three times for 4 s.
"""

from __future__ import annotations

import os
import signal
import socket
import sqlite3
import subprocess
import sys
import threading
import time
import uuid
from collections import Counter
from collections.abc import Callable, Iterator
from dataclasses import dataclass
from pathlib import Path
from typing import Any

import httpx
import pytest

from univoice.store import StoredEvent, open_store

from .sender import Report, Sender
from .traffic import Stream, stream

ROOT = Path(__file__).resolve().parents[2]
LONG = os.environ.get("UNIVOICE_LONG", "") not in ("", "0")
EVENTS = 100_000 if LONG else 10_000
FAULT_EVENTS = 30_000 if LONG else 2_000
OUTAGE = 4.0 if LONG else 2.0  # seconds the store is down (under the app's FINISH_RETRY)
LEASE = 5.0  # the event lease of the fault tests' apps (the default is 60 s)
IN_FLIGHT = 32


# Processes ------------------------------------------------------------------------------


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return int(s.getsockname()[1])


class AppProcess:
    """``univoice serve --app tests.load.app_factory:create_app`` on a free port."""

    def __init__(self, store: str, log: Path, *, lease: float | None = None,
                 handler_delay: float | None = None) -> None:
        self.log = log
        self.env = {**os.environ, "LOAD_STORE": store, "LOAD_LOG": str(log),
                    "PYTHONPATH": os.pathsep.join([str(ROOT), os.environ.get("PYTHONPATH", "")])}
        if lease is not None:
            self.env["LOAD_LEASE"] = str(lease)
        if handler_delay is not None:
            self.env["LOAD_HANDLER_DELAY"] = str(handler_delay)
        # Output to a file, never an unread pipe: a full pipe blocks the app's logging
        # (and so its event loop) once it logs enough, as it does while the store is down.
        self.output = log.with_suffix(".out")
        self.proc: subprocess.Popen[bytes] | None = None
        self.launch()

    def launch(self, port: int | None = None) -> None:
        self.port = port or free_port()
        self.url = f"http://127.0.0.1:{self.port}"
        with self.output.open("ab") as output:
            self.proc = subprocess.Popen(
                [sys.executable, "-m", "univoice", "serve", "--port", str(self.port),
                 "--app", "tests.load.app_factory:create_app", "--no-log-events"],
                cwd=ROOT, env=self.env, stdout=output, stderr=subprocess.STDOUT)

    def wait_ready(self) -> None:
        for _ in range(3):  # a free port can be taken before uvicorn binds it: try another
            if self._ready():
                return
            self.stop()
            self.launch()
        self.stop()
        raise RuntimeError(f"the app did not start: {self.output.read_text()[-2000:]}")

    def restart(self) -> None:
        """Start again on the same port (where the balancer sends its share)."""
        self.launch(self.port)
        self.wait_ready()

    def _ready(self) -> bool:
        assert self.proc is not None
        deadline = time.monotonic() + 60
        while time.monotonic() < deadline and self.proc.poll() is None:
            try:
                if httpx.get(f"{self.url}/univoice/health", timeout=2).status_code == 200:
                    return True
            except httpx.TransportError:
                pass
            time.sleep(0.1)
        return False

    def kill(self) -> None:
        """SIGKILL: no shutdown, no flush, requests in flight cut."""
        assert self.proc is not None
        self.proc.send_signal(signal.SIGKILL)
        self.proc.wait()

    def stop(self) -> None:
        if self.proc is None:
            return
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(timeout=10)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait()


@pytest.fixture
def start_apps() -> Iterator[Callable[..., list[AppProcess]]]:
    started: list[AppProcess] = []

    def start(store: str, logs: list[Path], **options: Any) -> list[AppProcess]:
        apps = [AppProcess(store, log, **options) for log in logs]  # starting together
        started.extend(apps)
        for app in apps:
            app.wait_ready()
        return apps

    yield start
    for app in started:
        app.stop()


@pytest.fixture(params=["sqlite", "redis"])
def store_url(request: pytest.FixtureRequest, tmp_path: Path) -> str:
    if request.param == "sqlite":
        return f"sqlite:///{tmp_path / 'load.db'}"
    server = request.getfixturevalue("redis_server")  # skips when redis-server is absent
    return str(server.url(query=f"namespace=load-{uuid.uuid4().hex[:8]}"))


# What happened --------------------------------------------------------------------------


@dataclass
class Outcome:
    runs: Counter[str]  # handler runs per event id, all processes
    runs_by_log: dict[Path, Counter[str]]
    records: dict[str, StoredEvent]  # the store's record per event id

    @property
    def extra_runs(self) -> int:
        return sum(self.runs.values()) - len(self.runs)


def outcome(store_url: str, logs: list[Path], traffic: Stream) -> Outcome:
    by_log = {log: Counter(log.read_text().split()) if log.exists() else Counter[str]()
              for log in logs}
    runs: Counter[str] = Counter()
    for counted in by_log.values():
        runs.update(counted)
    with open_store(store_url) as store:
        stored = store.events(limit=len(traffic.events) + 1000)
    # The app keys each record "{provider}:{event id}"; event ids start with the provider.
    records = {event.key.split(":", 1)[1]: event for event in stored}
    return Outcome(runs, by_log, records)


def check_every_event_handled(result: Outcome, traffic: Stream, report: Report, *,
                              unrecorded: bool = False) -> None:
    """Every delivery acknowledged, every event run and recorded done, every run claimed.
    ``unrecorded``: a record may stay "claimed" if its event ran once (the store was down
    for longer than the app retried recording it done)."""
    assert report.given_up == [], report.summary()
    assert report.acknowledged == len(traffic.deliveries)
    assert set(result.runs) == traffic.events  # every event ran, and nothing else did
    assert set(result.records) == traffic.events
    left = {e: r.status for e, r in result.records.items() if r.status != "done"}
    if unrecorded:
        left = {e: s for e, s in left.items() if s != "claimed" or result.runs[e] != 1}
    assert left == {}
    # Every run of a handler is accounted for by a claim in the store.
    over = {e: (n, result.records[e].attempts) for e, n in result.runs.items()
            if n > result.records[e].attempts}
    assert over == {}


def show(title: str, traffic: Stream, report: Report, result: Outcome, **more: Any) -> None:
    claims = sum(r.attempts for r in result.records.values())
    print(f"\n{title}: {len(traffic.events)} events in {traffic.callbacks} callbacks "
          f"+ {traffic.duplicates} duplicates; handler runs {sum(result.runs.values())} "
          f"({len(result.runs)} events, {result.extra_runs} extra), claims {claims}; "
          f"{report.summary()}" + "".join(f"; {k} {v}" for k, v in more.items()))


# Tests ----------------------------------------------------------------------------------


def test_every_event_handled_exactly_once(store_url: str, tmp_path: Path,
                                          start_apps: Callable[..., list[AppProcess]]) -> None:
    traffic = stream(EVENTS, duplicates=0.2, seed=9)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    apps = start_apps(store_url, logs)
    report = Sender([app.url for app in apps], in_flight=IN_FLIGHT).run(traffic.deliveries)
    result = outcome(store_url, logs, traffic)
    show(f"no faults, {store_url.split(':')[0]}", traffic, report, result)
    check_every_event_handled(result, traffic, report)
    assert report.statuses.keys() == {200}  # nothing failed, nothing was redelivered
    assert report.redeliveries == 0
    assert result.runs == Counter(dict.fromkeys(traffic.events, 1))  # exactly once
    assert {r.attempts for r in result.records.values()} == {1}
    assert all(result.runs_by_log.values())  # both processes took their share


def test_killing_a_process_mid_stream_loses_nothing(
        store_url: str, tmp_path: Path, start_apps: Callable[..., list[AppProcess]]) -> None:
    traffic = stream(FAULT_EVENTS, duplicates=0.2, seed=11)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    apps = start_apps(store_url, logs, lease=LEASE, handler_delay=0.02)
    total = len(traffic.deliveries)
    # SIGKILL at a third (and, long, the other process at two thirds, the first restarted
    # in between): whatever the killed process had in flight goes unanswered.
    plan = [(total // 3, 0)] + ([(2 * total // 3, 1)] if LONG else [])
    killed: list[int] = []

    def progress(acknowledged: int) -> None:
        if plan and acknowledged >= plan[0][0]:
            _, which = plan.pop(0)
            apps[which].kill()
            killed.append(which)
            if plan:  # the long variant: back up before the other one goes
                threading.Thread(target=apps[which].restart, daemon=True).start()

    report = Sender([app.url for app in apps], in_flight=IN_FLIGHT,
                    on_progress=progress).run(traffic.deliveries)
    result = outcome(store_url, logs, traffic)
    dead = [logs[which] for which in killed]
    twice = {e for e, n in result.runs.items() if n > 1}
    show(f"kill, {store_url.split(':')[0]}", traffic, report, result,
         killed=len(killed), **{"events run twice": len(twice),
                                "claims taken over": sum(r.attempts > 1 for r in
                                                         result.records.values())})
    assert len(killed) == (2 if LONG else 1)
    assert report.errors, "the kill cut no request"
    check_every_event_handled(result, traffic, report)
    # An event ran twice only where a killed process had run it, and no more often than
    # there were requests in flight at a kill.
    assert all(any(result.runs_by_log[log][e] for log in dead) for e in twice)
    assert result.extra_runs <= IN_FLIGHT * len(killed)


def test_a_store_outage_gives_503s_and_loses_nothing(
        store_kind: str, tmp_path: Path, start_apps: Callable[..., list[AppProcess]],
        request: pytest.FixtureRequest) -> None:
    traffic = stream(FAULT_EVENTS, duplicates=0.2, seed=13)
    logs = [tmp_path / "a.log", tmp_path / "b.log"]
    if store_kind == "sqlite":
        path = tmp_path / "outage.db"
        # A short busy timeout: a request meeting the lock fails (503) within 0.25 s.
        url = f"sqlite:///{path}?timeout=0.25"

        def outage() -> None:  # another process's long write transaction, say a migration
            hold_write_lock(path, OUTAGE)
    else:
        server = request.getfixturevalue("redis_factory")()  # its own: it is restarted
        url = str(server.url(query="timeout=1"))

        def outage() -> None:
            restart_redis(server, down=OUTAGE)

    apps = start_apps(url, logs, lease=LEASE)
    # Down at a third of the stream (long: at a quarter, a half and three quarters).
    total = len(traffic.deliveries)
    plan = [total * k // 4 for k in (1, 2, 3)] if LONG else [total // 3]
    outages: list[threading.Thread] = []

    def progress(acknowledged: int) -> None:
        if plan and acknowledged >= plan[0] and not any(t.is_alive() for t in outages):
            plan.pop(0)
            outages.append(threading.Thread(target=outage, daemon=True))
            outages[-1].start()

    report = Sender([app.url for app in apps], in_flight=IN_FLIGHT,
                    on_progress=progress).run(traffic.deliveries)
    for thread in outages:
        thread.join(60)
    result = outcome(url, logs, traffic)
    show(f"outage, {store_kind}", traffic, report, result, outages=len(outages),
         **{"503s": report.statuses[503], "Retry-After": dict(report.retry_after),
            "left claimed": sum(r.status == "claimed" for r in result.records.values())})
    assert len(outages) == (3 if LONG else 1)
    assert report.statuses[503] > 0, "the outage was not seen"
    assert set(report.statuses) <= {200, 503}
    assert report.retry_after[""] == 0  # every 503 says when to come back
    check_every_event_handled(result, traffic, report, unrecorded=True)
    assert result.runs == Counter(dict.fromkeys(traffic.events, 1))  # exactly once


@pytest.fixture(params=["sqlite", "redis"])
def store_kind(request: pytest.FixtureRequest) -> str:
    return str(request.param)


def restart_redis(server: Any, *, down: float) -> None:
    """Shut the server down (saving its data, as a persistent Redis does), stay down for
    ``down`` seconds, then start it again on the same port from the saved data."""
    import redis

    client = redis.Redis.from_url(server.url())
    try:
        client.shutdown(save=True)
    except redis.exceptions.ConnectionError:
        pass  # the server closes the connection as it goes
    finally:
        client.close()
    server.proc.wait(10)
    if server.proc.stderr:
        server.proc.stderr.close()
    time.sleep(down)
    server.proc = subprocess.Popen(server.proc.args, stdout=subprocess.DEVNULL,
                                   stderr=subprocess.DEVNULL)
    deadline = time.monotonic() + 20
    while True:
        try:
            with redis.Redis.from_url(server.url(), socket_timeout=1) as probe:
                probe.ping()
            return
        except redis.exceptions.RedisError:
            if time.monotonic() > deadline or server.proc.poll() is not None:
                raise
            time.sleep(0.05)


def hold_write_lock(path: Path, seconds: float) -> None:
    """Take the SQLite database's write lock, hold it ``seconds``, let it go.

    Tried in a tight loop rather than with a busy timeout: SQLite's busy handler sleeps
    ever longer between tries, and the apps' short write transactions would starve it.
    """
    conn = sqlite3.connect(path, timeout=0, isolation_level=None)
    try:
        deadline = time.monotonic() + 30
        while True:
            try:
                conn.execute("BEGIN IMMEDIATE")
                break
            except sqlite3.OperationalError:
                if time.monotonic() > deadline:
                    raise
                time.sleep(0.0005)
        time.sleep(seconds)
        conn.execute("ROLLBACK")
    finally:
        conn.close()
