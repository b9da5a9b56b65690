"""Bandwidth callbacks -> neutral events, and their HTTP Basic verification."""

from __future__ import annotations

import base64
import json
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import urlencode

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st

from univoice.events import (
    BaseEvent,
    CallAnswered,
    CallCompleted,
    CallFailed,
    CallInitiated,
    ConferenceCompleted,
    ConferenceCreated,
    ConferenceMemberJoined,
    ConferenceMemberLeft,
    DigitsGathered,
    MachineDetected,
    RecordingAvailable,
    RecordingCompleted,
    TranscriptionAvailable,
    TransferAnswered,
    TransferCompleted,
    TransferLegEnded,
    UnknownEvent,
    digest,
    event_from_json,
)
from univoice.models import Direction, EndReason
from univoice.store.base import dump
from univoice.webhooks.request import WebhookRejected, WebhookRequest
from univoice_bandwidth.events import parse, verify
from univoice_bandwidth.settings import BandwidthSettings

SAMPLES = (Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples"
           / "bandwidth" / "callbacks")
URL = "https://voice.example.com/univoice/bandwidth/events"
CALL = "c-95ac8d6e-1a31c52e-b38f-4198-93c1-51633ec68f8d"
CONF = "conf-59082d52-4a2ab5be-ce26-43ed-af94-431b8a19d4e3"
REC = "r-115da407-e3d9-4ea7-889f-5f4ad7386a80"
USER = "univoice-cb"
PASSWORD = "cb-S3cret/pass+word=42"  # "/", "+", "=" so its encoded forms differ


# Helpers --------------------------------------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text("utf-8"))
    return data


def post(body: bytes | dict[str, Any] | list[Any], headers: dict[str, str] | None = None
         ) -> WebhookRequest:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    return WebhookRequest(method="POST", url=URL, path="/univoice/bandwidth/events",
                          query={}, headers={"content-type": "application/json",
                                             **(headers or {})}, body=raw)


def get(query: dict[str, str]) -> WebhookRequest:
    return WebhookRequest(method="GET", url=f"{URL}?{urlencode(query, errors='surrogatepass')}",
                          path="/univoice/bandwidth/events", query=query, headers={}, body=b"")


def outcome(request: WebhookRequest) -> list[BaseEvent] | WebhookRejected:
    """The events, or the rejection: any other exception fails the test."""
    try:
        return parse(request)
    except WebhookRejected as exc:
        return exc


def one(payload: dict[str, Any]) -> BaseEvent:
    events = parse(post(payload))
    assert len(events) == 1, events
    return events[0]


def rejected(request: WebhookRequest, status: int = 400) -> WebhookRejected:
    with pytest.raises(WebhookRejected) as info:
        parse(request)
    assert info.value.status == status
    assert "\n" not in info.value.reason
    return info.value


def check_common(event: BaseEvent, payload: dict[str, Any]) -> None:
    assert event.provider == "bandwidth"
    assert event.raw == payload
    assert event.id.startswith("bandwidth:sha256:")
    stored(event)


def stored(event: BaseEvent) -> None:
    """What the webhook app hands the store must be storable and rebuild the event."""
    data = event.model_dump(mode="json", by_alias=True)
    dump(data, "event").encode()  # strict JSON, UTF-8: no NaN, no lone surrogate
    assert event_from_json(data) == event


# Every documented sample ----------------------------------------------------------------

ANSWERED_AT = datetime(2019, 6, 20, 15, 54, 25, 435000, tzinfo=UTC)
CONF_AT = datetime(2019, 7, 31, 13, 16, 1, 324000, tzinfo=UTC)
CONFERENCE = {"conference_id": CONF, "name": "thisConference", "tag": "conferenceTag"}
RECORDING = {"recording_id": REC, "duration": 20.056, "format": "wav", "call_id": CALL,
             "media_url": "https://../{accountId}/calls/{callId-1}/recordings/{recordingId}"
                          "/media",
             # eventTime without "Z": read as UTC, as Bandwidth reports.
             "occurred_at": datetime(2019, 9, 13, 16, 49, 40, 500000, tzinfo=UTC)}
EXPECTED: dict[str, tuple[type[BaseEvent], dict[str, Any]]] = {
    "answer.json": (CallAnswered, {"call_id": CALL, "tag": None, "occurred_at": ANSWERED_AT}),
    "answer_tag.json": (CallAnswered, {"call_id": CALL, "tag": "example-tag"}),
    "initiate_diversion.json": (CallInitiated, {
        "direction": Direction.INBOUND, "from_": "+15551112222", "to": "+15553334444",
        "call_id": CALL}),
    "gather_terminating.json": (DigitsGathered, {
        "digits": "123", "terminated_by": "#", "call_id": CALL,
        "occurred_at": datetime(2019, 6, 20, 15, 56, 11, 554000, tzinfo=UTC)}),
    "gather_enqueued.json": (DigitsGathered, {"digits": "123", "terminated_by": "#"}),
    "recordComplete.json": (RecordingCompleted, {
        "recording_id": REC, "duration": 20.056, "call_id": CALL}),
    "recordingAvailable.json": (RecordingAvailable, RECORDING),
    # The malformed enqueuedTime is tolerated (and not needed).
    "recordingAvailable_enqueued.json": (RecordingAvailable, RECORDING),
    "transcriptionAvailable.json": (TranscriptionAvailable, {
        "recording_id": REC, "transcription_id": "t-1a68a908-544f-48ae-b30d-d1747dca3723",
        "text": None, "call_id": CALL}),
    # B-leg events name the original call: call_id is the parent's.
    "transferAnswer.json": (TransferAnswered, {
        "target": "+15556667777", "call_id": "c-2a913f94-6a486f3a-3cae-4034-bcc3-f0c9fa77ca2f"}),
    "transferComplete_hangup.json": (TransferCompleted, {
        "target": "+15556667777", "cause": "hangup", "call_id": CALL}),
    # No accountId/applicationId in this documented example: still parsed.
    "transferDisconnect_hangup.json": (TransferLegEnded, {
        "target": "+15556667777", "cause": "hangup",
        "call_id": "c-95ac8d6e-2c7ae496-7558-47a4-b291-4f02a3ca6942"}),
    "redirect.json": (UnknownEvent, {"provider_type": "redirect", "call_id": CALL}),
    "redirect_tag.json": (UnknownEvent, {"provider_type": "redirect", "tag": "example-tag"}),
    "conferenceMemberJoin.json": (ConferenceMemberJoined, {**CONFERENCE, "call_id": CALL}),
    "conferenceMemberExit.json": (ConferenceMemberLeft, {**CONFERENCE, "call_id": CALL}),
    "conferenceCompleted.json": (ConferenceCompleted, {
        **CONFERENCE, "call_id": None, "occurred_at": CONF_AT}),
    # The doc page of conferenceCreated labels its example conferenceCompleted: the
    # label is what is dispatched on.
    "conferenceCreated_doc_mislabeled.json": (ConferenceCompleted, {
        **CONFERENCE, "call_id": None}),
}


def test_every_sample_is_covered() -> None:
    assert SAMPLES.is_dir(), f"samples missing: {SAMPLES}"
    assert {p.name for p in SAMPLES.glob("*.json")} == set(EXPECTED)


@pytest.mark.parametrize("name", sorted(EXPECTED))
def test_sample_becomes_its_neutral_event(name: str) -> None:
    payload = sample(name)
    kind, fields = EXPECTED[name]
    event = one(payload)
    assert type(event) is kind
    check_common(event, payload)
    assert event.occurred_at is not None and event.occurred_at.tzinfo is not None
    for field, value in fields.items():
        assert getattr(event, field) == value, field


def test_sample_ids_are_distinct_unless_the_payload_is_the_same() -> None:
    by_payload: dict[str, str] = {}
    for path in sorted(SAMPLES.glob("*.json")):
        payload = sample(path.name)
        by_payload[json.dumps(payload, sort_keys=True)] = one(payload).id
    assert len(set(by_payload.values())) == len(by_payload)
    # The mislabeled doc example is byte-for-byte another callback: the same event.
    assert one(sample("conferenceCreated_doc_mislabeled.json")).id == one(
        sample("conferenceCompleted.json")).id


# Event types without a sample (fields from the spec) ------------------------------------


def call_event(event_type: str, **fields: Any) -> dict[str, Any]:
    base = {k: v for k, v in sample("answer.json").items() if k != "eventType"}
    return {"eventType": event_type, **base, **fields}


END = "2019-06-20T15:55:25.932Z"  # 60.5 s after answerTime


# The same words as REST call states (vocab): cancel = our side gave up while it rang
# (as the simulator), rejected = declined, heard as busy.
@pytest.mark.parametrize(("cause", "reason"), [
    ("hangup", EndReason.HANGUP), ("busy", EndReason.BUSY), ("timeout", EndReason.NO_ANSWER),
    ("cancel", EndReason.HANGUP), ("rejected", EndReason.BUSY),
    ("some-new-cause", EndReason.UNKNOWN)])
def test_disconnect_is_call_completed(cause: str, reason: EndReason) -> None:
    payload = call_event("disconnect", endTime=END, cause=cause)
    event = one(payload)
    assert isinstance(event, CallCompleted)
    assert (event.end_reason, event.end_reason_raw, event.duration) == (reason, cause, 60.5)
    check_common(event, payload)


@pytest.mark.parametrize("cause", ["callback-error", "invalid-bxml", "application-error",
                                   "account-limit", "node-capacity-exceeded", "error",
                                   "unknown"])
def test_disconnect_with_an_error_cause_is_call_failed(cause: str) -> None:
    payload = call_event("disconnect", endTime=END, cause=cause,
                         errorMessage="bad BXML", errorId="e-1")
    event = one(payload)
    assert isinstance(event, CallFailed)
    assert event.reason == cause
    assert event.raw["errorMessage"] == "bad BXML"


def test_disconnect_durations() -> None:
    never_answered = call_event("disconnect", endTime=END, cause="timeout")
    del never_answered["answerTime"]
    event = one(never_answered)
    assert isinstance(event, CallCompleted) and event.duration == 0.0
    no_end = one(call_event("disconnect", cause="hangup"))
    assert isinstance(no_end, CallCompleted) and no_end.duration is None
    backwards = one(call_event("disconnect", cause="hangup", endTime="2019-06-20T15:00:00Z"))
    assert isinstance(backwards, CallCompleted) and backwards.duration is None
    no_cause = one(call_event("disconnect", endTime=END))
    assert isinstance(no_cause, CallCompleted)
    assert (no_cause.end_reason, no_cause.end_reason_raw) == (EndReason.UNKNOWN, None)


@pytest.mark.parametrize(("value", "result"), [
    ("answering-machine", "machine"), ("human", "human"), ("silence", "unknown"),
    ("timeout", "unknown"), ("error", "unknown"), ("something-new", "unknown")])
def test_machine_detection_complete(value: str, result: str) -> None:
    payload = call_event("machineDetectionComplete",
                         machineDetectionResult={"value": value, "duration": "PT4.9891287S"})
    event = one(payload)
    assert isinstance(event, MachineDetected)
    assert (event.result, event.call_id) == (result, CALL)


def test_answer_with_sync_machine_detection_gives_two_events() -> None:
    payload = call_event("answer", machineDetectionResult={"value": "answering-machine",
                                                           "duration": "PT4.9891287S"})
    answered, detected = parse(post(payload))
    assert isinstance(answered, CallAnswered) and isinstance(detected, MachineDetected)
    assert detected.result == "machine" and detected.call_id == CALL
    assert answered.id != detected.id  # both are stored, neither is a "duplicate"
    assert parse(post(payload)) == [answered, detected]
    assert len(parse(post(call_event("answer", machineDetectionResult=None)))) == 1


def test_gather_without_digits_is_a_timeout() -> None:
    event = one(call_event("gather", digits="", terminatingDigit=""))
    assert isinstance(event, DigitsGathered)
    assert (event.digits, event.terminated_by) == ("", "timeout")


def test_gather_digits_without_a_finish_key_do_not_claim_a_cause() -> None:
    event = one(call_event("gather", digits="42", terminatingDigit=""))
    assert isinstance(event, DigitsGathered)
    assert (event.digits, event.terminated_by) == ("42", None)


def test_gather_strips_a_finish_key_reported_inside_digits() -> None:
    event = one(call_event("gather", digits="123#", terminatingDigit="#"))
    assert isinstance(event, DigitsGathered)
    assert (event.digits, event.terminated_by) == ("123", "#")


def test_gather_on_a_transfer_leg_keeps_its_own_call() -> None:
    event = one(call_event("gather", digits="1", terminatingDigit="",
                           parentCallId="c-parent", transferTo="+15556667777"))
    assert event.call_id == CALL


def test_dtmf_is_one_digit_gathered() -> None:
    event = one(call_event("dtmf", digit="7", parentCallId="c-parent"))
    assert isinstance(event, DigitsGathered)
    assert (event.digits, event.terminated_by, event.call_id) == ("7", None, CALL)


@pytest.mark.parametrize("event_type", ["recordComplete", "recordingComplete"])
def test_record_complete_either_spelling(event_type: str) -> None:
    event = one(call_event(event_type, recordingId=REC, duration="PT1M2.5S"))
    assert isinstance(event, RecordingCompleted)
    assert (event.recording_id, event.duration) == (REC, 62.5)


@pytest.mark.parametrize(("duration", "seconds"), [
    ("PT13.67S", 13.67), ("PT1H", 3600.0), ("P1DT1S", 86401.0), ("pt2m", 120.0),
    (12.5, 12.5), ("7", None), ("PT", None), ("P", None), ("13 seconds", None), (-3, None),
    (True, None), ({"s": 1}, None), ("PT" + "9" * 400 + "S", None),
    pytest.param(10**400, None, id="huge-int"), (1e308, 1e308)])
def test_recording_duration_parsing(duration: Any, seconds: float | None) -> None:
    event = one(call_event("recordingAvailable", recordingId=REC, duration=duration,
                           status="complete"))
    assert isinstance(event, RecordingAvailable) and event.duration == seconds


@pytest.mark.parametrize("status", ["error", "deleted", "processing"])
def test_recording_not_available_is_not_recording_available(status: str) -> None:
    event = one({**sample("recordingAvailable.json"), "status": status})
    assert isinstance(event, UnknownEvent) and event.provider_type == "recordingAvailable"


@pytest.mark.parametrize("status", ["error", "timeout", "file-size-too-big"])
def test_transcription_failure_is_not_transcription_available(status: str) -> None:
    payload = sample("transcriptionAvailable.json")
    payload["transcription"]["status"] = status
    event = one(payload)
    assert isinstance(event, UnknownEvent)
    assert event.provider_type == "transcriptionAvailable"


def test_transcription_text_of_the_spec_shape_is_kept() -> None:
    payload = {**sample("transcriptionAvailable.json"),
               "transcription": {"text": "Nice talking to you, friend!", "confidence": 0.9}}
    event = one(payload)
    assert isinstance(event, TranscriptionAvailable)
    assert (event.text, event.transcription_id) == ("Nice talking to you, friend!", None)


def test_conference_recording_available() -> None:
    payload = {"eventType": "conferenceRecordingAvailable", "eventTime": "2019-07-31T13:20:00Z",
               "conferenceId": CONF, "name": "thisConference", "accountId": "55555555",
               "recordingId": REC, "channels": 1, "startTime": "2019-07-31T13:16:01.324Z",
               "endTime": "2019-07-31T13:19:00.000Z", "duration": "PT178.676S",
               "fileFormat": "mp3", "mediaUrl": "https://voice.example/media",
               "status": "complete", "tag": "conferenceTag"}
    event = one(payload)
    assert isinstance(event, RecordingAvailable)
    assert (event.recording_id, event.duration, event.format, event.call_id) == (
        REC, 178.676, "mp3", None)


def test_conference_created_by_its_own_label() -> None:
    payload = {**sample("conferenceCompleted.json"), "eventType": "conferenceCreated"}
    event = one(payload)
    assert isinstance(event, ConferenceCreated)
    assert (event.conference_id, event.name) == (CONF, "thisConference")


@pytest.mark.parametrize(("event_type", "fields", "cause"), [
    ("bridgeComplete", {"cause": "hangup"}, "hangup"),
    ("bridgeComplete", {"cause": "timeout"}, "no_answer"),
    ("bridgeComplete", {"cause": "error", "errorMessage": "x"}, "failed"),
    ("bridgeTargetComplete", {}, None),
    ("transferComplete", {"cause": "busy"}, "busy"),
    ("transferDisconnect", {"cause": "cancel"}, "hangup"),
    ("transferDisconnect", {"cause": "new-cause"}, "new-cause")])
def test_bridge_and_transfer_ends_are_transfer_completed(
        event_type: str, fields: dict[str, Any], cause: str | None) -> None:
    event = one(call_event(event_type, **fields))
    # A transfer's outcome is one TransferCompleted; each rung leg's end is a leg event.
    kind = TransferLegEnded if event_type == "transferDisconnect" else TransferCompleted
    assert isinstance(event, kind)
    assert (event.cause, event.call_id) == (cause, CALL)


@pytest.mark.parametrize("event_type", ["conferenceRedirect", "mediaStreamStarted",
                                        "somethingNew"])
def test_other_event_types_are_unknown_events(event_type: str) -> None:
    payload = {**sample("conferenceCompleted.json"), "eventType": event_type}
    event = one(payload)
    assert isinstance(event, UnknownEvent) and event.provider_type == event_type
    check_common(event, payload)


def test_initiate_direction_defaults_to_inbound() -> None:
    payload = {**sample("initiate_diversion.json"), "direction": 7}
    event = one(payload)
    assert isinstance(event, CallInitiated) and event.direction is Direction.INBOUND


# The GET form ---------------------------------------------------------------------------


def test_get_callback_reads_the_query() -> None:
    payload = sample("gather_terminating.json")
    query = {k: str(v) for k, v in payload.items()}
    (event,) = parse(get(query))
    assert isinstance(event, DigitsGathered)
    assert (event.digits, event.terminated_by, event.call_id) == ("123", "#", CALL)
    assert event.raw == query
    assert parse(get(query))[0].id == event.id


@pytest.mark.parametrize("encoded", [
    {"machineDetectionResult": '{"value": "answering-machine", "duration": "PT1S"}'},
    {"machineDetectionResult.value": "answering-machine"},
    {"machineDetectionResult[value]": "answering-machine"},
    {"machineDetectionResult": "answering-machine"}])
def test_get_callback_nested_fields(encoded: dict[str, str]) -> None:
    query = {"eventType": "machineDetectionComplete", "callId": CALL,
             "eventTime": "2019-06-20T15:54:25.435Z", **encoded}
    (event,) = parse(get(query))
    assert isinstance(event, MachineDetected) and event.result == "machine"


def test_get_without_parameters_is_refused() -> None:
    rejected(get({}))
    rejected(get({"eventType": "answer", "callId": "c-\ud800"}))


def test_post_with_empty_body_and_fields_in_query_is_read() -> None:
    request = WebhookRequest(method="POST", url=URL, path="/", headers={}, body=b"",
                             query={"eventType": "redirect", "callId": CALL})
    (event,) = parse(request)
    assert isinstance(event, UnknownEvent) and event.call_id == CALL


# Ids ------------------------------------------------------------------------------------


def test_redelivery_has_the_same_id() -> None:
    payload = sample("gather_terminating.json")
    compact = json.dumps(payload, separators=(",", ":")).encode()
    reordered = json.dumps(dict(reversed(list(payload.items()))), indent=4).encode()
    first, again = parse(post(compact))[0], parse(post(reordered))[0]
    assert first.id == again.id == digest("bandwidth", payload)


def test_two_gathers_on_one_call_have_different_ids() -> None:
    payload = sample("gather_terminating.json")
    later = {**payload, "eventTime": "2019-06-20T15:56:19.001Z"}
    other_digits = {**payload, "digits": "124"}
    ids = {one(payload).id, one(later).id, one(other_digits).id}
    assert len(ids) == 3


# Timestamps and field types -------------------------------------------------------------


@pytest.mark.parametrize(("value", "expected"), [
    ("2019-06-20T15:54:25.435Z", ANSWERED_AT),
    ("2019-06-20T15:54:25.435", ANSWERED_AT),
    ("2019-06-20T17:54:25.435+02:00", ANSWERED_AT),
    ("2019-06-20T15:54:25.435123456Z", datetime(2019, 6, 20, 15, 54, 25, 435123, tzinfo=UTC)),
    ("20-06-2019 15:54", None), ("", None), ("2019-13-45T99:99:99Z", None), (1561046065, None),
    (None, None), (["2019-06-20"], None), ("2" * 100, None)])
def test_event_time_is_read_tolerantly(value: Any, expected: datetime | None) -> None:
    event = one({**sample("answer.json"), "eventTime": value})
    assert event.occurred_at == expected


def test_wrong_field_types_are_tolerated() -> None:
    payload = call_event("gather", digits=123, terminatingDigit=["#"], callId={"id": 1},
                         tag=False, **{"from": 15551112222})
    event = one(payload)
    assert isinstance(event, DigitsGathered)
    assert (event.digits, event.terminated_by, event.call_id, event.tag) == (
        "123", None, None, None)
    amd = one(call_event("machineDetectionComplete", machineDetectionResult=["human"]))
    assert isinstance(amd, MachineDetected) and amd.result == "unknown"
    transcription = one(call_event("transcriptionAvailable", transcription="n/a"))
    assert isinstance(transcription, TranscriptionAvailable)
    conference = one({"eventType": "conferenceMemberJoin", "conferenceId": 12, "name": None})
    assert isinstance(conference, ConferenceMemberJoined)
    assert (conference.conference_id, conference.name) == ("12", None)


def test_secret_looking_fields_are_redacted_in_raw() -> None:
    payload = call_event("redirect", password="hunter2-long", apiToken="tok_abcdef")
    event = one(payload)
    assert event.raw["password"] == "***" and event.raw["apiToken"] == "***"
    assert "hunter2-long" not in event.model_dump_json()


# Bad input ------------------------------------------------------------------------------


@pytest.mark.parametrize("body", [
    b"not json", b"{", b"\xff\xfe\x00", b"", b'{"eventType": "answer", "x": NaN}',
    b'{"eventType": "answer", "x": -Infinity}', b'{"eventType": "answer", "x": 1e999}',
    b'{"eventType": "answer", "callId": "c-\\ud800"}', b'{"eventType": "\\udfff"}',
    b'{"eventType": "answer", "n": ' + b"9" * 5000 + b"}"])
def test_non_json_is_refused(body: bytes) -> None:
    rejected(post(body))


@pytest.mark.parametrize("body", [[], [{"eventType": "answer"}], "answer", 42, None])
def test_non_object_json_is_refused(body: Any) -> None:
    reason = rejected(post(json.dumps(body).encode())).reason
    assert "JSON object" in reason


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"eventType": "answer", "x": ' + b"[" * 50 + b"]" * 50 + b"}",
    json.dumps({"eventType": "answer", "a": {"b": {"c": {"d": {"e": {"f": {"g": {"h": {
        "i": 1}}}}}}}}}).encode()])
def test_deeply_nested_json_is_refused(body: bytes) -> None:
    assert "nested" in rejected(post(body)).reason


def test_brackets_inside_strings_are_not_nesting() -> None:
    event = one(call_event("redirect", note="[[[[[[[[[[{{{{{{{{{{\\\"[[[[[["))
    assert isinstance(event, UnknownEvent)


def test_huge_body_is_refused() -> None:
    body = json.dumps(call_event("redirect", pad="x" * 300_000)).encode()
    assert "larger" in rejected(post(body)).reason


@pytest.mark.parametrize("event_type", [None, "", "  ", 7, ["answer"], {"v": "answer"}])
def test_missing_or_wrong_event_type_is_refused(event_type: Any) -> None:
    payload = call_event("answer")
    if event_type is None:
        del payload["eventType"]
    else:
        payload["eventType"] = event_type
    assert "eventType" in rejected(post(payload)).reason


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(10**300, 10**400)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
KEYS = st.sampled_from([
    "eventTime", "callId", "parentCallId", "tag", "from", "to", "direction", "digits",
    "digit", "terminatingDigit", "cause", "startTime", "answerTime", "endTime", "duration",
    "recordingId", "mediaUrl", "fileFormat", "status", "transcription", "conferenceId",
    "name", "machineDetectionResult", "machineDetectionResult.value", "transferTo"])
EVENT_TYPES = st.sampled_from([
    "initiate", "answer", "gather", "dtmf", "redirect", "recordComplete", "recordingComplete",
    "recordingAvailable", "transcriptionAvailable", "transferAnswer", "transferComplete",
    "transferDisconnect", "bridgeComplete", "bridgeTargetComplete", "conferenceCreated",
    "conferenceMemberJoin", "conferenceMemberExit", "conferenceRedirect",
    "conferenceCompleted", "conferenceRecordingAvailable", "disconnect",
    "machineDetectionComplete"]) | st.text(min_size=1, max_size=20)
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(event_type=EVENT_TYPES, fields=st.dictionaries(KEYS | st.text(max_size=10), JSON,
                                                      max_size=10))
def test_any_object_with_an_event_type_parses(event_type: str, fields: dict[str, Any]
                                              ) -> None:
    payload = {**fields, "eventType": event_type}
    events = outcome(post(payload))
    if not event_type.strip():
        assert isinstance(events, WebhookRejected) and events.status == 400
        return
    # Nesting is bounded by the strategy: every such object is tolerated.
    assert isinstance(events, list) and events
    for event in events:
        stored(event)
    assert parse(post(payload)) == events  # deterministic: same ids on redelivery


@FUZZ
@given(payload=JSON)
def test_any_json_gives_events_or_a_rejection(payload: Any) -> None:
    result = outcome(post(json.dumps(payload).encode()))
    assert isinstance(result, list) or result.status == 400


@FUZZ
@given(body=st.binary(max_size=200))
def test_any_bytes_give_events_or_a_rejection(body: bytes) -> None:
    result = outcome(post(body))
    assert isinstance(result, list) or result.status == 400


@FUZZ
@given(event_type=EVENT_TYPES, query=st.dictionaries(KEYS | st.text(max_size=10),
                                                     st.text(max_size=40), max_size=10))
def test_any_get_query_parses(event_type: str, query: dict[str, str]) -> None:
    events = outcome(get({**query, "eventType": event_type}))
    if not event_type.strip():
        assert isinstance(events, WebhookRejected)
        return
    assert isinstance(events, list) and events
    for event in events:
        stored(event)


# Verification ---------------------------------------------------------------------------


def bw_settings(**values: Any) -> BandwidthSettings:
    return BandwidthSettings(account_id="5551234", **values)


CONFIGURED = bw_settings(callback_username=USER, callback_password=PASSWORD)


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


def signed(authorization: str | None) -> WebhookRequest:
    return post(sample("answer.json"),
                {} if authorization is None else {"authorization": authorization})


def test_right_credentials_pass() -> None:
    verify(CONFIGURED, signed(basic(USER, PASSWORD)))
    verify(CONFIGURED, signed("basic  " + basic(USER, PASSWORD).split()[1] + " "))


def test_credentials_with_non_ascii_and_colons() -> None:
    odd = bw_settings(callback_username="zoë", callback_password="pa:ss:wörd")
    verify(odd, signed(basic("zoë", "pa:ss:wörd")))
    with pytest.raises(WebhookRejected):
        verify(odd, signed(basic("zoë:pa", "ss:wörd!")))


@pytest.mark.parametrize("authorization", [
    basic("someone", PASSWORD),                     # wrong user
    basic(USER, PASSWORD + "x"),                    # wrong password
    basic(USER, PASSWORD[:-1]),                     # a prefix of it
    basic(USER, ""),
    basic("", ""),
    None,                                           # no header
    "",
    "Bearer " + base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode(),  # not Basic
    f"Basic {USER}:{PASSWORD}",                     # not base64
    "Basic !!!!",
    "Basic ",
    "Basic",
    "Basic dXNlcjpwYXNz\u00e9",                     # non-ASCII in the token
    "Basic " + base64.b64encode(b"\xff\xfe:\x00").decode(),
])
def test_wrong_credentials_are_refused_without_leaking(authorization: str | None) -> None:
    with pytest.raises(WebhookRejected) as info:
        verify(CONFIGURED, signed(authorization))
    assert info.value.status == 401
    shown = f"{info.value.reason} {info.value} {info.value!r}"
    encoded = base64.b64encode(f"{USER}:{PASSWORD}".encode()).decode()
    for secret in (PASSWORD, PASSWORD[:-1], encoded, "S3cret"):
        assert secret not in shown


@pytest.mark.parametrize("authorization", [basic(USER, PASSWORD), None, basic("", "")])
def test_no_credentials_configured_refuses_everything(authorization: str | None) -> None:
    with pytest.raises(WebhookRejected) as info:
        verify(bw_settings(), signed(authorization))
    assert info.value.status == 401
    assert "bandwidth.callback_username" in info.value.reason
    assert "bandwidth.callback_password" in info.value.reason


# Through the webhook app (provider entry point, real store) ----------------------------


def test_through_the_webhook_app() -> None:
    from starlette.testclient import TestClient

    from univoice.plugins import get_provider
    from univoice.webhooks import VoiceApp

    seen: list[BaseEvent] = []
    app = VoiceApp(public_url="https://voice.example.com", store="sqlite://:memory:",
                   providers=[get_provider("bandwidth", account_id="5551234",
                                           callback_username=USER,
                                           callback_password=PASSWORD)])
    app.on(RecordingAvailable)(seen.append)
    body = json.dumps(sample("recordingAvailable.json")).encode()
    headers = {"content-type": "application/json", "authorization": basic(USER, PASSWORD)}
    try:
        with TestClient(app) as client:
            url = "/univoice/bandwidth/events"
            first = client.post(url, content=body, headers=headers)
            again = client.post(url, content=body, headers=headers)
            refused = client.post(url, content=body, headers={
                **headers, "authorization": basic(USER, "guess")})
            bad = client.post(url, content=b"[1]", headers=headers)
    finally:
        app.store.close()
    assert (first.status_code, first.json()["handled"]) == (200, 1)
    assert (again.status_code, again.json()["duplicates"]) == (200, 1)  # a redelivery
    assert refused.status_code == 401 and PASSWORD not in refused.text
    assert bad.status_code == 400
    assert [type(e) for e in seen] == [RecordingAvailable]
