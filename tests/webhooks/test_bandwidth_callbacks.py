"""Bad Bandwidth callbacks through the real webhook app (``VoiceApp`` with the bandwidth
provider, Starlette's TestClient, the SQLite store): each gets the right 4xx (an unknown
``eventType`` a 200 and an ``UnknownEvent``), never a 500, and a refused one reaches no
handler and leaves nothing in the event store.

The parser's own limits are unit-tested in tests/unit/test_bandwidth_events.py; here every
request goes the whole way: routing, body limits, content type, verification, parsing,
the store, the handlers, and the continuation documents.
"""

from __future__ import annotations

import base64
import json
from collections.abc import Iterator
from dataclasses import dataclass
from typing import Any

import pytest
from starlette.testclient import TestClient

from univoice import Flow
from univoice.events import BaseEvent, CallCompleted, DigitsGathered, UnknownEvent
from univoice.hosting import flow_id
from univoice.webhooks import VoiceApp
from univoice_bandwidth import BandwidthProvider

from ..conftest import EXAMPLES

USER, PASSWORD = "univoice-cb", "cb-bad-callbacks-7d1e"
ACCOUNT = "9900000"
PUBLIC = "https://voice.example.com"
EVENTS = "/univoice/bandwidth/events"
IVR = Flow.from_yaml(EXAMPLES / "support_ivr.yaml")
GATHER = "steps[1]"  # the IVR's menu
GOOD = (USER, PASSWORD)
JSON = "application/json"


@dataclass
class Stack:
    app: VoiceApp
    client: TestClient
    seen: list[BaseEvent]
    flow: str  # the stored IVR's id

    def flow_path(self, node: str = "start", flow: str | None = None) -> str:
        return f"/univoice/bandwidth/flow/{flow or self.flow}/{node}"

    def stored(self) -> list[Any]:
        return self.app.store.events(limit=1000)


def make(provider: BandwidthProvider) -> Iterator[Stack]:
    app = VoiceApp(public_url=PUBLIC, store="sqlite://:memory:", providers=[provider])
    seen: list[BaseEvent] = []
    app.on()(seen.append)
    stored = app.continuations("bandwidth").save_flow(IVR, flow_id(IVR))
    # raise_server_exceptions=False: an unhandled error is a 500 response here, as a
    # server would send it, so "never a 500" is checked on the status.
    with TestClient(app, raise_server_exceptions=False) as client:
        yield Stack(app, client, seen, stored)
    app.store.close()


@pytest.fixture
def stack() -> Iterator[Stack]:
    yield from make(BandwidthProvider(account_id=ACCOUNT, callback_username=USER,
                                      callback_password=PASSWORD))


@pytest.fixture
def unconfigured() -> Iterator[Stack]:
    yield from make(BandwidthProvider(account_id=ACCOUNT))  # no callback credentials


def event(event_type: str = "disconnect", **fields: Any) -> dict[str, Any]:
    return {"eventType": event_type, "eventTime": "2026-01-01T00:00:05.000Z",
            "accountId": ACCOUNT, "applicationId": "app", "from": "+31201234567",
            "to": "+31612345678", "direction": "outbound", "callId": "c-bad-1",
            "callUrl": f"https://voice.bandwidth.com/api/v2/accounts/{ACCOUNT}/calls/c-bad-1",
            "startTime": "2026-01-01T00:00:00.000Z", "cause": "hangup", **fields}


def post(stack: Stack, body: bytes | dict[str, Any] | list[Any], *, path: str = EVENTS,
         auth: tuple[str, str] | None = GOOD, content_type: str | None = JSON,
         headers: dict[str, str] | None = None) -> Any:
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    sent = dict(headers or {})
    if content_type is not None:
        sent["content-type"] = content_type
    return stack.client.post(path, content=raw, headers=sent, auth=auth)


def refused(answer: Any, status: int, stack: Stack, reason: str = "") -> str:
    """The answer is ``status`` with a one-line JSON reason, and nothing was handled."""
    assert answer.status_code == status, answer.text
    text: str = answer.json()["error"]
    assert "\n" not in text and reason in text
    assert stack.seen == [] and stack.stored() == []
    assert "<Response" not in answer.text  # no BXML for a refused callback
    return text


# Missing fields, unknown types --------------------------------------------------------------


@pytest.mark.parametrize("body", [
    {}, {"callId": "c-bad-1", "eventTime": "2026-01-01T00:00:05.000Z"},
    {"eventType": None, "callId": "c-bad-1"}, {"eventType": "", "callId": "c-bad-1"},
    {"eventType": 42}, {"eventType": ["disconnect"]}, {"EventType": "disconnect"},
], ids=["empty object", "no eventType", "null", "blank", "number", "array", "wrong case"])
def test_a_callback_without_an_event_type_is_400(stack: Stack, body: dict[str, Any]) -> None:
    refused(post(stack, body), 400, stack, "eventType")


@pytest.mark.parametrize("body", [b"", b"[]", b'"disconnect"', b"null", b"42", b"[{}]"])
def test_a_body_that_is_not_an_object_is_400(stack: Stack, body: bytes) -> None:
    refused(post(stack, body), 400, stack)


def test_a_known_type_with_every_other_field_missing_is_handled(stack: Stack) -> None:
    # Bandwidth's fields are read tolerantly: a bare disconnect is still a call's end.
    answer = post(stack, {"eventType": "disconnect"})
    assert answer.status_code == 200 and answer.json()["handled"] == 1
    [seen] = stack.seen
    assert isinstance(seen, CallCompleted) and seen.call_id is None


def test_wrong_field_types_are_tolerated(stack: Stack) -> None:
    answer = post(stack, event("gather", digits=["1"], terminatingDigit={"k": "#"},
                               callId=7, eventTime="yesterday", tag=None))
    assert answer.status_code == 200
    [seen] = stack.seen
    assert isinstance(seen, DigitsGathered) and seen.digits == "" and seen.call_id == "7"


@pytest.mark.parametrize("event_type", ["somethingNew", "answer ", "DISCONNECT", "redirect"])
def test_an_unknown_event_type_is_200_and_an_unknown_event(stack: Stack,
                                                           event_type: str) -> None:
    answer = post(stack, event(event_type))
    assert answer.status_code == 200 and answer.json()["handled"] == 1
    [seen] = stack.seen
    assert isinstance(seen, UnknownEvent) and seen.provider_type == event_type
    assert seen.call_id == "c-bad-1" and seen.raw["eventType"] == event_type
    assert [e.status for e in stack.stored()] == ["done"]


def test_an_inbound_call_to_a_number_no_flow_answers_is_404(stack: Stack) -> None:
    answer = post(stack, event("initiate", direction="inbound"))
    assert answer.status_code == 404
    assert "no flow answers calls to +31612345678" in answer.json()["error"]


def test_an_inbound_call_without_a_number_is_404_not_500(stack: Stack) -> None:
    answer = post(stack, {"eventType": "initiate", "callId": "c-bad-2"})
    assert answer.status_code == 404


def test_an_inbound_call_refused_with_404_reaches_no_handler(stack: Stack) -> None:
    refused(post(stack, event("initiate", direction="inbound")), 404, stack)


# Credentials ---------------------------------------------------------------------------------


def basic(user: str, password: str) -> str:
    return "Basic " + base64.b64encode(f"{user}:{password}".encode()).decode()


WRONG = {
    "no header": None,
    "wrong password": basic(USER, "guess"),
    "wrong user": basic("someone", PASSWORD),
    "password prefix": basic(USER, PASSWORD[:-1]),
    "swapped": basic(PASSWORD, USER),
    "bearer": f"Bearer {PASSWORD}",
    "not base64": f"Basic {USER}:{PASSWORD}",
    "empty basic": "Basic ",
    "non-ASCII": "Basic dXNlcjpwYXNz\u00e9",
}


@pytest.mark.parametrize("authorization", WRONG)
def test_wrong_credentials_are_401(stack: Stack, authorization: str) -> None:
    value = WRONG[authorization]
    headers = {} if value is None else {"authorization": value.encode()}
    answer = stack.client.post(EVENTS, content=json.dumps(event()).encode(),
                               headers={"content-type": JSON, **headers})
    assert PASSWORD not in refused(answer, 401, stack)


@pytest.mark.parametrize("auth", [GOOD, None, ("", "")], ids=["right", "none", "empty"])
def test_no_credentials_configured_refuses_every_callback(
        unconfigured: Stack, auth: tuple[str, str] | None) -> None:
    text = refused(post(unconfigured, event(), auth=auth), 401, unconfigured)
    assert "bandwidth.callback_username" in text
    answer = post(unconfigured, event("answer"), path=unconfigured.flow_path(), auth=auth)
    refused(answer, 401, unconfigured)


def test_credentials_are_checked_before_the_body_is_parsed(stack: Stack) -> None:
    # A forger learns nothing about the parser: a bad body with bad credentials is a 401.
    refused(post(stack, b"{not json", auth=("x", "y")), 401, stack)
    refused(post(stack, b"[" * 50_000, auth=None), 401, stack)


# Bodies: XML, bombs, size, content types ------------------------------------------------------

XML = (b"<?xml version='1.0'?><Event><eventType>disconnect</eventType>"
       b"<callId>c-bad-1</callId></Event>")


@pytest.mark.parametrize("content_type", ["application/xml", "text/xml"])
def test_an_xml_body_is_415(stack: Stack, content_type: str) -> None:
    refused(post(stack, XML, content_type=content_type), 415, stack, "application/json")


def test_an_xml_body_labelled_json_is_400(stack: Stack) -> None:
    refused(post(stack, XML), 400, stack, "not JSON")


BOMBS = {
    "nested arrays": b"[" * 100_000 + b"]" * 100_000,
    "nested objects": b'{"a":' * 20_000 + b"1" + b"}" * 20_000,
    "nested in a field": json.dumps({**event(), "x": json.loads("[" * 9 + "]" * 9)}).encode(),
    "unclosed nesting": b'{"eventType": "disconnect", "x": ' + b"[" * 200_000,
    "huge integer": b'{"eventType": "disconnect", "duration": ' + b"9" * 20_000 + b"}",
    "float overflow": b'{"eventType": "disconnect", "duration": 1e999}',
    "negative overflow": b'{"eventType": "disconnect", "duration": -1e400}',
    "NaN": b'{"eventType": "disconnect", "duration": NaN}',
    "Infinity": b'{"eventType": "disconnect", "duration": Infinity}',
    "lone surrogate": b'{"eventType": "disconnect", "callId": "c-\\ud800"}',
    "invalid UTF-8": b'{"eventType": "disconnect", "callId": "c-\xff\xfe"}',
    "duplicate keys, nested bomb": b'{"eventType": "disconnect", "eventType": '
                                   + b"[" * 5000 + b"]" * 5000 + b"}",
}


@pytest.mark.parametrize("bomb", BOMBS)
def test_json_bombs_are_400(stack: Stack, bomb: str) -> None:
    refused(post(stack, BOMBS[bomb]), 400, stack)


@pytest.mark.parametrize("value", [10**15 + 1, 1e308, -1e308, 2**63, 0, -1])
def test_large_but_valid_numbers_are_read_tolerantly(stack: Stack, value: float) -> None:
    answer = post(stack, event("recordingAvailable", duration=value, status="complete",
                               recordingId="r-1", mediaUrl="https://example.com/r-1"))
    assert answer.status_code == 200
    assert len(stack.seen) == 1


def test_a_300_kb_body_is_413(stack: Stack) -> None:
    body = json.dumps(event(pad="x" * 300_000)).encode()
    refused(post(stack, body), 413, stack, "larger than")


def test_a_300_kb_body_sent_without_a_length_is_413(stack: Stack) -> None:
    body = json.dumps(event(pad="x" * 300_000)).encode()

    def chunks() -> Iterator[bytes]:  # chunked transfer: no Content-Length to trust
        for at in range(0, len(body), 16_384):
            yield body[at:at + 16_384]

    answer = stack.client.post(EVENTS, content=chunks(), auth=GOOD,
                               headers={"content-type": JSON})
    refused(answer, 413, stack, "larger than")


def test_a_body_just_under_the_limit_is_read(stack: Stack) -> None:
    payload = event()
    padding = 256 * 1024 - len(json.dumps({**payload, "pad": ""}).encode()) - 1
    answer = post(stack, {**payload, "pad": "x" * padding})
    assert answer.status_code == 200


@pytest.mark.parametrize("content_type", [
    None, "text/plain", "application/x-www-form-urlencoded", "multipart/form-data",
    "application/jsonx", "json"])
def test_a_wrong_content_type_is_415(stack: Stack, content_type: str | None) -> None:
    refused(post(stack, event(), content_type=content_type), 415, stack)


@pytest.mark.parametrize("content_type", ["application/json; charset=utf-8",
                                          "Application/JSON"])
def test_json_content_types_with_parameters_or_case_are_read(stack: Stack,
                                                             content_type: str) -> None:
    assert post(stack, event(), content_type=content_type).status_code == 200


def test_a_form_encoded_callback_is_415(stack: Stack) -> None:
    answer = stack.client.post(EVENTS, data={"eventType": "disconnect", "callId": "c-1"},
                               auth=GOOD)
    refused(answer, 415, stack)


# The GET form --------------------------------------------------------------------------------


def test_the_events_route_takes_no_get(stack: Stack) -> None:
    answer = stack.client.get(EVENTS, params=event(), auth=GOOD)
    assert answer.status_code == 405
    assert stack.seen == [] and stack.stored() == []


def test_an_events_post_with_its_fields_in_the_query_only_is_400(stack: Stack) -> None:
    answer = stack.client.post(EVENTS, params={"eventType": "disconnect"}, auth=GOOD)
    refused(answer, 400, stack, "empty body")


def test_a_get_continuation_reads_its_fields_from_the_query(stack: Stack) -> None:
    query = {k: str(v) for k, v in event("gather", digits="2", terminatingDigit="").items()}
    answer = stack.client.get(stack.flow_path(GATHER), params={
        **query, "on": "gather", "attempt": "1"}, auth=GOOD)
    assert answer.status_code == 200 and "<Response>" in answer.text
    [seen] = stack.seen
    assert isinstance(seen, DigitsGathered) and seen.digits == "2"


def test_a_get_continuation_with_a_bad_query_is_400(stack: Stack) -> None:
    answer = stack.client.get(stack.flow_path(), params={"callId": "c-bad-1"}, auth=GOOD)
    refused(answer, 400, stack, "eventType")
    # Bytes that are not UTF-8 in the query (a lone surrogate's encoding): replaced, read.
    answer = stack.client.get(stack.flow_path() + "?eventType=answer&callId=c-%ED%B2%80",
                              auth=GOOD)
    assert answer.status_code == 200


def test_a_get_continuation_without_credentials_is_401(stack: Stack) -> None:
    answer = stack.client.get(stack.flow_path(GATHER), params={
        "eventType": "gather", "digits": "1", "on": "gather", "attempt": "1"})
    refused(answer, 401, stack)


# The continuation route ----------------------------------------------------------------------


def test_the_continuation_route_serves_bxml(stack: Stack) -> None:
    answer = post(stack, event("answer"), path=stack.flow_path())
    assert answer.status_code == 200 and answer.text.startswith("<?xml")
    assert answer.headers["content-type"].startswith("application/xml")
    answer = post(stack, event("gather", digits="1"),
                  path=stack.flow_path(GATHER) + "?on=gather&attempt=1")
    assert answer.status_code == 200 and "<Response>" in answer.text


def test_an_unknown_flow_is_404(stack: Stack) -> None:
    answer = post(stack, event("answer"), path=stack.flow_path(flow="0" * 32))
    assert answer.status_code == 404 and "no flow" in answer.json()["error"]
    answer = post(stack, event("answer"), path=stack.flow_path(flow="..%2F..%2Fetc"))
    assert answer.status_code == 404


@pytest.mark.parametrize("node", ["steps[99]", "steps[1].gather.options['9'].steps[0]",
                                  "nonsense", "steps[-1]", "steps%5B1%5D.x"])
def test_an_unknown_node_is_404(stack: Stack, node: str) -> None:
    answer = post(stack, event("answer"), path=stack.flow_path(node))
    assert answer.status_code == 404, answer.text
    assert "has no step" in answer.json()["error"]


@pytest.mark.parametrize("attempt", [None, "", "0", "12", "-1", "1.5", "one", "99999999999"])
def test_a_bad_attempt_is_400(stack: Stack, attempt: str | None) -> None:
    query = "?on=gather" + ("" if attempt is None else f"&attempt={attempt}")
    answer = post(stack, event("gather", digits="1"), path=stack.flow_path(GATHER) + query)
    assert answer.status_code == 400, answer.text
    assert "attempt" in answer.json()["error"]


@pytest.mark.parametrize("on", ["bogus", "GATHER", "start", "gather%00"])
def test_an_unknown_on_is_400(stack: Stack, on: str) -> None:
    answer = post(stack, event("redirect"), path=stack.flow_path(GATHER) + f"?on={on}")
    assert answer.status_code == 400, answer.text
    assert "unknown continuation" in answer.json()["error"]


def test_a_continuation_of_the_wrong_kind_is_404(stack: Stack) -> None:
    # The menu is a gather, not a transfer.
    answer = post(stack, event("transferComplete"),
                  path=stack.flow_path(GATHER) + "?on=transfer")
    assert answer.status_code == 404 and "is not a transfer" in answer.json()["error"]


@pytest.mark.parametrize("path", [
    "/univoice/bandwidth/flow/00000000000000000000000000000000/start",
    "{flow}/steps[99]", "{flow}/steps[1]?on=gather&attempt=0", "{flow}/steps[1]?on=bogus"],
    ids=["unknown flow", "unknown node", "bad attempt", "unknown on"])
def test_a_refused_continuation_reaches_no_handler(stack: Stack, path: str) -> None:
    url = path.replace("{flow}", f"/univoice/bandwidth/flow/{stack.flow}")
    answer = post(stack, event("gather", digits="1"), path=url)
    assert answer.status_code in (400, 404)
    refused(answer, answer.status_code, stack)


@pytest.mark.parametrize("authorization", WRONG)
def test_a_continuation_with_wrong_credentials_is_401(stack: Stack,
                                                      authorization: str) -> None:
    value = WRONG[authorization]
    headers = {} if value is None else {"authorization": value.encode()}
    answer = stack.client.post(stack.flow_path(GATHER) + "?on=gather&attempt=1",
                               content=json.dumps(event("gather", digits="1")).encode(),
                               headers={"content-type": JSON, **headers})
    refused(answer, 401, stack)


@pytest.mark.parametrize(("body", "status"), [
    (b"{not json", 400), (b"[" * 100_000, 400), (json.dumps({"digits": "1"}).encode(), 400),
    (XML, 415), (json.dumps(event(pad="x" * 300_000)).encode(), 413)],
    ids=["not JSON", "bomb", "no eventType", "XML", "300 KB"])
def test_a_continuation_with_a_bad_body_is_refused(stack: Stack, body: bytes,
                                                   status: int) -> None:
    content_type = "application/xml" if body is XML else JSON
    answer = post(stack, body, path=stack.flow_path(GATHER) + "?on=gather&attempt=1",
                  content_type=content_type)
    refused(answer, status, stack)


def test_an_unknown_provider_is_404(stack: Stack) -> None:
    answer = post(stack, event(), path="/univoice/nosuch/events")
    refused(answer, 404, stack, "nosuch")
    answer = post(stack, event(), path=f"/univoice/nosuch/flow/{stack.flow}/start")
    refused(answer, 404, stack, "nosuch")
