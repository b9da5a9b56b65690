"""An ASGI app served by uvicorn on 127.0.0.1 in a background thread of the test process.

The socket is bound before uvicorn starts (port 0), so there is no window in which another
process can take the port; handlers registered on the app run in this process, where a
test can see what they saw.

    with LiveServer(app) as server:
        httpx.get(f"{server.url}/univoice/health")

    server = LiveServer()              # the URL first, for an app that must know it
    server.start(VoiceApp(public_url=server.url, ...))
"""

from __future__ import annotations

import socket
import threading
import time
from types import TracebackType
from typing import Self

import uvicorn
from starlette.types import ASGIApp


class LiveServer:
    def __init__(self, app: ASGIApp | None = None, *, name: str = "live-server") -> None:
        self.app = app
        self._sock = socket.socket(socket.AF_INET, socket.SOCK_STREAM)
        self._sock.setsockopt(socket.SOL_SOCKET, socket.SO_REUSEADDR, 1)
        self._sock.bind(("127.0.0.1", 0))
        self.port: int = int(self._sock.getsockname()[1])
        self.url = f"http://127.0.0.1:{self.port}"
        self._server: uvicorn.Server | None = None
        self._thread = threading.Thread(target=self._run, name=name, daemon=True)
        self._failure: list[BaseException] = []

    def _run(self) -> None:
        assert self._server is not None
        try:
            self._server.run(sockets=[self._sock])
        except BaseException as exc:  # reported to the starting thread
            self._failure.append(exc)

    def start(self, app: ASGIApp | None = None, timeout: float = 20.0) -> Self:
        self.app = app or self.app
        if self.app is None:
            raise ValueError("LiveServer.start needs an app")
        config = uvicorn.Config(self.app, log_level="warning", lifespan="off",
                                access_log=False)
        self._server = uvicorn.Server(config)
        self._thread.start()
        deadline = time.monotonic() + timeout
        while not self._server.started:
            if self._failure or not self._thread.is_alive():
                raise RuntimeError(f"uvicorn did not start: {self._failure}")
            if time.monotonic() > deadline:
                self.stop()
                raise RuntimeError("uvicorn did not start in time")
            time.sleep(0.02)
        return self

    def stop(self) -> None:
        if self._server is not None:
            self._server.should_exit = True
        if self._thread.is_alive():
            self._thread.join(15)
        self._sock.close()

    def __enter__(self) -> Self:
        return self.start()

    def __exit__(self, exc_type: type[BaseException] | None, exc: BaseException | None,
                 tb: TracebackType | None) -> None:
        self.stop()
