"""MessageBird Voice Calling REST operations: neutral arguments -> requests, responses ->
neutral models. Sans-I/O (``univoice.operations.Operation``): the transport sends them.

Paths, bodies and answers follow ../shared/reference/PROVIDERS.md §1.1/§2.1 and the
corrected spec (tests/specs/messagebird-voice-seed.openapi.yml, tests/specs/CORRECTIONS.md):
base ``https://voice.messagebird.com``, ``Authorization: AccessKey <key>`` (``auth``), the
dated ``X-MessageBird-Version`` header on every request (``settings.api_version``); every
answer is an envelope ``{data: [...], _links, pagination}``, a single object included (a
one-element ``data``); errors are ``{data: null, errors: [{code, message}]}``; lists page by
``page``/``perPage``, and a list's cursor is the next page's number.

What takes more than one request, and how (each decision is also in the method's doc):

- ``get_call`` reads the call (``GET /calls/{id}``), then its legs (``GET /calls/{id}/legs``):
  a call object has no answer time or duration, its legs do. The legs are read by a
  follow-up operation (``Operation.then``, a core addition: see ``follow``); where the
  core does not run follow-ups yet, ``get_call`` returns the call without its legs, and
  ``call_legs(call)`` reads them as an operation of its own. ``calls.list`` never reads legs
  (one request per call listed would be needed).
- ``list_recordings(call_id)`` walks the call's legs: the first page is the legs list (no
  items), each further page one page of one leg's recordings
  (``GET /calls/{c}/legs/{l}/recordings``); the cursor carries where the walk is. MessageBird
  has no account-wide recordings list, so ``call_id`` is required.
- ``get_transcription`` lists the recording's transcriptions (the latest one wins), then,
  once it is done, reads its text (``GET /transcriptions/{id}.txt``) as a follow-up.
- A create whose answer was lost is looked up in the first page of ``GET /calls`` (see
  ``_find_created``): MessageBird keeps no tag or idempotency key on a call.
"""

from __future__ import annotations

import base64
import binascii
import dataclasses
import json
import re
from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from decimal import Decimal, InvalidOperation
from itertools import pairwise
from typing import TYPE_CHECKING, Any, TypeVar, cast
from urllib.parse import quote

import httpx

from univoice.capabilities import Feature, Resource
from univoice.errors import (
    AmbiguousCreate,
    ConfigError,
    FlowIssue,
    InvalidArguments,
    NotFound,
    UnsupportedFeature,
)
from univoice.models import (
    FINAL_STATUSES,
    Call,
    CallStatus,
    Direction,
    EndReason,
    Leg,
    Page,
    Recording,
    RecordingStatus,
    StoredFlow,
    Transcription,
    TranscriptionStatus,
    WebhookSubscription,
)
from univoice.operations import Operation, build_request, json_body, malformed
from univoice.provider import Provider, ProviderSettings
from univoice.redact import Redactor
from univoice_messagebird import compile, vocab
from univoice_messagebird.auth import AccessKeyAuth, api_auth
from univoice_messagebird.settings import MessageBirdSettings

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.params import CallFilters, CreateCall, UpdateCall

T = TypeVar("T")
NAME = "messagebird"
# How far before a create the reconciling lookup looks: the create's own latency plus clock
# skew between this machine and MessageBird.
RECONCILE_WINDOW = timedelta(minutes=2)
RECONCILE_PAGE = 50  # calls the lookup reads (one page; perPage's maximum is unconfirmed)
LEGS_PAGE = 50  # legs read per request
MAX_LEG_PAGES = 20  # a call with more legs than this many pages is read this far
TRANSCRIPTIONS_PAGE = 50
DEFAULT_RING_TIMEOUT = 30.0  # CreateCall's default: "ring for the provider's own time"
_REDACT = Redactor()  # raw payloads: a webhook's `token` is masked
_CURSOR_PREFIX = "mb1."
# The neutral tags of the languages MessageBird transcribes, for messages.
_LANGUAGES = ", ".join(sorted(k for k in vocab.TRANSCRIPTION_LANGUAGES
                              if k not in ("en-UK", "es-LA")))
_NESTED = re.compile(r"/calls/(?P<call>[^/?#]+)/legs/(?P<leg>[^/?#]+)/recordings/")

# Whether ``univoice.operations.Operation`` runs follow-ups (``then``): a core addition
# this adapter asks for (see the report / ``follow``). Read once, at import.
CHAINS = "then" in {f.name for f in dataclasses.fields(Operation)}


class BadPayload(Exception):  # an internal signal: becomes a ProviderError
    """A response body that is JSON but not the documented shape."""


def follow(op: Operation[T], then: Callable[[T], Operation[T] | None]) -> Operation[T]:
    """``op``, to be followed by ``then(result)`` (when not None), whose result replaces
    ``op``'s: a read that takes two requests. Needs the core's ``Operation.then``; without
    it ``op`` is returned alone (and the read stops after its first request)."""
    if not CHAINS:
        return op
    replace = cast(Any, dataclasses.replace)
    chained: Operation[T] = replace(op, then=then)
    return chained


# Envelope --------------------------------------------------------------------------------


def _obj(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadPayload(f"{what} is not a JSON object")
    return data


def _errors_in(body: dict[str, Any]) -> None:
    errors = body.get("errors")
    if isinstance(errors, list) and errors:
        first = errors[0] if isinstance(errors[0], dict) else {}
        raise BadPayload(f"a success status with errors: {first.get('message') or errors[0]}")


def items(body: Any, what: str = "the list") -> list[Any]:
    """The ``data`` array of an envelope (``null`` reads as empty)."""
    envelope = _obj(body, what)
    _errors_in(envelope)
    data = envelope.get("data")
    if data is None and "data" in envelope:
        return []
    if not isinstance(data, list):
        raise BadPayload(f"{what} has no data array")
    return data


def first(body: Any, what: str) -> dict[str, Any]:
    """The one object of a single-object answer: ``data[0]`` (MessageBird answers a single
    GET/POST/PUT with a one-element list). A bare object (the tutorial's examples show the
    objects alone) is read as it is."""
    envelope = _obj(body, what)
    _errors_in(envelope)
    if "data" not in envelope and "id" in envelope:
        return envelope
    data = envelope.get("data")
    if not isinstance(data, list):
        raise BadPayload(f"{what}: the answer has no data array")
    if not data:
        raise BadPayload(f"{what}: the answer's data is empty")
    return _obj(data[0], what)


def links(body: Any) -> dict[str, str]:
    """An object's (or an envelope's) ``_links``, strings only."""
    found = body.get("_links") if isinstance(body, dict) else None
    if not isinstance(found, dict):
        return {}
    return {k: v for k, v in found.items() if isinstance(k, str) and isinstance(v, str)}


def next_page(body: Any, page: int, size: int, count: int) -> str | None:
    """The next page's cursor (its number) from ``pagination``; without a usable one (the
    single-object answers carry all zeros), a full page is taken to have a successor."""
    info = body.get("pagination") if isinstance(body, dict) else None
    pages = info.get("pageCount") if isinstance(info, dict) else None
    if isinstance(pages, int) and not isinstance(pages, bool) and pages > 0:
        return str(page + 1) if page < pages else None
    return str(page + 1) if count >= size > 0 else None


# Parsers: MessageBird JSON -> neutral models (pure; BadPayload for a wrong shape) ------------


MAX_ID = 256  # MessageBird's ids are UUIDs; an id goes into the URLs of follow-up reads


def _id(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value:
        raise BadPayload(f"{what} has no {key}")
    if len(value) > MAX_ID or not value.isprintable():  # control characters, lone surrogates
        raise BadPayload(f"{what} has an {key} no URL can carry")
    return value


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def _money(value: Any) -> Decimal | None:
    if isinstance(value, bool) or not isinstance(value, int | float | str):
        return None
    try:
        amount = Decimal(str(value))
    except InvalidOperation:
        return None
    return amount if amount.is_finite() else None


def parse_leg(data: Any, call_id: str | None = None) -> Leg:
    """A leg (``GET /calls/{id}/legs`` items, ``GET .../legs/{id}``). ``call_id``: the call
    it was listed under, when the leg does not name one."""
    leg = _obj(data, "the leg")
    owner = _str(leg, "callId") or call_id
    if owner is None:
        raise BadPayload("the leg has no callId")
    return Leg(
        provider=NAME, id=_id(leg, "id", "the leg"), call_id=owner,
        direction=vocab.direction(leg.get("direction")),
        from_=vocab.from_messagebird(leg.get("source")),
        to=vocab.from_messagebird(leg.get("destination")),
        status=vocab.leg_status(leg.get("status")),
        created_at=vocab.parse_time(leg.get("createdAt")),
        answered_at=vocab.parse_time(leg.get("answeredAt")),
        ended_at=vocab.parse_time(leg.get("endedAt")),
        duration=vocab.seconds(leg.get("duration")), cost=_money(leg.get("cost")),
        currency=_str(leg, "currency"), raw=_REDACT.payload(leg))


def parse_call(data: Any) -> Call:
    """A call object (``GET /calls/{id}``, ``GET /calls`` items, ``POST /calls``).

    A call object has no answer time and no duration (its legs have them: ``with_legs``).
    Its direction: outbound when it has a destination; inbound when it names only the
    number called (``numberId``, as the tutorial's inbound calls do); unknown otherwise.
    """
    call = _obj(data, "the call")
    word = _str(call, "status")
    ending = vocab.call_ending(word)
    if call.get("destination"):
        direction = Direction.OUTBOUND
    elif call.get("numberId"):
        direction = Direction.INBOUND
    else:
        direction = Direction.UNKNOWN
    return Call(
        provider=NAME, id=_id(call, "id", "the call"), direction=direction,
        from_=vocab.from_messagebird(call.get("source")),
        to=vocab.from_messagebird(call.get("destination")),
        status=vocab.call_status(word), status_raw=word,
        created_at=vocab.parse_time(call.get("createdAt")),
        ended_at=vocab.parse_time(call.get("endedAt")),
        end_reason=ending, end_reason_raw=word if ending else None,
        raw=_REDACT.payload(call))


def primary_leg(call: Call, legs: list[Leg]) -> Leg:
    """The leg that stands for the call: for an outbound call the first outgoing leg to its
    destination (a transfer adds more outgoing legs), for an inbound one its incoming leg;
    else the first leg created."""
    ordered = sorted(legs, key=lambda leg: leg.created_at or datetime.max.replace(tzinfo=UTC))
    if call.direction == Direction.OUTBOUND:
        wanted = [leg for leg in ordered if leg.direction != Direction.INBOUND
                  and (call.to is None or leg.to == call.to)]
    elif call.direction == Direction.INBOUND:
        wanted = [leg for leg in ordered if leg.direction == Direction.INBOUND]
    else:
        wanted = []
    return (wanted or ordered)[0]


def with_legs(call: Call, legs: list[Leg]) -> Call:
    """The call with its legs, and what they tell: when it was answered, how long it
    lasted, how it ended (busy, no answer, failed: the call itself says only ``ended``),
    and that it rings.

    A leg whose ``endedAt`` precedes its ``answeredAt`` (the tutorial's example does) keeps
    both as given; the call's duration is then the leg's own ``duration``, or None.
    """
    if not legs:
        return call.model_copy(update={"legs": []})
    lead = primary_leg(call, legs)
    word = lead.raw.get("status") if isinstance(lead.raw.get("status"), str) else None
    status, reason, reason_raw = call.status, call.end_reason, call.end_reason_raw
    direction = call.direction
    if direction == Direction.UNKNOWN:
        direction = lead.direction
    if status in FINAL_STATUSES:
        if lead.status in (CallStatus.BUSY, CallStatus.NO_ANSWER, CallStatus.FAILED):
            status = lead.status
        reason = vocab.leg_ending(word) or reason or EndReason.UNKNOWN
        reason_raw = word or reason_raw
    elif status in (CallStatus.QUEUED, CallStatus.INITIATED) and (
            lead.status == CallStatus.RINGING):
        status = CallStatus.RINGING
    answered = lead.answered_at
    ended = call.ended_at or (lead.ended_at if status in FINAL_STATUSES else None)
    duration = lead.duration
    if duration is None and answered is not None and lead.ended_at is not None and (
            lead.ended_at >= answered):
        duration = (lead.ended_at - answered).total_seconds()
    return call.model_copy(update={
        "legs": legs, "direction": direction, "status": status, "end_reason": reason,
        "end_reason_raw": reason_raw, "answered_at": answered, "ended_at": ended,
        "duration": duration})


def parse_recording(data: Any, *, call_id: str | None = None,
                    fallback_links: dict[str, str] | None = None,
                    api_url: str = "https://voice.messagebird.com") -> Recording:
    """A recording object. Its call is named by its nested links
    (``/calls/{c}/legs/{l}/recordings/{r}``, the one whose leg is the recording's
    ``legId``: py_recording_view.json's links disagree with each other), else ``call_id``
    (the call it was listed under). ``fallback_links``: the envelope's ``_links``, where
    the Python SDK fixture puts the recording's ``file``."""
    rec = _obj(data, "the recording")
    rec_id = _id(rec, "id", "the recording")
    own, envelope = links(rec), fallback_links or {}
    found = {**envelope, **own}
    leg_id = _str(rec, "legId")
    owner = None
    for link in (own.get("file"), own.get("self"), envelope.get("file"), envelope.get("self")):
        match = _NESTED.search(link or "")
        if match and (leg_id is None or match["leg"] == leg_id):
            owner = match["call"]
            break
    status = vocab.recording_status(rec.get("status"))
    if rec.get("deletedAt"):
        status = RecordingStatus.DELETED
    fmt = _str(rec, "format")
    file = found.get("file")
    media = None
    if file:
        media = file if file.startswith(("https://", "http://")) else (
            f"{api_url.rstrip('/')}/{file.lstrip('/')}")
    return Recording(
        provider=NAME, id=rec_id, call_id=owner or call_id, status=status,
        duration=vocab.seconds(rec.get("duration")), format=fmt.lower() if fmt else None,
        media_url=media, created_at=vocab.parse_time(rec.get("createdAt")),
        raw=_REDACT.payload(rec))


def parse_transcription(data: Any, recording: Recording | None = None) -> Transcription:
    """A transcription object (its text is a file of its own: ``.txt``). The Go SDK reads
    ``recordingID``; the objects and the spec say ``recordingId``: both are read."""
    item = _obj(data, "the transcription")
    recording_id = _str(item, "recordingId") or _str(item, "recordingID") or (
        recording.id if recording is not None else None)
    return Transcription(
        provider=NAME, id=_id(item, "id", "the transcription"), recording_id=recording_id,
        call_id=recording.call_id if recording is not None else None,
        status=vocab.transcription_status(item.get("status")), raw=_REDACT.payload(item))


def parse_flow(data: Any) -> StoredFlow:
    """A stored call flow; ``document`` is the call flow itself (title, record, steps)."""
    flow = _obj(data, "the call flow")
    document = {k: flow[k] for k in ("title", "record", "steps") if k in flow}
    return StoredFlow(provider=NAME, id=_id(flow, "id", "the call flow"),
                      name=_str(flow, "title"), document=_REDACT.payload(document),
                      created_at=vocab.parse_time(flow.get("createdAt")),
                      raw=_REDACT.payload(flow))


def parse_webhook(data: Any) -> WebhookSubscription:
    """A voice webhook (its ``token`` is masked in ``raw``)."""
    hook = _obj(data, "the webhook")
    url = _str(hook, "url")
    if url is None:
        raise BadPayload("the webhook has no url")
    events = hook.get("events")
    return WebhookSubscription(
        provider=NAME, id=_id(hook, "id", "the webhook"), url=url,
        events=[e for e in events if isinstance(e, str)] if isinstance(events, list) else [],
        created_at=vocab.parse_time(hook.get("createdAt")), raw=_REDACT.payload(hook))


# Response readers ------------------------------------------------------------------------


def _reading(name: str, parse: Callable[[Any], T]) -> Callable[[httpx.Response], T]:
    """JSON, then ``parse``; any wrong shape is a ProviderError that keeps the raw body."""
    def read(response: httpx.Response) -> T:
        data = json_body(response, NAME, name)
        try:
            return parse(data)
        except BadPayload as exc:
            raise malformed(response, NAME, name, str(exc)) from None

    return read


def _none(response: httpx.Response) -> None:
    return None


def _stream(response: httpx.Response) -> httpx.Response:
    return response


def _invalid(name: str, message: str) -> InvalidArguments:
    return InvalidArguments([FlowIssue(name, message)])


def _page_number(cursor: str | None) -> int:
    if cursor is None:
        return 1
    if not cursor.isdigit() or not 1 <= int(cursor) <= 10**9:
        raise _invalid("cursor", "is not a MessageBird page number")
    return int(cursor)


def _node_prefix(flow_url: str) -> str:
    """The stored flow's node-URL prefix from the URL of its first document
    (``.../flow/{id}/start`` -> ``.../flow/{id}/``)."""
    base = flow_url.split("?", 1)[0]
    return base[: -len("start")] if base.endswith("/start") else base.rsplit("/", 1)[0] + "/"


# The walk of a call's recordings: where it is, as an opaque cursor --------------------------


@dataclasses.dataclass(frozen=True)
class RecordingsWalk:
    """Where ``list_recordings`` is in a call: reading legs page ``legs_page`` (``legs`` is
    None), or reading page ``page`` of the recordings of ``legs[index]``."""

    call_id: str
    legs_page: int = 1
    legs: tuple[str, ...] | None = None
    more_legs: bool = False
    index: int = 0
    page: int = 1

    def encode(self) -> str:
        data: dict[str, Any] = {"c": self.call_id, "lp": self.legs_page}
        if self.legs is not None:
            data.update(l=list(self.legs), lm=self.more_legs, i=self.index, p=self.page)
        text = json.dumps(data, separators=(",", ":")).encode()
        return _CURSOR_PREFIX + base64.urlsafe_b64encode(text).decode().rstrip("=")

    @classmethod
    def decode(cls, cursor: str, call_id: str) -> RecordingsWalk:
        wrong = _invalid("cursor", "is not a recordings cursor of this call")
        if not cursor.startswith(_CURSOR_PREFIX) or len(cursor) > 8192:
            raise wrong
        body = cursor[len(_CURSOR_PREFIX):]
        try:
            data = json.loads(base64.urlsafe_b64decode(body + "=" * (-len(body) % 4)))
        except (binascii.Error, ValueError, UnicodeDecodeError):
            raise wrong from None
        if not isinstance(data, dict) or data.get("c") != call_id:
            raise wrong
        numbers = [data.get(k, 1) for k in ("lp", "i", "p")]
        if not all(isinstance(n, int) and not isinstance(n, bool) and n >= 0 for n in numbers):
            raise wrong
        legs = data.get("l")
        if legs is None:
            return cls(call_id, legs_page=max(1, numbers[0]))
        if not (isinstance(legs, list) and legs and all(isinstance(x, str) and x for x in legs)
                and numbers[1] < len(legs) and isinstance(data.get("lm", False), bool)):
            raise wrong
        return cls(call_id, max(1, numbers[0]), tuple(legs), bool(data.get("lm")),
                   numbers[1], max(1, numbers[2]))

    def after_legs(self, legs: list[str], more: bool) -> RecordingsWalk | None:
        if legs:
            return dataclasses.replace(self, legs=tuple(legs), more_legs=more, index=0, page=1)
        return dataclasses.replace(self, legs_page=self.legs_page + 1) if more else None

    def after_recordings(self, more: bool) -> RecordingsWalk | None:
        assert self.legs is not None
        if more:
            return dataclasses.replace(self, page=self.page + 1)
        if self.index + 1 < len(self.legs):
            return dataclasses.replace(self, index=self.index + 1, page=1)
        if self.more_legs:
            return RecordingsWalk(self.call_id, legs_page=self.legs_page + 1)
        return None


class MessageBirdOperations(Provider):
    """The REST half of the MessageBird provider (``MessageBirdProvider`` adds the rest)."""

    def __init__(self, settings: ProviderSettings | None = None, **values: Any) -> None:
        super().__init__(settings, **values)
        # "Now" for the reconciling lookup's window; tests pin it.
        self.clock: Callable[[], datetime] = _utcnow

    @property
    def _settings(self) -> MessageBirdSettings:
        assert isinstance(self.settings, MessageBirdSettings)
        return self.settings

    # Transport ----------------------------------------------------------------------------

    def auth(self) -> AccessKeyAuth:
        """``Authorization: AccessKey <key>``; ``ConfigError`` naming ``access_key`` when it
        is not set (raised when a client is built, before any request)."""
        return api_auth(self._settings)

    def error_details(self, response: httpx.Response) -> tuple[str, str | None, str | None]:
        """MessageBird's error body ``{data: null, errors: [{code, message, parameter?}]}``:
        every error's message (with its parameter, when named), the first one's code."""
        message, code, request_id = super().error_details(response)
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
            return message, code, request_id
        errors = body.get("errors") if isinstance(body, dict) else None
        if isinstance(errors, list):
            texts, codes = [], []
            for error in errors:
                if not isinstance(error, dict):
                    continue
                text = error.get("message") or error.get("description")
                if isinstance(text, str) and text:
                    parameter = error.get("parameter")
                    texts.append(f"{text} (parameter: {parameter})"
                                 if isinstance(parameter, str) and parameter else text)
                raw_code = error.get("code")
                if raw_code is not None and not isinstance(raw_code, dict | list):
                    codes.append(str(raw_code))
            if texts:
                message = "; ".join(texts)
            if codes:
                code = codes[0]
        return message, code, request_id

    # Requests -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return str(self._settings.api_url).rstrip("/")

    def _url(self, *segments: str) -> str:
        return "/".join([self.base_url, *(quote(s, safe="") for s in segments)])

    def _request(self, method: str, url: str, *, body: Any = None,
                 params: dict[str, Any] | None = None, accept: str | None = None
                 ) -> httpx.Request:
        headers = {"X-MessageBird-Version": self._settings.api_version}
        if accept is not None:
            headers["Accept"] = accept
        return build_request(method, url, json=body, params=params, headers=headers)

    def _op(self, name: str, method: str, url: str, parse: Callable[[httpx.Response], T], *,
            body: Any = None, params: dict[str, Any] | None = None, accept: str | None = None,
            **extra: Any) -> Operation[T]:
        return Operation(name, self._request(method, url, body=body, params=params,
                                             accept=accept), parse, **extra)

    def _paged(self, name: str, page: int, size: int, parse: Callable[[Any], T]
               ) -> Callable[[httpx.Response], Page[T]]:
        def read(response: httpx.Response) -> Page[T]:
            body = json_body(response, NAME, name)
            try:
                found = [parse(item) for item in items(body)]
            except BadPayload as exc:
                raise malformed(response, NAME, name, str(exc)) from None
            return Page(items=found, next_cursor=next_page(body, page, size, len(found)))

        return read

    def refuse(self, feature: str | Resource, detail: str) -> UnsupportedFeature:
        """``UnsupportedFeature`` for something MessageBird's API lacks, raised before any
        request; for a resource, the providers that have it are named."""
        alternatives: list[str] = []
        if isinstance(feature, Resource):
            from univoice.plugins import providers_supporting

            alternatives = [p for p in providers_supporting(feature) if p != self.name]
        return UnsupportedFeature(str(feature), self.name, alternatives=alternatives,
                                  detail=detail)

    def _signing_key(self, why: str) -> str:
        """The signing key, which continuation URLs are signed with (``compile.Links``) and
        the webhook app verifies them by; ``ConfigError`` without one: the app would refuse
        every ``fetchCallFlow`` of the call."""
        key = self._settings.signing_key
        if key is None or not key.get_secret_value():
            raise ConfigError(
                f"[messagebird] {why}, and the app refuses requests it cannot verify: set "
                "signing_key in [messagebird] (the dashboard's signing key, also "
                "UNIVOICE_MESSAGEBIRD__SIGNING_KEY)")
        return key.get_secret_value()

    # Calls --------------------------------------------------------------------------------

    def create_call(self, params: CreateCall) -> Operation[Call]:
        """``POST /calls`` with the call flow inline (``callFlow``): the compiled flow, or,
        for ``answer_url``, one ``fetchCallFlow`` step to it. Numbers go without '+', SIP
        URIs as they are; ``webhook.url`` is ``callback_url`` or the app's callback route.

        A flow the client stored for the webhook app (``flow_url``: it has a menu MessageBird
        cannot run inline) continues at the app's URLs, signed with ``signing_key``
        (``ConfigError`` without one). Refused before any request: ``max_duration`` and a
        ``ring_timeout`` other than the default (``POST /calls`` has neither), machine
        detection (only say steps react to a machine), ``record`` with ``answer_url`` (set
        ``record`` in the call flow the URL serves). ``record`` with a flow records the whole
        call (the call flow's ``record``). No tag reaches MessageBird (it keeps none): the
        created call carries the create's tag, and a lost answer is reconciled by
        ``_find_created``.
        """
        if params.max_duration is not None:
            raise self.refuse("calls.create.max_duration",
                              "MessageBird's POST /calls has no maximum call length; end the "
                              "call with calls.hangup, or end the flow with a hangup step")
        if params.ring_timeout != DEFAULT_RING_TIMEOUT:
            raise self.refuse("calls.create.ring_timeout",
                              "MessageBird's POST /calls has no ring timeout: a call rings "
                              "for MessageBird's own time (leave ring_timeout unset)")
        if params.machine_detection or (
                params.flow is not None and params.flow.machine_detection is not None):
            raise self.unsupported(Feature.FLOW_MACHINE_DETECTION)
        if params.flow is not None:
            links = compile.Links()
            if params.flow_url is not None:
                links = compile.Links(flow=_node_prefix(params.flow_url), key=self._signing_key(
                    "calls.create hands MessageBird continuation URLs of the webhook app"))
            elif compile.needs_app(params.flow):
                from univoice.hosting import missing_host

                raise missing_host(self.name)
            call_flow = dict(compile.start(params.flow, links))
            if params.record:
                call_flow["record"] = True
        else:
            if params.record:
                raise self.refuse("calls.create.record",
                                  "with answer_url MessageBird runs the call flow your URL "
                                  "serves: set \"record\": true in that call flow")
            call_flow = {"steps": [{"action": "fetchCallFlow",
                                    "options": {"url": params.answer_url}}]}
        body: dict[str, Any] = {"source": vocab.to_messagebird(params.from_),
                                "destination": vocab.to_messagebird(params.to),
                                "callFlow": call_flow}
        webhook = params.callback_url or params.events_url
        if webhook:
            body["webhook"] = {"url": webhook}
        name = "calls.create"
        calls_url = self._url("calls")
        since = self.clock() - RECONCILE_WINDOW

        def created(data: Any) -> Call:
            call = parse_call(first(data, "the created call"))
            return call.model_copy(update={"tag": params.tag, "direction": Direction.OUTBOUND})

        def reconcile() -> Operation[Call | None]:
            request = self._request("GET", calls_url,
                                    params={"page": 1, "perPage": RECONCILE_PAGE})

            def find(response: httpx.Response) -> Call | None:
                data = json_body(response, NAME, name)
                try:
                    return self._find_created(data, params, since, name)
                except BadPayload as exc:
                    raise malformed(response, NAME, name, str(exc)) from None

            return Operation(name, request, find)

        return Operation(name, self._request("POST", calls_url, body=body),
                         _reading(name, created), creates=True, tag=params.tag,
                         reconcile=reconcile)

    def _find_created(self, data: Any, params: CreateCall, since: datetime, name: str
                      ) -> Call | None:
        """The call an ambiguous create placed, from the first page of ``GET /calls``.

        MessageBird keeps no tag (nor an idempotency key) on a call and ``GET /calls`` takes
        no filter, so candidates are the calls to the same destination, from the same source
        (when the item names one), created since ``since``. One candidate is the call; none:
        None (the transport then creates again); several: ``AmbiguousCreate``, never a
        guess. So is a lookup that cannot rule out candidates on later pages: the list's
        order is unconfirmed, so later pages are ruled out only when this page runs from
        newest to oldest and reaches back past ``since``. A call without a ``destination``
        (an inbound one names only its number) is not a candidate.
        """
        found = items(data)
        destination = vocab.to_messagebird(params.to)
        source = vocab.to_messagebird(params.from_)
        candidates = []
        for item in found:
            if not isinstance(item, dict) or item.get("destination") != destination:
                continue
            if item.get("source") not in (None, source):
                continue
            created = vocab.parse_time(item.get("createdAt"))
            if created is not None and created < since:
                continue
            candidates.append(item)
        info = data.get("pagination") if isinstance(data, dict) else None
        current, pages = ((info.get("currentPage"), info.get("pageCount"))
                          if isinstance(info, dict) else (None, None))
        more = isinstance(pages, int) and isinstance(current, int) and current < pages
        if more:
            times = [vocab.parse_time(i.get("createdAt")) if isinstance(i, dict) else None
                     for i in found]
            known = [t for t in times if t is not None]
            ordered = len(known) == len(times) and all(
                a >= b for a, b in pairwise(known))
            if not (ordered and known and known[-1] < since):
                raise AmbiguousCreate(
                    f"the create may have happened, and the calls made since "
                    f"{vocab.format_time(since)} may run past the first page of GET /calls; "
                    "it was not repeated", provider=NAME, operation=name, tag=params.tag)
        if len(candidates) > 1:
            raise AmbiguousCreate(
                f"the create may have happened, and {len(candidates)} calls to "
                f"{params.to} since {vocab.format_time(since)} could be it (MessageBird keeps "
                "no tag to tell them apart); it was not repeated", provider=NAME,
                operation=name, tag=params.tag)
        if not candidates:
            return None
        return parse_call(candidates[0]).model_copy(update={"tag": params.tag})

    def get_call(self, call_id: str) -> Operation[Call]:
        """``GET /calls/{id}``, then its legs (``call_legs``) as a follow-up (see ``follow``):
        two requests, so that the call has its legs, answer time, duration and end reason."""
        name = "calls.get"
        op = self._op(name, "GET", self._url("calls", call_id),
                      _reading(name, lambda data: parse_call(first(data, "the call"))))
        return follow(op, lambda call: self.call_legs(call))

    def call_legs(self, call: Call, page: int = 1, legs: tuple[Leg, ...] = ()
                  ) -> Operation[Call]:
        """``call`` with its legs (``GET /calls/{id}/legs``, page by page up to
        ``MAX_LEG_PAGES``); ``legs``: those read from earlier pages."""
        name = "calls.get"
        more = {"legs": False}

        def read(data: Any) -> Call:
            found = [*legs, *(parse_leg(item, call.id) for item in items(data, "the legs"))]
            more["legs"] = next_page(data, page, LEGS_PAGE, len(found) - len(legs)) is not None
            return with_legs(call, found)

        op = self._op(name, "GET", self._url("calls", call.id, "legs"), _reading(name, read),
                      params={"page": page, "perPage": LEGS_PAGE})
        return follow(op, lambda merged: self.call_legs(call, page + 1, tuple(merged.legs))
                      if more["legs"] and page < MAX_LEG_PAGES else None)

    def list_legs(self, call_id: str, cursor: str | None, page_size: int
                  ) -> Operation[Page[Leg]]:
        """A call's legs, a page at a time (not a client method: run it with a transport)."""
        page = _page_number(cursor)
        return self._op("calls.legs", "GET", self._url("calls", call_id, "legs"),
                        self._paged("calls.legs", page, page_size,
                                    lambda item: parse_leg(item, call_id)),
                        params={"page": page, "perPage": page_size})

    def get_leg(self, call_id: str, leg_id: str) -> Operation[Leg]:
        return self._op("calls.legs", "GET", self._url("calls", call_id, "legs", leg_id),
                        _reading("calls.legs",
                                 lambda data: parse_leg(first(data, "the leg"), call_id)))

    def list_calls(self, filters: CallFilters, cursor: str | None, page_size: int
                   ) -> Operation[Page[Call]]:
        """``GET /calls?page&perPage``; the cursor is the next page's number. The calls are
        listed as the list shows them: without their legs (so without answer time or
        duration; ``calls.get`` reads them). ``GET /calls`` takes no filter: every filter is
        refused before any request, rather than listing unfiltered calls."""
        used = filters.used()
        if used:
            raise self.refuse(f"calls.list.{used[0]}",
                              "MessageBird's GET /calls takes only page and perPage; filter "
                              "the listed calls yourself")
        page = _page_number(cursor)
        return self._op("calls.list", "GET", self._url("calls"),
                        self._paged("calls.list", page, page_size, parse_call),
                        params={"page": page, "perPage": page_size})

    def update_call(self, call_id: str, params: UpdateCall) -> Operation[Call | None]:
        raise self.refuse(Resource.CALLS_UPDATE,
                          "MessageBird's newer docs list PUT /calls/{id}, but not its body; "
                          "until it is confirmed univoice does not send one. A flow moves on "
                          "through fetchCallFlow (a redirect step) instead")

    def hangup_call(self, call_id: str) -> Operation[None]:
        """``DELETE /calls/{id}``: hangs up every leg and removes the call, which is then
        not found (the only hang-up the API documents)."""
        return self._op("calls.hangup", "DELETE", self._url("calls", call_id), _none)

    # Recordings and transcriptions --------------------------------------------------------

    def list_recordings(self, call_id: str | None, cursor: str | None, page_size: int
                        ) -> Operation[Page[Recording]]:
        """A call's recordings: MessageBird lists them per leg, so the walk reads the legs
        (a page without items), then each leg's recordings page by page
        (``RecordingsWalk`` is the cursor). There is no account-wide list: ``call_id`` is
        required (``InvalidArguments`` before any request)."""
        name = "recordings.list"
        if call_id is None:
            raise _invalid("call_id", "MessageBird lists recordings per call leg: "
                                      "recordings.list needs the call_id")
        walk = RecordingsWalk.decode(cursor, call_id) if cursor else RecordingsWalk(call_id)
        if walk.legs is None:
            def legs_page(response: httpx.Response) -> Page[Recording]:
                body = json_body(response, NAME, name)
                try:
                    legs = [_id(_obj(i, "the leg"), "id", "the leg")
                            for i in items(body, "the legs")]
                except BadPayload as exc:
                    raise malformed(response, NAME, name, str(exc)) from None
                more = next_page(body, walk.legs_page, LEGS_PAGE, len(legs)) is not None
                after = walk.after_legs(legs, more)
                return Page(items=[], next_cursor=after.encode() if after else None)

            return self._op(name, "GET", self._url("calls", call_id, "legs"), legs_page,
                            params={"page": walk.legs_page, "perPage": LEGS_PAGE})
        leg_id = walk.legs[walk.index]
        base = self.base_url

        def recordings_page(response: httpx.Response) -> Page[Recording]:
            body = json_body(response, NAME, name)
            try:
                found = [parse_recording(i, call_id=call_id, api_url=base)
                         for i in items(body, "the recordings")]
            except BadPayload as exc:
                raise malformed(response, NAME, name, str(exc)) from None
            more = next_page(body, walk.page, page_size, len(found)) is not None
            after = walk.after_recordings(more)
            return Page(items=found, next_cursor=after.encode() if after else None)

        return self._op(name, "GET", self._url("calls", call_id, "legs", leg_id, "recordings"),
                        recordings_page, params={"page": walk.page, "perPage": page_size})

    def get_recording(self, recording_id: str, call_id: str | None) -> Operation[Recording]:
        """``GET /recordings/{id}`` (no call needed; ``call_id``, when given, fills in the
        call a recording's links do not name)."""
        base = self.base_url

        def parse(data: Any) -> Recording:
            return parse_recording(first(data, "the recording"), call_id=call_id,
                                   fallback_links=links(data), api_url=base)

        return self._op("recordings.get", "GET", self._url("recordings", recording_id),
                        _reading("recordings.get", parse))

    def download_recording(self, recording: Recording) -> Operation[httpx.Response]:
        """``GET /recordings/{id}.wav``, streamed."""
        return self._op("recordings.download", "GET",
                        self._url("recordings", f"{recording.id}.wav"), _stream, stream=True)

    def delete_recording(self, recording: Recording) -> Operation[None]:
        return self._op("recordings.delete", "DELETE", self._url("recordings", recording.id),
                        _none)

    def create_transcription(self, recording: Recording, language: str | None
                             ) -> Operation[Transcription | None]:
        """``POST /recordings/{id}/transcriptions`` (``{"language": ...}`` when one is given,
        in MessageBird's spelling: ``en-GB`` is sent as ``en-UK``); answers the
        transcription as created (pending: read it later with ``get_transcription``)."""
        body: dict[str, Any] = {}
        if language is not None:
            spelled = vocab.transcription_language(language)
            if spelled is None:
                raise self.refuse("transcriptions.language",
                                  f"MessageBird transcribes {_LANGUAGES}, not {language!r}")
            body["language"] = spelled
        name = "transcriptions.create"
        return self._op(name, "POST", self._url("recordings", recording.id, "transcriptions"),
                        _reading(name, lambda data: parse_transcription(
                            first(data, "the transcription"), recording)), body=body)

    def get_transcription(self, recording: Recording) -> Operation[Transcription]:
        """The recording's latest transcription (``GET /recordings/{id}/transcriptions``;
        ``NotFound`` when it has none), and once it is done its text
        (``GET /transcriptions/{id}.txt``) as a follow-up (see ``follow``)."""
        name = "transcriptions.get"

        def latest(data: Any) -> Transcription:
            found = [parse_transcription(i, recording) for i in items(data, "the transcriptions")]
            if not found:
                raise NotFound(f"recording {recording.id} has no transcription",
                               provider=NAME, operation=name)
            return max(enumerate(found), key=lambda pair: (
                vocab.parse_time(pair[1].raw.get("createdAt"))
                or datetime.min.replace(tzinfo=UTC), pair[0]))[1]

        op = self._op(name, "GET", self._url("recordings", recording.id, "transcriptions"),
                      _reading(name, latest), params={"perPage": TRANSCRIPTIONS_PAGE})
        return follow(op, lambda found: self.transcription_text(found)
                      if found.status == TranscriptionStatus.READY else None)

    def transcription_text(self, transcription: Transcription) -> Operation[Transcription]:
        """The transcription with its text: ``GET /transcriptions/{id}.txt`` (plain text)."""
        def read(response: httpx.Response) -> Transcription:
            text = response.text.strip()
            return transcription.model_copy(update={"text": text or None})

        return self._op("transcriptions.get", "GET",
                        self._url("transcriptions", f"{transcription.id}.txt"), read,
                        accept="text/plain")

    def delete_transcription(self, recording: Recording) -> Operation[None]:
        raise self.refuse(Resource.TRANSCRIPTIONS_DELETE,
                          "MessageBird documents no way to delete a transcription (deleting "
                          "the recording is the closest)")

    # Stored call flows --------------------------------------------------------------------

    def list_flows(self, cursor: str | None, page_size: int) -> Operation[Page[StoredFlow]]:
        page = _page_number(cursor)
        return self._op("flows.list", "GET", self._url("call-flows"),
                        self._paged("flows.list", page, page_size, parse_flow),
                        params={"page": page, "perPage": page_size})

    def get_flow(self, flow_id: str) -> Operation[StoredFlow]:
        return self._op("flows.get", "GET", self._url("call-flows", flow_id),
                        _reading("flows.get", lambda data: parse_flow(first(data, "the flow"))))

    def create_flow(self, flow: Flow, name: str | None) -> Operation[StoredFlow]:
        """``POST /call-flows`` with the compiled flow (``name`` as its ``title``).

        A stored call flow runs for inbound calls without univoice: it cannot continue
        through the webhook app, whose URLs belong to a call placed by univoice. A flow that
        needs the app (a menu: ``compile.needs_app``) is refused before any request."""
        if compile.needs_app(flow):
            raise self.refuse("flows.create",
                              "this flow has a gather, which MessageBird can only run by "
                              "asking univoice's webhook app for the next call flow; a "
                              "stored call flow has no app behind it. Store a flow without "
                              "gathers, or place the call with calls.create")
        document = dict(compile.start(flow, compile.Links()))
        if name:
            document = {"title": name, **{k: v for k, v in document.items() if k != "title"}}
        return self._op("flows.create", "POST", self._url("call-flows"),
                        _reading("flows.create",
                                 lambda data: parse_flow(first(data, "the created flow"))),
                        body=document, creates=True)

    def delete_flow(self, flow_id: str) -> Operation[None]:
        return self._op("flows.delete", "DELETE", self._url("call-flows", flow_id), _none)

    # Webhooks -----------------------------------------------------------------------------

    def list_webhooks(self, cursor: str | None, page_size: int
                      ) -> Operation[Page[WebhookSubscription]]:
        page = _page_number(cursor)
        return self._op("webhooks.list", "GET", self._url("webhooks"),
                        self._paged("webhooks.list", page, page_size, parse_webhook),
                        params={"page": page, "perPage": page_size})

    def create_webhook(self, url: str, events: list[str]) -> Operation[WebhookSubscription]:
        """``POST /webhooks`` with ``{"url": ...}`` (account-wide: every call's updates).
        An event filter is refused: the ``events`` field of newer docs is unconfirmed."""
        if events:
            raise self.refuse("webhooks.events",
                              "MessageBird's voice webhooks receive every call update; an "
                              "event filter is not documented")
        return self._op("webhooks.create", "POST", self._url("webhooks"),
                        _reading("webhooks.create",
                                 lambda data: parse_webhook(first(data, "the webhook"))),
                        body={"url": url}, creates=True)

    def delete_webhook(self, webhook_id: str) -> Operation[None]:
        return self._op("webhooks.delete", "DELETE", self._url("webhooks", webhook_id), _none)


def _utcnow() -> datetime:
    return datetime.now(UTC)
