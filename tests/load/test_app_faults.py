"""The webhook app's answers when deliveries race, processes die or the store fails, in
process (httpx over ASGI, the simulator's signed callbacks, an in-memory SQLite store).

The rule: a 2xx only once every event of the callback has been handled, or is recorded
done or failed; otherwise a 503 (with Retry-After) so the provider delivers again.
"""

from __future__ import annotations

import asyncio
import json
from collections.abc import Iterator
from typing import Any

import httpx
import pytest

from univoice import Flow
from univoice.events import BaseEvent
from univoice.plugins import get_provider
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.callbacks import SIGNATURE_HEADER, payloads, sign
from univoice.store import StoreUnavailable
from univoice.webhooks import VoiceApp
from univoice.webhooks import app as app_module

PUBLIC = "https://voice.example.com"
SECRET = "whsec-faults-0123456789"
PATH = "/univoice/simulator/events"
FLOW = Flow.from_yaml("steps: [{say: Hello.}, hangup]")


@pytest.fixture
def voice_app() -> Iterator[VoiceApp]:
    app = VoiceApp(public_url=PUBLIC, store="sqlite://:memory:",
                   providers=[get_provider("simulator", webhook_secret=SECRET)])
    yield app
    app.store.close()


def callback() -> dict[str, Any]:
    return payloads(simulate(FLOW, CalleeScript.presses(), call_id="c-1"))[0]


def key(payload: dict[str, Any]) -> str:
    return f"simulator:{payload['id']}"


async def post(client: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
    body = json.dumps(payload).encode()
    return await client.post(PATH, content=body, headers={
        "content-type": "application/json", SIGNATURE_HEADER: sign(SECRET, PUBLIC + PATH, body)})


def deliver(voice_app: VoiceApp, *payloads: dict[str, Any],
            log: list[str] | None = None) -> list[httpx.Response]:
    """Deliver ``payloads`` at the same time; the answers in the same order (each noted in
    ``log`` as it arrives)."""
    async def one(client: httpx.AsyncClient, payload: dict[str, Any]) -> httpx.Response:
        answer = await post(client, payload)
        if log is not None:
            log.append(f"answered {answer.status_code}")
        return answer

    async def run() -> list[httpx.Response]:
        transport = httpx.ASGITransport(app=voice_app)
        async with httpx.AsyncClient(transport=transport, base_url="http://internal") as c:
            return list(await asyncio.gather(*(one(c, p) for p in payloads)))

    return asyncio.run(run())


def test_a_redelivery_waits_for_the_delivery_in_progress(voice_app: VoiceApp) -> None:
    log: list[str] = []

    @voice_app.on()
    async def slow(event: BaseEvent) -> None:
        log.append("handler started")
        await asyncio.sleep(0.3)
        log.append("handler returned")

    payload = callback()
    answers = deliver(voice_app, payload, payload, log=log)
    assert sorted((a.json()["handled"], a.json()["duplicates"]) for a in answers) == [
        (0, 1), (1, 0)]
    # The duplicate is acknowledged only once the event is handled (were the first
    # delivery's process to die meanwhile, acknowledging it sooner would lose the event).
    assert log == ["handler started", "handler returned", "answered 200", "answered 200"]
    stored = voice_app.store.get_event(key(payload))
    assert stored is not None and stored.status == "done"


def test_a_claim_whose_process_died_is_taken_over_after_its_lease(
        voice_app: VoiceApp) -> None:
    seen: list[str] = []
    voice_app.on()(lambda event: seen.append(event.id))
    payload = callback()
    # Claimed by a process that died before finishing: nobody will record it done.
    assert voice_app.store.claim_event(key(payload), "simulator", {"id": payload["id"]},
                                       lease=0.3)
    [answer] = deliver(voice_app, payload)
    assert answer.status_code == 200
    assert answer.json()["handled"] == 1  # not acknowledged as a duplicate: handled here
    assert seen == [payload["id"]]
    stored = voice_app.store.get_event(key(payload))
    assert stored is not None and (stored.status, stored.attempts) == ("done", 2)


def test_a_claim_held_too_long_answers_503(voice_app: VoiceApp,
                                           monkeypatch: pytest.MonkeyPatch) -> None:
    monkeypatch.setattr(app_module, "IN_PROGRESS_WAIT", 0.2)
    seen: list[BaseEvent] = []
    voice_app.on()(seen.append)
    payload = callback()
    assert voice_app.store.claim_event(key(payload), "simulator", {}, lease=60)
    [answer] = deliver(voice_app, payload)
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == "60"  # when the holder's lease has run out
    assert "another delivery" in answer.json()["error"]
    assert seen == []


def test_an_unreachable_store_answers_503_with_retry_after(
        voice_app: VoiceApp, monkeypatch: pytest.MonkeyPatch) -> None:
    async def down(*args: Any, **kwargs: Any) -> bool:
        raise StoreUnavailable("connection refused")

    monkeypatch.setattr(voice_app.store, "aclaim_event", down)
    [answer] = deliver(voice_app, callback())
    assert answer.status_code == 503
    assert answer.headers["retry-after"] == str(app_module.STORE_RETRY_AFTER)


def failing_finish(voice_app: VoiceApp, monkeypatch: pytest.MonkeyPatch,
                   failures: int) -> list[str | None]:
    """The store fails to record the first ``failures`` outcomes; returns those tried."""
    real = voice_app.store.afinish_event
    tried: list[str | None] = []

    async def finish(key: str, *, error: str | None = None) -> bool:
        tried.append(error)
        if len(tried) <= failures:
            raise StoreUnavailable("connection refused")
        return await real(key, error=error)

    monkeypatch.setattr(voice_app.store, "afinish_event", finish)
    monkeypatch.setattr(app_module, "FINISH_RETRY", 0.3)
    return tried


def test_recording_the_outcome_is_retried_while_the_store_is_down(
        voice_app: VoiceApp, monkeypatch: pytest.MonkeyPatch) -> None:
    tried = failing_finish(voice_app, monkeypatch, failures=2)
    seen: list[BaseEvent] = []
    voice_app.on()(seen.append)
    payload = callback()
    [answer] = deliver(voice_app, payload)
    assert answer.status_code == 200 and answer.json()["handled"] == 1
    assert len(tried) == 3 and len(seen) == 1
    stored = voice_app.store.get_event(key(payload))
    assert stored is not None and stored.status == "done"


def test_a_handled_event_is_acknowledged_when_its_outcome_cannot_be_recorded(
        voice_app: VoiceApp, monkeypatch: pytest.MonkeyPatch) -> None:
    failing_finish(voice_app, monkeypatch, failures=10_000)
    seen: list[BaseEvent] = []
    voice_app.on()(seen.append)
    payload = callback()
    [answer] = deliver(voice_app, payload)
    # Delivering it again could only run the handler a second time.
    assert answer.status_code == 200 and answer.json()["handled"] == 1
    stored = voice_app.store.get_event(key(payload))
    assert stored is not None and stored.status == "claimed"


def test_a_failed_event_whose_failure_cannot_be_recorded_answers_503(
        voice_app: VoiceApp, monkeypatch: pytest.MonkeyPatch) -> None:
    tried = failing_finish(voice_app, monkeypatch, failures=10_000)

    @voice_app.on()
    def broken(event: BaseEvent) -> None:
        raise RuntimeError("database down")

    [answer] = deliver(voice_app, callback())
    assert answer.status_code == 503  # so that it comes again and is tried again
    assert tried and all(error and "database down" in error for error in tried)
