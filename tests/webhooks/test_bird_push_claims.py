"""The app makes each push to a Bird call once, and never loses one to a delivery that
claimed it and died: a redelivery waits for that claim, takes it over when its lease runs
out, and makes the push; a failed push is made again by the next delivery."""

from __future__ import annotations

import itertools
import json
import time
from collections.abc import Iterator
from pathlib import Path

import httpx
import pytest
from starlette.testclient import TestClient

from univoice.config import HttpConfig
from univoice.flow import Flow
from univoice.hosting import flow_id
from univoice.store import open_store
from univoice.webhooks import VoiceApp
from univoice_bird import BirdProvider
from univoice_bird.events import sign

APP = "https://voice.example"
KEY = "signing-secret-for-tests"
MENU = Flow.from_yaml("""
steps:
  - gather: {prompt: Press 1., retries: 1, options: {"1": [{say: One.}]}}
""")


class Bird:
    """The REST side of Bird, as far as the app's pushes go."""

    def __init__(self) -> None:
        self.patches: list[dict[str, object]] = []
        self.fail = 0

    def handler(self, request: httpx.Request) -> httpx.Response:
        assert request.method == "PATCH"
        if self.fail:
            self.fail -= 1
            return httpx.Response(500, json={"code": "Internal", "message": "boom"})
        self.patches.append(json.loads(request.content))
        return httpx.Response(202, json={"id": request.url.path.rsplit("/", 1)[-1]})


@pytest.fixture
def setup(tmp_path: Path) -> Iterator[tuple[VoiceApp, TestClient, Bird, str]]:
    bird = Bird()
    provider = BirdProvider(workspace_id="0b6e2a3c-1111-4222-8333-444455556666",
                            channel_id="9d1e2f3a-aaaa-4bbb-8ccc-ddddeeeeffff", access_key="ak",
                            signing_key=KEY)
    store = open_store(f"sqlite:///{tmp_path / 'v.db'}")
    app = VoiceApp(public_url=APP, store=store, providers=[provider], event_lease=0.5,
                   http=HttpConfig(max_attempts=1).settings(),
                   http_client=httpx.AsyncClient(transport=httpx.MockTransport(bird.handler)))
    stored = flow_id(MENU)
    app.continuations("bird").save_flow(MENU, stored)
    with TestClient(app, base_url=APP) as client:
        yield app, client, bird, stored
    store.close()


_SENT = itertools.count()


def deliver(client: TestClient, stored: str, keys: str = "1") -> httpx.Response:
    """One delivery, signed afresh (a new timestamp: a repeated signature is a replay)."""
    path = f"/univoice/bird/flow/{stored}/start"
    body = json.dumps({"id": "call-1", "status": "ongoing", "callFlow": {
        "id": "cf-1", "commands": [{"id": "g", "command": "gather", "keys": keys}]}}).encode()
    stamp = int(time.time()) - 200 + next(_SENT)
    headers = {"content-type": "application/json", **sign(KEY, APP + path, body, stamp)}
    return client.post(path, content=body, headers=headers)


def test_a_push_claimed_by_a_delivery_that_died_is_made_by_the_next(
        setup: tuple[VoiceApp, TestClient, Bird, str]) -> None:
    app, client, bird, stored = setup
    # A delivery claimed the push, then its process died: the claim stays until its lease.
    assert app.store.claim_event("bird:push:call-1:cf-1", "bird", {}, lease=0.5)
    response = deliver(client, stored)
    assert response.status_code == 200, response.text
    assert len(bird.patches) == 1  # taken over once the lease ran out, and made
    assert deliver(client, stored).status_code == 200
    assert len(bird.patches) == 1  # made once


def test_a_failed_push_is_made_by_the_redelivery(
        setup: tuple[VoiceApp, TestClient, Bird, str]) -> None:
    _, client, bird, stored = setup
    bird.fail = 1
    first = deliver(client, stored)
    assert first.status_code == 503
    assert bird.patches == []
    assert deliver(client, stored).status_code == 200
    assert [c["command"] for c in bird.patches[0]["callFlow"]] == ["say", "hangup"]
    assert deliver(client, stored).status_code == 200
    assert len(bird.patches) == 1
