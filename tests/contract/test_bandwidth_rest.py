"""Bandwidth REST operations through ``univoice.Voice``, replayed from cassettes/bandwidth/.

Every test drives the public client (or, for transport behaviour, ``SyncTransport``) over
a cassette written by tests/contract/bandwidth_cassettes.py from the spec's and the docs'
examples, asserts the neutral result or the typed error, and validates the cassette
against tests/specs/bandwidth-voice.openapi.yml. Tests of cassettes marked live-recordable
create what they use and also run against a live account (cassettes/bandwidth/README.md);
the others are skipped while recording.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from decimal import Decimal
from typing import Any, TypeVar

import httpx
import pytest
from vcr.cassette import Cassette

from tests.cassettes import provider_env, recording, use_cassette, validate_cassette
from tests.contract import bandwidth_cassettes as bw
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
    ConferenceStatus,
    Direction,
    EndReason,
    Recording,
    RecordingStatus,
    TranscriptionStatus,
)
from univoice.operations import Operation
from univoice.params import CreateCall
from univoice.retry import NO_RETRY, RetryPolicy
from univoice.transport import Hooks, HttpSettings, SyncTransport

T = TypeVar("T")
LIVE = recording()
documented = pytest.mark.skipif(
    LIVE, reason="replays a cassette written from the docs: needs a call that was answered, "
                 "recorded or conferenced, or a failure no one can provoke")
ENV = provider_env("bandwidth")
FROM, TO = ENV["BANDWIDTH_FROM_NUMBER"], ENV["BANDWIDTH_TO_NUMBER"]


@contextmanager
def cassette(name: str) -> Iterator[Cassette]:
    """Replay ``name`` and, once the block is done, validate it against the spec."""
    with use_cassette("bandwidth", name) as played:
        yield played
    validate_cassette("bandwidth", played)


def sent(played: Cassette) -> list[Any]:
    """The cassette's requests that were played, in cassette order."""
    return [played.requests[i] for i in sorted(played.play_counts)]


def voice(*, retry: RetryPolicy = NO_RETRY, hosted: bool = False,
          seen: list[httpx.Request] | None = None, **extra: Any) -> Voice:
    """A client over the cassettes; ``seen`` collects what it sends (as hooks see it:
    credentials masked), recorded or replayed alike."""
    where: dict[str, Any] = {"public_url": bw.PUBLIC_URL,
                             "flow_store": "sqlite://:memory:"} if hosted else {}
    hooks = Hooks(request=[seen.append]) if seen is not None else None
    made = Voice("bandwidth", http=HttpSettings(retry=retry), hooks=hooks, **where,
                 **bw.settings(**extra))
    made.provider.clock = lambda: bw.NOW  # type: ignore[attr-defined]
    return made


def run(v: Voice, build: Callable[[Any], Operation[T]]) -> T:
    """Run an operation the client has no method for yet (conference recordings)."""
    transport = SyncTransport(v.provider, HttpSettings(retry=NO_RETRY))
    try:
        return transport.run(build(v.provider))
    finally:
        transport.close()


def created(v: Voice) -> Call:
    """The call the live-recordable cassettes start with."""
    return v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL, tag=bw.TAGS["lifecycle"])


# calls.create ----------------------------------------------------------------------------------


def test_create_call_with_an_answer_url() -> None:
    seen: list[httpx.Request] = []
    with cassette("create_call"), voice(seen=seen) as v:
        call = v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL, tag=bw.TAGS["answer_url"])
    assert call.id.startswith("c-")
    assert (call.status, call.direction, call.to, call.from_, call.tag) == (
        CallStatus.QUEUED, Direction.OUTBOUND, TO, FROM, bw.TAGS["answer_url"])
    assert call.created_at is not None and call.created_at.tzinfo is not None
    assert call.raw["callUrl"].endswith(call.id)
    assert len(seen) == 1


def test_create_call_with_a_hosted_flow_detects_machines_in_the_answer_callback() -> None:
    seen: list[httpx.Request] = []
    with cassette("create_call"), voice(hosted=True, seen=seen, **bw.CALLBACK_CREDENTIALS) as v:
        call = v.calls.create(TO, FROM, flow=bw.FLOW, tag=bw.TAGS["flow"])
    assert call.status is CallStatus.QUEUED
    assert call.tag == bw.TAGS["flow"]
    # The echoed callback password is masked (Bandwidth sends "*****"; raw redacts it).
    assert call.raw["password"] != bw.CALLBACK_PASSWORD
    body = json.loads(seen[0].content)
    assert body["machineDetection"] == {"mode": "sync"}
    assert body["answerUrl"].startswith(f"{bw.PUBLIC_URL}/univoice/bandwidth/flow/")
    assert (body["username"], body["password"]) == (bw.CALLBACK_USERNAME, "***")


def test_create_call_with_async_machine_detection() -> None:
    seen: list[httpx.Request] = []
    with cassette("create_call"), voice(seen=seen, **bw.CALLBACK_CREDENTIALS) as v:
        call = v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL,
                              callback_url=bw.CALLBACK_URL, machine_detection=True,
                              tag=bw.TAGS["amd"])
    assert call.tag == bw.TAGS["amd"]
    assert json.loads(seen[0].content)["machineDetection"] == {
        "mode": "async", "callbackUrl": bw.CALLBACK_URL, "username": bw.CALLBACK_USERNAME,
        "password": "***"}


def test_create_call_for_an_unknown_application_is_invalid_request() -> None:
    with cassette("create_call"), voice(application_id=bw.UNKNOWN_APPLICATION) as v, \
            pytest.raises(InvalidRequest) as failure:
        v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL, tag=bw.TAGS["bad_application"])
    error = failure.value
    assert (error.status, error.code, error.operation) == (400, "validation", "calls.create")
    assert "Application id" in error.provider_message


@documented
def test_create_call_rate_limited_without_retries_says_when_to_come_back() -> None:
    with cassette("create_call_rate_limited") as played, voice() as v, \
            pytest.raises(RateLimited) as failure:
        v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL, tag=bw.TAGS["rate_limited"])
    assert failure.value.retry_after == float(bw.RETRY_AFTER)
    assert failure.value.status == 429
    assert failure.value.provider_message == "Account call creation rate limit exceeded"
    assert played.play_count == 1


@documented
def test_create_call_rate_limited_is_retried_after_retry_after() -> None:
    slept: list[float] = []
    provider = voice().provider
    transport = SyncTransport(provider, HttpSettings(), sleep=slept.append)
    params = CreateCall(to=TO, from_=FROM, answer_url=bw.ANSWER_URL, tag=bw.TAGS["rate_limited"])
    with cassette("create_call_rate_limited") as played:
        call = transport.run(provider.create_call(params))
    transport.close()
    # 429 means Bandwidth refused before acting: repeating the create is safe.
    assert (call.id, slept, played.play_count) == (bw.CALL_ID, [float(bw.RETRY_AFTER)], 2)


@documented
def test_create_call_whose_answer_is_lost_is_found_not_placed_again() -> None:
    with cassette("create_call_lost_answer") as played, voice(
            retry=RetryPolicy(backoff=0.0)) as v:
        call = v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL, tag=bw.TAGS["lost"])
    # 503, then GET /calls?to&from&minStartTime (2 minutes before the pinned "now") finds
    # the one call between these numbers; the create is not repeated.
    assert (call.id, call.status, call.tag) == (bw.CALL_ID, CallStatus.INITIATED,
                                                bw.TAGS["lost"])
    assert played.play_count == 2
    lookup = sent(played)[1]
    assert "minStartTime=2022-06-16T13%3A14%3A07.000Z" in lookup.uri


def test_create_call_checks_its_arguments_before_any_request() -> None:
    with cassette("create_call") as played, voice() as v:
        with pytest.raises(UnsupportedFeature, match="max_duration"):
            v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL, max_duration=60)
        with pytest.raises(UnsupportedFeature, match="record: true on the flow"):
            v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL, record=True)
        with pytest.raises(InvalidArguments, match="1 to 300 seconds"):
            v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL, ring_timeout=0.5)
    assert played.play_count == 0
    with voice(hosted=True) as v, pytest.raises(ConfigError, match="callback_username"):
        v.calls.create(TO, FROM, flow=bw.FLOW)  # the app would refuse Bandwidth's callbacks
    with voice(application_id=None) as v, pytest.raises(ConfigError, match="application_id"):
        v.calls.create(TO, FROM, answer_url=bw.ANSWER_URL)


# calls.get ---------------------------------------------------------------------------------------


def test_get_call() -> None:
    with cassette("get_call"), voice() as v:
        placed = created(v)
        call = v.calls.get(placed.id)
    assert (call.id, call.to, call.from_, call.direction) == (placed.id, TO, FROM,
                                                              Direction.OUTBOUND)
    assert call.status in (CallStatus.QUEUED, CallStatus.INITIATED, CallStatus.IN_PROGRESS,
                           CallStatus.COMPLETED, CallStatus.NO_ANSWER, CallStatus.CANCELED)
    if not LIVE:
        assert (call.status, call.status_raw, call.finished) == (CallStatus.INITIATED,
                                                                 "initiated", False)


def test_get_missing_call_is_not_found() -> None:
    with cassette("get_call"), voice() as v, pytest.raises(NotFound) as failure:
        v.calls.get(bw.MISSING_CALL_ID)
    assert (failure.value.status, failure.value.code) == (404, "validation")
    assert bw.MISSING_CALL_ID in failure.value.provider_message


def test_get_call_with_wrong_credentials_is_an_authentication_error() -> None:
    with cassette("get_call_unauthorized"), voice(password="not-the-password") as v, \
            pytest.raises(AuthenticationError) as failure:
        v.calls.get(bw.MISSING_CALL_ID)
    assert (failure.value.status, failure.value.code) == (401, "authentication-error")
    assert "not-the-password" not in str(failure.value)


@documented
def test_get_call_parses_the_documented_call_state() -> None:
    with cassette("get_call_documented"), voice() as v:
        call = v.calls.get(bw.CALL_ID)
    assert (call.status, call.status_raw, call.end_reason, call.end_reason_raw) == (
        CallStatus.COMPLETED, "disconnected", EndReason.HANGUP, "hangup")
    assert (call.direction, call.from_) == (Direction.INBOUND, "19195554321")
    assert call.answered_at == datetime(2022, 6, 16, 13, 15, 18, 126000, tzinfo=UTC)
    assert call.duration is not None and Decimal(str(call.duration)) == Decimal("0.188")
    assert call.raw["stirShaken"]["attestationIndicator"] == "A"


@documented
def test_get_call_is_retried_on_503() -> None:
    with cassette("get_call_documented") as played, voice(
            retry=RetryPolicy(backoff=0.0)) as v:
        call = v.calls.get(bw.OTHER_CALL_ID)
    assert (call.status, call.end_reason) == (CallStatus.BUSY, EndReason.BUSY)
    assert played.play_count == 3


@documented
def test_get_call_503_when_retries_run_out_is_a_server_error() -> None:
    with cassette("get_call_documented"), voice() as v, pytest.raises(ServerError) as failure:
        v.calls.get(bw.OTHER_CALL_ID)
    assert (failure.value.status, failure.value.code) == (503, "system-overloaded")


# calls.list --------------------------------------------------------------------------------------


@documented
def test_list_calls_follows_the_link_header() -> None:
    with cassette("list_calls") as played, voice() as v:
        calls = list(v.calls.list(to=TO, from_=FROM, created_after=bw.LIST_SINCE,
                                  page_size=2))
    assert [c.id for c in calls] == [bw.CALL_ID, bw.OTHER_CALL_ID, bw.THIRD_CALL_ID]
    assert [c.status for c in calls] == [CallStatus.COMPLETED, CallStatus.NO_ANSWER,
                                         CallStatus.IN_PROGRESS]
    assert played.play_count == 2


@documented
def test_list_calls_limit_stops_before_the_next_page() -> None:
    with cassette("list_calls") as played, voice() as v:
        calls = list(v.calls.list(to=TO, from_=FROM, created_after=bw.LIST_SINCE,
                                  page_size=2, limit=2))
    assert len(calls) == 2
    assert played.play_count == 1


def test_list_calls_refuses_filters_bandwidth_lacks_before_any_request() -> None:
    with cassette("list_calls") as played, voice() as v:
        with pytest.raises(UnsupportedFeature, match=r"calls\.list\.status"):
            list(v.calls.list(status="completed"))
        with pytest.raises(UnsupportedFeature, match=r"calls\.list\.tag"):
            list(v.calls.list(tag="mine"))
    assert played.play_count == 0


# calls.update / calls.hangup ---------------------------------------------------------------


@documented
def test_redirect_call_then_reads_it() -> None:
    with cassette("update_call") as played, voice() as v:
        created(v)
        call = v.calls.redirect(bw.CALL_ID, bw.REDIRECT_URL)
    assert (call.id, call.status) == (bw.CALL_ID, CallStatus.IN_PROGRESS)
    assert played.play_count == 3


@documented
def test_update_call_to_a_hosted_flow_sends_the_callback_credentials() -> None:
    with cassette("update_call") as played, voice(hosted=True, **bw.CALLBACK_CREDENTIALS) as v:
        call = v.calls.update(bw.OTHER_CALL_ID, flow=bw.FLOW)
    assert call.id == bw.OTHER_CALL_ID
    body = sent(played)[0].body
    assert b'"username":"univoice-callbacks"' in body
    assert b"/univoice/bandwidth/flow/" in body


@documented
def test_redirect_of_an_ended_call_is_a_conflict() -> None:
    with cassette("update_call"), voice() as v, pytest.raises(InvalidRequest) as failure:
        v.calls.redirect(bw.MISSING_CALL_ID, bw.REDIRECT_URL)
    assert failure.value.status == 409


def test_hangup_call() -> None:
    seen: list[httpx.Request] = []
    with cassette("hangup_call"), voice(seen=seen) as v:
        placed = created(v)
        assert v.calls.hangup(placed.id) is None
    assert (seen[1].method, seen[1].url.path.rsplit("/", 1)[1], seen[1].content) == (
        "POST", placed.id, b'{"state":"completed"}')


def test_hangup_missing_call_is_not_found() -> None:
    with cassette("hangup_call"), voice() as v, pytest.raises(NotFound):
        v.calls.hangup(bw.MISSING_CALL_ID)


# Recordings and transcriptions ------------------------------------------------------------------


@documented
def test_list_recordings_of_a_call() -> None:
    with cassette("list_recordings"), voice() as v:
        recs = list(v.recordings.list(call_id=bw.CALL_ID))
    assert len(recs) == 1
    rec = recs[0]
    assert (rec.id, rec.call_id, rec.status, rec.format) == (
        bw.RECORDING_ID, bw.CALL_ID, RecordingStatus.READY, "wav")
    assert rec.duration == pytest.approx(13.67)
    assert rec.raw["status"] == "completed"  # the spec example's word, kept


@documented
def test_list_recordings_of_the_account_is_one_page() -> None:
    with cassette("list_recordings") as played, voice() as v:
        recs = list(v.recordings.list())
    assert [r.status for r in recs] == [RecordingStatus.READY, RecordingStatus.PROCESSING]
    assert recs[1].media_url is None
    assert played.play_count == 1


@documented
def test_get_recording() -> None:
    with cassette("get_recording"), voice() as v:
        rec = v.recordings.get(bw.RECORDING_ID, call_id=bw.CALL_ID)
    assert (rec.id, rec.status) == (bw.RECORDING_ID, RecordingStatus.READY)
    assert rec.created_at == datetime(2022, 6, 17, 22, 19, 40, 375000, tzinfo=UTC)


@documented
def test_get_missing_recording_is_not_found() -> None:
    with cassette("get_recording"), voice() as v, pytest.raises(NotFound):
        v.recordings.get(bw.MISSING_RECORDING_ID, call_id=bw.CALL_ID)


def test_get_recording_without_its_call_is_refused_before_any_request() -> None:
    with cassette("get_recording") as played, voice() as v, \
            pytest.raises(InvalidArguments, match="call_id"):
        v.recordings.get(bw.RECORDING_ID)
    assert played.play_count == 0


@documented
def test_download_recording_streams_the_media() -> None:
    sink = io.BytesIO()
    with cassette("download_recording"), voice() as v:
        rec = Recording(provider="bandwidth", id=bw.RECORDING_ID, call_id=bw.CALL_ID)
        assert v.recordings.download(rec, sink) is None
    assert sink.getvalue() == bw.WAV


@documented
def test_download_conference_recording_follows_its_media_url() -> None:
    sink = io.BytesIO()
    with cassette("conference_recordings"), voice() as v:
        rec, *_ = list(v.conferences.recordings(bw.CONFERENCE_ID))
    assert (rec.call_id, rec.status) == (None, RecordingStatus.READY)
    with cassette("download_recording"), voice() as v:
        v.recordings.download(rec, sink)
    assert sink.getvalue().startswith(b"ID3")


@documented
def test_delete_recording() -> None:
    with cassette("delete_recording") as played, voice() as v:
        rec = Recording(provider="bandwidth", id=bw.RECORDING_ID, call_id=bw.CALL_ID)
        assert v.recordings.delete(rec) is None
    assert played.play_count == 1


@documented
def test_request_transcription_answers_later() -> None:
    rec = Recording(provider="bandwidth", id=bw.RECORDING_ID, call_id=bw.CALL_ID)
    with cassette("create_transcription") as played, voice() as v:
        assert v.transcriptions.request(rec) is None
        assert v.transcriptions.request(rec, language="es-MX") is None
        with pytest.raises(UnsupportedFeature, match="English, French and Spanish"):
            v.transcriptions.request(rec, language="nl-NL")
    assert [r.body for r in sent(played)] == [b"{}", b'{"detectLanguage":true}']


@documented
def test_delete_transcription_then_not_found() -> None:
    rec = Recording(provider="bandwidth", id=bw.RECORDING_ID, call_id=bw.CALL_ID)
    gone = Recording(provider="bandwidth", id=bw.MISSING_RECORDING_ID, call_id=bw.CALL_ID)
    with cassette("delete_transcription") as played, voice() as v:
        assert v.transcriptions.delete(rec) is None
        with pytest.raises(NotFound):
            v.transcriptions.delete(gone)
    assert played.play_count == 2


@documented
def test_get_transcription() -> None:
    with cassette("list_recordings"), voice() as v:
        rec = next(iter(v.recordings.list(call_id=bw.CALL_ID)))
    with cassette("get_transcription"), voice() as v:
        text = v.transcriptions.get(rec)
    assert (text.id, text.recording_id, text.call_id) == (
        "t-387bd648-18f3-4823-9d16-746bca0003c9", bw.RECORDING_ID, bw.CALL_ID)
    assert (text.status, text.text) == (TranscriptionStatus.READY, "Nice talking to you, friend!")


@documented
def test_get_missing_transcription_is_not_found() -> None:
    rec = Recording(provider="bandwidth", id=bw.MISSING_RECORDING_ID, call_id=bw.CALL_ID)
    with cassette("get_transcription"), voice() as v, pytest.raises(NotFound):
        v.transcriptions.get(rec)


# Conferences -------------------------------------------------------------------------------------


@documented
def test_list_conferences_follows_the_link_header() -> None:
    with cassette("list_conferences") as played, voice() as v:
        confs = list(v.conferences.list(name="my-conference-name", page_size=1))
    assert [c.id for c in confs] == [bw.CONFERENCE_ID, bw.OTHER_CONFERENCE_ID]
    assert [c.status for c in confs] == [ConferenceStatus.COMPLETED, ConferenceStatus.ACTIVE]
    assert confs[0].members == []  # the list has no activeMembers
    assert played.play_count == 2


@documented
def test_get_conference_with_its_members() -> None:
    with cassette("get_conference"), voice() as v:
        conf = v.conferences.get(bw.CONFERENCE_ID)
    assert (conf.name, conf.status) == ("my-conference-name", ConferenceStatus.COMPLETED)
    assert conf.ended_at == datetime(2022, 6, 17, 22, 20, tzinfo=UTC)
    [member] = conf.members
    assert (member.call_id, member.conference_id, member.muted, member.on_hold) == (
        bw.CALL_ID, bw.CONFERENCE_ID, False, False)


@documented
def test_get_missing_conference_is_not_found() -> None:
    with cassette("get_conference"), voice() as v, pytest.raises(NotFound):
        v.conferences.get(bw.MISSING_CONFERENCE_ID)


@documented
def test_end_and_redirect_conference() -> None:
    with cassette("update_conference") as played, voice(**bw.CALLBACK_CREDENTIALS) as v:
        assert v.conferences.end(bw.CONFERENCE_ID) is None
        v.conferences.update(bw.CONFERENCE_ID, redirect_url=bw.CONFERENCE_REDIRECT_URL)
    assert sent(played)[0].body == b'{"status":"completed"}'
    assert b'"redirectUrl"' in sent(played)[1].body
    assert bw.CALLBACK_PASSWORD.encode() not in sent(played)[1].body  # scrubbed


@documented
def test_list_members_is_the_conference_s_active_members() -> None:
    with cassette("list_members"), voice() as v:
        members = list(v.conferences.members(bw.CONFERENCE_ID))
    assert [m.call_id for m in members] == [bw.CALL_ID]


@documented
def test_update_member() -> None:
    with cassette("update_member") as played, voice() as v:
        v.conferences.update_member(bw.CONFERENCE_ID, bw.CALL_ID, muted=True)
        v.conferences.update_member(bw.CONFERENCE_ID, bw.CALL_ID, muted=False, on_hold=True)
    assert [r.body for r in sent(played)] == [b'{"mute":true}', b'{"mute":false,"hold":true}']


@documented
def test_conference_recordings() -> None:
    with cassette("conference_recordings"), voice() as v:
        rec = run(v, lambda p: p.get_conference_recording(bw.CONFERENCE_ID, bw.RECORDING_ID))
    assert (rec.id, rec.status, rec.raw["conferenceId"]) == (
        bw.RECORDING_ID, RecordingStatus.READY, bw.CONFERENCE_ID)


# The async client, the same cassettes -------------------------------------------------------


@documented
def test_async_client_replays_the_same_cassettes() -> None:
    async def run() -> Call:
        async with AsyncVoice("bandwidth", http={"async_backend": "httpx"},
                              **bw.settings()) as v:
            return await v.calls.get(bw.CALL_ID)

    with cassette("get_call_documented"):
        call = asyncio.run(run())
    assert call.status is CallStatus.COMPLETED


# The cassettes themselves ---------------------------------------------------------------------


def test_cassettes_are_what_the_generator_writes() -> None:
    """Each cassette written from the docs is reproducible; a live re-recording drops
    the generator's metadata and is then left alone here."""
    import yaml

    for spec in bw.CASSETTES:
        path = bw.cassette_dir("bandwidth") / f"{spec.name}.yaml"
        data = yaml.safe_load(path.read_text("utf-8")) if path.exists() else None
        if data is not None and (data.get("metadata") or {}).get("generated_by") != bw.GENERATOR:
            continue  # recorded live
        assert path.exists() and path.read_text("utf-8") == bw.render(spec), (
            f"{path.name} is stale: python -m tests.contract.bandwidth_cassettes")


def test_every_operation_has_a_cassette() -> None:
    names = {spec.name for spec in bw.CASSETTES}
    for operation in ("create_call", "get_call", "list_calls", "update_call", "hangup_call",
                      "list_recordings", "get_recording", "download_recording",
                      "delete_recording", "create_transcription", "get_transcription",
                      "list_conferences", "get_conference", "update_conference",
                      "list_members", "update_member", "conference_recordings"):
        assert operation in names
