"""Writes the Bandwidth cassettes (``cassettes/bandwidth/*.yaml``) from documented examples.

No live Bandwidth account was available, so each exchange is built here instead of
recorded: the request is the one univoice's adapter builds for the contract test's
arguments (``BandwidthProvider``'s operations: the same code the tests run), with the
credentials a recording would scrub already scrubbed; the response is the official
spec's example (tests/specs/bandwidth-voice.openapi.yml, Bandwidth/api-docs voice.yml
@2fcdf57), a documented sample (../shared/reference/samples/bandwidth/rest/, provenance in
its INDEX.md) or a documented error body (Bandwidth/api-docs errors.mdx, rateLimits.mdx),
with ids and numbers set to the harness placeholders so one exchange refers to the next.
Each cassette's ``metadata.source`` names where its responses come from; every cassette
is validated against the spec (``tests.cassettes.validate_cassette``).

    python -m tests.contract.bandwidth_cassettes          # (re)write every cassette
    python -m tests.contract.bandwidth_cassettes --check  # exit 1 when a file differs

The constants below are shared with tests/contract/test_bandwidth_rest.py: a test whose
arguments drift from what is written here fails on replay (no recorded match).
"""

from __future__ import annotations

import copy
import json
import sys
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
from vcr.request import Request as VcrRequest
from vcr.serialize import serialize

from tests.cassettes import (
    REDACTED,
    Scrubber,
    ScrubbingSerializer,
    cassette_dir,
    credentials_in_use,
    provider_env,
    raw_spec,
)
from univoice.flow import Flow
from univoice.hosting import FlowHost
from univoice.models import Recording
from univoice.params import (
    CallFilters,
    ConferenceFilters,
    CreateCall,
    MemberUpdate,
    UpdateCall,
    UpdateConference,
)
from univoice_bandwidth.provider import BandwidthProvider

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / (
    "bandwidth/rest")
GENERATOR = "tests/contract/bandwidth_cassettes.py"

# The harness placeholders (tests.cassettes.PROFILES["bandwidth"]).
ENV = provider_env("bandwidth", environ={})
ACCOUNT = ENV["BANDWIDTH_ACCOUNT_ID"]
APPLICATION = ENV["BANDWIDTH_APPLICATION_ID"]
FROM = ENV["BANDWIDTH_FROM_NUMBER"]
TO = ENV["BANDWIDTH_TO_NUMBER"]
API = f"https://voice.bandwidth.com/api/v2/accounts/{ACCOUNT}"

# Ids from voice.yml's examples; a "missing" one of the same form for 404s.
CALL_ID = "c-15ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"
OTHER_CALL_ID = "c-25ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"
THIRD_CALL_ID = "c-35ac29a2-1331029c-2cb0-4a07-b215-b22865662d85"
MISSING_CALL_ID = "c-00000000-00000000-0000-0000-0000-000000000000"
RECORDING_ID = "r-fbe05094-9fd2afe9-bf5b-4c68-820a-41a01c1c5833"
MISSING_RECORDING_ID = "r-00000000-00000000-0000-0000-0000-000000000000"
CONFERENCE_ID = "conf-fe23a767-a75a5b77-20c5-4cca-b581-cbbf0776eca9"
OTHER_CONFERENCE_ID = "conf-0e23a767-a75a5b77-20c5-4cca-b581-cbbf0776eca9"
MISSING_CONFERENCE_ID = "conf-00000000-00000000-0000-0000-0000-000000000000"
TRANSCRIPTION_ID = "t-387bd648-18f3-4823-9d16-746bca0003c9"
UNKNOWN_APPLICATION = "00000000-0000-4000-8000-00000000dead"

# URLs from voice.yml's examples; the univoice webhook app of the hosted-flow tests.
ANSWER_URL = "https://myServer.example/bandwidth/webhooks/answer"
CALLBACK_URL = "https://myServer.example/bandwidth/webhooks/disconnect"
REDIRECT_URL = "https://myServer.example/bandwidth/webhooks/redirect"
CONFERENCE_REDIRECT_URL = "https://myServer.example/bandwidth/webhooks/conferenceRedirect"
PUBLIC_URL = "https://voice-app.example"
CALLBACK_USERNAME = "univoice-callbacks"
CALLBACK_PASSWORD = "cb-password-used-in-tests-only"
FLOW = Flow.from_dict({"machine_detection": True,
                       "steps": [{"say": "Hello from univoice."}, "hangup"]})
# calls.list: created_after, and the pinned "now" of the reconciling lookup.
LIST_SINCE = datetime(2022, 6, 16, tzinfo=UTC)
NOW = datetime(2022, 6, 16, 13, 16, 7, tzinfo=UTC)
RETRY_AFTER = "1"
PAGE_TOKEN = "gAAAAABijyV2"

TAGS = {
    "answer_url": "uv-contract-answer-url",
    "flow": "uv-contract-hosted-flow",
    "amd": "uv-contract-amd",
    "bad_application": "uv-contract-bad-application",
    "rate_limited": "uv-contract-rate-limited",
    "lost": "uv-contract-lost-answer",
    "lifecycle": "uv-contract-lifecycle",
}


def settings(env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """The provider settings a contract test uses: the environment's values when recording,
    the placeholders otherwise. The API credentials are those recording uses (an API user
    or an OAuth2 client, ``credentials_in_use``); replays use the API user's placeholders.
    A test that sets ``username``/``password`` itself (wrong credentials) gets an API user
    whatever the kind, so its request still reaches the Voice API."""
    env = env or provider_env("bandwidth")
    oauth = "BANDWIDTH_CLIENT_ID" in credentials_in_use("bandwidth") and not (
        {"username", "password"} & set(extra))
    creds = ({"client_id": env["BANDWIDTH_CLIENT_ID"],
              "client_secret": env["BANDWIDTH_CLIENT_SECRET"]} if oauth else
             {"username": env["BANDWIDTH_USERNAME"], "password": env["BANDWIDTH_PASSWORD"]})
    return {"account_id": env["BANDWIDTH_ACCOUNT_ID"],
            "application_id": env["BANDWIDTH_APPLICATION_ID"], **creds, **extra}


CALLBACK_CREDENTIALS = {"callback_username": CALLBACK_USERNAME,
                        "callback_password": CALLBACK_PASSWORD}


# Documented bodies ---------------------------------------------------------------------------


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text("utf-8"))


def spec_example(name: str) -> Any:
    return copy.deepcopy(raw_spec("bandwidth")["components"]["examples"][name]["value"])


def error_404(call_id: str) -> dict[str, Any]:
    """errors.mdx's 404 body with its ``{{invalid-call-id}}`` template filled in."""
    body: dict[str, Any] = sample("error_404.json")
    body["description"] = body["description"].replace("{{invalid-call-id}}", call_id)
    return body


# rateLimits.mdx ("429 Too Many Requests" on create; its quotes made JSON).
RATE_LIMITED = {"description": "Account call creation rate limit exceeded", "id": "",
                "type": "error"}
# errors.mdx's 400 table: "validation | Could not create call: Application id ${0} not found".
BAD_APPLICATION = {"type": "validation", "id": None,
                   "description": f"Could not create call: Application id "
                                  f"{UNKNOWN_APPLICATION} not found"}


def created_call(body: dict[str, Any], call_id: str) -> dict[str, Any]:
    """A createCallResponse: the request's settings echoed, as voice.yml's
    createCallResponseExample shows (credentials masked there as "*****")."""
    example = spec_example("createCallResponseExample")
    answer = {**{k: example[k] for k in ("answerMethod", "answerFallbackMethod",
                                        "disconnectMethod", "callbackTimeout", "priority",
                                        "enqueuedTime")},
              "applicationId": body["applicationId"], "accountId": ACCOUNT, "callId": call_id,
              "to": body["to"], "from": body["from"], "callUrl": f"{API}/calls/{call_id}",
              "callTimeout": body.get("callTimeout", example["callTimeout"]),
              "answerUrl": body["answerUrl"]}
    for key in ("tag", "disconnectUrl", "username"):
        if key in body:
            answer[key] = body[key]
    if "password" in body:
        answer["password"] = example["password"]
    return answer


def call_state(call_id: str, state: str, cause: str | None = None, *,
               start: str = "2022-06-16T13:15:07.160Z") -> dict[str, Any]:
    """A callState of an outbound call between the placeholders, from the authored
    sample (voice.yml callState property examples)."""
    base: dict[str, Any] = sample("call_state_200_authored.json")
    base.update({"callId": call_id, "to": TO, "from": FROM, "direction": "outbound",
                 "state": state, "parentCallId": None, "stirShaken": None, "identity": None,
                 "applicationId": APPLICATION, "accountId": ACCOUNT, "startTime": start,
                 "enqueuedTime": start, "lastUpdate": start})
    if state in ("queued", "initiated"):
        base.update(answerTime=None, endTime=None, disconnectCause=None)
    elif state == "answered":
        base.update(endTime=None, disconnectCause=None)
    else:
        base["disconnectCause"] = cause
    return base


def recording(call_id: str = CALL_ID, recording_id: str = RECORDING_ID) -> dict[str, Any]:
    """callRecordingMetadata from the authored sample, tied to a call of this account."""
    rec: dict[str, Any] = sample("call_recordings_list_200_authored.json")[0]
    rec.update({"accountId": ACCOUNT, "callId": call_id, "recordingId": recording_id,
                "mediaUrl": f"{API}/calls/{call_id}/recordings/{recording_id}/media"})
    rec["transcription"]["url"] = f"{API}/calls/{call_id}/recordings/{recording_id}/transcription"
    return rec


def conference_recording() -> dict[str, Any]:
    """conferenceRecordingMetadata from voice.yml's property examples."""
    rec = recording()
    return {"accountId": ACCOUNT, "conferenceId": CONFERENCE_ID, "name": "my-conference-name",
            "recordingId": RECORDING_ID, "duration": rec["duration"], "channels": 1,
            "startTime": rec["startTime"], "endTime": rec["endTime"], "fileFormat": "wav",
            "status": "complete",
            "mediaUrl": f"{API}/conferences/{CONFERENCE_ID}/recordings/{RECORDING_ID}/media"}


# A WAV header and a few samples of silence: enough to be a real audio/vnd.wave body.
WAV = (b"RIFF" + (44).to_bytes(4, "little") + b"WAVEfmt " + (16).to_bytes(4, "little")
       + (1).to_bytes(2, "little") + (1).to_bytes(2, "little") + (8000).to_bytes(4, "little")
       + (16000).to_bytes(4, "little") + (2).to_bytes(2, "little")
       + (16).to_bytes(2, "little") + b"data" + (8).to_bytes(4, "little") + bytes(8))


# Cassettes -----------------------------------------------------------------------------------


@dataclass
class Exchange:
    request: httpx.Request
    status: int
    body: Any = None  # JSON
    content: bytes | None = None  # anything else
    headers: dict[str, str] = field(default_factory=dict)


@dataclass
class CassetteSpec:
    name: str
    source: str
    exchanges: Callable[[], list[Exchange]]
    # Whether its tests can re-record it against a live account: they create what they
    # use. The others need a call that was answered, recorded or conferenced, or a
    # failure no one can provoke; their tests are skipped while recording.
    live: bool = False


def provider(**extra: Any) -> BandwidthProvider:
    """The adapter with the placeholder settings (plus ``extra``); "now" pinned."""
    p = BandwidthProvider(**settings(ENV, **extra))
    p.clock = lambda: NOW
    return p


def hosted(p: BandwidthProvider, flow: Flow) -> dict[str, str]:
    flow_url, events_url = FlowHost(PUBLIC_URL, "sqlite://:memory:").host(p.name, flow)
    return {"flow_url": flow_url, "events_url": events_url}


def body_of(request: httpx.Request) -> dict[str, Any]:
    loaded: dict[str, Any] = json.loads(request.content)
    return loaded


def get(url: str) -> httpx.Request:
    return httpx.Request("GET", url)


def _created(request: httpx.Request, call_id: str) -> Exchange:
    return Exchange(request, 201, created_call(body_of(request), call_id),
                    headers={"Location": f"{API}/calls/{call_id}"})


def create_call() -> list[Exchange]:
    plain, creds = provider(), provider(**CALLBACK_CREDENTIALS)
    answer = plain.create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER_URL,
                                          tag=TAGS["answer_url"])).request
    flow_params = CreateCall(to=TO, from_=FROM, flow=FLOW, tag=TAGS["flow"])
    flow = creds.create_call(flow_params.model_copy(update=hosted(creds, FLOW))).request
    amd = creds.create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER_URL,
                                       callback_url=CALLBACK_URL, machine_detection=True,
                                       tag=TAGS["amd"])).request
    bad = provider(application_id=UNKNOWN_APPLICATION).create_call(CreateCall(
        to=TO, from_=FROM, answer_url=ANSWER_URL, tag=TAGS["bad_application"])).request
    return [_created(answer, CALL_ID), _created(flow, OTHER_CALL_ID),
            _created(amd, THIRD_CALL_ID), Exchange(bad, 400, BAD_APPLICATION)]


def create_call_rate_limited() -> list[Exchange]:
    limited = provider().create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER_URL,
                                                tag=TAGS["rate_limited"])).request
    return [Exchange(limited, 429, RATE_LIMITED, headers={"Retry-After": RETRY_AFTER}),
            _created(limited, CALL_ID)]


def create_call_lost_answer() -> list[Exchange]:
    lost = provider().create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER_URL,
                                             tag=TAGS["lost"]))
    assert lost.reconcile is not None
    lookup = lost.reconcile().request
    return [
        Exchange(lost.request, 503, sample("error_503.json")),
        # The call the lost create placed, as GET /calls lists it, beside one to another
        # number that the lookup must not take for it.
        Exchange(lookup, 200, [call_state(CALL_ID, "initiated",
                                          start="2022-06-16T13:16:07.500Z"),
                               {**call_state(OTHER_CALL_ID, "answered"), "to": "+19195550142"}]),
    ]


def lifecycle(p: BandwidthProvider) -> Exchange:
    """The create a chained (live-recordable) test starts with, and its answer."""
    return _created(p.create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER_URL,
                                             tag=TAGS["lifecycle"])).request, CALL_ID)


def get_call() -> list[Exchange]:
    p = provider()
    return [
        lifecycle(p),
        Exchange(p.get_call(CALL_ID).request, 200, call_state(CALL_ID, "initiated")),
        Exchange(p.get_call(MISSING_CALL_ID).request, 404, error_404(MISSING_CALL_ID)),
    ]


def get_call_documented() -> list[Exchange]:
    p = provider()
    flaky = p.get_call(OTHER_CALL_ID).request
    return [
        # The authored sample verbatim: an inbound call, "from" without "+".
        Exchange(p.get_call(CALL_ID).request, 200, sample("call_state_200_authored.json")),
        Exchange(flaky, 503, sample("error_503.json")),
        Exchange(flaky, 503, sample("error_503.json")),
        Exchange(flaky, 200, call_state(OTHER_CALL_ID, "disconnected", "busy")),
    ]


def get_call_unauthorized() -> list[Exchange]:
    return [Exchange(provider().get_call(MISSING_CALL_ID).request, 401,
                     sample("error_401.json"))]


def list_calls() -> list[Exchange]:
    p = provider()
    first = p.list_calls(CallFilters(to=TO, from_=FROM, created_after=LIST_SINCE), None, 2)
    nxt = f"{first.request.url}&pageToken={PAGE_TOKEN}"
    second = p.list_calls(CallFilters(), nxt, 2)
    return [
        Exchange(first.request, 200, [call_state(CALL_ID, "disconnected", "hangup"),
                                      call_state(OTHER_CALL_ID, "disconnected", "timeout")],
                 headers={"Link": f'<{nxt}>; rel="next"'}),
        Exchange(second.request, 200, [call_state(THIRD_CALL_ID, "answered")]),
    ]


def update_call() -> list[Exchange]:
    p, creds = provider(), provider(**CALLBACK_CREDENTIALS)
    created = lifecycle(p)
    redirect = p.update_call(CALL_ID, UpdateCall(redirect_url=REDIRECT_URL)).request
    flow = creds.update_call(OTHER_CALL_ID, UpdateCall(flow=FLOW).model_copy(
        update=hosted(creds, FLOW))).request
    ended = p.update_call(MISSING_CALL_ID, UpdateCall(redirect_url=REDIRECT_URL)).request
    return [
        created,
        Exchange(redirect, 200),
        Exchange(p.get_call(CALL_ID).request, 200, call_state(CALL_ID, "answered")),
        Exchange(flow, 200),
        Exchange(p.get_call(OTHER_CALL_ID).request, 200, call_state(OTHER_CALL_ID, "answered")),
        # voice.yml's 409 example, verbatim (the spec reuses one text for every error).
        Exchange(ended, 409, spec_example("voiceConflictErrorExample")),
    ]


def hangup_call() -> list[Exchange]:
    p = provider()
    created = lifecycle(p)
    return [
        created,
        Exchange(p.hangup_call(CALL_ID).request, 200),
        Exchange(p.hangup_call(MISSING_CALL_ID).request, 404, error_404(MISSING_CALL_ID)),
    ]


def list_recordings() -> list[Exchange]:
    p = provider()
    other = recording(OTHER_CALL_ID, "r-0be05094-9fd2afe9-bf5b-4c68-820a-41a01c1c5833")
    other.update(status="processing", fileFormat="mp3", transcription=None)
    del other["mediaUrl"]  # "present only when downloadable"
    return [
        # The authored sample verbatim (status "completed", transferTo with a stray ")").
        Exchange(p.list_recordings(CALL_ID, None, 50).request, 200,
                 sample("call_recordings_list_200_authored.json")),
        Exchange(p.list_recordings(None, None, 50).request, 200, [recording(), other]),
    ]


def get_recording() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.get_recording(RECORDING_ID, CALL_ID).request, 200, recording()),
        Exchange(p.get_recording(MISSING_RECORDING_ID, CALL_ID).request, 404,
                 spec_example("voiceNotFoundErrorExample")),
    ]


def _recording_model(**update: Any) -> Recording:
    return Recording(provider="bandwidth", id=RECORDING_ID, call_id=CALL_ID).model_copy(
        update=update)


def download_recording() -> list[Exchange]:
    p = provider()
    conf_media = conference_recording()["mediaUrl"]
    return [
        Exchange(p.download_recording(_recording_model()).request, 200, content=WAV,
                 headers={"Content-Type": "audio/vnd.wave"}),
        Exchange(p.download_recording(_recording_model(call_id=None, media_url=conf_media))
                 .request, 200, content=b"ID3\x04\x00\x00\x00\x00\x00\x00",
                 headers={"Content-Type": "audio/mpeg"}),
    ]


def delete_recording() -> list[Exchange]:
    return [Exchange(provider().delete_recording(_recording_model()).request, 204)]


def create_transcription() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.create_transcription(_recording_model(), None).request, 204),
        Exchange(p.create_transcription(_recording_model(), "es-MX").request, 204),
    ]


def get_transcription() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.get_transcription(_recording_model()).request, 200,
                 sample("call_transcription_200_authored.json")),
        Exchange(p.get_transcription(_recording_model(id=MISSING_RECORDING_ID)).request, 404,
                 spec_example("voiceNotFoundErrorExample")),
    ]


def delete_transcription() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.delete_transcription(_recording_model()).request, 204),
        Exchange(p.delete_transcription(_recording_model(id=MISSING_RECORDING_ID)).request,
                 404, spec_example("voiceNotFoundErrorExample")),
    ]


def list_conferences() -> list[Exchange]:
    p = provider()
    first = p.list_conferences(ConferenceFilters(name="my-conference-name"), None, 1)
    nxt = f"{first.request.url}&pageToken={PAGE_TOKEN}"
    second = p.list_conferences(ConferenceFilters(), nxt, 1)
    live = {**sample("conferences_list_200.json")[0], "id": OTHER_CONFERENCE_ID,
            "completedTime": None}
    return [
        Exchange(first.request, 200, sample("conferences_list_200.json"),
                 headers={"Link": f'<{nxt}>; rel="next"'}),
        Exchange(second.request, 200, [live]),
    ]


def get_conference() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.get_conference(CONFERENCE_ID).request, 200,
                 sample("conference_200_authored.json")),
        Exchange(p.get_conference(MISSING_CONFERENCE_ID).request, 404,
                 spec_example("voiceNotFoundErrorExample")),
    ]


def update_conference() -> list[Exchange]:
    p = provider(**CALLBACK_CREDENTIALS)
    return [
        Exchange(p.update_conference(CONFERENCE_ID, UpdateConference(status="completed"))
                 .request, 204),
        Exchange(p.update_conference(CONFERENCE_ID, UpdateConference(
            redirect_url=CONFERENCE_REDIRECT_URL)).request, 204),
    ]


def list_members() -> list[Exchange]:
    return [Exchange(provider().list_members(CONFERENCE_ID, None, 50).request, 200,
                     sample("conference_200_authored.json"))]


def update_member() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.update_member(CONFERENCE_ID, CALL_ID, MemberUpdate(muted=True)).request, 204),
        Exchange(p.update_member(CONFERENCE_ID, CALL_ID, MemberUpdate(muted=False, on_hold=True))
                 .request, 204),
    ]


def conference_recordings() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.list_conference_recordings(CONFERENCE_ID).request, 200,
                 [conference_recording()]),
        Exchange(p.get_conference_recording(CONFERENCE_ID, RECORDING_ID).request, 200,
                 conference_recording()),
    ]


SPEC = "voice.yml @2fcdf57 (tests/specs/bandwidth-voice.openapi.yml)"
CASSETTES = [
    CassetteSpec("create_call", f"createCallResponseExample of {SPEC}, echoing the request; "
                 "400 body from errors.mdx's table", create_call, live=True),
    CassetteSpec("create_call_rate_limited", "429 body and Retry-After from rateLimits.mdx; "
                 f"then createCallResponseExample of {SPEC}", create_call_rate_limited),
    CassetteSpec("create_call_lost_answer", "503 body samples/error_503.json (errors.mdx); "
                 "the lookup's callStates from samples/call_state_200_authored.json",
                 create_call_lost_answer),
    CassetteSpec("get_call", f"createCallResponseExample of {SPEC}; callState from "
                 "samples/call_state_200_authored.json; 404 samples/error_404.json "
                 "(errors.mdx)", get_call, live=True),
    CassetteSpec("get_call_documented", "samples/call_state_200_authored.json verbatim; 503 "
                 "samples/error_503.json", get_call_documented),
    CassetteSpec("get_call_unauthorized", "samples/error_401.json (errors.mdx)",
                 get_call_unauthorized, live=True),
    CassetteSpec("list_calls", "callStates from samples/call_state_200_authored.json; "
                 f"Link paging as GET /calls describes it in {SPEC}", list_calls),
    CassetteSpec("update_call", f"200 without a body as {SPEC} documents; 409 "
                 "voiceConflictErrorExample", update_call),
    CassetteSpec("hangup_call", "200 without a body; 404 samples/error_404.json", hangup_call,
                 live=True),
    CassetteSpec("list_recordings", "samples/call_recordings_list_200_authored.json "
                 "(voice.yml callRecordingMetadata examples)", list_recordings),
    CassetteSpec("get_recording", "samples/call_recordings_list_200_authored.json; 404 "
                 "voiceNotFoundErrorExample", get_recording),
    CassetteSpec("download_recording", "audio/vnd.wave and audio/mpeg as "
                 "downloadRecordingMediaResponse documents (a WAV header, an ID3 header)",
                 download_recording),
    CassetteSpec("delete_recording", f"204 as {SPEC} documents", delete_recording),
    CassetteSpec("create_transcription", f"204 as {SPEC} documents", create_transcription),
    CassetteSpec("get_transcription", "samples/call_transcription_200_authored.json; 404 "
                 "voiceNotFoundErrorExample", get_transcription),
    CassetteSpec("delete_transcription", f"204 as {SPEC} documents; 404 "
                 "voiceNotFoundErrorExample", delete_transcription),
    CassetteSpec("list_conferences", "samples/conferences_list_200.json "
                 "(listConferencesResponseExample); Link paging", list_conferences),
    CassetteSpec("get_conference", "samples/conference_200_authored.json; 404 "
                 "voiceNotFoundErrorExample", get_conference),
    CassetteSpec("update_conference", f"204 as {SPEC} documents", update_conference),
    CassetteSpec("list_members", "samples/conference_200_authored.json", list_members),
    CassetteSpec("update_member", f"204 as {SPEC} documents", update_member),
    CassetteSpec("conference_recordings", "conferenceRecordingMetadata property examples "
                 f"of {SPEC}", conference_recordings),
]


# Writing -----------------------------------------------------------------------------------


def _vcr_request(request: httpx.Request, scrubber: Scrubber) -> VcrRequest:
    headers = {"Authorization": REDACTED}  # what a recording keeps of the credentials
    if request.content:
        headers["Content-Type"] = request.headers["content-type"]
    return scrubber.before_record_request(
        VcrRequest(request.method, str(request.url), request.content, headers))


def _vcr_response(exchange: Exchange) -> dict[str, Any]:
    headers = {k: [v] for k, v in exchange.headers.items()}
    body: bytes = b""
    if exchange.content is not None:
        body = exchange.content
    elif exchange.body is not None:
        body = json.dumps(exchange.body, separators=(",", ":")).encode()
        headers.setdefault("Content-Type", ["application/json"])
    return {"status": {"code": exchange.status, "message": HTTPStatus(exchange.status).phrase},
            "headers": headers, "body": {"string": body}}


def render(spec: CassetteSpec) -> str:
    scrubber = Scrubber("bandwidth", {})
    exchanges = spec.exchanges()
    text: str = serialize({
        "requests": [_vcr_request(e.request, scrubber) for e in exchanges],
        "responses": [scrubber.before_record_response(_vcr_response(e)) for e in exchanges],
        "metadata": {"generated_by": GENERATOR, "source": spec.source,
                     "recordable_live": spec.live},
    }, ScrubbingSerializer(scrubber))
    return text


def main(argv: list[str]) -> int:
    check = "--check" in argv
    directory = cassette_dir("bandwidth")
    stale = []
    for spec in CASSETTES:
        path = directory / f"{spec.name}.yaml"
        text = render(spec)
        if check:
            if not path.exists() or path.read_text("utf-8") != text:
                stale.append(path.name)
        else:
            path.write_text(text, "utf-8")
    if stale:
        print(f"out of date (run python -m tests.contract.bandwidth_cassettes): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
