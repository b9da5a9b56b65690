"""Writes the MessageBird cassettes (``cassettes/messagebird/*.yaml``) from documented examples.

No live MessageBird account was available, so each exchange is built here instead of
recorded: the request is the one univoice's adapter builds for the contract test's
arguments (``MessageBirdProvider``'s operations: the same code the tests run), with the
credentials a recording would scrub already scrubbed; the response is a sample from
../shared/reference/samples/messagebird/ (provenance in its INDEX.md: the official Go,
Python, Java and PHP SDKs' test fixtures and MessageBird's tutorial), verbatim where the
test reads it as documented, otherwise with its ids set so one exchange refers to the next
(a create's ``id`` is the id the following GET uses). Where no sample exists (a
transcription's text, the errors other than 404) the body is authored in the documented
shape and says so in its cassette's ``metadata.source``. Every cassette is validated
against the corrected spec (``tests.cassettes.validate_cassette``).

    python -m tests.contract.messagebird_cassettes          # (re)write every cassette
    python -m tests.contract.messagebird_cassettes --check  # exit 1 when a file differs

The constants below are shared with tests/contract/test_messagebird_rest.py: a test whose
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

from tests.cassettes import REDACTED, Scrubber, ScrubbingSerializer, cassette_dir, provider_env
from univoice.flow import Flow
from univoice.hosting import FlowHost
from univoice.models import Recording, Transcription, TranscriptionStatus
from univoice.params import CallFilters, CreateCall
from univoice_messagebird.operations import parse_call
from univoice_messagebird.provider import MessageBirdProvider

SAMPLES = Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples" / (
    "messagebird")
GENERATOR = "tests/contract/messagebird_cassettes.py"
API = "https://voice.messagebird.com"
VERSION = "20170314"

# The numbers of MessageBird's own examples (py_call_create_response.json: source
# 31644556677, destination 31612345678); real numbers recorded live are scrubbed to these
# (tests.cassettes.PROFILES["messagebird"] must hold them as its placeholders).
FROM, TO = "+31644556677", "+31612345678"
NOT_OURS = "+31201234567"  # a valid number that is no MessageBird number of the account
SIP_TO = "sip:reception@pbx.example.com"

# Ids from the samples; a "missing" one as the Python SDK's 404 fixture writes it.
CALL_ID = "21025ed1-cc1d-4554-ac05-043fa6c84e00"  # py_call_create_response.json
OTHER_CALL_ID = "dda20377-72da-4846-9b2c-0fea3ad4bcb6"  # py_calls_list_paginated.json
THIRD_CALL_ID = "1541535b-9b80-4002-bde5-ed05b5ebed76"  # same file
TUTORIAL_CALL_ID = "f1aa71c0-8f2a-4fe8-b5ef-9a330454ef58"  # seed_call_object.json
SDK_CALL_ID = "call-id"  # py_call_get_200.json, verbatim
FLAKY_CALL_ID = "ac07a602-dbc1-11e6-bf26-cec0c932ce01"  # seed_calls_list.json
LEG_ID = "d4f07ab3-b17c-44a8-bcef-2b351311c28f"  # seed_legs_list.json
OTHER_LEG_ID = "e60ca497-0cf3-4954-b74c-265e95633ec8"  # same file
RECORDING_ID = "12345678-9012-3456-7890-123456789012"  # py_recording*.json
OTHER_RECORDING_ID = "12345678-9012-3456-7890-123456789013"
GO_RECORDING_ID = "recid"  # go_recording_object.json, verbatim
TRANSCRIPTION_ID = "00000000-1111-2222-3333-444444444444"  # Go SDK transcriptObject.json
OLDER_TRANSCRIPTION_ID = "00000000-1111-2222-3333-444444444443"
PENDING_RECORDING_ID = "12345678-9012-3456-7890-123456789014"
PENDING_TRANSCRIPTION_ID = "00000000-1111-2222-3333-444444444445"
FLOW_ID = "de3ed163-d5fc-45f4-b8c4-7eea7458c635"  # php_callflow_create_201.json
JAVA_FLOW_ID = "e781a76f-14ad-45b0-8490-409300244e20"  # java_callflow_view_all_options.json
WEBHOOK_ID = "534e1848-235f-482d-983d-e3e11a04f58a"  # php_webhook_create_201.json
MISSING = "00000000-0000-0000-0000-000000000000"  # py_error_recording_not_found.json

ANSWER_URL = "https://app.example/messagebird/answer"
CALLBACK_URL = "https://app.example/messagebird/events"
WEBHOOK_URL = "https://example.com/"  # php_webhook_create_201.json
PUBLIC_URL = "https://voice-app.example"
RETRY_AFTER = "1"
# "now" of the reconciling lookup (a create whose answer was lost), and of the created call.
NOW = datetime(2017, 8, 30, 7, 35, 37, tzinfo=UTC)
TRANSCRIPT = "Hello, I would like to speak to someone about my order."

GREETING = Flow.from_dict({"name": "Greeting", "steps": [
    {"say": {"text": "Hello from univoice.", "language": "en-GB"}}, "hangup"]})
VOICEMAIL = Flow.from_dict({"name": "Voicemail", "steps": [
    {"say": "Please leave a message after the tone."},
    {"record": {"max_length": 60, "transcribe": True, "transcribe_language": "en-GB"}},
    "hangup"]})
MENU = Flow.from_dict({"steps": [  # a re-prompt: MessageBird runs it through the app
    {"gather": {"prompt": [{"say": "For sales press 1, for support press 2."}],
                "retries": 1, "options": {"1": [{"transfer": {"targets": ["+31201234567"]}}],
                                          "2": [{"say": "Support is closed."}]}}},
    "hangup"]})


def settings(env: dict[str, str] | None = None, **extra: Any) -> dict[str, Any]:
    """The provider settings a contract test uses: the environment's values when recording,
    the placeholders otherwise."""
    env = env or provider_env("messagebird")
    return {"access_key": env["MESSAGEBIRD_ACCESS_KEY"],
            "signing_key": env["MESSAGEBIRD_SIGNING_KEY"], **extra}


ENV = provider_env("messagebird", environ={})


def provider(**extra: Any) -> MessageBirdProvider:
    """The adapter with the placeholder settings (plus ``extra``); "now" pinned."""
    p = MessageBirdProvider(**settings(ENV, **extra))
    p.clock = lambda: NOW
    return p


def hosted(p: MessageBirdProvider, flow: Flow) -> dict[str, str]:
    flow_url, events_url = FlowHost(PUBLIC_URL, "sqlite://:memory:").host(p.name, flow)
    return {"flow_url": flow_url, "events_url": events_url}


# Documented bodies ---------------------------------------------------------------------------


def sample(name: str) -> Any:
    return json.loads((SAMPLES / name).read_text("utf-8"))


def digits(number: str) -> str:
    return number.lstrip("+")


def error(code: int, message: str, **extra: Any) -> dict[str, Any]:
    """The error envelope (py_error_recording_not_found.json's shape: data null, errors,
    zeroed pagination)."""
    body: dict[str, Any] = sample("py_error_recording_not_found.json")
    body["errors"] = [{"code": code, "message": message, **extra}]
    return body


def not_found(what: str, key: str) -> dict[str, Any]:
    """py_error_recording_not_found.json with the thing and its id filled in."""
    body: dict[str, Any] = sample("py_error_recording_not_found.json")
    body["errors"][0]["message"] = f"No {what} found for ID `{key}`."
    return body


# Authored, in the documented shape; the code is MessageBird's general REST code for a bad
# access key (unconfirmed for the Voice API).
UNAUTHORIZED = error(2, "Request not allowed (incorrect access_key)")
INVALID_SOURCE = error(10, "source is not a number of this account", parameter="source")
RATE_LIMITED = error(429, "Too many requests")


def created_call(request: httpx.Request, call_id: str) -> dict[str, Any]:
    """py_call_create_response.json, echoing the request's numbers and naming ``call_id``."""
    body = json.loads(request.content)
    answer: dict[str, Any] = sample("py_call_create_response.json")
    answer["data"][0].update(id=call_id, source=body["source"],
                             destination=body["destination"])
    answer["_links"]["self"] = f"/calls/{call_id}"
    return answer


def call_item(call_id: str, status: str = "ended", *, destination: str = TO,
              created: str = "2017-08-30T07:35:37Z", ended: str | None = None
              ) -> dict[str, Any]:
    """A call as GET /calls lists it (py_calls_list_paginated.json's items)."""
    item: dict[str, Any] = copy.deepcopy(sample("py_calls_list_paginated.json")["data"][1])
    item.update(id=call_id, status=status, source=digits(FROM),
                destination=digits(destination), createdAt=created, updatedAt=created,
                endedAt=ended if status in ("ended", "no_answer", "busy", "failed") else None)
    item["_links"] = {"legs": f"/calls/{call_id}/legs", "self": f"/calls/{call_id}"}
    return item


def legs_of(call_id: str) -> dict[str, Any]:
    """seed_legs_list.json, its legs moved to ``call_id`` and the numbers of the call (the
    tutorial's times kept: endedAt before answeredAt)."""
    legs: dict[str, Any] = sample("seed_legs_list.json")
    for leg in legs["data"]:
        leg["callId"] = call_id
        leg["_links"]["self"] = f"/calls/{call_id}/legs/{leg['id']}"
    legs["_links"]["self"] = f"/calls/{call_id}/legs?page=1"
    return legs


def one_leg(call_id: str, status: str, *, answered: str | None = "2017-08-30T07:35:45Z",
            ended: str | None = "2017-08-30T07:36:27Z", duration: int = 42) -> dict[str, Any]:
    """java_leg_get.json's leg as a list item of ``call_id``, between the call's numbers."""
    leg: dict[str, Any] = copy.deepcopy(sample("java_leg_get.json")["data"][0])
    leg.update(id=LEG_ID, callId=call_id, source=digits(FROM), destination=digits(TO),
               status=status, duration=duration, createdAt="2017-08-30T07:35:37Z",
               updatedAt=ended or answered or "2017-08-30T07:35:37Z", answeredAt=answered,
               endedAt=ended)
    leg["_links"] = {"self": f"/calls/{call_id}/legs/{LEG_ID}"}
    return {"data": [leg], "_links": {"self": f"/calls/{call_id}/legs?page=1"},
            "pagination": {"totalCount": 1, "pageCount": 1, "currentPage": 1, "perPage": 50}}


def transcription(tid: str, rid: str, status: str, created: str) -> dict[str, Any]:
    """The Go SDK's transcriptObject.json item (messagebird/go-rest-api
    voice/testdata), with a status and its links (PROVIDERS §2.1 transcription object)."""
    return {"id": tid, "recordingId": rid, "status": status, "error": None,
            "createdAt": created, "updatedAt": created,
            "_links": {"self": f"/transcriptions/{tid}", "file": f"/transcriptions/{tid}.txt"}}


# A WAV header and a few samples of silence: a real audio/wav body.
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
    # use. The others need a call that was answered or recorded, or a failure no one can
    # provoke on demand; their tests are skipped while recording.
    live: bool = False


def _created(request: httpx.Request, call_id: str) -> Exchange:
    return Exchange(request, 201, created_call(request, call_id))


def lifecycle(p: MessageBirdProvider) -> Exchange:
    """The create a chained (live-recordable) test starts with, and its answer."""
    return _created(p.create_call(CreateCall(to=TO, from_=FROM, flow=GREETING)).request,
                    CALL_ID)


def create_call() -> list[Exchange]:
    p = provider()
    flow = p.create_call(CreateCall(to=TO, from_=FROM, flow=GREETING,
                                    callback_url=CALLBACK_URL)).request
    answer = p.create_call(CreateCall(to=TO, from_=FROM, answer_url=ANSWER_URL)).request
    return [_created(flow, CALL_ID), _created(answer, OTHER_CALL_ID)]


def create_call_options() -> list[Exchange]:
    p = provider()
    menu = p.create_call(CreateCall(to=TO, from_=FROM, flow=MENU).model_copy(
        update=hosted(p, MENU))).request
    sip = p.create_call(CreateCall(to=SIP_TO, from_=FROM, flow=GREETING)).request
    record = p.create_call(CreateCall(to=TO, from_=FROM, flow=VOICEMAIL, record=True)).request
    bad = p.create_call(CreateCall(to=TO, from_=NOT_OURS, flow=GREETING)).request
    return [_created(menu, CALL_ID), _created(sip, OTHER_CALL_ID),
            _created(record, THIRD_CALL_ID), Exchange(bad, 422, INVALID_SOURCE)]


def create_call_rate_limited() -> list[Exchange]:
    limited = provider().create_call(CreateCall(to=TO, from_=FROM, flow=GREETING)).request
    return [Exchange(limited, 429, RATE_LIMITED, headers={"Retry-After": RETRY_AFTER}),
            _created(limited, CALL_ID)]


def create_call_lost_answer() -> list[Exchange]:
    lost = provider().create_call(CreateCall(to=TO, from_=FROM, flow=GREETING))
    assert lost.reconcile is not None
    lookup = lost.reconcile().request
    page = {"data": [call_item(CALL_ID, "queued", created="2017-08-30T07:35:37Z"),
                     # Another destination, and a call to ours from before the window:
                     # neither is taken for the lost one.
                     call_item(OTHER_CALL_ID, "ongoing", destination=NOT_OURS,
                               created="2017-08-30T07:35:20Z"),
                     call_item(THIRD_CALL_ID, created="2017-08-30T07:20:00Z",
                               ended="2017-08-30T07:22:00Z")],
            "_links": {"self": "/calls?page=1"},
            "pagination": {"totalCount": 3, "pageCount": 1, "currentPage": 1, "perPage": 50}}
    return [Exchange(lost.request, 503, content=b"<html><body>503 Service Unavailable"
                                                b"</body></html>",
                     headers={"Content-Type": "text/html"}),
            Exchange(lookup, 200, page)]


def get_call() -> list[Exchange]:
    p = provider()
    created = lifecycle(p)
    call = p.get_call(CALL_ID).request
    answer = {"data": [{**created.body["data"][0], "status": "starting"}],
              "_links": {"legs": f"/calls/{CALL_ID}/legs", "self": f"/calls/{CALL_ID}"},
              "pagination": {"totalCount": 0, "pageCount": 0, "currentPage": 0, "perPage": 0}}
    legs = p.call_legs(parse_call(answer["data"][0])).request
    ringing = one_leg(CALL_ID, "ringing", answered=None, ended=None, duration=0)
    return [created, Exchange(call, 200, answer), Exchange(legs, 200, ringing),
            Exchange(p.get_call(MISSING).request, 404, not_found("call", MISSING))]


def get_call_documented() -> list[Exchange]:
    p = provider()
    sdk = sample("py_call_get_200.json")
    tutorial = {"data": [sample("seed_call_object.json")],
                "_links": {"self": f"/calls/{TUTORIAL_CALL_ID}",
                           "legs": f"/calls/{TUTORIAL_CALL_ID}/legs"}}
    flaky = p.get_call(FLAKY_CALL_ID).request
    ended = {"data": [call_item(FLAKY_CALL_ID, "no_answer", created="2017-08-30T07:35:37Z",
                                ended="2017-08-30T07:36:07Z")]}
    return [
        # The Python SDK's fixture and the Java SDK's legs list verbatim: the legs name
        # another call ("unforgiven-call") and a caller "Heaven".
        Exchange(p.get_call(SDK_CALL_ID).request, 200, sdk),
        Exchange(p.call_legs(parse_call(sdk["data"][0])).request, 200,
                 sample("java_legs_list.json")),
        # The tutorial's inbound call (numberId, no numbers) and its two legs, whose
        # endedAt precedes answeredAt.
        Exchange(p.get_call(TUTORIAL_CALL_ID).request, 200, tutorial),
        Exchange(p.call_legs(parse_call(tutorial["data"][0])).request, 200,
                 legs_of(TUTORIAL_CALL_ID)),
        # A 500 without a JSON body, a 502, then the call; its leg was never answered.
        Exchange(flaky, 500, content=b"Internal Server Error",
                 headers={"Content-Type": "text/plain"}),
        Exchange(flaky, 502, content=b"<html>Bad Gateway</html>",
                 headers={"Content-Type": "text/html"}),
        Exchange(flaky, 200, ended),
        Exchange(p.call_legs(parse_call(ended["data"][0])).request, 200,
                 one_leg(FLAKY_CALL_ID, "no_answer", answered=None,
                         ended="2017-08-30T07:36:07Z", duration=0)),
    ]


def get_call_unauthorized() -> list[Exchange]:
    return [Exchange(provider().get_call(MISSING).request, 401, UNAUTHORIZED)]


def list_calls() -> list[Exchange]:
    p = provider()
    first_page = sample("py_calls_list_paginated.json")
    first_page["pagination"].update(totalCount=3, pageCount=2, perPage=2)
    second_page = {"data": [sample("seed_calls_list.json")["data"][0]],
                   "_links": {"self": "/calls?page=2"},
                   "pagination": {"totalCount": 3, "pageCount": 2, "currentPage": 2,
                                  "perPage": 2}}
    return [
        Exchange(p.list_calls(CallFilters(), None, 2).request, 200, first_page),
        Exchange(p.list_calls(CallFilters(), "2", 2).request, 200, second_page),
    ]


def hangup_call() -> list[Exchange]:
    p = provider()
    return [lifecycle(p), Exchange(p.hangup_call(CALL_ID).request, 204),
            Exchange(p.hangup_call(MISSING).request, 404, not_found("call", MISSING))]


def _recording(**update: Any) -> Recording:
    return Recording(provider="messagebird", id=RECORDING_ID, call_id=CALL_ID).model_copy(
        update=update)


def list_recordings() -> list[Exchange]:
    p = provider()
    legs = p.list_recordings(CALL_ID, None, 50)
    walk = legs.parse(httpx.Response(200, json=legs_of(CALL_ID), request=legs.request))
    first_leg = p.list_recordings(CALL_ID, walk.next_cursor, 50)
    page = first_leg.parse(httpx.Response(200, json=sample("py_recordings_list.json"),
                                          request=first_leg.request))
    second_leg = p.list_recordings(CALL_ID, page.next_cursor, 50)
    empty = {"data": [], "_links": {"self": f"/calls/{CALL_ID}/legs/{OTHER_LEG_ID}"
                                            "/recordings?page=1"},
             "pagination": {"totalCount": 0, "pageCount": 0, "currentPage": 1, "perPage": 50}}
    return [Exchange(legs.request, 200, legs_of(CALL_ID)),
            # The Python SDK's list verbatim: its links name another leg than legId.
            Exchange(first_leg.request, 200, sample("py_recordings_list.json")),
            Exchange(second_leg.request, 200, empty)]


def get_recording() -> list[Exchange]:
    p = provider()
    return [
        Exchange(p.get_recording(RECORDING_ID, None).request, 200,
                 sample("py_recording_view.json")),
        Exchange(p.get_recording(GO_RECORDING_ID, None).request, 200,
                 sample("go_recording_object.json")),
        Exchange(p.get_recording(MISSING, None).request, 404,
                 sample("py_error_recording_not_found.json")),
    ]


def download_recording() -> list[Exchange]:
    return [Exchange(provider().download_recording(_recording()).request, 200, content=WAV,
                     headers={"Content-Type": "audio/wav"})]


def delete_recording() -> list[Exchange]:
    p = provider()
    return [Exchange(p.delete_recording(_recording()).request, 204),
            Exchange(p.delete_recording(_recording(id=MISSING)).request, 404,
                     not_found("recording", MISSING))]


def create_transcription() -> list[Exchange]:
    p = provider()
    created = {"data": [transcription(TRANSCRIPTION_ID, RECORDING_ID, "created",
                                      "2018-01-01T00:00:06Z")]}
    return [Exchange(p.create_transcription(_recording(), None).request, 201, created),
            Exchange(p.create_transcription(_recording(), "en-GB").request, 201, created)]


def get_transcription() -> list[Exchange]:
    p = provider()
    done = transcription(TRANSCRIPTION_ID, RECORDING_ID, "done", "2018-01-01T00:00:09Z")
    older = transcription(OLDER_TRANSCRIPTION_ID, RECORDING_ID, "failed",
                          "2018-01-01T00:00:06Z")
    found = Transcription(provider="messagebird", id=TRANSCRIPTION_ID,
                          recording_id=RECORDING_ID, call_id=CALL_ID,
                          status=TranscriptionStatus.READY)
    pending = _recording(id=PENDING_RECORDING_ID)

    def listing(rid: str, *items: dict[str, Any]) -> dict[str, Any]:
        return {"data": list(items), "_links": {"self": f"/recordings/{rid}/transcriptions"},
                "pagination": {"totalCount": len(items), "pageCount": 1 if items else 0,
                               "currentPage": 1, "perPage": 50}}

    return [
        Exchange(p.get_transcription(_recording()).request, 200,
                 listing(RECORDING_ID, older, done)),
        Exchange(p.transcription_text(found).request, 200, content=TRANSCRIPT.encode(),
                 headers={"Content-Type": "text/plain; charset=utf-8"}),
        Exchange(p.get_transcription(pending).request, 200, listing(
            PENDING_RECORDING_ID, transcription(PENDING_TRANSCRIPTION_ID, PENDING_RECORDING_ID,
                                                "transcribing", "2018-01-01T00:00:09Z"))),
        Exchange(p.get_transcription(_recording(id=MISSING)).request, 200,
                 listing(MISSING)),
    ]


def flows() -> list[Exchange]:
    """Stored call flows: create (the compiled flow, echoed with ids as
    php_callflow_create_201.json answers a create), then delete."""
    p = provider()
    op = p.create_flow(VOICEMAIL, None)
    sent = json.loads(op.request.content)
    answer: dict[str, Any] = sample("php_callflow_create_201.json")
    answer["data"][0].update(
        title=sent.get("title"), record=False, default=False,
        steps=[{**step, "id": step.get("id") or f"{FLOW_ID}-{i}"}
               for i, step in enumerate(sent["steps"])])
    return [Exchange(op.request, 201, answer),
            Exchange(p.delete_flow(FLOW_ID).request, 204),
            Exchange(p.delete_flow(MISSING).request, 404, not_found("call flow", MISSING))]


def list_flows() -> list[Exchange]:
    p = provider()
    # py_callflow_list.json verbatim: two flows on page 1 of "2 pages".
    second = {"data": [], "_links": {"self": "/call-flows?page=2"},
              "pagination": {"totalCount": 2, "pageCount": 2, "currentPage": 2, "perPage": 10}}
    return [Exchange(p.list_flows(None, 10).request, 200, sample("py_callflow_list.json")),
            Exchange(p.list_flows("2", 10).request, 200, second)]


def get_flow() -> list[Exchange]:
    p = provider()
    return [Exchange(p.get_flow(JAVA_FLOW_ID).request, 200,
                     sample("java_callflow_view_all_options.json")),
            Exchange(p.get_flow(MISSING).request, 404, not_found("call flow", MISSING))]


def webhooks() -> list[Exchange]:
    p = provider()
    listed = sample("php_webhook_create_201.json")
    return [Exchange(p.create_webhook(WEBHOOK_URL, []).request, 201,
                     sample("php_webhook_create_201.json")),
            Exchange(p.list_webhooks(None, 50).request, 200, listed),
            Exchange(p.delete_webhook(WEBHOOK_ID).request, 204)]


SOURCES = "../shared/reference/samples/messagebird (INDEX.md)"
CASSETTES = [
    CassetteSpec("create_call", f"py_call_create_response.json of {SOURCES}, echoing the "
                 "request's numbers", create_call, live=True),
    CassetteSpec("create_call_options", "py_call_create_response.json; the 422 body authored "
                 "in the documented error shape (code and wording unconfirmed)",
                 create_call_options),
    CassetteSpec("create_call_rate_limited", "429 authored in the error shape (rate limits "
                 "are unconfirmed, C-MB-14), then py_call_create_response.json",
                 create_call_rate_limited),
    CassetteSpec("create_call_lost_answer", "503 with an HTML body (C-MB-14); the lookup's "
                 "calls from py_calls_list_paginated.json", create_call_lost_answer),
    CassetteSpec("get_call", "py_call_create_response.json; the call and a ringing leg from "
                 "py_call_get_200.json / java_leg_get.json; 404 "
                 "py_error_recording_not_found.json's shape", get_call, live=True),
    CassetteSpec("get_call_documented", "py_call_get_200.json + java_legs_list.json verbatim; "
                 "seed_call_object.json + seed_legs_list.json (the tutorial); 500 and 502 "
                 "without an error body (C-MB-14)", get_call_documented),
    CassetteSpec("get_call_unauthorized", "401 authored in the error shape (code 2: "
                 "MessageBird's general REST code, unconfirmed for Voice)",
                 get_call_unauthorized, live=True),
    CassetteSpec("list_calls", "py_calls_list_paginated.json (paged by 2), "
                 "seed_calls_list.json", list_calls),
    CassetteSpec("hangup_call", "py_call_create_response.json; 204; 404", hangup_call,
                 live=True),
    CassetteSpec("list_recordings", "seed_legs_list.json, py_recordings_list.json verbatim",
                 list_recordings),
    CassetteSpec("get_recording", "py_recording_view.json, go_recording_object.json, "
                 "py_error_recording_not_found.json, verbatim", get_recording),
    CassetteSpec("download_recording", "audio/wav (the recording's .wav file)",
                 download_recording),
    CassetteSpec("delete_recording", "204; 404", delete_recording),
    CassetteSpec("create_transcription", "the Go SDK's transcriptObject.json "
                 "(voice/testdata) with a status and links", create_transcription),
    CassetteSpec("get_transcription", "transcriptObject.json items; the text authored "
                 "(text/plain)", get_transcription),
    CassetteSpec("flows", "php_callflow_create_201.json echoing the compiled flow; 204; 404",
                 flows, live=True),
    CassetteSpec("list_flows", "py_callflow_list.json verbatim (its pagination says 2 pages)",
                 list_flows),
    CassetteSpec("get_flow", "java_callflow_view_all_options.json verbatim (transcribe as the "
                 "string \"false\"); 404", get_flow),
    CassetteSpec("webhooks", "php_webhook_create_201.json verbatim (as the create's answer and "
                 "as a list); 204", webhooks, live=True),
]


# Writing -----------------------------------------------------------------------------------


def _vcr_request(request: httpx.Request, scrubber: Scrubber) -> VcrRequest:
    headers = {"Authorization": REDACTED,  # what a recording keeps of the credentials
               "X-MessageBird-Version": request.headers["x-messagebird-version"]}
    if "accept" in request.headers:
        headers["Accept"] = request.headers["accept"]
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
    scrubber = Scrubber("messagebird", {})
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
    directory = cassette_dir("messagebird")
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
        print(f"out of date (run python -m tests.contract.messagebird_cassettes): {stale}")
        return 1
    return 0


if __name__ == "__main__":
    sys.exit(main(sys.argv[1:]))
