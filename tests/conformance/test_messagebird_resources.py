"""MessageBird meets the resource contract against ``FakeMessageBird``, and the fake itself
behaves as the (corrected) Voice Calling spec says.

``TestMessageBirdResources`` runs the shared contract twice: once with the fake running each
call on univoice's simulator (the REST surface alone: ``simulated_runner`` reads the inline
call flow back into its neutral flow, or the flow the client stored for the webhook app),
once with the adapter's own call-flow interpreter fetching every continuation from an
in-process webhook app (the whole path; it runs once ``univoice_messagebird.interpreter``
and the callback verification in ``events`` exist). Every request and response of either
run is checked against ``tests/specs/messagebird-voice-seed.openapi.yml``.

``TestFakeMessageBird`` drives the fake with raw HTTP, so a fake that drifts from the spec
fails here, not in someone else's test.

Opt-outs of the contract, and why: ``unsupported_call_filters`` (``GET /calls`` takes only
``page``/``perPage``: every filter is refused before any request); ``hangup_removes_call``
(``DELETE /calls/{id}``, the only hang-up, removes the call). calls.update and
transcriptions.delete are not in the provider's declared resources, so the contract holds
them to refusing before any request. Three contract tests read a call's legs or a
transcription's text, a second request each: they wait for the core's ``Operation.then``.
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import io
import json
import wave
from collections.abc import Iterator
from pathlib import Path
from typing import Any

import httpx
import pytest

from tests.cassettes import validate_exchange
from tests.support.fake_messagebird import (
    ACCESS_KEY,
    API_URL,
    SIGNING_KEY,
    AppHttp,
    CallSetup,
    FakeMessageBird,
    Runner,
    call_flow_to_neutral,
    flow_runner,
    interpreter_runner,
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
# Contract tests that read a second resource in one client call (a call's legs, a
# transcription's text): they run once the core runs ``Operation.then``.
NEEDS_CHAINING = frozenset({"test_create_then_get", "test_transcription_text",
                            "test_transcription_delete_then_not_found"})


def need(*pieces: str) -> None:
    missing = missing_pieces(*pieces)
    if missing:
        pytest.skip(f"waiting for {', '.join(missing)}")


# The contract --------------------------------------------------------------------------


class TestMessageBirdResources(ResourceContract):
    provider = "messagebird"
    # GET /calls takes page and perPage only (PROVIDERS §2.1; the spec's listCalls).
    unsupported_call_filters = frozenset({"to", "from_", "status", "created_after",
                                          "created_before", "tag"})
    # DELETE /calls/{id}: "hanging up all active legs and removing the call resource".
    hangup_removes_call = True

    @pytest.fixture(autouse=True, params=["simulated", "interpreter"])
    def _voice(self, request: pytest.FixtureRequest, tmp_path: Path) -> Iterator[None]:
        if request.param == "interpreter":
            need("interpreter", "events")
        if request.node.originalname in NEEDS_CHAINING:
            need("chaining")
        store = f"sqlite:///{tmp_path / 'flows.db'}"
        app = VoiceApp(public_url=APP_URL, store=store, providers=[get_provider(
            "messagebird", signing_key=SIGNING_KEY)])
        http = AppHttp(app)
        runner: Runner = (interpreter_runner() if request.param == "interpreter"
                          else simulated_runner(app.store))
        self.fake = FakeMessageBird(runner=runner, http=http)
        client = httpx.Client(transport=self.fake.transport())
        try:
            with Voice("messagebird", access_key=ACCESS_KEY, public_url=APP_URL,
                       flow_store=store, client=client) as voice:
                self.voice = voice
                self.advance = self.fake.advance
                yield
        finally:
            client.close()
            http.close()
            app.store.close()
        for sent, answered in self.fake.exchanges:  # both sides as the spec says
            validate_exchange("messagebird", sent, answered)
        for delivery in self.fake.deliveries:  # every request the app was sent it took
            assert delivery.status == 200, delivery

    def sent(self) -> list[httpx.Request]:
        return self.fake.requests


# The fake itself ------------------------------------------------------------------------

TO, FROM = "31612345678", "31644556677"
CALLS = f"{API_URL}/calls"
VOICEMAIL = Flow.from_yaml("""
steps:
  - say: Leave a message.
  - record: {max_length: 30, transcribe: true}
  - hangup
""")
TRANSFER = Flow.from_yaml("""
steps:
  - say: Connecting you.
  - transfer: {targets: ["+31201234567"], record: true}
  - hangup
""")
CALL_FLOW = {"steps": [{"action": "say", "options": {"payload": "Hi.", "language": "en-GB"}},
                       {"action": "hangup"}]}


class Api:
    """Raw HTTP to a fake, every exchange checked against the spec as it happens."""

    def __init__(self, fake: FakeMessageBird, *, key: str = ACCESS_KEY) -> None:
        self.fake = fake
        self.client = httpx.Client(transport=fake.transport(),
                                   headers={"Authorization": f"AccessKey {key}"})

    def __call__(self, method: str, url: str, *, check_request: bool = True,
                 **kw: Any) -> httpx.Response:
        response = self.client.request(method, url, **kw)
        validate_exchange("messagebird", response.request, response,
                          check_request=check_request)
        return response

    def create(self, **changes: Any) -> dict[str, Any]:
        body = {"source": FROM, "destination": TO, "callFlow": CALL_FLOW, **changes}
        response = self("POST", CALLS, json=body)
        assert response.status_code == 201, response.text
        data: dict[str, Any] = response.json()["data"][0]
        return data

    def one(self, url: str) -> dict[str, Any]:
        response = self("GET", url)
        assert response.status_code == 200, response.text
        data: dict[str, Any] = response.json()["data"][0]
        return data

    def all(self, url: str) -> list[dict[str, Any]]:
        response = self("GET", url)
        assert response.status_code == 200, response.text
        data: list[dict[str, Any]] = response.json()["data"]
        return data


def api_for(runner: Runner, **options: Any) -> Api:
    return Api(FakeMessageBird(runner=runner, **options))


def test_the_access_key_is_required() -> None:
    fake = FakeMessageBird()
    for headers in ({}, {"Authorization": "AccessKey wrong-key"},
                    {"Authorization": f"Bearer {ACCESS_KEY}"}):
        response = httpx.Client(transport=fake.transport()).get(f"{CALLS}/x", headers=headers)
        validate_exchange("messagebird", response.request, response, check_request=False)
        assert response.status_code == 401
        assert response.json()["errors"] == [
            {"code": 2, "message": "Request not allowed (incorrect access_key)"}]
        assert "wrong-key" not in response.text
    assert fake.calls == {}


@pytest.mark.parametrize(("change", "words"), [
    ({"source": None}, "source"), ({"destination": None}, "destination"),
    ({"destination": "+31612345678"}, "without '+'"), ({"callFlow": None}, "callFlow"),
    ({"callflow": CALL_FLOW}, "callFlow"),
    ({"callFlow": {"steps": []}}, "steps"),
    ({"callFlow": {"steps": [{"action": "dance"}]}}, "action"),
    ({"callFlow": {"steps": [{"action": "say", "onKeypressGoto": "nowhere"}]}},
     "onKeypressGoto"),
    ({"webhook": {"url": "ftp://x.example"}}, "webhook.url"), ({"colour": "red"}, "colour"),
])
def test_create_call_is_validated(change: dict[str, Any], words: str) -> None:
    api = api_for(flow_runner(VOICEMAIL))
    body = {k: v for k, v in {"source": FROM, "destination": TO, "callFlow": CALL_FLOW,
                              **change}.items() if v is not None}
    response = api("POST", CALLS, json=body, check_request=False)
    assert response.status_code == 422
    assert words in response.json()["errors"][0]["message"]
    assert api.fake.calls == {}


def test_a_call_runs_on_the_virtual_clock() -> None:
    api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(ring_seconds=4))
    created = api.create(webhook={"url": "https://app.example/events"})
    call_id = created["id"]
    assert (created["status"], created["source"], created["destination"],
            created["endedAt"]) == ("queued", FROM, TO, None)
    assert api.all(f"{CALLS}/{call_id}/legs") == []  # not dialled yet
    api.fake.advance(1)
    assert api.one(f"{CALLS}/{call_id}")["status"] == "starting"
    [leg] = api.all(f"{CALLS}/{call_id}/legs")
    assert (leg["status"], leg["direction"], leg["answeredAt"]) == ("ringing", "outgoing", None)
    api.fake.advance(4)
    assert api.one(f"{CALLS}/{call_id}")["status"] == "ongoing"
    assert api.one(f"{CALLS}/{call_id}/legs/{leg['id']}")["status"] == "ongoing"
    api.fake.advance(600)
    call = api.one(f"{CALLS}/{call_id}")
    [leg] = api.all(f"{CALLS}/{call_id}/legs")
    assert (call["status"], leg["status"]) == ("ended", "hangup")
    assert leg["createdAt"] < leg["answeredAt"] < leg["endedAt"] <= call["endedAt"]
    assert leg["duration"] > 0 and leg["currency"] == "EUR"
    assert api("GET", f"{CALLS}/nope").json()["errors"][0]["code"] == 13
    assert api("GET", f"{CALLS}/{call_id}/legs/nope").status_code == 404


@pytest.mark.parametrize("answer", ["busy", "no_answer"])
def test_unanswered_calls_say_why(answer: str) -> None:
    api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(answer=answer))
    call_id = api.create()["id"]
    api.fake.advance(600)
    [leg] = api.all(f"{CALLS}/{call_id}/legs")
    assert (api.one(f"{CALLS}/{call_id}")["status"], leg["status"], leg["answeredAt"],
            leg["duration"]) == (answer, answer, None, 0)


def test_calls_are_listed_newest_first_a_page_at_a_time() -> None:
    api = api_for(flow_runner(VOICEMAIL))
    ids = []
    for _ in range(5):
        ids.append(api.create()["id"])
        api.fake.advance(1)
    first = api("GET", f"{CALLS}?page=1&perPage=2").json()
    assert first["pagination"] == {"totalCount": 5, "pageCount": 3, "currentPage": 1,
                                   "perPage": 2}
    seen = [c["id"] for page in (1, 2, 3)
            for c in api.all(f"{CALLS}?page={page}&perPage=2")]
    assert seen == ids[::-1]
    assert api.all(f"{CALLS}?page=4&perPage=2") == []
    assert api("GET", f"{CALLS}?perPage=0", check_request=False).status_code == 422
    assert api("GET", f"{CALLS}?status=ended", check_request=False).status_code == 422


def test_hangup_cuts_the_call_and_removes_it() -> None:
    api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(record_seconds=20))
    call_id = api.create()["id"]
    api.fake.advance(8)  # answered at 3 s, "Leave a message." until 4.2 s: recording
    leg = api.all(f"{CALLS}/{call_id}/legs")[0]
    [rec] = api.all(f"{CALLS}/{call_id}/legs/{leg['id']}/recordings")
    assert rec["status"] == "recording"
    assert api("DELETE", f"{CALLS}/{call_id}").status_code == 204
    assert api("GET", f"{CALLS}/{call_id}").status_code == 404
    assert api("DELETE", f"{CALLS}/{call_id}").status_code == 404
    assert call_id not in [c["id"] for c in api.all(CALLS)]
    kinds = [e.kind.value for e in api.fake.trace_events(call_id)]
    assert kinds[-2:] == ["hung_up", "completed"] and "transcribed" not in kinds
    api.fake.advance(5)
    kept = api.one(f"{API_URL}/recordings/{rec['id']}")  # what was recorded until then
    assert (kept["status"], kept["duration"]) == ("done", 4)
    assert api.all(f"{API_URL}/recordings/{rec['id']}/transcriptions") == []


def test_a_recording_then_its_media_and_transcriptions() -> None:
    api = api_for(flow_runner(VOICEMAIL), callee=CalleeScript(record_seconds=7),
                  processing_seconds=2.0)
    call_id = api.create()["id"]
    # Answered at 3 s, "Leave a message." for 1.2 s, then 7 s of message: it ends at 11.2 s.
    api.fake.advance(11.2)
    leg = api.all(f"{CALLS}/{call_id}/legs")[0]
    [rec] = api.all(f"{CALLS}/{call_id}/legs/{leg['id']}/recordings")
    url = f"{API_URL}/recordings/{rec['id']}"
    assert (rec["status"], rec["type"], rec["legId"]) == ("recording", "call", leg["id"])
    assert api("GET", f"{url}.wav").status_code == 404
    assert api("POST", f"{url}/transcriptions", json={}).status_code == 422
    api.fake.advance(2.0)
    done = api.one(url)
    assert (done["status"], done["duration"], done["deletedAt"]) == ("done", 7, None)
    nested = f"{CALLS}/{call_id}/legs/{leg['id']}/recordings/{rec['id']}"
    assert done["_links"]["file"] == f"{nested.removeprefix(API_URL)}.wav"
    assert api.one(nested) == done
    media = api("GET", f"{url}.wav")
    assert media.headers["content-type"] == "audio/wav"
    with wave.open(io.BytesIO(media.content)) as w:
        assert w.getnframes() == 7 * w.getframerate()
    assert api("GET", f"{nested}.wav").content == media.content
    [auto] = api.all(f"{url}/transcriptions")  # the record step asked for one
    assert auto["status"] == "created"
    api.fake.advance(api.fake.transcription_seconds)
    assert api.one(f"{API_URL}/transcriptions/{auto['id']}")["status"] == "done"
    text = api("GET", f"{API_URL}/transcriptions/{auto['id']}.txt")
    assert text.headers["content-type"].startswith("text/plain") and text.text
    again = api("POST", f"{url}/transcriptions", json={"language": "nl-NL"})
    assert again.status_code == 201 and again.json()["data"][0]["status"] == "created"
    assert api("POST", f"{url}/transcriptions", json={"language": "xx-XX"},
               check_request=False).status_code == 422
    assert len(api.all(f"{url}/transcriptions")) == 2
    assert api("DELETE", url).status_code == 204
    for gone in (url, f"{url}.wav", f"{url}/transcriptions", nested,
                 f"{API_URL}/transcriptions/{auto['id']}"):
        assert api("GET", gone).status_code == 404
    assert api.all(f"{CALLS}/{call_id}/legs/{leg['id']}/recordings") == []


def test_a_transfer_adds_a_leg_with_its_recording() -> None:
    api = api_for(flow_runner(TRANSFER), callee=CalleeScript(talk_seconds=20))
    call_id = api.create()["id"]
    api.fake.advance(600)
    first, second = api.all(f"{CALLS}/{call_id}/legs")
    assert (second["destination"], second["direction"], second["status"]) == (
        "31201234567", "outgoing", "hangup")
    assert second["duration"] == 20
    assert api.all(f"{CALLS}/{call_id}/legs/{first['id']}/recordings") == []
    [rec] = api.all(f"{CALLS}/{call_id}/legs/{second['id']}/recordings")
    assert (rec["type"], rec["duration"]) == ("transfer", 20)


def test_call_flows_and_webhooks() -> None:
    api = api_for(flow_runner(VOICEMAIL))
    flows = f"{API_URL}/call-flows"
    created = api("POST", flows, json={"title": "Greeting", **CALL_FLOW})
    assert created.status_code == 201
    flow = created.json()["data"][0]
    assert (flow["title"], flow["record"], flow["default"]) == ("Greeting", False, False)
    assert all(step["id"] for step in flow["steps"])
    assert api.one(f"{flows}/{flow['id']}") == flow
    assert [f["id"] for f in api.all(flows)] == [flow["id"]]
    assert api("PUT", f"{flows}/{flow['id']}", json={"steps": [{"action": "hangup"}]}
               ).json()["data"][0]["steps"][0]["action"] == "hangup"
    assert api("POST", flows, json={"steps": "nope"}, check_request=False).status_code == 422
    assert api("DELETE", f"{flows}/{flow['id']}").status_code == 204
    assert api("GET", f"{flows}/{flow['id']}").status_code == 404
    hooks = f"{API_URL}/webhooks"
    ids = [api("POST", hooks, json={"url": f"https://app.example/{i}", "token": "s3cret"}
               ).json()["data"][0]["id"] for i in range(5)]
    assert api("POST", hooks, json={"url": "https://app.example/6"}).status_code == 422
    assert api.one(f"{hooks}/{ids[0]}")["url"] == "https://app.example/0"
    assert api("PUT", f"{hooks}/{ids[0]}", json={"url": "https://app.example/new"}
               ).json()["data"][0]["url"] == "https://app.example/new"
    assert api("DELETE", f"{hooks}/{ids[0]}").status_code == 204
    assert len(api.all(hooks)) == 4


def test_the_v1_prefix_and_the_version_header() -> None:
    api = api_for(flow_runner(VOICEMAIL))
    call_id = api.create()["id"]
    prefixed = api.client.get(f"{API_URL}/v1/calls/{call_id}",
                              headers={"X-MessageBird-Version": "20170314"})
    assert prefixed.status_code == 200
    bad = api.client.get(f"{API_URL}/calls/{call_id}", headers={"X-MessageBird-Version": "1"})
    assert bad.status_code == 400


def test_the_runner_gets_the_call_flow_webhook_and_signing_key() -> None:
    seen: list[CallSetup] = []

    def runner(setup: CallSetup, script: CalleeScript, http: Any) -> Any:
        seen.append(setup)
        return flow_runner(VOICEMAIL)(setup, script, http)

    api = api_for(runner)
    api.create(webhook={"url": "https://app.example/events", "token": "t0ken"})
    [setup] = seen
    assert (setup.from_, setup.to, setup.call_flow, setup.webhook_url, setup.webhook_token,
            setup.signing_key) == (FROM, TO, CALL_FLOW, "https://app.example/events", "t0ken",
                                   SIGNING_KEY)


def test_requests_on_messagebirds_behalf_are_signed() -> None:
    received: list[tuple[str, bytes | None, dict[str, str]]] = []

    def http(method: str, url: str, body: bytes | None, headers: Any) -> tuple[int, str]:
        received.append((url, body, dict(headers)))
        return 200, "{}"

    def runner(setup: CallSetup, script: CalleeScript, send: Any) -> Any:
        send("POST", setup.webhook_url, b'{"items":[]}', {"Content-Type": "application/json"})
        return flow_runner(VOICEMAIL)(setup, script, send)

    api = api_for(runner, http=http)
    api.create(webhook={"url": "https://app.example/events?x=1"})
    [(url, body, headers)] = received
    head, claims_text, mac = headers["MessageBird-Signature-JWT"].split(".")
    expected = hmac.new(SIGNING_KEY.encode(), f"{head}.{claims_text}".encode(),
                        hashlib.sha256).digest()
    assert mac == base64.urlsafe_b64encode(expected).decode().rstrip("=")
    claims = json.loads(base64.urlsafe_b64decode(claims_text + "=" * (-len(claims_text) % 4)))
    assert claims["iss"] == "MessageBird" and claims["exp"] > claims["nbf"] and claims["jti"]
    assert claims["url_hash"] == hashlib.sha256(url.encode()).hexdigest()
    assert claims["payload_hash"] == hashlib.sha256(body or b"").hexdigest()
    assert api.fake.deliveries[0].status == 200


def test_the_stand_in_reads_a_call_flow_back_into_its_neutral_flow() -> None:
    flow = call_flow_to_neutral({"record": True, "steps": [
        {"action": "say", "options": {"payload": "Hi", "language": "en-GB", "voice": "male",
                                      "repeat": 2}},
        {"action": "play", "options": {"media": "https://x.example/a.wav"}},
        {"action": "pause", "options": {"length": 2}},
        {"action": "record", "options": {"maxLength": 10, "timeout": 3, "finishOnKey": "#",
                                         "transcribe": "true", "transcribeLanguage": "en-UK"}},
        {"action": "transfer", "options": {"destination": "31201234567", "record": "both"}},
        {"action": "fetchCallFlow", "options": {"url": "https://x.example/next"}},
        {"action": "hangup"}]})
    assert flow.record is True
    assert [s.kind for s in flow.steps] == ["say", "play", "pause", "record", "transfer",
                                            "redirect", "hangup"]
    say, _, _, record, transfer, redirect, _ = flow.steps
    assert (say.gender, say.loop, say.language) == ("male", 2, "en-GB")
    assert (record.max_length, record.silence_timeout, record.transcribe,
            record.transcribe_language) == (10, 3, True, "en-GB")
    assert (transfer.targets, transfer.record, redirect.method) == (("+31201234567",), True,
                                                                     "GET")
    with pytest.raises(LookupError):
        call_flow_to_neutral({"steps": [{"action": "say", "onKeypressGoto": "x"}]})


def test_a_hosted_flow_runs_from_the_store(tmp_path: Path) -> None:
    menu = Flow.from_yaml("""
    steps:
      - gather:
          prompt: [{say: Press 1 to leave a message.}]
          retries: 1                   # a re-prompt: MessageBird runs it through the app
          options:
            "1": [{record: {max_length: 30}}]
      - hangup
    """)
    store = f"sqlite:///{tmp_path / 'flows.db'}"
    app = VoiceApp(public_url=APP_URL, store=store, providers=[get_provider(
        "messagebird", signing_key=SIGNING_KEY)])
    fake = FakeMessageBird(runner=simulated_runner(app.store),
                           callee=CalleeScript(keys=["1"]))
    try:
        with Voice("messagebird", access_key=ACCESS_KEY, signing_key=SIGNING_KEY,
                   public_url=APP_URL, flow_store=store,
                   client=httpx.Client(transport=fake.transport())) as voice:
            call = voice.calls.create("+31612345678", "+31644556677", flow=menu)
            fake.advance(600)
            assert len(list(voice.recordings.list(call_id=call.id))) == 1
        body = json.loads(fake.exchanges[0][0].content)
        urls = [s["options"]["url"] for s in body["callFlow"]["steps"]
                if s["action"] == "fetchCallFlow"]
        assert urls and all(u.startswith(f"{APP_URL}/univoice/messagebird/flow/") for u in urls)
        assert all("token=" in u for u in urls)  # signed with the signing key
    finally:
        app.store.close()


def test_served_over_http_on_uvicorn() -> None:
    fake = FakeMessageBird(runner=flow_runner(VOICEMAIL))
    with LiveServer(fake.asgi()) as server:
        fake.base_url = server.url
        headers = {"Authorization": f"AccessKey {ACCESS_KEY}"}
        with httpx.Client(headers=headers, timeout=10) as client:
            body = {"source": FROM, "destination": TO, "callFlow": CALL_FLOW}
            created = client.post(f"{server.url}/calls", json=body)
            assert created.status_code == 201
            call_id = created.json()["data"][0]["id"]
            assert client.get(f"{server.url}/calls/{call_id}").json()["data"][0]["id"] == call_id
            assert client.get(f"{server.url}/calls", headers={"Authorization": ""}
                              ).status_code == 401
