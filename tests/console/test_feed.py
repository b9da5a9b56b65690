"""The live list's source: the events the webhook app records, as SSE frames."""

from __future__ import annotations

import json
from pathlib import Path
from typing import Any

import anyio
import pytest

from univoice.console import feed as feed_module
from univoice.console.feed import Feed, frame
from univoice.redact import MASK, Redactor
from univoice.store import open_store

from .server import EVIL

PROVIDER_SECRET = "bw-callback-pass-0123456789"


def record(store: Any, key: str, event: dict[str, Any], error: str | None = None) -> None:
    assert store.claim_event(key, event["provider"], event)
    store.finish_event(key, error=error)


def frames(feed: Feed, wanted: int, monkeypatch: pytest.MonkeyPatch) -> list[dict[str, Any]]:
    monkeypatch.setattr(feed_module, "POLL", 0.05)
    found: list[dict[str, Any]] = []

    async def gone() -> bool:
        return False

    async def read() -> None:
        stream = feed.stream(gone)
        with anyio.fail_after(10):
            async for text in stream:
                if text.startswith("event: event\n"):
                    found.append(json.loads(text.split("data: ", 1)[1]))
                if len(found) >= wanted:
                    break
        await stream.aclose()

    anyio.run(read)
    return found


def test_rows_mask_secrets_and_keep_markup_as_text(tmp_path: Path,
                                                   monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    event = {"type": "call.digits", "id": "e1", "provider": "bandwidth",
             "call_id": EVIL, "tag": EVIL, "digits": "12",
             "raw": {"password": "hunter2-abcdef", "note": f"echo {PROVIDER_SECRET}",
                     "callId": EVIL}}
    record(store, "bandwidth:e1", event, error=f"ValueError: {PROVIDER_SECRET}")
    feed = Feed(store, Redactor([PROVIDER_SECRET]))
    [row] = frames(feed, 1, monkeypatch)
    assert row["call_id"] == EVIL  # as data: the page sets it with textContent
    assert row["status"] == "failed"
    assert row["summary"] == "digits=12"
    assert "hunter2" not in json.dumps(row)
    assert PROVIDER_SECRET not in json.dumps(row)
    assert json.loads(row["detail"])["raw"]["password"] == MASK
    assert row["error"] == f"ValueError: {MASK}"
    store.close()


def test_a_status_change_is_sent_again(tmp_path: Path,
                                       monkeypatch: pytest.MonkeyPatch) -> None:
    store = open_store(f"sqlite:///{tmp_path / 's.db'}")
    event = {"type": "call.answered", "id": "e2", "provider": "simulator", "call_id": "c"}
    assert store.claim_event("simulator:e2", "simulator", event)
    feed = Feed(store, Redactor())
    seen: list[dict[str, Any]] = []

    async def gone() -> bool:
        return False

    async def read() -> None:
        monkeypatch.setattr(feed_module, "POLL", 0.05)
        stream = feed.stream(gone)
        with anyio.fail_after(10):
            async for text in stream:
                if text.startswith("event: event\n"):
                    seen.append(json.loads(text.split("data: ", 1)[1]))
                    if len(seen) == 1:
                        store.finish_event("simulator:e2")
                    else:
                        break
        await stream.aclose()

    anyio.run(read)
    assert [r["status"] for r in seen] == ["claimed", "done"]
    store.close()


def test_frames_are_one_line_of_json() -> None:
    text = frame("event", {"x": "a\nb\r\nc\u2028"})
    assert text.count("\n") == 3  # "event:", "data:", blank
    assert json.loads(text.split("data: ", 1)[1]) == {"x": "a\nb\r\nc\u2028"}
