"""The console mounted by ``univoice serve``'s own ``create_app``, in process."""

from __future__ import annotations

import os
from collections.abc import Callable, Iterator
from pathlib import Path
from typing import Any

import pytest
from starlette.testclient import TestClient

from univoice.webhooks.app import VoiceApp
from univoice.webhooks.serve import create_app

from .browser import SAVED
from .server import ROOT, basic, evil_flow, write_config

Make = Callable[..., VoiceApp]


@pytest.fixture
def make_app(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> Iterator[Make]:
    """``create_app()`` with a univoice.toml written by ``write_config(**options)``;
    ``UNIVOICE_SERVE_FLOW`` is the support line, and the evil flow answers +31200000666."""
    made: list[VoiceApp] = []
    for key in [k for k in os.environ if k.startswith("UNIVOICE_")]:
        if key != "UNIVOICE_REQUIRE_BROWSER":
            monkeypatch.delenv(key)
    monkeypatch.setenv("UNIVOICE_SERVE_FLOW", str(ROOT / "examples" / "support_ivr.yaml"))

    def make(**options: Any) -> VoiceApp:
        options.setdefault("inbound", {"+31200000666": evil_flow(tmp_path)})
        monkeypatch.setenv("UNIVOICE_CONFIG", str(write_config(tmp_path, **options)))
        app = create_app()
        made.append(app)
        return app

    yield make
    for app in made:
        app.store.close()


@pytest.fixture
def client(make_app: Make) -> Iterator[TestClient]:
    """A client sending the console's credentials with every request."""
    with TestClient(make_app(), headers={"authorization": basic()}) as c:
        yield c


def pytest_terminal_summary(terminalreporter: pytest.TerminalReporter) -> None:
    """Where the browser tests left their screenshots (CI keeps ``artifacts/``)."""
    for path in SAVED:
        terminalreporter.write_line(f"console screenshot: {path}")
