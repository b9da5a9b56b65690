"""Bandwidth meets the resource contract against ``FakeBandwidth``, and the fake itself
behaves as the Voice API v2 spec says.

``TestBandwidthResources`` runs the shared contract twice: once with the fake running each
call on univoice's simulator (the REST surface alone), once with the adapter's own BXML
interpreter fetching every document from an in-process webhook app (the whole path:
fake Bandwidth -> app -> BXML -> interpreter, no sockets). Every request and response of
either run is checked against ``tests/specs/bandwidth-voice.openapi.yml``.

``TestFakeBandwidth`` drives the fake with raw HTTP, so a fake that drifts from the spec
fails here, not in someone else's test.
"""

from __future__ import annotations

import base64
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cassettes import validate_exchange
from tests.support.fake_bandwidth import (
    ACCOUNT_ID,
    API_URL,
    APPLICATION_ID,
    PASSWORD,
    TOKEN_PATH,
    USERNAME,
    AppHttp,
    FakeBandwidth,
    Runner,
    flow_runner,
    interpreter_runner,
    iso_duration,
    missing_pieces,
    simulated_runner,
)
from tests.support.live_server import LiveServer
from univoice import Flow, Voice
from univoice.plugins import get_provider
from univoice.simulator.script import CalleeScript
from univoice.webhooks import VoiceApp

from .resources import ResourceContract

APP_URL = "https://voice-app.example"
CALLBACK_USER = "univoice-callbacks"
CALLBACK_PASSWORD = "cb-secret-5b0e7c1d9a"


def need(*pieces: str) -> None:
    missing = missing_pieces(*pieces)
    if missing:
        pytest.skip(f"waiting for {', '.join(missing)}")


# The contract --------------------------------------------------------------------------


class TestBandwidthResources(ResourceContract):
    provider = "bandwidth"
    # GET /calls filters on to, from, start time and disconnect cause; callState has no tag.
    unsupported_call_filters = frozenset({"tag"})
    # Recordings live under their call (GET /calls/{id}/recordings/{rid}).
    recordings_need_call_id = True

    @pytest.fixture(autouse=True, params=["simulated", "interpreter"])
    def _voice(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
        need("operations")
        if request.param == "interpreter":
            need("interpreter", "compile", "events")
        store = f"sqlite:///{tmp_path / 'flows.db'}"
        app = VoiceApp(public_url=APP_URL, store=store, providers=[get_provider(
            "bandwidth", account_id=ACCOUNT_ID, callback_username=CALLBACK_USER,
            callback_password=CALLBACK_PASSWORD)])
        http = AppHttp(app)
        runner: Runner = (interpreter_runner() if request.param == "interpreter"
                          else simulated_runner(app.store))
        self.fake = FakeBandwidth(runner=runner, http=http)
        client = httpx.Client(transport=self.fake.transport())
        try:
            with Voice("bandwidth", account_id=ACCOUNT_ID, application_id=APPLICATION_ID,
                       username=USERNAME, password=PASSWORD, callback_username=CALLBACK_USER,
                       callback_password=CALLBACK_PASSWORD, public_url=APP_URL,
                       flow_store=store, client=client) as voice:
                self.voice = voice
                self.advance = self.fake.advance
                yield
        finally:
            client.close()
            http.close()
            app.store.close()
        for sent, answered in self.fake.exchanges:  # both sides as the spec says
            validate_exchange("bandwidth", sent, answered)
        if request.param == "interpreter" and self.fake.calls:
            assert self.fake.deliveries  # the documents did come from the app
        for delivery in self.fake.deliveries:  # every callback the app was sent it took
            assert delivery.credentials == (CALLBACK_USER, CALLBACK_PASSWORD), delivery
            assert delivery.status == 200, delivery

    def sent(self) -> list[httpx.Request]:
        return self.fake.requests


# The fake itself ------------------------------------------------------------------------

CALLS = f"{API_URL}/accounts/{ACCOUNT_ID}/calls"
TO, FROM = "+31612345678", "+31201234567"
CREATE = {"to": TO, "from": FROM, "applicationId": APPLICATION_ID,
          "answerUrl": "https://app.example/answer"}
VOICEMAIL = Flow.from_yaml("""
steps:
  - say: Leave a message.
  - record: {max_length: 30, transcribe: true}
  - hangup
""")
ROOM = Flow.from_yaml("""
steps:
  - conference: {name: standup, muted: true}
""")


class Api:
    """Raw HTTP to a fake, every exchange checked against the spec as it happens."""

    def __init__(self, fake: FakeBandwidth, *, auth: httpx.Auth | None = None) -> None:
        self.fake = fake
        self.client = httpx.Client(transport=fake.transport(),
                                   auth=auth or httpx.BasicAuth(USERNAME, PASSWORD))

    def __call__(self, method: str, url: str, *, check_request: bool = True,
                 **kw: Any) -> httpx.Response:
        response = self.client.request(method, url, **kw)
        validate_exchange("bandwidth", response.request, response,
                          check_request=check_request)
        return response

    def create(self, **changes: Any) -> dict[str, Any]:
        response = self("POST", CALLS, json={**CREATE, **changes})
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()
        return data

    def state(self, call_id: str) -> dict[str, Any]:
        response = self("GET", f"{CALLS}/{call_id}")
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()
        return data


def api_for(runner: Runner, **options: Any) -> Api:
    return Api(FakeBandwidth(runner=runner, **options))


def test_credentials_are_required() -> None:
    fake = FakeBandwidth()
    for auth in (None, httpx.BasicAuth(USERNAME, "wrong"), httpx.BasicAuth("x", PASSWORD)):
        client = httpx.Client(transport=fake.transport(), auth=auth)
        response = client.get(f"{CALLS}/c-1")
        validate_exchange("bandwidth", response.request, response, check_request=False)
        assert response.status_code == 401
        assert response.json() == {"type": "authentication-error", "id": None,
                                   "description": "The credentials provided were invalid"}
    other = Api(fake)("GET", f"{API_URL}/accounts/1234/calls/c-1")
    assert other.status_code == 401


def test_oauth2_client_credentials_give_a_bearer_token() -> None:
    fake = FakeBandwidth(client_id="client-1", client_secret="s3cret")
    token_url = f"https://api.bandwidth.com{TOKEN_PATH}"
    with httpx.Client(transport=fake.transport()) as client:
        refused = client.post(token_url, data={"grant_type": "client_credentials"},
                              auth=("client-1", "nope"))
        assert refused.status_code == 401
        granted = client.post(token_url, data={"grant_type": "client_credentials"},
                              auth=("client-1", "s3cret"))
        token = granted.json()["access_token"]
        assert granted.json()["token_type"] == "Bearer"
        ok = client.get(f"{CALLS}", headers={"Authorization": f"Bearer {token}"})
        assert ok.status_code == 200 and ok.json() == []
        bad = client.get(f"{CALLS}", headers={"Authorization": "Bearer not-issued"})
        assert bad.status_code == 401


@pytest.mark.parametrize(("change", "words"), [
    ({"to": None}, "to"), ({"to": "0612345678"}, "E164"), ({"to": "+123456789012345678"},
                                                          "E164"),
    ({"from": "31201234567"}, "from"), ({"applicationId": None}, "applicationId"),
    ({"applicationId": "not-mine"}, "applicationId"), ({"answerUrl": None}, "answerUrl"),
    ({"answerUrl": "ftp://x.example/a"}, "http and https"), ({"callTimeout": 0}, "callTimeout"),
    ({"callTimeout": 301}, "callTimeout"), ({"callTimeout": "30"}, "callTimeout"),
    ({"callbackTimeout": 26}, "callbackTimeout"), ({"priority": 6}, "priority"),
    ({"tag": "x" * 257}, "tag"), ({"answerMethod": "PUT"}, "answerMethod"),
    ({"callbackUrl": "https://x.example"}, "callbackUrl"),
    ({"answerUrl": "http://app.example/a", "username": "u", "password": "p"}, "https"),
    ({"machineDetection": {"mode": "later"}}, "mode"),
])
def test_create_call_is_validated_as_bandwidth_documents(change: dict[str, Any],
                                                        words: str) -> None:
    api = api_for(flow_runner(VOICEMAIL))
    body = {k: v for k, v in {**CREATE, **change}.items() if v is not None}
    response = api("POST", CALLS, json=body, check_request=False)
    assert response.status_code == 400
    error = response.json()
    assert error["type"] == "validation" and words in error["description"]
    assert api.fake.calls == {}  # nothing was placed


def test_create_needs_json() -> None:
    api = api_for(flow_runner(VOICEMAIL))
    response = api("POST", CALLS, content=json.dumps(CREATE),
                   headers={"content-type": "text/plain"}, check_request=False)
    assert response.status_code == 415
    assert "text/plain" in response.json()["description"]


def test_a_call_runs_on_the_virtual_clock() -> None:
    api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(ring_seconds=4))
    created = api.create(tag="order-7", username="u", password="p")
    call_id = created["callId"]
    location = api.fake.exchanges[-1][1].headers["location"]
    assert location == created["callUrl"] == f"{CALLS}/{call_id}"
    assert created["tag"] == "order-7" and created["password"] == "*****"
    assert created["callTimeout"] == 30 and created["answerMethod"] == "POST"
    first = api.state(call_id)
    assert first["state"] == "queued" and first["startTime"] is None
    assert "tag" not in first  # Bandwidth's callState has no tag
    api.fake.advance(1)
    assert api.state(call_id)["state"] == "initiated"
    api.fake.advance(4)
    answered = api.state(call_id)
    assert answered["state"] == "answered" and answered["answerTime"]
    assert answered["endTime"] is None and answered["disconnectCause"] is None
    api.fake.advance(600)
    ended = api.state(call_id)
    assert ended["state"] == "disconnected" and ended["disconnectCause"] == "hangup"
    assert ended["enqueuedTime"] <= ended["startTime"] < ended["answerTime"] < ended["endTime"]
    assert api("GET", f"{CALLS}/c-nope").status_code == 404


def test_unanswered_calls_end_with_bandwidths_causes() -> None:
    for answer, cause in (("busy", "busy"), ("no_answer", "timeout")):
        api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(answer=answer))
        call_id = api.create()["callId"]
        api.fake.advance(600)
        state = api.state(call_id)
        assert (state["state"], state["disconnectCause"], state["answerTime"]) == (
            "disconnected", cause, None)


def test_calls_list_is_a_bare_array_paged_by_link_header() -> None:
    api = api_for(flow_runner(VOICEMAIL))
    ids = [api.create()["callId"] for _ in range(5)]
    api.create(to="+31699999999")
    seen: list[str] = []
    url: str | None = f"{CALLS}?pageSize=2&to=%2B31612345678"
    pages = 0
    while url:
        response = api("GET", url)
        assert response.status_code == 200 and isinstance(response.json(), list)
        assert len(response.json()) <= 2
        seen += [c["callId"] for c in response.json()]
        url = response.links.get("next", {}).get("url")
        pages += 1
    assert seen == ids and pages == 3  # oldest first, the filter kept on every page
    assert api("GET", f"{CALLS}?pageSize=0", check_request=False).status_code == 400
    assert api("GET", f"{CALLS}?pageSize=10001", check_request=False).status_code == 400
    assert api("GET", f"{CALLS}?pageToken=garbage").status_code == 400
    assert api("GET", f"{CALLS}?tag=x", check_request=False).status_code == 400
    api.fake.advance(600)
    assert len(api("GET", f"{CALLS}?disconnectCause=hangup").json()) == 6
    assert api("GET", f"{CALLS}?disconnectCause=busy").json() == []


def test_hangup_cuts_a_live_call_and_an_ended_call_conflicts() -> None:
    api = api_for(flow_runner(VOICEMAIL))
    call_id = api.create()["callId"]
    # Answered at 3 s; "Leave a message." takes 1.2 s; the message is being recorded.
    api.fake.advance(6)
    assert api("POST", f"{CALLS}/{call_id}", json={"state": "completed"}).status_code == 200
    api.fake.advance(600)
    state = api.state(call_id)
    assert state["disconnectCause"] == "hangup"
    ended = api.fake.clock.at(api.fake.calls[call_id].created + 6)
    assert state["endTime"].startswith(ended.strftime("%Y-%m-%dT%H:%M:%S.000"))
    [rec] = api("GET", f"{CALLS}/{call_id}/recordings").json()
    assert rec["duration"] == "PT1.8S"  # what was recorded until the hang-up
    kinds = [e.kind.value for e in api.fake.trace_events(call_id)]
    assert kinds[-2:] == ["hung_up", "completed"] and "transcribed" not in kinds
    again = api("POST", f"{CALLS}/{call_id}", json={"state": "completed"})
    assert again.status_code == 409 and again.json()["type"] == "validation"


def test_hangup_before_answer_cancels() -> None:
    api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(ring_seconds=10))
    call_id = api.create()["callId"]
    api.fake.advance(2)
    redirect = api("POST", f"{CALLS}/{call_id}", json={"redirectUrl": "https://a.example/x"})
    assert redirect.status_code == 409  # not answered yet
    api("POST", f"{CALLS}/{call_id}", json={"state": "completed"})
    state = api.state(call_id)
    assert (state["state"], state["disconnectCause"]) == ("disconnected", "cancel")


@pytest.mark.parametrize("body", [
    {"state": "completed", "redirectUrl": "https://a.example/x"},
    {"state": "active"}, {"state": "paused", "redirectUrl": "https://a.example/x"},
    {"redirectUrl": "https://a.example/x", "colour": "red"},
])
def test_update_call_is_validated(body: dict[str, Any]) -> None:
    api = api_for(flow_runner(VOICEMAIL))
    call_id = api.create()["callId"]
    api.fake.advance(5)
    response = api("POST", f"{CALLS}/{call_id}", json=body, check_request=False)
    assert response.status_code == 400


def test_a_recording_is_processed_then_downloadable_and_transcribed() -> None:
    api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(record_seconds=7))
    call_id = api.create()["callId"]
    api.fake.advance(5)
    assert api("GET", f"{CALLS}/{call_id}/recordings").json() == []  # not recorded yet
    events = api.fake.trace_events(call_id)
    assert [e.kind.value for e in events][-1] == "said"
    api.fake.advance(600 - 5)
    # The recording ended long ago: complete, with media and a transcription.
    [rec] = api("GET", f"{CALLS}/{call_id}/recordings").json()
    assert rec["status"] == "complete" and rec["fileFormat"] == "wav"
    assert rec["duration"] == "PT7S" and rec["callId"] == call_id
    url = f"{CALLS}/{call_id}/recordings/{rec['recordingId']}"
    assert rec["mediaUrl"] == f"{url}/media"
    assert rec["transcription"]["status"] == "available"
    assert api("GET", url).json() == rec
    assert api("GET", f"{API_URL}/accounts/{ACCOUNT_ID}/recordings").json() == [rec]
    media = api("GET", rec["mediaUrl"])
    assert media.headers["content-type"] == "audio/vnd.wave"
    with wave.open(io.BytesIO(media.content)) as w:
        assert w.getnframes() == 7 * w.getframerate()
    transcript = api("GET", f"{url}/transcription").json()
    assert transcript["transcripts"][0]["text"]
    assert api("DELETE", f"{url}/transcription").status_code == 204
    assert api("GET", f"{url}/transcription").status_code == 404
    assert api("POST", f"{url}/transcription", json={}).status_code == 204
    api.fake.advance(api.fake.transcription_seconds)
    assert api("GET", f"{url}/transcription").status_code == 200
    assert api("DELETE", url).status_code == 204
    for gone in (url, f"{url}/media", f"{url}/transcription"):
        assert api("GET", gone).status_code == 404
    assert api("GET", f"{CALLS}/{call_id}/recordings").json() == []


def test_a_recording_is_processing_for_a_while_after_it_ends() -> None:
    api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(record_seconds=7),
                  processing_seconds=2.0)
    call_id = api.create()["callId"]
    # Answered at 3 s, "Leave a message." for 1.2 s, then 7 s of message: it ends at 11.2 s.
    api.fake.advance(11.2)
    [rec] = api("GET", f"{CALLS}/{call_id}/recordings").json()
    assert rec["status"] == "processing" and "mediaUrl" not in rec
    url = f"{CALLS}/{call_id}/recordings/{rec['recordingId']}"
    assert api("GET", f"{url}/media").status_code == 404
    assert api("POST", f"{url}/transcription", json={}).status_code == 404
    api.fake.advance(2.0)
    assert api("GET", f"{url}/media").status_code == 200


def test_redirect_reruns_the_call_from_the_new_url() -> None:
    runs: list[str] = []
    hold = flow_runner(Flow.from_dict({"steps": [{"pause": 120}]}))
    record = flow_runner(VOICEMAIL)

    def runner(setup: Any, script: CalleeScript, http: Any) -> Any:
        runs.append(f"{setup.first_event} {setup.answer_url}")
        return (record if setup.answer_url.endswith("/vm") else hold)(setup, script, http)

    api = api_for(runner)
    call_id = api.create()["callId"]
    api.fake.advance(10)
    moved = api("POST", f"{CALLS}/{call_id}", json={"redirectUrl": "https://a.example/vm",
                                                    "tag": "moved"})
    assert moved.status_code == 200 and moved.content == b""
    assert runs == ["answer https://app.example/answer", "redirect https://a.example/vm"]
    api.fake.advance(600)
    [rec] = api("GET", f"{CALLS}/{call_id}/recordings").json()
    # Answered at 3 s, moved at 10 s; the new document's message starts 1.2 s later.
    started = api.fake.clock.at(api.fake.calls[call_id].created + 11.2)
    assert rec["startTime"].startswith(started.strftime("%Y-%m-%dT%H:%M:%S.2"))
    assert api.state(call_id)["disconnectCause"] == "hangup"


def test_conferences_members_and_ending_them() -> None:
    api = api_for(flow_runner(ROOM), callee=CalleeScript(talk_seconds=60))
    first = api.create()["callId"]
    api.fake.advance(2)
    second = api.create(to="+31612340000")["callId"]
    conferences = f"{API_URL}/accounts/{ACCOUNT_ID}/conferences"
    assert api("GET", conferences).json() == []  # nobody has joined yet
    api.fake.advance(5)
    [room] = api("GET", f"{conferences}?pageSize=1").json()
    assert room["name"] == "standup" and room["completedTime"] is None
    assert "activeMembers" not in room
    detail = api("GET", f"{conferences}/{room['id']}").json()
    assert {m["callId"] for m in detail["activeMembers"]} == {first, second}
    assert all(m["mute"] for m in detail["activeMembers"])
    member = f"{conferences}/{room['id']}/members/{first}"
    assert api("PUT", member, json={"mute": False, "hold": True}).status_code == 204
    assert api("GET", member).json()["hold"] is True
    assert api("PUT", member, json={"mute": "no"}, check_request=False).status_code == 400
    assert api("GET", f"{conferences}/{room['id']}/members/c-nobody").status_code == 404
    ended = api("POST", f"{conferences}/{room['id']}", json={"status": "completed"})
    assert ended.status_code == 204
    done = api("GET", f"{conferences}/{room['id']}").json()
    assert done["activeMembers"] == [] and done["completedTime"]
    assert {api.state(c)["state"] for c in (first, second)} == {"disconnected"}
    assert api("GET", f"{conferences}/conf-nope").status_code == 404


def test_iso_durations_are_written_as_java_does() -> None:
    assert [iso_duration(s) for s in (13.67, 20.056, 125.5, 3600, 0)] == [
        "PT13.67S", "PT20.056S", "PT2M5.5S", "PT1H", "PT0S"]


def test_served_over_http_on_uvicorn() -> None:
    fake = FakeBandwidth(runner=flow_runner(VOICEMAIL))
    with LiveServer(fake.asgi()) as server:
        fake.base_url = f"{server.url}/api/v2"
        calls = f"{fake.base_url}/accounts/{ACCOUNT_ID}/calls"
        auth = "Basic " + base64.b64encode(f"{USERNAME}:{PASSWORD}".encode()).decode()
        with httpx.Client(headers={"Authorization": auth}, timeout=10) as client:
            created = client.post(calls, json=CREATE)
            assert created.status_code == 201
            assert created.headers["location"].startswith(calls)
            for _ in range(3):
                client.post(calls, json=CREATE)
            page = client.get(calls, params={"pageSize": 3})
            assert len(page.json()) == 3
            assert page.links["next"]["url"].startswith(calls)
            assert len(client.get(page.links["next"]["url"]).json()) == 1
            assert client.get(calls, headers={"Authorization": ""}).status_code == 401
