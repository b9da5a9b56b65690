"""Bandwidth Voice API v2 REST operations: neutral arguments -> requests, responses ->
neutral models. Sans-I/O (``univoice.operations.Operation``): the transport sends them.

Paths, bodies and answers follow the official spec (tests/specs/bandwidth-voice.openapi.yml,
../shared/reference/PROVIDERS.md §1.3 and §2.3): every path sits under
``{api_url}/accounts/{accountId}``; lists are bare JSON arrays, paged (calls, conferences)
by a ``Link: <url>; rel="next"`` header whose URL is the cursor, followed verbatim.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import UTC, datetime, timedelta
from typing import TYPE_CHECKING, Any, TypeVar
from urllib.parse import quote

import httpx

from univoice.errors import (
    AmbiguousCreate,
    ConfigError,
    FlowIssue,
    InvalidArguments,
    UnsupportedFeature,
)
from univoice.models import (
    Call,
    CallStatus,
    Conference,
    ConferenceMember,
    ConferenceStatus,
    Direction,
    Page,
    Recording,
    Transcription,
    TranscriptionStatus,
)
from univoice.operations import Operation, build_request, json_body, malformed
from univoice.provider import Provider, ProviderSettings
from univoice.redact import LiveSecrets, Redactor
from univoice_bandwidth import vocab
from univoice_bandwidth.auth import api_auth, basic_token
from univoice_bandwidth.settings import BandwidthSettings

if TYPE_CHECKING:
    from univoice.params import (
        CallFilters,
        ConferenceFilters,
        CreateCall,
        MemberUpdate,
        UpdateCall,
        UpdateConference,
    )

T = TypeVar("T")
NAME = "bandwidth"
# Bandwidth's createCall callTimeout range, seconds (voice.yml `createCall.callTimeout`).
CALL_TIMEOUT = (1.0, 300.0)
# How far before a create the reconciling lookup searches (minStartTime): the create's own
# latency plus clock skew between this machine and Bandwidth.
RECONCILE_WINDOW = timedelta(minutes=2)
# transcribeRecording has no language, only detectLanguage (English, French, Spanish;
# English when false). PROVIDERS §2.3.
DETECTED_LANGUAGES = ("fr", "es")
_REDACT = Redactor()  # raw payloads: Bandwidth echoes callback `password` fields (masked)


class BadPayload(Exception):  # an internal signal: becomes a ProviderError
    """A response body that is JSON but not the documented shape."""


# Parsers: Bandwidth JSON -> neutral models (pure; BadPayload for a wrong shape) -------------


def _obj(data: Any, what: str) -> dict[str, Any]:
    if not isinstance(data, dict):
        raise BadPayload(f"{what} is not a JSON object")
    return data


def _items(data: Any, what: str) -> list[Any]:
    if not isinstance(data, list):
        raise BadPayload(f"{what} is not a JSON array")
    return data


def _id(data: dict[str, Any], key: str, what: str) -> str:
    value = data.get(key)
    if not isinstance(value, str) or not value:
        raise BadPayload(f"{what} has no {key}")
    return value


def _str(data: dict[str, Any], key: str) -> str | None:
    value = data.get(key)
    return value if isinstance(value, str) else None


def _direction(value: Any) -> Direction:
    return {"outbound": Direction.OUTBOUND, "inbound": Direction.INBOUND}.get(
        value if isinstance(value, str) else "", Direction.UNKNOWN)


def parse_call(data: Any) -> Call:
    """A ``callState`` (GET /calls/{id}, GET /calls items)."""
    state = _obj(data, "the call")
    status, reason = vocab.call_status(state.get("state"), state.get("disconnectCause"))
    answered, ended = vocab.parse_time(state.get("answerTime")), vocab.parse_time(
        state.get("endTime"))
    return Call(
        provider=NAME, id=_id(state, "callId", "the call"),
        direction=_direction(state.get("direction")), from_=_str(state, "from"),
        to=_str(state, "to"), status=status, status_raw=_str(state, "state"),
        created_at=vocab.parse_time(state.get("startTime"))
        or vocab.parse_time(state.get("enqueuedTime")),
        answered_at=answered, ended_at=ended,
        duration=(ended - answered).total_seconds() if answered and ended else None,
        end_reason=reason, end_reason_raw=_str(state, "disconnectCause"),
        raw=_REDACT.payload(state))


def parse_created_call(data: Any) -> Call:
    """A ``createCallResponse``: the call as accepted. It has no state: Bandwidth queues
    every new call (``enqueuedTime``) before it dials."""
    created = _obj(data, "the created call")
    return Call(
        provider=NAME, id=_id(created, "callId", "the created call"),
        direction=Direction.OUTBOUND, from_=_str(created, "from"), to=_str(created, "to"),
        status=CallStatus.QUEUED, created_at=vocab.parse_time(created.get("enqueuedTime")),
        tag=_str(created, "tag"), raw=_REDACT.payload(created))


def parse_recording(data: Any) -> Recording:
    """A ``callRecordingMetadata`` or ``conferenceRecordingMetadata``."""
    rec = _obj(data, "the recording")
    file_format = _str(rec, "fileFormat")
    return Recording(
        provider=NAME, id=_id(rec, "recordingId", "the recording"),
        call_id=_str(rec, "callId"), status=vocab.recording_status(rec.get("status")),
        duration=vocab.parse_duration(rec.get("duration")),
        format=file_format.lower() if file_format else None, media_url=_str(rec, "mediaUrl"),
        created_at=vocab.parse_time(rec.get("startTime")), raw=_REDACT.payload(rec))


def parse_member(data: Any, conference_id: str | None = None) -> ConferenceMember:
    member = _obj(data, "the conference member")
    conference = _str(member, "conferenceId") or conference_id
    if conference is None:
        raise BadPayload("the conference member has no conferenceId")
    return ConferenceMember(
        provider=NAME, call_id=_id(member, "callId", "the conference member"),
        conference_id=conference, muted=member.get("mute") is True,
        on_hold=member.get("hold") is True, raw=_REDACT.payload(member))


def parse_conference(data: Any) -> Conference:
    conf = _obj(data, "the conference")
    conference_id = _id(conf, "id", "the conference")
    ended = vocab.parse_time(conf.get("completedTime"))
    members = conf.get("activeMembers")
    return Conference(
        provider=NAME, id=conference_id, name=_str(conf, "name"),
        # A conference ends when its last member leaves; only then is completedTime set.
        status=ConferenceStatus.COMPLETED if conf.get("completedTime") else
        ConferenceStatus.ACTIVE,
        created_at=vocab.parse_time(conf.get("createdTime")), ended_at=ended,
        members=[parse_member(m, conference_id)
                 for m in _items(members if members is not None else [], "activeMembers")],
        raw=_REDACT.payload(conf))


def parse_transcription(data: Any, recording: Recording) -> Transcription:
    """A ``transcriptionList`` ({transcripts: [{text, confidence}]}): one text, the
    transcripts joined. The id is the recording's transcription id when known."""
    body = _obj(data, "the transcription")
    parts = _items(body.get("transcripts", []), "transcripts")
    texts = [t["text"].strip() for t in parts if isinstance(t, dict)
             and isinstance(t.get("text"), str) and t["text"].strip()]
    meta = recording.raw.get("transcription")
    known = meta.get("id") if isinstance(meta, dict) else None
    return Transcription(
        provider=NAME, id=known if isinstance(known, str) and known else recording.id,
        recording_id=recording.id, call_id=recording.call_id,
        status=TranscriptionStatus.READY, text=" ".join(texts) if texts else None,
        raw=_REDACT.payload(body))


# Response parsers ------------------------------------------------------------------------


def _reading(name: str, parse: Callable[[Any], T]) -> Callable[[httpx.Response], T]:
    """A response parser: JSON, then ``parse``; any wrong shape is a ProviderError that
    keeps the raw body (``univoice.operations.malformed``)."""
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


# Operations --------------------------------------------------------------------------------


def _invalid(name: str, message: str) -> InvalidArguments:
    return InvalidArguments([FlowIssue(name, message)])


def _number(value: float) -> float | int:
    return int(value) if float(value).is_integer() else value


class BandwidthOperations(Provider):
    """The REST half of the Bandwidth provider (``BandwidthProvider`` adds the rest)."""

    def __init__(self, settings: ProviderSettings | None = None, **values: Any) -> None:
        super().__init__(settings, **values)
        # "Now" for the reconciling lookup's start time; tests pin it.
        self.clock: Callable[[], datetime] = _utcnow
        # What the transport's redactor masks: one list, which the OAuth2 auth grows with
        # every access token it fetches (see ``secrets`` and ``auth``).
        self._secrets = LiveSecrets(self._known_secrets())

    @property
    def _settings(self) -> BandwidthSettings:
        assert isinstance(self.settings, BandwidthSettings)
        return self.settings

    # Transport ----------------------------------------------------------------------------

    def auth(self) -> httpx.Auth:
        """OAuth2 client credentials, else an API user's HTTP Basic; ``ConfigError`` when
        neither is configured (raised when the client is built, before any request)."""
        return api_auth(self._settings, on_token=self._secrets.learn)

    def secrets(self) -> list[str]:
        """The settings' secrets, the base64 ``user:password`` of each credential pair, and
        (as they are fetched) the OAuth2 access tokens.

        Without the last two an API error that echoes the request's ``Authorization``
        header (``Bearer <token>`` or ``Basic <base64>``) would reach the exception's
        message and ``raw`` unmasked: the transport masks only the values it is given.
        """
        return self._secrets

    def _known_secrets(self) -> list[str]:
        s = self._settings
        found = super().secrets()
        for user, password in ((s.username, s.password), (s.client_id, s.client_secret),
                               (s.callback_username, s.callback_password)):
            if user is not None and password is not None:
                found.append(basic_token(user, password.get_secret_value()))
        return found

    def error_details(self, response: httpx.Response) -> tuple[str, str | None, str | None]:
        """Bandwidth's error body ``{type, description, id}``: (description, type, id)."""
        message, code, request_id = super().error_details(response)
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError, RecursionError):  # RecursionError: too deep
            body = None
        if isinstance(body, dict):
            if isinstance(body.get("description"), str) and body["description"]:
                message = body["description"]
            if isinstance(body.get("type"), str) and body["type"]:
                code = body["type"]
            if isinstance(body.get("id"), str) and body["id"]:
                request_id = body["id"]
        return message, code, request_id

    # URLs ---------------------------------------------------------------------------------

    @property
    def base_url(self) -> str:
        s = self._settings
        return f"{str(s.api_url).rstrip('/')}/accounts/{quote(s.account_id, safe='')}"

    def _url(self, *segments: str) -> str:
        return "/".join([self.base_url, *(quote(s, safe="") for s in segments)])

    def _op(self, name: str, method: str, url: str, parse: Callable[[httpx.Response], T], *,
            body: Any = None, params: dict[str, Any] | None = None, **extra: Any
            ) -> Operation[T]:
        return Operation(name, build_request(method, url, json=body, params=params), parse,
                         **extra)

    def _same_api(self, url: httpx.URL) -> bool:
        """Whether ``url`` is on the configured API and under this account (a cursor is
        sent with the credentials, so it must not lead anywhere else)."""
        api = httpx.URL(self.base_url)
        return (url.scheme, url.host, url.port) == (api.scheme, api.host, api.port) and (
            url.path.startswith(api.path + "/"))

    def _cursor(self, cursor: str) -> str:
        try:
            url = httpx.URL(cursor)
        except (httpx.InvalidURL, TypeError):
            raise _invalid("cursor", "is not a Bandwidth page URL") from None
        if not self._same_api(url):
            raise _invalid("cursor", "is not a page URL of this Bandwidth account")
        return cursor

    def _paged(self, name: str, request: httpx.Request, parse: Callable[[Any], T]
               ) -> Callable[[httpx.Response], Page[T]]:
        """A bare-array list; the next page's URL (the cursor) from ``Link: rel="next"``."""
        def read(response: httpx.Response) -> Page[T]:
            data = json_body(response, NAME, name)
            try:
                items = [parse(item) for item in _items(data, "the list")]
            except BadPayload as exc:
                raise malformed(response, NAME, name, str(exc)) from None
            nxt = response.links.get("next", {}).get("url")
            if not nxt:
                return Page(items=items)
            try:
                url = request.url.join(nxt)  # a relative link is relative to this page
            except httpx.InvalidURL:
                raise malformed(response, NAME, name,
                                "the Link rel=next URL is not a URL") from None
            if not self._same_api(url):
                raise malformed(response, NAME, name,
                                "the Link rel=next URL leads outside this account's API")
            return Page(items=items, next_cursor=str(url))

        return read

    # Callback credentials -------------------------------------------------------------------

    def _callback_auth(self, params: CreateCall | UpdateCall, used: list[str | None],
                       operation: str) -> dict[str, str]:
        """``username``/``password`` for the callback URLs a request hands out.

        The webhook app refuses a callback without the configured credentials, so a
        request that points Bandwidth at a univoice URL without them could only fail later,
        call by call: it is refused here instead.
        """
        creds = self._configured_auth()
        if not creds and {params.flow_url, params.events_url}.intersection(u for u in used if u):
            raise ConfigError(
                f"[bandwidth] {operation} hands Bandwidth a univoice webhook URL, and the "
                "webhook app refuses callbacks without credentials: set callback_username "
                "and callback_password in [bandwidth] (Bandwidth sends them on every "
                "callback as HTTP Basic)")
        return creds

    def _configured_auth(self) -> dict[str, str]:
        s = self._settings
        if s.callback_username is None or s.callback_password is None:
            return {}
        return {"username": s.callback_username,
                "password": s.callback_password.get_secret_value()}

    def _unsupported(self, feature: str, detail: str) -> UnsupportedFeature:
        return UnsupportedFeature(feature, self.name, detail=detail)

    # Calls ----------------------------------------------------------------------------------

    def create_call(self, params: CreateCall) -> Operation[Call]:
        s = self._settings
        if params.max_duration is not None:
            raise self._unsupported(
                "calls.create.max_duration",
                "Bandwidth's createCall has no maximum call length; end the call with "
                "calls.hangup, or end the flow with a hangup step")
        if params.record:
            raise self._unsupported(
                "calls.create.record",
                "Bandwidth records a call from BXML, not from createCall: set record: true "
                "on the flow (it starts with <StartRecording>)")
        if s.application_id is None:
            raise ConfigError("[bandwidth] application_id is not set: Bandwidth places a call "
                              "for a Voice application (its id is in the Bandwidth dashboard)")
        if params.flow is not None and params.flow_url is None:
            from univoice.hosting import missing_host

            raise missing_host(self.name)
        low, high = CALL_TIMEOUT
        if not low <= params.ring_timeout <= high:
            raise _invalid("ring_timeout", f"Bandwidth rings for {low:g} to {high:g} seconds")
        answer_url = params.answer_url or params.flow_url
        events_url = params.callback_url or params.events_url
        hosted = params.flow is not None
        detect = params.machine_detection or (
            params.flow is not None and params.flow.machine_detection is not None)
        # Sync detection holds the answer callback until the result is known and puts it
        # there, where the hosted flow's first document is chosen; async sends it on its own.
        amd_url = None if not detect or hosted else events_url
        creds = self._callback_auth(params, [answer_url, events_url, amd_url], "calls.create")
        body: dict[str, Any] = {"from": params.from_, "to": params.to,
                                "applicationId": s.application_id, "answerUrl": answer_url}
        if events_url:
            body["disconnectUrl"] = events_url
        body.update(creds)
        body["callTimeout"] = _number(params.ring_timeout)
        if params.tag is not None:
            body["tag"] = params.tag
        if detect:
            amd: dict[str, Any] = {"mode": "sync" if hosted else "async"}
            if amd_url:
                amd["callbackUrl"] = amd_url
                amd.update(creds)
            body["machineDetection"] = amd
        name = "calls.create"
        calls_url = self._url("calls")
        since = self.clock() - RECONCILE_WINDOW

        def reconcile() -> Operation[Call | None]:
            query = {"to": params.to, "from": params.from_,
                     "minStartTime": vocab.format_time(since)}
            request = build_request("GET", calls_url, params=query)

            def find(response: httpx.Response) -> Call | None:
                data = json_body(response, NAME, name)
                try:
                    return self._find_created(data, params, since, name,
                                              more="next" in response.links)
                except BadPayload as exc:
                    raise malformed(response, NAME, name, str(exc)) from None

            return Operation(name, request, find)

        return Operation(name, build_request("POST", calls_url, json=body),
                         _reading(name, parse_created_call), creates=True, tag=params.tag,
                         reconcile=reconcile)

    def _find_created(self, data: Any, params: CreateCall, since: datetime, name: str, *,
                      more: bool) -> Call | None:
        """The call an ambiguous create placed, from GET /calls filtered by to, from and a
        start time shortly before the create.

        Bandwidth keeps no tag on a call's state, so the call cannot be told apart from
        another one placed from the same number to the same number in the same minutes:
        with more than one candidate this raises ``AmbiguousCreate`` instead of guessing.
        So is a lookup with more than one page. Not found (None) also covers a call still in
        Bandwidth's outbound queue if the list does not show queued calls yet (unconfirmed);
        the transport then creates again, as for any lost create.
        """
        def digits(number: Any) -> str:
            return number.lstrip("+") if isinstance(number, str) else ""

        candidates = [c for c in _items(data, "the list") if isinstance(c, dict)
                      and c.get("direction", "outbound") == "outbound"
                      and c.get("applicationId", self._settings.application_id)
                      == self._settings.application_id
                      and digits(c.get("to")) == digits(params.to)
                      and digits(c.get("from")) == digits(params.from_)]
        if more:  # candidates may be on the next page: not enough to decide
            raise AmbiguousCreate(
                f"the create may have happened, and more calls from {params.from_} to "
                f"{params.to} started since {vocab.format_time(since)} than one page holds; "
                "it was not repeated", provider=NAME, operation=name, tag=params.tag)
        if len(candidates) > 1:
            raise AmbiguousCreate(
                f"the create may have happened, and {len(candidates)} calls from "
                f"{params.from_} to {params.to} started since {vocab.format_time(since)} "
                "could be it (Bandwidth keeps no tag to tell them apart); it was not repeated",
                provider=NAME, operation=name, tag=params.tag)
        if not candidates:
            return None
        found = parse_call(candidates[0])
        return found.model_copy(update={"tag": params.tag})

    def get_call(self, call_id: str) -> Operation[Call]:
        return self._op("calls.get", "GET", self._url("calls", call_id),
                        _reading("calls.get", parse_call))

    def list_calls(self, filters: CallFilters, cursor: str | None, page_size: int
                   ) -> Operation[Page[Call]]:
        for unsupported in ("status", "tag"):
            if getattr(filters, unsupported) is not None:
                raise self._unsupported(
                    f"calls.list.{unsupported}",
                    "Bandwidth's GET /calls filters on to, from and start time only "
                    "(and keeps calls for 7 days); filter the listed calls yourself")
        if cursor is not None:
            request = build_request("GET", self._cursor(cursor))
        else:
            query = {"to": filters.to, "from": filters.from_,
                     "minStartTime": filters.created_after and vocab.format_time(
                         filters.created_after),
                     "maxStartTime": filters.created_before and vocab.format_time(
                         filters.created_before),
                     "pageSize": page_size}
            request = build_request("GET", self._url("calls"), params=query)
        return Operation("calls.list", request, self._paged("calls.list", request, parse_call))

    def update_call(self, call_id: str, params: UpdateCall) -> Operation[Call | None]:
        """Redirect a live call (Bandwidth fetches new BXML from the URL). Bandwidth answers
        200 with no body, so the result is None (the client then reads the call)."""
        if params.flow is not None and params.flow_url is None:
            from univoice.hosting import missing_host

            raise missing_host(self.name)
        url = params.redirect_url or params.flow_url
        body: dict[str, Any] = {"state": "active", "redirectUrl": url}
        body.update(self._callback_auth(params, [url], "calls.update"))
        return self._op("calls.update", "POST", self._url("calls", call_id), _none, body=body)

    def hangup_call(self, call_id: str) -> Operation[None]:
        """``state: completed`` hangs up an answered call and cancels a ringing one."""
        return self._op("calls.hangup", "POST", self._url("calls", call_id), _none,
                        body={"state": "completed"})

    # Recordings and transcriptions ------------------------------------------------------------

    def list_recordings(self, call_id: str | None, cursor: str | None, page_size: int
                        ) -> Operation[Page[Recording]]:
        """A call's recordings, or the account's (at most 1000): one page, Bandwidth does
        not page recordings."""
        url = self._url("calls", call_id, "recordings") if call_id else self._url("recordings")
        name = "recordings.list"

        def read(response: httpx.Response) -> Page[Recording]:
            return Page(items=_reading(name, lambda data: [
                parse_recording(r) for r in _items(data, "the list")])(response))

        return self._op(name, "GET", url, read)

    def _recording_path(self, recording: Recording | str, call_id: str | None,
                        operation: str) -> list[str]:
        rec_id = recording.id if isinstance(recording, Recording) else recording
        if call_id is None:
            raise _invalid("call_id", f"Bandwidth keeps recordings per call: {operation} "
                                      "needs the recording's call_id")
        return ["calls", call_id, "recordings", rec_id]

    def get_recording(self, recording_id: str, call_id: str | None) -> Operation[Recording]:
        path = self._recording_path(recording_id, call_id, "recordings.get")
        return self._op("recordings.get", "GET", self._url(*path),
                        _reading("recordings.get", parse_recording))

    def download_recording(self, recording: Recording) -> Operation[httpx.Response]:
        """The media of a call's recording; a conference recording (no call id) by its
        ``mediaUrl``, when that is on this account's API."""
        if recording.call_id is None and recording.media_url:
            try:  # as the API gave it: not trusted to be a URL
                url: httpx.URL | None = httpx.URL(recording.media_url)
            except httpx.InvalidURL:
                url = None
            if url is not None and self._same_api(url):
                return self._op("recordings.download", "GET", str(url), _stream, stream=True)
        path = self._recording_path(recording, recording.call_id, "recordings.download")
        return self._op("recordings.download", "GET", self._url(*path, "media"), _stream,
                        stream=True)

    def delete_recording(self, recording: Recording) -> Operation[None]:
        path = self._recording_path(recording, recording.call_id, "recordings.delete")
        return self._op("recordings.delete", "DELETE", self._url(*path), _none)

    def create_transcription(self, recording: Recording, language: str | None
                             ) -> Operation[Transcription | None]:
        """Ask Bandwidth to transcribe; it answers 204 and transcribes later (then
        ``get_transcription``). Bandwidth takes no language: English, or with
        ``detectLanguage`` one of English, French and Spanish."""
        body: dict[str, Any] = {}
        if language is not None:
            primary = language.split("-")[0].lower()
            if primary in DETECTED_LANGUAGES:
                body["detectLanguage"] = True
            elif primary != "en":
                raise self._unsupported(
                    "transcriptions.language",
                    f"Bandwidth transcribes English, French and Spanish only, not "
                    f"{language!r}")
        path = self._recording_path(recording, recording.call_id, "transcriptions.create")
        return self._op("transcriptions.create", "POST", self._url(*path, "transcription"),
                        _none, body=body)

    def get_transcription(self, recording: Recording) -> Operation[Transcription]:
        path = self._recording_path(recording, recording.call_id, "transcriptions.get")
        return self._op("transcriptions.get", "GET", self._url(*path, "transcription"),
                        _reading("transcriptions.get",
                                 lambda data: parse_transcription(data, recording)))

    def delete_transcription(self, recording: Recording) -> Operation[None]:
        path = self._recording_path(recording, recording.call_id, "transcriptions.delete")
        return self._op("transcriptions.delete", "DELETE", self._url(*path, "transcription"),
                        _none)

    # Conferences ----------------------------------------------------------------------------

    def list_conferences(self, filters: ConferenceFilters, cursor: str | None,
                         page_size: int) -> Operation[Page[Conference]]:
        if cursor is not None:
            request = build_request("GET", self._cursor(cursor))
        else:
            query = {"name": filters.name,
                     "minCreatedTime": filters.created_after and vocab.format_time(
                         filters.created_after),
                     "maxCreatedTime": filters.created_before and vocab.format_time(
                         filters.created_before),
                     "pageSize": page_size}
            request = build_request("GET", self._url("conferences"), params=query)
        return Operation("conferences.list", request,
                         self._paged("conferences.list", request, parse_conference))

    def get_conference(self, conference_id: str) -> Operation[Conference]:
        return self._op("conferences.get", "GET", self._url("conferences", conference_id),
                        _reading("conferences.get", parse_conference))

    def update_conference(self, conference_id: str, params: UpdateConference
                          ) -> Operation[None]:
        """End the conference, or move every member to the BXML at ``redirect_url``."""
        body: dict[str, Any] = {"status": params.status}
        if params.redirect_url is not None:
            body["redirectUrl"] = params.redirect_url
            body.update(self._configured_auth())
        return self._op("conferences.update", "POST", self._url("conferences", conference_id),
                        _none, body=body)

    def list_members(self, conference_id: str, cursor: str | None, page_size: int
                     ) -> Operation[Page[ConferenceMember]]:
        """Bandwidth has no member list: the conference's ``activeMembers``, one page."""
        name = "conferences.members"
        return self._op(name, "GET", self._url("conferences", conference_id),
                        _reading(name, lambda data: Page(items=parse_conference(data).members)))

    def update_member(self, conference_id: str, call_id: str, params: MemberUpdate
                      ) -> Operation[None]:
        body: dict[str, Any] = {}
        if params.muted is not None:
            body["mute"] = params.muted
        if params.on_hold is not None:
            body["hold"] = params.on_hold
        return self._op("conferences.members", "PUT",
                        self._url("conferences", conference_id, "members", call_id), _none,
                        body=body)

    # Conference recordings (voice.conferences.recordings) -----------------------------------

    def list_conference_recordings(self, conference_id: str, cursor: str | None = None,
                                   page_size: int = 1000) -> Operation[Page[Recording]]:
        """A conference's recordings (one page: Bandwidth does not page them). Download one
        with ``download_recording``: it follows the recording's ``mediaUrl``."""
        name = "conferences.recordings"

        def read(response: httpx.Response) -> Page[Recording]:
            return Page(items=_reading(name, lambda data: [
                parse_recording(r) for r in _items(data, "the list")])(response))

        return self._op(name, "GET", self._url("conferences", conference_id, "recordings"),
                        read)

    def get_conference_recording(self, conference_id: str, recording_id: str
                                 ) -> Operation[Recording]:
        return self._op("conferences.recordings", "GET",
                        self._url("conferences", conference_id, "recordings", recording_id),
                        _reading("conferences.recordings", parse_recording))


def _utcnow() -> datetime:
    return datetime.now(UTC)
