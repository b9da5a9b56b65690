"""Bird Voice REST operations: neutral arguments -> requests, responses -> neutral models.
Sans-I/O (``univoice.operations.Operation``): the transport sends them.

Paths, bodies and answers follow ../shared/reference/PROVIDERS.md §1.2 / §2.2, the Bird docs
pages it cites, and univoice's spec of them (tests/specs/bird-voice.openapi.yml, its notes
in tests/specs/CORRECTIONS.md): base ``https://api.bird.com``, ``Authorization: AccessKey
<key>`` (``auth``); calls live under ``/workspaces/{ws}/channels/{ch}/calls`` (``C`` below),
recordings under ``/workspaces/{ws}/recordings`` (``W``). Call creation and every call
command answer **202 Accepted** (the call object, ``status: accepted``): their effect is
reported later, by webhooks or a later GET. Lists are ``{results, nextPageToken}``, paged
by ``limit`` + ``pageToken``; a list's cursor is Bird's ``nextPageToken`` as given.

Decisions (each is also in the method's doc):

- ``create_call`` sends the compiled flow inline (``callFlow``: ``compile.start``); Bird
  cannot fetch a flow from a URL, so ``answer_url`` is refused before any request. Every
  create carries univoice's tag in ``tags`` (lower-cased, as Bird keeps tags): a create whose
  answer was lost is found again by listing the workspace's calls filtered by that tag and
  this channel (``GET W/channels/calls?channelId=..&tag=..``).
- ``update_call`` PATCHes a new ``callFlow``; ``hangup_call`` PATCHes ``{"status":
  "completed"}``. A redirect to a URL is refused (Bird pulls nothing).
- Recordings come from the Recordings API (``GET W/recordings``, ``W/recordings/{id}``,
  media ``W/recordings/{id}.mp3``): the call-scoped endpoints list only the *active*
  recordings of a *live* call (docs "List call recordings of a call").
- Error bodies: the docs' ``error.detailed`` is ``{code, message, details}``; newer Bird
  APIs nest ``{"error": {type, code, message, request_id, details[]}}``; MessageBird's
  legacy shape is ``{errors: [{code, message}]}``. ``error_details`` reads all three and
  anything with a ``message``/``description``; the rest keeps the HTTP reason.
"""

from __future__ import annotations

import math
from collections.abc import Callable
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from univoice.capabilities import Feature, Resource
from univoice.errors import (
    AmbiguousCreate,
    ConfigError,
    FlowIssue,
    InvalidArguments,
    UnsupportedFeature,
    one_line,
)
from univoice.models import Call, CallStatus, Direction, Page, Recording, RecordingStatus
from univoice.operations import Operation, build_request, json_body, malformed
from univoice.provider import Provider
from univoice.redact import Redactor
from univoice_bird import compile, vocab
from univoice_bird.auth import AccessKeyAuth, api_auth
from univoice_bird.settings import BirdSettings

if TYPE_CHECKING:
    from univoice.params import CallFilters, CreateCall, UpdateCall

T = TypeVar("T")
NAME = "bird"
RING_TIMEOUT = (3, 120)  # seconds, createCall ringTimeout (PROVIDERS §2.2)
MAX_CURSOR = 8000  # pageToken maxLength (docs, every list)
RECORDINGS_LIMIT = 99  # GET W/recordings limit maximum (docs "List Recordings")
RECONCILE_PAGE = 10  # calls the reconciling lookup reads: one tag should match one call
JSON = "application/json"
MEDIA = "audio/mpeg, */*;q=0.5"
_REDACT = Redactor()  # raw payloads: secret-named fields masked


class BadPayload(Exception):  # an internal signal: becomes a ProviderError
    """A response body that is JSON but not the documented shape."""


# Parsers: Bird JSON -> neutral models (pure; BadPayload for a wrong shape) -----------------


def _obj(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadPayload(f"{what} is not a JSON object")
    return data


def _id(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if isinstance(value, int) and not isinstance(value, bool):
        value = str(value)
    if not isinstance(value, str) or not value.strip():
        raise BadPayload(f"{what} has no {key}")
    return value


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) and value else None


def tags_of(data: dict[str, Any]) -> list[str]:
    """A call's ``tags``, strings only."""
    tags = data.get("tags")
    return [t for t in tags if isinstance(t, str) and t] if isinstance(tags, list) else []


def parse_call(data: Any) -> Call:
    """A call object (``POST C/calls`` 202, ``GET C/calls/{id}``, list items).

    Numbers: ``from``/``to``, else the ``originator``/``receiver`` party's number (bare
    E.164 digits gain their '+'). ``duration``, once the call has ended: answer -> end when
    both times are known; for an unanswered busy / no-answer call 0; else Bird's own
    ``duration`` (seconds; what it counts is unconfirmed). A status no table knows is
    UNKNOWN, kept in ``status_raw``. Go's zero time (``0001-01-01T00:00:00Z``) reads as
    unset. ``tag``: the call's first tag (univoice sends one).
    """
    call = _obj(data, "the call")
    call_id = _id(call, "id", "the call")
    word = _str(call, "status")
    status = vocab.call_status(word)
    answered = vocab.parse_time(call.get("answeredAt"))
    ended = vocab.parse_time(call.get("endedAt"))
    reason = vocab.end_reason(word, call.get("hangupSource"), call.get("direction"))
    duration: float | None = None  # known once the call has ended
    if reason is None:
        pass
    elif answered is not None and ended is not None and ended >= answered:
        duration = (ended - answered).total_seconds()
    elif answered is None and status in (CallStatus.BUSY, CallStatus.NO_ANSWER):
        duration = 0.0
    else:
        duration = vocab.seconds(call.get("duration"))
    tags = tags_of(call)
    return Call(
        provider=NAME, id=call_id, direction=vocab.direction(call.get("direction")),
        from_=vocab.phone(call.get("from")) or vocab.party_number(call.get("originator")),
        to=vocab.phone(call.get("to")) or vocab.party_number(call.get("receiver")),
        status=status, status_raw=word,
        created_at=vocab.parse_time(call.get("createdAt")), answered_at=answered,
        ended_at=ended, duration=duration, end_reason=reason,
        end_reason_raw=word if reason is not None else None,
        tag=tags[0] if tags else None, raw=_REDACT.payload(call))


def parse_recording(data: Any, *, call_id: str | None = None,
                    media: Callable[[str], str] | None = None) -> Recording:
    """A recording: the Recordings API's object (``source``, ``sourceId``, ``format``,
    ``url``, ...) or a call recording (``callId``, ``endCause``, ...).

    Its call: ``callId``, else ``sourceId`` when the source is a call (a conference
    recording has none), else ``call_id`` (the call it was listed for). ``format`` is
    ``mp3``: univoice downloads every recording as ``.mp3`` (the documented media path),
    whatever Bird stored. ``media_url``: that path (``media(id)``) once the recording is
    ``available``."""
    rec = _obj(data, "the recording")
    rec_id = _id(rec, "id", "the recording")
    source = vocab.word(rec.get("source"))
    owner = _str(rec, "callId") or (
        _str(rec, "sourceId") if source in (None, "call") else None) or call_id
    status = vocab.recording_status(rec.get("status"))
    return Recording(
        provider=NAME, id=rec_id, call_id=owner, status=status,
        duration=vocab.seconds(rec.get("duration")), format="mp3",
        media_url=media(rec_id) if media is not None and status is RecordingStatus.READY
        else None,
        created_at=vocab.parse_time(rec.get("createdAt"))
        or vocab.parse_time(rec.get("startedAt")),
        raw=_REDACT.payload(rec))


def page_of(data: Any, what: str) -> tuple[list[Any], str | None]:
    """A list's ``results`` (``null`` reads as empty) and its ``nextPageToken`` (absent,
    null or empty: the last page)."""
    body = _obj(data, what)
    results = body.get("results")
    if results is None and "results" in body:
        results = []
    if not isinstance(results, list):
        raise BadPayload(f"{what} has no results array")
    token = body.get("nextPageToken")
    return results, token if isinstance(token, str) and token.strip() else None


# Error bodies -------------------------------------------------------------------------------

_MESSAGE_KEYS = ("message", "description", "detail", "title", "error_description")
_REQUEST_ID_KEYS = ("request_id", "requestId", "requestID")
MAX_MESSAGE = 1000


def _scalar(value: Any) -> str | None:
    if isinstance(value, bool) or value is None:
        return None
    if isinstance(value, str):
        return value.strip() or None
    if isinstance(value, int | float):
        return str(value)
    return None


def _first_text(body: dict[str, Any]) -> str | None:
    for key in (*_MESSAGE_KEYS, "error"):  # "error": a plain string (a dict is nested)
        value = body.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None


def _detail_text(details: Any, depth: int = 0) -> str | None:
    """``details`` as one line: ``{"to": ["is invalid"]}`` -> ``to: is invalid``;
    ``[{"param": "to", "message": "..."}]`` -> ``to: ...``."""
    if depth > 2:
        return None
    parts: list[str] = []
    if isinstance(details, dict):
        for key, value in list(details.items())[:20]:
            if isinstance(value, list):
                texts = [t for t in (_scalar(v) for v in value[:5]) if t]
                text = ", ".join(texts) if texts else None
            elif isinstance(value, dict):
                text = _detail_text(value, depth + 1)
            else:
                text = _scalar(value)
            if text:
                parts.append(f"{key}: {text}")
    elif isinstance(details, list):
        for item in details[:20]:
            if isinstance(item, dict):
                where = next((_scalar(item.get(k)) for k in ("param", "parameter", "field",
                                                            "path") if _scalar(item.get(k))),
                             None)
                text = _first_text(item)
                if text:
                    parts.append(f"{where}: {text}" if where else text)
            elif _scalar(item):
                parts.append(str(_scalar(item)))
    else:
        return _scalar(details)
    return "; ".join(parts) or None


def error_parts(body: Any, depth: int = 0) -> tuple[str | None, str | None, str | None]:
    """(message, code, request id) of an error body of any of the shapes Bird (or the
    MessageBird heritage) uses; each None when the body does not say."""
    if isinstance(body, list):
        body = {"errors": body}
    if not isinstance(body, dict) or depth > 3:
        return None, None, None
    request_id = next((_scalar(body.get(k)) for k in _REQUEST_ID_KEYS
                       if _scalar(body.get(k))), None)
    nested = body.get("error")
    if isinstance(nested, dict):
        message, code, inner_id = error_parts(nested, depth + 1)
        return message, code, inner_id or request_id
    message = _first_text(body)
    code = _scalar(body.get("code")) or (
        _scalar(body.get("type")) if isinstance(body.get("type"), str) else None)
    errors = body.get("errors")
    if isinstance(errors, list):
        texts, codes = [], []
        for error in errors[:20]:
            if not isinstance(error, dict):
                continue
            text = _first_text(error)
            where = _scalar(error.get("parameter")) or _scalar(error.get("param"))
            if text:
                texts.append(f"{text} (parameter: {where})" if where else text)
            found = _scalar(error.get("code"))
            if found:
                codes.append(found)
        message = message or ("; ".join(texts) or None)
        code = code or (codes[0] if codes else None)
    details = _detail_text(body.get("details"))
    message = f"{message} ({details})" if details and message else (message or details)
    if message:
        message = one_line(message)
        if len(message) > MAX_MESSAGE:
            message = message[:MAX_MESSAGE - 3] + "..."
    return message, code, request_id


# Response readers ---------------------------------------------------------------------------


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


def _whole_seconds(value: float) -> int:
    """Bird takes integer seconds: a fraction is rounded up (never shorter than asked)."""
    return math.ceil(value)


class BirdOperations(Provider):
    """The REST half of the Bird provider (``BirdProvider`` adds the rest)."""

    @property
    def _settings(self) -> BirdSettings:
        assert isinstance(self.settings, BirdSettings)
        return self.settings

    # Transport ----------------------------------------------------------------------------

    def auth(self) -> AccessKeyAuth:
        """``Authorization: AccessKey <key>``; ``ConfigError`` naming ``bird.access_key`` when
        it is not set (raised when a client is built, before any request)."""
        return api_auth(self._settings)

    def error_details(self, response: httpx.Response) -> tuple[str, str | None, str | None]:
        """(message, code, request id) of an error answer, whatever its body's shape (see
        ``error_parts``); the request id also from the ``Messagebird-Request-Id`` header.
        A body that is not JSON (an HTML 502) keeps the HTTP reason."""
        message, code, request_id = super().error_details(response)
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
            return message, code, request_id
        found_message, found_code, found_id = error_parts(body)
        return (found_message or response.reason_phrase, found_code,
                request_id or found_id)

    # Requests -----------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        return str(self._settings.api_url).rstrip("/")

    def _workspace_url(self, *segments: str) -> str:
        return "/".join([self.base_url, "workspaces", quote(self._settings.workspace_id,
                                                            safe=""),
                         *(quote(s, safe="") for s in segments)])

    def _calls_url(self, *segments: str) -> str:
        return self._workspace_url("channels", self._settings.channel_id, "calls", *segments)

    def media_url(self, recording_id: str) -> str:
        """The documented media path of a recording: ``W/recordings/{id}.mp3``."""
        return self._workspace_url("recordings", f"{recording_id}.mp3")

    def _op(self, name: str, method: str, url: str, parse: Callable[[httpx.Response], T], *,
            body: Any = None, params: dict[str, Any] | None = None, accept: str = JSON,
            **extra: Any) -> Operation[T]:
        request = build_request(method, url, json=body, params=params,
                                headers={"Accept": accept})
        return Operation(name, request, parse, **extra)

    def refuse(self, feature: str | Resource, detail: str) -> UnsupportedFeature:
        """``UnsupportedFeature`` for something Bird's API lacks, raised before any request;
        for a resource, the providers that have it are named."""
        alternatives: list[str] = []
        if isinstance(feature, Resource):
            from univoice.plugins import providers_supporting

            alternatives = [p for p in providers_supporting(feature) if p != self.name]
        return UnsupportedFeature(str(feature), self.name, alternatives=alternatives,
                                  detail=detail)

    def _paged(self, name: str, parse: Callable[[Any], T]
               ) -> Callable[[httpx.Response], Page[T]]:
        def read(response: httpx.Response) -> Page[T]:
            data = json_body(response, NAME, name)
            try:
                results, token = page_of(data, "the list")
                found = [parse(item) for item in results]
            except BadPayload as exc:
                raise malformed(response, NAME, name, str(exc)) from None
            return Page(items=found, next_cursor=token)

        return read

    @staticmethod
    def _cursor(cursor: str | None) -> str | None:
        if cursor is None:
            return None
        if not cursor or len(cursor) > MAX_CURSOR:
            raise _invalid("cursor", f"is not a Bird page token (1 to {MAX_CURSOR} characters)")
        return cursor

    # Calls --------------------------------------------------------------------------------

    def create_call(self, params: CreateCall) -> Operation[Call]:
        """``POST C/calls`` (202 Accepted) with:

        ``to``; ``from`` when given (omitted, Bird calls from the channel's number);
        ``callFlow`` = ``compile.start(flow)``; ``ringTimeout`` (3-120 s, whole seconds,
        rounded up; else ``InvalidArguments``); ``maxDuration`` when given; ``record``
        (the whole call) for ``record`` or a flow's ``record``; ``amdSettings: {enabled:
        true}`` for machine detection (the call argument or the flow's) once the provider
        declares ``flow.machine_detection`` (until the webhook app can act on Bird's
        ``amdResult``, it is refused before any request); ``notification.url``
        = ``callback_url``, else the webhook app's callback route when its place is known;
        ``tags`` = [univoice's tag, lower-cased].

        Refused before any request: ``answer_url`` (Bird runs only flows pushed to it: it
        cannot fetch one from a URL).

        A create whose answer was lost (a timeout, a 5xx, an unreadable 202) is looked up:
        ``GET W/channels/calls?channelId=<this channel>&tag=<tag>``; the one call with that
        tag to this destination is the call; none: not created (the transport may create
        again); several, or a next page that could hold it: ``AmbiguousCreate``.
        """
        name = "calls.create"
        if params.answer_url is not None or params.flow is None:
            raise self.refuse("calls.create.answer_url",
                              "Bird cannot fetch a call flow from a URL: its calls run the "
                              "callFlow pushed with them (give a univoice flow instead)")
        # The capabilities first (the step they name), then the compiler's own refusals.
        Provider.check_flow(self, params.flow)
        detect = params.machine_detection or params.flow.machine_detection is not None
        if detect and Feature.FLOW_MACHINE_DETECTION not in self.capabilities.features:
            raise self.unsupported(Feature.FLOW_MACHINE_DETECTION)
        compile.check(params.flow)
        if compile.hosted(params.flow) and params.flow_url is None:
            raise ConfigError(
                "this flow needs the univoice webhook app on Bird (it pushes the call's next "
                "call flow after each gather): set public_url and flow_store in "
                "univoice.toml, or pass Voice(..., public_url=..., flow_store=...)")
        call_flow = compile.start(params.flow)
        low, high = RING_TIMEOUT
        if not low <= params.ring_timeout <= high:
            raise _invalid("ring_timeout", f"Bird rings for {low} to {high} seconds")
        body: dict[str, Any] = {"to": params.to}
        if params.from_:
            body["from"] = params.from_
        body["callFlow"] = call_flow
        body["ringTimeout"] = _whole_seconds(params.ring_timeout)
        if params.max_duration is not None:
            body["maxDuration"] = max(1, _whole_seconds(params.max_duration))
        if params.record or params.flow.record:
            body["record"] = True
        if detect:  # only once the provider declares it (the app must react to it)
            body["amdSettings"] = {"enabled": True}
        # A hosted flow's callbacks go to its own route, which names the flow; the app
        # hands their events to the handlers as on the events route.
        webhook = (params.flow_url if compile.hosted(params.flow) else None) \
            or params.callback_url or params.events_url
        if webhook:
            body["notification"] = {"url": str(webhook)}
        tag = params.tag.lower() if params.tag else None
        if tag is not None:
            body["tags"] = [tag]

        def created(data: Any) -> Call:
            call = parse_call(data)
            update: dict[str, Any] = {"tag": tag or call.tag}
            if call.direction is Direction.UNKNOWN:
                update["direction"] = Direction.OUTBOUND
            return call.model_copy(update=update)

        reconcile = None
        if tag is not None:
            lookup = {"channelId": self._settings.channel_id, "tag": tag,
                      "limit": RECONCILE_PAGE}
            calls_log = self._workspace_url("channels", "calls")

            def reconcile_op() -> Operation[Call | None]:
                def find(response: httpx.Response) -> Call | None:
                    data = json_body(response, NAME, name)
                    try:
                        return self._find_created(data, params.to, tag, name)
                    except BadPayload as exc:
                        raise malformed(response, NAME, name, str(exc)) from None

                return self._op(name, "GET", calls_log, find, params=lookup)

            reconcile = reconcile_op
        return self._op(name, "POST", self._calls_url(), _reading(name, created), body=body,
                        creates=True, tag=tag, reconcile=reconcile)

    def _find_created(self, data: Any, to: str, tag: str, name: str) -> Call | None:
        """The call an ambiguous create placed, from the calls log filtered by tag: those
        carrying ``tag`` (compared lower-cased, whether or not Bird applied the filter), on
        this channel (when the item names one), to ``to``. One: the call. None: not found.
        Several, or none on a page that has a successor: ``AmbiguousCreate``."""
        results, token = page_of(data, "the calls log")
        channel = self._settings.channel_id
        candidates = []
        for item in results:
            if not isinstance(item, dict):
                continue
            if tag not in (t.lower() for t in tags_of(item)):
                continue
            if item.get("channelId") not in (None, channel):
                continue
            if vocab.phone(item.get("to")) not in (None, to):
                continue
            candidates.append(item)
        if len(candidates) > 1:
            raise AmbiguousCreate(
                f"the create may have happened, and {len(candidates)} calls to {to} carry "
                f"tag {tag!r}; it was not repeated", provider=NAME, operation=name, tag=tag)
        if not candidates:
            if token is not None:
                raise AmbiguousCreate(
                    f"the create may have happened, and the calls tagged {tag!r} run past "
                    "the first page of the calls log; it was not repeated", provider=NAME,
                    operation=name, tag=tag)
            return None
        return parse_call(candidates[0]).model_copy(update={"tag": tag})

    def get_call(self, call_id: str) -> Operation[Call]:
        """``GET C/calls/{id}``."""
        return self._op("calls.get", "GET", self._calls_url(call_id),
                        _reading("calls.get", parse_call))

    def list_calls(self, filters: CallFilters, cursor: str | None, page_size: int
                   ) -> Operation[Page[Call]]:
        """``GET C/calls`` (``limit`` 1-1000, ``pageToken``), filtered by ``to``, ``from``,
        ``status`` (Bird's word: ``no-answer`` ...), ``startAt`` / ``endAt`` (created after /
        before; what time Bird compares is unconfirmed). A ``tag`` filter lists the
        workspace's calls log instead (``GET W/channels/calls?channelId=<this channel>&tag=
        ..``: the channel's list takes no tag), with the same other filters. A status with
        no Bird word (unknown; canceled, which Bird does not document) is refused before any
        request."""
        query: dict[str, Any] = {"limit": page_size, "pageToken": self._cursor(cursor)}
        if filters.status is not None:
            status = vocab.STATUS_FILTERS.get(filters.status)
            if status is None or filters.status is CallStatus.CANCELED:
                raise self.refuse("calls.list.status",
                                  f"Bird has no call status for {filters.status.value!r} "
                                  "(it documents accepted, starting, ringing, ongoing, "
                                  "completed, no-answer, busy, failed)")
            query["status"] = status
        query.update({"to": filters.to, "from": filters.from_})
        if filters.created_after is not None:
            query["startAt"] = vocab.format_time(filters.created_after)
        if filters.created_before is not None:
            query["endAt"] = vocab.format_time(filters.created_before)
        url = self._calls_url()
        if filters.tag is not None:
            url = self._workspace_url("channels", "calls")
            query = {"channelId": self._settings.channel_id, "tag": filters.tag.lower(),
                     **query}
        return self._op("calls.list", "GET", url, self._paged("calls.list", parse_call),
                        params=query)

    def update_call(self, call_id: str, params: UpdateCall) -> Operation[Call | None]:
        """``PATCH C/calls/{id}`` with ``{"callFlow": compile.start(flow)}``: the call leaves
        its current flow for the new one (202). A redirect_url, or a flow that needs the
        webhook app (its callbacks go on naming the flow the call started with), is refused
        before any request."""
        if params.redirect_url is not None or params.flow is None:
            raise self.refuse("calls.update.redirect_url",
                              "Bird cannot fetch a call flow from a URL: give a univoice flow, "
                              "which univoice pushes to the call")
        Provider.check_flow(self, params.flow)
        compile.check(params.flow)
        if compile.hosted(params.flow):
            raise self.refuse("calls.update.hosted_flow",
                              "a running call can be moved only to a flow Bird runs whole (no "
                              "re-prompts, free input or nested menus, at most 20 commands)")
        return self.patch_call_flow(call_id, compile.start(params.flow))

    def patch_call_flow(self, call_id: str, commands: list[dict[str, Any]]
                        ) -> Operation[Call | None]:
        """``PATCH C/calls/{id}`` with ``{"callFlow": commands}`` (202). Bird documents no
        body for the answer: a call object naming this call is read, anything else gives
        None."""

        def updated(response: httpx.Response) -> Call | None:
            try:
                data = response.json() if response.content else None
            except (ValueError, UnicodeDecodeError, RecursionError):  # nested too deep
                return None
            if not isinstance(data, dict) or data.get("id") != call_id:
                return None
            try:
                return parse_call(data)
            except BadPayload:
                return None

        return self._op("calls.update", "PATCH", self._calls_url(call_id), updated,
                        body={"callFlow": commands})

    def hangup_call(self, call_id: str) -> Operation[None]:
        """``PATCH C/calls/{id}`` with ``{"status": "completed"}`` (202): hangs up a live
        call; the call stays readable, ``completed``."""
        return self._op("calls.hangup", "PATCH", self._calls_url(call_id), _none,
                        body={"status": "completed"})

    # Recordings -----------------------------------------------------------------------------

    def list_recordings(self, call_id: str | None, cursor: str | None, page_size: int
                        ) -> Operation[Page[Recording]]:
        """``GET W/recordings?channelId=<this channel>`` (``sourceId=<call>`` for one call's),
        ``limit`` at most 99 (the Recordings API's maximum: a larger page size asks for 99).
        The Recordings API holds the recordings of finished calls too; the call-scoped
        list holds only a live call's active ones (docs)."""
        query: dict[str, Any] = {"channelId": self._settings.channel_id, "sourceId": call_id,
                                 "limit": min(page_size, RECORDINGS_LIMIT),
                                 "pageToken": self._cursor(cursor)}
        media = self.media_url
        return self._op("recordings.list", "GET", self._workspace_url("recordings"),
                        self._paged("recordings.list", lambda item: parse_recording(
                            item, call_id=call_id, media=media)), params=query)

    def get_recording(self, recording_id: str, call_id: str | None) -> Operation[Recording]:
        """``GET W/recordings/{id}`` (no call needed; ``call_id`` names the call of a
        recording whose object does not)."""
        media = self.media_url
        return self._op("recordings.get", "GET", self._workspace_url("recordings", recording_id),
                        _reading("recordings.get", lambda data: parse_recording(
                            data, call_id=call_id, media=media)))

    def download_recording(self, recording: Recording) -> Operation[httpx.Response]:
        """``GET W/recordings/{id}.mp3``, streamed. A redirect to Bird's media host is
        followed by the auth (``univoice_bird.auth``)."""
        return self._op("recordings.download", "GET", self.media_url(recording.id), _stream,
                        accept=MEDIA, stream=True)
