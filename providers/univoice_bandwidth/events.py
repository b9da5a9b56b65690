"""Bandwidth callbacks -> neutral events, and their verification (HTTP Basic).

Bandwidth signs nothing: it sends, on each callback, the HTTP Basic credentials univoice
set on the URL (``callback_username``/``callback_password``), so that is all ``verify``
can check. A callback is a JSON object POSTed, or the same fields as query parameters
when the verb asked for ``GET``. Dispatch is on ``eventType`` alone (a documentation
sample labels a conferenceCreated example ``conferenceCompleted``: the label wins).

Bandwidth callbacks carry no event id, so an event's ``id`` is a digest of the (redacted)
payload: a redelivery has the same id, two gathers of one call differ at least in
``eventTime``. Every field is read tolerantly (a wrong type becomes ``None``); only a body
that is not a JSON object, or has no ``eventType``, is refused (400).
"""

from __future__ import annotations

import base64
import hashlib
import hmac
import json
import math
import re
from collections.abc import Callable
from typing import TYPE_CHECKING, Any

from univoice.events import (
    BaseEvent,
    CallAnswered,
    CallCompleted,
    CallFailed,
    CallInitiated,
    ConferenceCompleted,
    ConferenceCreated,
    ConferenceMemberJoined,
    ConferenceMemberLeft,
    DigitsGathered,
    MachineDetected,
    RecordingAvailable,
    RecordingCompleted,
    TranscriptionAvailable,
    TransferAnswered,
    TransferCompleted,
    TransferLegEnded,
    UnknownEvent,
    digest,
)
from univoice.models import Direction, EndReason, RecordingStatus, TranscriptionStatus
from univoice.redact import Redactor
from univoice.webhooks.request import WebhookRejected, decode_json
from univoice_bandwidth import vocab

if TYPE_CHECKING:
    from univoice.webhooks.request import WebhookRequest
    from univoice_bandwidth.settings import BandwidthSettings

PROVIDER = "bandwidth"
MAX_BODY = 256 * 1024  # the app caps bodies too; this keeps parse() safe when called alone
MAX_DEPTH = 8  # real callbacks nest 2 deep (transcription, diversion, machineDetectionResult)
_REDACTOR = Redactor()
_JSON_KINDS = {"list": "an array", "str": "a string", "int": "a number", "float": "a number",
               "bool": "a boolean", "NoneType": "null"}


# Verification -------------------------------------------------------------------------


def verify(settings: BandwidthSettings, request: WebhookRequest) -> None:
    """Raise ``WebhookRejected(401)`` unless the callback carries the callback credentials."""
    user, password = settings.callback_username, settings.callback_password
    if user is None or password is None:
        # Never an open route by default: without credentials anyone could fake events.
        raise WebhookRejected(401, "Bandwidth callbacks are refused until "
                                   "bandwidth.callback_username and "
                                   "bandwidth.callback_password are set")
    header = request.header("authorization")
    if not header:
        raise WebhookRejected(401, "missing Authorization header (HTTP Basic expected)")
    scheme, _, token = header.strip().partition(" ")
    if scheme.lower() != "basic":
        raise WebhookRejected(401, "Authorization is not HTTP Basic")
    try:
        given = base64.b64decode(token.strip(), validate=True)
    except ValueError:  # binascii.Error, and non-ASCII text
        raise WebhookRejected(401, "malformed HTTP Basic credentials") from None
    expected = f"{user}:{password.get_secret_value()}".encode()
    # Hash first so the comparison time depends on neither value nor length.
    if not hmac.compare_digest(hashlib.sha256(given).digest(),
                               hashlib.sha256(expected).digest()):
        raise WebhookRejected(401, "HTTP Basic credentials do not match")


# Parsing ------------------------------------------------------------------------------


def parse(request: WebhookRequest) -> list[BaseEvent]:
    """The neutral events of one callback."""
    payload = _payload(request)
    kind = payload.get("eventType")
    if not isinstance(kind, str) or not kind.strip():
        raise WebhookRejected(400, "a Bandwidth callback needs a string 'eventType'")
    raw: dict[str, Any] = _REDACTOR.payload(payload)
    # Digest of what is stored (raw), so the id can be recomputed from the event itself.
    common: dict[str, Any] = {
        "id": digest(PROVIDER, raw), "provider": PROVIDER,
        "call_id": _text(payload, "callId") or None,
        "occurred_at": vocab.parse_time(payload.get("eventTime")),
        "tag": _text(payload, "tag") or None, "raw": raw}
    handler = _HANDLERS.get(kind)
    if handler is None:
        return [UnknownEvent(**common, provider_type=kind)]
    return handler(payload, common)


def _payload(request: WebhookRequest) -> dict[str, Any]:
    if request.method.upper() == "GET" or (not request.body and "eventType" in request.query):
        if not request.query:
            raise WebhookRejected(400, "a GET callback carries its fields as query "
                                       "parameters, and there are none")
        query = dict(request.query)
        try:  # the app's query parsing replaces bad UTF-8; a hand-built request may not
            json.dumps(query, ensure_ascii=False).encode()
        except UnicodeEncodeError:
            raise WebhookRejected(400, "query has a lone surrogate (not Unicode)") from None
        return query
    if not request.body:
        raise WebhookRejected(400, "empty body")
    loaded = _decode(request.body)
    if not isinstance(loaded, dict):
        kind = _JSON_KINDS.get(type(loaded).__name__, "something else")
        raise WebhookRejected(400, f"a Bandwidth callback is a JSON object, not {kind}")
    return loaded


def _decode(body: bytes) -> Any:
    return decode_json(body, max_body=MAX_BODY, max_depth=MAX_DEPTH)


# Field readers: tolerant, never raising ----------------------------------------------
# Causes, statuses and AMD words come from ``vocab``, shared with the REST parsers, so a
# call's end reads the same from GET /calls/{id} and from its disconnect callback.


def _text(payload: dict[str, Any], key: str) -> str | None:
    value = payload.get(key)
    if isinstance(value, str):
        return value
    if isinstance(value, int) and not isinstance(value, bool):
        return str(value)  # e.g. digits sent as a number
    if isinstance(value, float) and math.isfinite(value):
        return str(value)
    return None


def _seconds(value: Any) -> float | None:
    """An ISO-8601 duration ("PT20.056S") or plain seconds; None if absurd."""
    if isinstance(value, int) and not isinstance(value, bool) and abs(value) > 10**15:
        return None  # float() of a huge int overflows
    seconds = vocab.parse_duration(value)
    return round(seconds, 3) if seconds is not None and math.isfinite(seconds) else None


def _object(payload: dict[str, Any], key: str) -> dict[str, Any]:
    """A nested object; in the GET form (encoding unconfirmed) also a JSON string or
    flattened ``key.sub`` / ``key[sub]`` parameters."""
    value = payload.get(key)
    if isinstance(value, dict):
        return value
    if isinstance(value, str) and value.lstrip().startswith("{"):
        try:
            loaded = _decode(value.encode())
        except WebhookRejected:
            return {}
        return loaded if isinstance(loaded, dict) else {}
    flat = re.compile(rf"{re.escape(key)}(?:\.(\w+)|\[(\w+)\])")
    found: dict[str, Any] = {}
    for name, item in payload.items():
        match = flat.fullmatch(name)
        if match:
            found[match.group(1) or match.group(2)] = item
    return found


def _direction(payload: dict[str, Any], default: Direction) -> Direction:
    value = _text(payload, "direction")
    return {"inbound": Direction.INBOUND, "outbound": Direction.OUTBOUND}.get(
        (value or "").lower(), default)


def _amd_result(payload: dict[str, Any]) -> vocab.MachineResult | None:
    """The neutral AMD result, or None when the payload carries no result."""
    found = _object(payload, "machineDetectionResult")
    value = _text(found, "value") if found else _text(payload, "machineDetectionResult")
    if value is None:
        return None
    return vocab.machine_result(value.strip())  # silence/timeout/error -> unknown


def _talk_time(payload: dict[str, Any]) -> float | None:
    """Answer -> end in seconds, 0 if never answered (the simulator's meaning)."""
    end = vocab.parse_time(payload.get("endTime"))
    if end is None:
        return None
    answered = vocab.parse_time(payload.get("answerTime"))
    if answered is None:
        return 0.0
    seconds = (end - answered).total_seconds()
    return round(seconds, 3) if seconds >= 0 else None


def _transfer_cause(payload: dict[str, Any]) -> str | None:
    """The neutral words where there are some (so a handler reads "no_answer" on every
    provider), else Bandwidth's own cause."""
    cause = _text(payload, "cause")
    if not cause:
        return None
    reason = vocab.end_reason(cause)
    return reason.value if reason is not EndReason.UNKNOWN else cause


# Handlers, one per eventType ----------------------------------------------------------

Handler = Callable[[dict[str, Any], dict[str, Any]], list[BaseEvent]]


def _initiate(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    # initiate is only ever sent for an inbound call.
    return [CallInitiated(**common, direction=_direction(p, Direction.INBOUND),
                          **{"from": _text(p, "from")}, to=_text(p, "to"))]


def _answer(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    events: list[BaseEvent] = [CallAnswered(**common)]
    result = _amd_result(p)
    if result is not None:  # machine detection in sync mode rides on the answer
        events.append(MachineDetected(**{**common, "id": f"{common['id']}#amd"},
                                      result=result))
    return events


def _machine(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    return [MachineDetected(**common, result=_amd_result(p) or "unknown")]


def _gather(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    digits = _text(p, "digits") or ""
    finish = _text(p, "terminatingDigit") or ""
    # Any press of the finish key ends the gather, so a trailing one can only be the
    # terminator itself (docs suggest it is excluded; unconfirmed): keep digits neutral.
    if len(finish) == 1 and digits.endswith(finish):
        digits = digits[:-1]
    # No digit and no finish key: the first-digit timeout. Digits without a finish key
    # are maxDigits or the inter-digit timeout, which the callback does not tell apart.
    terminated_by = finish or ("timeout" if not digits else None)
    return [DigitsGathered(**common, digits=digits, terminated_by=terminated_by)]


def _dtmf(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    # One key pressed during <StartGather>: the only neutral event carrying keys.
    return [DigitsGathered(**common, digits=_text(p, "digit") or "", terminated_by=None)]


def _record_complete(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    return [RecordingCompleted(**common, recording_id=_text(p, "recordingId") or None,
                               duration=_seconds(p.get("duration")))]


def _recording_available(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    # Only a status with downloadable media (or none) is "available"; error, deleted or
    # a new word would send handlers to fetch nothing, so it stays an UnknownEvent.
    status = _text(p, "status")
    if status and vocab.recording_status(status.lower()) is not RecordingStatus.READY:
        return [UnknownEvent(**common, provider_type=str(p["eventType"]))]
    return [RecordingAvailable(**common, recording_id=_text(p, "recordingId") or None,
                               media_url=_text(p, "mediaUrl") or None,
                               duration=_seconds(p.get("duration")),
                               format=_text(p, "fileFormat") or None)]


def _transcription(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    found = _object(p, "transcription")
    status = _text(found, "status")
    if status and vocab.transcription_status(status.lower()) is not TranscriptionStatus.READY:
        return [UnknownEvent(**common, provider_type=str(p["eventType"]))]
    return [TranscriptionAvailable(**common, recording_id=_text(p, "recordingId") or None,
                                   transcription_id=_text(found, "id") or None,
                                   text=_text(found, "text"))]


def _transfer_call(p: dict[str, Any], common: dict[str, Any]) -> dict[str, Any]:
    # B-leg events name the original call in parentCallId: use it, so every event of
    # one transfer shares the call_id of the call that made it (as in the simulator).
    return {**common, "call_id": _text(p, "parentCallId") or common["call_id"]}


def _transfer_answer(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    return [TransferAnswered(**_transfer_call(p, common), target=_text(p, "transferTo"))]


def _transfer_end(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    return [TransferCompleted(**_transfer_call(p, common), target=_text(p, "transferTo"),
                              cause=_transfer_cause(p))]


def _transfer_leg_end(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    # Sent for every leg the transfer rang (several with simultaneous ringing), and also
    # when the caller hung up mid-transfer: a leg's end, not the transfer's outcome.
    return [TransferLegEnded(**_transfer_call(p, common), leg_id=common["call_id"],
                             target=_text(p, "transferTo"), cause=_transfer_cause(p))]


def _bridge_end(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    return [TransferCompleted(**common, target=None, cause=_transfer_cause(p))]


def _conference(kind: type[ConferenceCreated | ConferenceMemberJoined | ConferenceMemberLeft
                           | ConferenceCompleted]) -> Handler:
    def handle(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
        return [kind(**common, conference_id=_text(p, "conferenceId") or None,
                     name=_text(p, "name") or None)]
    return handle


def _disconnect(p: dict[str, Any], common: dict[str, Any]) -> list[BaseEvent]:
    cause = _text(p, "cause") or None
    end = vocab.end_reason(cause)
    if end is EndReason.FAILED:  # callback-error, invalid-bxml, account-limit, ...
        return [CallFailed(**common, reason=cause)]
    return [CallCompleted(**common, end_reason=end, end_reason_raw=cause,
                          duration=_talk_time(p))]


_HANDLERS: dict[str, Handler] = {
    "initiate": _initiate,
    "answer": _answer,
    "machineDetectionComplete": _machine,
    "gather": _gather,
    "dtmf": _dtmf,
    "recordComplete": _record_complete,
    "recordingComplete": _record_complete,  # the spec's spelling of the same event
    "recordingAvailable": _recording_available,
    "conferenceRecordingAvailable": _recording_available,
    "transcriptionAvailable": _transcription,
    "transferAnswer": _transfer_answer,
    "transferComplete": _transfer_end,
    "transferDisconnect": _transfer_leg_end,
    "bridgeComplete": _bridge_end,
    "bridgeTargetComplete": _bridge_end,
    "conferenceCreated": _conference(ConferenceCreated),
    "conferenceMemberJoin": _conference(ConferenceMemberJoined),
    "conferenceMemberExit": _conference(ConferenceMemberLeft),
    "conferenceCompleted": _conference(ConferenceCompleted),
    "disconnect": _disconnect,
    # redirect / conferenceRedirect only ask for the next BXML: plumbing univoice drives
    # itself (the webhook app serves that document); to handlers they are UnknownEvents.
}
