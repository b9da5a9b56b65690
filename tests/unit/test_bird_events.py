"""Bird callbacks -> neutral events, and their signature verification (HMAC-SHA256 over
timestamp, URL and body digest; docs "Verifying a webhook subscription")."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import time
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr
from starlette.testclient import TestClient

from univoice.events import (
    BaseEvent,
    CallAnswered,
    CallCompleted,
    CallFailed,
    CallInitiated,
    CallRinging,
    MachineDetected,
    UnknownEvent,
    event_from_json,
)
from univoice.models import Direction, EndReason
from univoice.store.base import dump
from univoice.webhooks import VoiceApp
from univoice.webhooks.request import WebhookRejected, WebhookRequest
from univoice_bird import events as bird_events
from univoice_bird.events import (
    SIGNATURE_HEADER,
    TIMESTAMP_HEADER,
    WINDOW,
    ReplayGuard,
    parse,
    sign,
    timestamp_seconds,
    verify,
)
from univoice_bird.provider import BirdProvider
from univoice_bird.settings import BirdSettings

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / "bird"
BASE = "https://voice.example.com"
PATH = "/univoice/bird/events"
URL = BASE + PATH
KEY = "bird-S1gning/key+with=odd"
WS = "11111111-2222-4333-8444-555555555555"
CH = "66666666-7777-4888-9999-000000000000"
CONFIGURED = BirdSettings(workspace_id=WS, channel_id=CH, signing_key=KEY)
NOW = 1_700_000_000.0
CALL = "1e5e9219-2da2-4aa2-bf0f-8cc34775e6c0"


# Helpers --------------------------------------------------------------------------------


@pytest.fixture(autouse=True)
def _fresh_replay_memory(monkeypatch: pytest.MonkeyPatch) -> None:
    """Each test starts with no signature remembered (tests reuse bodies and times)."""
    monkeypatch.setattr(bird_events, "_REPLAYS", ReplayGuard())


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text("utf-8"))
    return data


def request(body: bytes | dict[str, Any] | list[Any] = b"",
            headers: dict[str, str] | None = None, *, url: str = URL, now: float = NOW
            ) -> WebhookRequest:
    """A callback as the webhook app hands it over (header names lower-case)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    parts = urlsplit(url)
    return WebhookRequest(
        method="POST", url=url, path=parts.path, query=dict(parse_qsl(parts.query)),
        headers={"content-type": "application/json",
                 **{k.lower(): v for k, v in (headers or {}).items()}},
        body=raw, received_at=now)


def by_hand(key: str, stamp: str, url: str, body: bytes) -> str:
    """The docs' algorithm written out independently of ``sign``: base64 of
    HMAC-SHA256(key, timestamp + "\\n" + url + "\\n" + raw SHA-256 of the body)."""
    digest = hashlib.sha256(body).digest()
    message = stamp.encode() + b"\n" + url.encode() + b"\n" + digest
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


BODY = json.dumps(sample("seed_create_call_202_response.json")).encode()


def signed(body: bytes = BODY, *, url: str = URL, now: float = NOW, stamp: str | None = None,
           key: str = KEY) -> WebhookRequest:
    when = stamp if stamp is not None else str(int(now))
    headers = {SIGNATURE_HEADER: by_hand(key, when, url, body), TIMESTAMP_HEADER: when}
    return request(body, headers, url=url, now=now)


def refused(req: WebhookRequest, settings_: BirdSettings = CONFIGURED, status: int = 401
            ) -> str:
    with pytest.raises(WebhookRejected) as info:
        verify(settings_, req)
    assert info.value.status == status
    assert KEY not in info.value.reason
    return info.value.reason


def events_of(payload: dict[str, Any] | bytes) -> list[BaseEvent]:
    return parse(request(payload))


def one(payload: dict[str, Any]) -> BaseEvent:
    [event] = events_of(payload)
    return event


def stored(event: BaseEvent) -> BaseEvent:
    """The event as the webhook app's store writes and reads it back (strict JSON)."""
    text = dump(event.model_dump(mode="json", by_alias=True), "event")
    text.encode()  # strict UTF-8, as the store writes it
    return event_from_json(json.loads(text))


def status_of(status: str, **fields: Any) -> dict[str, Any]:
    call: dict[str, Any] = sample("seed_create_call_202_response.json")
    call["status"] = status
    call.update(fields)
    return call


# Signatures -----------------------------------------------------------------------------


def test_a_signed_callback_is_accepted() -> None:
    verify(CONFIGURED, signed())
    assert sign(KEY, URL, BODY, NOW) == {
        SIGNATURE_HEADER: by_hand(KEY, str(int(NOW)), URL, BODY),
        TIMESTAMP_HEADER: str(int(NOW))}
    # sign() with a SecretStr and the time as text; verify through the provider.
    headers = sign(SecretStr(KEY), URL, b"{}", "1700000001")
    BirdProvider(CONFIGURED).verify_webhook(request(b"{}", headers, now=NOW))


def test_the_signature_covers_body_url_and_timestamp() -> None:
    good = signed()
    tampered_body = request(BODY.replace(b"accepted", b"ongoing"), dict(
        good.headers), now=NOW)
    assert "does not match" in refused(tampered_body)
    other_url = request(BODY, dict(good.headers), url=URL + "?x=1", now=NOW)
    assert "does not match" in refused(other_url)
    moved = request(BODY, {**good.headers, TIMESTAMP_HEADER: str(int(NOW) + 1)}, now=NOW)
    assert "does not match" in refused(moved)
    assert "does not match" in refused(signed(key="another-key"))


def test_signature_and_timestamp_must_both_be_there_and_well_formed() -> None:
    stamp = str(int(NOW))
    assert "missing messagebird-signature" in refused(request(BODY, {TIMESTAMP_HEADER: stamp}))
    assert "missing messagebird-request-timestamp" in refused(
        request(BODY, {SIGNATURE_HEADER: by_hand(KEY, stamp, URL, BODY)}))
    assert "not base64" in refused(request(BODY, {SIGNATURE_HEADER: "%%%",
                                                  TIMESTAMP_HEADER: stamp}))
    assert "not base64" in refused(request(BODY, {SIGNATURE_HEADER: "é" * 10,
                                                  TIMESTAMP_HEADER: stamp}))
    assert "not a timestamp" in refused(request(BODY, {SIGNATURE_HEADER: "AAAA",
                                                       TIMESTAMP_HEADER: "yesterday"}))


@pytest.mark.parametrize("offset", [-WINDOW - 1, WINDOW + 1, -86400])
def test_a_timestamp_outside_the_window_is_refused(offset: float) -> None:
    # Signed correctly, but at another time: a replay of an old request, or a clock off.
    req = signed(stamp=str(int(NOW + offset)))
    assert "away from now" in refused(req)


@pytest.mark.parametrize("offset", [-WINDOW, WINDOW, 0])
def test_a_timestamp_inside_the_window_passes(offset: float) -> None:
    verify(CONFIGURED, signed(stamp=str(int(NOW + offset))))


def test_the_same_signature_twice_is_a_replay() -> None:
    verify(CONFIGURED, signed())
    assert "replayed" in refused(signed())
    verify(CONFIGURED, signed(stamp=str(int(NOW) + 1)))  # a new delivery: a new signature


@pytest.mark.parametrize("stamp", ["1700000000", "1700000000123", "1700000000.5",
                                   "2023-11-14T22:13:20Z", "2023-11-14T22:13:20.123+00:00"])
def test_timestamp_formats(stamp: str) -> None:
    seconds = timestamp_seconds(stamp)
    assert seconds is not None and abs(seconds - NOW) < 1
    verify(CONFIGURED, signed(stamp=stamp))


def test_without_a_signing_key_every_callback_is_refused() -> None:
    unset = BirdSettings(workspace_id=WS, channel_id=CH)
    assert "bird.signing_key" in refused(signed(), unset)
    assert "bird.signing_key" in refused(signed(), unset.model_copy(
        update={"signing_key": SecretStr("")}))


def test_the_url_safe_alphabet_is_read_too() -> None:
    good = signed()
    urlsafe = good.headers[SIGNATURE_HEADER].replace("+", "-").replace("/", "_").rstrip("=")
    if urlsafe == good.headers[SIGNATURE_HEADER]:
        pytest.skip("this signature has no character that differs")
    verify(CONFIGURED, request(BODY, {**good.headers, SIGNATURE_HEADER: urlsafe}, now=NOW))


def test_replay_guard_is_bounded() -> None:
    guard = ReplayGuard(size=2)
    assert guard.first_time("a", 10, 0) and guard.first_time("b", 20, 0)
    assert not guard.first_time("a", 10, 0)
    assert guard.first_time("c", 30, 0) and len(guard) == 2  # "a" (soonest) forgotten
    assert guard.first_time("a", 40, 35)  # expired ones are dropped


# Parsing: shapes and statuses ----------------------------------------------------------


def test_the_202_sample_as_a_callback_is_an_outbound_call_initiated() -> None:
    event = one(sample("seed_create_call_202_response.json"))
    assert isinstance(event, CallInitiated)
    assert (event.call_id, event.direction, event.from_, event.to) == (
        CALL, Direction.OUTBOUND, "+3197058016631", "+351910648517")
    assert event.occurred_at is not None and event.occurred_at.year == 2024
    assert event.raw == sample("seed_create_call_202_response.json")


def test_the_schema_example_as_a_callback() -> None:
    events = events_of(sample("seed_call_object_schema_example.json"))
    assert [type(e) for e in events] == [CallInitiated, MachineDetected]
    initiated, machine = events
    assert isinstance(initiated, CallInitiated) and isinstance(machine, MachineDetected)
    assert (initiated.direction, initiated.tag, machine.result) == (
        Direction.INBOUND, "text", "human")


def test_the_subscription_sample_is_no_event_and_its_key_is_masked() -> None:
    event = one(sample("webhook_subscription_voice_inbound.json"))
    assert isinstance(event, UnknownEvent)
    assert event.provider_type == "voice.inbound"
    assert event.raw["signingKey"] == "***" and "mysecretkey" not in json.dumps(event.raw)


@pytest.mark.parametrize(("status", "kind"), [
    ("accepted", CallInitiated), ("starting", CallInitiated), ("ringing", CallRinging),
    ("ongoing", CallAnswered), ("completed", CallCompleted), ("no-answer", CallCompleted),
    ("busy", CallCompleted), ("failed", CallFailed), ("canceled", CallCompleted),
])
def test_every_status_maps(status: str, kind: type[BaseEvent]) -> None:
    event = one(status_of(status))
    assert type(event) is kind and event.call_id == CALL


def test_envelope_and_bare_call_give_the_same_events() -> None:
    call = status_of("ringing", ringingAt="2024-02-29T11:44:09.12Z")
    bare = one(call)
    wrapped = one({"service": "channels", "event": "voice.outbound", "payload": call})
    typed = one({"type": "voice.outbound", "payload": call})
    assert bare.id == wrapped.id == typed.id
    assert isinstance(wrapped, CallRinging)
    assert wrapped.occurred_at is not None and wrapped.occurred_at.second == 9
    assert wrapped.raw["event"] == "voice.outbound"


def test_ids_are_stable_per_call_and_stage() -> None:
    accepted = one(status_of("accepted"))
    starting = one(status_of("starting", updatedAt="2024-02-29T11:44:08Z"))
    assert accepted.id == starting.id  # one call is initiated once: a duplicate by design
    redelivered = one(copy.deepcopy(status_of("ongoing")))
    assert redelivered.id == one(status_of("ongoing")).id
    assert len({one(status_of(s)).id for s in ("accepted", "ringing", "ongoing",
                                                "completed")}) == 4
    other_call = one(status_of("ongoing", id="another"))
    assert other_call.id != redelivered.id


def test_how_a_call_ended() -> None:
    talked = one(status_of("completed", direction="outgoing", hangupSource="callee",
                           answeredAt="2024-02-29T11:44:15.5Z",
                           endedAt="2024-02-29T11:44:57.5Z"))
    assert isinstance(talked, CallCompleted)
    assert (talked.end_reason, talked.end_reason_raw, talked.duration) == (
        EndReason.CALLEE_HANGUP, "completed", 42.0)
    assert talked.occurred_at is not None and talked.occurred_at.second == 57
    flow_end = one(status_of("completed", duration=12))
    assert isinstance(flow_end, CallCompleted)
    assert (flow_end.end_reason, flow_end.duration) == (EndReason.HANGUP, 12.0)
    for status, reason in (("no-answer", EndReason.NO_ANSWER), ("busy", EndReason.BUSY),
                           ("NO_ANSWER", EndReason.NO_ANSWER)):
        event = one(status_of(status, duration=30))
        assert isinstance(event, CallCompleted)
        assert (event.end_reason, event.duration) == (reason, 0.0)
    failed = one(status_of("failed", reason="number unreachable"))
    assert isinstance(failed, CallFailed) and failed.reason == "number unreachable"
    bare_failure = one(status_of("failed", reason=None))
    assert isinstance(bare_failure, CallFailed) and bare_failure.reason == "failed"


def test_direction_when_the_call_does_not_say() -> None:
    call = status_of("starting")
    del call["direction"]
    inbound = one({"event": "voice.inbound", "payload": call})
    assert isinstance(inbound, CallInitiated) and inbound.direction is Direction.INBOUND
    nothing = one(call)
    assert isinstance(nothing, CallInitiated) and nothing.direction is Direction.UNKNOWN
    accepted = one({**call, "status": "accepted"})
    assert isinstance(accepted, CallInitiated) and accepted.direction is Direction.OUTBOUND


def test_unknown_statuses_and_shapes_are_unknown_events() -> None:
    odd = one(status_of("teleporting"))
    assert isinstance(odd, UnknownEvent) and odd.provider_type == "status:teleporting"
    assert odd.id == one(status_of("teleporting")).id  # a redelivery collapses
    named = one({"event": "voice.outbound", "payload": status_of("teleporting")})
    assert isinstance(named, UnknownEvent) and named.provider_type == "voice.outbound"
    no_status = one({"event": "voice.outbound", "payload": {"id": CALL}})
    other = one({"event": "voice.outbound", "payload": {"id": CALL, "x": 1}})
    assert isinstance(no_status, UnknownEvent) and no_status.id != other.id
    assert isinstance(one({"hello": "world"}), UnknownEvent)


def test_the_tag_is_the_calls_first() -> None:
    event = one(status_of("ongoing", tags=["uv-0a1b", "vip"]))
    assert event.tag == "uv-0a1b"


def test_events_survive_the_store() -> None:
    for payload in (status_of("completed", duration=3), sample(
            "seed_call_object_schema_example.json"), {"hello": "world"}):
        for event in events_of(payload):
            assert stored(event) == event


@pytest.mark.parametrize(("body", "reason"), [
    (b"", "empty body"),
    (b"not json", "not JSON"),
    (b"[1, 2]", "not an array"),
    (b'"text"', "not a string"),
    (b"null", "not null"),
    (b'{"status": NaN}', "not JSON"),
    (b'{"duration": 1e999}', "out of range"),
    (b'{"id": "\\ud800"}', "lone surrogate"),
    (b"[" * 50 + b"]" * 50, "nested deeper"),
    (b'{"a":' * 13 + b"1" + b"}" * 13, "nested deeper"),
    (b" " * (256 * 1024 + 1), "larger than"),
])
def test_bad_bodies_are_400(body: bytes, reason: str) -> None:
    with pytest.raises(WebhookRejected) as info:
        parse(request(body))
    assert info.value.status == 400 and reason in info.value.reason


def test_deep_but_allowed_bodies_parse() -> None:
    call = sample("seed_call_object_schema_example.json")  # 6 levels, with conditions
    assert [type(e) for e in events_of({"event": "voice.inbound", "payload": call})] == [
        CallInitiated, MachineDetected]


# Fuzz: arbitrary JSON never raises anything but WebhookRejected ---------------------------

FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])
SCALARS = (st.none() | st.booleans() | st.integers() | st.floats(allow_nan=False,
                                                                  allow_infinity=False)
           | st.text(max_size=20))
JSON = st.recursive(SCALARS, lambda inner: st.lists(inner, max_size=4)
                    | st.dictionaries(st.text(max_size=10), inner, max_size=4), max_leaves=20)
STATUS = st.sampled_from(["accepted", "starting", "ringing", "ongoing", "completed",
                          "no-answer", "busy", "failed", "canceled", "text", ""]) | JSON
TIMES = st.sampled_from(["2024-02-29T11:44:07.74Z", "0001-01-01T00:00:00Z", "x", ""]) | JSON
CALLS = st.fixed_dictionaries({"id": st.text(max_size=8) | JSON, "status": STATUS}, optional={
    "direction": st.sampled_from(["incoming", "outgoing"]) | JSON, "from": JSON, "to": JSON,
    "answeredAt": TIMES, "endedAt": TIMES, "createdAt": TIMES, "updatedAt": TIMES,
    "duration": JSON, "hangupSource": JSON, "tags": JSON, "amdResult": JSON,
    "originator": JSON, "reason": JSON})


def _never_raises_but_rejected(payload: Any) -> None:
    try:
        found = parse(request(json.dumps(payload).encode()))
    except WebhookRejected:
        return
    for event in found:
        assert stored(event) == event


@FUZZ
@given(payload=JSON)
def test_arbitrary_json_never_raises_anything_but_rejected(payload: Any) -> None:
    _never_raises_but_rejected(payload)


@FUZZ
@given(call=CALLS, wrap=st.booleans(), label=JSON)
def test_arbitrary_call_objects_never_raise(call: dict[str, Any], wrap: bool,
                                            label: Any) -> None:
    _never_raises_but_rejected({"event": label, "payload": call} if wrap else call)


@FUZZ
@given(body=st.binary(max_size=200))
def test_arbitrary_bytes_never_raise_anything_but_rejected(body: bytes) -> None:
    status = 200
    try:
        parse(request(body))
    except WebhookRejected as rejected:
        status = rejected.status
    assert status in (200, 400)


@FUZZ
@given(signature=st.text(max_size=100), stamp=st.text(max_size=40))
def test_arbitrary_headers_never_raise_anything_but_rejected(signature: str,
                                                             stamp: str) -> None:
    with pytest.raises(WebhookRejected):
        verify(CONFIGURED, request(BODY, {SIGNATURE_HEADER: signature,
                                          TIMESTAMP_HEADER: stamp}))


# Through the webhook app ----------------------------------------------------------------


def test_the_webhook_app_verifies_parses_and_deduplicates() -> None:
    public = "https://voice.example.com"
    url = f"{public}/univoice/bird/events"
    app = VoiceApp(public_url=public, store="sqlite://:memory:",
                   providers=[BirdProvider(CONFIGURED)])
    seen: list[BaseEvent] = []
    app.on()(seen.append)
    body = json.dumps(status_of("ongoing")).encode()
    try:
        # The app sits behind a proxy: the signature covers the public URL.
        with TestClient(app, base_url="http://internal:8080") as client:
            def post(headers: dict[str, str]) -> int:
                response = client.post("/univoice/bird/events", content=body,
                                       headers={"content-type": "application/json",
                                                **headers})
                return response.status_code

            now = int(time.time())
            assert post(sign(KEY, url, body, now)) == 200
            assert post(sign(KEY, url, body, now + 1)) == 200  # Bird delivers it again
            assert post({}) == 401
            assert post(sign("wrong-key", url, body, now + 2)) == 401
    finally:
        app.store.close()
    assert [type(e) for e in seen] == [CallAnswered]  # once, though delivered twice
