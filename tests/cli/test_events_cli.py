"""`univoice events parse|list|tail|replay` against a real store file."""

from __future__ import annotations

import json
import threading
import time
from collections.abc import Callable
from pathlib import Path
from typing import Any

import pytest

from univoice.store import open_store

Cli = Callable[..., Any]


def test_parse_prints_neutral_events(cli: Cli, tmp_path: Path) -> None:
    saved = tmp_path / "cb.json"
    saved.write_text('{"id": "e1", "type": "gathered", "call_id": "c1", '
                     '"data": {"digits": "42"}}')
    r = cli("events", "parse", str(saved), "--provider", "simulator")
    assert r.code == 0
    [event] = json.loads(r.out)
    assert (event["type"], event["digits"], event["call_id"]) == ("gather.digits", "42", "c1")


def test_parse_malformed_is_one_line_exit_1(cli: Cli, tmp_path: Path) -> None:
    saved = tmp_path / "cb.json"
    saved.write_text("<xml/>")
    r = cli("events", "parse", str(saved), "--provider", "simulator")
    assert r.code == 1
    assert r.err.strip().splitlines() == [
        "error: HTTP 400: body is not JSON: Expecting value: line 1 column 1 (char 0)"]


@pytest.fixture
def failed_store(tmp_path: Path, monkeypatch: pytest.MonkeyPatch) -> str:
    url = f"sqlite:///{tmp_path / 'events.db'}"
    with open_store(url) as store:
        event = {"type": "call.answered", "id": "e-1", "provider": "simulator",
                 "call_id": "c-1"}
        assert store.claim_event("simulator:e-1", "simulator", event)
        store.finish_event("simulator:e-1", error="RuntimeError: database down")
    monkeypatch.setenv("SAMPLE_STORE", url)
    monkeypatch.setenv("SAMPLE_LOG", str(tmp_path / "handled.log"))
    return url


def test_list_and_replay_failed_events(cli: Cli, failed_store: str, tmp_path: Path) -> None:
    r = cli("events", "list", "--status", "failed", "--json", "--store", failed_store)
    assert r.code == 0
    [listed] = json.loads(r.out)
    assert listed["key"] == "simulator:e-1"
    assert "database down" in listed["error"]
    r = cli("events", "replay", "--app", "tests.webhooks.sample_app:create_app", "--all-failed")
    assert (r.code, r.out.strip()) == (0, "ok: simulator:e-1")
    assert (tmp_path / "handled.log").read_text().split() == ["e-1"]
    r = cli("events", "list", "--status", "failed", "--json", "--store", failed_store)
    assert json.loads(r.out) == []


def test_replay_needs_keys_or_all_failed(cli: Cli, failed_store: str) -> None:
    assert cli("events", "replay", "--app", "tests.webhooks.sample_app:create_app").code == 2


def test_tail_shows_new_events(cli: Cli, failed_store: str) -> None:
    def later() -> None:
        time.sleep(0.3)
        with open_store(failed_store) as store:
            store.claim_event("simulator:e-2", "simulator",
                              {"type": "call.ringing", "id": "e-2", "call_id": "c-2"})

    writer = threading.Thread(target=later)
    writer.start()
    r = cli("events", "tail", "--store", failed_store, "--interval", "0.05", "--count", "1")
    writer.join()
    assert r.code == 0
    assert "call.ringing call=c-2 key=simulator:e-2" in r.out
