"""The pure parts of the Bandwidth REST adapter: request bodies, vocabularies, parsers,
paging, reconciliation, auth; over ``httpx.MockTransport`` (no socket)."""

from __future__ import annotations

import asyncio
import base64
import json
from collections.abc import Callable
from datetime import UTC, datetime, timedelta, timezone
from pathlib import Path
from typing import Any
from urllib.parse import parse_qs

import httpx
import pytest

from univoice import AsyncVoice, Voice
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
    Conference,
    ConferenceStatus,
    Direction,
    EndReason,
    Page,
    Recording,
    RecordingStatus,
    Transcription,
    TranscriptionStatus,
)
from univoice.params import (
    CallFilters,
    ConferenceFilters,
    CreateCall,
    MemberUpdate,
    UpdateCall,
    UpdateConference,
)
from univoice.retry import NO_RETRY, RetryPolicy
from univoice.transport import HttpSettings, SyncTransport
from univoice_bandwidth import vocab
from univoice_bandwidth.auth import BasicAuth, OAuth2ClientCredentials, api_auth
from univoice_bandwidth.operations import (
    parse_call,
    parse_conference,
    parse_created_call,
    parse_recording,
)
from univoice_bandwidth.provider import BandwidthProvider
from univoice_bandwidth.settings import BandwidthSettings

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / (
    "bandwidth/rest")
API = "https://voice.bandwidth.com/api/v2/accounts/9900000"
APP = "04e88489-df02-4e34-a0ee-27a91849555f"
FROM, TO = "+19195550100", "+19195550199"
PASSWORD = "api-Passw0rd-never-shown"
CLIENT_SECRET = "oauth-Cl1ent-secret-never-shown"
CALLBACK_PASSWORD = "cb-Passw0rd-never-shown"
SECRETS = (PASSWORD, CLIENT_SECRET, CALLBACK_PASSWORD)
ANSWER = "https://app.example/answer"
FLOW_URL = "https://voice-app.example/univoice/bandwidth/flow/abc/start"
EVENTS_URL = "https://voice-app.example/univoice/bandwidth/events"
NOW = datetime(2024, 5, 1, 12, 0, 0, tzinfo=UTC)
FLOW = Flow.from_dict({"steps": [{"say": "Hello."}, "hangup"]})
AMD_FLOW = Flow.from_dict({"machine_detection": True, "steps": [{"say": "Hello."}]})

Handler = Callable[[httpx.Request], httpx.Response]


def provider(**extra: Any) -> BandwidthProvider:
    values: dict[str, Any] = {"account_id": "9900000", "application_id": APP,
                              "username": "api-user", "password": PASSWORD, **extra}
    p = BandwidthProvider(**{k: v for k, v in values.items() if v is not None})
    p.clock = lambda: NOW
    return p


def with_callbacks(**extra: Any) -> BandwidthProvider:
    return provider(callback_username="univoice", callback_password=CALLBACK_PASSWORD, **extra)


def body(op: Any) -> Any:
    return json.loads(op.request.content)


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text("utf-8"))


def call_state(**update: Any) -> dict[str, Any]:
    state: dict[str, Any] = sample("call_state_200_authored.json")
    state.update(update)
    return state


def voice(handler: Handler, *, retry: RetryPolicy = NO_RETRY, **extra: Any) -> Voice:
    p = provider(**extra)
    return Voice(p, http=HttpSettings(retry=retry),
                 client=httpx.Client(transport=httpx.MockTransport(handler)))


def respond(status: int, payload: Any = None, *, content: bytes | None = None,
            headers: dict[str, str] | None = None) -> Handler:
    def handler(request: httpx.Request) -> httpx.Response:
        if content is not None:
            return httpx.Response(status, content=content, headers=headers)
        return httpx.Response(status, json=payload, headers=headers)

    return handler


# Request bodies -----------------------------------------------------------------------------


def test_create_call_with_an_answer_url() -> None:
    op = provider().create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER,
                                           ring_timeout=45, tag="t-1"))
    assert (op.request.method, str(op.request.url)) == ("POST", f"{API}/calls")
    assert op.request.headers["content-type"] == "application/json"
    assert "authorization" not in op.request.headers  # the transport adds it
    assert body(op) == {"from": FROM, "to": TO, "applicationId": APP, "answerUrl": ANSWER,
                        "callTimeout": 45, "tag": "t-1"}
    assert (op.creates, op.tag, op.reconcile is not None) == (True, "t-1", True)


def test_create_call_with_a_hosted_flow_and_machine_detection() -> None:
    params = CreateCall(to=TO, from_=FROM, flow=AMD_FLOW, tag="t-2", ring_timeout=12.5,
                        flow_url=FLOW_URL, events_url=EVENTS_URL)
    assert body(with_callbacks().create_call(params)) == {
        "from": FROM, "to": TO, "applicationId": APP, "answerUrl": FLOW_URL,
        "disconnectUrl": EVENTS_URL, "username": "univoice", "password": CALLBACK_PASSWORD,
        "callTimeout": 12.5, "tag": "t-2", "machineDetection": {"mode": "sync"}}


def test_create_call_with_async_machine_detection_reports_to_the_events_url() -> None:
    params = CreateCall(to=TO, from_=FROM, answer_url=ANSWER, machine_detection=True,
                        events_url=EVENTS_URL)
    sent = body(with_callbacks().create_call(params))
    assert sent["disconnectUrl"] == EVENTS_URL
    assert sent["machineDetection"] == {"mode": "async", "callbackUrl": EVENTS_URL,
                                        "username": "univoice", "password": CALLBACK_PASSWORD}


def test_create_call_prefers_the_callers_callback_url() -> None:
    params = CreateCall(to=TO, from_=FROM, answer_url=ANSWER, events_url=EVENTS_URL,
                        callback_url="https://mine.example/events")
    sent = body(provider().create_call(params))  # no univoice URL handed out: no creds needed
    assert sent["disconnectUrl"] == "https://mine.example/events"
    assert "username" not in sent


@pytest.mark.parametrize(("params", "match"), [
    (CreateCall(to=TO, from_=FROM, flow=FLOW, flow_url=FLOW_URL, events_url=EVENTS_URL),
     "callback_username and callback_password"),
    (CreateCall(to=TO, from_=FROM, answer_url=ANSWER, events_url=EVENTS_URL),
     "callback_username and callback_password"),
    (CreateCall(to=TO, from_=FROM, flow=FLOW), "public_url"),
])
def test_create_call_config_errors(params: CreateCall, match: str) -> None:
    with pytest.raises(ConfigError, match=match) as failure:
        provider().create_call(params)
    assert not any(secret in str(failure.value) for secret in SECRETS)


def test_create_call_needs_the_application_id() -> None:
    with pytest.raises(ConfigError, match="application_id"):
        provider(application_id=None).create_call(CreateCall(to=TO, from_=FROM,
                                                             answer_url=ANSWER))


@pytest.mark.parametrize(("options", "feature"), [
    ({"max_duration": 600}, "calls.create.max_duration"),
    ({"record": True}, "calls.create.record"),
])
def test_create_call_refuses_what_bandwidth_lacks(options: dict[str, Any], feature: str
                                                  ) -> None:
    with pytest.raises(UnsupportedFeature) as failure:
        provider().create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER, **options))
    assert failure.value.feature == feature
    assert failure.value.detail


@pytest.mark.parametrize("seconds", [0.5, 0.99])
def test_create_call_ring_timeout_within_bandwidths_range(seconds: float) -> None:
    with pytest.raises(InvalidArguments, match="ring_timeout"):
        provider().create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER,
                                          ring_timeout=seconds))


def test_update_call_bodies() -> None:
    p, cb = provider(), with_callbacks()
    redirect = p.update_call("c-1", UpdateCall(redirect_url=ANSWER))
    assert (redirect.request.method, str(redirect.request.url)) == ("POST", f"{API}/calls/c-1")
    assert body(redirect) == {"state": "active", "redirectUrl": ANSWER}
    hosted = cb.update_call("c-1", UpdateCall(flow=FLOW, flow_url=FLOW_URL,
                                              events_url=EVENTS_URL))
    assert body(hosted) == {"state": "active", "redirectUrl": FLOW_URL, "username": "univoice",
                            "password": CALLBACK_PASSWORD}
    with pytest.raises(ConfigError, match="callback_username"):
        p.update_call("c-1", UpdateCall(flow=FLOW, flow_url=FLOW_URL, events_url=EVENTS_URL))
    with pytest.raises(ConfigError, match="public_url"):
        p.update_call("c-1", UpdateCall(flow=FLOW))
    assert body(p.hangup_call("c-1")) == {"state": "completed"}


def test_ids_are_quoted_into_paths() -> None:
    op = provider().get_call("c-1?x=#y")
    assert op.request.url.raw_path.endswith(b"/calls/c-1%3Fx%3D%23y")
    assert not op.request.url.query


def test_recording_bodies_and_paths() -> None:
    p = provider()
    rec = Recording(provider="bandwidth", id="r-1", call_id="c-1")
    assert str(p.get_recording("r-1", "c-1").request.url) == f"{API}/calls/c-1/recordings/r-1"
    download = p.download_recording(rec)
    assert (str(download.request.url), download.stream) == (
        f"{API}/calls/c-1/recordings/r-1/media", True)
    assert p.delete_recording(rec).request.method == "DELETE"
    assert str(p.list_recordings(None, None, 50).request.url) == f"{API}/recordings"
    assert str(p.list_recordings("c-1", None, 50).request.url) == f"{API}/calls/c-1/recordings"
    assert body(p.create_transcription(rec, None)) == {}
    assert body(p.create_transcription(rec, "en-GB")) == {}
    assert body(p.create_transcription(rec, "fr")) == {"detectLanguage": True}
    with pytest.raises(UnsupportedFeature, match=r"transcriptions\.language"):
        p.create_transcription(rec, "de-DE")


def test_recordings_need_their_call() -> None:
    p = provider()
    orphan = Recording(provider="bandwidth", id="r-1")
    for build in (lambda: p.get_recording("r-1", None), lambda: p.delete_recording(orphan),
                  lambda: p.get_transcription(orphan), lambda: p.download_recording(orphan)):
        with pytest.raises(InvalidArguments, match="call_id"):
            build()
    elsewhere = orphan.model_copy(update={"media_url": "https://evil.example/media"})
    with pytest.raises(InvalidArguments):  # credentials never go to a foreign media URL
        p.download_recording(elsewhere)
    conference = orphan.model_copy(update={
        "media_url": f"{API}/conferences/conf-1/recordings/r-1/media"})
    assert str(p.download_recording(conference).request.url) == conference.media_url


def test_conference_bodies() -> None:
    p, cb = provider(), with_callbacks()
    assert body(p.update_conference("conf-1", UpdateConference(status="completed"))) == {
        "status": "completed"}
    assert body(cb.update_conference("conf-1", UpdateConference(redirect_url=ANSWER))) == {
        "status": "active", "redirectUrl": ANSWER, "username": "univoice",
        "password": CALLBACK_PASSWORD}
    member = p.update_member("conf-1", "c-1", MemberUpdate(on_hold=True))
    assert (member.request.method, str(member.request.url), body(member)) == (
        "PUT", f"{API}/conferences/conf-1/members/c-1", {"hold": True})
    assert body(p.update_member("conf-1", "c-1", MemberUpdate())) == {}
    assert str(p.list_members("conf-1", None, 50).request.url) == f"{API}/conferences/conf-1"


def test_list_queries() -> None:
    p = provider()
    filters = CallFilters(to=TO, created_after=datetime(2024, 5, 1, 13, 0, tzinfo=timezone(
        timedelta(hours=2))), created_before=datetime(2024, 5, 2))
    query = parse_qs(p.list_calls(filters, None, 100).request.url.query.decode())
    assert query == {"to": [TO], "minStartTime": ["2024-05-01T11:00:00.000Z"],
                     "maxStartTime": ["2024-05-02T00:00:00.000Z"], "pageSize": ["100"]}
    confs = p.list_conferences(ConferenceFilters(name="room"), None, 10).request
    assert parse_qs(confs.url.query.decode()) == {"name": ["room"], "pageSize": ["10"]}


@pytest.mark.parametrize("filters", [{"status": "completed"}, {"tag": "t-1"}])
def test_list_calls_refuses_filters_bandwidth_lacks(filters: dict[str, Any]) -> None:
    with pytest.raises(UnsupportedFeature, match="to, from and start time"):
        provider().list_calls(CallFilters(**filters), None, 50)


@pytest.mark.parametrize("cursor", [
    "https://evil.example/api/v2/accounts/9900000/calls?pageToken=x",
    "http://voice.bandwidth.com/api/v2/accounts/9900000/calls?pageToken=x",
    "https://voice.bandwidth.com/api/v2/accounts/1234567/calls?pageToken=x",
])
def test_a_cursor_must_lead_to_this_accounts_api(cursor: str) -> None:
    with pytest.raises(InvalidArguments, match="cursor"):
        provider().list_calls(CallFilters(), cursor, 50)


# Secrets -------------------------------------------------------------------------------------


def test_no_secret_in_reprs() -> None:
    oauth = provider(username=None, password=None, client_id="client",
                     client_secret=CLIENT_SECRET, callback_username="u",
                     callback_password=CALLBACK_PASSWORD)
    shown = [repr(oauth), repr(oauth.settings), str(oauth.settings), repr(oauth.auth()),
             repr(provider().auth()), repr(Voice(oauth))]
    for text in shown:
        assert not any(secret in text for secret in SECRETS), text
    # The settings' secrets, and each pair's HTTP Basic token (an echoed Authorization
    # header is masked too); tokens join as they are fetched.
    assert set(oauth.secrets()) == {CLIENT_SECRET, CALLBACK_PASSWORD, base64.b64encode(
        f"client:{CLIENT_SECRET}".encode()).decode(), base64.b64encode(
        f"u:{CALLBACK_PASSWORD}".encode()).decode()}


def test_no_secret_in_errors_or_the_raw_body() -> None:
    echo = {"type": "authentication-error", "description": f"bad password {PASSWORD}",
            "password": PASSWORD}
    with voice(respond(401, echo)) as v, pytest.raises(AuthenticationError) as failure:
        v.calls.get("c-1")
    assert PASSWORD not in str(failure.value)
    assert PASSWORD not in json.dumps(failure.value.raw)
    assert failure.value.code == "authentication-error"


def test_callback_password_echoed_in_a_created_call_is_not_kept() -> None:
    created = {"callId": "c-1", "to": TO, "from": FROM, "password": CALLBACK_PASSWORD,
               "fallbackPassword": "*****"}
    call = parse_created_call(created)
    assert CALLBACK_PASSWORD not in json.dumps(call.raw)


def test_missing_api_credentials_name_the_settings() -> None:
    with pytest.raises(ConfigError) as failure:
        Voice("bandwidth", account_id="9900000", callback_username="u",
              callback_password=CALLBACK_PASSWORD)
    message = str(failure.value)
    for name in ("client_id", "client_secret", "username", "password"):
        assert name in message
    assert CALLBACK_PASSWORD not in message


def test_auth_kinds() -> None:
    basic = api_auth(BandwidthSettings(account_id="1", username="u", password=PASSWORD))
    assert isinstance(basic, BasicAuth)
    request = next(basic.auth_flow(httpx.Request("GET", API)))
    assert request.headers["authorization"] == "Basic " + base64.b64encode(
        f"u:{PASSWORD}".encode()).decode()
    oauth = api_auth(BandwidthSettings(account_id="1", client_id="c",
                                       client_secret=CLIENT_SECRET))
    assert isinstance(oauth, OAuth2ClientCredentials)


# Errors --------------------------------------------------------------------------------------


@pytest.mark.parametrize(("status", "error"), [
    (400, InvalidRequest), (401, AuthenticationError), (403, AuthenticationError),
    (404, NotFound), (409, InvalidRequest), (415, InvalidRequest), (429, RateLimited),
    (500, ServerError), (503, ServerError),
])
def test_error_statuses_map_to_typed_errors(status: int, error: type[ProviderError]) -> None:
    payload = {"type": "validation", "description": "Call [c-1] not found", "id": "e-42"}
    with voice(respond(status, payload)) as v, pytest.raises(error) as failure:
        v.calls.get("c-1")
    assert (failure.value.status, failure.value.code, failure.value.request_id) == (
        status, "validation", "e-42")
    assert failure.value.provider_message == "Call [c-1] not found"


def test_error_without_a_json_body_uses_the_reason_phrase() -> None:
    html = b"<html><body>502 Bad Gateway</body></html>"
    with voice(respond(502, content=html)) as v, pytest.raises(ServerError) as failure:
        v.calls.get("c-1")
    assert failure.value.provider_message == "Bad Gateway"
    assert "502 Bad Gateway" in failure.value.raw


# Malformed answers ------------------------------------------------------------------------


@pytest.mark.parametrize("answer", [
    b"<html>maintenance</html>",
    b"",
    b'{"state": "answered"}',
    b'{"callId": 42}',
    b'["c-1"]',
    b"null",
])
def test_a_malformed_call_is_a_provider_error_keeping_the_body(answer: bytes) -> None:
    with voice(respond(200, content=answer)) as v, pytest.raises(ProviderError) as failure:
        v.calls.get("c-1")
    assert type(failure.value) is ProviderError
    assert failure.value.status == 200
    assert failure.value.raw == answer.decode()
    assert failure.value.operation == "calls.get"


@pytest.mark.parametrize("answer", [b'{"calls": []}', b"[1, 2]", b'[{"state": "queued"}]'])
def test_a_malformed_list_is_a_provider_error(answer: bytes) -> None:
    with voice(respond(200, content=answer)) as v, pytest.raises(ProviderError) as failure:
        list(v.calls.list())
    assert failure.value.raw == answer.decode()


@pytest.mark.parametrize(("build", "answer"), [
    (lambda p: p.get_recording("r-1", "c-1"), {"callId": "c-1"}),
    (lambda p: p.get_conference("conf-1"), {"name": "no id"}),
    (lambda p: p.get_conference("conf-1"), {"id": "conf-1", "activeMembers": [{"mute": 1}]}),
    (lambda p: p.get_conference("conf-1"), {"id": "conf-1", "activeMembers": {"x": 1}}),
    (lambda p: p.get_transcription(Recording(provider="bandwidth", id="r", call_id="c")),
     {"transcripts": "text"}),
    (lambda p: p.list_recordings("c-1", None, 5), {"recordings": []}),
])
def test_malformed_resources_are_provider_errors(build: Callable[[Any], Any],
                                                 answer: Any) -> None:
    p = provider()
    transport = SyncTransport(p, HttpSettings(retry=NO_RETRY), client=httpx.Client(
        transport=httpx.MockTransport(respond(200, answer))))
    with pytest.raises(ProviderError) as failure:
        transport.run(build(p))
    assert type(failure.value) is ProviderError
    assert json.loads(failure.value.raw) == answer


# Vocabularies -------------------------------------------------------------------------------


@pytest.mark.parametrize(("state", "cause", "status", "reason"), [
    ("queued", None, CallStatus.QUEUED, None),
    ("initiated", None, CallStatus.INITIATED, None),
    ("answered", None, CallStatus.IN_PROGRESS, None),
    ("disconnected", "hangup", CallStatus.COMPLETED, EndReason.HANGUP),
    ("disconnected", "busy", CallStatus.BUSY, EndReason.BUSY),
    ("disconnected", "timeout", CallStatus.NO_ANSWER, EndReason.NO_ANSWER),
    ("disconnected", "cancel", CallStatus.CANCELED, EndReason.HANGUP),
    ("disconnected", "rejected", CallStatus.BUSY, EndReason.BUSY),
    ("disconnected", "callback-error", CallStatus.FAILED, EndReason.FAILED),
    ("disconnected", "invalid-bxml", CallStatus.FAILED, EndReason.FAILED),
    ("disconnected", "application-error", CallStatus.FAILED, EndReason.FAILED),
    ("disconnected", "account-limit", CallStatus.FAILED, EndReason.FAILED),
    ("disconnected", "node-capacity-exceeded", CallStatus.FAILED, EndReason.FAILED),
    ("disconnected", "error", CallStatus.FAILED, EndReason.FAILED),
    ("disconnected", "unknown", CallStatus.FAILED, EndReason.FAILED),
    # A cause no table knows: the call has ended all the same.
    ("disconnected", "solar-flare", CallStatus.COMPLETED, EndReason.UNKNOWN),
    ("disconnected", None, CallStatus.COMPLETED, None),
    # A state no table knows: UNKNOWN, unless a cause says the call ended.
    ("teleporting", None, CallStatus.UNKNOWN, None),
    ("completed", "busy", CallStatus.BUSY, EndReason.BUSY),
    (None, None, CallStatus.UNKNOWN, None),
    (42, None, CallStatus.UNKNOWN, None),
])
def test_call_status_table(state: Any, cause: Any, status: CallStatus,
                           reason: EndReason | None) -> None:
    assert vocab.call_status(state, cause) == (status, reason)


def test_unknown_words_keep_the_raw_value() -> None:
    call = parse_call(call_state(state="teleporting", disconnectCause=None))
    assert (call.status, call.status_raw) == (CallStatus.UNKNOWN, "teleporting")
    ended = parse_call(call_state(disconnectCause="solar-flare"))
    assert (ended.end_reason, ended.end_reason_raw, ended.finished) == (
        EndReason.UNKNOWN, "solar-flare", True)
    rec = parse_recording({"recordingId": "r-1", "status": "shredded"})
    assert (rec.status, rec.raw["status"]) == (RecordingStatus.UNKNOWN, "shredded")


@pytest.mark.parametrize(("word", "status"), [
    ("processing", RecordingStatus.PROCESSING), ("partial", RecordingStatus.READY),
    ("complete", RecordingStatus.READY), ("completed", RecordingStatus.READY),
    ("deleted", RecordingStatus.DELETED), ("error", RecordingStatus.FAILED),
    ("new-word", RecordingStatus.UNKNOWN), (None, RecordingStatus.UNKNOWN),
])
def test_recording_status_table(word: Any, status: RecordingStatus) -> None:
    assert vocab.recording_status(word) is status


@pytest.mark.parametrize(("word", "status"), [
    ("none", TranscriptionStatus.UNKNOWN), ("processing", TranscriptionStatus.PENDING),
    ("available", TranscriptionStatus.READY), ("completed", TranscriptionStatus.READY),
    ("error", TranscriptionStatus.FAILED), ("timeout", TranscriptionStatus.FAILED),
    ("file-size-too-big", TranscriptionStatus.FAILED),
    ("file-size-too-small", TranscriptionStatus.FAILED),
    ("new-word", TranscriptionStatus.UNKNOWN), (7, TranscriptionStatus.UNKNOWN),
])
def test_transcription_status_table(word: Any, status: TranscriptionStatus) -> None:
    assert vocab.transcription_status(word) is status


@pytest.mark.parametrize(("word", "result"), [
    ("answering-machine", "machine"), ("human", "human"), ("silence", "unknown"),
    ("timeout", "unknown"), ("error", "unknown"), ("fax", "unknown"), (None, "unknown"),
])
def test_machine_detection_results(word: Any, result: str) -> None:
    assert vocab.machine_result(word) == result


def test_cause_helpers() -> None:
    assert vocab.end_reason("timeout") is EndReason.NO_ANSWER
    assert vocab.end_reason("?") is EndReason.UNKNOWN
    assert vocab.cause_status("cancel") is CallStatus.CANCELED
    assert vocab.cause_status(None) is CallStatus.UNKNOWN


# Timestamps and durations --------------------------------------------------------------------


@pytest.mark.parametrize(("text", "expected"), [
    ("2022-06-16T13:15:07.160Z", datetime(2022, 6, 16, 13, 15, 7, 160000, tzinfo=UTC)),
    ("2019-09-13T16:49:40.500", datetime(2019, 9, 13, 16, 49, 40, 500000, tzinfo=UTC)),
    ("2019-09-13-16:48:27.198Z", datetime(2019, 9, 13, 16, 48, 27, 198000, tzinfo=UTC)),
    ("2022-06-16T15:15:07+02:00", datetime(2022, 6, 16, 13, 15, 7, tzinfo=UTC)),
    ("2022-06-16T13:15:07.123456789Z", datetime(2022, 6, 16, 13, 15, 7, 123456, tzinfo=UTC)),
    ("2022-06-16", datetime(2022, 6, 16, tzinfo=UTC)),
    ("yesterday", None), ("", None), ("2022-13-45T99:00:00Z", None), (None, None),
    (1655385307, None), ("9" * 100, None),
])
def test_parse_time(text: Any, expected: datetime | None) -> None:
    assert vocab.parse_time(text) == expected


@pytest.mark.parametrize(("text", "seconds"), [
    ("PT13.67S", 13.67), ("PT4.9891287S", 4.9891287), ("PT1M2.5S", 62.5), ("PT2H", 7200.0),
    ("P1DT1S", 86401.0), ("pt3s", 3.0), (12, 12.0), (1.5, 1.5),
    ("PT", None), ("P", None), ("P1DT", None), ("13.67", None), ("PT-1S", None), (None, None),
    (True, None), (-3, None), ("", None),
])
def test_parse_duration(text: Any, seconds: float | None) -> None:
    assert vocab.parse_duration(text) == (pytest.approx(seconds) if seconds else seconds)


def test_format_time() -> None:
    assert vocab.format_time(datetime(2024, 1, 2, 3, 4, 5, 678900)) == "2024-01-02T03:04:05.678Z"


# Paging ----------------------------------------------------------------------------------------


def page(payload: Any, link: str | None) -> Any:
    op = provider().list_calls(CallFilters(), None, 2)
    headers = {"Link": link} if link else {}
    return op.parse(httpx.Response(200, json=payload, headers=headers, request=op.request))


def test_link_header_paging() -> None:
    nxt = f"{API}/calls?pageSize=2&pageToken=abc"
    first: Page[Call] = page([call_state()], f'<{nxt}>; rel="next"')
    assert first.next_cursor == nxt
    assert first.items[0].id == "c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"
    relative: Page[Call] = page([], '</api/v2/accounts/9900000/calls?pageToken=b>; '
                                          'rel="next"')
    assert relative.next_cursor == f"{API}/calls?pageToken=b"
    other_rel: Page[Call] = page([], f'<{nxt}>; rel="prev"')
    assert other_rel.next_cursor is None
    assert page([], None).next_cursor is None
    with pytest.raises(ProviderError, match="outside"):
        page([], '<https://evil.example/calls?pageToken=x>; rel="next"')


def test_the_client_follows_link_pages_lazily() -> None:
    seen: list[str] = []

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(str(request.url))
        token = request.url.params.get("pageToken")
        if token is None:
            return httpx.Response(200, json=[call_state(callId="c-1"), call_state(callId="c-2")],
                                  headers={"Link": f'<{API}/calls?pageSize=2&pageToken=p2>; '
                                                   'rel="next"'})
        return httpx.Response(200, json=[call_state(callId="c-3")])

    with voice(handler) as v:
        pager = v.calls.list(page_size=2)
        assert seen == []
        assert [c.id for c in pager] == ["c-1", "c-2", "c-3"]
    assert seen == [f"{API}/calls?pageSize=2", f"{API}/calls?pageSize=2&pageToken=p2"]


def test_recordings_and_members_are_one_page() -> None:
    with voice(respond(200, [{"recordingId": "r-1", "callId": "c-1"}],
                       headers={"Link": f'<{API}/recordings?x=1>; rel="next"'})) as v:
        assert [r.id for r in v.recordings.list()] == ["r-1"]
    with voice(respond(200, sample("conference_200_authored.json"))) as v:
        members = list(v.conferences.members("conf-1"))
    assert [m.conference_id for m in members] == [
        "conf-fe23a767-a75a5b77-20c5-4cca-b581-cbbf0776eca9"]


# Reconciling an ambiguous create ------------------------------------------------------------


def lost_create(listing: list[dict[str, Any]], *, then: int = 201) -> tuple[Any, list[str]]:
    seen: list[str] = []
    posts = iter([503, then])

    def handler(request: httpx.Request) -> httpx.Response:
        seen.append(f"{request.method} {request.url}")
        if request.method == "POST":
            status = next(posts)
            if status == 201:
                return httpx.Response(201, json={"callId": "c-new", "to": TO, "from": FROM,
                                                 "tag": "t-9"})
            return httpx.Response(status, json={"type": "system-overloaded"})
        return httpx.Response(200, json=listing)

    with voice(handler, retry=RetryPolicy(backoff=0.0)) as v:
        try:
            result: Any = v.calls.create(TO, FROM, answer_url=ANSWER, tag="t-9")
        except AmbiguousCreate as exc:
            result = exc
    return result, seen


def ours(call_id: str, **update: Any) -> dict[str, Any]:
    return call_state(callId=call_id, to=TO, **{"from": FROM.lstrip("+")},
                      direction="outbound", applicationId=APP, state="initiated", **update)


def test_a_lost_create_is_found_by_to_from_and_start_time() -> None:
    found, seen = lost_create([ours("c-placed"), {**ours("c-other"), "to": "+19195550142"},
                               {**ours("c-inbound"), "direction": "inbound"},
                               {**ours("c-elsewhere"), "applicationId": "another-app"}])
    assert isinstance(found, Call)
    assert (found.id, found.tag) == ("c-placed", "t-9")
    since = (NOW - timedelta(minutes=2)).strftime("%Y-%m-%dT%H%%3A%M%%3A%S.000Z")
    assert seen == [f"POST {API}/calls",
                    f"GET {API}/calls?to=%2B19195550199&from=%2B19195550100&minStartTime={since}"]


def test_a_lost_create_that_is_not_there_is_placed_again() -> None:
    created, seen = lost_create([])
    assert isinstance(created, Call) and created.id == "c-new"
    assert [s.split()[0] for s in seen] == ["POST", "GET", "POST"]


def test_two_candidates_are_ambiguous_not_guessed() -> None:
    failure, seen = lost_create([ours("c-a"), ours("c-b")])
    assert isinstance(failure, AmbiguousCreate)
    assert failure.tag == "t-9"
    assert "c-a" not in str(failure) and "2 calls" in str(failure)
    assert [s.split()[0] for s in seen] == ["POST", "GET"]  # never placed twice


def test_reconcile_with_more_pages_is_ambiguous() -> None:
    op = provider().create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER, tag="t"))
    assert op.reconcile is not None
    lookup = op.reconcile()
    assert lookup.parse(httpx.Response(200, json=[], request=lookup.request)) is None
    more = {"Link": f'<{API}/calls?pageToken=n>; rel="next"'}
    for listing in ([], [ours("c-a")]):
        response = httpx.Response(200, json=listing, headers=more, request=lookup.request)
        with pytest.raises(AmbiguousCreate, match="than one page"):
            lookup.parse(response)
    with pytest.raises(ProviderError):
        lookup.parse(httpx.Response(200, json={"calls": []}, request=lookup.request))


# OAuth2 ----------------------------------------------------------------------------------------


class Clock:
    def __init__(self) -> None:
        self.now = 1000.0

    def __call__(self) -> float:
        return self.now


class TokenServer:
    """The token endpoint and the API behind one MockTransport."""

    def __init__(self, *, expires_in: Any = 3600, token_status: int = 200) -> None:
        self.tokens = 0
        self.api_calls: list[str] = []
        self.token_requests: list[httpx.Request] = []
        self.expires_in = expires_in
        self.token_status = token_status
        self.revoked: set[str] = set()

    def __call__(self, request: httpx.Request) -> httpx.Response:
        if request.url.host == "api.bandwidth.com":
            self.token_requests.append(request)
            if self.token_status != 200:
                return httpx.Response(self.token_status, json={
                    "error": "invalid_client",
                    "error_description": f"client secret {CLIENT_SECRET} rejected"})
            self.tokens += 1
            answer: dict[str, Any] = {"access_token": f"tok-{self.tokens}",
                                      "token_type": "Bearer"}
            if self.expires_in is not None:
                answer["expires_in"] = self.expires_in
            return httpx.Response(200, json=answer)
        auth = request.headers.get("authorization", "")
        self.api_calls.append(auth)
        if auth.removeprefix("Bearer ") in self.revoked:
            return httpx.Response(401, json={"type": "authentication-error",
                                             "description": "expired"})
        return httpx.Response(200, json=call_state())


def oauth_voice(server: TokenServer, clock: Clock) -> Voice:
    p = provider(username=None, password=None, client_id="my-client",
                 client_secret=CLIENT_SECRET)
    auth = OAuth2ClientCredentials("my-client", CLIENT_SECRET, str(p._settings.token_url),
                                   clock=clock)
    p.auth = lambda: auth  # type: ignore[method-assign]
    return Voice(p, http=HttpSettings(retry=NO_RETRY),
                 client=httpx.Client(transport=httpx.MockTransport(server)))


def test_oauth_token_request_is_client_credentials_with_basic_auth() -> None:
    server, clock = TokenServer(), Clock()
    with oauth_voice(server, clock) as v:
        v.calls.get("c-1")
    [token] = server.token_requests
    assert (token.method, str(token.url)) == ("POST",
                                              "https://api.bandwidth.com/api/v1/oauth2/token")
    assert token.headers["authorization"] == "Basic " + base64.b64encode(
        f"my-client:{CLIENT_SECRET}".encode()).decode()
    assert token.headers["content-type"] == "application/x-www-form-urlencoded"
    assert parse_qs(token.content.decode()) == {"grant_type": ["client_credentials"]}
    assert server.api_calls == ["Bearer tok-1"]


def test_oauth_token_is_cached_and_renewed_a_minute_before_expiry() -> None:
    server, clock = TokenServer(expires_in=3600), Clock()
    with oauth_voice(server, clock) as v:
        v.calls.get("c-1")
        clock.now += 3600 - 61
        v.calls.get("c-1")
        clock.now += 2  # 59 s before expiry: renewed
        v.calls.get("c-1")
        v.calls.get("c-1")
    assert server.api_calls == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2", "Bearer tok-2"]
    assert server.tokens == 2


def test_oauth_short_lived_token_is_renewed_after_half_its_life() -> None:
    server, clock = TokenServer(expires_in=60), Clock()
    with oauth_voice(server, clock) as v:
        v.calls.get("c-1")
        clock.now += 29
        v.calls.get("c-1")
        clock.now += 2
        v.calls.get("c-1")
    assert server.tokens == 2


def test_oauth_token_without_expiry_is_renewed_conservatively() -> None:
    server, clock = TokenServer(expires_in=None), Clock()
    with oauth_voice(server, clock) as v:
        v.calls.get("c-1")
        clock.now += 300
        v.calls.get("c-1")
    assert server.tokens == 2


def test_oauth_renews_once_after_a_401() -> None:
    server, clock = TokenServer(), Clock()
    with oauth_voice(server, clock) as v:
        v.calls.get("c-1")
        server.revoked.add("tok-1")
        call = v.calls.get("c-1")
        assert call.id.startswith("c-")
        server.revoked.add("tok-2")
        server.revoked.add("tok-3")  # still refused after renewal: the 401 stands
        with pytest.raises(AuthenticationError):
            v.calls.get("c-1")
    assert server.api_calls == ["Bearer tok-1", "Bearer tok-1", "Bearer tok-2",
                                "Bearer tok-2", "Bearer tok-3"]


def test_oauth_refused_token_is_an_authentication_error_without_the_secret() -> None:
    server, clock = TokenServer(token_status=401), Clock()
    with oauth_voice(server, clock) as v, pytest.raises(AuthenticationError) as failure:
        v.calls.get("c-1")
    assert failure.value.operation == "oauth2.token"
    assert failure.value.code == "invalid_client"
    assert CLIENT_SECRET not in str(failure.value)
    assert CLIENT_SECRET not in json.dumps(failure.value.raw)
    assert server.api_calls == []


@pytest.mark.parametrize(("status", "error"), [(429, RateLimited), (503, ServerError),
                                               (418, ProviderError)])
def test_oauth_token_endpoint_failures_are_typed(status: int, error: type[ProviderError]
                                                 ) -> None:
    auth = OAuth2ClientCredentials("c", CLIENT_SECRET, "https://api.bandwidth.com/t")
    with pytest.raises(error):
        auth.accept(httpx.Response(status, content=b"nope"))


@pytest.mark.parametrize("answer", [
    {"token_type": "Bearer"}, {"access_token": "", "token_type": "Bearer"},
    {"access_token": "x", "token_type": "mac"}, ["x"],
])
def test_oauth_malformed_token_answer(answer: Any) -> None:
    auth = OAuth2ClientCredentials("c", CLIENT_SECRET, "https://api.bandwidth.com/t")
    with pytest.raises(ProviderError, match="no bearer access_token") as failure:
        auth.accept(httpx.Response(200, json=answer))
    assert failure.value.raw is None  # never keeps a body that may hold a token


def test_oauth_async_flow_shares_the_cached_token() -> None:
    server, clock = TokenServer(), Clock()
    p = provider(username=None, password=None, client_id="my-client",
                 client_secret=CLIENT_SECRET)
    auth = OAuth2ClientCredentials("my-client", CLIENT_SECRET, str(p._settings.token_url),
                                   clock=clock)
    p.auth = lambda: auth  # type: ignore[method-assign]

    async def run() -> list[str]:
        async with AsyncVoice(p, http=HttpSettings(retry=NO_RETRY),
                              client=httpx.AsyncClient(transport=httpx.MockTransport(server))
                              ) as v:
            first = await v.calls.get("c-1")
            second = await v.calls.get("c-2")
            return [first.id, second.id]

    assert len(asyncio.run(run())) == 2
    assert server.tokens == 1


def test_oauth_first_step_alone_is_authorized() -> None:
    """A caller that takes only the first request (univoice's aiohttp sender) gets an
    authorized one: the token is fetched before it is handed out."""
    server, clock = TokenServer(), Clock()
    auth = OAuth2ClientCredentials("c", CLIENT_SECRET, "https://api.bandwidth.com/t",
                                   clock=clock, transport=httpx.MockTransport(server))
    first = next(auth.auth_flow(httpx.Request("GET", f"{API}/calls/c-1")))
    assert first.url.host == "voice.bandwidth.com"
    assert first.headers["authorization"] == "Bearer tok-1"
    next(auth.auth_flow(httpx.Request("GET", f"{API}/calls/c-1")))
    assert auth.fetches == 1


def test_oauth_download_is_not_buffered_by_the_auth() -> None:
    server, clock = TokenServer(), Clock()
    auth = OAuth2ClientCredentials("c", CLIENT_SECRET, "https://api.bandwidth.com/t",
                                   clock=clock)
    flow = auth.sync_auth_flow(httpx.Request("GET", f"{API}/calls/c/recordings/r/media"))
    token_request = next(flow)
    api_request = flow.send(server(token_request))
    streamed = httpx.Response(200, stream=httpx.ByteStream(b"RIFF"))
    with pytest.raises(StopIteration):
        flow.send(streamed)
    assert api_request.headers["authorization"] == "Bearer tok-1"
    assert not streamed.is_stream_consumed


# Every documented sample ------------------------------------------------------------------------


def _as_error(status: int) -> Callable[[Any], Any]:
    error = {400: InvalidRequest, 401: AuthenticationError, 404: NotFound, 415: InvalidRequest,
             500: ServerError, 503: ServerError}[status]

    def check(payload: Any) -> Any:
        with voice(respond(status, payload)) as v, pytest.raises(error) as failure:
            v.calls.get("c-1")
        assert failure.value.code == payload["type"]
        assert failure.value.provider_message == payload["description"]
        return failure.value

    return check


SAMPLE_EXPECTATIONS: dict[str, Callable[[Any], Any]] = {
    "call_state_200_authored.json": lambda data: _check_call(parse_call(data)),
    "call_recordings_list_200_authored.json": lambda data: _check_recordings(
        [parse_recording(r) for r in data]),
    "call_transcription_200_authored.json": lambda data: _check_transcription(data),
    "conference_200_authored.json": lambda data: _check_conference(parse_conference(data)),
    "conferences_list_200.json": lambda data: _check_conference_list(
        [parse_conference(c) for c in data]),
    "error_400.json": _as_error(400),
    "error_401.json": _as_error(401),
    "error_404.json": _as_error(404),
    "error_415.json": _as_error(415),
    "error_500.json": _as_error(500),
    "error_503.json": _as_error(503),
    "error_spec_400_validation.json": _as_error(400),
}


def _check_call(call: Call) -> None:
    assert (call.status, call.end_reason, call.direction) == (
        CallStatus.COMPLETED, EndReason.HANGUP, Direction.INBOUND)
    assert call.duration == pytest.approx(0.188)


def _check_recordings(recs: list[Recording]) -> None:
    [rec] = recs
    assert (rec.status, rec.format, rec.call_id) == (RecordingStatus.READY, "wav",
                                                     "c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85")
    assert rec.duration == pytest.approx(13.67)
    assert vocab.transcription_status(rec.raw["transcription"]["status"]) is (
        TranscriptionStatus.READY)


def _check_transcription(data: Any) -> None:
    rec = Recording(provider="bandwidth", id="r-1", call_id="c-1",
                    raw={"transcription": {"id": "t-1"}})
    op = provider().get_transcription(rec)
    text: Transcription = op.parse(httpx.Response(200, json=data, request=op.request))
    assert (text.id, text.text, text.status) == ("t-1", "Nice talking to you, friend!",
                                                 TranscriptionStatus.READY)


def _check_conference(conf: Conference) -> None:
    assert (conf.status, len(conf.members), conf.members[0].raw["callIdsToCoach"]) == (
        ConferenceStatus.COMPLETED, 1, ["c-25ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"])


def _check_conference_list(confs: list[Conference]) -> None:
    assert [c.name for c in confs] == ["my-conference-name"]
    assert confs[0].members == []


def test_every_sample_is_covered() -> None:
    assert {p.name for p in SAMPLES.glob("*.json")} == set(SAMPLE_EXPECTATIONS)


@pytest.mark.parametrize("name", sorted(SAMPLE_EXPECTATIONS))
def test_every_sample_parses_to_its_model_or_typed_error(name: str) -> None:
    SAMPLE_EXPECTATIONS[name](sample(name))
