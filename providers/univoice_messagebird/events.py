"""MessageBird callbacks -> neutral events, and their verification (signed JWT).

Verification (``verify``). MessageBird signs each callback with the account's signing key
(dashboard, developer settings; not the access key), in the ``MessageBird-Signature-JWT``
header: a JWT (``header.claims.signature``, base64url) whose HMAC is HS256, HS384 or HS512.
Only those three algorithms pass (``none`` and everything asymmetric are refused before any
claim is read), the HMAC is checked before the claims are trusted, then: ``iss`` is
``MessageBird``; ``exp`` is required and ``nbf`` (and ``iat``, which older tokens carried
instead) are honoured when present, each with 1 s of clock skew; ``jti`` is a non-empty
string; ``url_hash`` is the hex SHA-256 of the public URL the callback was sent to (the
webhook app's configured public base + path + query, so a wrong ``public_url`` shows up as
a ``url_hash`` refusal); ``payload_hash`` is the hex SHA-256 of the raw body, present exactly
when there is a body. A ``jti`` seen before, until its token expires, is a replay. That
memory is per process and bounded (``REPLAY_MEMORY`` entries, the soonest to expire
forgotten first when full); across processes and restarts the webhook app's event store
still de-duplicates the events themselves, so a replay that slips past it is handled once.

The older scheme (``MessageBird-Request-Timestamp`` + ``MessageBird-Signature``: base64
HMAC-SHA256 over the timestamp, the query re-encoded with its keys sorted, and the raw
SHA-256 of the body, each separated by a newline) is accepted only when the JWT header is
absent, within ``LEGACY_WINDOW`` seconds of the timestamp, once per signature. It does not
cover the host or path. Without ``messagebird.signing_key`` every callback is refused.
Every refusal is a ``WebhookRejected(401)`` with a one-line reason that never shows a key.

Parsing (``parse``). A callback is ``{"timestamp", "items": [{"type", "event", "payload"}]}``;
``type: call`` with ``event: callCreated`` / ``callUpdated`` carries the whole call (status,
``legs[]``), re-sent on every change. Such a snapshot is read as the lifecycle it implies,
each stage an event whose id is a digest of (call id, stage), so every stage reaches the
handlers exactly once however many snapshots show it, redelivered or not, and a stage is
not lost when the snapshot that first showed it was missed:

    every snapshot                    -> CallInitiated (direction from the first leg:
                                         incoming = inbound; no leg yet while queued or
                                         starting = outbound; from/to = the first leg's
                                         source/destination, else the call's)
    first leg ringing                 -> CallRinging
    first leg ongoing or answeredAt   -> CallAnswered   (no legs: call status ongoing)
    call ended/failed/busy/no_answer  -> CallCompleted, end reason from the first leg
      (hangup -> hangup, busy, no_answer); a failed leg or call -> CallFailed("failed"),
      as the simulator and Bandwidth do: busy and no answer are outcomes, not faults
    any other leg (a transfer step's) -> TransferAnswered when ongoing/answered,
                                         TransferLegEnded (cause: the neutral word) when over

The first leg is the incoming one, else the earliest created. MessageBird writes numbers
without "+": 7-15 digits become E.164 (raw keeps the original). A snapshot that adds
nothing (the same stages) gives only ids the store has seen: duplicates, by design. Other
types and events, an item that is not an object, or an object without ``items`` become
``UnknownEvent`` (id: digest of the item). A request with no body but a query (a
``fetchCallFlow`` pull) is one ``UnknownEvent("fetchCallFlow")``. Fields are read
tolerantly (a wrong type is ``None``); only a body that is not a JSON object, or is too
large or too deep, is refused (400). Each event's ``raw`` is its item, redacted, in the
envelope: ``{"timestamp", "items": [item]}``.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import json
import math
import re
import time
import uuid
from collections.abc import Mapping
from datetime import UTC, datetime
from typing import TYPE_CHECKING, Any
from urllib.parse import parse_qsl, quote_plus, urlsplit

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
    digest,
)
from univoice.models import Direction, EndReason
from univoice.redact import Redactor
from univoice.webhooks.replay import ReplayGuard
from univoice.webhooks.request import WebhookRejected, decode_json

if TYPE_CHECKING:
    from univoice.webhooks.request import WebhookRequest
    from univoice_messagebird.settings import MessageBirdSettings

PROVIDER = "messagebird"
JWT_HEADER = "MessageBird-Signature-JWT"
LEGACY_SIGNATURE_HEADER = "MessageBird-Signature"
LEGACY_TIMESTAMP_HEADER = "MessageBird-Request-Timestamp"
ISSUER = "MessageBird"
ALGORITHMS = {"HS256": "sha256", "HS384": "sha384", "HS512": "sha512"}
SKEW = 1.0  # seconds of clock skew allowed on nbf/iat/exp
LEGACY_WINDOW = 300.0  # seconds a legacy signature's timestamp may be off
MAX_TOKEN = 8 * 1024  # a real token is ~500 characters
MAX_SIGNATURE_JSON = 8 * 1024  # a JWT header or claims set is a few hundred bytes
MAX_BODY = 256 * 1024  # the app caps bodies too; this keeps parse() safe when called alone
MAX_DEPTH = 10  # a callback nests 6 deep (envelope, items, item, payload, legs, leg)
_REDACTOR = Redactor()
_JSON_KINDS = {"list": "an array", "str": "a string", "int": "a number", "float": "a number",
               "bool": "a boolean", "NoneType": "null"}


# Verification -------------------------------------------------------------------------


_REPLAYS = ReplayGuard()


def verify(settings: MessageBirdSettings, request: WebhookRequest) -> None:
    """Raise ``WebhookRejected(401)`` unless MessageBird signed this request.

    "Now" is ``request.received_at``."""
    secret = settings.signing_key.get_secret_value() if settings.signing_key else ""
    if not secret:
        # Never an open route by default: without the key anyone could fake events.
        raise WebhookRejected(401, "MessageBird callbacks are refused until "
                                   "messagebird.signing_key is set (the signing key of the "
                                   "MessageBird dashboard's developer settings)")
    key = secret.encode()
    token = request.header(JWT_HEADER)
    if token is not None:
        _verify_jwt(key, token, request)
        return
    signature = request.header(LEGACY_SIGNATURE_HEADER)
    stamp = request.header(LEGACY_TIMESTAMP_HEADER)
    if signature is None and stamp is None:
        raise WebhookRejected(401, f"missing {JWT_HEADER} header")
    _verify_legacy(key, signature, stamp, request)


def _refuse(reason: str) -> WebhookRejected:
    return WebhookRejected(401, reason)


def _shown(value: Any) -> str:
    """A header value an attacker chose, safe to put in a one-line reason."""
    if isinstance(value, str):
        return repr(value[:20] + ("..." if len(value) > 20 else ""))
    return "missing" if value is None else f"a JSON {type(value).__name__}"


_B64URL = re.compile(r"[A-Za-z0-9_-]*={0,2}")


def _b64url(segment: str, what: str) -> bytes:
    if not _B64URL.fullmatch(segment):
        raise _refuse(f"malformed {JWT_HEADER}: the {what} is not base64url")
    text = segment.rstrip("=")
    try:
        return base64.urlsafe_b64decode(text + "=" * (-len(text) % 4))
    except (binascii.Error, ValueError):
        raise _refuse(f"malformed {JWT_HEADER}: the {what} is not base64url") from None


def _json_segment(segment: str, what: str) -> dict[str, Any]:
    try:
        loaded = decode_json(_b64url(segment, what), max_body=MAX_SIGNATURE_JSON,
                             max_depth=4)
    except WebhookRejected:  # a signature problem: 401, not the body's 400
        raise _refuse(f"malformed {JWT_HEADER}: the {what} is not JSON") from None
    if not isinstance(loaded, dict):
        raise _refuse(f"malformed {JWT_HEADER}: the {what} is not a JSON object")
    return loaded


def _seconds_claim(claims: Mapping[str, Any], name: str) -> float | None:
    """A time claim in Unix seconds; None if absent, a refusal if not a number."""
    value = claims.get(name)
    if value is None:
        return None
    number = _finite(value)
    if number is None:
        raise _refuse(f"JWT claim {name} is not a number")
    return number


def _finite(value: Any) -> float | None:
    if isinstance(value, bool) or not isinstance(value, int | float):
        return None
    try:
        number = float(value)
    except OverflowError:
        return None
    return number if math.isfinite(number) else None


def _hex_equal(given: Any, data: bytes) -> bool:
    if not isinstance(given, str) or not given.isascii():
        return False
    return hmac.compare_digest(given.lower(), hashlib.sha256(data).hexdigest())


def _verify_jwt(key: bytes, token: str, request: WebhookRequest) -> None:
    token = token.strip()
    if not token:
        raise _refuse(f"empty {JWT_HEADER} header")
    if len(token) > MAX_TOKEN or not token.isascii():
        raise _refuse(f"malformed {JWT_HEADER}: not a compact JWT")
    parts = token.split(".")
    if len(parts) != 3:
        raise _refuse(f"malformed {JWT_HEADER}: a JWT has 3 dot-separated parts, "
                      f"not {len(parts)}")
    header = _json_segment(parts[0], "header")
    alg = header.get("alg")
    if not isinstance(alg, str) or alg not in ALGORITHMS:
        raise _refuse(f"JWT algorithm {_shown(alg)} is not accepted "
                      f"(only {', '.join(ALGORITHMS)})")
    if "crit" in header:  # extensions we would have to understand (RFC 7515 4.1.11)
        raise _refuse("JWT header has 'crit' extensions, which are not supported")
    signature = _b64url(parts[2], "signature")
    expected = hmac.new(key, f"{parts[0]}.{parts[1]}".encode(), ALGORITHMS[alg]).digest()
    if not hmac.compare_digest(signature, expected):
        raise _refuse("JWT signature does not match (not signed with "
                      "messagebird.signing_key, or altered)")
    claims = _json_segment(parts[1], "claims")
    if claims.get("iss") != ISSUER:
        raise _refuse(f"JWT issuer is {_shown(claims.get('iss'))}, not {ISSUER!r}")
    now = request.received_at
    expires = _seconds_claim(claims, "exp")
    if expires is None:
        raise _refuse("JWT claim exp is missing")
    if now > expires + SKEW:
        raise _refuse("JWT has expired (claim exp is in the past)")
    for name in ("nbf", "iat"):
        start = _seconds_claim(claims, name)
        if start is not None and now < start - SKEW:
            raise _refuse(f"JWT is not valid yet (claim {name} is in the future)")
    jti = claims.get("jti")
    if not isinstance(jti, str) or not jti:
        raise _refuse("JWT claim jti is missing or empty")
    if not _hex_equal(claims.get("url_hash"), request.url.encode()):
        raise _refuse("JWT claim url_hash does not match this URL (is the webhook app's "
                      "public URL the one MessageBird calls?)")
    given = claims.get("payload_hash")
    if request.body:
        if given in (None, ""):
            raise _refuse("JWT has no claim payload_hash but the request has a body")
        if not _hex_equal(given, request.body):
            raise _refuse("JWT claim payload_hash does not match the body")
    elif given not in (None, ""):
        raise _refuse("JWT claim payload_hash is set but the request has no body")
    if not _REPLAYS.first_time(f"jwt:{jti}", expires + SKEW, now):
        raise _refuse("JWT replayed (its jti was seen before)")


def _sorted_query(url: str) -> str:
    """The query of ``url`` re-encoded with its keys sorted (values keep their order)."""
    grouped: dict[str, list[str]] = {}
    pairs = parse_qsl(urlsplit(url).query, keep_blank_values=True,
                      errors="surrogateescape")
    for name, value in pairs:
        grouped.setdefault(name, []).append(value)
    return "&".join(f"{_escape(name)}={_escape(value)}"
                    for name in sorted(grouped) for value in grouped[name])


def _escape(text: str) -> str:
    return quote_plus(text, safe="", errors="surrogateescape")


def _legacy_mac(key: bytes, stamp: str, url: str, body: bytes) -> bytes:
    message = (stamp.encode() + b"\n" + _sorted_query(url).encode("utf-8", "surrogateescape")
               + b"\n" + hashlib.sha256(body).digest())
    return hmac.new(key, message, hashlib.sha256).digest()


def _verify_legacy(key: bytes, signature: str | None, stamp: str | None,
                   request: WebhookRequest) -> None:
    if not signature or not stamp:
        raise _refuse(f"a legacy signature needs both {LEGACY_SIGNATURE_HEADER} and "
                      f"{LEGACY_TIMESTAMP_HEADER}")
    stamp = stamp.strip()
    if not re.fullmatch(r"[0-9]{1,12}", stamp):
        raise _refuse(f"{LEGACY_TIMESTAMP_HEADER} is not Unix seconds")
    if abs(request.received_at - int(stamp)) > LEGACY_WINDOW:
        raise _refuse(f"{LEGACY_TIMESTAMP_HEADER} is more than {LEGACY_WINDOW:g} s away "
                      "from now")
    try:
        given = base64.b64decode(signature.strip(), validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(f"malformed {LEGACY_SIGNATURE_HEADER}: not base64") from None
    if not hmac.compare_digest(given, _legacy_mac(key, stamp, request.url, request.body)):
        raise _refuse(f"{LEGACY_SIGNATURE_HEADER} does not match (not signed with "
                      "messagebird.signing_key, or altered)")
    seen = hashlib.sha256(given).hexdigest()
    if not _REPLAYS.first_time(f"legacy:{seen}", int(stamp) + LEGACY_WINDOW,
                               request.received_at):
        raise _refuse(f"{LEGACY_SIGNATURE_HEADER} replayed (seen before)")


# Signing, for tests and tools ------------------------------------------------------------


def _b64(data: bytes) -> str:
    return base64.urlsafe_b64encode(data).rstrip(b"=").decode()


def sign(key: str | SecretStr, url: str, body: bytes, now: float | None = None,
         jti: str | None = None, alg: str = "HS256", *, lifetime: int = 60,
         claims: Mapping[str, Any] | None = None) -> dict[str, str]:
    """The header MessageBird would send with ``body`` POSTed to ``url``: for tests and
    tools (an interpreter playing callbacks to the webhook app), never needed to receive.

    ``nbf`` is ``now`` (default: the clock), ``exp`` ``lifetime`` seconds later, ``jti`` a
    fresh UUID unless given. ``claims`` overrides claims; a value of ``None`` removes one.
    """
    if alg not in ALGORITHMS:
        raise ValueError(f"alg must be one of {', '.join(ALGORITHMS)}, not {alg!r}")
    secret = key.get_secret_value() if isinstance(key, SecretStr) else key
    issued = int(time.time() if now is None else now)
    payload: dict[str, Any] = {
        "iss": ISSUER, "nbf": issued, "exp": issued + lifetime,
        "jti": str(uuid.uuid4()) if jti is None else jti,
        "url_hash": hashlib.sha256(url.encode()).hexdigest()}
    if body:
        payload["payload_hash"] = hashlib.sha256(body).hexdigest()
    for name, value in (claims or {}).items():
        if value is None:
            payload.pop(name, None)
        else:
            payload[name] = value
    signing_input = (_b64(json.dumps({"alg": alg, "typ": "JWT"}).encode()) + "."
                     + _b64(json.dumps(payload, separators=(",", ":")).encode()))
    mac = hmac.new(secret.encode(), signing_input.encode(), ALGORITHMS[alg]).digest()
    return {JWT_HEADER: f"{signing_input}.{_b64(mac)}"}


def sign_legacy(key: str | SecretStr, url: str, body: bytes, now: float | None = None
                ) -> dict[str, str]:
    """The older scheme's two headers, for tests and tools (see ``sign``)."""
    secret = key.get_secret_value() if isinstance(key, SecretStr) else key
    stamp = str(int(time.time() if now is None else now))
    mac = _legacy_mac(secret.encode(), stamp, url, body)
    return {LEGACY_TIMESTAMP_HEADER: stamp,
            LEGACY_SIGNATURE_HEADER: base64.b64encode(mac).decode()}


# Parsing ------------------------------------------------------------------------------


def parse(request: WebhookRequest) -> list[BaseEvent]:
    """The neutral events of one callback."""
    if not request.body and request.query:
        return [_fetch_call_flow(request)]
    if not request.body:
        raise WebhookRejected(400, "empty body")
    body = _decode(request.body)
    if not isinstance(body, dict):
        kind = _JSON_KINDS.get(type(body).__name__, "something else")
        raise WebhookRejected(400, f"a MessageBird callback is a JSON object, not {kind}")
    items = body.get("items")
    if not isinstance(items, list):  # signed, but of no shape we know: kept whole
        raw: dict[str, Any] = _REDACTOR.payload(body)
        return [UnknownEvent(id=digest(PROVIDER, raw), provider=PROVIDER, raw=raw,
                             occurred_at=_time(body.get("timestamp")))]
    envelope = {"timestamp": body["timestamp"]} if "timestamp" in body else {}
    events: dict[str, BaseEvent] = {}
    for item in items:
        for event in _item(item, envelope):
            events.setdefault(event.id, event)  # the same item twice in one callback
    return list(events.values())


def _fetch_call_flow(request: WebhookRequest) -> BaseEvent:
    """A bodiless pull for the next call flow: plumbing the webhook app answers itself."""
    raw: dict[str, Any] = _REDACTOR.payload(dict(request.query))
    try:  # the app's query parsing replaces bad UTF-8; a hand-built request may not
        json.dumps(raw, ensure_ascii=False).encode()
    except UnicodeEncodeError:
        raise WebhookRejected(400, "query has a lone surrogate (not Unicode)") from None
    call_id = _text(request.query, "callID") or _text(request.query, "callId")
    return UnknownEvent(id=digest(PROVIDER, {"path": request.path, "query": raw}),
                        provider=PROVIDER, call_id=call_id or None, raw=raw,
                        provider_type="fetchCallFlow")


def _decode(body: bytes) -> Any:
    return decode_json(body, max_body=MAX_BODY, max_depth=MAX_DEPTH)


# Field readers: tolerant, never raising ----------------------------------------------


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _word(obj: Mapping[str, Any] | None, key: str) -> str:
    """A status-like word, lower case, '-' read as '_' ("no-answer" = "no_answer")."""
    return (_text(obj, key) or "").strip().lower().replace("-", "_") if obj else ""


def _time(value: Any) -> datetime | None:
    """An aware UTC datetime from an RFC 3339 string, or None."""
    if not isinstance(value, str) or not value.strip() or len(value) > 64:
        return None
    text = value.strip()
    if text.endswith(("Z", "z")):
        text = text[:-1] + "+00:00"
    try:
        parsed = datetime.fromisoformat(text)
        return parsed.replace(tzinfo=UTC) if parsed.tzinfo is None else parsed.astimezone(UTC)
    except (ValueError, OverflowError):  # OverflowError: year 9999 moved past UTC
        return None


def _seconds(value: Any) -> float | None:
    """A non-negative number of seconds (a number or a numeric string), or None."""
    if isinstance(value, str):
        try:
            value = float(value.strip()) if len(value) < 32 else None
        except ValueError:
            return None
    number = _finite(value)
    return round(number, 3) if number is not None and number >= 0 else None


_NATIONAL_DIGITS = re.compile(r"[1-9][0-9]{6,14}")  # as vocab.from_messagebird


def _phone(value: Any) -> str | None:
    """E.164 for MessageBird's "+"-less numbers; anything else (SIP, names) as it is."""
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        return None
    text = value.strip()
    return f"+{text}" if _NATIONAL_DIGITS.fullmatch(text) else text


# Items --------------------------------------------------------------------------------

CALL_EVENTS = frozenset({"callcreated", "callupdated"})
LIVE_CALL = frozenset({"queued", "starting", "ongoing"})
# Call statuses that are an end (PROVIDERS §5; failed/busy/no_answer per the Java SDK),
# with the end they name by themselves ("ended" needs the legs to say how).
CALL_ENDS: dict[str, EndReason] = {
    "ended": EndReason.UNKNOWN, "failed": EndReason.FAILED, "busy": EndReason.BUSY,
    "no_answer": EndReason.NO_ANSWER}
# Final leg statuses. MessageBird does not say which side hung up: "hangup" is the
# neutral HANGUP (the flow's or the far end's), as on Bandwidth.
LEG_ENDS: dict[str, EndReason] = {
    "hangup": EndReason.HANGUP, "busy": EndReason.BUSY, "no_answer": EndReason.NO_ANSWER,
    "failed": EndReason.FAILED}
UNANSWERED = frozenset({"busy", "no_answer", "failed", "starting", "ringing"})


def _item(item: Any, envelope: dict[str, Any]) -> list[BaseEvent]:
    raw: dict[str, Any] = _REDACTOR.payload({**envelope, "items": [item]})
    occurred = _time(envelope.get("timestamp"))
    if not isinstance(item, dict):
        return [UnknownEvent(id=digest(PROVIDER, raw), provider=PROVIDER, raw=raw,
                             occurred_at=occurred)]
    kind, name = _text(item, "type"), _text(item, "event")
    label = ".".join(part for part in (kind, name) if part) or None
    payload = item.get("payload")
    is_call = (((kind or "").lower() == "call" and (name is None or name.lower() in CALL_EVENTS))
               or (kind is None and (name or "").lower() in CALL_EVENTS))
    if not is_call or not isinstance(payload, dict):
        call_id = _text(payload, "id") if isinstance(payload, dict) else None
        return [UnknownEvent(id=digest(PROVIDER, raw), provider=PROVIDER, raw=raw,
                             call_id=call_id or None, occurred_at=occurred,
                             provider_type=label)]
    return _Snapshot(payload, raw, occurred).events()


class _Snapshot:
    """One call object as MessageBird sent it, and the lifecycle it implies."""

    def __init__(self, call: dict[str, Any], raw: dict[str, Any],
                 sent: datetime | None) -> None:
        self.call, self.raw, self.sent = call, raw, sent
        legs = call.get("legs")
        self.legs = [leg for leg in legs if isinstance(leg, dict)] if isinstance(
            legs, list) else []
        self.first = _first_leg(self.legs)
        self.call_id = (_text(call, "id") or _text(self.first or {}, "callId")) or None
        self.status = _word(call, "status")
        self.leg_status = _word(self.first, "status")
        # Identity of the call across snapshots; without an id, only this item's.
        self.identity: dict[str, Any] = (
            {"call": self.call_id} if self.call_id else {"item": raw})
        self.updated = (_time(call.get("updatedAt")) or self.sent)

    def _common(self, stage: str, occurred_at: datetime | None) -> dict[str, Any]:
        return {"id": digest(PROVIDER, {**self.identity, "event": stage}),
                "provider": PROVIDER, "call_id": self.call_id, "occurred_at": occurred_at,
                "raw": self.raw}

    def events(self) -> list[BaseEvent]:
        events: list[BaseEvent] = [self._initiated()]
        if self.leg_status == "ringing":
            leg_time = _time(self.first.get("updatedAt")) if self.first else None
            events.append(CallRinging(**self._common("ringing", leg_time or self.updated)))
        answered = self._answered()
        if answered is not None:
            events.append(answered)
        for index, leg in enumerate(self.legs):
            if leg is not self.first:
                events.extend(self._transfer_leg(leg, index))
        if self._ended():
            events.append(self._end())
        return events

    def _initiated(self) -> BaseEvent:
        first = self.first or {}
        direction = {"incoming": Direction.INBOUND, "outgoing": Direction.OUTBOUND}.get(
            _word(first, "direction") or _word(self.call, "direction"), Direction.UNKNOWN)
        if self.first is None and self.status in ("queued", "starting"):
            # No leg yet: made through POST /calls (an inbound call comes with its leg).
            direction = Direction.OUTBOUND
        number = self.call.get("number")
        called = _text(number, "number") if isinstance(number, dict) else None
        to = _phone(first.get("destination")) or _phone(self.call.get("destination"))
        if direction is Direction.INBOUND:
            to = to or _phone(called)
        created = _time(self.call.get("createdAt")) or _time(first.get("createdAt"))
        return CallInitiated(
            **self._common("initiated", created or self.updated), direction=direction,
            **{"from": _phone(first.get("source")) or _phone(self.call.get("source"))},
            to=to)

    def _answered(self) -> BaseEvent | None:
        if self.first is None:
            if self.status != "ongoing":
                return None
            return CallAnswered(**self._common("answered", self.updated))
        answered_at = _time(self.first.get("answeredAt"))
        talked = (_seconds(self.first.get("duration")) or 0) > 0
        if self.leg_status != "ongoing" and (
                self.leg_status in UNANSWERED or (answered_at is None and not talked)):
            return None
        leg_time = _time(self.first.get("updatedAt")) or self.updated
        when = answered_at or (leg_time if self.leg_status == "ongoing" else None)
        return CallAnswered(**self._common("answered", when))

    def _transfer_leg(self, leg: dict[str, Any], index: int) -> list[BaseEvent]:
        status = _word(leg, "status")
        leg_id = _text(leg, "id") or None
        target = _phone(leg.get("destination"))
        # Without a leg id, the leg is known by where it went and when it began.
        ident = leg_id or f"{target}@{_text(leg, 'createdAt')}#{index}"
        answered_at = _time(leg.get("answeredAt"))
        events: list[BaseEvent] = []
        if status == "ongoing" or (answered_at is not None and status not in UNANSWERED):
            events.append(TransferAnswered(
                **self._common(f"leg:{ident}:answered", answered_at or self.updated),
                target=target))
        if status in LEG_ENDS:
            ended = _time(leg.get("endedAt")) or self.updated
            events.append(TransferLegEnded(
                **self._common(f"leg:{ident}:ended", ended), leg_id=leg_id, target=target,
                cause=LEG_ENDS[status].value))
        return events

    def _ended(self) -> bool:
        if self.status in CALL_ENDS:
            return True
        if self.status in LIVE_CALL:
            return False
        # A status word we do not know (or none): the call's end time or its first leg's.
        return _time(self.call.get("endedAt")) is not None or self.leg_status in LEG_ENDS

    def _end(self) -> BaseEvent:
        first = self.first or {}
        # The neutral reason from the normalised words; the raw one as MessageBird wrote it.
        call_word = (_text(self.call, "status") or "").strip()
        leg_word = (_text(first, "status") or "").strip()
        if CALL_ENDS.get(self.status, EndReason.UNKNOWN) is not EndReason.UNKNOWN:
            reason, word = CALL_ENDS[self.status], call_word
        elif self.leg_status in LEG_ENDS:
            reason, word = LEG_ENDS[self.leg_status], leg_word
        else:
            reason, word = EndReason.UNKNOWN, call_word or leg_word
        ended_at = _time(self.call.get("endedAt")) or _time(first.get("endedAt"))
        common = self._common("completed", ended_at or self.updated)
        if reason is EndReason.FAILED:
            return CallFailed(**common, reason=word)
        return CallCompleted(**common, end_reason=reason, end_reason_raw=word or None,
                             duration=self._duration(reason))

    def _duration(self, reason: EndReason) -> float | None:
        """Answer -> end in seconds (the simulator's meaning): 0 when never answered."""
        if reason in (EndReason.BUSY, EndReason.NO_ANSWER):
            return 0.0
        if self.first is None:
            return None
        answered = _time(self.first.get("answeredAt"))
        ended = _time(self.first.get("endedAt"))
        if answered is not None and ended is not None and ended >= answered:
            return round((ended - answered).total_seconds(), 3)
        # A documented leg ends before it is answered (samples INDEX): fall back to the
        # leg's own duration (whole seconds), else unknown.
        return _seconds(self.first.get("duration"))


def _first_leg(legs: list[dict[str, Any]]) -> dict[str, Any] | None:
    """The call's own leg: the incoming one, else the earliest created (list order on
    ties); the others are legs a transfer step added."""
    if not legs:
        return None
    for leg in legs:
        if _word(leg, "direction") == "incoming":
            return leg

    def created(pair: tuple[int, dict[str, Any]]) -> tuple[float, int]:
        at = _time(pair[1].get("createdAt"))
        return (at.timestamp() if at else math.inf, pair[0])

    return min(enumerate(legs), key=created)[1]
