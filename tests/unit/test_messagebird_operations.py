"""The pure parts of the MessageBird REST adapter: request bodies and paths, vocabularies,
parsers (every REST sample), paging and the recordings walk, reconciliation, the follow-up
reads, errors and secrets; over ``httpx.MockTransport`` (no socket)."""

from __future__ import annotations

import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from decimal import Decimal
from pathlib import Path
from typing import Any

import httpx
import pytest

from univoice import Voice
from univoice.errors import (
    AmbiguousCreate,
    AuthenticationError,
    ConfigError,
    InvalidArguments,
    InvalidRequest,
    NotFound,
    ProviderError,
    RateLimited,
    ServerError,
    UnsupportedFeature,
)
from univoice.flow import Flow
from univoice.models import (
    Call,
    CallStatus,
    Direction,
    EndReason,
    Page,
    Recording,
    RecordingStatus,
    TranscriptionStatus,
)
from univoice.operations import Operation
from univoice.params import CallFilters, CreateCall
from univoice.retry import NO_RETRY
from univoice.transport import HttpSettings
from univoice_messagebird import vocab
from univoice_messagebird.auth import AccessKeyAuth
from univoice_messagebird.operations import (
    CHAINS,
    BadPayload,
    RecordingsWalk,
    first,
    follow,
    items,
    next_page,
    parse_call,
    parse_flow,
    parse_leg,
    parse_recording,
    parse_transcription,
    parse_webhook,
    primary_leg,
    with_legs,
)
from univoice_messagebird.provider import MessageBirdProvider

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / (
    "messagebird")
API = "https://voice.messagebird.com"
KEY = "live_Acc3ssKey-never-shown-0123"
SIGNING = "Sign1ngKey-never-shown-4567"
FROM, TO = "+31644556677", "+31612345678"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
GREETING = Flow.from_dict({"steps": [{"say": "Hello."}, "hangup"]})
MENU = Flow.from_dict({"steps": [{"gather": {
    "prompt": [{"say": "Press 1."}], "retries": 1, "options": {"1": [{"say": "One."}]}}}]})
FLOW_URL = "https://voice-app.example/univoice/messagebird/flow/abc/start"
EVENTS_URL = "https://voice-app.example/univoice/messagebird/events"

Handler = Callable[[httpx.Request], httpx.Response]


def provider(**extra: Any) -> MessageBirdProvider:
    values: dict[str, Any] = {"access_key": KEY, "signing_key": SIGNING, **extra}
    p = MessageBirdProvider(**{k: v for k, v in values.items() if v is not None})
    p.clock = lambda: NOW
    return p


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


def run_chain(op: Operation[Any], handler: Handler) -> Any:
    """What the transport does with ``Operation.then`` (where the core has it)."""
    result = op.parse(handler(op.request))
    nxt = op.then(result) if getattr(op, "then", None) else None  # type: ignore[attr-defined]
    return run_chain(nxt, handler) if nxt is not None else result


# Requests ------------------------------------------------------------------------------------


def test_create_call_with_an_inline_flow() -> None:
    op = provider().create_call(create(callback_url="https://app.example/events"))
    assert (op.name, op.request.method, str(op.request.url)) == (
        "calls.create", "POST", f"{API}/calls")
    sent = body(op)
    assert (sent["source"], sent["destination"]) == ("31644556677", "31612345678")
    assert [s["action"] for s in sent["callFlow"]["steps"]] == ["say", "hangup"]
    assert sent["webhook"] == {"url": "https://app.example/events"}
    assert op.request.headers["x-messagebird-version"] == "20170314"
    assert "authorization" not in op.request.headers  # the transport's auth adds it
    assert (op.creates, op.idempotency_key, op.reconcile is not None) == (True, None, True)


def test_create_call_with_an_answer_url_and_the_apps_callback_route() -> None:
    op = provider().create_call(create(answer_url="https://app.example/flow",
                                       events_url=EVENTS_URL))
    assert body(op)["callFlow"] == {"steps": [{"action": "fetchCallFlow",
                                               "options": {"url": "https://app.example/flow"}}]}
    assert body(op)["webhook"] == {"url": EVENTS_URL}


def test_a_callers_callback_url_wins_over_the_apps() -> None:
    op = provider().create_call(create(callback_url="https://mine.example/cb",
                                       events_url=EVENTS_URL))
    assert body(op)["webhook"] == {"url": "https://mine.example/cb"}


def test_a_hosted_flow_continues_at_signed_urls_under_its_node_prefix() -> None:
    op = provider().create_call(create(flow=MENU, flow_url=FLOW_URL, events_url=EVENTS_URL))
    urls = [s["options"]["url"] for s in body(op)["callFlow"]["steps"]
            if s["action"] == "fetchCallFlow"]
    assert urls and all(u.startswith("https://voice-app.example/univoice/messagebird/flow/abc/")
                        and "token=" in u for u in urls)
    assert SIGNING not in op.request.content.decode()


def test_sip_destinations_go_as_they_are_and_record_records_the_call() -> None:
    op = provider().create_call(create(to="sip:desk@pbx.example.com", record=True))
    assert body(op)["destination"] == "sip:desk@pbx.example.com"
    assert body(op)["callFlow"]["record"] is True


@pytest.mark.parametrize(("options", "feature"), [
    ({"max_duration": 60}, "calls.create.max_duration"),
    ({"ring_timeout": 45}, "calls.create.ring_timeout"),
    ({"machine_detection": True}, "flow.machine_detection"),
    ({"record": True, "answer_url": "https://app.example/a"}, "calls.create.record"),
])
def test_create_call_refuses_what_messagebird_lacks(options: dict[str, Any], feature: str
                                                     ) -> None:
    with pytest.raises(UnsupportedFeature) as failure:
        provider().create_call(create(**options))
    assert failure.value.feature == feature
    assert failure.value.detail


def test_create_call_config_errors() -> None:
    with pytest.raises(ConfigError, match="public_url"):
        provider().create_call(create(flow=MENU))
    with pytest.raises(ConfigError, match="signing_key") as failure:
        provider(signing_key=None).create_call(create(flow=MENU, flow_url=FLOW_URL))
    assert "UNIVOICE_MESSAGEBIRD__SIGNING_KEY" in str(failure.value)


def test_ids_are_quoted_into_paths_and_the_base_url_is_a_setting() -> None:
    p = provider(api_url="https://voice.messagebird.com/v1/")
    assert str(p.get_call("a b").request.url) == "https://voice.messagebird.com/v1/calls/a%20b"
    rec = Recording(provider="messagebird", id="r?1")
    assert str(p.download_recording(rec).request.url).endswith("/v1/recordings/r%3F1.wav")
    assert p.download_recording(rec).stream


def test_paths_and_methods_of_every_operation() -> None:
    p = provider(api_version="20240101")
    rec = Recording(provider="messagebird", id="r1", call_id="c1")
    cases = [
        (p.get_call("c1"), "GET", "/calls/c1", ""),
        (p.list_calls(CallFilters(), None, 25), "GET", "/calls", "page=1&perPage=25"),
        (p.list_calls(CallFilters(), "3", 25), "GET", "/calls", "page=3&perPage=25"),
        (p.hangup_call("c1"), "DELETE", "/calls/c1", ""),
        (p.list_legs("c1", None, 10), "GET", "/calls/c1/legs", "page=1&perPage=10"),
        (p.get_leg("c1", "l1"), "GET", "/calls/c1/legs/l1", ""),
        (p.list_recordings("c1", None, 10), "GET", "/calls/c1/legs", "page=1&perPage=50"),
        (p.get_recording("r1", None), "GET", "/recordings/r1", ""),
        (p.delete_recording(rec), "DELETE", "/recordings/r1", ""),
        (p.create_transcription(rec, None), "POST", "/recordings/r1/transcriptions", ""),
        (p.get_transcription(rec), "GET", "/recordings/r1/transcriptions", "perPage=50"),
        (p.list_flows(None, 5), "GET", "/call-flows", "page=1&perPage=5"),
        (p.get_flow("f1"), "GET", "/call-flows/f1", ""),
        (p.delete_flow("f1"), "DELETE", "/call-flows/f1", ""),
        (p.list_webhooks(None, 5), "GET", "/webhooks", "page=1&perPage=5"),
        (p.create_webhook("https://app.example/h", []), "POST", "/webhooks", ""),
        (p.delete_webhook("w1"), "DELETE", "/webhooks/w1", ""),
    ]
    for op, method, path, query in cases:
        url = op.request.url
        assert (op.request.method, url.path, url.query.decode()) == (method, path, query), op
        assert op.request.headers["x-messagebird-version"] == "20240101"


@pytest.mark.parametrize("filters", [{"to": TO}, {"from": FROM}, {"status": "completed"},
                                     {"created_after": NOW}, {"created_before": NOW},
                                     {"tag": "x"}])
def test_list_calls_refuses_every_filter(filters: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFeature, match="takes only page and perPage"):
        provider().list_calls(CallFilters(**filters), None, 10)


@pytest.mark.parametrize("cursor", ["0", "-1", "two", "1e3", "", "12345678901"])
def test_a_page_cursor_is_a_page_number(cursor: str) -> None:
    with pytest.raises(InvalidArguments, match="cursor"):
        provider().list_calls(CallFilters(), cursor, 10)


def test_transcription_bodies_and_languages() -> None:
    p = provider()
    rec = Recording(provider="messagebird", id="r1")
    assert p.create_transcription(rec, None).request.content == b"{}"
    for neutral, spelled in (("en-GB", "en-UK"), ("es-419", "es-LA"), ("nl-NL", "nl-NL"),
                             ("en-UK", "en-UK")):
        assert body(p.create_transcription(rec, neutral)) == {"language": spelled}
    with pytest.raises(UnsupportedFeature, match="ja-JP") as failure:
        p.create_transcription(rec, "ja-JP")
    assert "nl-NL" in str(failure.value) and "en-UK" not in str(failure.value)


def test_stored_flows() -> None:
    p = provider()
    op = p.create_flow(GREETING, "Front desk")
    assert body(op)["title"] == "Front desk" and next(iter(body(op))) == "title"
    assert op.creates
    named = Flow.from_dict({"name": "Own name", "steps": ["hangup"]})
    assert body(p.create_flow(named, None))["title"] == "Own name"
    with pytest.raises(UnsupportedFeature, match=r"flows\.create"):
        p.create_flow(MENU, None)


def test_what_messagebird_does_not_have_is_refused() -> None:
    p = provider()
    rec = Recording(provider="messagebird", id="r1")
    with pytest.raises(UnsupportedFeature, match=r"webhooks\.events"):
        p.create_webhook("https://app.example/h", ["callUpdated"])
    with pytest.raises(UnsupportedFeature, match=r"calls\.update") as failure:
        p.update_call("c1", None)  # type: ignore[arg-type]
    assert "bandwidth" in failure.value.alternatives
    with pytest.raises(UnsupportedFeature, match=r"transcriptions\.delete"):
        p.delete_transcription(rec)
    with pytest.raises(InvalidArguments, match="call_id"):
        p.list_recordings(None, None, 10)
    with pytest.raises(UnsupportedFeature, match="conferences"):
        p.get_conference("x")


# Auth, secrets, errors ---------------------------------------------------------------------


def test_the_access_key_header() -> None:
    auth = provider().auth()
    assert isinstance(auth, AccessKeyAuth) and repr(auth) == "<AccessKeyAuth>"
    request = next(auth.auth_flow(httpx.Request("GET", f"{API}/calls")))
    assert request.headers["authorization"] == f"AccessKey {KEY}"


@pytest.mark.parametrize("key", [None, "", "   "])
def test_missing_access_key_names_the_setting(key: str | None) -> None:
    with pytest.raises(ConfigError, match="access_key") as failure:
        MessageBirdProvider(access_key=key).auth()
    assert "UNIVOICE_MESSAGEBIRD__ACCESS_KEY" in str(failure.value)


def test_bad_settings_are_config_errors() -> None:
    with pytest.raises(ConfigError, match="api_version"):
        MessageBirdProvider(access_key=KEY, api_version="latest")


def test_no_secret_in_reprs() -> None:
    p = provider()
    for text in (repr(p), repr(p.settings), str(p.settings), repr(p.auth())):
        assert KEY not in text and SIGNING not in text
    assert set(p.secrets()) == {KEY, SIGNING}


def test_no_secret_in_errors_or_the_raw_body() -> None:
    echoed = {"data": None, "errors": [{"code": 2, "message": f"bad key AccessKey {KEY}"}]}
    with voice(respond(401, echoed)) as v, pytest.raises(AuthenticationError) as failure:
        v.calls.get("c1")
    assert KEY not in str(failure.value) and KEY not in json.dumps(failure.value.raw)
    assert failure.value.code == "2"


def test_error_details() -> None:
    p = provider()
    several = httpx.Response(422, json={"data": None, "errors": [
        {"code": 10, "message": "destination is invalid", "parameter": "destination"},
        {"code": 9, "description": "source is required"}, "junk", {"code": {"x": 1}}]},
        headers={"messagebird-request-id": "req-1"})
    assert p.error_details(several) == ("destination is invalid (parameter: destination); "
                                        "source is required", "10", "req-1")
    html = httpx.Response(502, content=b"<html>Bad Gateway</html>")
    assert p.error_details(html) == ("Bad Gateway", None, None)
    sample_404 = httpx.Response(404, json=sample("py_error_recording_not_found.json"))
    assert p.error_details(sample_404) == (
        "No recording found for ID `00000000-0000-0000-0000-000000000000`.", "13", None)


@pytest.mark.parametrize(("status", "error"), [
    (400, InvalidRequest), (401, AuthenticationError), (403, AuthenticationError),
    (404, NotFound), (405, InvalidRequest), (422, InvalidRequest), (429, RateLimited),
    (500, ServerError), (503, ServerError)])
def test_error_statuses_map_to_typed_errors(status: int, error: type[ProviderError]) -> None:
    payload = {"data": None, "errors": [{"code": 99, "message": "nope"}]}
    with voice(respond(status, payload)) as v, pytest.raises(error) as failure:
        v.calls.get("c1")
    assert (failure.value.status, failure.value.code, failure.value.provider_message) == (
        status, "99", "nope")


@pytest.mark.parametrize("answer_body", [
    b"not json", b"[]", b'{"data": {}}', b'{"data": []}', b'{"data": ["x"]}',
    b'{"data": [{"status": "ended"}]}', b'{"data": [{"id": ""}]}',
    b'{"data": [{"id": "c1"}], "errors": [{"code": 1, "message": "half"}]}', b'{"foo": 1}'])
def test_a_malformed_call_is_a_provider_error_keeping_the_body(answer_body: bytes) -> None:
    with voice(respond(200, content=answer_body)) as v, pytest.raises(ProviderError) as failure:
        v.calls.get("c1")
    assert type(failure.value) is ProviderError
    assert failure.value.raw == answer_body.decode()
    assert failure.value.operation == "calls.get"


@pytest.mark.parametrize("answer_body", [b'{"data": {}}', b'{"data": [1]}', b'"x"',
                                         b'{"items": []}'])
def test_malformed_lists_are_provider_errors(answer_body: bytes) -> None:
    for run in (lambda v: list(v.calls.list()), lambda v: list(v.flows.list()),
                lambda v: list(v.webhooks.list()),
                lambda v: list(v.recordings.list(call_id="c1"))):
        with voice(respond(200, content=answer_body)) as v, pytest.raises(ProviderError):
            run(v)


def test_a_null_data_list_is_empty() -> None:
    with voice(respond(200, {"data": None, "pagination": {"pageCount": 0}})) as v:
        assert list(v.calls.list()) == []


# Vocabularies --------------------------------------------------------------------------------


@pytest.mark.parametrize(("word", "status", "ending"), [
    ("queued", CallStatus.QUEUED, None), ("starting", CallStatus.INITIATED, None),
    ("ongoing", CallStatus.IN_PROGRESS, None), ("ended", CallStatus.COMPLETED, None),
    ("busy", CallStatus.BUSY, EndReason.BUSY),
    ("no_answer", CallStatus.NO_ANSWER, EndReason.NO_ANSWER),
    ("failed", CallStatus.FAILED, EndReason.FAILED), ("exploded", CallStatus.UNKNOWN, None),
    (None, CallStatus.UNKNOWN, None), (3, CallStatus.UNKNOWN, None)])
def test_call_status_table(word: Any, status: CallStatus, ending: EndReason | None) -> None:
    assert (vocab.call_status(word), vocab.call_ending(word)) == (status, ending)


@pytest.mark.parametrize(("word", "status", "ending"), [
    ("starting", CallStatus.INITIATED, None), ("ringing", CallStatus.RINGING, None),
    ("ongoing", CallStatus.IN_PROGRESS, None), ("hangup", CallStatus.COMPLETED,
                                                EndReason.HANGUP),
    ("busy", CallStatus.BUSY, EndReason.BUSY),
    ("no_answer", CallStatus.NO_ANSWER, EndReason.NO_ANSWER),
    ("failed", CallStatus.FAILED, EndReason.FAILED), ("gone", CallStatus.UNKNOWN, None)])
def test_leg_status_table(word: str, status: CallStatus, ending: EndReason | None) -> None:
    assert (vocab.leg_status(word), vocab.leg_ending(word)) == (status, ending)


def test_recording_transcription_and_direction_tables() -> None:
    assert [vocab.recording_status(w) for w in ("initialised", "recording", "done", "failed",
                                                "odd", None)] == [
        RecordingStatus.PROCESSING, RecordingStatus.PROCESSING, RecordingStatus.READY,
        RecordingStatus.FAILED, RecordingStatus.UNKNOWN, RecordingStatus.UNKNOWN]
    assert [vocab.transcription_status(w) for w in ("created", "transcribing", "done",
                                                    "failed", "?")] == [
        TranscriptionStatus.PENDING, TranscriptionStatus.PENDING, TranscriptionStatus.READY,
        TranscriptionStatus.FAILED, TranscriptionStatus.UNKNOWN]
    assert [vocab.direction(w) for w in ("incoming", "outgoing", "sideways", 1)] == [
        Direction.INBOUND, Direction.OUTBOUND, Direction.UNKNOWN, Direction.UNKNOWN]


def test_unknown_words_keep_the_raw_value() -> None:
    call = parse_call({"id": "c1", "status": "teleporting", "destination": "31612345678"})
    assert (call.status, call.status_raw, call.raw["status"]) == (
        CallStatus.UNKNOWN, "teleporting", "teleporting")
    leg = parse_leg({"id": "l1", "callId": "c1", "status": "orbiting"})
    assert (leg.status, leg.raw["status"]) == (CallStatus.UNKNOWN, "orbiting")


@pytest.mark.parametrize(("value", "expected"), [
    ("31612345678", "+31612345678"), ("1416555555", "+1416555555"), (31612345678,
                                                                       "+31612345678"),
    ("Heaven", "Heaven"), ("sip:desk@pbx.example.com", "sip:desk@pbx.example.com"),
    ("0612345678", "0612345678"), ("123", "123"), ("", None), (None, None), (True, None)])
def test_numbers_come_back_in_e164(value: Any, expected: str | None) -> None:
    assert vocab.from_messagebird(value) == expected


def test_numbers_go_without_plus() -> None:
    assert [vocab.to_messagebird(n) for n in ("+31612345678", "sip:a@b.example", "+abc")] == [
        "31612345678", "sip:a@b.example", "+abc"]


@pytest.mark.parametrize(("value", "expected"), [
    (True, True), (False, False), ("false", False), ("TRUE", True), (" true ", True),
    ("no", None), (0, None), (None, None)])
def test_string_booleans(value: Any, expected: bool | None) -> None:
    assert vocab.boolean(value) == expected


@pytest.mark.parametrize(("value", "expected"), [
    (7, 7.0), (0, 0.0), (3.5, 3.5), ("12", 12.0), (-1, None), (True, None), ("x", None),
    (float("nan"), None), (float("inf"), None), (None, None)])
def test_seconds(value: Any, expected: float | None) -> None:
    assert vocab.seconds(value) == expected


@pytest.mark.parametrize(("text", "expected"), [
    ("2017-02-16T10:52:00Z", datetime(2017, 2, 16, 10, 52, tzinfo=UTC)),
    ("2017-02-16T10:52:00.1234567Z", datetime(2017, 2, 16, 10, 52, 0, 123456, tzinfo=UTC)),
    ("2017-02-16T10:52:00", datetime(2017, 2, 16, 10, 52, tzinfo=UTC)),
    ("2017-02-16T12:52:00+02:00", datetime(2017, 2, 16, 10, 52, tzinfo=UTC)),
    (None, None), ("", None), ("yesterday", None), (1487242320, None), ("9" * 80, None)])
def test_parse_time(text: Any, expected: datetime | None) -> None:
    assert vocab.parse_time(text) == expected


def test_format_time() -> None:
    assert vocab.format_time(datetime(2024, 5, 1, 14, 0, 0, 999, tzinfo=timezone(
        timedelta(hours=2)))) == "2024-05-01T12:00:00Z"
    assert vocab.format_time(datetime(2024, 5, 1, 12, 0)) == "2024-05-01T12:00:00Z"


# Envelope and paging --------------------------------------------------------------------------


def test_envelopes() -> None:
    assert first({"data": [{"id": "a"}, {"id": "b"}]}, "x") == {"id": "a"}
    assert first({"id": "bare"}, "x") == {"id": "bare"}  # the tutorial shows bare objects
    assert items({"data": None}) == []
    for bad in ({"data": []}, {"data": "x"}, [], {"data": [1]}):
        with pytest.raises(BadPayload):
            first(bad, "x")
    with pytest.raises(BadPayload, match="errors"):
        items({"data": [], "errors": [{"code": 1, "message": "boom"}]})


@pytest.mark.parametrize(("pagination", "page", "count", "expected"), [
    ({"currentPage": 1, "pageCount": 2}, 1, 10, "2"),
    ({"currentPage": 2, "pageCount": 2}, 2, 10, None),
    ({"totalCount": 0, "pageCount": 0, "currentPage": 0, "perPage": 0}, 1, 10, "2"),
    ({"totalCount": 0, "pageCount": 0, "currentPage": 0, "perPage": 0}, 1, 3, None),
    (None, 4, 10, "5"), (None, 4, 9, None), ({"pageCount": "2"}, 1, 0, None),
    ({"pageCount": True}, 1, 10, "2")])
def test_next_page(pagination: Any, page: int, count: int, expected: str | None) -> None:
    body = {"data": []} if pagination is None else {"data": [], "pagination": pagination}
    assert next_page(body, page, 10, count) == expected


def test_the_client_pages_lazily_by_number() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        page = int(request.url.params["page"])
        asked.append(request.url.params["page"])
        data = [{"id": f"c{page}-{i}", "status": "ended"} for i in range(2)]
        return httpx.Response(200, json={"data": data, "pagination": {
            "totalCount": 6, "pageCount": 3, "currentPage": page, "perPage": 2}})

    with voice(handler) as v:
        pager = v.calls.list(page_size=2)
        assert asked == []
        assert [c.id for c in pager] == ["c1-0", "c1-1", "c2-0", "c2-1", "c3-0", "c3-1"]
        assert asked == ["1", "2", "3"]
        assert len(list(v.calls.list(page_size=2, limit=3))) == 3


def test_the_recordings_walk() -> None:
    p = provider()
    legs = {"data": [{"id": "l1"}, {"id": "l2"}], "pagination": {"currentPage": 1,
                                                                  "pageCount": 2}}
    page: Page[Recording] = answer(p.list_recordings("c1", None, 1), legs)
    assert page.items == [] and page.next_cursor is not None
    walk = RecordingsWalk.decode(page.next_cursor, "c1")
    assert (walk.legs, walk.index, walk.page, walk.more_legs) == (("l1", "l2"), 0, 1, True)
    op = p.list_recordings("c1", page.next_cursor, 1)
    assert op.request.url.path == "/calls/c1/legs/l1/recordings"
    rec = {"id": "r1", "legId": "l1", "status": "done", "duration": 3}
    more = answer(op, {"data": [rec], "pagination": {"currentPage": 1, "pageCount": 2}})
    assert [(r.id, r.call_id) for r in more.items] == [("r1", "c1")]
    assert RecordingsWalk.decode(more.next_cursor, "c1").page == 2
    last_of_leg = answer(p.list_recordings("c1", more.next_cursor, 1),
                         {"data": [], "pagination": {"currentPage": 2, "pageCount": 2}})
    nxt = RecordingsWalk.decode(last_of_leg.next_cursor, "c1")
    assert (nxt.index, nxt.page) == (1, 1)
    after_last_leg = answer(p.list_recordings("c1", last_of_leg.next_cursor, 1),
                            {"data": [], "pagination": {"pageCount": 0}})
    legs_again = RecordingsWalk.decode(after_last_leg.next_cursor, "c1")
    assert (legs_again.legs, legs_again.legs_page) == (None, 2)
    assert p.list_recordings("c1", after_last_leg.next_cursor, 1).request.url.query == (
        b"page=2&perPage=50")
    none: Page[Recording] = answer(p.list_recordings("c1", None, 10), {"data": []})
    assert none.next_cursor is None  # a call without legs has no recordings


@pytest.mark.parametrize("cursor", [
    "garbage", "mb1.", "mb1.e30", "2", RecordingsWalk("other-call").encode(),
    RecordingsWalk("c1", legs=("l1",), index=3).encode(),
    "mb1." + "A" * 9000])
def test_a_recordings_cursor_must_be_this_calls(cursor: str) -> None:
    with pytest.raises(InvalidArguments, match="cursor"):
        provider().list_recordings("c1", cursor, 10)


def test_the_client_walks_every_leg_for_recordings() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.url.path)
        if request.url.path.endswith("/legs"):
            return httpx.Response(200, json={"data": [{"id": "l1"}, {"id": "l2"}]})
        leg = request.url.path.split("/")[4]
        return httpx.Response(200, json={"data": [{"id": f"r-{leg}", "legId": leg}]})

    with voice(handler) as v:
        recs = list(v.recordings.list(call_id="c1"))
    assert [r.id for r in recs] == ["r-l1", "r-l2"]
    assert asked == ["/calls/c1/legs", "/calls/c1/legs/l1/recordings",
                     "/calls/c1/legs/l2/recordings"]


# Parsers: every REST sample -----------------------------------------------------------------


PARSERS: dict[str, Callable[[Any], Any]] = {
    "py_call_create_response.json": lambda d: parse_call(first(d, "x")),
    "py_call_get_200.json": lambda d: parse_call(first(d, "x")),
    "seed_call_object.json": lambda d: parse_call(first(d, "x")),
    "py_calls_list_paginated.json": lambda d: [parse_call(i) for i in items(d)],
    "seed_calls_list.json": lambda d: [parse_call(i) for i in items(d)],
    "java_leg_get.json": lambda d: parse_leg(first(d, "x")),
    "seed_leg_object.json": lambda d: parse_leg(first(d, "x")),
    "java_legs_list.json": lambda d: [parse_leg(i) for i in items(d)],
    "seed_legs_list.json": lambda d: [parse_leg(i) for i in items(d)],
    "go_recording_object.json": lambda d: parse_recording(first(d, "x"),
                                                          fallback_links=d["_links"]),
    "py_recording_view.json": lambda d: parse_recording(first(d, "x"),
                                                        fallback_links=d["_links"]),
    "py_recordings_list.json": lambda d: [parse_recording(i, call_id="c") for i in items(d)],
    "py_callflow_list.json": lambda d: [parse_flow(i) for i in items(d)],
    "java_callflow_view_all_options.json": lambda d: parse_flow(first(d, "x")),
    "php_callflow_create_201.json": lambda d: parse_flow(first(d, "x")),
    "go_callflow_say_pause_record.json": lambda d: parse_flow(first(d, "x")),
    "php_webhook_create_201.json": lambda d: parse_webhook(first(d, "x")),
    "php_webhook_update_200.json": lambda d: parse_webhook(first(d, "x")),
    # A callback: its payload is a call with its legs embedded.
    "seed_webhook_callUpdated.json": lambda d: with_legs(
        parse_call(d["items"][0]["payload"]),
        [parse_leg(leg) for leg in d["items"][0]["payload"]["legs"]]),
}
# Samples that are not a resource the adapter reads: request bodies and the error body.
NOT_PARSED = {"php_callflow_create_request.json": "a call-flow request (no id)",
              "seed_callflow_request_transfer_hangup.json": "a call-flow request (no id)",
              "py_error_recording_not_found.json": "an error body (test_error_details)"}


def test_every_sample_is_covered() -> None:
    names = {p.name for p in SAMPLES.glob("*.json")}
    assert names == set(PARSERS) | set(NOT_PARSED)


@pytest.mark.parametrize("name", sorted(PARSERS))
def test_every_sample_parses(name: str) -> None:
    parsed = PARSERS[name](sample(name))
    for model in parsed if isinstance(parsed, list) else [parsed]:
        assert model.provider == "messagebird" and model.id and model.raw


@pytest.mark.parametrize("name", sorted(NOT_PARSED))
def test_the_request_samples_are_no_stored_flows(name: str) -> None:
    with pytest.raises(BadPayload):
        parse_flow(sample(name))


def test_what_the_samples_say() -> None:
    created = parse_call(first(sample("py_call_create_response.json"), "x"))
    assert (created.status, created.from_, created.to, created.ended_at, created.direction) == (
        CallStatus.QUEUED, "+31644556677", "+31612345678", None, Direction.OUTBOUND)
    tutorial = parse_call(sample("seed_call_object.json"))
    assert (tutorial.direction, tutorial.from_, tutorial.to) == (Direction.INBOUND, None, None)
    no_answer = parse_call(items(sample("py_calls_list_paginated.json"))[0])
    assert (no_answer.status, no_answer.end_reason, no_answer.end_reason_raw) == (
        CallStatus.NO_ANSWER, EndReason.NO_ANSWER, "no_answer")
    leg = parse_leg(first(sample("java_leg_get.json"), "x"))
    assert (leg.from_, leg.to, leg.cost, leg.currency, leg.duration) == (
        "Heaven", "+31612345678", Decimal("0.001519"), "EUR", 7.0)
    odd = parse_leg(sample("seed_leg_object.json"))
    assert odd.ended_at is not None and odd.answered_at is not None
    assert odd.ended_at < odd.answered_at  # as the tutorial says: kept, not "fixed"
    go = parse_recording(first(sample("go_recording_object.json"), "x"),
                         fallback_links=sample("go_recording_object.json")["_links"])
    assert (go.status, go.duration, go.format, go.call_id) == (RecordingStatus.READY, 6.0,
                                                                "wav", "callid")
    flow = parse_flow(first(sample("java_callflow_view_all_options.json"), "x"))
    assert flow.document["steps"][0]["options"]["transcribe"] == "false"
    assert vocab.boolean(flow.document["steps"][0]["options"]["transcribe"]) is False
    hook = parse_webhook(first(sample("php_webhook_create_201.json"), "x"))
    assert (hook.url, hook.raw["token"], hook.events) == ("https://example.com/", "***", [])
    callback = PARSERS["seed_webhook_callUpdated.json"](sample("seed_webhook_callUpdated.json"))
    assert (callback.status, callback.direction, [x.direction for x in callback.legs]) == (
        CallStatus.IN_PROGRESS, Direction.INBOUND, [Direction.INBOUND])


def test_a_deleted_recording_reads_deleted() -> None:
    rec = parse_recording({"id": "r", "status": "done", "deletedAt": "2020-01-01T00:00:00Z"})
    assert rec.status is RecordingStatus.DELETED


def test_parse_transcription() -> None:
    rec = Recording(provider="messagebird", id="r1", call_id="c1")
    go_style = parse_transcription({"id": "t1", "recordingID": "r9", "status": "done"}, rec)
    assert (go_style.recording_id, go_style.call_id, go_style.status) == (
        "r9", "c1", TranscriptionStatus.READY)
    bare = parse_transcription({"id": "t2"}, rec)
    assert (bare.recording_id, bare.status) == ("r1", TranscriptionStatus.UNKNOWN)


# Legs -----------------------------------------------------------------------------------------


def _leg(leg_id: str, status: str, direction: str = "outgoing", *, to: str = "31612345678",
         created: str = "2024-05-01T12:00:00Z", **extra: Any) -> Any:
    return parse_leg({"id": leg_id, "callId": "c1", "status": status, "direction": direction,
                      "source": "31644556677", "destination": to, "createdAt": created,
                      **extra})


def _call(status: str, **extra: Any) -> Call:
    return parse_call({"id": "c1", "status": status, "source": "31644556677",
                       "destination": "31612345678", **extra})


def test_the_primary_leg() -> None:
    transfer = _leg("l2", "ongoing", to="31201234567", created="2024-05-01T12:00:01Z")
    mine = _leg("l1", "ongoing", created="2024-05-01T12:00:02Z")
    assert primary_leg(_call("ongoing"), [transfer, mine]).id == "l1"
    inbound = parse_call({"id": "c1", "status": "ongoing", "numberId": "n1"})
    incoming = _leg("l3", "ongoing", "incoming", created="2024-05-01T12:00:05Z")
    assert primary_leg(inbound, [transfer, incoming]).id == "l3"
    assert primary_leg(_call("ongoing"), [transfer]).id == "l2"  # none fits: the first


@pytest.mark.parametrize(("call", "leg", "status", "reason"), [
    ("ended", "hangup", CallStatus.COMPLETED, EndReason.HANGUP),
    ("ended", "busy", CallStatus.BUSY, EndReason.BUSY),
    ("ended", "no_answer", CallStatus.NO_ANSWER, EndReason.NO_ANSWER),
    ("ended", "failed", CallStatus.FAILED, EndReason.FAILED),
    ("ended", "ongoing", CallStatus.COMPLETED, EndReason.UNKNOWN),
    ("starting", "ringing", CallStatus.RINGING, None),
    ("queued", "starting", CallStatus.QUEUED, None),
    ("ongoing", "ongoing", CallStatus.IN_PROGRESS, None)])
def test_what_the_legs_tell(call: str, leg: str, status: CallStatus,
                            reason: EndReason | None) -> None:
    merged = with_legs(_call(call), [_leg("l1", leg)])
    assert (merged.status, merged.end_reason, merged.status_raw) == (status, reason, call)


def test_answer_time_and_duration_come_from_the_leg() -> None:
    leg = _leg("l1", "hangup", answeredAt="2024-05-01T12:00:05Z",
               endedAt="2024-05-01T12:00:47Z")
    merged = with_legs(_call("ended", endedAt="2024-05-01T12:00:48Z"), [leg])
    assert merged.answered_at == datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC)
    assert (merged.duration, merged.ended_at) == (42.0, datetime(2024, 5, 1, 12, 0, 48,
                                                                 tzinfo=UTC))
    stated = with_legs(_call("ended"), [_leg("l1", "hangup", duration=40,
                                             answeredAt="2024-05-01T12:00:05Z",
                                             endedAt="2024-05-01T12:00:47Z")])
    assert (stated.duration, stated.ended_at) == (40.0, datetime(2024, 5, 1, 12, 0, 47,
                                                                 tzinfo=UTC))
    backwards = with_legs(_call("ended"), [_leg("l1", "hangup", answeredAt="2024-05-01T12:00:30Z",
                                                endedAt="2024-05-01T12:00:04Z")])
    assert backwards.duration is None
    assert with_legs(_call("ended"), []).legs == []


def test_call_legs_reads_every_page() -> None:
    call = _call("ended")
    pages = {1: {"data": [{"id": "l1", "status": "hangup", "destination": "31612345678"}],
                 "pagination": {"currentPage": 1, "pageCount": 2}},
             2: {"data": [{"id": "l2", "status": "hangup", "destination": "31201234567"}],
                 "pagination": {"currentPage": 2, "pageCount": 2}}}

    def handler(request: httpx.Request) -> httpx.Response:
        assert request.url.path == "/calls/c1/legs"
        return httpx.Response(200, json=pages[int(request.url.params["page"])],
                              request=request)

    op = provider().call_legs(call)
    merged = run_chain(op, handler) if CHAINS else op.parse(handler(op.request))
    assert [leg.id for leg in merged.legs] == (["l1", "l2"] if CHAINS else ["l1"])
    assert all(leg.call_id == "c1" for leg in merged.legs)  # the call it was listed under
    assert merged.end_reason is EndReason.HANGUP


def test_get_call_follows_with_its_legs_where_the_core_can() -> None:
    op = provider().get_call("c1")
    assert (getattr(op, "then", None) is not None) is CHAINS
    if not CHAINS:
        return

    def handler(request: httpx.Request) -> httpx.Response:
        if request.url.path == "/calls/c1":
            return httpx.Response(200, json={"data": [{"id": "c1", "status": "ongoing",
                                                       "destination": "31612345678"}]})
        return httpx.Response(200, json={"data": [{"id": "l1", "status": "ongoing",
                                                   "destination": "31612345678",
                                                   "answeredAt": "2024-05-01T12:00:05Z"}]})

    call = run_chain(op, handler)
    assert ([leg.id for leg in call.legs], call.answered_at) == (
        ["l1"], datetime(2024, 5, 1, 12, 0, 5, tzinfo=UTC))


def test_follow_without_core_support_is_the_operation_alone() -> None:
    op = provider().hangup_call("c1")
    followed = follow(op, lambda result: None)
    assert (followed is op) is not CHAINS


# Transcriptions ------------------------------------------------------------------------------


def test_the_latest_transcription_and_its_text() -> None:
    rec = Recording(provider="messagebird", id="r1", call_id="c1")
    op = provider().get_transcription(rec)
    listed = {"data": [
        {"id": "t-new", "status": "done", "createdAt": "2024-05-01T12:00:09Z"},
        {"id": "t-old", "status": "failed", "createdAt": "2024-05-01T12:00:01Z"},
        {"id": "t-undated", "status": "created"}]}
    latest = answer(op, listed)
    assert (latest.id, latest.status, latest.call_id) == ("t-new", TranscriptionStatus.READY,
                                                          "c1")
    text_op = provider().transcription_text(latest)
    assert (text_op.request.url.path, text_op.request.headers["accept"]) == (
        "/transcriptions/t-new.txt", "text/plain")
    read = text_op.parse(httpx.Response(200, text="  Hello there.\n", request=text_op.request))
    assert (read.id, read.text) == ("t-new", "Hello there.")
    blank = text_op.parse(httpx.Response(200, text=" \n", request=text_op.request))
    assert blank.text is None
    with pytest.raises(NotFound, match="no transcription"):
        answer(op, {"data": []})
    if CHAINS:
        assert op.then(latest) is not None  # type: ignore[attr-defined]
        pending = latest.model_copy(update={"status": TranscriptionStatus.PENDING})
        assert op.then(pending) is None  # type: ignore[attr-defined]


def test_the_created_transcription() -> None:
    rec = Recording(provider="messagebird", id="r1", call_id="c1")
    op = provider().create_transcription(rec, "en-US")
    made = answer(op, {"data": [{"id": "t1", "recordingId": "r1", "status": "created"}]}, 201)
    assert (made.id, made.status, made.text) == ("t1", TranscriptionStatus.PENDING, None)


# Reconciling a create whose answer was lost ----------------------------------------------------


def _item(call_id: str, *, destination: str = "31612345678", source: str | None = "31644556677",
          created: str = "2024-05-01T11:59:30Z") -> dict[str, Any]:
    item = {"id": call_id, "status": "queued", "destination": destination,
            "createdAt": created}
    if source is not None:
        item["source"] = source
    return item


def _lookup(page: dict[str, Any], tag: str = "uv-1") -> Any:
    op = provider().create_call(create(tag=tag))
    assert op.reconcile is not None
    lookup = op.reconcile()
    assert (lookup.request.method, lookup.request.url.path, lookup.request.url.query) == (
        "GET", "/calls", b"page=1&perPage=50")
    return lookup.parse(httpx.Response(200, json=page, request=lookup.request))


def test_a_lost_create_is_found_by_destination_source_and_time() -> None:
    found = _lookup({"data": [
        _item("mine"), _item("other-number", destination="31201234567"),
        _item("other-source", source="31970000000"),
        _item("too-old", created="2024-05-01T11:50:00Z")]})
    assert (found.id, found.tag, found.to) == ("mine", "uv-1", TO)
    assert _lookup({"data": [_item("no-source", source=None)]}).id == "no-source"


def test_a_lost_create_not_there_is_none() -> None:
    assert _lookup({"data": [_item("other", destination="31201234567"),
                             {"id": "inbound", "numberId": "n1", "status": "ended"}]}) is None
    assert _lookup({"data": []}) is None


def test_two_candidates_are_ambiguous_not_guessed() -> None:
    with pytest.raises(AmbiguousCreate, match="2 calls") as failure:
        _lookup({"data": [_item("a"), _item("b", created="2024-05-01T11:59:50Z")]}, tag="t-9")
    assert failure.value.tag == "t-9"


def test_more_pages_are_ambiguous_unless_the_page_reaches_past_the_window() -> None:
    more = {"currentPage": 1, "pageCount": 3}
    with pytest.raises(AmbiguousCreate, match="first page"):
        _lookup({"data": [_item("mine")], "pagination": more})
    with pytest.raises(AmbiguousCreate):  # oldest first: later pages could be newer
        _lookup({"data": [_item("old", destination="3120", created="2024-05-01T10:00:00Z"),
                          _item("mine")], "pagination": more})
    found = _lookup({"data": [_item("mine"), _item("old", destination="3120",
                                                   created="2024-05-01T10:00:00Z")],
                     "pagination": more})
    assert found.id == "mine"


def test_the_transport_finds_the_lost_create() -> None:
    asked: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        asked.append(request.method)
        if request.method == "POST":
            return httpx.Response(502, content=b"<html>Bad Gateway</html>")
        return httpx.Response(200, json={"data": [_item("mine")]})

    with voice(handler) as v:
        v.provider.clock = lambda: NOW  # type: ignore[attr-defined]
        call = v.calls.create(TO, FROM, flow=GREETING)
    assert (call.id, asked) == ("mine", ["POST", "GET"])


def test_a_created_call_whose_answer_is_unreadable_is_looked_up() -> None:
    def handler(request: httpx.Request) -> httpx.Response:
        if request.method == "POST":
            return httpx.Response(201, content=b"{oops")
        return httpx.Response(200, json={"data": [_item("mine")]})

    with voice(handler) as v:
        v.provider.clock = lambda: NOW  # type: ignore[attr-defined]
        assert v.calls.create(TO, FROM, flow=GREETING).id == "mine"
