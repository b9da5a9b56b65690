"""Bird REST operations through ``univoice.Voice``, replayed from cassettes/bird/.

Every test drives the public client (or, for transport behaviour, ``SyncTransport``) over a
cassette written by tests/contract/bird_cassettes.py from the docs' examples, asserts the
neutral result or the typed error, and validates the cassette against
tests/specs/bird-voice.openapi.yml. Tests of cassettes marked live-recordable create what
they use and also run against a live account (cassettes/bird/README.md); the others are
skipped while recording.
"""

from __future__ import annotations

import asyncio
import io
import json
from collections.abc import Iterator
from contextlib import contextmanager
from datetime import UTC, datetime
from typing import Any

import httpx
import pytest
from vcr.cassette import Cassette

from tests.cassettes import PROFILES, provider_env, recording, use_cassette, validate_cassette
from tests.contract import bird_cassettes as bc
from univoice import AsyncVoice, Flow, Voice
from univoice.errors import (
    AuthenticationError,
    ConfigError,
    InvalidArguments,
    InvalidRequest,
    NotFound,
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
)
from univoice.retry import NO_RETRY, RetryPolicy
from univoice.transport import Hooks, HttpSettings
from univoice_bird import compile

LIVE = recording()
documented = pytest.mark.skipif(
    LIVE, reason="replays a cassette written from the docs: needs a call in a given state, "
                 "or a failure no one can provoke")
ENV = provider_env("bird")
if LIVE:
    FROM, TO = ENV["BIRD_FROM_NUMBER"], ENV["BIRD_TO_NUMBER"]
else:
    FROM, TO = bc.FROM, bc.TO


@pytest.fixture(autouse=True, scope="module")
def _placeholders_replay() -> None:
    """A live recording scrubs the real numbers to the harness placeholders; the replays
    send ``bc.FROM``/``bc.TO``: they must be the same (valid) numbers."""
    if LIVE:
        wanted = {bc.FROM, bc.TO}
        numbers = {v for k, v in PROFILES["bird"].placeholders.items() if "NUMBER" in k}
        assert numbers == wanted, (
            f"set tests.cassettes.PROFILES['bird'] number placeholders to {sorted(wanted)} "
            "before recording")


@contextmanager
def cassette(name: str) -> Iterator[Cassette]:
    """Replay ``name`` and, once the block is done, validate it against the spec."""
    with use_cassette("bird", name) as played:
        yield played
    validate_cassette("bird", played)


def sent(played: Cassette) -> list[Any]:
    """The cassette's requests that were played, in cassette order."""
    return [played.requests[i] for i in sorted(played.play_counts)]


def body(request: Any) -> Any:
    return json.loads(request.body)


def voice(*, retry: RetryPolicy = NO_RETRY, hosted: bool = False,
          seen: list[httpx.Request] | None = None, **extra: Any) -> Voice:
    """A client over the cassettes; ``seen`` collects what it sends (as hooks see it:
    credentials masked)."""
    where: dict[str, Any] = {"public_url": bc.PUBLIC_URL,
                             "flow_store": "sqlite://:memory:"} if hosted else {}
    hooks = Hooks(request=[seen.append]) if seen is not None else None
    return Voice("bird", http=HttpSettings(retry=retry), hooks=hooks, **where,
                 **bc.settings(**extra))


def placed(v: Voice, kind: str) -> Call:
    """The call a live-recordable cassette starts with."""
    return v.calls.create(TO, FROM, flow=bc.HANGUP, tag=bc.TAGS[kind])


# calls.create ----------------------------------------------------------------------------


def test_create_call_with_a_flow_and_a_callback() -> None:
    seen: list[httpx.Request] = []
    with cassette("create_call"), voice(seen=seen) as v:
        call = v.calls.create(TO, FROM, flow=bc.GREETING, callback_url=bc.CALLBACK_URL,
                              tag=bc.TAGS["create"])
    assert (call.status, call.direction, call.to, call.from_, call.tag) == (
        CallStatus.QUEUED, Direction.OUTBOUND, TO, FROM, bc.TAGS["create"])
    assert call.status_raw == "accepted" and call.created_at is not None
    request = seen[0]
    assert (request.method, request.url.path) == ("POST", bc.calls_path())
    sent_body = json.loads(request.content)
    assert sent_body == {"to": TO, "from": FROM, "callFlow": compile.start(bc.GREETING),
                         "ringTimeout": 30, "notification": {"url": bc.CALLBACK_URL},
                         "tags": [bc.TAGS["create"]]}
    assert [c["command"] for c in sent_body["callFlow"]] == ["say", "hangup"]
    if not LIVE:
        assert call.id == bc.CALL_ID
        assert [c["command"] for c in call.raw["callFlow"]["commands"]] == ["say", "hangup"]


@documented
def test_create_call_with_options_and_to_a_sip_uri() -> None:
    with cassette("create_call_options") as played, voice() as v:
        call = v.calls.create(TO, FROM, flow=bc.VOICEMAIL, ring_timeout=45, max_duration=600,
                              tag=bc.TAGS["options"])
        sip = v.calls.create(bc.SIP_TO, FROM, flow=bc.HANGUP, tag=bc.TAGS["sip"])
    options = body(sent(played)[0])
    # The flow's record option records the whole call (a create-call field).
    assert (options["ringTimeout"], options["maxDuration"], options["record"]) == (45, 600, True)
    assert "amdSettings" not in options and "notification" not in options
    assert (call.id, sip.id, sip.to) == (bc.CALL_ID, bc.OTHER_CALL_ID, bc.SIP_TO)
    assert body(sent(played)[1])["to"] == bc.SIP_TO


@documented
def test_create_call_from_a_number_not_ours_is_invalid_request() -> None:
    with cassette("create_call_invalid"), voice() as v, pytest.raises(
            InvalidRequest) as failure:
        v.calls.create(TO, bc.NOT_OURS, flow=bc.HANGUP, tag=bc.TAGS["invalid"])
    error = failure.value
    assert (error.status, error.code, error.operation) == (422, "InvalidPayload", "calls.create")
    assert error.provider_message == ("The request payload is invalid (from: is not a number "
                                      "of this channel)")
    assert error.raw == bc.INVALID_FROM


@documented
def test_create_call_whose_answer_is_lost_is_found_by_its_tag() -> None:
    with cassette("create_call_lost_answer") as played, voice(
            retry=RetryPolicy(backoff=0.0)) as v:
        call = v.calls.create(TO, FROM, flow=bc.HANGUP, tag="Order-7")  # kept lower-cased
    # 503 (an HTML page), then the calls log filtered by this channel and the tag: the
    # call tagged order-7 is the one; order-8's is not. The create is not repeated.
    assert (call.id, call.status, call.tag) == (bc.CALL_ID, CallStatus.QUEUED, "order-7")
    assert played.play_count == 2
    lookup = sent(played)[1]
    assert lookup.method == "GET" and lookup.uri.split("?")[0].endswith(
        f"/workspaces/{bc.WORKSPACE}/channels/calls")
    assert sorted(lookup.query) == sorted([("channelId", bc.CHANNEL), ("tag", "order-7"),
                                           ("limit", "10")])


def test_create_call_checks_its_arguments_before_any_request() -> None:
    conference = Flow.from_dict({"steps": [{"conference": {"name": "room"}}]})
    with cassette("create_call") as played, voice() as v:
        with pytest.raises(UnsupportedFeature, match=r"calls\.create\.answer_url"):
            v.calls.create(TO, FROM, answer_url="https://app.example/answer")
        with pytest.raises(UnsupportedFeature, match="conference"):
            v.calls.create(TO, FROM, flow=conference)
        with pytest.raises(UnsupportedFeature, match="machine_detection"):
            v.calls.create(TO, FROM, flow=bc.HANGUP, machine_detection=True)
        for seconds in (2, 121):
            with pytest.raises(InvalidArguments, match="ring_timeout"):
                v.calls.create(TO, FROM, flow=bc.HANGUP, ring_timeout=seconds)
    assert played.play_count == 0
    with pytest.raises(ConfigError, match="access_key"):
        Voice("bird", workspace_id=bc.WORKSPACE, channel_id=bc.CHANNEL)


def test_create_call_hands_bird_the_apps_callback_route() -> None:
    # With public_url known, notification.url is the webhook app's Bird route.
    v = voice(hosted=True)
    op = v.calls._ops.create_call(TO, FROM, bc.HANGUP, tag="t")
    assert json.loads(op.request.content)["notification"] == {"url": bc.EVENTS_URL}
    v.close()


# calls.get -------------------------------------------------------------------------------


def test_get_call() -> None:
    with cassette("get_call"), voice() as v:
        call = v.calls.get(placed(v, "get").id)
    assert (call.to, call.from_, call.direction) == (TO, FROM, Direction.OUTBOUND)
    if LIVE:
        return
    assert (call.id, call.status, call.status_raw, call.tag) == (
        bc.CALL_ID, CallStatus.RINGING, "ringing", bc.TAGS["get"])
    assert (call.answered_at, call.ended_at, call.duration, call.end_reason) == (
        None, None, None, None)


def test_get_missing_call_is_not_found() -> None:
    with cassette("get_call"), voice() as v, pytest.raises(NotFound) as failure:
        v.calls.get(bc.MISSING)
    assert (failure.value.status, failure.value.code) == (404, "NotFound")


def test_get_call_with_a_wrong_key_is_an_authentication_error() -> None:
    with cassette("get_call_unauthorized"), voice(access_key="not-the-access-key") as v, \
            pytest.raises(AuthenticationError) as failure:
        v.calls.get(bc.MISSING)
    assert failure.value.status == 401
    assert "not-the-access-key" not in str(failure.value)
    assert "not-the-access-key" not in json.dumps(failure.value.raw)


@documented
def test_get_call_reads_the_docs_examples() -> None:
    with cassette("get_call_documented"), voice() as v:
        schema = v.calls.get(bc.SCHEMA_CALL_ID)
        seed = v.calls.get(bc.CALL_ID)
    # The schema example: placeholder "text" numbers kept as they are; an "accepted" call
    # (queued) whose times are all set: not final, so no end reason and no duration.
    assert (schema.status, schema.direction, schema.from_, schema.to, schema.tag) == (
        CallStatus.QUEUED, Direction.INBOUND, "text", "text", "text")
    assert (schema.end_reason, schema.duration) == (None, None)
    assert schema.answered_at == datetime(2025, 5, 8, 22, 44, 32, 995000, tzinfo=UTC)
    assert schema.raw["sipInsights"]["edgeRegion"] == "text"
    assert (seed.status, seed.from_, seed.to, seed.direction) == (
        CallStatus.QUEUED, "+3197058016631", "+351910648517", Direction.OUTBOUND)
    assert seed.created_at == datetime(2024, 2, 29, 11, 44, 7, 740000, tzinfo=UTC)


@documented
def test_get_call_the_callee_hung_up() -> None:
    with cassette("get_call_documented"), voice() as v:
        call = v.calls.get(bc.OTHER_CALL_ID)
    assert (call.status, call.end_reason, call.end_reason_raw, call.duration) == (
        CallStatus.COMPLETED, EndReason.CALLEE_HANGUP, "completed", 42.0)
    assert call.finished


@documented
def test_get_call_is_retried_on_5xx() -> None:
    with cassette("get_call_documented") as played, voice(
            retry=RetryPolicy(backoff=0.0)) as v:
        call = v.calls.get(bc.THIRD_CALL_ID)
    assert (call.status, call.end_reason, call.end_reason_raw, call.duration) == (
        CallStatus.NO_ANSWER, EndReason.NO_ANSWER, "no-answer", 0.0)
    assert played.play_count == 3


@documented
def test_get_call_5xx_when_retries_run_out_is_a_server_error() -> None:
    with cassette("get_call_documented"), voice() as v, pytest.raises(ServerError) as failure:
        v.calls.get(bc.THIRD_CALL_ID)
    assert (failure.value.status, failure.value.code) == (500, None)
    assert failure.value.raw == "Internal Server Error"


# calls.list --------------------------------------------------------------------------------


@documented
def test_list_calls_pages_by_token() -> None:
    with cassette("list_calls") as played, voice() as v:
        calls = list(v.calls.list(page_size=2))
    assert [c.id for c in calls] == [bc.CALL_ID, bc.SCHEMA_CALL_ID, bc.OTHER_CALL_ID]
    assert [c.status for c in calls] == [CallStatus.QUEUED, CallStatus.QUEUED,
                                         CallStatus.COMPLETED]
    queries = [r.uri.split("?", 1)[1] for r in sent(played)]
    # The harness scrubs every *token value: the cursor replays as <redacted>.
    assert queries == ["limit=2", "limit=2&pageToken=<redacted>"]


@documented
def test_list_calls_limit_stops_before_the_next_page() -> None:
    with cassette("list_calls") as played, voice() as v:
        assert len(list(v.calls.list(page_size=2, limit=2))) == 2
    assert played.play_count == 1


@documented
def test_list_calls_with_filters() -> None:
    with cassette("list_calls") as played, voice() as v:
        calls = list(v.calls.list(to=TO, from_=FROM, status="no_answer",
                                  created_after=bc.CREATED_AFTER,
                                  created_before=bc.CREATED_BEFORE))
    assert [(c.id, c.status) for c in calls] == [(bc.THIRD_CALL_ID, CallStatus.NO_ANSWER)]
    assert dict(sent(played)[0].query) == {
        "limit": "50", "status": "no-answer", "to": TO, "from": FROM,
        "startAt": "2024-02-29T00:00:00.000Z", "endAt": "2024-03-01T00:00:00.000Z"}


@documented
def test_list_calls_by_tag_reads_the_workspace_calls_log() -> None:
    with cassette("list_calls") as played, voice() as v:
        calls = list(v.calls.list(tag=bc.FILTER_TAG.upper()))
    assert [(c.id, c.tag) for c in calls] == [(bc.CALL_ID, bc.FILTER_TAG)]
    request = sent(played)[0]
    assert request.uri.split("?")[0].endswith(f"/workspaces/{bc.WORKSPACE}/channels/calls")
    assert dict(request.query) == {"channelId": bc.CHANNEL, "tag": bc.FILTER_TAG,
                                   "limit": "50"}


@pytest.mark.parametrize("status", ["canceled", "unknown"])
def test_list_calls_refuses_a_status_bird_does_not_have(status: str) -> None:
    with cassette("list_calls") as played, voice() as v, pytest.raises(
            UnsupportedFeature, match=r"calls\.list\.status"):
        list(v.calls.list(status=status))
    assert played.play_count == 0


# calls.update / calls.hangup --------------------------------------------------------------


@documented
def test_update_call_pushes_a_new_call_flow() -> None:
    with cassette("update_call") as played, voice() as v:
        call = v.calls.update(bc.CALL_ID, flow=bc.GOODBYE)
    request = sent(played)[0]
    assert (request.method, body(request)) == ("PATCH", {"callFlow": compile.start(bc.GOODBYE)})
    # Bird answered with the call: no second request.
    assert (call.id, call.status, played.play_count) == (bc.CALL_ID, CallStatus.IN_PROGRESS, 1)
    assert [c["command"] for c in call.raw["callFlow"]["commands"]] == ["say", "hangup"]


@documented
def test_update_call_whose_answer_is_no_call_reads_the_call() -> None:
    with cassette("update_call") as played, voice() as v:
        call = v.calls.update(bc.OTHER_CALL_ID, flow=bc.GOODBYE)
    assert (call.id, call.status) == (bc.OTHER_CALL_ID, CallStatus.IN_PROGRESS)
    assert [r.method for r in sent(played)] == ["PATCH", "GET"]


@documented
def test_update_missing_call_is_not_found() -> None:
    with cassette("update_call"), voice() as v, pytest.raises(NotFound):
        v.calls.update(bc.MISSING, flow=bc.GOODBYE)


def test_redirect_is_refused_before_any_request() -> None:
    with cassette("update_call") as played, voice() as v, pytest.raises(
            UnsupportedFeature, match=r"calls\.update\.redirect_url") as failure:
        v.calls.redirect(bc.CALL_ID, "https://app.example/next")
    assert "pull" in str(failure.value) or "fetch" in str(failure.value)
    assert played.play_count == 0


def test_hangup_call() -> None:
    seen: list[httpx.Request] = []
    with cassette("hangup_call"), voice(seen=seen) as v:
        call = placed(v, "hangup")
        assert v.calls.hangup(call.id) is None
    assert (seen[1].method, seen[1].url.path) == ("PATCH", bc.calls_path(call.id))
    assert json.loads(seen[1].content) == {"status": "completed"}


def test_hangup_missing_call_is_not_found() -> None:
    with cassette("hangup_call"), voice() as v, pytest.raises(NotFound):
        v.calls.hangup(bc.MISSING)


# Recordings -----------------------------------------------------------------------------


@documented
def test_list_recordings_of_a_call() -> None:
    with cassette("list_recordings") as played, voice() as v:
        recs = list(v.recordings.list(call_id=bc.CALL_ID))
    assert [(r.id, r.call_id, r.status) for r in recs] == [
        (bc.RECORDING_ID, bc.CALL_ID, RecordingStatus.READY),
        (bc.OTHER_RECORDING_ID, bc.CALL_ID, RecordingStatus.PROCESSING)]
    assert (recs[0].duration, recs[0].format) == (29.0, "mp3")
    assert recs[0].media_url == (f"{bc.API}/workspaces/{bc.WORKSPACE}/recordings/"
                                 f"{bc.RECORDING_ID}.mp3")
    assert recs[1].media_url is None  # not available yet
    assert recs[1].raw["endedAt"] == "0001-01-01T00:00:00Z"
    assert dict(sent(played)[0].query) == {"channelId": bc.CHANNEL, "sourceId": bc.CALL_ID,
                                           "limit": "50"}


@documented
def test_get_and_download_a_recording() -> None:
    with cassette("get_recording"), voice() as v:
        rec = v.recordings.get(bc.RECORDING_ID)
    assert (rec.id, rec.call_id, rec.status, rec.duration) == (
        bc.RECORDING_ID, bc.THIRD_CALL_ID, RecordingStatus.READY, 29.0)
    assert rec.created_at == datetime(2023, 10, 26, 18, 28, 55, 646000, tzinfo=UTC)
    sink = io.BytesIO()
    with cassette("download_recording") as played, voice() as v:
        assert v.recordings.download(rec.model_copy(update={"call_id": bc.CALL_ID}),
                                     sink) is None
    assert sink.getvalue() == bc.MP3
    assert sent(played)[0].uri.endswith(f"/recordings/{bc.RECORDING_ID}.mp3")


@documented
def test_get_missing_recording_is_not_found() -> None:
    with cassette("get_recording"), voice() as v, pytest.raises(NotFound):
        v.recordings.get(bc.MISSING)


def test_recording_operations_bird_lacks_are_refused() -> None:
    rec = Recording(provider="bird", id=bc.RECORDING_ID, call_id=bc.CALL_ID)
    with cassette("get_recording") as played, voice() as v:
        for action in (lambda: v.recordings.delete(rec), lambda: v.transcriptions.get(rec),
                       lambda: v.transcriptions.request(rec)):
            with pytest.raises(UnsupportedFeature):
                action()
    assert played.play_count == 0


# The async client, the same cassettes -------------------------------------------------------


@documented
def test_async_client_replays_the_same_cassettes() -> None:
    async def run() -> Call:
        async with AsyncVoice("bird", http={"async_backend": "httpx"},
                              **bc.settings()) as v:
            return await v.calls.get(bc.OTHER_CALL_ID)

    with cassette("get_call_documented"):
        call = asyncio.run(run())
    assert (call.id, call.end_reason) == (bc.OTHER_CALL_ID, EndReason.CALLEE_HANGUP)


# The cassettes themselves ---------------------------------------------------------------------


def test_cassettes_are_what_the_generator_writes() -> None:
    """Each cassette written from the docs is reproducible (a change to the adapter or the
    compiler shows up here); a live re-recording drops the generator's metadata and is then
    left alone."""
    import yaml

    for spec in bc.CASSETTES:
        path = bc.cassette_dir("bird") / f"{spec.name}.yaml"
        data = yaml.safe_load(path.read_text("utf-8")) if path.exists() else None
        if data is not None and (data.get("metadata") or {}).get("generated_by") != bc.GENERATOR:
            continue  # recorded live
        assert path.exists() and path.read_text("utf-8") == bc.render(spec), (
            f"{path.name} is stale: python -m tests.contract.bird_cassettes")


def test_every_operation_has_a_cassette() -> None:
    names = {spec.name for spec in bc.CASSETTES}
    assert names >= {"create_call", "get_call", "list_calls", "update_call", "hangup_call",
                     "list_recordings", "get_recording", "download_recording",
                     "get_call_unauthorized", "create_call_invalid", "create_call_lost_answer"}
    for name in names:  # every cassette file exists and validates
        assert validate_cassette("bird", name) >= 1
