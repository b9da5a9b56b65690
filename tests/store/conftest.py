"""Fixtures for the FlowStore tests: real redis-server processes and a spawn process pool.

Redis tests run against a real ``redis-server`` (Debian's package; ``.ci/run`` installs
it) started here on a free 127.0.0.1 port without persistence, and stopped at the end.
"""

from __future__ import annotations

import multiprocessing
import shutil
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from concurrent.futures import ProcessPoolExecutor
from pathlib import Path

import pytest

from tests.store import workers


def _find_redis_server() -> str | None:
    found = shutil.which("redis-server")
    if found:
        return found
    for candidate in ("/usr/bin/redis-server", "/usr/sbin/redis-server",
                      "/usr/local/bin/redis-server"):
        if Path(candidate).is_file():
            return candidate
    return None


def _free_port() -> int:
    with socket.socket() as sock:
        sock.bind(("127.0.0.1", 0))
        port: int = sock.getsockname()[1]
        return port


class RedisServer:
    """One redis-server process on 127.0.0.1, no persistence."""

    def __init__(self, exe: str, workdir: Path, *, password: str | None = None) -> None:
        self.port = _free_port()
        self.password = password
        args = [exe, "--port", str(self.port), "--bind", "127.0.0.1", "--save", "",
                "--appendonly", "no", "--daemonize", "no", "--dir", str(workdir),
                "--loglevel", "warning"]
        if password:
            args += ["--requirepass", password]
        self.proc = subprocess.Popen(args, stdout=subprocess.DEVNULL,
                                     stderr=subprocess.PIPE)
        self._wait_ready()

    def _wait_ready(self) -> None:
        deadline = time.monotonic() + 10
        while time.monotonic() < deadline:
            if self.proc.poll() is not None:
                err = self.proc.stderr.read().decode(errors="replace") if self.proc.stderr else ""
                raise RuntimeError(f"redis-server exited with {self.proc.returncode}: {err}")
            try:
                with socket.create_connection(("127.0.0.1", self.port), timeout=0.5) as sock:
                    sock.sendall(b"PING\r\n")
                    reply = sock.recv(64)
                if reply.startswith((b"+PONG", b"-NOAUTH")):
                    return
            except OSError:
                pass
            time.sleep(0.02)
        self.stop()
        raise RuntimeError("redis-server did not answer within 10 s")

    def url(self, db: int = 0, *, query: str = "") -> str:
        auth = f":{self.password}@" if self.password else ""
        return f"redis://{auth}127.0.0.1:{self.port}/{db}{'?' + query if query else ''}"

    def stop(self) -> None:
        if self.proc.poll() is None:
            self.proc.terminate()
            try:
                self.proc.wait(5)
            except subprocess.TimeoutExpired:
                self.proc.kill()
                self.proc.wait(5)
        if self.proc.stderr:
            self.proc.stderr.close()


@pytest.fixture(scope="session")
def redis_factory(tmp_path_factory: pytest.TempPathFactory
                  ) -> Iterator[Callable[..., RedisServer]]:
    """Start redis-server processes on demand; all are stopped at the end of the session."""
    pytest.importorskip("redis", reason="redis-py is not installed: pip install -e '.[test]'")
    exe = _find_redis_server()
    if exe is None:
        pytest.skip("redis-server is not installed (apt-get install redis-server); "
                    "the Redis store tests need a real server")
    started: list[RedisServer] = []

    def start(*, password: str | None = None) -> RedisServer:
        server = RedisServer(exe, tmp_path_factory.mktemp("redis"), password=password)
        started.append(server)
        return server

    yield start
    for server in started:
        server.stop()


@pytest.fixture(scope="session")
def redis_server(redis_factory: Callable[..., RedisServer]) -> RedisServer:
    """The shared server; tests keep apart by key namespace."""
    return redis_factory()


@pytest.fixture(scope="session")
def process_pool() -> Iterator[ProcessPoolExecutor]:
    """Two spawned worker processes, each a separate client of the store under test.

    Each task waits at a barrier for the other, so the two tasks of a test always run
    in two processes at the same time.
    """
    ctx = multiprocessing.get_context("spawn")
    barrier = ctx.Barrier(2)
    with ProcessPoolExecutor(2, mp_context=ctx, initializer=workers.init,
                             initargs=(barrier,)) as pool:
        yield pool
