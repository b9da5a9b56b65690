"""Bird callbacks -> neutral events, and their verification (HMAC signature).

Verification (``verify``; docs.bird.com/api/notifications-api/api-reference/
webhook-subscriptions/verifying-a-webhook-subscription, PROVIDERS.md §4.2). A webhook
subscription created with a ``signingKey`` is signed: header ``messagebird-signature`` is
base64(HMAC-SHA256(signingKey, timestamp + "\\n" + request URL + "\\n" + SHA-256(body))),
where the timestamp is the ``messagebird-request-timestamp`` header as sent, the URL the
full URL Bird was given (the webhook app's public base + path + query: a wrong
``public_url`` shows up as a mismatch) and the body digest its raw 32 bytes. The comparison
is constant-time. The timestamp must be within ``WINDOW`` seconds of the time the request
was received (its format is unconfirmed: Unix seconds, Unix milliseconds and RFC 3339 are
read); a signature seen before, while its timestamp is still in the window, is a replay.
That memory is per process and bounded (``REPLAY_MEMORY``); across processes the webhook
app's event store still de-duplicates the events themselves. Without ``bird.signing_key``
every callback is refused. Every refusal is a ``WebhookRejected(401)`` with a one-line
reason that never shows a key.

Parsing (``parse``). Bird documents only call-status lifecycle events (``voice.inbound``,
``voice.outbound``) and no delivered payload: PROVIDERS §4.2 expects the call object (§2.2)
plus event metadata. Both readings are accepted: a body that is the call object itself
(it has a ``status``), or an envelope whose ``payload`` is the call object (``event`` or
``type`` names it). Each callback says one status, read as one neutral event:

    accepted, starting                -> CallInitiated (direction: incoming = inbound;
                                         accepted, or a voice.outbound envelope, = outbound)
    ringing                           -> CallRinging
    ongoing                           -> CallAnswered
    completed, no-answer, busy        -> CallCompleted (end reason from vocab: completed is
                                         a hangup, callee_hangup when hangupSource names the
                                         other party; duration answer -> end, 0 unanswered)
    canceled (unconfirmed)            -> CallCompleted (hangup)
    failed                            -> CallFailed (Bird's ``reason``, else "failed")
    an ``amdResult`` with a result    -> MachineDetected, besides the above

Gathered keys (unconfirmed: Bird documents no callback carrying them; univoice's hosted
flows rely on one, see ``univoice_bird.compile``): read from the call object's last
``gather`` command in ``callFlow.commands`` (its ``keys``, ``result.keys``, ``result`` as
a string or ``variables.keys``), else the call's or the envelope's ``variables.keys`` or
``keys``; the first found wins and gives ``DigitsGathered`` (id: call, call flow id,
command id and keys).

An event's id is a digest of (call id, neutral stage), so a redelivered callback has the
same id, and so do ``accepted`` and ``starting`` (one call is initiated once: the second is
a duplicate by design). A status no table knows gives an ``UnknownEvent`` whose id is a
digest of (call id, status); a body that is neither shape (the webhook-subscription body
the docs show as "Example event", say) an ``UnknownEvent`` whose id is a digest of the body.
Fields are read tolerantly (a wrong type is ``None``); only a body that is not a JSON object,
is empty, too large or too deep is refused (400). Each event's ``raw`` is the body, redacted.
"""

from __future__ import annotations

import base64
import binascii
import hashlib
import hmac
import re
import time
from collections.abc import Mapping
from dataclasses import dataclass
from datetime import datetime
from typing import TYPE_CHECKING, Any

from pydantic import SecretStr

from univoice.events import (
    BaseEvent,
    CallAnswered,
    CallCompleted,
    CallFailed,
    CallInitiated,
    CallRinging,
    DigitsGathered,
    MachineDetected,
    UnknownEvent,
    digest,
)
from univoice.models import Direction, EndReason
from univoice.redact import Redactor
from univoice.webhooks.replay import ReplayGuard
from univoice.webhooks.request import WebhookRejected, decode_json
from univoice_bird import vocab

if TYPE_CHECKING:
    from univoice.webhooks.request import WebhookRequest
    from univoice_bird.settings import BirdSettings

PROVIDER = "bird"
SIGNATURE_HEADER = "messagebird-signature"
TIMESTAMP_HEADER = "messagebird-request-timestamp"
REQUEST_ID_HEADER = "messagebird-request-id"  # Bird's delivery id (subscription logs)
WINDOW = 300.0  # seconds a signature's timestamp may be away from now
MAX_SIGNATURE = 512  # a real one is 44 characters
MAX_BODY = 256 * 1024  # the app caps bodies too; this keeps parse() safe when called alone
MAX_DEPTH = 12  # a call object nests 6 deep (payload, callFlow, commands, conditions)
_REDACTOR = Redactor()
_JSON_KINDS = {"list": "an array", "str": "a string", "int": "a number", "float": "a number",
               "bool": "a boolean", "NoneType": "null"}


# Verification -------------------------------------------------------------------------


_REPLAYS = ReplayGuard()


def _refuse(reason: str) -> WebhookRejected:
    return WebhookRejected(401, reason)


def signature_for(key: bytes, timestamp: str, url: str, body: bytes) -> bytes:
    """The raw HMAC-SHA256 Bird sends, base64-encoded, as ``messagebird-signature``."""
    message = (timestamp.encode("utf-8", "surrogateescape") + b"\n"
               + url.encode("utf-8", "surrogateescape") + b"\n"
               + hashlib.sha256(body).digest())
    return hmac.new(key, message, hashlib.sha256).digest()


_SECONDS = re.compile(r"[0-9]{1,11}(\.[0-9]{1,9})?")
_MILLISECONDS = re.compile(r"[0-9]{12,14}")


def timestamp_seconds(value: str) -> float | None:
    """Unix seconds from the timestamp header: Unix seconds (``1700000000``, a fraction
    allowed), Unix milliseconds (12 to 14 digits) or an RFC 3339 time; None otherwise."""
    text = value.strip()
    if not text or len(text) > 64:
        return None
    if _SECONDS.fullmatch(text):
        return float(text)
    if _MILLISECONDS.fullmatch(text):
        return int(text) / 1000.0
    parsed = vocab.parse_time(text)
    return parsed.timestamp() if parsed is not None else None


def _decode_signature(value: str) -> bytes:
    text = value.strip()
    if not text or len(text) > MAX_SIGNATURE or not text.isascii():
        raise _refuse(f"malformed {SIGNATURE_HEADER}: not base64")
    try:
        if "-" in text or "_" in text:  # the URL-safe alphabet, should Bird use it
            return base64.urlsafe_b64decode(text + "=" * (-len(text.rstrip("=")) % 4))
        return base64.b64decode(text, validate=True)
    except (binascii.Error, ValueError):
        raise _refuse(f"malformed {SIGNATURE_HEADER}: not base64") from None


def verify(settings: BirdSettings, request: WebhookRequest) -> None:
    """Raise ``WebhookRejected(401)`` unless Bird signed this request. "Now" is
    ``request.received_at``."""
    secret = settings.signing_key.get_secret_value() if settings.signing_key else ""
    if not secret:
        # Never an open route by default: without the key anyone could fake events.
        raise _refuse("Bird callbacks are refused until bird.signing_key is set (the "
                      "signingKey of the webhook subscription)")
    signature = request.header(SIGNATURE_HEADER)
    stamp = request.header(TIMESTAMP_HEADER)
    if not signature:
        raise _refuse(f"missing {SIGNATURE_HEADER} header")
    if not stamp:
        raise _refuse(f"missing {TIMESTAMP_HEADER} header")
    sent_at = timestamp_seconds(stamp)
    if sent_at is None:
        raise _refuse(f"{TIMESTAMP_HEADER} is not a timestamp (Unix time or RFC 3339)")
    if abs(request.received_at - sent_at) > WINDOW:
        raise _refuse(f"{TIMESTAMP_HEADER} is more than {WINDOW:g} s away from now (a "
                      "replayed or delayed request, or a clock that is off)")
    given = _decode_signature(signature)
    expected = signature_for(secret.encode(), stamp, request.url, request.body)
    if not hmac.compare_digest(given, expected):
        raise _refuse(f"{SIGNATURE_HEADER} does not match (not signed with bird.signing_key, "
                      "altered, or sent to another URL than the webhook app's public URL)")
    if not _REPLAYS.first_time(hashlib.sha256(given).hexdigest(), sent_at + WINDOW,
                               request.received_at):
        raise _refuse(f"{SIGNATURE_HEADER} replayed (seen before)")


# Signing, for tests and tools ------------------------------------------------------------


def sign(key: str | SecretStr, url: str, body: bytes,
         timestamp: float | int | str | None = None) -> dict[str, str]:
    """The headers Bird would send with ``body`` POSTed to ``url``: for tests and tools
    (a script playing callbacks to the webhook app), never needed to receive.

    ``timestamp``: Unix seconds (default: now), or the header's text as it should be sent.
    """
    secret = key.get_secret_value() if isinstance(key, SecretStr) else key
    if timestamp is None:
        stamp = str(int(time.time()))
    elif isinstance(timestamp, str):
        stamp = timestamp
    else:
        stamp = str(int(timestamp)) if float(timestamp).is_integer() else str(timestamp)
    mac = signature_for(secret.encode(), stamp, url, body)
    return {SIGNATURE_HEADER: base64.b64encode(mac).decode("ascii"), TIMESTAMP_HEADER: stamp}


# Parsing ------------------------------------------------------------------------------


def parse(request: WebhookRequest) -> list[BaseEvent]:
    """The neutral events of one callback."""
    if not request.body:
        raise WebhookRejected(400, "empty body (a Bird callback is a JSON object)")
    body = _decode(request.body)
    if not isinstance(body, dict):
        kind = _JSON_KINDS.get(type(body).__name__, "something else")
        raise WebhookRejected(400, f"a Bird callback is a JSON object, not {kind}")
    raw: dict[str, Any] = _REDACTOR.payload(body)
    call, label = _call_of(body)
    if call is None:  # signed, but of no shape we know: kept whole
        return [UnknownEvent(id=digest(PROVIDER, raw), provider=PROVIDER, raw=raw,
                             occurred_at=_envelope_time(body), provider_type=label)]
    events: dict[str, BaseEvent] = {}
    for event in _Status(call, body, raw, label).events():
        events.setdefault(event.id, event)
    return list(events.values())


def _call_of(body: dict[str, Any]) -> tuple[dict[str, Any] | None, str | None]:
    """The call object of a callback and the event's name (``voice.outbound``, ...)."""
    label = _text(body, "event") or _text(body, "type")
    payload = body.get("payload")
    if isinstance(payload, dict):
        return payload, label
    if "status" in body and ("id" in body or "callId" in body or "channelId" in body):
        return body, None
    return None, label


def _decode(body: bytes) -> Any:
    return decode_json(body, max_body=MAX_BODY, max_depth=MAX_DEPTH)


@dataclass(frozen=True)
class GatherResult:
    """The keys of a finished gather, and which call flow (and command) it ran in."""

    keys: str
    call_flow_id: str | None
    command_id: str | None


_KEYS = re.compile(r"[0-9*#]{0,64}")


def _keys_in(obj: Mapping[str, Any]) -> str | None:
    for holder, key in ((obj, "keys"), (obj.get("result"), "keys"),
                        (obj.get("variables"), "keys")):
        value = holder.get(key) if isinstance(holder, dict) else None
        if isinstance(value, str) and _KEYS.fullmatch(value):
            return value
    result = obj.get("result")
    if isinstance(result, str) and _KEYS.fullmatch(result):
        return result
    return None


def gather_result(call: Mapping[str, Any], body: Mapping[str, Any] | None = None
                  ) -> GatherResult | None:
    """The gathered keys a callback's call object reports (see the module docstring)."""
    flow = call.get("callFlow")
    flow = flow if isinstance(flow, dict) else {}
    flow_id = _text(flow, "id")
    commands = flow.get("commands")
    for command in reversed(commands if isinstance(commands, list) else []):
        if isinstance(command, dict) and command.get("command") == "gather":
            keys = _keys_in(command)
            if keys is not None:
                return GatherResult(keys, _text(command, "callFlowId") or flow_id,
                                    _text(command, "id"))
    for holder in (call, body or {}):
        keys = _keys_in({"keys": holder.get("keys"), "variables": holder.get("variables")})
        if keys is not None:
            return GatherResult(keys, flow_id, None)
    return None


def call_object(body: Any) -> dict[str, Any] | None:
    """A decoded callback's call object (either shape), or None."""
    return _call_of(body)[0] if isinstance(body, dict) else None


# Field readers: tolerant, never raising ----------------------------------------------


def _text(obj: Mapping[str, Any], key: str) -> str | None:
    value = obj.get(key)
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)
    return None


def _envelope_time(body: Mapping[str, Any]) -> datetime | None:
    for key in ("timestamp", "occurredAt", "createdAt"):
        found = vocab.parse_time(body.get(key))
        if found is not None:
            return found
    return None


# Statuses ------------------------------------------------------------------------------

# Bird's status -> (neutral stage, the call's timestamp field that dates it).
STAGES: dict[str, tuple[str, str]] = {
    "accepted": ("initiated", "createdAt"),
    "starting": ("initiated", "createdAt"),
    "ringing": ("ringing", "ringingAt"),
    "ongoing": ("answered", "answeredAt"),
    "completed": ("ended", "endedAt"),
    "no-answer": ("ended", "endedAt"),
    "busy": ("ended", "endedAt"),
    "failed": ("ended", "endedAt"),
    "canceled": ("ended", "endedAt"),  # unconfirmed
}
LABEL_DIRECTIONS = {"voice.inbound": Direction.INBOUND, "voice.outbound": Direction.OUTBOUND}


class _Status:
    """One callback's call object and the status it reports."""

    def __init__(self, call: dict[str, Any], body: dict[str, Any], raw: dict[str, Any],
                 label: str | None) -> None:
        self.call, self.body, self.raw, self.label = call, body, raw, label
        self.status = vocab.word(call.get("status"))
        self.call_id = _text(call, "id") or _text(call, "callId")
        self.identity: dict[str, Any] = (
            {"call": self.call_id} if self.call_id else {"body": raw})
        tags = call.get("tags")
        found = [t for t in tags if isinstance(t, str) and t] if isinstance(tags, list) else []
        self.tag = found[0] if found else None

    def _time(self, field: str) -> datetime | None:
        return (vocab.parse_time(self.call.get(field))
                or vocab.parse_time(self.call.get("updatedAt")) or _envelope_time(self.body))

    def _common(self, key: dict[str, Any], occurred_at: datetime | None) -> dict[str, Any]:
        return {"id": digest(PROVIDER, {**self.identity, **key}), "provider": PROVIDER,
                "call_id": self.call_id, "occurred_at": occurred_at, "tag": self.tag,
                "raw": self.raw}

    def events(self) -> list[BaseEvent]:
        events: list[BaseEvent] = []
        stage = STAGES.get(self.status) if self.status else None
        if stage is None:
            shown = self.label or (f"status:{self.status}" if self.status else None)
            # Keyed on the status word (a redelivery collapses); without one, on the body.
            key = {"status": self.status} if self.status else {"body": self.raw}
            events.append(UnknownEvent(**self._common(key, self._time("updatedAt")),
                                       provider_type=shown))
        else:
            name, field = stage
            common = self._common({"event": name}, self._time(field))
            events.append(self._event(name, common))
        gathered = gather_result(self.call, self.body)
        if gathered is not None:
            events.append(DigitsGathered(
                **self._common({"event": "gather", "flow": gathered.call_flow_id,
                                "command": gathered.command_id, "keys": gathered.keys},
                               self._time("updatedAt")),
                digits=gathered.keys))
        amd = self.call.get("amdResult")
        result = amd.get("result") if isinstance(amd, dict) else None
        if isinstance(result, str) and result.strip():
            events.append(MachineDetected(
                **self._common({"event": "amd"}, self._time("answeredAt")),
                result=vocab.machine_result(result)))
        return events

    def _event(self, name: str, common: dict[str, Any]) -> BaseEvent:
        if name == "initiated":
            return CallInitiated(**common, direction=self._direction(),
                                 **{"from": vocab.phone(self.call.get("from"))
                                    or vocab.party_number(self.call.get("originator"))},
                                 to=vocab.phone(self.call.get("to"))
                                 or vocab.party_number(self.call.get("receiver")))
        if name == "ringing":
            return CallRinging(**common)
        if name == "answered":
            return CallAnswered(**common)
        if self.status == "failed":
            return CallFailed(**common, reason=_text(self.call, "reason") or "failed")
        reason = vocab.end_reason(self.status, self.call.get("hangupSource"),
                                  self.call.get("direction")) or EndReason.UNKNOWN
        return CallCompleted(**common, end_reason=reason,
                             end_reason_raw=_text(self.call, "status"),
                             duration=self._duration())

    def _direction(self) -> Direction:
        found = vocab.direction(self.call.get("direction"))
        if found is not Direction.UNKNOWN:
            return found
        by_label = LABEL_DIRECTIONS.get((self.label or "").lower())
        if by_label is not None:
            return by_label
        # Only an outgoing call is ever "accepted" (docs voice-webhooks).
        return Direction.OUTBOUND if self.status == "accepted" else Direction.UNKNOWN

    def _duration(self) -> float | None:
        """Answer -> end in seconds (the simulator's meaning): 0 when never answered."""
        answered = vocab.parse_time(self.call.get("answeredAt"))
        ended = vocab.parse_time(self.call.get("endedAt"))
        if answered is not None and ended is not None and ended >= answered:
            return round((ended - answered).total_seconds(), 3)
        if answered is None and self.status != "completed":
            return 0.0  # busy, no-answer, canceled: never answered
        found = vocab.seconds(self.call.get("duration"))
        return round(found, 3) if found is not None else None
