"""The simulator's callbacks: a trace delivered to the webhook app as a provider would.

Payload (JSON): ``{"id", "type", "call_id", "at", "path", "tag", "data"}``, one event per
request. Signed like modern providers sign: ``X-Univoice-Signature: t=<unix>,v1=<hex>``,
an HMAC-SHA256 with the webhook secret over ``"{t}.{url}.{body}"``, accepted within a
clock-skew window, so tests exercise the same failure modes as a real provider's.
"""

from __future__ import annotations

import hashlib
import hmac
import json
import time
from datetime import datetime, timedelta
from typing import TYPE_CHECKING, Any

from univoice.events import (
    BaseEvent,
    CallAnswered,
    CallCompleted,
    CallFailed,
    CallInitiated,
    CallRinging,
    ConferenceMemberJoined,
    ConferenceMemberLeft,
    DigitsGathered,
    MachineDetected,
    RecordingCompleted,
    TranscriptionAvailable,
    TransferAnswered,
    TransferCompleted,
    UnknownEvent,
)
from univoice.models import Direction, EndReason
from univoice.webhooks.request import WebhookRejected, WebhookRequest

if TYPE_CHECKING:
    import httpx

    from univoice.simulator.trace import Trace

SIGNATURE_HEADER = "x-univoice-signature"
SKEW = 300.0  # seconds a signature stays valid either side of now
# The trace kinds a provider would call back about (the rest is what the caller hears).
CALLBACK_KINDS = frozenset({
    "initiated", "ringing", "answered", "machine_detected", "gathered", "recorded",
    "transcribed", "transfer_answered", "transfer_ended", "transfer_no_answer",
    "conference_joined", "conference_left", "completed"})


def sign(secret: str, url: str, body: bytes, now: float | None = None) -> str:
    t = int(time.time() if now is None else now)
    mac = hmac.new(secret.encode(), f"{t}.{url}.".encode() + body, hashlib.sha256)
    return f"t={t},v1={mac.hexdigest()}"


def verify(secret: str | None, request: WebhookRequest, now: float | None = None) -> None:
    if secret is None:
        return  # no secret configured: the simulator runs open (as in the demo)
    header = request.header(SIGNATURE_HEADER)
    if not header:
        raise WebhookRejected(401, f"missing {SIGNATURE_HEADER} header")
    try:
        parts = dict(item.split("=", 1) for item in header.split(","))
        t, given = int(parts["t"]), parts["v1"]
    except (ValueError, KeyError):
        raise WebhookRejected(401, f"malformed {SIGNATURE_HEADER} header") from None
    current = time.time() if now is None else now
    if abs(current - t) > SKEW:
        raise WebhookRejected(401, "signature timestamp outside the allowed window")
    expected = sign(secret, request.url, request.body, now=t).split("v1=", 1)[1]
    if not hmac.compare_digest(expected, given):
        raise WebhookRejected(401, "signature does not match")


def payloads(trace: Trace, tag: str | None = None, start: datetime | None = None
             ) -> list[dict[str, Any]]:
    """The callbacks a provider would send for ``trace``."""
    base = start or datetime.fromtimestamp(0).astimezone()
    out = []
    for index, event in enumerate(trace.events):
        if event.kind.value in CALLBACK_KINDS:
            out.append({"id": f"{trace.call_id}-{index}", "type": event.kind.value,
                        "call_id": trace.call_id, "path": event.path, "tag": tag,
                        "at": (base + timedelta(seconds=event.at)).isoformat(),
                        "from": trace.from_, "to": trace.to, "data": dict(event.data)})
    return out


def parse(request: WebhookRequest) -> list[BaseEvent]:
    payload = request.json()
    if not isinstance(payload, dict) or not isinstance(payload.get("id"), str) or not (
            isinstance(payload.get("type"), str)):
        raise WebhookRejected(400, "a simulator callback is an object with 'id' and 'type'")
    data: dict[str, Any] = payload["data"] if isinstance(payload.get("data"), dict) else {}
    common: dict[str, Any] = {
        "id": payload["id"], "provider": "simulator", "call_id": payload.get("call_id"),
        "tag": payload.get("tag"), "raw": payload}
    try:
        common["occurred_at"] = datetime.fromisoformat(payload["at"]) if payload.get(
            "at") else None
    except (TypeError, ValueError):
        raise WebhookRejected(400, f"'at' is not an ISO-8601 time: {payload['at']!r}") from None
    kind = payload["type"]
    if kind in ("initiated", "inbound"):
        direction = Direction.INBOUND if kind == "inbound" else Direction.OUTBOUND
        return [CallInitiated(**common, direction=direction,
                              **{"from": payload.get("from")}, to=payload.get("to"))]
    if kind == "ringing":
        return [CallRinging(**common)]
    if kind == "answered":
        return [CallAnswered(**common)]
    if kind == "machine_detected":
        result = data.get("result")
        return [MachineDetected(**common, result=result if result in (
            "human", "machine") else "unknown")]
    if kind == "gathered":
        return [DigitsGathered(**common, digits=str(data.get("digits", "")),
                               variable=data.get("variable"))]
    if kind == "recorded":
        return [RecordingCompleted(**common, recording_id=data.get("recording_id"),
                                   duration=data.get("duration"))]
    if kind == "transcribed":
        return [TranscriptionAvailable(**common, recording_id=data.get("recording_id"),
                                       text=data.get("text"))]
    if kind == "transfer_answered":
        return [TransferAnswered(**common, target=data.get("target"))]
    if kind in ("transfer_ended", "transfer_no_answer"):
        return [TransferCompleted(**common, target=data.get("target"),
                                  cause="hangup" if kind == "transfer_ended" else "no_answer")]
    if kind == "conference_joined":
        return [ConferenceMemberJoined(**common, name=data.get("name"),
                                       conference_id=f"conf-{data.get('name')}")]
    if kind == "conference_left":
        return [ConferenceMemberLeft(**common, name=data.get("name"),
                                     conference_id=f"conf-{data.get('name')}")]
    if kind == "completed":
        reason = str(data.get("reason"))
        try:
            end = EndReason(reason)
        except ValueError:
            end = EndReason.UNKNOWN
        if end == EndReason.FAILED:
            return [CallFailed(**common, reason=reason)]
        return [CallCompleted(**common, end_reason=end, end_reason_raw=reason,
                              duration=data.get("duration"))]
    return [UnknownEvent(**common, provider_type=kind)]


def inbound_payload(call_id: str, from_: str, to: str) -> dict[str, Any]:
    """What the simulator sends to ask the app how to answer an inbound call."""
    return {"id": f"{call_id}-inbound", "type": "inbound", "call_id": call_id,
            "from": from_, "to": to, "at": datetime.now().astimezone().isoformat()}


def deliver(trace: Trace, url: str, client: httpx.Client, *, secret: str | None = None,
            tag: str | None = None) -> list[httpx.Response]:
    """POST each callback of ``trace`` to ``url`` (the app's events URL), signed."""
    responses = []
    for payload in payloads(trace, tag):
        body = json.dumps(payload).encode()
        headers = {"content-type": "application/json"}
        if secret is not None:
            headers[SIGNATURE_HEADER] = sign(secret, url, body)
        responses.append(client.post(url, content=body, headers=headers))
    return responses
