"""Bandwidth end to end over real HTTP: the univoice webhook app and a fake Bandwidth Voice
API v2 each served by uvicorn on 127.0.0.1, sharing nothing but HTTP (and the app's SQLite
store with the client, as a deployment shares it).

A call placed with ``Voice(provider="bandwidth")`` goes to the fake, whose call engine (the
adapter's BXML interpreter) fetches every document from the app with the callback
credentials, presses the callee's keys, and sends the callbacks Bandwidth would; the app
verifies them, hands the neutral events to the handlers (once, although the fake delivers
every asynchronous callback twice) and serves the next document.
"""

from __future__ import annotations

import io
import threading
import wave
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.support.fake_bandwidth import (
    ACCOUNT_ID,
    APPLICATION_ID,
    PASSWORD,
    USERNAME,
    FakeBandwidth,
    NetworkHttp,
    interpreter_runner,
    missing_pieces,
)
from tests.support.live_server import LiveServer
from univoice import Flow, Voice
from univoice.events import BaseEvent, CallInitiated
from univoice.models import CallStatus, Direction, RecordingStatus
from univoice.plugins import get_provider
from univoice.simulator.script import CalleeScript
from univoice.webhooks import VoiceApp

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = Flow.from_yaml(ROOT / "examples" / "support_ivr.yaml")
CALLBACK_USER, CALLBACK_PASSWORD = "univoice-cb", "cb-e2e-3f9a1c7d5e"
TO, FROM = "+31612345678", "+31201234567"
SUPPORT_LINE = "+31209990000"  # our number, answered by the app (inbound)
INBOUND = Flow.from_yaml("""
name: After-hours line
steps:
  - gather:
      prompt: We are closed. To leave a message, press 1.
      options:
        "1":
          - say: Please speak after the tone.
          - record: {max_length: 60, transcribe: true}
          - say: Thank you.
  - hangup
""")


@dataclass
class Stack:
    app_url: str
    api_url: str
    store: str
    fake: FakeBandwidth
    seen: list[BaseEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def voice(self) -> Voice:
        return Voice("bandwidth", account_id=ACCOUNT_ID, application_id=APPLICATION_ID,
                     username=USERNAME, password=PASSWORD, callback_username=CALLBACK_USER,
                     callback_password=CALLBACK_PASSWORD, api_url=self.api_url,
                     public_url=self.app_url, flow_store=self.store)

    def events(self, call_id: str) -> list[BaseEvent]:
        """The events of a call and of the legs its transfers placed (their own calls)."""
        with self.lock:
            legs = {c.id for c in self.fake.calls.values() if c.parent == call_id}
            return [e for e in self.seen if e.call_id in {call_id, *legs}]

    @property
    def events_url(self) -> str:
        return f"{self.app_url}/univoice/bandwidth/events"


@pytest.fixture
def stack(tmp_path: Path) -> Iterator[Stack]:
    missing = missing_pieces("operations", "interpreter", "compile", "events")
    if missing:
        pytest.skip(f"waiting for {', '.join(missing)}")
    store = f"sqlite:///{tmp_path / 'voice.db'}"
    app_server, api_server = LiveServer(name="webhook-app"), LiveServer(name="fake-bandwidth")
    app = VoiceApp(public_url=app_server.url, store=store, inbound={SUPPORT_LINE: INBOUND},
                   providers=[get_provider("bandwidth", account_id=ACCOUNT_ID,
                                           callback_username=CALLBACK_USER,
                                           callback_password=CALLBACK_PASSWORD)])
    # Plain HTTP on 127.0.0.1: Bandwidth itself would want https for URLs with credentials.
    callbacks = NetworkHttp(httpx.Client(timeout=30))
    fake = FakeBandwidth(runner=interpreter_runner(), http=callbacks, https_only=False,
                         redeliver=True, base_url=f"{api_server.url}/api/v2")
    built = Stack(app_server.url, fake.base_url, store, fake)

    @app.on()
    def record(event: BaseEvent) -> None:
        with built.lock:
            built.seen.append(event)

    try:
        app_server.start(app)
        api_server.start(fake.asgi())
        yield built
    finally:
        api_server.stop()
        app_server.stop()
        callbacks.close()
        app.store.close()


def test_support_ivr_runs_to_completion_over_http(stack: Stack, tmp_path: Path) -> None:
    fake = stack.fake
    # Support, then technical support, then a ticket number; an engineer answers.
    fake.callees[TO] = CalleeScript.presses("2", "2", "4711#")
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=SUPPORT, tag="e2e-support")
        assert call.status == CallStatus.QUEUED and call.tag == "e2e-support"
        assert voice.calls.get(call.id).status == CallStatus.QUEUED  # nothing has happened
        fake.advance(12)  # past the answer (3 s) and the first choice
        assert voice.calls.get(call.id).status == CallStatus.IN_PROGRESS
        fake.advance(3600)
        done = voice.calls.get(call.id)
        assert done.status == CallStatus.COMPLETED and done.finished
        assert done.duration is not None and done.duration > 30

        # The handlers saw each neutral event once, though every asynchronous callback
        # was delivered twice.
        events = stack.events(call.id)
        assert len({e.id for e in events}) == len(events)
        assert any(d.again for d in fake.deliveries)
        kinds = Counter(e.type for e in events)
        assert kinds["call.answered"] == 1 and kinds["call.completed"] == 1
        assert kinds["transfer.answered"] == 1 and kinds["recording.available"] == 1
        assert kinds["transfer.completed"] >= 1
        assert [getattr(e, "digits", None) for e in events
                if e.type == "gather.digits"] == ["2", "2", "4711"]
        assert not {"call.failed", "unknown"} & set(kinds)
        assert all(e.tag == "e2e-support" for e in events)

        # Every document came from the app over HTTP, with the callback credentials.
        assert {d.credentials for d in fake.deliveries} == {(CALLBACK_USER, CALLBACK_PASSWORD)}
        assert {d.status for d in fake.deliveries} == {200}
        fetched = [d for d in fake.deliveries if "/univoice/bandwidth/flow/" in d.url]
        assert [d.event_type for d in fetched][:4] == ["answer", "gather", "gather", "gather"]
        assert all(d.url.startswith(stack.app_url) for d in fake.deliveries)
        said = [e.data["text"] for e in fake.trace_events(call.id) if e.kind == "said"]
        assert "Thank you. Connecting you to an engineer about ticket 4711." in said

        # The transfer was recorded on the engineer's leg, which Bandwidth keeps as a call
        # of its own (parentCallId): listed there and account-wide, downloadable as audio.
        [rec] = list(voice.recordings.list())
        leg = voice.calls.get(str(rec.call_id))
        assert leg.raw["parentCallId"] == call.id and leg.to == "+31201234569"
        assert leg.status == CallStatus.COMPLETED
        assert [r.id for r in voice.recordings.list(call_id=leg.id)] == [rec.id]
        assert rec.status == RecordingStatus.READY and rec.duration == pytest.approx(30.0)
        written = rec.download(tmp_path)
        with wave.open(io.BytesIO(written.read_bytes())) as w:
            assert w.getnframes() > 0


def test_one_transfer_is_one_transfer_completed(stack: Stack) -> None:
    stack.fake.callees[TO] = CalleeScript.presses("2", "2", "4711#")
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=SUPPORT)
    kinds = Counter(e.type for e in stack.events(call.id))
    assert kinds["transfer.completed"] == 1


def test_voicemail_when_nobody_answers_the_transfer(stack: Stack) -> None:
    fake = stack.fake
    fake.callees[TO] = CalleeScript.presses("1", transfers=[False], record_seconds=12)
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=SUPPORT)
        fake.advance(3600)
        assert voice.calls.get(call.id).status == CallStatus.COMPLETED
        kinds = Counter(e.type for e in stack.events(call.id))
        assert kinds["transfer.answered"] == 0
        assert kinds["recording.available"] == 1 and kinds["transcription.available"] == 1
        [rec] = list(voice.recordings.list(call_id=call.id))
        assert rec.duration == pytest.approx(12.0)
        assert voice.transcriptions.text(rec)


def test_inbound_call_is_answered_by_the_apps_flow(stack: Stack) -> None:
    fake = stack.fake
    fake.callees[SUPPORT_LINE] = CalleeScript.presses("1", record_seconds=6)
    call_id = fake.inbound(FROM, SUPPORT_LINE, stack.events_url, username=CALLBACK_USER,
                           password=CALLBACK_PASSWORD)
    first = fake.deliveries[0]
    assert (first.event_type, first.url, first.status) == ("initiate", stack.events_url, 200)
    events = stack.events(call_id)
    assert len({e.id for e in events}) == len(events)
    [initiated] = [e for e in events if isinstance(e, CallInitiated)]
    assert initiated.direction == Direction.INBOUND and initiated.to == SUPPORT_LINE
    kinds = Counter(e.type for e in events)
    assert kinds["gather.digits"] == 1 and kinds["call.completed"] == 1
    assert kinds["recording.available"] == 1
    assert [e.kind for e in fake.trace_events(call_id)] == ["initiated", "ringing"]
    with stack.voice() as voice:
        fake.advance(3600)
        said = [e.data["text"] for e in fake.trace_events(call_id) if e.kind == "said"]
        assert said == ["We are closed. To leave a message, press 1.",
                        "Please speak after the tone.", "Thank you."]
        call = voice.calls.get(call_id)
        assert call.direction == Direction.INBOUND and call.status == CallStatus.COMPLETED
        [rec] = list(voice.recordings.list(call_id=call_id))
        assert rec.duration == pytest.approx(6.0)


@pytest.mark.parametrize("credentials", [None, (CALLBACK_USER, "wrong"), ("intruder",
                                                                        CALLBACK_PASSWORD)])
def test_callbacks_without_the_credentials_are_refused(
        stack: Stack, credentials: tuple[str, str] | None) -> None:
    payload: dict[str, Any] = {
        "eventType": "initiate", "eventTime": "2026-01-01T00:00:00.000Z",
        "accountId": ACCOUNT_ID, "applicationId": APPLICATION_ID, "from": FROM,
        "to": SUPPORT_LINE, "direction": "inbound", "callId": "c-forged-1",
        "callUrl": f"{stack.api_url}/accounts/{ACCOUNT_ID}/calls/c-forged-1",
        "startTime": "2026-01-01T00:00:00.000Z"}
    refused = httpx.post(stack.events_url, json=payload, auth=credentials, timeout=10)
    assert refused.status_code == 401
    assert "<Response" not in refused.text  # no BXML (no flow) for a forger
    assert stack.events("c-forged-1") == []  # and no handler ran
    accepted = httpx.post(stack.events_url, json=payload,
                          auth=(CALLBACK_USER, CALLBACK_PASSWORD), timeout=10)
    assert accepted.status_code == 200 and "<Response" in accepted.text
    assert [e.type for e in stack.events("c-forged-1")] == ["call.initiated"]
