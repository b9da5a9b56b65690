"""The webhook app in process (Starlette's TestClient), with the simulator's callbacks."""

from __future__ import annotations

import json
import time
from collections.abc import Iterator
from typing import Any
from urllib.parse import quote

import pytest
from starlette.testclient import TestClient

from univoice import Flow
from univoice.events import (
    BaseEvent,
    CallCompleted,
    CallInitiated,
    DigitsGathered,
    UnknownEvent,
)
from univoice.plugins import get_provider
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.callbacks import SIGNATURE_HEADER, inbound_payload, payloads, sign
from univoice.store import StoreUnavailable
from univoice.webhooks import VoiceApp

PUBLIC = "https://voice.example.com"
SECRET = "whsec-planted-0123456789"
EVENTS = f"{PUBLIC}/univoice/simulator/events"
IVR = Flow.from_yaml("""
steps:
  - gather:
      prompt: Press 1 or 2.
      options:
        "1": [{say: One.}]
        "2": [{say: Two.}, hangup]
  - say: Bye.
""")


@pytest.fixture
def voice_app() -> Iterator[VoiceApp]:
    app = VoiceApp(public_url=PUBLIC, store="sqlite://:memory:",
                   providers=[get_provider("simulator", webhook_secret=SECRET)],
                   inbound={"+31201234567": IVR})
    yield app
    app.store.close()


@pytest.fixture
def client(voice_app: VoiceApp) -> Iterator[TestClient]:
    # The app sits behind a proxy: this process is reached as http://internal:8080.
    with TestClient(voice_app, base_url="http://internal:8080") as c:
        yield c


def post(client: TestClient, payload: Any, *, secret: str | None = SECRET,
         url: str = EVENTS, now: float | None = None, **headers: str) -> Any:
    body = payload if isinstance(payload, bytes) else json.dumps(payload).encode()
    sent = {"content-type": "application/json", **headers}
    if secret is not None:
        sent[SIGNATURE_HEADER] = sign(secret, url, body, now=now)
    return client.post("/univoice/simulator/events", content=body, headers=sent)


def callbacks() -> list[dict[str, Any]]:
    return payloads(simulate(IVR, CalleeScript.presses("1"), call_id="c-1"), tag="t-1")


def test_health(client: TestClient) -> None:
    r = client.get("/univoice/health")
    assert r.status_code == 200
    assert r.json()["ok"] is True


def test_events_reach_handlers_normalised(voice_app: VoiceApp, client: TestClient) -> None:
    seen: list[BaseEvent] = []
    voice_app.on()(seen.append)
    digits: list[DigitsGathered] = []

    @voice_app.on(DigitsGathered)
    async def on_digits(event: DigitsGathered) -> None:
        digits.append(event)

    for payload in callbacks():
        r = post(client, payload)
        assert r.status_code == 200, r.text
        assert r.json() == {"received": 1, "handled": 1, "duplicates": 0, "failed": 0}
    assert [type(e).__name__ for e in seen][:3] == ["CallInitiated", "CallRinging",
                                                    "CallAnswered"]
    assert isinstance(seen[-1], CallCompleted)
    assert [d.digits for d in digits] == ["1"]
    assert digits[0].call_id == "c-1"
    assert digits[0].tag == "t-1"
    assert digits[0].raw["type"] == "gathered"


def test_redelivery_is_handled_once(voice_app: VoiceApp, client: TestClient) -> None:
    calls: list[str] = []
    voice_app.on()(lambda e: calls.append(e.id))
    payload = callbacks()[0]
    first = post(client, payload)
    again = post(client, payload)
    assert first.json()["handled"] == 1
    assert again.status_code == 200
    assert again.json()["duplicates"] == 1
    assert calls == [payload["id"]]


@pytest.mark.parametrize(("change", "reason"), [
    ({"secret": None}, "missing"),
    ({"secret": "wrong-secret"}, "does not match"),
    ({"now": time.time() - 3600}, "outside the allowed window"),
    ({"url": "http://internal:8080/univoice/simulator/events"}, "does not match"),
])
def test_unverified_callbacks_are_refused(voice_app: VoiceApp, client: TestClient,
                                          change: dict[str, Any], reason: str) -> None:
    calls: list[BaseEvent] = []
    voice_app.on()(calls.append)
    r = post(client, callbacks()[0], **change)
    assert r.status_code == 401
    assert reason in r.json()["error"]
    assert calls == []


def test_signature_uses_the_public_url_not_the_proxy_headers(client: TestClient) -> None:
    r = post(client, callbacks()[0], **{"x-forwarded-proto": "http",
                                        "x-forwarded-host": "evil.example"})
    assert r.status_code == 200


def test_bad_bodies(client: TestClient) -> None:
    assert post(client, b"not json").status_code == 400
    assert post(client, {"no": "id"}).status_code == 400
    assert post(client, {"id": "x", "type": "answered", "at": "yesterday"}).status_code == 400
    big = b'{"id": "x", "type": "answered", "pad": "' + b"x" * 300_000 + b'"}'
    assert post(client, big).status_code == 413
    r = post(client, callbacks()[0], **{"content-type": "text/plain"})
    assert r.status_code == 415
    assert client.post("/univoice/nosuch/events", content=b"{}",
                       headers={"content-type": "application/json"}).status_code == 404


def test_unknown_event_type_is_kept(voice_app: VoiceApp, client: TestClient) -> None:
    seen: list[UnknownEvent] = []
    voice_app.on(UnknownEvent)(seen.append)
    r = post(client, {"id": "odd-1", "type": "teleported", "call_id": "c-9"})
    assert r.status_code == 200
    assert seen[0].provider_type == "teleported"
    assert seen[0].raw["type"] == "teleported"


def test_failed_handler_is_recorded_and_replayed(voice_app: VoiceApp,
                                                 client: TestClient) -> None:
    attempts: list[str] = []

    @voice_app.on(CallInitiated)
    def flaky(event: CallInitiated) -> None:
        attempts.append(event.id)
        if len(attempts) == 1:
            raise RuntimeError("database down")

    payload = callbacks()[0]
    r = post(client, payload)
    assert r.json()["failed"] == 1
    [failed] = voice_app.store.events(status="failed")
    assert "database down" in (failed.error or "")
    assert post(client, payload).json()["duplicates"] == 1  # a redelivery is not a retry
    import anyio

    assert anyio.run(voice_app.replay, failed.key) is True
    assert voice_app.store.get_event(failed.key).status == "done"  # type: ignore[union-attr]
    assert attempts == [payload["id"], payload["id"]]


def test_inbound_call_gets_the_flow_for_its_number(client: TestClient) -> None:
    r = post(client, inbound_payload("in-1", "+31612345678", "+31201234567"))
    assert r.status_code == 200
    assert Flow.from_json(r.content) == IVR
    r = post(client, inbound_payload("in-2", "+31612345678", "+31209999999"))
    assert r.status_code == 404


def test_continuation_documents(voice_app: VoiceApp, client: TestClient) -> None:
    flow_id = voice_app.continuations("simulator").save_flow(IVR)
    path = f"/univoice/simulator/flow/{flow_id}"

    def fetch(node: str) -> Flow:
        url = f"{PUBLIC}{path}/{quote(node, safe='.')}"  # as the app hands it out
        r = client.get(url.removeprefix(PUBLIC),
                       headers={SIGNATURE_HEADER: sign(SECRET, url, b"")})
        assert r.status_code == 200, r.text
        return Flow.from_json(r.content)

    start = fetch("start").to_dict()["steps"]
    options = start[0]["gather"]["options"]
    assert options["1"] == {"steps": [{"redirect": {
        "url": f"{PUBLIC}{path}/steps%5B0%5D.gather.options%5B%271%27%5D"}}]}
    assert start[1] == {"say": {"text": "Bye."}}  # what falls through stays here
    # A branch, then what follows its menu; nothing after a hangup.
    assert fetch("steps[0].gather.options['1']").to_dict()["steps"] == [
        {"say": {"text": "One."}}, {"say": {"text": "Bye."}}]
    assert fetch("steps[0].gather.options['2']").to_dict()["steps"] == [
        {"say": {"text": "Two."}}, "hangup"]
    missing = "/univoice/simulator/flow/nope/start"
    r = client.get(missing, headers={SIGNATURE_HEADER: sign(SECRET, PUBLIC + missing, b"")})
    assert r.status_code == 404
    node = f"{path}/steps[9]"
    r = client.get(node, headers={SIGNATURE_HEADER: sign(SECRET, PUBLIC + node, b"")})
    assert r.status_code == 404
    assert client.get(f"{path}/start").status_code == 401


def test_store_unavailable_is_503(voice_app: VoiceApp, client: TestClient,
                                  monkeypatch: pytest.MonkeyPatch) -> None:
    async def down(*args: Any, **kwargs: Any) -> bool:
        raise StoreUnavailable("locked")

    monkeypatch.setattr(voice_app.store, "aclaim_event", down)
    r = post(client, callbacks()[0])
    assert r.status_code == 503
