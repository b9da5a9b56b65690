"""MessageBird callbacks -> neutral events, and their signature verification (JWT, legacy)."""

from __future__ import annotations

import base64
import copy
import hashlib
import hmac
import json
import uuid
from datetime import UTC, datetime
from pathlib import Path
from typing import Any
from urllib.parse import parse_qsl, urlsplit

import pytest
from hypothesis import HealthCheck, given, settings
from hypothesis import strategies as st
from pydantic import SecretStr

from univoice.events import (
    BaseEvent,
    CallAnswered,
    CallCompleted,
    CallFailed,
    CallInitiated,
    CallRinging,
    TransferAnswered,
    TransferLegEnded,
    UnknownEvent,
    event_from_json,
)
from univoice.models import Direction, EndReason
from univoice.store.base import dump
from univoice.webhooks.request import WebhookRejected, WebhookRequest
from univoice_messagebird.events import (
    JWT_HEADER,
    LEGACY_SIGNATURE_HEADER,
    LEGACY_TIMESTAMP_HEADER,
    ReplayGuard,
    parse,
    sign,
    sign_legacy,
    verify,
)
from univoice_messagebird.settings import MessageBirdSettings

SAMPLES = (Path(__file__).resolve().parents[3] / "shared" / "reference" / "samples"
           / "messagebird")
BASE = "https://voice.example.com"
PATH = "/univoice/messagebird/events"
URL = BASE + PATH
KEY = "mb-S1gning/key+with=odd"  # "/", "+", "=" so its encoded forms differ
CONFIGURED = MessageBirdSettings(signing_key=KEY)
NOW = 1_700_000_000.0
CALL = "a3369d39-52d6-4b4d-b852-05a72b45c589"


# Helpers --------------------------------------------------------------------------------


def sample(name: str) -> dict[str, Any]:
    data: dict[str, Any] = json.loads((SAMPLES / name).read_text("utf-8"))
    return data


def request(body: bytes | dict[str, Any] | list[Any] = b"",
            headers: dict[str, str] | None = None, *, url: str = URL, now: float = NOW,
            method: str = "POST") -> WebhookRequest:
    """A callback as the webhook app hands it over (header names lower-case)."""
    raw = body if isinstance(body, bytes) else json.dumps(body).encode()
    parts = urlsplit(url)
    return WebhookRequest(
        method=method, url=url, path=parts.path, query=dict(parse_qsl(parts.query)),
        headers={"content-type": "application/json",
                 **{k.lower(): v for k, v in (headers or {}).items()}},
        body=raw, received_at=now)


def b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def token(header: dict[str, Any] | str, claims: dict[str, Any] | str, key: str = KEY,
          digest: str | None = "sha256") -> str:
    """A JWT built by hand, independently of ``sign`` (to forge any header or claim)."""
    head = header if isinstance(header, str) else b64(json.dumps(header).encode())
    body = claims if isinstance(claims, str) else b64(json.dumps(claims).encode())
    signing_input = f"{head}.{body}"
    mac = b"" if digest is None else hmac.new(key.encode(), signing_input.encode(),
                                              digest).digest()
    return f"{signing_input}.{b64(mac)}"


def claims_for(body: bytes, url: str = URL, now: float = NOW, **changes: Any
               ) -> dict[str, Any]:
    claims: dict[str, Any] = {
        "iss": "MessageBird", "nbf": int(now), "exp": int(now) + 60, "jti": str(uuid.uuid4()),
        "url_hash": hashlib.sha256(url.encode()).hexdigest()}
    if body:
        claims["payload_hash"] = hashlib.sha256(body).hexdigest()
    for name, value in changes.items():
        if value is None:
            claims.pop(name, None)
        else:
            claims[name] = value
    return claims


BODY = (SAMPLES / "seed_webhook_callUpdated.json").read_bytes()
HS256 = {"alg": "HS256", "typ": "JWT"}


def with_jwt(jwt: str, body: bytes = BODY, **kwargs: Any) -> WebhookRequest:
    return request(body, {JWT_HEADER: jwt}, **kwargs)


def refused(req: WebhookRequest, settings_: MessageBirdSettings = CONFIGURED,
            status: int = 401) -> str:
    with pytest.raises(WebhookRejected) as info:
        verify(settings_, req)
    assert info.value.status == status
    shown = f"{info.value.reason} {info.value} {info.value!r}"
    assert "\n" not in info.value.reason
    for secret in (KEY, KEY[:-1], base64.b64encode(KEY.encode()).decode(), "S1gning"):
        assert secret not in shown
    return info.value.reason


def outcome(req: WebhookRequest) -> list[BaseEvent] | WebhookRejected:
    """The events, or the rejection: any other exception fails the test."""
    try:
        return parse(req)
    except WebhookRejected as exc:
        return exc


def stored(event: BaseEvent) -> None:
    """What the webhook app hands the store must be storable and rebuild the event."""
    data = event.model_dump(mode="json", by_alias=True)
    dump(data, "event").encode()
    assert event_from_json(data) == event


# JWT: accepted --------------------------------------------------------------------------


@pytest.mark.parametrize("alg", ["HS256", "HS384", "HS512"])
def test_sign_helper_output_is_accepted(alg: str) -> None:
    headers = sign(KEY, URL, BODY, now=NOW, alg=alg)
    assert set(headers) == {JWT_HEADER}
    verify(CONFIGURED, request(BODY, headers))


@pytest.mark.parametrize(("alg", "digest"), [("HS256", "sha256"), ("HS384", "sha384"),
                                             ("HS512", "sha512")])
def test_hand_built_tokens_are_accepted(alg: str, digest: str) -> None:
    jwt = token({"alg": alg, "typ": "JWT"}, claims_for(BODY), digest=digest)
    verify(CONFIGURED, with_jwt(jwt))


def test_sign_accepts_a_secret_str_and_rejects_other_algorithms() -> None:
    verify(CONFIGURED, request(BODY, sign(SecretStr(KEY), URL, BODY, now=NOW)))
    with pytest.raises(ValueError, match="HS256"):
        sign(KEY, URL, BODY, alg="none")


def test_empty_body_has_no_payload_hash_and_the_query_is_signed() -> None:
    url = f"{URL}?callID=c-1&variables=%7B%22digits%22%3A%221%22%7D"
    headers = sign(KEY, url, b"", now=NOW)
    payload = json.loads(base64.urlsafe_b64decode(
        headers[JWT_HEADER].split(".")[1] + "=="))
    assert "payload_hash" not in payload
    verify(CONFIGURED, request(b"", headers, url=url, method="GET"))
    headers = sign(KEY, url, b"", now=NOW)
    refused(request(b"", headers, url=url.replace("%221%22", "%222%22"), method="GET"))


def test_clock_skew_of_one_second_is_allowed() -> None:
    jwt = token(HS256, claims_for(BODY, nbf=int(NOW) + 1, exp=int(NOW) + 1))
    verify(CONFIGURED, with_jwt(jwt))  # nbf 1 s ahead
    jwt = token(HS256, claims_for(BODY, nbf=int(NOW) - 61, exp=int(NOW) - 1))
    verify(CONFIGURED, with_jwt(jwt))  # exp 1 s behind


def test_nbf_is_optional_and_an_older_iat_is_honoured() -> None:
    verify(CONFIGURED, with_jwt(token(HS256, claims_for(BODY, nbf=None))))
    verify(CONFIGURED, with_jwt(token(HS256, claims_for(BODY, nbf=None, iat=int(NOW)))))
    reason = refused(with_jwt(token(HS256, claims_for(BODY, nbf=None, iat=int(NOW) + 5))))
    assert "iat" in reason


def test_padded_segments_and_surrounding_spaces_are_tolerated() -> None:
    jwt = token(HS256, claims_for(BODY))
    head, claims, mac = jwt.split(".")
    padded = f"{head}.{claims}.{mac}" + "=" * (-len(mac) % 4)
    verify(CONFIGURED, with_jwt(f"  {padded} "))


# MessageBird's own reference tokens (messagebird/go-rest-api signature_jwt/testdata/
# reference.json: the SDK's known-answer vectors), so the check is not only consistent
# with our own signer. Received at their "timestamp", 2021-07-05T12:00:00+02:00.
GO_SECRET = "36efdd1aace2e26cd490f0d951138253bef2f7c6d34d18981da781555cc4cebb"
GO_AT = 1625479200.0
GO_VECTORS = [
    ("https://example.com/path?bar=1&foo=2", b"Hello, World!", True,
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIw"
     "MCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI5M2U1NTAwNi1hMGU4LTQ1MjYtYTE5MC1mYTVmZjAwZWExMTYi"
     "LCJ1cmxfaGFzaCI6IjQxZjA1ZjBkZGQwYTIyYWIyMDlhYzQ2ZjQ3YzQ1NzJkOWNlZmEyNTdlZDc0YjI0MDA0"
     "YmFlNzUzZWNlNmMyNjAiLCJwYXlsb2FkX2hhc2giOiJkZmZkNjAyMWJiMmJkNWIwYWY2NzYyOTA4MDllYzNh"
     "NTMxOTFkZDgxYzdmNzBhNGIyODY4OGEzNjIxODI5ODZmIn0._H--TOuYFLpeEH39-rg5E3IHVkjHozBcaKVWP"
     "RC5m9I"),
    ("https://example.com/", b"", True,
     "eyJhbGciOiJIUzUxMiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIw"
     "MCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiI1OWEyNDRkYy1lOWFkLTRlMjMtOTc3OC0zNzFmYWEyMzhmNzIi"
     "LCJ1cmxfaGFzaCI6IjBmMTE1ZGIwNjJiN2MwZGQwMzBiMTY4NzhjOTlkZWE1YzM1NGI0OWRjMzdiMzhlYjg4"
     "NDYxNzljNzc4M2U5ZDcifQ.rd6r0iMyNGnVPCwurETphE3Y8rpAyvvnUK0S8WvGUkt2E1QSRAZ7NZJZBHw1Y_"
     "Wb5W-sK9HJr_PRL2vz4jRT3Q"),
    # Signed for ?bar=1&foo=2 in the other order: the URL is hashed as sent.
    ("https://example.com/path?foo=1&bar=2", b"", False,
     "eyJhbGciOiJIUzI1NiIsInR5cCI6IkpXVCJ9.eyJpc3MiOiJNZXNzYWdlQmlyZCIsIm5iZiI6MTYyNTQ3OTIw"
     "MCwiZXhwIjoxNjI1NDc5MjYwLCJqdGkiOiJhNzVjOTA5Ni1lODIzLTQ0MmItODVmMi03ZDNjOWQ5YjcyNmIi"
     "LCJ1cmxfaGFzaCI6IjZhMDIyZDgzNGMxODMzMGJhYWQ4YTJiZDYxMzUxNzNlZDIxNjEwYTQ1NDUxNmJlMGRm"
     "M2YxY2MwMTUxNjEwZWEifQ.z6Sw1XQIM0wuEQGBhXBdawDIIrtMg2XnmA_bpDq53pE"),
]


@pytest.mark.parametrize(("url", "body", "valid", "jwt"), GO_VECTORS)
def test_messagebird_reference_tokens(url: str, body: bytes, valid: bool, jwt: str) -> None:
    go = MessageBirdSettings(signing_key=GO_SECRET)
    req = request(body, {JWT_HEADER: jwt}, url=url, now=GO_AT + 30)
    if valid:
        verify(go, req)
        assert "replayed" in refused(req, go)  # the same token again
    else:
        assert "url_hash" in refused(req, go)
    assert "expired" in refused(request(body, {JWT_HEADER: jwt}, url=url, now=GO_AT + 62),
                                go)


# JWT: refused ---------------------------------------------------------------------------


def test_alg_none_is_refused_even_without_a_signature() -> None:
    for alg in ("none", "None", "NONE"):
        unsigned = token({"alg": alg, "typ": "JWT"}, claims_for(BODY), digest=None)
        assert "algorithm" in refused(with_jwt(unsigned))
        assert unsigned.endswith(".")


@pytest.mark.parametrize("header", [
    {"alg": "HS1"}, {"alg": "RS256"}, {"alg": "ES256"}, {"alg": "PS512"}, {"alg": "hs256"},
    {"alg": "HS256 "}, {"alg": ""}, {"alg": None}, {"alg": ["HS256"]}, {"typ": "JWT"}, {}])
def test_algorithms_outside_the_three_are_refused(header: dict[str, Any]) -> None:
    # Even when the MAC itself is a valid HS256 one.
    assert "algorithm" in refused(with_jwt(token(header, claims_for(BODY))))


def test_crit_header_is_refused() -> None:
    jwt = token({**HS256, "crit": ["exp"]}, claims_for(BODY))
    assert "crit" in refused(with_jwt(jwt))


def test_wrong_key_is_refused() -> None:
    for key in ("another-key", KEY + "x", KEY[:-1], ""):
        reason = refused(with_jwt(token(HS256, claims_for(BODY), key=key)))
        assert "signature does not match" in reason
    # HS384 MAC under an HS256 label (and the reverse) does not pass either.
    refused(with_jwt(token(HS256, claims_for(BODY), digest="sha384")))
    refused(with_jwt(token({"alg": "HS384"}, claims_for(BODY), digest="sha256")))


def test_tampered_body_is_refused() -> None:
    jwt = token(HS256, claims_for(BODY))
    assert "payload_hash" in refused(with_jwt(jwt, body=BODY.replace(b"ongoing", b"ended")))
    assert "payload_hash" in refused(with_jwt(jwt, body=BODY + b" "))
    assert "payload_hash" in refused(with_jwt(jwt, body=b""))


@pytest.mark.parametrize("url", [
    "http://voice.example.com/univoice/messagebird/events",
    "https://evil.example.com/univoice/messagebird/events",
    "https://voice.example.com/univoice/messagebird/events?x=1",
    "https://voice.example.com/univoice/messagebird/events/",
    "https://voice.example.com/univoice/bandwidth/events"])
def test_tampered_url_is_refused(url: str) -> None:
    jwt = token(HS256, claims_for(BODY))
    assert "url_hash" in refused(with_jwt(jwt, url=url))


def test_claims_tampered_after_signing_are_refused() -> None:
    jwt = token(HS256, claims_for(BODY, exp=int(NOW) - 100))
    head, _, mac = jwt.split(".")
    forged = f"{head}.{b64(json.dumps(claims_for(BODY)).encode())}.{mac}"
    assert "signature does not match" in refused(with_jwt(forged))


@pytest.mark.parametrize(("changes", "word"), [
    ({"exp": int(NOW) - 2}, "expired"),
    ({"exp": int(NOW) - 3600, "nbf": int(NOW) - 3660}, "expired"),
    ({"nbf": int(NOW) + 2, "exp": int(NOW) + 62}, "not valid yet"),
    ({"exp": None}, "exp is missing"),
    ({"exp": "1700000060"}, "exp is not a number"),
    ({"exp": True}, "exp is not a number"),
    ({"exp": 10**400}, "exp is not a number"),
    ({"nbf": "soon"}, "nbf is not a number"),
    ({"iss": None}, "issuer"),
    ({"iss": "messagebird"}, "issuer"),
    ({"iss": "Bird"}, "issuer"),
    ({"iss": ["MessageBird"]}, "issuer"),
    ({"jti": None}, "jti"),
    ({"jti": ""}, "jti"),
    ({"jti": 42}, "jti"),
    ({"url_hash": None}, "url_hash"),
    ({"url_hash": hashlib.sha256(b"https://other.example/").hexdigest()}, "url_hash"),
    ({"url_hash": 7}, "url_hash"),
    ({"payload_hash": None}, "payload_hash"),
    ({"payload_hash": ""}, "payload_hash"),
    ({"payload_hash": hashlib.sha256(b"{}").hexdigest()}, "payload_hash"),
    ({"payload_hash": "é" * 64}, "payload_hash"),
])
def test_bad_claims_are_refused(changes: dict[str, Any], word: str) -> None:
    assert word in refused(with_jwt(token(HS256, claims_for(BODY, **changes))))


def test_payload_hash_on_an_empty_body_is_refused() -> None:
    claims = claims_for(b"", payload_hash=hashlib.sha256(b"").hexdigest())
    assert "no body" in refused(with_jwt(token(HS256, claims), body=b""))


def test_uppercase_hex_hashes_are_accepted() -> None:
    claims = claims_for(BODY)
    claims["url_hash"] = claims["url_hash"].upper()
    claims["payload_hash"] = claims["payload_hash"].upper()
    verify(CONFIGURED, with_jwt(token(HS256, claims)))


def test_replayed_jti_is_refused() -> None:
    jti = f"replay-{uuid.uuid4()}"
    headers = sign(KEY, URL, BODY, now=NOW, jti=jti)
    verify(CONFIGURED, request(BODY, headers))
    assert "replayed" in refused(request(BODY, headers))
    # The same jti on another, correctly signed, request is a replay too.
    other = json.dumps(sample("seed_webhook_callUpdated.json")).encode()
    assert "replayed" in refused(request(other, sign(KEY, URL, other, now=NOW, jti=jti)))
    # A refused token does not use its jti up.
    fresh = f"fresh-{uuid.uuid4()}"
    refused(request(BODY, sign("wrong-key", URL, BODY, now=NOW, jti=fresh)))
    verify(CONFIGURED, request(BODY, sign(KEY, URL, BODY, now=NOW, jti=fresh)))


@pytest.mark.parametrize("value", [
    "", "   ", "abc", "a.b", "a.b.c.d", "Bearer " + "x.y.z", "....",
    b64(b'{"alg":"HS256"}') + ".%%%." + b64(b"sig"),
    b64(b"not json") + "." + b64(b"{}") + "." + b64(b"sig"),
    b64(b'["HS256"]') + "." + b64(b"{}") + "." + b64(b"sig"),
    b64(b'{"alg":"HS256","x":NaN}') + "." + b64(b"{}") + "." + b64(b"sig"),
    b64(b"[" * 5000 + b"]" * 5000) + "." + b64(b"{}") + "." + b64(b"sig"),
    "é.é.é", "x" * 10_000])
def test_malformed_tokens_are_refused(value: str) -> None:
    refused(with_jwt(value))


def test_claims_that_are_not_an_object_are_refused() -> None:
    for claims in ("[]", "null", "not json"):
        jwt = token(HS256, b64(claims.encode()))
        assert "claims" in refused(with_jwt(jwt))


def test_missing_signature_header_is_refused() -> None:
    assert JWT_HEADER in refused(request(BODY))


@pytest.mark.parametrize("key", [None, "", SecretStr("")])
def test_no_signing_key_refuses_everything(key: str | SecretStr | None) -> None:
    unconfigured = MessageBirdSettings(signing_key=key)
    for req in (request(BODY, sign(KEY, URL, BODY, now=NOW)), request(BODY),
                request(BODY, sign_legacy(KEY, URL, BODY, now=NOW))):
        assert "messagebird.signing_key" in refused(req, unconfigured)


# Legacy scheme --------------------------------------------------------------------------


def legacy_mac(key: str, stamp: str, query: str, body: bytes) -> str:
    """Written out independently of the module: what the legacy header must hold."""
    message = f"{stamp}\n{query}\n".encode() + hashlib.sha256(body).digest()
    return base64.b64encode(hmac.new(key.encode(), message, hashlib.sha256).digest()).decode()


def test_legacy_signature_is_accepted() -> None:
    url = f"{URL}?z=last&a=first+word&m=%C3%A9&a=again"
    stamp = str(int(NOW))
    # Keys sorted, a key's values in their order, re-encoded (space as +, é as %C3%A9).
    mac = legacy_mac(KEY, stamp, "a=first+word&a=again&m=%C3%A9&z=last", BODY)
    headers = {LEGACY_TIMESTAMP_HEADER: stamp, LEGACY_SIGNATURE_HEADER: mac}
    assert sign_legacy(KEY, url, BODY, now=NOW) == headers
    verify(CONFIGURED, request(BODY, headers, url=url))
    assert "replayed" in refused(request(BODY, headers, url=url))


def test_legacy_signature_with_no_query_and_no_body() -> None:
    headers = {LEGACY_TIMESTAMP_HEADER: str(int(NOW) + 1),
               LEGACY_SIGNATURE_HEADER: legacy_mac(KEY, str(int(NOW) + 1), "", b"")}
    verify(CONFIGURED, request(b"", headers, method="GET"))


@pytest.mark.parametrize(("change", "word"), [
    ({"now": NOW + 301}, "away from now"),
    ({"now": NOW - 301}, "away from now"),
    ({"body": BODY + b" "}, "does not match"),
    ({"url": URL + "?extra=1"}, "does not match"),
    ({"key": "another-key"}, "does not match"),
    ({"stamp": "17e8"}, "Unix seconds"),
    ({"stamp": "-1700000000"}, "Unix seconds"),
    ({"stamp": ""}, "needs both"),
    ({"signature": ""}, "needs both"),
    ({"signature": "not base64!"}, "not base64"),
    ({"signature": "é"}, "not base64"),
])
def test_legacy_signature_refusals(change: dict[str, Any], word: str) -> None:
    stamp = change.get("stamp", str(int(NOW)))
    signature = change.get("signature", legacy_mac(change.get("key", KEY), stamp, "", BODY))
    headers = {LEGACY_TIMESTAMP_HEADER: stamp, LEGACY_SIGNATURE_HEADER: signature}
    req = request(change.get("body", BODY), headers, url=change.get("url", URL),
                  now=change.get("now", NOW + 10))
    assert word in refused(req)


def test_legacy_needs_both_headers() -> None:
    headers = sign_legacy(KEY, URL, BODY, now=NOW)
    for name in headers:
        assert "needs both" in refused(request(BODY, {name: headers[name]}))


def test_legacy_is_ignored_when_a_jwt_header_is_present() -> None:
    legacy = sign_legacy(KEY, URL, BODY, now=NOW)
    bad_jwt = token(HS256, claims_for(BODY), key="wrong")
    assert "signature does not match" in refused(
        request(BODY, {**legacy, JWT_HEADER: bad_jwt}))
    assert "empty" in refused(request(BODY, {**legacy, JWT_HEADER: ""}))


# The replay memory ----------------------------------------------------------------------


def test_replay_guard_forgets_expired_keys_and_stays_bounded() -> None:
    guard = ReplayGuard(size=3)
    assert guard.first_time("a", until=100, now=0)
    assert not guard.first_time("a", until=100, now=50)
    assert guard.first_time("b", until=10, now=0)
    assert guard.first_time("c", until=200, now=0)
    assert guard.first_time("d", until=300, now=0)  # full: "b" (soonest to expire) goes
    assert len(guard) == 3
    assert guard.first_time("b", until=10, now=0)
    assert not guard.first_time("d", until=300, now=0)
    assert guard.first_time("a", until=400, now=101)  # "a" expired at 100
    for index in range(1000):
        guard.first_time(f"k{index}", until=1000 + index, now=102)
    assert len(guard) == 3


# Parsing: the sample --------------------------------------------------------------------


def snapshot(call: dict[str, Any], *, timestamp: str = "2017-08-24T09:44:37Z",
             event: str = "callUpdated") -> dict[str, Any]:
    return {"timestamp": timestamp, "items": [{"type": "call", "event": event,
                                               "payload": call}]}


def events_of(body: dict[str, Any] | list[Any]) -> list[BaseEvent]:
    events = parse(request(body))
    for event in events:
        assert event.provider == "messagebird"
        stored(event)
    return events


def test_the_sample_is_an_inbound_call_initiated_and_answered() -> None:
    body = sample("seed_webhook_callUpdated.json")
    initiated, answered = events_of(body)
    assert isinstance(initiated, CallInitiated) and isinstance(answered, CallAnswered)
    assert initiated.direction is Direction.INBOUND
    assert (initiated.from_, initiated.to) == ("+31612345678", "+31123456788")
    at = datetime(2017, 8, 24, 9, 44, 37, tzinfo=UTC)
    for event in (initiated, answered):
        assert event.call_id == CALL
        assert event.occurred_at == at
        assert event.raw == body  # one item: its envelope is the callback itself
        assert event.id.startswith("messagebird:sha256:")
    assert initiated.id != answered.id
    assert parse(request(body)) == [initiated, answered]  # a redelivery: the same ids


def test_sample_through_a_signed_request() -> None:
    req = request(BODY, sign(KEY, URL, BODY, now=NOW))
    verify(CONFIGURED, req)
    assert [type(e) for e in parse(req)] == [CallInitiated, CallAnswered]


# Parsing: a call's lifecycle ------------------------------------------------------------

OUT = "f1aa71c0-8f2a-4fe8-b5ef-9a330454ef58"


def outbound(status: str, leg_status: str | None, updated: str, **leg: Any
             ) -> dict[str, Any]:
    call: dict[str, Any] = {
        "id": OUT, "status": status, "source": "31644556677", "destination": "31612345678",
        "createdAt": "2017-02-16T10:52:00Z", "updatedAt": updated, "endedAt": None,
        "legs": []}
    if leg_status is not None:
        call["legs"].append({
            "id": "d4f07ab3-b17c-44a8-bcef-2b351311c28f", "callId": OUT,
            "source": "31644556677", "destination": "31612345678", "status": leg_status,
            "direction": "outgoing", "createdAt": "2017-02-16T10:52:00Z",
            "updatedAt": updated, "answeredAt": None, "endedAt": None, **leg})
    if status in ("ended", "failed", "busy", "no_answer"):
        call["endedAt"] = updated
    return snapshot(call, timestamp=updated)


LIFECYCLE = [
    outbound("queued", None, "2017-02-16T10:52:00Z"),
    outbound("starting", "starting", "2017-02-16T10:52:01Z"),
    outbound("ongoing", "ringing", "2017-02-16T10:52:02Z"),
    outbound("ongoing", "ongoing", "2017-02-16T10:52:10Z",
             answeredAt="2017-02-16T10:52:10Z"),
    outbound("ongoing", "ongoing", "2017-02-16T10:52:20Z",  # an update that changes nothing
             answeredAt="2017-02-16T10:52:10Z"),
    outbound("ended", "hangup", "2017-02-16T10:53:00Z",
             answeredAt="2017-02-16T10:52:10Z", endedAt="2017-02-16T10:53:00Z", duration=50),
]


def handled_once(snapshots: list[dict[str, Any]]) -> list[BaseEvent]:
    """What handlers see: each id once (the event store's de-duplication)."""
    seen: dict[str, BaseEvent] = {}
    for body in snapshots:
        for event in events_of(body):
            seen.setdefault(event.id, event)
    return list(seen.values())


def test_each_stage_of_a_call_is_handled_once() -> None:
    events = handled_once(LIFECYCLE + LIFECYCLE[::-1])  # and every snapshot redelivered
    assert [type(e) for e in events] == [CallInitiated, CallRinging, CallAnswered,
                                         CallCompleted]
    initiated, ringing, answered, completed = events
    assert isinstance(initiated, CallInitiated) and isinstance(completed, CallCompleted)
    assert initiated.direction is Direction.OUTBOUND
    assert (initiated.from_, initiated.to) == ("+31644556677", "+31612345678")
    assert initiated.occurred_at == datetime(2017, 2, 16, 10, 52, tzinfo=UTC)
    assert ringing.occurred_at == datetime(2017, 2, 16, 10, 52, 2, tzinfo=UTC)
    assert answered.occurred_at == datetime(2017, 2, 16, 10, 52, 10, tzinfo=UTC)
    assert (completed.end_reason, completed.end_reason_raw, completed.duration) == (
        EndReason.HANGUP, "hangup", 50.0)
    assert completed.occurred_at == datetime(2017, 2, 16, 10, 53, tzinfo=UTC)
    assert all(e.call_id == OUT for e in events)


def test_a_stage_is_not_lost_when_its_snapshot_was_missed() -> None:
    events = events_of(LIFECYCLE[-1])  # only the final snapshot arrived
    assert [type(e) for e in events] == [CallInitiated, CallAnswered, CallCompleted]
    whole = handled_once(LIFECYCLE)
    assert {e.id for e in events} <= {e.id for e in whole}


def test_distinct_calls_have_distinct_ids() -> None:
    other = copy.deepcopy(LIFECYCLE[-1])
    other["items"][0]["payload"]["id"] = "another-call"
    ids = {e.id for e in events_of(LIFECYCLE[-1])}
    assert ids.isdisjoint(e.id for e in events_of(other))


@pytest.mark.parametrize(("call_status", "leg_status", "kind", "reason", "duration"), [
    ("ended", "hangup", CallCompleted, EndReason.HANGUP, 6.0),
    ("ended", "busy", CallCompleted, EndReason.BUSY, 0.0),
    ("ended", "no_answer", CallCompleted, EndReason.NO_ANSWER, 0.0),
    ("ended", "no-answer", CallCompleted, EndReason.NO_ANSWER, 0.0),
    ("ended", "failed", CallFailed, None, None),
    ("no_answer", "no_answer", CallCompleted, EndReason.NO_ANSWER, 0.0),
    ("busy", "hangup", CallCompleted, EndReason.BUSY, 0.0),
    ("failed", None, CallFailed, None, None),
    ("ended", "something-new", CallCompleted, EndReason.UNKNOWN, 6.0),
    ("ENDED", "HANGUP", CallCompleted, EndReason.HANGUP, 6.0),
])
def test_end_reasons(call_status: str, leg_status: str | None, kind: type[BaseEvent],
                     reason: EndReason | None, duration: float | None) -> None:
    times = {"answeredAt": "2019-01-10T16:13:24Z", "endedAt": "2019-01-10T16:13:30Z"}
    if leg_status in ("busy", "no_answer", "no-answer", "failed"):
        times = {"endedAt": "2019-01-10T16:13:30Z"}
    body = outbound(call_status, leg_status, "2019-01-10T16:13:54Z", **times)
    end = events_of(body)[-1]
    assert type(end) is kind
    if isinstance(end, CallCompleted):
        assert (end.end_reason, end.duration) == (reason, duration)
        assert end.end_reason_raw in (leg_status, call_status)  # as MessageBird wrote it
    else:
        assert isinstance(end, CallFailed) and end.reason == "failed"
    unanswered = leg_status in ("busy", "no_answer", "no-answer", "failed", None)
    assert any(isinstance(e, CallAnswered) for e in events_of(body)) is not unanswered


def test_rest_list_calls_as_callbacks() -> None:
    """The call objects of GET /calls (no legs): the call status alone says the end."""
    no_answer, ended = sample("py_calls_list_paginated.json")["data"]
    first = events_of(snapshot(no_answer))
    expected: list[type[BaseEvent]] = [CallInitiated, CallCompleted]
    assert [type(e) for e in first] == expected
    initiated, end = first
    assert isinstance(initiated, CallInitiated) and isinstance(end, CallCompleted)
    assert initiated.direction is Direction.UNKNOWN
    assert (initiated.from_, initiated.to) == ("+16479311111", "+1416555555")
    assert (end.end_reason, end.end_reason_raw, end.duration) == (
        EndReason.NO_ANSWER, "no_answer", 0.0)
    end = events_of(snapshot(ended))[-1]
    assert isinstance(end, CallCompleted)
    assert (end.end_reason, end.end_reason_raw, end.duration) == (
        EndReason.UNKNOWN, "ended", None)


def test_a_leg_that_ends_before_it_is_answered_has_no_duration() -> None:
    """The documented leg object (samples INDEX): endedAt earlier than answeredAt."""
    leg = sample("seed_leg_object.json")
    call = {"id": leg["callId"], "status": "ended", "legs": [leg],
            "createdAt": leg["createdAt"], "updatedAt": leg["updatedAt"]}
    end = events_of(snapshot(call))[-1]
    assert isinstance(end, CallCompleted)
    assert (end.end_reason, end.duration) == (EndReason.HANGUP, None)
    # ... unless the leg says how long it was.
    end = events_of(snapshot({**call, "legs": [{**leg, "duration": "7"}]}))[-1]
    assert isinstance(end, CallCompleted) and end.duration == 7.0


def test_the_java_leg_fixture_gives_its_talk_time() -> None:
    leg = sample("java_leg_get.json")["data"][0]
    call = {"id": leg["callId"], "status": "ended", "legs": [leg]}
    events = events_of(snapshot(call))
    initiated, answered, end = events
    assert isinstance(initiated, CallInitiated) and isinstance(end, CallCompleted)
    assert (initiated.from_, initiated.to) == ("Heaven", "+31612345678")  # a name stays
    assert answered.occurred_at == datetime(2019, 1, 10, 16, 13, 24, tzinfo=UTC)
    assert end.duration == 6.0


def test_inbound_call_with_a_transfer_leg() -> None:
    base = sample("seed_webhook_callUpdated.json")
    call = base["items"][0]["payload"]
    transfer = {"id": "leg-2", "callId": CALL, "source": "31123456788",
                "destination": "31201234567", "status": "ringing", "direction": "outgoing",
                "createdAt": "2017-08-24T09:45:00Z", "updatedAt": "2017-08-24T09:45:00Z",
                "answeredAt": None, "endedAt": None}
    # The transfer leg listed first: the incoming leg is still the call's own.
    ringing = snapshot({**call, "legs": [transfer, *call["legs"]]})
    answered = snapshot({**call, "legs": [
        *call["legs"], {**transfer, "status": "ongoing", "answeredAt": "2017-08-24T09:45:05Z"}]})
    ended = snapshot({**call, "status": "ended", "endedAt": "2017-08-24T09:46:00Z", "legs": [
        {**call["legs"][0], "status": "hangup", "endedAt": "2017-08-24T09:46:00Z"},
        {**transfer, "status": "hangup", "answeredAt": "2017-08-24T09:45:05Z",
         "endedAt": "2017-08-24T09:46:00Z"}]})
    events = handled_once([ringing, answered, ended])
    assert [type(e) for e in events] == [CallInitiated, CallAnswered, TransferAnswered,
                                         TransferLegEnded, CallCompleted]
    initiated, _, transfer_answered, leg_ended, end = events
    assert isinstance(initiated, CallInitiated) and initiated.direction is Direction.INBOUND
    assert initiated.from_ == "+31612345678"
    assert isinstance(transfer_answered, TransferAnswered)
    assert transfer_answered.target == "+31201234567"
    assert isinstance(leg_ended, TransferLegEnded)
    assert (leg_ended.leg_id, leg_ended.target, leg_ended.cause, leg_ended.call_id) == (
        "leg-2", "+31201234567", "hangup", CALL)
    assert isinstance(end, CallCompleted) and end.end_reason is EndReason.HANGUP


def test_a_transfer_leg_that_was_not_answered() -> None:
    call = {"id": "c", "status": "ongoing", "legs": [
        {"id": "in", "status": "ongoing", "direction": "incoming"},
        {"id": "out", "status": "no_answer", "direction": "outgoing",
         "destination": "31201234567"}]}
    events = events_of(snapshot(call))
    assert [type(e) for e in events] == [CallInitiated, CallAnswered, TransferLegEnded]
    assert isinstance(events[-1], TransferLegEnded) and events[-1].cause == "no_answer"


def test_call_created_is_read_like_call_updated() -> None:
    events = events_of(snapshot(LIFECYCLE[0]["items"][0]["payload"], event="callCreated"))
    assert [type(e) for e in events] == [CallInitiated]
    assert events[0].id == events_of(LIFECYCLE[0])[0].id


def test_several_items_in_one_callback() -> None:
    body = {"timestamp": "2017-02-16T10:53:00Z", "items": [
        LIFECYCLE[3]["items"][0], LIFECYCLE[5]["items"][0], LIFECYCLE[5]["items"][0],
        sample("seed_webhook_callUpdated.json")["items"][0]]}
    events = events_of(body)
    assert [type(e) for e in events] == [CallInitiated, CallAnswered, CallCompleted,
                                         CallInitiated, CallAnswered]
    assert len({e.id for e in events}) == 5
    assert events[2].raw == {"timestamp": "2017-02-16T10:53:00Z",
                             "items": [LIFECYCLE[5]["items"][0]]}


# Parsing: unknown things ----------------------------------------------------------------


@pytest.mark.parametrize(("item", "provider_type"), [
    ({"type": "leg", "event": "legUpdated", "payload": {"id": "l"}}, "leg.legUpdated"),
    ({"type": "call", "event": "callDeleted", "payload": {"id": CALL}}, "call.callDeleted"),
    ({"type": "recording", "payload": {}}, "recording"),
    ({"event": "somethingNew"}, "somethingNew"),
    ({"type": "call", "event": "callUpdated", "payload": "not an object"},
     "call.callUpdated"),
    ({"type": "call", "event": "callUpdated"}, "call.callUpdated"),
    ({}, None),
])
def test_unknown_items_are_unknown_events(item: dict[str, Any], provider_type: str | None
                                          ) -> None:
    body = {"timestamp": "2017-08-24T09:44:37Z", "items": [item]}
    (event,) = events_of(body)
    assert isinstance(event, UnknownEvent)
    assert event.provider_type == provider_type
    assert event.raw == body
    assert event.occurred_at == datetime(2017, 8, 24, 9, 44, 37, tzinfo=UTC)
    if item.get("event") == "callDeleted":
        assert event.call_id == CALL


@pytest.mark.parametrize("item", [None, 3, "call", ["call"], True])
def test_items_that_are_not_objects_are_unknown_events(item: Any) -> None:
    (event,) = events_of({"items": [item]})
    assert isinstance(event, UnknownEvent) and event.raw == {"items": [item]}


def test_a_call_item_without_a_type_but_with_a_call_event() -> None:
    body = {"items": [{"event": "callUpdated",
                       "payload": LIFECYCLE[3]["items"][0]["payload"]}]}
    assert [type(e) for e in events_of(body)] == [CallInitiated, CallAnswered]


@pytest.mark.parametrize("body", [{}, {"timestamp": "x"}, {"items": "all"},
                                  {"items": {"0": {}}}, {"recording": {"id": "r"}}])
def test_an_object_without_items_is_one_unknown_event(body: dict[str, Any]) -> None:
    (event,) = events_of(body)
    assert isinstance(event, UnknownEvent) and event.provider_type is None
    assert event.raw == body


def test_no_items_is_no_events() -> None:
    assert parse(request({"timestamp": "2017-08-24T09:44:37Z", "items": []})) == []


def test_fetch_call_flow_pull_is_one_unknown_event() -> None:
    url = f"{BASE}/univoice/messagebird/flow/f1/0?callID=c-1&token=secret-token-value"
    req = request(b"", url=url, method="GET")
    (event,) = parse(req)
    assert isinstance(event, UnknownEvent)
    assert (event.provider_type, event.call_id) == ("fetchCallFlow", "c-1")
    assert event.raw["token"] == "***"
    stored(event)
    assert parse(request(b"", url=url, method="GET")) == [event]
    other = request(b"", url=url.replace("/0?", "/1?"), method="GET")
    assert parse(other)[0].id != event.id


# Parsing: tolerance ---------------------------------------------------------------------


def test_missing_fields_and_nulls_are_tolerated() -> None:
    nulls = {"id": None, "status": None, "legs": None, "number": None, "createdAt": None,
             "updatedAt": None, "endedAt": None}
    (event,) = events_of(snapshot(nulls))
    assert isinstance(event, CallInitiated)
    assert (event.call_id, event.direction, event.from_, event.to) == (
        None, Direction.UNKNOWN, None, None)
    # Without a call id an item is its own identity: another item, another id.
    (other,) = events_of(snapshot({**nulls, "source": "x"}))
    assert other.id != event.id
    (bare,) = events_of(snapshot({}))
    assert isinstance(bare, CallInitiated)


def test_wrong_field_types_are_tolerated() -> None:
    call = {"id": 123, "status": ["ended"], "legs": [None, 3, "leg", {
        "id": {"x": 1}, "status": 7, "direction": True, "source": 31612345678,
        "destination": ["x"], "answeredAt": 1561046065, "endedAt": "yesterday",
        "duration": "long", "createdAt": "2019-13-45T99:99:99Z"}],
        "number": "31123456788", "createdAt": 5, "updatedAt": "9999-12-31T23:59:59-23:59"}
    events = events_of(snapshot(call))
    assert [type(e) for e in events] == [CallInitiated]
    (initiated,) = events
    assert isinstance(initiated, CallInitiated)
    assert (initiated.call_id, initiated.from_, initiated.to) == ("123", "+31612345678", None)


def test_string_numbers_and_odd_words_are_read() -> None:
    leg = {"id": "l", "status": " Ongoing ", "direction": "INCOMING", "duration": "12",
           "source": " 31612345678 ", "destination": "sip:desk@example.com"}
    events = events_of(snapshot({"id": "c", "status": "Ongoing", "legs": [leg]}))
    initiated, answered = events
    assert isinstance(initiated, CallInitiated) and isinstance(answered, CallAnswered)
    assert initiated.direction is Direction.INBOUND
    assert (initiated.from_, initiated.to) == ("+31612345678", "sip:desk@example.com")


@pytest.mark.parametrize(("value", "expected"), [
    ("31612345678", "+31612345678"), ("+31612345678", "+31612345678"),
    ("1234", "1234"), ("123456", "123456"), ("1234567", "+1234567"),
    ("0612345678", "0612345678"), ("anonymous", "anonymous"),
    ("1" * 16, "1" * 16), ("", None), (None, None)])
def test_numbers_become_e164_where_they_can(value: str | None, expected: str | None) -> None:
    call = {"id": "c", "legs": [{"id": "l", "source": value, "direction": "outgoing"}]}
    (initiated,) = events_of(snapshot(call))
    assert isinstance(initiated, CallInitiated) and initiated.from_ == expected


def test_secret_looking_fields_are_redacted_in_raw() -> None:
    body = snapshot({"id": "c", "status": "queued", "token": "tok-abcdef-123",
                     "webhook": {"url": "https://x", "token": "tok-abcdef-123"}})
    (event,) = events_of(body)
    assert "tok-abcdef-123" not in event.model_dump_json()


# Bad input ------------------------------------------------------------------------------


def rejected(req: WebhookRequest) -> str:
    with pytest.raises(WebhookRejected) as info:
        parse(req)
    assert info.value.status == 400
    assert "\n" not in info.value.reason
    return info.value.reason


@pytest.mark.parametrize("body", [
    b"not json", b"{", b"\xff\xfe\x00", b"", b'{"items": [], "x": NaN}',
    b'{"items": [], "x": -Infinity}', b'{"items": [], "x": 1e999}',
    b'{"items": [{"type": "call\\ud800"}]}', b'{"n": ' + b"9" * 5000 + b"}"])
def test_non_json_is_refused(body: bytes) -> None:
    rejected(request(body))


@pytest.mark.parametrize("body", [[], [{"items": []}], "callUpdated", 42, None, True])
def test_non_object_json_is_refused(body: Any) -> None:
    assert "JSON object" in rejected(request(json.dumps(body).encode()))


@pytest.mark.parametrize("body", [
    b"[" * 100_000 + b"]" * 100_000,
    b'{"items": [' + b"[" * 20 + b"]" * 20 + b"]}",
    json.dumps({"items": [{"payload": {"legs": [{"a": {"b": {"c": {"d": {"e": {}}}}}}]}}]}
               ).encode()])
def test_deeply_nested_json_is_refused(body: bytes) -> None:
    assert "nested" in rejected(request(body))


def test_a_callback_at_the_nesting_limit_parses() -> None:
    body = {"items": [{"type": "call", "payload": {"id": "c", "legs": [
        {"a": {"b": {"c": {"d": {"e": 1}}}}}]}}]}  # 10 levels
    assert [type(e) for e in events_of(body)] == [CallInitiated]


def test_brackets_inside_strings_are_not_nesting() -> None:
    body = snapshot({"id": "c", "note": "[[[[[[[[[[{{{{{{{{{{\\\"[[[[["})
    assert [type(e) for e in events_of(body)] == [CallInitiated]


def test_huge_body_is_refused() -> None:
    assert "larger" in rejected(request(snapshot({"id": "c", "pad": "x" * 300_000})))


JSON = st.recursive(
    st.none() | st.booleans() | st.integers() | st.integers(10**300, 10**400)
    | st.floats(allow_nan=False, allow_infinity=False) | st.text(max_size=30),
    lambda children: st.lists(children, max_size=4)
    | st.dictionaries(st.text(max_size=10), children, max_size=4),
    max_leaves=12)
WORDS = st.sampled_from([
    "queued", "starting", "ringing", "ongoing", "ended", "hangup", "busy", "no_answer",
    "no-answer", "failed", "incoming", "outgoing", "", "ENDED"]) | st.text(max_size=8)
TIMES = st.sampled_from(["2017-08-24T09:44:37Z", "2017-08-24T09:45:37+02:00", "", "nope",
                         "9999-12-31T23:59:59-23:59", "0001-01-01T00:00:00+01:00"])
VALUE = WORDS | TIMES | JSON
LEG = st.dictionaries(st.sampled_from([
    "id", "callId", "source", "destination", "status", "direction", "duration",
    "createdAt", "updatedAt", "answeredAt", "endedAt"]), VALUE, max_size=11)
CALL_OBJECT = st.fixed_dictionaries({}, optional={
    "id": st.sampled_from(["c1", "c2"]) | JSON, "status": WORDS | JSON,
    "legs": st.lists(LEG | JSON, max_size=3) | JSON, "number": JSON,
    "source": VALUE, "destination": VALUE, "createdAt": TIMES | JSON,
    "updatedAt": TIMES | JSON, "endedAt": TIMES | JSON})
ITEM = st.fixed_dictionaries({}, optional={
    "type": st.sampled_from(["call", "leg", "Call"]) | JSON,
    "event": st.sampled_from(["callUpdated", "callCreated", "x"]) | JSON,
    "payload": CALL_OBJECT | JSON}) | JSON
FUZZ = settings(max_examples=300, deadline=None, suppress_health_check=[HealthCheck.too_slow])


@FUZZ
@given(items=st.lists(ITEM, max_size=4), timestamp=TIMES | JSON)
def test_any_envelope_gives_storable_events(items: list[Any], timestamp: Any) -> None:
    body = {"timestamp": timestamp, "items": items}
    events = outcome(request(body))
    if isinstance(events, WebhookRejected):  # only the nesting limit can refuse these
        assert events.status == 400 and "nested" in events.reason
        return
    assert len({e.id for e in events}) == len(events)
    for event in events:
        stored(event)
    assert parse(request(body)) == events  # deterministic: same ids on redelivery


@FUZZ
@given(payload=JSON)
def test_any_json_gives_events_or_a_rejection(payload: Any) -> None:
    result = outcome(request(json.dumps(payload).encode()))
    assert isinstance(result, list) or result.status == 400


@FUZZ
@given(body=st.binary(max_size=200))
def test_any_bytes_give_events_or_a_rejection(body: bytes) -> None:
    result = outcome(request(body))
    assert isinstance(result, list) or result.status == 400


@FUZZ
@given(value=st.text(max_size=300) | st.binary(max_size=300).map(
    lambda b: base64.urlsafe_b64encode(b).decode()))
def test_any_header_value_is_a_401(value: str) -> None:
    for name in (JWT_HEADER, LEGACY_SIGNATURE_HEADER):
        with pytest.raises(WebhookRejected) as info:
            verify(CONFIGURED, request(BODY, {name: value, LEGACY_TIMESTAMP_HEADER: "1"}))
        assert info.value.status == 401 and KEY not in info.value.reason


# Through the webhook app (provider entry point, real store) ----------------------------


def test_through_the_webhook_app() -> None:
    from starlette.testclient import TestClient

    from univoice.webhooks import VoiceApp
    from univoice_messagebird import MessageBirdProvider

    seen: list[BaseEvent] = []
    app = VoiceApp(public_url=BASE, store="sqlite://:memory:",
                   providers=[MessageBirdProvider(signing_key=KEY)])
    app.on(CallInitiated, CallAnswered)(seen.append)
    json_type = {"content-type": "application/json"}
    try:
        with TestClient(app) as client:
            first_headers = {**json_type, **sign(KEY, URL, BODY)}
            first = client.post(PATH, content=BODY, headers=first_headers)
            # MessageBird delivering again signs again (a new jti): handled as duplicates.
            again = client.post(PATH, content=BODY,
                                headers={**json_type, **sign(KEY, URL, BODY)})
            replayed = client.post(PATH, content=BODY, headers=first_headers)
            forged = client.post(PATH, content=BODY,
                                 headers={**json_type, **sign("guess", URL, BODY)})
            unsigned = client.post(PATH, content=BODY, headers=json_type)
            other_url = client.post(PATH + "?x=1", content=BODY,
                                    headers={**json_type, **sign(KEY, URL, BODY)})
            bad = client.post(PATH, content=b"[1]",
                              headers={**json_type, **sign(KEY, URL, b"[1]")})
    finally:
        app.store.close()
    assert first.status_code == 200
    assert first.json() == {"received": 2, "handled": 2, "duplicates": 0, "failed": 0}
    assert again.status_code == 200
    assert again.json() == {"received": 2, "handled": 0, "duplicates": 2, "failed": 0}
    assert replayed.status_code == 401 and "replayed" in replayed.json()["error"]
    assert forged.status_code == 401 and KEY not in forged.text
    assert unsigned.status_code == 401
    assert other_url.status_code == 401 and "url_hash" in other_url.json()["error"]
    assert bad.status_code == 400
    assert [type(e) for e in seen] == [CallInitiated, CallAnswered]


def test_the_webhook_app_refuses_everything_without_a_signing_key() -> None:
    from starlette.testclient import TestClient

    from univoice.webhooks import VoiceApp
    from univoice_messagebird import MessageBirdProvider

    app = VoiceApp(public_url=BASE, store="sqlite://:memory:",
                   providers=[MessageBirdProvider()])
    try:
        with TestClient(app) as client:
            response = client.post(PATH, content=BODY, headers={
                "content-type": "application/json", **sign(KEY, URL, BODY)})
    finally:
        app.store.close()
    assert response.status_code == 401
    assert "messagebird.signing_key" in response.json()["error"]
