"""Webhook authentication under attack, over real HTTP where it matters.

- Every secret comparison is ``hmac.compare_digest``: with it replaced by a spy, each
  check (MessageBird JWT and legacy HMAC, MessageBird continuation tokens, Bird HMAC,
  Bandwidth Basic credentials) calls it with what the request carried, and its answer
  alone decides: a correct signature refused when it says False, a wrong one accepted
  when it says True (so no other, timing-leaking comparison stands behind it).
- Replays: a signed request delivered again, or signed outside the time window, is 401
  (MessageBird, Bird); Bandwidth signs nothing and relies on its credentials and the event
  store, which handles a redelivery once.
- Bodies over the cap are refused with 413 before anything reads them: by the declared
  length before the body is sent, and while a chunked body is still streaming; the
  provider's verification and parser are never called.

The per-provider refusals themselves (bad claims, wrong keys, malformed headers) are
unit-tested in tests/unit/test_{messagebird,bird,bandwidth}_events.py.
"""

from __future__ import annotations

import base64
import contextlib
import hmac
import itertools
import json
import socket
import time
from collections.abc import Callable, Iterator
from typing import Any

import httpx
import pytest

from tests.support.live_server import LiveServer
from univoice.flow import Flow
from univoice.hosting import flow_id
from univoice.provider import Provider
from univoice.webhooks import VoiceApp
from univoice.webhooks.app import MAX_BODY
from univoice.webhooks.request import WebhookRejected, WebhookRequest
from univoice_bird import events as bird_events
from univoice_messagebird import compile as mb_compile
from univoice_messagebird import events as mb_events

from ..fuzz.targets import (
    BIRD_SIGNING,
    BW_PASSWORD,
    BW_USER,
    EXAMPLES,
    MB_SIGNING,
    make_provider,
)

PROVIDERS = ("bandwidth", "messagebird", "bird")
JSON = {"content-type": "application/json"}
BODIES = {
    "bandwidth": {"eventType": "disconnect", "callId": "c-sec-1", "cause": "hangup",
                  "eventTime": "2026-01-01T00:00:05.000Z"},
    "messagebird": {"timestamp": "2026-01-01T00:00:05Z", "items": [{
        "type": "call", "event": "callUpdated",
        "payload": {"id": "mb-sec-1", "status": "ended", "legs": []}}]},
    "bird": {"id": "b-sec-1", "status": "completed", "direction": "outgoing"},
}


def signed(name: str, url: str, body: bytes, now: float | None = None) -> dict[str, str]:
    """The headers the provider would send with ``body`` to ``url``."""
    if name == "bandwidth":
        token = base64.b64encode(f"{BW_USER}:{BW_PASSWORD}".encode()).decode()
        return {**JSON, "authorization": f"Basic {token}"}
    if name == "messagebird":
        return {**JSON, **mb_events.sign(MB_SIGNING, url, body, now=now)}
    return {**JSON, **bird_events.sign(BIRD_SIGNING, url, body,
                                       timestamp=now if now is not None else None)}


def request(name: str, body: bytes, headers: dict[str, str], *, method: str = "POST",
            path: str | None = None, query: dict[str, str] | None = None) -> WebhookRequest:
    path = path or f"/univoice/{name}/events"
    url = f"https://voice.example.com{path}"
    return WebhookRequest(method=method, url=url, path=path, query=query or {},
                          headers={k.lower(): v for k, v in headers.items()}, body=body)


# Constant-time comparisons -------------------------------------------------------------------


class Spy:
    """``hmac.compare_digest`` replaced: notes its arguments, answers ``verdict`` (or the
    real answer when None)."""

    def __init__(self) -> None:
        self.calls: list[tuple[Any, Any]] = []
        self.verdict: bool | None = None
        self.real = hmac.compare_digest

    def __call__(self, a: Any, b: Any) -> bool:
        self.calls.append((a, b))
        return self.real(a, b) if self.verdict is None else self.verdict


@pytest.fixture
def spy(monkeypatch: pytest.MonkeyPatch) -> Spy:
    found = Spy()
    monkeypatch.setattr(hmac, "compare_digest", found)
    return found


def verdict(provider: Provider, hook: WebhookRequest) -> int:
    try:
        provider.verify_webhook(hook)
    except WebhookRejected as exc:
        return exc.status
    return 200


NONCE = itertools.count()


def body_of(name: str) -> bytes:
    """A fresh body each time: a replay guard must not mistake one case for another."""
    return json.dumps({**BODIES[name], "nonce": next(NONCE)}).encode()


def cases() -> Iterator[tuple[str, Callable[[bool], WebhookRequest]]]:
    """(name, make): ``make(True)`` a request signed right, ``make(False)`` one signed
    with the wrong key."""
    events_url = "https://voice.example.com/univoice/{}/events".format

    def mb_jwt(right: bool) -> WebhookRequest:
        body = body_of("messagebird")
        key = MB_SIGNING if right else "wrong-key"
        return request("messagebird", body,
                       {**JSON, **mb_events.sign(key, events_url("messagebird"), body)})

    def mb_legacy(right: bool) -> WebhookRequest:
        body = body_of("messagebird")
        key = MB_SIGNING if right else "wrong-key"
        return request("messagebird", body, {
            **JSON, **mb_events.sign_legacy(key, events_url("messagebird"), body)})

    def mb_token(right: bool) -> WebhookRequest:
        query = {"on": "gather", "attempt": "1"}
        token = mb_compile.url_token(MB_SIGNING if right else "wrong-key", "f", "steps[1]",
                                     query)
        return request("messagebird", b"", {}, method="GET",
                       path="/univoice/messagebird/flow/f/steps[1]",
                       query={**query, "token": token})

    def bird(right: bool) -> WebhookRequest:
        body = body_of("bird")
        key = BIRD_SIGNING if right else "wrong-key"
        return request("bird", body,
                       {**JSON, **bird_events.sign(key, events_url("bird"), body)})

    def bandwidth(right: bool) -> WebhookRequest:
        password = BW_PASSWORD if right else "wrong-password"
        token = base64.b64encode(f"{BW_USER}:{password}".encode()).decode()
        return request("bandwidth", body_of("bandwidth"),
                       {**JSON, "authorization": f"Basic {token}"})

    yield from (("messagebird JWT", mb_jwt), ("messagebird legacy HMAC", mb_legacy),
                ("messagebird continuation token", mb_token), ("bird HMAC", bird),
                ("bandwidth Basic", bandwidth))


CASES = dict(cases())


@pytest.mark.parametrize("case", CASES)
def test_each_check_compares_with_compare_digest_and_only_with_it(case: str,
                                                                   spy: Spy) -> None:
    make = CASES[case]
    provider = make_provider(case.split()[0])
    assert verdict(provider, make(True)) == 200
    assert spy.calls, "the check never called hmac.compare_digest"
    assert verdict(provider, make(False)) == 401
    spy.calls.clear()
    spy.verdict = False  # the comparison alone decides: a right signature is refused ...
    assert verdict(provider, make(True)) == 401
    assert spy.calls
    spy.verdict = True  # ... and a wrong one passes: nothing else compares the secret
    assert verdict(provider, make(False)) == 200


def test_bandwidth_compares_digests_of_equal_length(spy: Spy) -> None:
    """The credentials are hashed first, so the comparison's time does not depend on the
    length of what was sent (compare_digest is constant-time only for equal lengths)."""
    provider = make_provider("bandwidth")
    for password in ("x", "y" * 500):
        token = base64.b64encode(f"{BW_USER}:{password}".encode()).decode()
        verdict(provider, request("bandwidth", b"{}", {"authorization": f"Basic {token}"}))
    assert {(len(a), len(b)) for a, b in spy.calls} == {(32, 32)}


# Over real HTTP: replays, windows, size caps -----------------------------------------------


@pytest.fixture(scope="module")
def server() -> Iterator[tuple[str, VoiceApp, list[Any]]]:
    live = LiveServer(name="security-webhooks")
    flow = Flow.from_yaml(EXAMPLES / "support_ivr.yaml")
    app = VoiceApp(public_url=live.url, store="sqlite://:memory:",
                   providers=[make_provider(name) for name in PROVIDERS])
    app.continuations("bandwidth").save_flow(flow, flow_id(flow))
    seen: list[Any] = []
    app.on()(seen.append)
    live.start(app)
    try:
        yield live.url, app, seen
    finally:
        live.stop()
        app.store.close()


def post(url: str, name: str, body: bytes, headers: dict[str, str]) -> httpx.Response:
    return httpx.post(f"{url}/univoice/{name}/events", content=body, headers=headers,
                      timeout=30)


@pytest.mark.parametrize("name", ["messagebird", "bird"])
def test_a_signed_callback_delivered_again_is_a_401(
        name: str, server: tuple[str, VoiceApp, list[Any]]) -> None:
    url, _, _ = server
    body = json.dumps({**BODIES[name], "nonce": f"replay-{name}"}).encode()
    headers = signed(name, f"{url}/univoice/{name}/events", body)
    assert post(url, name, body, headers).status_code == 200
    again = post(url, name, body, headers)
    assert again.status_code == 401 and "replayed" in again.json()["error"]


@pytest.mark.parametrize("name", ["messagebird", "bird"])
@pytest.mark.parametrize("age", [-601.0, 601.0])
def test_a_callback_signed_outside_the_window_is_a_401(
        name: str, age: float, server: tuple[str, VoiceApp, list[Any]]) -> None:
    url, _, _ = server
    body = json.dumps({**BODIES[name], "nonce": f"old-{name}-{age}"}).encode()
    headers = signed(name, f"{url}/univoice/{name}/events", body, now=time.time() - age)
    answer = post(url, name, body, headers)
    assert answer.status_code == 401, answer.text


def test_a_legacy_messagebird_signature_outside_its_window_is_a_401(
        server: tuple[str, VoiceApp, list[Any]]) -> None:
    url, _, _ = server
    body = json.dumps({**BODIES["messagebird"], "nonce": "legacy-old"}).encode()
    headers = {**JSON, **mb_events.sign_legacy(
        MB_SIGNING, f"{url}/univoice/messagebird/events", body, now=time.time() - 301)}
    answer = post(url, "messagebird", body, headers)
    assert answer.status_code == 401 and "away from now" in answer.json()["error"]


def test_a_bandwidth_redelivery_is_handled_once(
        server: tuple[str, VoiceApp, list[Any]]) -> None:
    url, _, seen = server
    body = json.dumps({**BODIES["bandwidth"], "callId": "c-redelivered"}).encode()
    headers = signed("bandwidth", "", body)
    first, again = post(url, "bandwidth", body, headers), post(url, "bandwidth", body, headers)
    assert first.json()["handled"] == 1 and again.json()["duplicates"] == 1
    assert sum(1 for e in seen if e.call_id == "c-redelivered") == 1


def _raw_exchange(url: str, head: bytes, chunks: Iterator[bytes]) -> tuple[bytes, int]:
    """Send ``head`` then ``chunks`` until the server answers; (answer, bytes sent)."""
    host, port = url.removeprefix("http://").split(":")
    sent = 0
    with socket.create_connection((host, int(port)), timeout=30) as sock:
        sock.sendall(head)
        sock.settimeout(0.05)
        answer = b""
        for chunk in chunks:
            with contextlib.suppress(TimeoutError):
                answer += sock.recv(65536)
            if answer:
                break
            try:
                sock.sendall(chunk)
            except (BrokenPipeError, ConnectionResetError):
                break
            sent += len(chunk)
        sock.settimeout(30)
        while b"\r\n\r\n" not in answer:
            more = sock.recv(65536)
            if not more:
                break
            answer += more
    return answer, sent


@pytest.fixture
def untouched(server: tuple[str, VoiceApp, list[Any]],
              monkeypatch: pytest.MonkeyPatch) -> list[str]:
    """Notes every call to a provider's verification or parser (none may happen)."""
    _, app, _ = server
    calls: list[str] = []
    for name in PROVIDERS:
        provider = app.provider(name)
        for method in ("verify_webhook", "parse_events"):
            original = getattr(provider, method)

            def noted(hook: WebhookRequest, original: Any = original, name: str = name,
                      method: str = method) -> Any:
                calls.append(f"{name}.{method}")
                return original(hook)

            monkeypatch.setattr(provider, method, noted)
    return calls


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_declared_length_over_the_cap_is_413_before_the_body_is_sent(
        name: str, server: tuple[str, VoiceApp, list[Any]], untouched: list[str]) -> None:
    url, _, _ = server
    head = (f"POST /univoice/{name}/events HTTP/1.1\r\nHost: x\r\n"
            f"Content-Type: application/json\r\nContent-Length: {50 * 1024 * 1024}\r\n\r\n"
            ).encode()
    answer, sent = _raw_exchange(url, head, iter([b"{" * 65536] * 800))
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert sent < 50 * 1024 * 1024  # answered long before the body could have been read
    assert untouched == []


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_chunked_body_over_the_cap_is_413_while_it_streams(
        name: str, server: tuple[str, VoiceApp, list[Any]], untouched: list[str]) -> None:
    url, _, _ = server
    head = (f"POST /univoice/{name}/events HTTP/1.1\r\nHost: x\r\n"
            "Content-Type: application/json\r\nTransfer-Encoding: chunked\r\n\r\n").encode()
    piece = b"[" * 16384  # not JSON, unsigned: a 413, not a 400 or a 401, says which check ran
    chunk = f"{len(piece):x}\r\n".encode() + piece + b"\r\n"
    answer, sent = _raw_exchange(url, head, iter([chunk] * 2000))  # 32 MB if read whole
    assert answer.startswith(b"HTTP/1.1 413"), answer[:200]
    assert MAX_BODY < sent < 2000 * len(chunk) // 4
    assert untouched == []


@pytest.mark.parametrize("name", PROVIDERS)
def test_a_body_at_the_cap_reaches_the_checks(
        name: str, server: tuple[str, VoiceApp, list[Any]], untouched: list[str]) -> None:
    url, _, _ = server
    answer = post(url, name, b" " * MAX_BODY, JSON)  # unsigned: verification refuses it
    assert answer.status_code == 401
    assert untouched == [f"{name}.verify_webhook"]
