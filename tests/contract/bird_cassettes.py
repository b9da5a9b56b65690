"""Writes the Bird cassettes (``cassettes/bird/*.yaml``) from documented examples.

No live Bird account was available, so each exchange is built here instead of recorded:
the request is the one univoice's adapter builds for the contract test's arguments
(``BirdProvider``'s operations: the same code the tests run), with the credentials a
recording would scrub already scrubbed; the response is a sample from
../shared/reference/samples/bird/ (provenance in its INDEX.md: the docs page "Initiate an
outbound call"), verbatim where the test reads it as documented, otherwise with its ids,
numbers, tags and commands set so one exchange refers to the next (a create's ``id`` is the
id the following GET uses, its ``callFlow.commands`` echo the commands sent). Recordings
follow the examples of the docs pages voice-api/recordings-api/list-recordings and
get-a-recording (and voice-calls-api/get-a-call-recording for the zero ``endedAt``), as
stored in the reference corpus; no sample file holds them. Error bodies are authored in the
docs' ``error.detailed`` shape ``{code, message, details}`` (the Voice API's real codes and
wording are unconfirmed); 5xx bodies are HTML or plain text. Each cassette's
``metadata.source`` says which is which. Every cassette is validated against
tests/specs/bird-voice.openapi.yml (``tests.cassettes.validate_cassette``).

    python -m tests.contract.bird_cassettes          # (re)write every cassette
    python -m tests.contract.bird_cassettes --check  # exit 1 when a file differs

A create or update sends the compiled flow (``compile.start``): after a change to the
compiler, regenerate (the contract test ``test_cassettes_are_what_the_generator_writes``
says when). The constants below are shared with tests/contract/test_bird_rest.py: a test
whose arguments drift from what is written here fails on replay (no recorded match).
"""

from __future__ import annotations

import json
import sys
import uuid
from collections.abc import Callable
from dataclasses import dataclass, field
from datetime import UTC, datetime
from http import HTTPStatus
from pathlib import Path
from typing import Any

import httpx
from vcr.request import Request as VcrRequest
from vcr.serialize import serialize

from tests.cassettes import REDACTED, Scrubber, ScrubbingSerializer, cassette_dir, provider_env
from univoice.flow import Flow
from univoice.models import Recording
from univoice.params import CallFilters, CreateCall, UpdateCall
from univoice_bird.provider import BirdProvider

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / "bird"
GENERATOR = "tests/contract/bird_cassettes.py"
API = "https://api.bird.com"

ENV = provider_env("bird", environ={})
WORKSPACE, CHANNEL = ENV["BIRD_WORKSPACE_ID"], ENV["BIRD_CHANNEL_ID"]
# The numbers of Bird's own example (seed_create_call_202_response.json: from
# +3197058016631 to +351910648517), which are also the harness's placeholders for Bird
# (tests.cassettes.PROFILES["bird"]): a live recording maps the real numbers to these.
FROM, TO = "+3197058016631", "+351910648517"
NOT_OURS = "+31201234567"  # a valid number that is no number of the channel
SIP_TO = "sip:reception@pbx.example.com"

# Ids from the docs' examples.
CALL_ID = "1e5e9219-2da2-4aa2-bf0f-8cc34775e6c0"  # seed_create_call_202_response.json
SCHEMA_CALL_ID = "123e4567-e89b-12d3-a456-426614174000"  # seed_call_object_schema_example
OTHER_CALL_ID = "0b4cbfa2-813f-4b93-8007-265875bb88bb"  # docs get-a-call-recording example
THIRD_CALL_ID = "50fa2203-66c2-4820-864a-1a8002952f4e"  # docs list-recordings example
RECORDING_ID = "5b74ee9e-9d45-473a-82cd-f1f7feea6bbd"  # docs list-recordings example
OTHER_RECORDING_ID = "32b98cd8-db4b-4a47-816e-ff7ff72b1da6"  # docs get-a-call-recording
MISSING = "00000000-0000-0000-0000-000000000000"

CALLBACK_URL = "https://app.example/bird/events"
PUBLIC_URL = "https://voice-app.example"
EVENTS_URL = f"{PUBLIC_URL}/univoice/bird/events"
# The tag each create carries (explicit, so a replayed body matches the recorded one).
TAGS = {"create": "uv-contract-create", "options": "uv-contract-options",
        "sip": "uv-contract-sip", "invalid": "uv-contract-invalid", "lost": "order-7",
        "get": "uv-contract-get", "hangup": "uv-contract-hangup"}
FILTER_TAG = "campaign-9"
CREATED_AFTER = datetime(2024, 2, 29, 0, 0, tzinfo=UTC)
CREATED_BEFORE = datetime(2024, 3, 1, 0, 0, tzinfo=UTC)
NEXT_PAGE = "cGFnZS0y"  # any token: the harness scrubs every *token value to <redacted>
PAGE_SIZE = 50  # the client's default
RECORDINGS_PAGE = 50

GREETING = Flow.from_dict({"name": "Greeting", "steps": [
    {"say": {"text": "Your TTS message here", "language": "en-US", "gender": "female"}},
    "hangup"]})  # the docs' "Example 2" (seed_create_call_request_say_hangup.json)
HANGUP = Flow.from_dict({"steps": ["hangup"]})
VOICEMAIL = Flow.from_dict({"record": True, "steps": [
    {"say": "Please leave a message after the tone."},
    {"record": {"max_length": 60}}, "hangup"]})
GOODBYE = Flow.from_dict({"steps": [{"say": "Goodbye."}, "hangup"]})


def settings(env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """The provider settings a contract test uses: the environment's values when recording,
    the placeholders otherwise."""
    env = env or provider_env("bird")
    return {"workspace_id": env["BIRD_WORKSPACE_ID"], "channel_id": env["BIRD_CHANNEL_ID"],
            "access_key": env["BIRD_ACCESS_KEY"], "signing_key": env["BIRD_SIGNING_KEY"],
            **extra}


def provider(**extra: Any) -> BirdProvider:
    """The adapter with the placeholder settings (plus ``extra``)."""
    return BirdProvider(**settings(ENV, **extra))


def calls_path(*segments: str) -> str:
    return "/".join([f"/workspaces/{WORKSPACE}/channels/{CHANNEL}/calls", *segments])


# Documented bodies ---------------------------------------------------------------------------


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text("utf-8"))


def _uuid(*parts: str) -> str:
    """A stable id for an echoed object (commands, call flows)."""
    return str(uuid.uuid5(uuid.NAMESPACE_URL, "univoice-bird:" + "/".join(parts)))


def commands(call_id: str, call_flow: list[dict[str, Any]], flow_id: str
             ) -> dict[str, Any]:
    """A call's ``callFlow`` as the 202 answer shows it: each command sent, with its id,
    ``status: accepted`` and the shared ``callFlowId`` (seed_create_call_202_response.json)."""
    return {"id": flow_id, "commands": [
        {"id": _uuid(flow_id, str(i)), "callId": call_id, "command": c["command"],
         "status": "accepted", "callFlowId": flow_id} for i, c in enumerate(call_flow)]}


def created_call(request: httpx.Request, call_id: str) -> dict[str, Any]:
    """seed_create_call_202_response.json answering ``request``: its id ``call_id``, this
    channel, the request's numbers, commands, notification and tags (whether Bird echoes
    ``tags`` is unconfirmed; it keeps them on the call, PROVIDERS §2.2)."""
    sent = json.loads(request.content)
    call: dict[str, Any] = sample("seed_create_call_202_response.json")
    to = sent["to"]
    call.update(id=call_id, channelId=CHANNEL, to=to, **{"from": sent.get("from", FROM)})
    call["originator"]["number"]["number"] = call["from"]
    if to.startswith("sip:"):
        call["receiver"] = {"number": {"type": "sip", "number": to}}
        call["type"] = "sip"
    else:
        call["receiver"]["contact"]["identifierValue"] = to
        call["receiver"]["number"]["number"] = to
    call["callFlow"] = commands(call_id, sent["callFlow"], _uuid(call_id, "flow", "0"))
    call["notification"] = sent.get("notification", {})
    if "tags" in sent:
        call["tags"] = sent["tags"]
    return call


def call_state(call_id: str, status: str, *, tags: list[str] | None = None,
               **fields: Any) -> dict[str, Any]:
    """The seed's call object (as a GET shows it) with ``status`` and the times it implies:
    ringing from 11:44:09, answered 11:44:15, ended 11:44:57 (42 s talked)."""
    call: dict[str, Any] = sample("seed_create_call_202_response.json")
    call.update(id=call_id, channelId=CHANNEL, status=status)
    call["callFlow"] = commands(call_id, [{"command": "playback"}, {"command": "hangup"}],
                                _uuid(call_id, "flow", "0"))
    for command in call["callFlow"]["commands"]:
        command["status"] = "accepted"
    if status != "accepted":
        call["updatedAt"] = "2024-02-29T11:44:09.12Z"
    if status in ("ringing", "ongoing", "completed", "no-answer", "busy"):
        call["ringingAt"] = "2024-02-29T11:44:09.12Z"
    if status in ("ongoing", "completed"):
        call["answeredAt"] = call["updatedAt"] = "2024-02-29T11:44:15.5Z"
    if status in ("completed", "no-answer", "busy", "failed"):
        call["endedAt"] = call["updatedAt"] = "2024-02-29T11:44:57.5Z"
        call["duration"] = 42 if status == "completed" else 0
    if tags is not None:
        call["tags"] = tags
    call.update(fields)
    return call


def error(code: str, message: str, **details: list[str]) -> dict[str, Any]:
    """An error body in the docs' ``error.detailed`` shape (authored: the Voice API's codes
    and wording are unconfirmed)."""
    body: dict[str, Any] = {"code": code, "message": message}
    if details:
        body["details"] = details
    return body


NOT_FOUND = error("NotFound", "The requested resource was not found")
UNAUTHORIZED = error("AccessDenied", "The access key is not valid")
INVALID_FROM = error("InvalidPayload", "The request payload is invalid",
                     **{"from": ["is not a number of this channel"]})
HTML_503 = b"<html><body><h1>503 Service Unavailable</h1></body></html>"
HTML_502 = b"<html><body>502 Bad Gateway</body></html>"


def party(number: str, country: str) -> dict[str, Any]:
    """A recording's party as the docs' list-recordings example writes it: the number
    without '+', its E.164 form as ``identity``."""
    return {"number": {"type": "pstn", "number": number.lstrip("+"), "identity": number,
                       "countryIsoCode": country}}


def recording(rec_id: str, call_id: str, status: str = "available", *, duration: int = 29,
              ended: str = "2023-10-26T18:29:25.12Z") -> dict[str, Any]:
    """A Recordings API object in the docs' shape (list-recordings example: a create-call
    recording of an outgoing call, mp3, 29 s; the receiver as a contact), on this channel."""
    return {"id": rec_id, "sourceId": call_id, "channelId": CHANNEL,
            "originator": party(FROM, "NL"),
            "receiver": {"contact": {"id": "225dcb7c-efbd-4288-b78d-93fba8743dd0",
                                     "identifierKey": "phonenumber", "identifierValue": TO},
                         "number": {"type": "pstn", "number": TO.lstrip("+"),
                                    "countryIsoCode": "PT"}},
            "source": "call", "direction": "outgoing", "origin": "create-call",
            "status": status, "duration": duration, "format": "mp3", "stereo": False,
            "transcription": False, "createdAt": "2023-10-26T18:28:55.646Z",
            "updatedAt": "2023-10-26T18:28:55.646Z", "startedAt": "2023-10-26T18:28:55.373Z",
            "endedAt": ended}


# An MPEG audio frame (MPEG-1 layer III, 128 kbit/s, 44.1 kHz) of silence after an ID3
# header: a real audio/mpeg body.
MP3 = b"ID3\x04\x00\x00\x00\x00\x00\x00" + b"\xff\xfb\x90\x64" + bytes(413)


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
    # use. The others need a call in a given state, or a failure no one can provoke on
    # demand; their tests are skipped while recording.
    live: bool = False


def _create(p: BirdProvider, **options: Any) -> httpx.Request:
    args: dict[str, Any] = {"to": TO, "from_": FROM, "flow": HANGUP, **options}
    return p.create_call(CreateCall(**args)).request


def _created(request: httpx.Request, call_id: str) -> Exchange:
    return Exchange(request, 202, created_call(request, call_id))


def create_call() -> list[Exchange]:
    p = provider()
    flow = _create(p, flow=GREETING, callback_url=CALLBACK_URL, tag=TAGS["create"])
    return [_created(flow, CALL_ID)]


def create_call_options() -> list[Exchange]:
    p = provider()
    options = _create(p, flow=VOICEMAIL, ring_timeout=45, max_duration=600,
                      tag=TAGS["options"])
    sip = _create(p, to=SIP_TO, tag=TAGS["sip"])
    return [_created(options, CALL_ID), _created(sip, OTHER_CALL_ID)]


def create_call_invalid() -> list[Exchange]:
    bad = _create(provider(), from_=NOT_OURS, tag=TAGS["invalid"])
    return [Exchange(bad, 422, INVALID_FROM)]


def create_call_lost_answer() -> list[Exchange]:
    lost = provider().create_call(CreateCall(to=TO, from_=FROM, flow=HANGUP, tag=TAGS["lost"]))
    assert lost.reconcile is not None
    lookup = lost.reconcile().request
    page = {"results": [
        call_state(CALL_ID, "accepted", tags=[TAGS["lost"]], to=TO),
        # Another tag (as if the filter were not applied): never taken for the lost call.
        call_state(OTHER_CALL_ID, "ongoing", tags=["order-8"], to=TO)]}
    return [Exchange(lost.request, 503, content=HTML_503, headers={"Content-Type": "text/html"}),
            Exchange(lookup, 200, page)]


def get_call() -> list[Exchange]:
    p = provider()
    created = _created(_create(p, tag=TAGS["get"]), CALL_ID)
    ringing = call_state(CALL_ID, "ringing", tags=[TAGS["get"]],
                         callFlow=created.body["callFlow"])
    return [created, Exchange(p.get_call(CALL_ID).request, 200, ringing),
            Exchange(p.get_call(MISSING).request, 404, NOT_FOUND)]


def get_call_documented() -> list[Exchange]:
    p = provider()
    flaky = p.get_call(THIRD_CALL_ID).request
    return [
        # The docs' examples verbatim: the schema example (placeholder "text" values, an
        # "accepted" call with every time set) and the 202 answer read as a GET.
        Exchange(p.get_call(SCHEMA_CALL_ID).request, 200,
                 sample("seed_call_object_schema_example.json")),
        Exchange(p.get_call(CALL_ID).request, 200, sample("seed_create_call_202_response.json")),
        # A call the callee hung up after 42 s.
        Exchange(p.get_call(OTHER_CALL_ID).request, 200,
                 call_state(OTHER_CALL_ID, "completed", hangupSource="callee",
                            hangupCauseCode=16)),
        # A 500 without a JSON body, a 502, then the call: never answered.
        Exchange(flaky, 500, content=b"Internal Server Error",
                 headers={"Content-Type": "text/plain"}),
        Exchange(flaky, 502, content=HTML_502, headers={"Content-Type": "text/html"}),
        Exchange(flaky, 200, call_state(THIRD_CALL_ID, "no-answer")),
    ]


def get_call_unauthorized() -> list[Exchange]:
    return [Exchange(provider().get_call(MISSING).request, 401, UNAUTHORIZED)]


def list_calls() -> list[Exchange]:
    p = provider()
    first = {"results": [sample("seed_create_call_202_response.json"),
                         sample("seed_call_object_schema_example.json")],
             "nextPageToken": NEXT_PAGE}
    second = {"results": [call_state(OTHER_CALL_ID, "completed", hangupSource="callee")]}
    filters = CallFilters(to=TO, from_=FROM, status="no_answer", created_after=CREATED_AFTER,
                          created_before=CREATED_BEFORE)
    tagged = CallFilters(tag=FILTER_TAG)
    return [
        Exchange(p.list_calls(CallFilters(), None, 2).request, 200, first),
        Exchange(p.list_calls(CallFilters(), NEXT_PAGE, 2).request, 200, second),
        Exchange(p.list_calls(filters, None, PAGE_SIZE).request, 200,
                 {"results": [call_state(THIRD_CALL_ID, "no-answer")], "nextPageToken": ""}),
        Exchange(p.list_calls(tagged, None, PAGE_SIZE).request, 200,
                 {"results": [call_state(CALL_ID, "completed", tags=[FILTER_TAG])]}),
    ]


def update_call() -> list[Exchange]:
    p = provider()
    params = UpdateCall(flow=GOODBYE)
    moved = p.update_call(CALL_ID, params).request
    sent = json.loads(moved.content)["callFlow"]
    answer = call_state(CALL_ID, "ongoing")
    answer["callFlow"] = commands(CALL_ID, sent, _uuid(CALL_ID, "flow", "1"))
    return [
        Exchange(moved, 202, answer),
        # A 202 whose body is no call object: the client reads the call afterwards.
        Exchange(p.update_call(OTHER_CALL_ID, params).request, 202, {}),
        Exchange(p.get_call(OTHER_CALL_ID).request, 200, call_state(OTHER_CALL_ID, "ongoing")),
        Exchange(p.update_call(MISSING, params).request, 404, NOT_FOUND),
    ]


def hangup_call() -> list[Exchange]:
    p = provider()
    created = _created(_create(p, tag=TAGS["hangup"]), CALL_ID)
    return [created,
            Exchange(p.hangup_call(CALL_ID).request, 202,
                     call_state(CALL_ID, "ringing", tags=[TAGS["hangup"]])),
            Exchange(p.hangup_call(MISSING).request, 404, NOT_FOUND)]


def list_recordings() -> list[Exchange]:
    p = provider()
    first = {"results": [recording(RECORDING_ID, CALL_ID)], "nextPageToken": NEXT_PAGE}
    # Still being stored: "accepted", endedAt Go's zero time (docs get-a-call-recording).
    second = {"results": [recording(OTHER_RECORDING_ID, CALL_ID, "accepted", duration=0,
                                    ended="0001-01-01T00:00:00Z")]}
    return [
        Exchange(p.list_recordings(CALL_ID, None, RECORDINGS_PAGE).request, 200, first),
        Exchange(p.list_recordings(CALL_ID, NEXT_PAGE, RECORDINGS_PAGE).request, 200, second),
    ]


def get_recording() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.get_recording(RECORDING_ID, None).request, 200,
                 recording(RECORDING_ID, THIRD_CALL_ID)),
        Exchange(p.get_recording(MISSING, None).request, 404, NOT_FOUND),
    ]


def download_recording() -> list[Exchange]:
    rec = Recording(provider="bird", id=RECORDING_ID, call_id=CALL_ID)
    return [Exchange(provider().download_recording(rec).request, 200, content=MP3,
                     headers={"Content-Type": "audio/mpeg"})]


SEED = "seed_create_call_202_response.json"
CASSETTES = [
    CassetteSpec("create_call", f"{SEED} (samples/bird, docs 'Initiate an outbound call') "
                 "echoing the request's numbers, commands, notification and tags",
                 create_call, live=True),
    CassetteSpec("create_call_options", f"{SEED} echoing the requests", create_call_options),
    CassetteSpec("create_call_invalid", "422 authored in the docs' error.detailed shape "
                 "(code and wording unconfirmed)", create_call_invalid),
    CassetteSpec("create_call_lost_answer", "503 with an HTML body; the lookup's calls from "
                 f"{SEED} with tags", create_call_lost_answer),
    CassetteSpec("get_call", f"{SEED}; a ringing state of it; 404 authored "
                 "(error.detailed shape)", get_call, live=True),
    CassetteSpec("get_call_documented", "seed_call_object_schema_example.json and "
                 f"{SEED} verbatim; a completed call and a no-answer one from {SEED}; 500 and "
                 "502 without an error body", get_call_documented),
    CassetteSpec("get_call_unauthorized", "401 authored (error.detailed shape; code "
                 "unconfirmed)", get_call_unauthorized, live=True),
    CassetteSpec("list_calls", f"{SEED} and seed_call_object_schema_example.json verbatim as "
                 "items; {results, nextPageToken} pages; the calls log for a tag filter",
                 list_calls),
    CassetteSpec("update_call", f"202 with the call ({SEED}, its new commands echoed); 202 "
                 "{} then GET; 404 authored", update_call),
    CassetteSpec("hangup_call", f"{SEED}; 202 with the call; 404 authored", hangup_call,
                 live=True),
    CassetteSpec("list_recordings", "docs recordings-api/list-recordings example (ids set "
                 "to this call); get-a-call-recording's zero endedAt", list_recordings),
    CassetteSpec("get_recording", "docs recordings-api/get-a-recording shape; 404 authored",
                 get_recording),
    CassetteSpec("download_recording", "audio/mpeg (the .mp3 path of docs get-a-recording)",
                 download_recording),
]


# Writing -----------------------------------------------------------------------------------


def _vcr_request(request: httpx.Request, scrubber: Scrubber) -> VcrRequest:
    headers = {"Authorization": REDACTED,  # what a recording keeps of the credentials
               "Accept": request.headers["accept"]}
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
    scrubber = Scrubber("bird", {})
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
    directory = cassette_dir("bird")
    directory.mkdir(parents=True, exist_ok=True)
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
        print(f"out of date (run python -m tests.contract.bird_cassettes): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
