"""MessageBird end to end over real HTTP: the univoice webhook app and a fake MessageBird
Voice Calling API each served by uvicorn on 127.0.0.1, sharing nothing but HTTP (and the
app's SQLite store with the client, as a deployment shares it).

A call placed with ``Voice("messagebird")`` goes to the fake, whose call engine (the
adapter's call-flow interpreter) runs the inline call flow, fetches every continuation
(``fetchCallFlow``: the menu's decisions, its re-prompts) from the app, presses the
callee's keys and posts the ``callUpdated`` webhooks MessageBird would, each signed with the
signing key (``MessageBird-Signature-JWT``). The app verifies them, hands the neutral events
to the handlers (once, although every webhook is delivered twice here, each time signed
afresh) and serves the next call flow.

How MessageBird authenticates its ``fetchCallFlow`` requests is unconfirmed, so the IVR
runs both ways: every request signed with a JWT (what the fake does), and fetches carrying
only the token of the continuation URL univoice handed out.
"""

from __future__ import annotations

import io
import json
import threading
import time
import uuid
import wave
from collections import Counter
from collections.abc import Iterator, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlencode, urlsplit

import httpx
import pytest

from tests.support.fake_messagebird import (
    ACCESS_KEY,
    SIGNING_KEY,
    CallSetup,
    FakeMessageBird,
    NetworkHttp,
    interpreter_runner,
    missing_pieces,
    signature_jwt,
)
from tests.support.live_server import LiveServer
from univoice import Flow, Voice
from univoice.errors import NotFound
from univoice.events import BaseEvent, CallCompleted, CallInitiated
from univoice.models import (
    CallStatus,
    Direction,
    EndReason,
    RecordingStatus,
    TranscriptionStatus,
)
from univoice.simulator.engine import TRANSCRIPTION
from univoice.simulator.script import CalleeScript
from univoice.simulator.trace import TraceKind
from univoice.webhooks import VoiceApp
from univoice_messagebird import MessageBirdProvider
from univoice_messagebird.compile import KEYS_VARIABLE
from univoice_messagebird.events import JWT_HEADER, sign

ROOT = Path(__file__).resolve().parents[2]
SUPPORT = Flow.from_yaml(ROOT / "examples" / "support_ivr_portable.yaml")
TO, FROM = "+31612345678", "+31201234567"
CALLEE = TO.lstrip("+")  # the fake's callees are keyed by the number as MessageBird writes it
ENGINEER = "+31201234569"
SUPPORT_LINE = "+31209990000"  # our number, answered by the app (inbound)
NEUTRAL = {"call.initiated": 1, "call.ringing": 1, "call.answered": 1, "call.completed": 1}
INBOUND = Flow.from_yaml("""
name: After-hours line
language: en-US
steps:
  - gather:
      prompt: We are closed. To leave a message, press 1.
      retries: 1               # a re-prompt: MessageBird asks the app what the keys mean
      options:
        "1":
          - say: Please speak after the tone.
          - record: {max_length: 60, transcribe: true}
          - say: Thank you.
  - hangup
""")


@dataclass(frozen=True)
class Sent:
    """One request MessageBird's side made to the app (``again``: a redelivery)."""

    method: str
    url: str
    headers: dict[str, str]
    status: int
    answer: str
    again: bool = False

    @property
    def query(self) -> dict[str, str]:
        return dict(parse_qsl(urlsplit(self.url).query))


class Wire:
    """MessageBird's side of the wire, over real HTTP: every webhook (a POST) is delivered
    twice, the second time with a fresh signature (a new ``jti``, as a retry would carry;
    the same token twice is a replay the app refuses). With ``sign_fetches=False`` a
    ``fetchCallFlow`` (a GET) goes without the JWT: only its URL's token vouches for it."""

    def __init__(self, *, sign_fetches: bool) -> None:
        self.sign_fetches = sign_fetches
        self.http = NetworkHttp(httpx.Client(timeout=30))
        self.sent: list[Sent] = []
        self.lock = threading.Lock()

    def __call__(self, method: str, url: str, body: bytes | None,
                 headers: Mapping[str, str]) -> tuple[int, str]:
        unsigned = {k: v for k, v in headers.items() if k.lower() != JWT_HEADER.lower()}
        sent = dict(headers) if method == "POST" or self.sign_fetches else unsigned
        status, answer = self.send(method, url, body, sent, again=False)
        if method == "POST":
            self.send(method, url, body, {**unsigned, JWT_HEADER: signature_jwt(
                SIGNING_KEY, url, body)}, again=True)
        return status, answer

    def send(self, method: str, url: str, body: bytes | None, headers: dict[str, str], *,
             again: bool) -> tuple[int, str]:
        status, answer = self.http(method, url, body, headers)
        with self.lock:
            self.sent.append(Sent(method, url, headers, status, answer, again))
        return status, answer

    def fetches(self) -> list[Sent]:
        return [s for s in self.sent if s.method == "GET"]

    def close(self) -> None:
        self.http.close()


@dataclass
class Stack:
    app_url: str
    api_url: str
    store: str
    fake: FakeMessageBird
    wire: Wire
    provider: MessageBirdProvider
    seen: list[BaseEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def voice(self) -> Voice:
        return Voice("messagebird", access_key=ACCESS_KEY, signing_key=SIGNING_KEY,
                     api_url=self.api_url, public_url=self.app_url, flow_store=self.store)

    def events(self, call_id: str) -> list[BaseEvent]:
        with self.lock:
            return [e for e in self.seen if e.call_id == call_id]

    def handled(self) -> int:
        with self.lock:
            return len(self.seen)

    @property
    def events_url(self) -> str:
        return f"{self.app_url}/univoice/messagebird/events"


class Switch:
    """An ASGI app handing every request to the app of the test running: the two uvicorn
    servers outlive the tests (starting and stopping them is most of a test's time), each
    test gets its own webhook app, store and fake."""

    def __init__(self) -> None:
        self.app: Any = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "no test is running"
        await self.app(scope, receive, send)


@dataclass
class Servers:
    app: LiveServer
    api: LiveServer
    app_switch: Switch
    api_switch: Switch


@pytest.fixture(scope="module")
def servers() -> Iterator[Servers]:
    app_switch, api_switch = Switch(), Switch()
    app_server, api_server = LiveServer(name="webhook-app"), LiveServer(name="fake-messagebird")
    try:
        app_server.start(app_switch)
        api_server.start(api_switch)
        yield Servers(app_server, api_server, app_switch, api_switch)
    finally:
        api_server.stop()
        app_server.stop()


@pytest.fixture
def stack(request: pytest.FixtureRequest, servers: Servers, tmp_path: Path
          ) -> Iterator[Stack]:
    """The app and the fake, on uvicorn. Indirect parameter: "jwt" (default: every request
    signed) or "token" (fetchCallFlow requests unsigned, vouched for by their token)."""
    missing = missing_pieces("interpreter", "events")
    if missing:
        pytest.skip(f"waiting for {', '.join(missing)}")
    store = f"sqlite:///{tmp_path / 'voice.db'}"
    provider = MessageBirdProvider(signing_key=SIGNING_KEY)
    app = VoiceApp(public_url=servers.app.url, store=store, inbound={SUPPORT_LINE: INBOUND},
                   providers=[provider])
    wire = Wire(sign_fetches=getattr(request, "param", "jwt") == "jwt")
    fake = FakeMessageBird(runner=interpreter_runner(), http=wire, signing_key=SIGNING_KEY,
                           base_url=servers.api.url)
    built = Stack(servers.app.url, fake.base_url, store, fake, wire, provider)

    @app.on()
    def record(event: BaseEvent) -> None:
        with built.lock:
            built.seen.append(event)

    servers.app_switch.app, servers.api_switch.app = app, fake.asgi()
    try:
        yield built
    finally:
        servers.app_switch.app = servers.api_switch.app = None
        wire.close()
        app.store.close()


def said(stack: Stack, call_id: str) -> list[str]:
    return [str(e.data["text"]) for e in stack.fake.trace_events(call_id)
            if e.kind == TraceKind.SAID]


def gathered(stack: Stack, call_id: str) -> list[str]:
    return [str(e.data["digits"]) for e in stack.fake.trace_events(call_id)
            if e.kind == TraceKind.GATHERED]


def assert_all_taken(stack: Stack) -> None:
    refused = [(s.method, s.url, s.status, s.answer) for s in stack.wire.sent
               if s.status != 200]
    assert stack.wire.sent
    assert not refused, refused


def assert_once_each(stack: Stack, call_id: str) -> list[BaseEvent]:
    """The call's neutral lifecycle reached the handlers exactly once, although every
    webhook carried the whole call again and was delivered twice."""
    events = stack.events(call_id)
    assert len({e.id for e in events}) == len(events)
    assert Counter(e.type for e in events) == NEUTRAL
    assert_all_taken(stack)
    webhooks = [s for s in stack.wire.sent if s.method == "POST"]
    again = [json.loads(s.answer) for s in webhooks if s.again]
    assert len(again) * 2 == len(webhooks)
    assert all(a["handled"] == 0 and a["duplicates"] == a["received"] for a in again)
    return events


# The support line, outbound ----------------------------------------------------------------


@pytest.mark.parametrize("stack", ["jwt", "token"], indirect=True)
@pytest.mark.parametrize(("keys", "pulls"), [
    (("2", "4711#"), [("1", None), ("1", None)]),
    # Silence first: the app says so (input=none) and serves the menu's second attempt.
    ((None, "2", "4711#"), [("1", "none"), ("2", None), ("1", None)]),
], ids=["support", "after-a-reprompt"])
def test_support_ivr_runs_to_completion_over_http(
        stack: Stack, keys: tuple[str | None, ...], pulls: list[tuple[str, str | None]],
        tmp_path: Path) -> None:
    fake = stack.fake
    # Support (at once, or after a silent first attempt), then a ticket; an engineer answers.
    fake.callees[CALLEE] = CalleeScript(keys=list(keys))
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=SUPPORT, tag="e2e-support")
        assert call.status == CallStatus.QUEUED and call.tag == "e2e-support"
        # The call ran at the create (the fake's engine runs it whole): the app took every
        # request made to it.
        assert_all_taken(stack)
        assert voice.calls.get(call.id).status == CallStatus.QUEUED  # nothing has happened
        fake.advance(12)  # past the answer (3 s), in the menu
        assert voice.calls.get(call.id).status == CallStatus.IN_PROGRESS
        fake.advance(3600)
        done = voice.calls.get(call.id)
        assert done.status == CallStatus.COMPLETED and done.finished
        assert done.ended_at is not None

        events = assert_once_each(stack, call.id)
        [initiated] = [e for e in events if isinstance(e, CallInitiated)]
        assert (initiated.direction, initiated.from_, initiated.to) == (
            Direction.OUTBOUND, FROM, TO)
        [completed] = [e for e in events if isinstance(e, CallCompleted)]
        assert completed.end_reason == EndReason.HANGUP
        assert completed.duration is not None and completed.duration > 30  # 30 s bridged

        # The menu and the ticket were decided by the app, over HTTP: one fetchCallFlow per
        # gather attempt (the menu's, then the ticket's), each answered with a call flow.
        fetches = stack.wire.fetches()
        assert [(f.query["attempt"], f.query.get("input")) for f in fetches] == pulls
        assert {f.query["on"] for f in fetches} == {"gather"}
        assert all(f.url.startswith(f"{stack.app_url}/univoice/messagebird/flow/")
                   for f in fetches)
        assert all(f.status == 200 and json.loads(f.answer)["steps"] for f in fetches)
        assert all(f.query["callID"] == call.id and f.query["token"] for f in fetches)
        assert all((JWT_HEADER in f.headers) is stack.wire.sign_fetches for f in fetches)
        assert gathered(stack, call.id) == ["2", "4711"]
        spoken = said(stack, call.id)
        assert spoken.count("For sales, press 1. For support, press 2. To leave a message, "
                            "press 3.") == len(keys) - 1
        assert spoken[-1] == "Thank you. Connecting you to an engineer about ticket 4711."
        transfers = [e for e in fake.trace_events(call.id)
                     if e.kind in (TraceKind.TRANSFER_STARTED, TraceKind.TRANSFER_ANSWERED)]
        assert [e.kind for e in transfers] == [TraceKind.TRANSFER_STARTED,
                                               TraceKind.TRANSFER_ANSWERED]
        assert transfers[0].data["targets"] == [ENGINEER]

        # The transfer was recorded: listed under the call, ready, downloadable as audio.
        [rec] = list(voice.recordings.list(call_id=call.id))
        assert rec.call_id == call.id and rec.status == RecordingStatus.READY
        assert rec.duration == pytest.approx(30.0)
        assert voice.recordings.get(rec.id).id == rec.id
        written = rec.download(tmp_path)
        with wave.open(io.BytesIO(written.read_bytes())) as w:
            assert w.getnframes() > 0


def test_voicemail_with_a_transcription(stack: Stack, tmp_path: Path) -> None:
    fake = stack.fake
    fake.callees[CALLEE] = CalleeScript(keys=["3"], record_seconds=12)
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=SUPPORT)
        fake.advance(3600)
        assert voice.calls.get(call.id).status == CallStatus.COMPLETED
        assert_once_each(stack, call.id)
        assert said(stack, call.id)[-2:] == [
            "Please leave a message after the tone. Press hash when you are done.",
            "Thank you. Goodbye."]
        [rec] = list(voice.recordings.list(call_id=call.id))
        # 12 s spoken, then the record step's 5 s of silence end it.
        assert rec.status == RecordingStatus.READY and rec.duration == pytest.approx(17.0)
        written = rec.download(tmp_path)
        with wave.open(io.BytesIO(written.read_bytes())) as w:
            assert w.getnframes() / w.getframerate() == pytest.approx(17.0, abs=0.1)
        transcription = voice.transcriptions.get(rec)
        assert transcription.recording_id == rec.id
        assert transcription.status == TranscriptionStatus.READY


def test_voicemail_transcription_text(stack: Stack) -> None:
    missing = missing_pieces("chaining")
    if missing:  # the text is a second request (GET /transcriptions/{id}.txt)
        pytest.skip(f"waiting for {', '.join(missing)}")
    stack.fake.callees[CALLEE] = CalleeScript(keys=["3"], record_seconds=12)
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=SUPPORT)
        stack.fake.advance(3600)
        [rec] = list(voice.recordings.list(call_id=call.id))
        assert voice.transcriptions.text(rec) == TRANSCRIPTION


def test_a_call_hung_up_through_the_api_is_gone(stack: Stack) -> None:
    stack.fake.callees[CALLEE] = CalleeScript(keys=["2", "4711#"])
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=SUPPORT)
        stack.fake.advance(12)
        assert voice.calls.get(call.id).status == CallStatus.IN_PROGRESS
        voice.calls.hangup(call.id)
        # DELETE /calls/{id} hangs up and removes the call (the contract's
        # hangup_removes_call).
        with pytest.raises(NotFound):
            voice.calls.get(call.id)
        assert call.id not in {c.id for c in voice.calls.list()}


# Inbound ------------------------------------------------------------------------------


@pytest.mark.parametrize("stack", ["jwt", "token"], indirect=True)
def test_inbound_call_runs_the_flow_configured_for_the_number(stack: Stack) -> None:
    # The call flow univoice stores at MessageBird for its numbers: MessageBird takes it.
    number_flow = stack.provider.inbound_call_flow(stack.app_url)
    stored = httpx.post(f"{stack.api_url}/call-flows", json=number_flow, timeout=10,
                        headers={"Authorization": f"AccessKey {ACCESS_KEY}"})
    assert stored.status_code == 201, stored.text
    # A call to our number runs it: its first fetchCallFlow asks the app for the flow the
    # app answers that number with.
    call_id = str(uuid.uuid4())
    setup = CallSetup(call_id=call_id, from_=TO.lstrip("+"), to=SUPPORT_LINE.lstrip("+"),
                      call_flow=number_flow, webhook_url=stack.events_url,
                      signing_key=SIGNING_KEY, direction="incoming", leg_id=f"{call_id}-leg1")
    run = interpreter_runner()(setup, CalleeScript(keys=["1"], record_seconds=6), stack.wire)

    fetches = stack.wire.fetches()
    assert urlsplit(fetches[0].url).path == "/univoice/messagebird/flow/inbound/start"
    assert fetches[0].query["destination"] == SUPPORT_LINE.lstrip("+")
    assert [f.query.get("on") for f in fetches] == ["inbound", "gather"]
    assert all(f.status == 200 for f in fetches)

    events = assert_once_each(stack, call_id)
    [initiated] = [e for e in events if isinstance(e, CallInitiated)]
    assert (initiated.direction, initiated.from_, initiated.to) == (
        Direction.INBOUND, TO, SUPPORT_LINE)
    assert run.cause == "hangup"
    assert [e.data["text"] for e in run.trace.of(TraceKind.SAID)] == [
        "We are closed. To leave a message, press 1.", "Please speak after the tone.",
        "Thank you."]
    assert [e.data["digits"] for e in run.trace.of(TraceKind.GATHERED)] == ["1"]
    [rec] = run.recordings
    assert rec.call_id == call_id and rec.duration == pytest.approx(6.0)
    assert rec.transcript == TRANSCRIPTION


def test_an_unknown_number_gets_no_flow(stack: Stack) -> None:
    flow = stack.provider.inbound_call_flow(stack.app_url)
    [url] = [s["options"]["url"] for s in flow["steps"]]
    query = urlencode({"variables": "{}", "callID": "c-1", "source": CALLEE,
                       "destination": "31200000000"})
    refused = httpx.get(f"{url}&{query}", timeout=10)
    assert refused.status_code == 404 and "steps" not in refused.text


# Forgeries ----------------------------------------------------------------------------


def snapshot(call_id: str, status: str = "ongoing") -> bytes:
    """A ``callUpdated`` webhook body for an inbound call to our number."""
    now = "2026-01-01T00:00:05Z"
    leg = {"id": f"{call_id}-leg1", "callId": call_id, "source": CALLEE,
           "destination": SUPPORT_LINE.lstrip("+"), "status": status,
           "direction": "incoming", "createdAt": "2026-01-01T00:00:00Z", "updatedAt": now,
           "answeredAt": "2026-01-01T00:00:03Z", "endedAt": None}
    call = {"id": call_id, "status": status, "source": CALLEE,
            "destination": SUPPORT_LINE.lstrip("+"), "createdAt": "2026-01-01T00:00:00Z",
            "updatedAt": now, "endedAt": None, "legs": [leg]}
    return json.dumps({"timestamp": now, "items": [
        {"type": "call", "event": "callUpdated", "payload": call}]}).encode()


def _forged(url: str, body: bytes) -> dict[str, dict[str, str]]:
    other = snapshot("c-forged-other")
    return {
        "unsigned": {},
        "wrong-key": sign("not-the-signing-key", url, body),
        "another-body": sign(SIGNING_KEY, url, other),
        "another-url": sign(SIGNING_KEY, f"{url}?x=1", body),
        "expired": sign(SIGNING_KEY, url, body, now=time.time() - 3600),
        "not-messagebird": sign(SIGNING_KEY, url, body, claims={"iss": "Intruder"}),
        "no-payload-hash": sign(SIGNING_KEY, url, body, claims={"payload_hash": None}),
        "legacy-forged": {"MessageBird-Request-Timestamp": str(int(time.time())),
                          "MessageBird-Signature": "AAAA"},
    }


FORGERIES = list(_forged("https://x.example", b"{}"))


@pytest.mark.parametrize("forgery", FORGERIES)
def test_a_forged_webhook_is_refused_and_reaches_no_handler(stack: Stack,
                                                            forgery: str) -> None:
    body = snapshot("c-forged-1")
    headers = _forged(stack.events_url, body)[forgery]
    refused = httpx.post(stack.events_url, content=body, timeout=10,
                         headers={"content-type": "application/json", **headers})
    assert refused.status_code == 401, refused.text
    assert stack.handled() == 0  # no handler ran
    # The same body, signed with the signing key, is taken: once.
    signed = sign(SIGNING_KEY, stack.events_url, body)
    accepted = httpx.post(stack.events_url, content=body, timeout=10,
                          headers={"content-type": "application/json", **signed})
    assert accepted.status_code == 200, accepted.text
    kinds = [e.type for e in stack.events("c-forged-1")]
    assert kinds == ["call.initiated", "call.answered"]
    # Its exact replay (the same token) is refused.
    replayed = httpx.post(stack.events_url, content=body, timeout=10,
                          headers={"content-type": "application/json", **signed})
    assert replayed.status_code == 401 and "replayed" in replayed.text
    assert stack.handled() == 2


def _with(url: str, **changes: str | None) -> str:
    parts = urlsplit(url)
    query = dict(parse_qsl(parts.query))
    for name, value in changes.items():
        if value is None:
            query.pop(name, None)
        else:
            query[name] = value
    return parts._replace(query=urlencode(query)).geturl()


def test_a_continuation_with_a_forged_token_is_refused(stack: Stack) -> None:
    stack.fake.callees[CALLEE] = CalleeScript(keys=["2", "4711#"])
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=SUPPORT)
    [create] = [r for r in stack.fake.requests if r.method == "POST"]
    steps = json.loads(create.content)["callFlow"]["steps"]
    # The menu's two ways on: its keys (decided by the app), or none (input=none).
    silence, url = [s["options"]["url"] for s in steps if s["action"] == "fetchCallFlow"]
    assert "input=none" in silence and "input=" not in url
    assert url.startswith(stack.app_url) and "token=" in url
    # What MessageBird adds to a fetchCallFlow: the keys, the call, the numbers.
    pulled = {"variables": json.dumps({KEYS_VARIABLE: "2"}), "callID": call.id,
              "source": FROM.lstrip("+"), "destination": CALLEE}
    before = stack.handled()
    token = dict(parse_qsl(urlsplit(url).query))["token"]
    forgeries = {
        "forged token": _with(url, token="0" * len(token)),
        "no token": _with(url, token=None),
        "another attempt": _with(url, attempt="2"),  # the token names attempt 1
        "the silence's token": _with(url, token=dict(parse_qsl(urlsplit(silence).query))[
            "token"]),
        "another node": url.replace("steps%5B1%5D", "steps%5B0%5D"),
    }
    for what, forged in forgeries.items():
        refused = httpx.get(_with(forged, **pulled), timeout=10)
        assert refused.status_code == 401, (what, refused.text)
        assert "steps" not in refused.text, what  # no call flow for a forger
    # A JWT signed with another key does not stand in for the token either.
    bad_jwt = signature_jwt("not-the-signing-key", _with(url, **pulled), None)
    refused = httpx.get(_with(url, **pulled), headers={JWT_HEADER: bad_jwt}, timeout=10)
    assert refused.status_code == 401
    assert stack.handled() == before  # and no handler ran
    # The genuine URL is served: support's next step, the ticket prompt.
    served = httpx.get(_with(url, **pulled), timeout=10)
    assert served.status_code == 200, served.text
    payloads = [s.get("options", {}).get("payload") for s in served.json()["steps"]]
    assert "Enter your ticket number, then press hash." in payloads
    assert stack.handled() == before
