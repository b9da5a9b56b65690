"""The pure parts of the Bird REST adapter: request bodies and paths, vocabularies, parsers
(every REST sample), paging, reconciliation, error bodies of every shape, the auth (and its
media redirect), secrets; over ``httpx.MockTransport`` (no socket)."""

from __future__ import annotations

import copy
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any

import httpx
import pytest
from tests.cassettes import validate_exchange

from univoice import Voice
from univoice.errors import (
    AmbiguousCreate,
    AuthenticationError,
    ConfigError,
    InvalidArguments,
    InvalidRequest,
    NotFound,
    ProviderError,
    ServerError,
    UnsupportedFeature,
)
from univoice.flow import Flow
from univoice.models import (
    Call,
    CallStatus,
    Direction,
    EndReason,
    Recording,
    RecordingStatus,
)
from univoice.operations import Operation
from univoice.params import CallFilters, CreateCall, UpdateCall
from univoice.retry import NO_RETRY, RetryPolicy
from univoice.transport import HttpSettings
from univoice_bird import compile, vocab
from univoice_bird.auth import AccessKeyAuth, api_auth, is_bird_host
from univoice_bird.operations import (
    BadPayload,
    error_parts,
    page_of,
    parse_call,
    parse_recording,
)
from univoice_bird.provider import BirdProvider
from univoice_bird.settings import BirdSettings

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / "bird"
API = "https://api.bird.com"
WS = "11111111-2222-4333-8444-555555555555"
CH = "66666666-7777-4888-9999-000000000000"
KEY = "Bird-Acc3ssKey-never-shown-0123456789"
SIGNING = "Bird-S1gningKey-never-shown-4567"
FROM, TO = "+3197058016631", "+351910648517"
CALLS = f"/workspaces/{WS}/channels/{CH}/calls"
GREETING = Flow.from_dict({"steps": [{"say": "Hello."}, "hangup"]})
HANGUP = Flow.from_dict({"steps": ["hangup"]})
CALL_ID = "1e5e9219-2da2-4aa2-bf0f-8cc34775e6c0"

Handler = Callable[[httpx.Request], httpx.Response]


def provider(**extra: Any) -> BirdProvider:
    values: dict[str, Any] = {"workspace_id": WS, "channel_id": CH, "access_key": KEY,
                              "signing_key": SIGNING, **extra}
    return BirdProvider(**{k: v for k, v in values.items() if v is not None})


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text("utf-8"))


def body(op: Operation[Any]) -> Any:
    return json.loads(op.request.content)


def voice(handler: Handler, **extra: Any) -> Voice:
    return Voice(provider(**extra), http=HttpSettings(retry=NO_RETRY),
                 client=httpx.Client(transport=httpx.MockTransport(handler)))


def respond(status: int, payload: Any = None, *, content: bytes | None = None,
            headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=payload, headers=headers)

    return handler


def answer(op: Operation[Any], payload: Any, status: int = 200) -> Any:
    return op.parse(httpx.Response(status, json=payload, request=op.request))


def create(**options: Any) -> CreateCall:
    options.setdefault("flow", None if "answer_url" in options else GREETING)
    return CreateCall(to=options.pop("to", TO), from_=options.pop("from_", FROM), **options)


def call(status: str = "accepted", **fields: Any) -> dict[str, Any]:
    found: dict[str, Any] = sample("seed_create_call_202_response.json")
    found["status"] = status
    found.update(fields)
    return found


# Requests ------------------------------------------------------------------------------------


def test_create_call_body() -> None:
    op = provider().create_call(create(tag="Order-7", callback_url="https://app.example/cb"))
    assert (op.request.method, op.request.url.path) == ("POST", CALLS)
    assert op.request.headers["accept"] == "application/json"
    assert body(op) == {"to": TO, "from": FROM, "callFlow": compile.start(GREETING),
                        "ringTimeout": 30, "notification": {"url": "https://app.example/cb"},
                        "tags": ["order-7"]}  # tags lower-cased, as Bird keeps them
    assert (op.creates, op.tag, op.idempotency_key) == (True, "order-7", None)
    assert "authorization" not in op.request.headers  # the transport adds it


def test_create_call_options() -> None:
    flow = Flow.from_dict({"record": True, "steps": ["hangup"]})
    p = provider()
    sent = body(p.create_call(create(flow=flow, ring_timeout=7.2, max_duration=0.4,
                                     events_url="https://app.example/univoice/bird/events")))
    assert (sent["ringTimeout"], sent["maxDuration"], sent["record"]) == (8, 1, True)
    assert sent["notification"] == {"url": "https://app.example/univoice/bird/events"}
    assert "tags" not in sent  # no tag given (the client always gives one)
    sent = body(p.create_call(create(record=True, callback_url="https://a.example/cb",
                                     events_url="https://b.example/ev")))
    assert sent["record"] is True and sent["notification"] == {"url": "https://a.example/cb"}
    # A CreateCall without a caller (the channel's number calls): "from" is left out.
    no_from = create().model_copy(update={"from_": ""})
    assert "from" not in body(p.create_call(no_from))


def test_create_call_without_a_tag_cannot_be_reconciled() -> None:
    assert provider().create_call(create()).reconcile is None


@pytest.mark.parametrize("seconds", [2.9, 120.5, 300])
def test_create_call_ring_timeout_outside_birds_range(seconds: float) -> None:
    with pytest.raises(InvalidArguments, match="ring_timeout"):
        provider().create_call(create(ring_timeout=seconds))


def test_create_call_refusals_before_any_request() -> None:
    p = provider()
    with pytest.raises(UnsupportedFeature, match=r"calls\.create\.answer_url") as failure:
        p.create_call(create(answer_url="https://app.example/answer"))
    assert "fetch" in str(failure.value)
    with pytest.raises(UnsupportedFeature, match="machine_detection"):
        p.create_call(create(machine_detection=True))
    with pytest.raises(UnsupportedFeature, match="machine_detection"):
        p.create_call(create(flow=Flow.from_dict({"machine_detection": True,
                                                  "steps": ["hangup"]})))
    with pytest.raises(UnsupportedFeature, match="conference"):
        p.create_call(create(flow=Flow.from_dict({"steps": [{"conference": {"name": "r"}}]})))
    # A flow the webhook app must push the rest of, with nowhere to reach the app.
    with pytest.raises(ConfigError, match="public_url and flow_store"):
        p.create_call(create(flow=REPROMPT))
    with pytest.raises(UnsupportedFeature, match=r"calls\.update\.hosted_flow"):
        p.update_call(CALL_ID, UpdateCall(flow=REPROMPT))


REPROMPT = Flow.from_dict({"steps": [{"gather": {
    "prompt": [{"say": "Press 1."}], "retries": 1, "options": {"1": [{"say": "One."}]}}}]})


def test_a_hosted_flow_starts_with_its_first_segment_and_reports_to_its_route() -> None:
    flow_url = "https://app.example/univoice/bird/flow/abc/start"
    op = provider().create_call(create(flow=REPROMPT, flow_url=flow_url,
                                       events_url="https://app.example/univoice/bird/events",
                                       callback_url="https://mine.example/"))
    sent = body(op)
    assert sent["notification"] == {"url": flow_url}
    assert [c["command"] for c in sent["callFlow"]] == ["say", "gather", "pause", "hangup"]
    assert sent["callFlow"][2]["options"] == {"length": compile.HOLD_SECONDS}


def test_create_call_request_validates_against_the_spec() -> None:
    op = provider().create_call(create(tag="t", record=True, callback_url="https://a.example/"))
    signed = httpx.Request("POST", op.request.url, content=op.request.content,
                           headers={**op.request.headers, "Authorization": "AccessKey x"})
    validate_exchange("bird", signed, httpx.Response(202, json=call(), request=signed))


def test_other_requests() -> None:
    p = provider()
    get = p.get_call("c/1")
    assert (get.request.method, get.request.url.raw_path.decode()) == (
        "GET", f"{CALLS}/c%2F1")  # an id is one path segment
    hangup = p.hangup_call(CALL_ID)
    assert (hangup.request.method, body(hangup)) == ("PATCH", {"status": "completed"})
    update = p.update_call(CALL_ID, UpdateCall(flow=GREETING))
    assert (update.request.method, body(update)) == ("PATCH",
                                                     {"callFlow": compile.start(GREETING)})
    with pytest.raises(UnsupportedFeature, match=r"calls\.update\.redirect_url"):
        p.update_call(CALL_ID, UpdateCall(redirect_url="https://app.example/next"))
    with pytest.raises(UnsupportedFeature, match="conference"):
        p.update_call(CALL_ID, UpdateCall(flow=Flow.from_dict(
            {"steps": [{"conference": {"name": "r"}}]})))


def test_list_calls_query() -> None:
    p = provider()
    plain = p.list_calls(CallFilters(), None, 25).request
    assert (plain.url.path, dict(plain.url.params)) == (CALLS, {"limit": "25"})
    after = datetime(2024, 2, 29, 13, 0, tzinfo=timezone(timedelta(hours=1)))
    filtered = p.list_calls(CallFilters(to=TO, from_=FROM, status=CallStatus.BUSY,
                                        created_after=after, created_before=after), "tok",
                            5).request
    assert dict(filtered.url.params) == {
        "limit": "5", "pageToken": "tok", "status": "busy", "to": TO, "from": FROM,
        "startAt": "2024-02-29T12:00:00.000Z", "endAt": "2024-02-29T12:00:00.000Z"}
    tagged = p.list_calls(CallFilters(tag="Camp-9", status="no_answer"), None, 5).request
    assert tagged.url.path == f"/workspaces/{WS}/channels/calls"
    assert dict(tagged.url.params) == {"channelId": CH, "tag": "camp-9", "limit": "5",
                                       "status": "no-answer"}


@pytest.mark.parametrize("neutral", [CallStatus.CANCELED, CallStatus.UNKNOWN])
def test_list_calls_refuses_statuses_bird_lacks(neutral: CallStatus) -> None:
    with pytest.raises(UnsupportedFeature, match=r"calls\.list\.status"):
        provider().list_calls(CallFilters(status=neutral), None, 5)


@pytest.mark.parametrize("cursor", ["", "x" * 8001])
def test_list_calls_refuses_a_cursor_bird_could_not_have_given(cursor: str) -> None:
    with pytest.raises(InvalidArguments, match="cursor"):
        provider().list_calls(CallFilters(), cursor, 5)


def test_recording_requests() -> None:
    p = provider()
    listed = p.list_recordings(CALL_ID, None, 500).request  # 99 at most (docs)
    assert listed.url.path == f"/workspaces/{WS}/recordings"
    assert dict(listed.url.params) == {"channelId": CH, "sourceId": CALL_ID, "limit": "99"}
    everything = p.list_recordings(None, "t2", 10).request
    assert dict(everything.url.params) == {"channelId": CH, "limit": "10", "pageToken": "t2"}
    get = p.get_recording("r1", None).request
    assert get.url.path == f"/workspaces/{WS}/recordings/r1"
    download = p.download_recording(Recording(provider="bird", id="r1"))
    assert download.stream and download.request.url.path == f"/workspaces/{WS}/recordings/r1.mp3"
    assert download.request.headers["accept"].startswith("audio/mpeg")


def test_api_url_setting_moves_every_path() -> None:
    p = provider(api_url="http://127.0.0.1:8080/bird/")
    assert str(p.get_call("x").request.url) == (
        f"http://127.0.0.1:8080/bird/workspaces/{WS}/channels/{CH}/calls/x")


# Vocabulary ----------------------------------------------------------------------------------


def test_every_documented_status_maps() -> None:
    for word in ("accepted", "starting", "ringing", "ongoing", "completed", "no-answer",
                 "busy", "failed"):
        assert vocab.call_status(word) is not CallStatus.UNKNOWN
    assert vocab.call_status("no_answer") is CallStatus.NO_ANSWER  # MessageBird's spelling
    assert vocab.call_status(" Ongoing ") is CallStatus.IN_PROGRESS
    assert vocab.call_status("teleporting") is CallStatus.UNKNOWN
    assert vocab.call_status(None) is vocab.call_status(3) is CallStatus.UNKNOWN
    assert vocab.STATUS_FILTERS[CallStatus.NO_ANSWER] == "no-answer"


def test_end_reasons() -> None:
    assert vocab.end_reason("ongoing") is None and vocab.end_reason(None) is None
    assert vocab.end_reason("completed") is EndReason.HANGUP
    assert vocab.end_reason("completed", "callee", "outgoing") is EndReason.CALLEE_HANGUP
    assert vocab.end_reason("completed", "caller", "incoming") is EndReason.CALLEE_HANGUP
    assert vocab.end_reason("completed", "callee", "incoming") is EndReason.HANGUP
    assert vocab.end_reason("no-answer") is EndReason.NO_ANSWER
    assert vocab.end_reason("busy") is EndReason.BUSY
    assert vocab.end_reason("failed") is EndReason.FAILED
    assert vocab.end_reason("exploded") is EndReason.UNKNOWN  # not live, not known


def test_recording_statuses() -> None:
    assert vocab.recording_status("available") is RecordingStatus.READY
    for word in ("accepted", "ongoing", "paused", "completed"):
        assert vocab.recording_status(word) is RecordingStatus.PROCESSING
    assert vocab.recording_status("failed") is RecordingStatus.FAILED
    assert vocab.recording_status("absent") is RecordingStatus.DELETED
    assert vocab.recording_status("text") is RecordingStatus.UNKNOWN


@pytest.mark.parametrize(("text", "expected"), [
    ("2024-02-29T11:44:07.74Z", datetime(2024, 2, 29, 11, 44, 7, 740000, tzinfo=UTC)),
    ("2024-02-29T11:44:07.123456789Z", datetime(2024, 2, 29, 11, 44, 7, 123456, tzinfo=UTC)),
    ("2024-02-29T12:44:07+01:00", datetime(2024, 2, 29, 11, 44, 7, tzinfo=UTC)),
    ("2024-02-29T11:44:07", datetime(2024, 2, 29, 11, 44, 7, tzinfo=UTC)),
    ("0001-01-01T00:00:00Z", None),  # Go's zero time: unset
    ("text", None), ("", None), (None, None), (5, None), ("9" * 70, None),
])
def test_parse_time(text: Any, expected: datetime | None) -> None:
    assert vocab.parse_time(text) == expected


def test_numbers() -> None:
    assert vocab.phone("+3197058016631") == "+3197058016631"
    assert vocab.phone("3197004499436") == "+3197004499436"  # the Recordings API's form
    assert vocab.phone("sip:a@b.example") == "sip:a@b.example"
    assert vocab.phone("text") == "text" and vocab.phone("  ") is None
    assert vocab.party_number({"number": {"number": "3197004499436",
                                          "identity": "+3197004499436"}}) == "+3197004499436"
    assert vocab.party_number({"contact": {"identifierValue": "+351919150029"}}) == (
        "+351919150029")
    assert vocab.party_number("nope") is None
    assert vocab.seconds(10**400) is None and vocab.seconds(-1) is None
    assert vocab.seconds("29") == 29.0 and vocab.seconds(True) is None


# Parsers: every REST sample ----------------------------------------------------------------


def test_parse_the_202_sample() -> None:
    found = parse_call(sample("seed_create_call_202_response.json"))
    assert (found.id, found.status, found.status_raw, found.direction) == (
        CALL_ID, CallStatus.QUEUED, "accepted", Direction.OUTBOUND)
    assert (found.from_, found.to, found.tag, found.end_reason) == (FROM, TO, None, None)
    assert found.created_at == datetime(2024, 2, 29, 11, 44, 7, 740000, tzinfo=UTC)
    assert [c["command"] for c in found.raw["callFlow"]["commands"]] == ["playback", "hangup"]


def test_parse_the_schema_example() -> None:
    data = sample("seed_call_object_schema_example.json")
    found = parse_call(data)
    assert (found.status, found.direction, found.from_, found.to, found.tag) == (
        CallStatus.QUEUED, Direction.INBOUND, "text", "text", "text")
    assert (found.duration, found.end_reason) == (None, None)  # accepted: not over
    assert found.raw == data  # nothing secret in it: kept whole


def test_parse_call_fallbacks_and_final_states() -> None:
    base = call()
    del base["from"], base["to"]
    found = parse_call(base)
    assert (found.from_, found.to) == (FROM, TO)  # from originator / receiver
    done = parse_call(call("completed", answeredAt="2024-02-29T11:44:15.5Z",
                           endedAt="2024-02-29T11:44:57.5Z", hangupSource="callee",
                           tags=["order-7", "vip"]))
    assert (done.status, done.end_reason, done.end_reason_raw, done.duration, done.tag) == (
        CallStatus.COMPLETED, EndReason.CALLEE_HANGUP, "completed", 42.0, "order-7")
    unanswered = parse_call(call("no-answer", endedAt="2024-02-29T11:44:57.5Z", duration=30))
    assert (unanswered.duration, unanswered.end_reason) == (0.0, EndReason.NO_ANSWER)
    own = parse_call(call("completed", duration=17))  # no times: Bird's own duration
    assert own.duration == 17.0
    odd = parse_call(call("exploded"))
    assert (odd.status, odd.status_raw, odd.end_reason) == (
        CallStatus.UNKNOWN, "exploded", EndReason.UNKNOWN)
    assert parse_call({"id": 7, "status": None}).id == "7"


@pytest.mark.parametrize("bad", [[], "call", {"status": "accepted"}, {"id": ""}, {"id": None}])
def test_parse_call_refuses_what_is_no_call(bad: Any) -> None:
    with pytest.raises(BadPayload):
        parse_call(bad)


def test_parse_recordings_of_both_apis() -> None:
    def media(rid: str) -> str:
        return f"{API}/m/{rid}.mp3"

    workspace = {"id": "r1", "source": "call", "sourceId": CALL_ID, "status": "available",
                 "duration": 29, "format": "wav", "createdAt": "2023-10-26T18:28:55.646Z"}
    found = parse_recording(workspace, media=media)
    assert (found.call_id, found.status, found.duration, found.format, found.media_url) == (
        CALL_ID, RecordingStatus.READY, 29.0, "mp3", f"{API}/m/r1.mp3")
    # The call recording example of the docs: callId, "available", zero endedAt.
    live = {"id": "32b98cd8-db4b-4a47-816e-ff7ff72b1da6",
            "channelId": "880d8171-cbab-47bb-81b6-b1a0902da136",
            "callId": "0b4cbfa2-813f-4b93-8007-265875bb88bb", "status": "available",
            "origin": "create-call", "duration": 0, "stereo": False,
            "createdAt": "2023-10-26T18:28:55.646Z", "updatedAt": "2023-10-26T18:28:55.646Z",
            "startedAt": "2023-10-26T18:28:55.373Z", "endedAt": "0001-01-01T00:00:00Z"}
    found = parse_recording(live)
    assert (found.call_id, found.status, found.media_url) == (
        "0b4cbfa2-813f-4b93-8007-265875bb88bb", RecordingStatus.READY, None)
    conference = parse_recording({"id": "r2", "source": "conference", "sourceId": "conf",
                                  "status": "accepted"}, call_id=None, media=media)
    assert (conference.call_id, conference.status, conference.media_url) == (
        None, RecordingStatus.PROCESSING, None)
    assert parse_recording({"id": "r3"}, call_id="c9").call_id == "c9"
    with pytest.raises(BadPayload):
        parse_recording({"status": "available"})


def test_page_of() -> None:
    assert page_of({"results": [1], "nextPageToken": "abc"}, "x") == ([1], "abc")
    assert page_of({"results": None}, "x") == ([], None)
    assert page_of({"results": [], "nextPageToken": ""}, "x") == ([], None)
    assert page_of({"results": [], "nextPageToken": 5}, "x") == ([], None)
    for bad in ({"data": []}, [], {"results": {}}):
        with pytest.raises(BadPayload):
            page_of(bad, "x")


def test_update_reads_only_a_call_object_naming_the_call() -> None:
    op = provider().update_call(CALL_ID, UpdateCall(flow=GREETING))
    assert answer(op, call("ongoing"), 202).status is CallStatus.IN_PROGRESS
    # The gather command's 202 (a command object, another id): not the call.
    assert answer(op, sample("command_202_response_generic.json"), 202) is None
    assert answer(op, {}, 202) is None
    assert op.parse(httpx.Response(202, request=op.request)) is None
    assert op.parse(httpx.Response(202, content=b"<ok/>", request=op.request)) is None


def test_the_docs_request_samples_have_the_shape_univoice_sends() -> None:
    # seed_create_call_request_*.json: {to, callFlow: [{command, options?}]}; so is ours.
    ours = body(provider().create_call(create()))
    for name in ("seed_create_call_request_playback_hangup.json",
                 "seed_create_call_request_say_hangup.json"):
        documented = sample(name)
        assert set(documented) <= set(ours)
        assert all(set(c) <= {"command", "options", "conditions"} for c in documented["callFlow"])
    assert all(set(c) <= {"command", "options", "conditions"} for c in ours["callFlow"])
    # gather_command_request.json is a command body (POST .../gather): univoice sends a
    # gather inside a callFlow, its options in the same names.
    menu = Flow.from_dict({"steps": [{"gather": {"prompt": [{"say": "Press 1."}],
                                                 "finish_on_key": "#",
                                                 "options": {"1": [{"say": "One."}]}}}]})
    [gather] = [c for c in compile.start(menu) if c["command"] == "gather"]
    assert set(gather["options"]) <= set(sample("gather_command_request.json"))


# Errors, through the transport ---------------------------------------------------------------


@pytest.mark.parametrize(("payload", "message", "code", "request_id"), [
    ({"code": "InvalidPayload", "message": "The payload is invalid",
      "details": {"to": ["is not a phone number", "is required"]}},
     "The payload is invalid (to: is not a phone number, is required)", "InvalidPayload", None),
    ({"error": {"type": "validation_error", "code": "E01001", "message": "Request validation "
                "failed.", "request_id": "req_01", "details": [
                    {"param": "to", "message": "must be E.164"}]}},
     "Request validation failed. (to: must be E.164)", "E01001", "req_01"),
    ({"data": None, "errors": [{"code": 21, "message": "Bad source", "parameter": "from"},
                               {"code": 22, "description": "Bad destination"}]},
     "Bad source (parameter: from); Bad destination", "21", None),
    ({"message": "nope", "code": 422}, "nope", "422", None),
    ({"error": "invalid_request", "error_description": "the key is wrong"},
     "the key is wrong", None, None),
    ({"type": "rate_limited", "message": "Too many requests", "request_id": "r9"},
     "Too many requests", "rate_limited", "r9"),
    ({"details": {"from": {"number": "unknown"}}}, "from: number: unknown", None, None),
    ([{"code": "X1", "message": "listed"}], "listed", "X1", None),
    ({"code": {"nested": 1}, "message": 5}, "Unprocessable Entity", None, None),
])
def test_error_bodies_of_every_shape(payload: Any, message: str, code: str | None,
                                     request_id: str | None) -> None:
    with voice(respond(422, payload)) as v, pytest.raises(InvalidRequest) as failure:
        v.calls.get(CALL_ID)
    error = failure.value
    assert (error.provider_message, error.code, error.request_id) == (message, code, request_id)
    assert error.raw == payload


def test_error_bodies_that_are_not_json_keep_the_reason_and_the_text() -> None:
    html = b"<html><body>502 Bad Gateway</body></html>"
    with voice(respond(502, content=html, headers={"Content-Type": "text/html"})) as v, \
            pytest.raises(ServerError) as failure:
        v.calls.get(CALL_ID)
    assert (failure.value.provider_message, failure.value.raw) == ("Bad Gateway", html.decode())
    with voice(respond(404, content=b"", headers={"Messagebird-Request-Id": "rq-1"})) as v, \
            pytest.raises(NotFound) as missing:
        v.calls.get(CALL_ID)
    assert (missing.value.request_id, missing.value.provider_message) == ("rq-1", "Not Found")


def test_error_parts_never_raises_and_stays_one_bounded_line() -> None:
    long = {"message": "a\nb" + "x" * 5000}
    message, _, _ = error_parts(long)
    assert message is not None and "\n" not in message and len(message) <= 1000
    assert error_parts(None) == (None, None, None)
    assert error_parts({"error": {"error": {"error": {"error": {"message": "deep"}}}}}) == (
        None, None, None)


@pytest.mark.parametrize("payload", [
    None,  # not JSON: see content below
    [],
    {"status": "accepted"},  # no id
    "a string",
])
def test_malformed_answers_are_provider_errors_keeping_the_raw_body(payload: Any) -> None:
    content = b"<html>not json</html>" if payload is None else json.dumps(payload).encode()
    with voice(respond(200, content=content)) as v, pytest.raises(ProviderError) as failure:
        v.calls.get(CALL_ID)
    assert failure.value.raw == content.decode()
    assert "unexpected response" in str(failure.value)
    with voice(respond(200, {"results": [{"status": "x"}]})) as v, pytest.raises(
            ProviderError, match="has no id"):
        list(v.calls.list())


def test_an_unknown_status_is_kept_raw() -> None:
    with voice(respond(200, call("teleporting"))) as v:
        found = v.calls.get(CALL_ID)
    assert (found.status, found.status_raw, found.raw["status"]) == (
        CallStatus.UNKNOWN, "teleporting", "teleporting")


def test_list_pages_through_the_client() -> None:
    pages = {None: {"results": [call(id="a")], "nextPageToken": "p2"},
             "p2": {"results": [call(id="b")], "nextPageToken": None}}
    seen: list[str | None] = []

    def handler(request: httpx.Request) -> httpx.Response:
        token = request.url.params.get("pageToken")
        seen.append(token)
        return httpx.Response(200, json=pages[token])

    with voice(handler) as v:
        assert [c.id for c in v.calls.list(page_size=1)] == ["a", "b"]
    assert seen == [None, "p2"]


def test_update_answered_without_a_call_reads_it() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "PATCH":
            return httpx.Response(202)
        return httpx.Response(200, json=call("ongoing"))

    with voice(handler) as v:
        assert v.calls.update(CALL_ID, flow=GREETING).status is CallStatus.IN_PROGRESS


# Reconciliation --------------------------------------------------------------------------------


def lookup(results: list[Any], token: str | None = None, tag: str = "order-7") -> Call | None:
    op = provider().create_call(create(tag=tag))
    assert op.reconcile is not None
    found = op.reconcile()
    assert dict(found.request.url.params) == {"channelId": CH, "tag": tag.lower(),
                                              "limit": "10"}
    payload: dict[str, Any] = {"results": results}
    if token is not None:
        payload["nextPageToken"] = token
    result: Call | None = answer(found, payload)
    return result


def tagged(call_id: str, *tags: str, **fields: Any) -> dict[str, Any]:
    return call(**{"id": call_id, "tags": list(tags), "channelId": CH, **fields})


def test_reconcile_finds_the_one_call_with_the_tag() -> None:
    found = lookup([tagged("x", "other"), tagged("mine", "ORDER-7"),
                    tagged("elsewhere", "order-7", channelId="another-channel"),
                    tagged("other-number", "order-7", to="+31612345678")])
    assert found is not None and (found.id, found.tag) == ("mine", "order-7")


def test_reconcile_finds_nothing() -> None:
    assert lookup([]) is None
    assert lookup([tagged("x", "other")]) is None


def test_reconcile_never_guesses() -> None:
    with pytest.raises(AmbiguousCreate, match="2 calls") as failure:
        lookup([tagged("a", "order-7"), tagged("b", "order-7")])
    assert failure.value.tag == "order-7"
    with pytest.raises(AmbiguousCreate, match="first page"):
        lookup([tagged("x", "other")], token="more")


def test_a_lost_create_is_not_placed_twice() -> None:
    sent: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        sent.append(request.method)
        if request.method == "POST":
            return httpx.Response(500, text="oops")
        return httpx.Response(200, json={"results": [tagged("mine", "order-7")]})

    v = Voice(provider(), http=HttpSettings(retry=RetryPolicy(backoff=0.0)),
              client=httpx.Client(transport=httpx.MockTransport(handler)))
    with v:
        found = v.calls.create(TO, FROM, flow=GREETING, tag="order-7")
    assert (found.id, sent) == ("mine", ["POST", "GET"])


# Auth and secrets ----------------------------------------------------------------------------


def test_auth_header_and_missing_key() -> None:
    seen: list[httpx.Request] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(request)
        return httpx.Response(200, json=call())

    with voice(handler) as v:
        v.calls.get(CALL_ID)
    assert seen[0].headers["authorization"] == f"AccessKey {KEY}"
    for key in (None, "", "   "):
        with pytest.raises(ConfigError, match=r"\[bird\] access_key") as failure:
            api_auth(BirdSettings(workspace_id=WS, channel_id=CH, access_key=key))
        assert "UNIVOICE_BIRD__ACCESS_KEY" in str(failure.value)


def test_the_key_is_never_shown() -> None:
    p = provider()
    for shown in (repr(p), repr(p.settings), str(p.settings), repr(p.auth())):
        assert KEY not in shown and SIGNING not in shown
    echo = {"code": "AccessDenied", "message": f"key AccessKey {KEY} is revoked",
            "details": {"signingKey": SIGNING}}
    with voice(respond(401, echo)) as v, pytest.raises(AuthenticationError) as failure:
        v.calls.get(CALL_ID)
    text = str(failure.value) + json.dumps(failure.value.raw) + failure.value.provider_message
    assert KEY not in text and SIGNING not in text
    assert failure.value.code == "AccessDenied"


def media_flow(auth: AccessKeyAuth, url: str, response: httpx.Response
               ) -> httpx.Request | None:
    """What the auth sends after ``response`` to the request for ``url`` (None: nothing)."""
    flow = auth.auth_flow(httpx.Request("GET", url, headers={"Accept": "audio/mpeg"}))
    first = next(flow)
    assert first.headers["authorization"] == "AccessKey k3y-value"
    try:
        return flow.send(response)
    except StopIteration:
        return None


MEDIA_URL = f"{API}/workspaces/{WS}/recordings/r1.mp3"


def test_auth_follows_a_media_redirect_to_bird_with_the_key() -> None:
    auth = AccessKeyAuth("k3y-value")
    nxt = media_flow(auth, MEDIA_URL, httpx.Response(
        302, headers={"Location": "https://media.api.bird.com/r/r1.mp3?sig=1"}))
    assert nxt is not None and str(nxt.url) == "https://media.api.bird.com/r/r1.mp3?sig=1"
    assert nxt.headers["authorization"] == "AccessKey k3y-value"
    assert nxt.headers["accept"] == "audio/mpeg"


def test_auth_follows_a_media_redirect_elsewhere_without_credentials() -> None:
    auth = AccessKeyAuth("k3y-value")
    nxt = media_flow(auth, MEDIA_URL, httpx.Response(
        307, headers={"Location": "https://storage.example.com/r1.mp3?X-Amz-Signature=1"}))
    assert nxt is not None and "authorization" not in nxt.headers
    # Never to plain http, never for anything but a media download, once only.
    assert media_flow(auth, MEDIA_URL, httpx.Response(
        302, headers={"Location": "http://storage.example.com/r1.mp3"})) is None
    assert media_flow(auth, f"{API}/workspaces/{WS}/recordings/r1", httpx.Response(
        302, headers={"Location": "https://media.api.bird.com/x"})) is None
    assert media_flow(auth, MEDIA_URL, httpx.Response(200)) is None
    assert media_flow(auth, MEDIA_URL, httpx.Response(302)) is None  # no Location


def test_download_follows_the_redirect_end_to_end() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.bird.com":
            return httpx.Response(302, headers={"Location": "https://media.api.bird.com/x.mp3"})
        assert request.headers["authorization"] == f"AccessKey {KEY}"  # a Bird host
        return httpx.Response(200, content=b"ID3mp3", headers={"Content-Type": "audio/mpeg"})

    import io

    sink = io.BytesIO()
    with voice(handler) as v:
        v.recordings.download(Recording(provider="bird", id="r1"), sink)
    assert sink.getvalue() == b"ID3mp3"


def test_bird_hosts() -> None:
    assert is_bird_host(httpx.URL("https://media.api.bird.com/x"))
    assert is_bird_host(httpx.URL("https://bird.com/x"))
    assert not is_bird_host(httpx.URL("https://evilbird.com/x"))
    assert not is_bird_host(httpx.URL("http://api.bird.com/x"))
    local = httpx.URL("http://127.0.0.1:8080/")
    assert is_bird_host(httpx.URL("http://127.0.0.1:8080/m.mp3"), local)


def test_secrets_are_the_settings_keys() -> None:
    assert sorted(provider().secrets()) == sorted([KEY, SIGNING])
    assert copy.copy(provider(signing_key=None)).secrets() == [KEY]
