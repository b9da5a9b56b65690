"""MessageBird REST operations through ``univoice.Voice``, replayed from cassettes/messagebird/.

Every test drives the public client (or, for transport behaviour, ``SyncTransport``) over
a cassette written by tests/contract/messagebird_cassettes.py from the SDKs' fixtures and
the docs' examples, asserts the neutral result or the typed error, and validates the
cassette against tests/specs/messagebird-voice-seed.openapi.yml. Tests of cassettes marked
live-recordable create what they use and also run against a live account
(cassettes/messagebird/README.md); the others are skipped while recording.

A call's legs and a transcription's text are a second request each (see
univoice_messagebird.operations): where the core does not run follow-ups yet
(``CHAINS`` false) those tests check the first request's result alone.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any

import httpx
import pytest
from vcr.cassette import Cassette

from tests.cassettes import PROFILES, provider_env, recording, use_cassette, validate_cassette
from tests.contract import messagebird_cassettes as mb
from univoice import AsyncVoice, Voice
from univoice.errors import (
    AuthenticationError,
    ConfigError,
    InvalidArguments,
    InvalidRequest,
    NotFound,
    RateLimited,
    ServerError,
    UnsupportedFeature,
)
from univoice.models import (
    Call,
    CallStatus,
    Direction,
    EndReason,
    Recording,
    RecordingStatus,
    TranscriptionStatus,
)
from univoice.params import CreateCall
from univoice.retry import NO_RETRY, RetryPolicy
from univoice.transport import Hooks, HttpSettings, SyncTransport
from univoice_messagebird.operations import CHAINS

LIVE = recording()
documented = pytest.mark.skipif(
    LIVE, reason="replays a cassette written from the docs: needs a call that was answered "
                 "or recorded, or a failure no one can provoke")
ENV = provider_env("messagebird")
if LIVE:
    FROM = "+" + ENV["MESSAGEBIRD_FROM_NUMBER"].lstrip("+")
    TO = "+" + ENV["MESSAGEBIRD_TO_NUMBER"].lstrip("+")
else:
    FROM, TO = mb.FROM, mb.TO


@pytest.fixture(autouse=True, scope="module")
def _placeholders_replay() -> None:
    """A live recording scrubs the real numbers to the harness placeholders; the replays
    send ``mb.FROM``/``mb.TO``: they must be the same numbers (valid ones: the client
    refuses an invalid number before any request)."""
    if LIVE:
        wanted = {mb.FROM.lstrip("+"), mb.TO.lstrip("+")}
        assert set(PROFILES["messagebird"].placeholders.values()) == wanted, (
            "set tests.cassettes.PROFILES['messagebird'] placeholders to "
            f"{sorted(wanted)} before recording")


@contextmanager
def cassette(name: str) -> Iterator[Cassette]:
    """Replay ``name`` and, once the block is done, validate it against the spec."""
    with use_cassette("messagebird", name) as played:
        yield played
    validate_cassette("messagebird", played)


def sent(played: Cassette) -> list[Any]:
    """The cassette's requests that were played, in cassette order."""
    return [played.requests[i] for i in sorted(played.play_counts)]


def body(request: Any) -> Any:
    return json.loads(request.body)


def voice(*, retry: RetryPolicy = NO_RETRY, hosted: bool = False,
          seen: list[httpx.Request] | None = None, **extra: Any) -> Voice:
    """A client over the cassettes; ``seen`` collects what it sends (as hooks see it:
    credentials masked)."""
    where: dict[str, Any] = {"public_url": mb.PUBLIC_URL,
                             "flow_store": "sqlite://:memory:"} if hosted else {}
    hooks = Hooks(request=[seen.append]) if seen is not None else None
    made = Voice("messagebird", http=HttpSettings(retry=retry), hooks=hooks, **where,
                 **mb.settings(**extra))
    made.provider.clock = lambda: mb.NOW  # type: ignore[attr-defined]
    return made


def created(v: Voice) -> Call:
    """The call the live-recordable cassettes start with."""
    return v.calls.create(TO, FROM, flow=mb.GREETING)


# calls.create ----------------------------------------------------------------------------


def test_create_call_with_an_inline_flow_and_a_callback() -> None:
    seen: list[httpx.Request] = []
    with cassette("create_call"), voice(seen=seen) as v:
        call = v.calls.create(TO, FROM, flow=mb.GREETING, callback_url=mb.CALLBACK_URL)
    assert (call.status, call.direction, call.to, call.from_) == (
        CallStatus.QUEUED, Direction.OUTBOUND, TO, FROM)
    assert call.tag is not None and call.tag.startswith("uv-")  # univoice's, not MessageBird's
    assert call.created_at is not None and call.created_at.tzinfo is not None
    sent_body = json.loads(seen[0].content)
    assert (sent_body["source"], sent_body["destination"]) == (FROM[1:], TO[1:])
    assert sent_body["callFlow"]["title"] == "Greeting"
    assert [s["action"] for s in sent_body["callFlow"]["steps"]] == ["say", "hangup"]
    assert sent_body["webhook"] == {"url": mb.CALLBACK_URL}
    assert seen[0].headers["x-messagebird-version"] == mb.VERSION


def test_create_call_with_an_answer_url_fetches_its_first_call_flow() -> None:
    seen: list[httpx.Request] = []
    with cassette("create_call"), voice(seen=seen) as v:
        call = v.calls.create(TO, FROM, answer_url=mb.ANSWER_URL)
    assert call.status is CallStatus.QUEUED
    assert json.loads(seen[0].content)["callFlow"] == {
        "steps": [{"action": "fetchCallFlow", "options": {"url": mb.ANSWER_URL}}]}
    assert "webhook" not in json.loads(seen[0].content)


@documented
def test_create_call_with_a_menu_continues_at_signed_app_urls() -> None:
    with cassette("create_call_options") as played, voice(hosted=True) as v:
        call = v.calls.create(TO, FROM, flow=mb.MENU)
    assert call.id == mb.CALL_ID
    flow = body(sent(played)[0])["callFlow"]
    urls = [s["options"]["url"] for s in flow["steps"] if s["action"] == "fetchCallFlow"]
    assert len(urls) == 2
    assert all(u.startswith(f"{mb.PUBLIC_URL}/univoice/messagebird/flow/") and "token=" in u
               for u in urls)
    assert body(sent(played)[0])["webhook"] == {
        "url": f"{mb.PUBLIC_URL}/univoice/messagebird/events"}


@documented
def test_create_call_to_a_sip_uri_and_recording_the_whole_call() -> None:
    with cassette("create_call_options") as played, voice() as v:
        sip = v.calls.create(mb.SIP_TO, FROM, flow=mb.GREETING)
        rec = v.calls.create(TO, FROM, flow=mb.VOICEMAIL, record=True)
    assert sip.to == mb.SIP_TO and body(sent(played)[0])["destination"] == mb.SIP_TO
    record_flow = body(sent(played)[1])["callFlow"]
    assert record_flow["record"] is True
    assert rec.id == mb.THIRD_CALL_ID


@documented
def test_create_call_from_a_number_not_ours_is_invalid_request() -> None:
    with cassette("create_call_options"), voice() as v, \
            pytest.raises(InvalidRequest) as failure:
        v.calls.create(TO, mb.NOT_OURS, flow=mb.GREETING)
    error = failure.value
    assert (error.status, error.code, error.operation) == (422, "10", "calls.create")
    assert error.provider_message == ("source is not a number of this account "
                                      "(parameter: source)")


@documented
def test_create_call_rate_limited_without_retries_says_when_to_come_back() -> None:
    with cassette("create_call_rate_limited") as played, voice() as v, \
            pytest.raises(RateLimited) as failure:
        v.calls.create(TO, FROM, flow=mb.GREETING)
    assert (failure.value.status, failure.value.retry_after) == (429, float(mb.RETRY_AFTER))
    assert played.play_count == 1


@documented
def test_create_call_rate_limited_is_retried_after_retry_after() -> None:
    slept: list[float] = []
    provider = voice().provider
    transport = SyncTransport(provider, HttpSettings(), sleep=slept.append)
    with cassette("create_call_rate_limited") as played:
        call = transport.run(provider.create_call(CreateCall(to=TO, from_=FROM,
                                                             flow=mb.GREETING)))
    transport.close()
    # 429 means MessageBird refused before acting: repeating the create is safe.
    assert (call.id, slept, played.play_count) == (mb.CALL_ID, [float(mb.RETRY_AFTER)], 2)


@documented
def test_create_call_whose_answer_is_lost_is_found_not_placed_again() -> None:
    with cassette("create_call_lost_answer") as played, voice(
            retry=RetryPolicy(backoff=0.0)) as v:
        call = v.calls.create(TO, FROM, flow=mb.GREETING, tag="order-7")
    # 503, then GET /calls?page=1&perPage=50: one call to this destination since two
    # minutes before the pinned "now"; the create is not repeated.
    assert (call.id, call.status, call.tag) == (mb.CALL_ID, CallStatus.QUEUED, "order-7")
    assert played.play_count == 2
    assert sent(played)[1].uri.endswith("/calls?page=1&perPage=50")


def test_create_call_checks_its_arguments_before_any_request() -> None:
    with cassette("create_call") as played, voice() as v:
        for options, match in (({"max_duration": 60}, "max_duration"),
                               ({"ring_timeout": 20}, "ring_timeout"),
                               ({"machine_detection": True}, "machine_detection"),
                               ({"record": True, "answer_url": mb.ANSWER_URL}, "record")):
            args = {"flow": mb.GREETING, **options}
            if "answer_url" in options:
                args.pop("flow")
            with pytest.raises(UnsupportedFeature, match=match):
                v.calls.create(TO, FROM, **args)
    assert played.play_count == 0
    with voice() as v, pytest.raises(ConfigError, match="public_url"):
        v.calls.create(TO, FROM, flow=mb.MENU)  # a menu through the app: where is it?
    with voice(hosted=True, signing_key=None) as v, pytest.raises(ConfigError,
                                                                   match="signing_key"):
        v.calls.create(TO, FROM, flow=mb.MENU)  # the app could not verify MessageBird
    with pytest.raises(ConfigError, match="access_key"):
        Voice("messagebird")


# calls.get -------------------------------------------------------------------------------


def test_get_call() -> None:
    with cassette("get_call"), voice() as v:
        placed = created(v)
        call = v.calls.get(placed.id)
    assert (call.id, call.to, call.from_, call.direction) == (placed.id, TO, FROM,
                                                              Direction.OUTBOUND)
    if LIVE:
        return
    if CHAINS:  # the call, then its legs: the one leg rings
        assert (call.status, call.status_raw) == (CallStatus.RINGING, "starting")
        [leg] = call.legs
        assert (leg.status, leg.call_id, leg.answered_at, leg.duration) == (
            CallStatus.RINGING, mb.CALL_ID, None, 0)
    else:
        assert (call.status, call.legs) == (CallStatus.INITIATED, [])


def test_get_missing_call_is_not_found() -> None:
    with cassette("get_call"), voice() as v, pytest.raises(NotFound) as failure:
        v.calls.get(mb.MISSING)
    assert (failure.value.status, failure.value.code) == (404, "13")
    assert mb.MISSING in failure.value.provider_message


def test_get_call_with_a_wrong_key_is_an_authentication_error() -> None:
    with cassette("get_call_unauthorized"), voice(access_key="not-the-access-key") as v, \
            pytest.raises(AuthenticationError) as failure:
        v.calls.get(mb.MISSING)
    assert (failure.value.status, failure.value.code) == (401, "2")
    assert "not-the-access-key" not in str(failure.value)
    assert "not-the-access-key" not in json.dumps(failure.value.raw)


@documented
def test_get_call_reads_the_sdk_fixtures() -> None:
    with cassette("get_call_documented") as played, voice() as v:
        call = v.calls.get(mb.SDK_CALL_ID)
    assert (call.status, call.status_raw, call.from_, call.to) == (
        CallStatus.COMPLETED, "ended", "+16479311111", "+1416555555")
    assert call.ended_at == datetime(2019, 8, 6, 13, 17, 39, tzinfo=UTC)
    if not CHAINS:
        assert (call.legs, call.duration, played.play_count) == ([], None, 1)
        return
    [leg] = call.legs
    # The Java SDK's leg: another call's id, a caller called "Heaven", kept as they are.
    assert (leg.call_id, leg.from_, leg.to) == ("unforgiven-call", "Heaven", "+31612345678")
    assert (leg.cost, leg.currency, leg.duration) == (Decimal("0.001519"), "EUR", 7.0)
    assert (call.duration, call.end_reason, call.end_reason_raw) == (7.0, EndReason.HANGUP,
                                                                     "hangup")
    assert call.answered_at == datetime(2019, 1, 10, 16, 13, 24, tzinfo=UTC)


@documented
def test_get_call_reads_the_tutorials_inbound_call() -> None:
    with cassette("get_call_documented"), voice() as v:
        call = v.calls.get(mb.TUTORIAL_CALL_ID)
    assert (call.direction, call.from_, call.to, call.status) == (
        Direction.INBOUND, None, None, CallStatus.COMPLETED)
    assert call.raw["numberId"] == "206001de-a327-4dbb-9770-47c82ef18e82"
    if CHAINS:
        assert [leg.direction for leg in call.legs] == [Direction.OUTBOUND, Direction.INBOUND]
        # The incoming leg stands for the call; its endedAt precedes its answeredAt (the
        # tutorial's example): both kept, no negative duration made up.
        assert call.answered_at == datetime(2017, 2, 16, 10, 52, 30, tzinfo=UTC)
        assert (call.duration, call.end_reason) == (None, EndReason.HANGUP)


@documented
def test_get_call_is_retried_on_5xx() -> None:
    with cassette("get_call_documented") as played, voice(
            retry=RetryPolicy(backoff=0.0)) as v:
        call = v.calls.get(mb.FLAKY_CALL_ID)
    assert (call.status, call.end_reason, call.end_reason_raw) == (
        CallStatus.NO_ANSWER, EndReason.NO_ANSWER, "no_answer")
    assert played.play_count == (4 if CHAINS else 3)


@documented
def test_get_call_5xx_when_retries_run_out_is_a_server_error() -> None:
    with cassette("get_call_documented"), voice() as v, pytest.raises(ServerError) as failure:
        v.calls.get(mb.FLAKY_CALL_ID)
    assert (failure.value.status, failure.value.code) == (500, None)
    assert failure.value.raw == "Internal Server Error"


# calls.list --------------------------------------------------------------------------------


@documented
def test_list_calls_pages_by_number() -> None:
    with cassette("list_calls") as played, voice() as v:
        calls = list(v.calls.list(page_size=2))
    assert [c.id for c in calls] == [mb.OTHER_CALL_ID, mb.THIRD_CALL_ID, mb.TUTORIAL_CALL_ID]
    assert [c.status for c in calls] == [CallStatus.NO_ANSWER, CallStatus.COMPLETED,
                                         CallStatus.COMPLETED]
    assert calls[0].end_reason is EndReason.NO_ANSWER
    assert calls[2].direction is Direction.INBOUND
    assert [r.uri.rsplit("?", 1)[1] for r in sent(played)] == ["page=1&perPage=2",
                                                               "page=2&perPage=2"]


@documented
def test_list_calls_limit_stops_before_the_next_page() -> None:
    with cassette("list_calls") as played, voice() as v:
        assert len(list(v.calls.list(page_size=2, limit=2))) == 2
    assert played.play_count == 1


@pytest.mark.parametrize("filters", [{"to": TO}, {"from_": FROM}, {"status": "completed"},
                                     {"created_after": datetime(2024, 1, 1, tzinfo=UTC)},
                                     {"tag": "mine"}])
def test_list_calls_refuses_every_filter_before_any_request(filters: dict[str, Any]) -> None:
    with cassette("list_calls") as played, voice() as v, pytest.raises(
            UnsupportedFeature, match=r"calls\.list\."):
        list(v.calls.list(**filters))
    assert played.play_count == 0


# calls.update / calls.hangup --------------------------------------------------------------


def test_update_call_is_refused_before_any_request() -> None:
    with cassette("hangup_call") as played, voice() as v, pytest.raises(
            UnsupportedFeature, match=r"calls\.update") as failure:
        v.calls.redirect(mb.CALL_ID, mb.ANSWER_URL)
    assert "bandwidth" in failure.value.alternatives
    assert played.play_count == 0


def test_hangup_call() -> None:
    seen: list[httpx.Request] = []
    with cassette("hangup_call"), voice(seen=seen) as v:
        placed = created(v)
        assert v.calls.hangup(placed.id) is None
    assert (seen[1].method, seen[1].url.path) == ("DELETE", f"/calls/{placed.id}")


def test_hangup_missing_call_is_not_found() -> None:
    with cassette("hangup_call"), voice() as v, pytest.raises(NotFound):
        v.calls.hangup(mb.MISSING)


# Recordings and transcriptions ------------------------------------------------------------


@documented
def test_list_recordings_walks_the_calls_legs() -> None:
    with cassette("list_recordings") as played, voice() as v:
        recs = list(v.recordings.list(call_id=mb.CALL_ID))
    assert [r.id for r in recs] == [mb.RECORDING_ID, mb.OTHER_RECORDING_ID]
    assert {(r.call_id, r.status, r.format) for r in recs} == {
        (mb.CALL_ID, RecordingStatus.READY, "wav")}
    assert [r.duration for r in recs] == [32.0, 12.0]
    assert recs[0].media_url is not None and recs[0].media_url.startswith(
        f"{mb.API}/calls/")
    paths = [r.uri.split("?")[0].removeprefix(mb.API) for r in sent(played)]
    assert paths == [f"/calls/{mb.CALL_ID}/legs",
                     f"/calls/{mb.CALL_ID}/legs/{mb.LEG_ID}/recordings",
                     f"/calls/{mb.CALL_ID}/legs/{mb.OTHER_LEG_ID}/recordings"]


@documented
def test_list_recordings_pages_lazily() -> None:
    with cassette("list_recordings") as played, voice() as v:
        first = next(iter(v.recordings.list(call_id=mb.CALL_ID)))
    assert first.id == mb.RECORDING_ID
    assert played.play_count == 2  # the legs, then the first leg's recordings


def test_list_recordings_needs_the_call() -> None:
    with cassette("list_recordings") as played, voice() as v, pytest.raises(
            InvalidArguments, match="call_id"):
        list(v.recordings.list())
    assert played.play_count == 0


@documented
def test_get_recording_reads_its_call_from_the_links_that_agree() -> None:
    with cassette("get_recording"), voice() as v:
        rec = v.recordings.get(mb.RECORDING_ID)
        go = v.recordings.get(mb.GO_RECORDING_ID)
    # py_recording_view.json: `self` names another leg; `file` names the recording's own.
    assert (rec.call_id, rec.status, rec.duration) == (
        "12348765-4321-0987-6543-210987654321", RecordingStatus.READY, 32.0)
    assert rec.media_url == (f"{mb.API}/calls/12348765-4321-0987-6543-210987654321/legs/"
                             f"87654321-0987-6543-2109-876543210987/recordings/"
                             f"{mb.RECORDING_ID}.wav")
    assert rec.created_at == datetime(2018, 1, 1, 0, 0, 1, tzinfo=UTC)
    # go_recording_object.json: the nested path is the envelope's `self`.
    assert (go.call_id, go.media_url) == ("callid", f"{mb.API}/recordings/recid.wav")


@documented
def test_get_missing_recording_is_not_found() -> None:
    with cassette("get_recording"), voice() as v, pytest.raises(NotFound) as failure:
        v.recordings.get(mb.MISSING)
    assert failure.value.code == "13"
    assert failure.value.provider_message == f"No recording found for ID `{mb.MISSING}`."


@documented
def test_download_recording_streams_the_wav() -> None:
    sink = io.BytesIO()
    with cassette("download_recording") as played, voice() as v:
        rec = Recording(provider="messagebird", id=mb.RECORDING_ID, call_id=mb.CALL_ID)
        assert v.recordings.download(rec, sink) is None
    assert sink.getvalue() == mb.WAV
    assert sent(played)[0].uri == f"{mb.API}/recordings/{mb.RECORDING_ID}.wav"


@documented
def test_delete_recording_then_a_missing_one() -> None:
    with cassette("delete_recording") as played, voice() as v:
        v.recordings.delete(Recording(provider="messagebird", id=mb.RECORDING_ID))
        with pytest.raises(NotFound):
            v.recordings.delete(Recording(provider="messagebird", id=mb.MISSING))
    assert [r.method for r in sent(played)] == ["DELETE", "DELETE"]


@documented
def test_request_transcription_in_messagebirds_spelling() -> None:
    rec = Recording(provider="messagebird", id=mb.RECORDING_ID, call_id=mb.CALL_ID)
    with cassette("create_transcription") as played, voice() as v:
        first = v.transcriptions.request(rec)
        v.transcriptions.request(rec, language="en-GB")
        with pytest.raises(UnsupportedFeature, match=r"transcriptions\.language"):
            v.transcriptions.request(rec, language="ja-JP")
    assert first is not None
    assert (first.id, first.status, first.recording_id, first.call_id) == (
        mb.TRANSCRIPTION_ID, TranscriptionStatus.PENDING, mb.RECORDING_ID, mb.CALL_ID)
    assert [r.body for r in sent(played)] == [b"{}", b'{"language":"en-UK"}']


@documented
def test_get_transcription_is_the_latest_and_its_text() -> None:
    rec = Recording(provider="messagebird", id=mb.RECORDING_ID, call_id=mb.CALL_ID)
    seen: list[httpx.Request] = []
    with cassette("get_transcription"), voice(seen=seen) as v:
        found = v.transcriptions.get(rec)
    assert (found.id, found.status, found.call_id) == (mb.TRANSCRIPTION_ID,
                                                       TranscriptionStatus.READY, mb.CALL_ID)
    if CHAINS:
        assert found.text == mb.TRANSCRIPT
        assert (seen[1].url.path, seen[1].headers["accept"]) == (
            f"/transcriptions/{mb.TRANSCRIPTION_ID}.txt", "text/plain")
    else:
        assert (found.text, len(seen)) == (None, 1)


@documented
def test_a_pending_transcription_has_no_text_yet() -> None:
    rec = Recording(provider="messagebird", id=mb.PENDING_RECORDING_ID)
    with cassette("get_transcription") as played, voice() as v:
        found = v.transcriptions.get(rec)
    assert (found.status, found.text, played.play_count) == (TranscriptionStatus.PENDING,
                                                             None, 1)


@documented
def test_a_recording_without_transcriptions_is_not_found() -> None:
    with cassette("get_transcription"), voice() as v, pytest.raises(NotFound, match="no trans"):
        v.transcriptions.get(Recording(provider="messagebird", id=mb.MISSING))


def test_delete_transcription_is_refused_before_any_request() -> None:
    with cassette("get_transcription") as played, voice() as v, pytest.raises(
            UnsupportedFeature, match=r"transcriptions\.delete"):
        v.transcriptions.delete(Recording(provider="messagebird", id=mb.RECORDING_ID))
    assert played.play_count == 0


# Stored call flows and webhooks ----------------------------------------------------------------


def test_create_then_delete_a_stored_flow() -> None:
    with cassette("flows") as played, voice() as v:
        stored = v.flows.create(mb.VOICEMAIL)
        v.flows.delete(stored.id)
    assert stored.name == "Voicemail"
    assert [s["action"] for s in stored.document["steps"]] == ["say", "record", "hangup"]
    record = body(sent(played)[0])["steps"][1]["options"]
    assert (record["transcribe"], record["transcribeLanguage"]) == (True, "en-UK")
    if not LIVE:
        assert stored.id == mb.FLOW_ID


def test_a_flow_that_needs_the_app_cannot_be_stored() -> None:
    with cassette("flows") as played, voice() as v, pytest.raises(
            UnsupportedFeature, match=r"flows\.create"):
        v.flows.create(mb.MENU)
    assert played.play_count == 0


def test_delete_missing_flow_is_not_found() -> None:
    with cassette("flows"), voice() as v, pytest.raises(NotFound):
        v.flows.delete(mb.MISSING)


@documented
def test_list_flows_follows_the_pagination() -> None:
    with cassette("list_flows") as played, voice() as v:
        flows = list(v.flows.list(page_size=10))
    assert [f.id for f in flows] == [mb.FLOW_ID, "de3ed163-d5fc-45f4-b8c4-7eea7458c634"]
    assert [f.document["record"] for f in flows] == [False, True]
    assert played.play_count == 2  # "pageCount": 2, though page 1 held both


@documented
def test_get_flow_keeps_the_documents_own_values() -> None:
    with cassette("get_flow"), voice() as v:
        flow = v.flows.get(mb.JAVA_FLOW_ID)
        with pytest.raises(NotFound):
            v.flows.get(mb.MISSING)
    options = flow.document["steps"][0]["options"]
    assert options["transcribe"] == "false"  # the Java SDK fixture's string, kept
    assert (flow.name, flow.raw["default"], flow.document["record"]) == (None, False, True)


def test_webhooks_create_list_delete() -> None:
    with cassette("webhooks") as played, voice() as v:
        hook = v.webhooks.create(mb.WEBHOOK_URL)
        listed = list(v.webhooks.list())
        v.webhooks.delete(hook.id)
        with pytest.raises(UnsupportedFeature, match=r"webhooks\.events"):
            v.webhooks.create(mb.WEBHOOK_URL, events=["callUpdated"])
    assert body(sent(played)[0]) == {"url": mb.WEBHOOK_URL}
    assert hook.url == mb.WEBHOOK_URL and hook.id in [h.id for h in listed]
    assert hook.raw["token"] == "***"  # never shown
    assert played.play_count == 3


# The async client, the same cassettes -------------------------------------------------------


@documented
def test_async_client_replays_the_same_cassettes() -> None:
    async def run() -> Call:
        async with AsyncVoice("messagebird", http={"async_backend": "httpx"},
                              **mb.settings()) as v:
            return await v.calls.get(mb.SDK_CALL_ID)

    with cassette("get_call_documented"):
        call = asyncio.run(run())
    assert (call.id, call.status) == (mb.SDK_CALL_ID, CallStatus.COMPLETED)
    assert len(call.legs) == (1 if CHAINS else 0)


# The cassettes themselves ---------------------------------------------------------------------


def test_cassettes_are_what_the_generator_writes() -> None:
    """Each cassette written from the docs is reproducible; a live re-recording drops
    the generator's metadata and is then left alone here."""
    import yaml

    for spec in mb.CASSETTES:
        path = mb.cassette_dir("messagebird") / f"{spec.name}.yaml"
        data = yaml.safe_load(path.read_text("utf-8")) if path.exists() else None
        if data is not None and (data.get("metadata") or {}).get("generated_by") != mb.GENERATOR:
            continue  # recorded live
        assert path.exists() and path.read_text("utf-8") == mb.render(spec), (
            f"{path.name} is stale: python -m tests.contract.messagebird_cassettes")


def test_every_operation_has_a_cassette() -> None:
    names = {spec.name for spec in mb.CASSETTES}
    for operation in ("create_call", "get_call", "list_calls", "hangup_call",
                      "list_recordings", "get_recording", "download_recording",
                      "delete_recording", "create_transcription", "get_transcription",
                      "flows", "list_flows", "get_flow", "webhooks"):
        assert operation in names
