"""Bird end to end over real HTTP: the univoice webhook app and a fake Bird Voice API each
served by uvicorn on 127.0.0.1, sharing nothing but HTTP (and the app's SQLite store with
the client placing calls, as a deployment shares it).

A hosted call placed with ``Voice("bird")`` starts with its first segment (the steps up to
the first gather, the gather, a hold, a hangup) and reports to its own route of the app.
The fake's call engine (the adapter's interpreter, in a thread per call) posts Bird's
callbacks there, each signed with the signing key and delivered twice; after each gather
the app reads the keys from the callback and PATCHes the call's next call flow, which the
engine runs in place of the hold. So every menu decision, re-prompt and free input of the
flow is the app's, over HTTP, and the call must still do exactly what ``univoice.simulate``
says it does. An inbound call to one of the app's numbers is answered the same way: the
app PATCHes ``answer`` and the number's flow in answer to the ``starting`` callback.
"""

from __future__ import annotations

import asyncio
import json
import threading
import time
from collections import Counter
from collections.abc import Iterator
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cassettes import validate_exchange
from tests.support.bird_flows import run_hosted
from tests.support.fake_bird import (
    ACCESS_KEY,
    CHANNEL_ID,
    SIGNING_KEY,
    WORKSPACE_ID,
    Delivery,
    FakeBird,
    mp3_seconds,
)
from tests.support.live_server import LiveServer
from univoice import Flow, Voice
from univoice.events import BaseEvent, CallCompleted, CallInitiated, DigitsGathered
from univoice.models import CallStatus, Direction, RecordingStatus
from univoice.retry import RetryPolicy
from univoice.simulator import CalleeScript, simulate
from univoice.simulator.compare import differences
from univoice.simulator.trace import Trace, TraceKind
from univoice.transport import HttpSettings
from univoice.webhooks import VoiceApp
from univoice_bird import BirdProvider, compile
from univoice_bird.events import SIGNATURE_HEADER, TIMESTAMP_HEADER, sign

SETTINGS: dict[str, Any] = {"workspace_id": WORKSPACE_ID, "channel_id": CHANNEL_ID}
TO, FROM = "+31612345678", "+31201234567"
SUPPORT_LINE = "+31209990000"  # our number, answered by the app (inbound)
UNMAPPED = "+31200000000"  # a number of the channel univoice does not answer
LIFECYCLE = {"call.initiated": 1, "call.ringing": 1, "call.answered": 1, "call.completed": 1}
IVR = Flow.from_yaml("""
name: Acme orders
language: en-US
steps:
  - say: Thank you for calling.
  - gather:
      prompt: For sales press 1, for support press 2.
      retries: 1                     # a re-prompt: the app decides it
      options:
        "1":
          - gather:                  # a nested menu
              prompt: For new orders press 1, for existing orders press 2.
              options:
                "1": [{say: Connecting you to orders.},
                      {transfer: {targets: "+31201234599", record: true}}]
                "2":
                  - gather: {variable: order, prompt: Enter your order number then hash.,
                             max_digits: 8, finish_on_key: "#", retries: 1}   # free input
                  - say: Looking up order {order}.
        "2": [{say: Support is closed.}, hangup]
      no_input: [{say: We did not hear a choice.}]
      invalid: [{say: That is not an option.}]
  - say: Goodbye.
""")
INBOUND = Flow.from_yaml("""
name: After-hours line
language: en-GB
steps:
  - gather:
      prompt: We are closed. To leave a message, press 1.
      retries: 1
      options:
        "1":
          - say: Please speak after the tone.
          - record: {max_length: 60, silence_timeout: 3}
          - say: Thank you.
  - hangup
""")


class Switch:
    """An ASGI app handing every request to the app of the test running: the two uvicorn
    servers outlive the tests, each test gets its own webhook app, store and fake. It keeps
    the server's event loop, where the app's REST clients must be closed."""

    def __init__(self) -> None:
        self.app: Any = None
        self.loop: asyncio.AbstractEventLoop | None = None

    async def __call__(self, scope: Any, receive: Any, send: Any) -> None:
        assert self.app is not None, "no test is running"
        self.loop = asyncio.get_running_loop()
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
    app_server, api_server = LiveServer(name="webhook-app"), LiveServer(name="fake-bird")
    try:
        app_server.start(app_switch)
        api_server.start(api_switch)
        yield Servers(app_server, api_server, app_switch, api_switch)
    finally:
        api_server.stop()
        app_server.stop()


@dataclass
class Stack:
    app_url: str
    api_url: str
    store: str
    fake: FakeBird
    seen: list[BaseEvent] = field(default_factory=list)
    lock: threading.Lock = field(default_factory=threading.Lock)

    def voice(self) -> Voice:
        return Voice("bird", access_key=ACCESS_KEY, api_url=self.api_url,
                     public_url=self.app_url, flow_store=self.store, **SETTINGS)

    def events(self, call_id: str) -> list[BaseEvent]:
        with self.lock:
            return [e for e in self.seen if e.call_id == call_id]

    def handled(self) -> int:
        with self.lock:
            return len(self.seen)

    @property
    def events_url(self) -> str:
        return f"{self.app_url}/univoice/bird/events"


@pytest.fixture
def stack(servers: Servers, tmp_path: Path) -> Iterator[Stack]:
    store = f"sqlite:///{tmp_path / 'voice.db'}"
    provider = BirdProvider(signing_key=SIGNING_KEY, access_key=ACCESS_KEY,
                            api_url=servers.api.url, **SETTINGS)
    # Pushes are retried once, at once (the default backs off for seconds).
    retry = RetryPolicy(max_attempts=2, backoff=0.01, max_backoff=0.01)
    app = VoiceApp(public_url=servers.app.url, store=store, providers=[provider],
                   inbound={SUPPORT_LINE: INBOUND}, http=HttpSettings(retry=retry))
    fake = FakeBird(base_url=servers.api.url, background=True, duplicates=True,
                    subscription_url=f"{servers.app.url}/univoice/bird/events")
    built = Stack(servers.app.url, servers.api.url, store, fake)

    @app.on()
    def record(event: BaseEvent) -> None:
        with built.lock:
            built.seen.append(event)

    servers.app_switch.app, servers.api_switch.app = app, fake.asgi()
    try:
        yield built
    finally:
        for call in list(fake.calls.values()):  # no engine outlives its test
            if call.thread is not None:
                call.thread.join(30)
        loop = servers.app_switch.loop
        if loop is not None:  # the app's push clients live in the server's loop
            asyncio.run_coroutine_threadsafe(app.aclose(), loop).result(10)
        servers.app_switch.app = servers.api_switch.app = None
        for sent, answered in fake.exchanges:  # the client's and the app's requests alike
            validate_exchange("bird", at_bird(sent), answered)
        if fake.http is not None:
            fake.http.close()  # type: ignore[attr-defined]
        app.store.close()


def at_bird(request: httpx.Request) -> httpx.Request:
    """The request as sent to Bird's own host (the spec's server)."""
    url = request.url.copy_with(scheme="https", host="api.bird.com", port=None)
    return httpx.Request(request.method, url, headers=request.headers,
                         content=request.content)


# What every call must show -------------------------------------------------------------


def same_as_simulated(stack: Stack, call_id: str, flow: Flow, script: CalleeScript,
                      from_: str = FROM, to: str = TO) -> Trace:
    expected = simulate(flow, script, call_id=call_id, from_=from_, to=to)
    problems = differences(expected, stack.fake.trace(call_id))
    assert not problems, "\n".join([*problems, "simulator:", expected.transcript(),
                                    "bird:", stack.fake.trace(call_id).transcript()])
    return expected


INPUT = (TraceKind.GATHERED, TraceKind.NO_INPUT, TraceKind.INVALID_INPUT)


def attempts_of(trace: Trace) -> int:
    """How many gather attempts the call made (each reported by one callback)."""
    return len([e for e in trace.events if e.kind in INPUT])


def deliveries(stack: Stack, call_id: str) -> list[Delivery]:
    return [d for d in stack.fake.deliveries if d.call_id == call_id]


def assert_handled_once(stack: Stack, call_id: str, expected: Trace) -> list[BaseEvent]:
    """Every callback was delivered twice and taken both times; the handlers saw the
    call's lifecycle once and one keys report per gather attempt."""
    sent = deliveries(stack, call_id)
    assert sent and all(d.status == 200 for d in sent), [(d.kind, d.status) for d in sent]
    first, again = [d for d in sent if not d.again], [d for d in sent if d.again]
    assert len(first) == len(again)
    for repeat in again:
        counts = json.loads(repeat.answer)
        assert counts["handled"] == 0 and counts["duplicates"] == counts["received"] > 0
    events = stack.events(call_id)
    assert len({e.id for e in events}) == len(events)
    attempts = attempts_of(expected)
    assert Counter(e.type for e in events) == {**LIFECYCLE, "gather.digits": attempts}
    assert [d.kind for d in first].count("gather") == attempts
    [completed] = [e for e in events if isinstance(e, CallCompleted)]
    assert completed.end_reason == expected.end_reason
    assert completed.duration == pytest.approx(expected.duration)
    return events


def pushed(stack: Stack, call_id: str) -> list[list[dict[str, Any]]]:
    """The call flows the app PATCHed (each taken: 202), in order."""
    patches = stack.fake.patches(call_id)
    assert all(code == 202 for _, code in patches), patches
    return [body["callFlow"] for body, _ in patches]


# (a) The hosted IVR, outbound ----------------------------------------------------------


@pytest.mark.parametrize("keys", [
    ["1", "2", "1234#"],             # the menu, the nested menu, free input
    ["", "1", "2", "", "77#"],       # both re-prompted: the menu's and the free input's
    ["5", "9"],                      # invalid twice: the invalid branch, then goodbye
    ["1", "1"],                      # new orders: a recorded transfer
    ["2"],                           # support is closed: the branch hangs up
], ids=["free-input", "re-prompts", "invalid", "transfer", "hangup"])
def test_a_hosted_ivr_runs_as_simulated_over_http(stack: Stack, keys: list[str]) -> None:
    script = CalleeScript(keys=keys)
    stack.fake.callees[TO] = script
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=IVR, tag="e2e-ivr")
        assert call.status == CallStatus.QUEUED and call.tag == "e2e-ivr"
        stack.fake.wait(call.id)
        expected = same_as_simulated(stack, call.id, IVR, script)
        events = assert_handled_once(stack, call.id, expected)
        [initiated] = [e for e in events if isinstance(e, CallInitiated)]
        assert (initiated.direction, initiated.from_, initiated.to) == (
            Direction.OUTBOUND, FROM, TO)
        digits = [e.digits for e in events if isinstance(e, DigitsGathered)]
        assert digits == [e.data["digits"] for e in expected.events if e.kind in INPUT]

        # The create carried the first segment and named the flow's route; each gather
        # was answered by one push (as the app's logic, run in process, decides), which
        # the call ran in place of its hold.
        [create] = [r for r in stack.fake.requests if r.method == "POST"]
        body = json.loads(create.content)
        assert body["callFlow"] == compile.start(IVR)
        assert body["notification"]["url"].startswith(
            f"{stack.app_url}/univoice/bird/flow/")
        _, pushes = run_hosted(IVR, script, call.id)
        flows = pushed(stack, call.id)
        assert len(flows) == pushes == attempts_of(expected)
        assert stack.fake.call_flows(call.id) == [body["callFlow"], *flows]
        assert all(d.url == body["notification"]["url"] for d in deliveries(stack, call.id))

        stack.fake.advance(3600)
        done = voice.calls.get(call.id)
        assert done.status == CallStatus.COMPLETED and done.finished
        assert done.end_reason == expected.end_reason
        # Only the transfer is recorded (30 s bridged).
        recordings = list(voice.recordings.list(call_id=call.id))
        bridged = expected.of(TraceKind.TRANSFER_ANSWERED)
        assert [(r.status, r.duration) for r in recordings] == (
            [(RecordingStatus.READY, 30)] if bridged else [])


def test_a_callee_hanging_up_in_a_menu_ends_the_hosted_call(stack: Stack) -> None:
    script = CalleeScript(keys=["1"], hang_up_after=8)  # gone in the nested menu
    stack.fake.callees[TO] = script
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=IVR)
    stack.fake.wait(call.id)
    expected = same_as_simulated(stack, call.id, IVR, script)
    assert_handled_once(stack, call.id, expected)
    assert len(pushed(stack, call.id)) == 1  # the nested menu's segment, then nothing


# (b) Inbound -------------------------------------------------------------------------------


def test_an_inbound_call_is_answered_with_the_numbers_flow(stack: Stack,
                                                           tmp_path: Path) -> None:
    stack.fake.envelope = True  # {"event": "voice.inbound", "payload": call}: read alike
    script = CalleeScript(keys=["", "1"], record_seconds=6)
    call_id = stack.fake.incoming(TO, SUPPORT_LINE, script)
    stack.fake.wait(call_id)
    expected = same_as_simulated(stack, call_id, INBOUND, script, from_=TO, to=SUPPORT_LINE)
    events = assert_handled_once(stack, call_id, expected)
    [initiated] = [e for e in events if isinstance(e, CallInitiated)]
    assert (initiated.direction, initiated.from_, initiated.to) == (
        Direction.INBOUND, TO, SUPPORT_LINE)
    # Answered by a push of "answer" and the flow's first segment, then one push per gather.
    answer, *rest = pushed(stack, call_id)
    assert answer == [{"command": "answer"}, *compile.start(INBOUND)]
    _, pushes = run_hosted(INBOUND, script, call_id)
    assert len(rest) == pushes == 2
    assert [d.url for d in deliveries(stack, call_id)] == [stack.events_url] * len(
        deliveries(stack, call_id))
    # The message it left is a recording of the call.
    stack.fake.advance(3600)
    with stack.voice() as voice:
        [rec] = list(voice.recordings.list(call_id=call_id))
        assert rec.status == RecordingStatus.READY and rec.duration == 9  # 6 s + 3 s
        written = rec.download(tmp_path)
        assert mp3_seconds(written.read_bytes()) == pytest.approx(9, abs=0.1)


def test_an_inbound_call_to_an_unmapped_number_is_left_alone(stack: Stack) -> None:
    stack.fake.push_wait = 0.3  # the app answers the callback after any push it makes
    call_id = stack.fake.incoming(TO, UNMAPPED, CalleeScript())
    stack.fake.wait(call_id)
    assert stack.fake.patches(call_id) == []
    sent = deliveries(stack, call_id)
    assert [json.loads(d.body)["status"] for d in sent if not d.again] == [
        "starting", "ringing", "no-answer"]
    assert all(d.status == 200 for d in sent)
    assert Counter(e.type for e in stack.events(call_id)) == {
        "call.initiated": 1, "call.ringing": 1, "call.completed": 1}


# (c) A push that fails ---------------------------------------------------------------------


@pytest.mark.parametrize(("failures", "answers"), [
    (1, [200]),        # the app's own retry of the PATCH absorbs it
    (2, [503, 200]),   # both attempts fail: 503, and Bird's redelivery pushes again
])
def test_a_failed_push_is_made_again_on_redelivery(stack: Stack, failures: int,
                                                   answers: list[int],
                                                   caplog: pytest.LogCaptureFixture) -> None:
    script = CalleeScript(keys=["2"])  # one menu decision, then "Support is closed."
    stack.fake.callees[TO] = script
    stack.fake.fail_patches = failures
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=IVR)
    stack.fake.wait(call.id)
    same_as_simulated(stack, call.id, IVR, script)  # the call went on as if nothing failed
    gathers = [d for d in deliveries(stack, call.id) if d.kind == "gather" and not d.again]
    assert [d.status for d in gathers] == answers
    statuses = [code for _, code in stack.fake.patches(call.id)]
    assert statuses == [500] * failures + [202]  # then made once
    assert len({json.dumps(body) for body, _ in stack.fake.patches(call.id)}) == 1
    if failures == 2:
        refusal = json.loads(gathers[0].answer)["error"]
        assert "could not be sent" in refusal
    for text in [caplog.text, *(d.answer for d in stack.fake.deliveries)]:
        assert ACCESS_KEY not in text and SIGNING_KEY not in text
    # Events are handled once the push is made: once, however often delivered.
    assert Counter(e.type for e in stack.events(call.id))["gather.digits"] == 1



def test_a_push_that_never_succeeds_leaves_the_call_on_hold_and_its_end_is_handled(
        stack: Stack) -> None:
    """Every attempt fails, every delivery of the gather's callback is refused (503) and
    Bird gives up: the call holds, then hangs up. Its final callback still shows the
    gather's keys, but an ended call takes no call flow: it is handled, not pushed for."""
    script = CalleeScript(keys=["2"])
    stack.fake.callees[TO] = script
    attempts = 2 * (1 + stack.fake.redeliveries)  # the app's two tries per delivery
    stack.fake.fail_patches = attempts
    stack.fake.push_wait = 0.3
    with stack.voice() as voice:
        call = voice.calls.create(TO, FROM, flow=IVR)
    stack.fake.wait(call.id)
    trace = stack.fake.trace(call.id)
    assert [e.data.get("seconds") for e in trace.of(TraceKind.PAUSED)] == [
        compile.HOLD_SECONDS]
    assert trace.events[-2].kind == TraceKind.HUNG_UP and trace.end_reason.value == "hangup"
    assert [code for _, code in stack.fake.patches(call.id)] == [500] * attempts
    sent = [d for d in deliveries(stack, call.id) if not d.again]
    assert [d.status for d in sent if d.kind == "gather"] == [503] * (
        1 + stack.fake.redeliveries)
    [final] = [d for d in sent if json.loads(d.body)["status"] == "completed"]
    assert final.status == 200
    assert Counter(e.type for e in stack.events(call.id)) == {**LIFECYCLE,
                                                              "gather.digits": 1}


# (d) Forgeries -----------------------------------------------------------------------------


def starting(call_id: str, to: str = SUPPORT_LINE) -> bytes:
    """An inbound call's first callback, as Bird would post it."""
    call = {"id": call_id, "channelId": CHANNEL_ID, "from": TO, "to": to,
            "direction": "incoming", "status": "starting",
            "createdAt": "2026-01-01T00:00:00.000Z"}
    return json.dumps(call).encode()


def forgeries(url: str, body: bytes) -> dict[str, dict[str, str]]:
    now = time.time()
    genuine = sign(SIGNING_KEY, url, body)
    return {
        "unsigned": {},
        "no timestamp": {SIGNATURE_HEADER: genuine[SIGNATURE_HEADER]},
        "wrong key": sign("not-the-signing-key", url, body),
        "another body": sign(SIGNING_KEY, url, starting("c-forged-other")),
        "another URL": sign(SIGNING_KEY, f"{url}?x=1", body),
        "expired": sign(SIGNING_KEY, url, body, timestamp=now - 3600),
        "from the future": sign(SIGNING_KEY, url, body, timestamp=now + 3600),
        "garbled": {SIGNATURE_HEADER: "!!not-base64!!", TIMESTAMP_HEADER: str(int(now))},
    }


@pytest.mark.parametrize("forgery", list(forgeries("https://x.example", b"{}")))
def test_a_forged_callback_is_refused_and_pushes_nothing(stack: Stack, forgery: str) -> None:
    # A ringing call to our number, which the app would answer (by a PATCH) if it believed
    # the callback.
    call_id = stack.fake.incoming(TO, SUPPORT_LINE, start=False)
    body = starting(call_id)
    headers = forgeries(stack.events_url, body)[forgery]
    refused = httpx.post(stack.events_url, content=body, timeout=10,
                         headers={"content-type": "application/json", **headers})
    assert refused.status_code == 401, refused.text
    assert SIGNING_KEY not in refused.text
    assert stack.fake.patches() == [] and stack.handled() == 0
    # The same body, signed with the signing key, is believed: the call is answered, once.
    signed = sign(SIGNING_KEY, stack.events_url, body)
    accepted = httpx.post(stack.events_url, content=body, timeout=10,
                          headers={"content-type": "application/json", **signed})
    assert accepted.status_code == 200, accepted.text
    [(push, code)] = stack.fake.patches(call_id)
    assert code == 202 and push["callFlow"][0] == {"command": "answer"}
    assert [e.type for e in stack.events(call_id)] == ["call.initiated"]
    # Its exact replay is refused, and pushes nothing more.
    replayed = httpx.post(stack.events_url, content=body, timeout=10,
                          headers={"content-type": "application/json", **signed})
    assert replayed.status_code == 401 and "replayed" in replayed.text
    assert len(stack.fake.patches()) == 1 and stack.handled() == 1
