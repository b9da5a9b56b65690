"""The simulator's REST operations: neutral arguments to requests, responses to models.

They are built exactly as a real adapter's are (sans-I/O ``Operation`` pairs) and run
through the same transport, retries and error mapping; only the transport differs: an
in-memory ``Backend`` behind ``httpx.MockTransport`` instead of the network.
"""

from __future__ import annotations

from collections.abc import Callable
from datetime import datetime
from typing import TYPE_CHECKING, Any, TypeVar

import httpx
from pydantic import Field, SecretStr

from univoice.models import (
    Call,
    CallStatus,
    Conference,
    ConferenceMember,
    ConferenceStatus,
    Direction,
    EndReason,
    Page,
    Recording,
    RecordingStatus,
    StoredFlow,
    Transcription,
    TranscriptionStatus,
    WebhookSubscription,
)
from univoice.operations import Operation, build_request, json_body
from univoice.provider import Provider, ProviderSettings
from univoice.simulator.backend import BASE_URL, Backend, Clock
from univoice.simulator.script import CalleeScript

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.params import (
        CallFilters,
        ConferenceFilters,
        CreateCall,
        MemberUpdate,
        UpdateCall,
        UpdateConference,
    )

T = TypeVar("T")
NAME = "simulator"


class SimulatorSettings(ProviderSettings):
    """``speed``: virtual seconds per real second (0 = every call has already ended);
    ``callee``: how every callee behaves, ``callees``: per number; ``api_key``: when set,
    requests must carry it (to exercise authentication and redaction); ``webhook_secret``:
    callbacks must be signed with it."""

    speed: float = Field(0.0, ge=0, le=10_000)
    callee: CalleeScript = Field(default_factory=CalleeScript)
    callees: dict[str, CalleeScript] = Field(default_factory=dict)
    api_key: SecretStr | None = None
    webhook_secret: SecretStr | None = None  # signs and checks the simulator's callbacks


class _Auth(httpx.Auth):
    def __init__(self, key: str) -> None:
        self._key = key

    def auth_flow(self, request: httpx.Request) -> Any:
        request.headers["Authorization"] = f"Bearer {self._key}"
        yield request


def _op(name: str, method: str, path: str, parse: Callable[[httpx.Response], T], *,
        body: Any = None, params: dict[str, Any] | None = None, **extra: Any) -> Operation[T]:
    request = build_request(method, f"{BASE_URL}{path}", json=body, params=params)
    return Operation(name, request, parse, **extra)


def _time(value: Any) -> datetime | None:
    return datetime.fromisoformat(value) if isinstance(value, str) else None


def _enum(enum: Any, value: Any, fallback: Any) -> Any:
    try:
        return enum(value)
    except ValueError:
        return fallback


def parse_call(data: dict[str, Any]) -> Call:
    return Call(
        provider=NAME, id=data["id"], direction=Direction.OUTBOUND, from_=data.get("from"),
        to=data.get("to"), status=_enum(CallStatus, data.get("status"), CallStatus.UNKNOWN),
        status_raw=data.get("status"), created_at=_time(data.get("created_at")),
        answered_at=_time(data.get("answered_at")), ended_at=_time(data.get("ended_at")),
        duration=data.get("duration"),
        end_reason=None if data.get("end_reason") is None
        else _enum(EndReason, data["end_reason"], EndReason.UNKNOWN),
        end_reason_raw=data.get("end_reason"), tag=data.get("tag"), raw=data)


def parse_recording(data: dict[str, Any]) -> Recording:
    return Recording(
        provider=NAME, id=data["id"], call_id=data.get("call_id"),
        status=_enum(RecordingStatus, data.get("status"), RecordingStatus.UNKNOWN),
        duration=data.get("duration"), format=data.get("format"),
        media_url=data.get("media_url"), created_at=_time(data.get("created_at")), raw=data)


def parse_transcription(data: dict[str, Any]) -> Transcription:
    return Transcription(
        provider=NAME, id=data["id"], recording_id=data.get("recording_id"),
        call_id=data.get("call_id"), text=data.get("text"),
        status=_enum(TranscriptionStatus, data.get("status"), TranscriptionStatus.UNKNOWN),
        raw=data)


def parse_member(data: dict[str, Any]) -> ConferenceMember:
    return ConferenceMember(provider=NAME, call_id=data["call_id"],
                            conference_id=data["conference_id"], muted=bool(data.get("muted")),
                            on_hold=bool(data.get("on_hold")), raw=data)


def parse_conference(data: dict[str, Any]) -> Conference:
    return Conference(
        provider=NAME, id=data["id"], name=data.get("name"),
        status=_enum(ConferenceStatus, data.get("status"), ConferenceStatus.UNKNOWN),
        created_at=_time(data.get("created_at")),
        members=[parse_member(m) for m in data.get("members", [])], raw=data)


def parse_flow(data: dict[str, Any]) -> StoredFlow:
    return StoredFlow(provider=NAME, id=data["id"], name=data.get("name"),
                      document=data.get("flow"), created_at=_time(data.get("created_at")),
                      raw=data)


def parse_webhook(data: dict[str, Any]) -> WebhookSubscription:
    return WebhookSubscription(provider=NAME, id=data["id"], url=data["url"],
                               events=list(data.get("events", [])),
                               created_at=_time(data.get("created_at")), raw=data)


def _one(name: str, parse: Callable[[dict[str, Any]], T]) -> Callable[[httpx.Response], T]:
    return lambda response: parse(json_body(response, NAME, name))


def _page(name: str, parse: Callable[[dict[str, Any]], T]
          ) -> Callable[[httpx.Response], Page[T]]:
    def parse_page(response: httpx.Response) -> Page[T]:
        body = json_body(response, NAME, name)
        return Page(items=[parse(item) for item in body["items"]],
                    next_cursor=body.get("next_cursor"))

    return parse_page


def _none(response: httpx.Response) -> None:
    return None


class SimulatorOperations(Provider):
    """The REST half of the simulator provider (``SimulatorProvider`` adds the rest)."""

    _backend: Backend | None = None

    @property
    def _settings(self) -> SimulatorSettings:
        assert isinstance(self.settings, SimulatorSettings)
        return self.settings

    @property
    def backend(self) -> Backend:
        """The in-memory service behind this provider instance (one per instance)."""
        if self._backend is None:
            s = self._settings
            self._backend = Backend(
                clock=Clock(s.speed), callee=s.callee, callees=dict(s.callees),
                api_key=s.api_key.get_secret_value() if s.api_key else None)
        return self._backend

    def auth(self) -> httpx.Auth | None:
        key = self._settings.api_key
        return _Auth(key.get_secret_value()) if key else None

    def http_transport(self) -> httpx.BaseTransport | None:
        return self.backend.transport()

    def async_http_transport(self) -> httpx.AsyncBaseTransport | None:
        return self.backend.transport()

    def error_details(self, response: httpx.Response) -> tuple[str, str | None, str | None]:
        try:
            error = response.json()["error"]
            return str(error["message"]), str(error["code"]), None
        except (ValueError, KeyError, TypeError):
            return response.reason_phrase, None, None

    # Calls ---------------------------------------------------------------------------

    def create_call(self, params: CreateCall) -> Operation[Call]:
        body = {"to": params.to, "from": params.from_, "tag": params.tag,
                "flow": params.flow.to_dict() if params.flow else None,
                "answer_url": params.answer_url, "ring_timeout": params.ring_timeout,
                "record": params.record, "machine_detection": params.machine_detection,
                "callback_url": params.callback_url}
        tag = params.tag

        def reconcile() -> Operation[Call | None]:
            def first(response: httpx.Response) -> Call | None:
                items = json_body(response, NAME, "calls.create").get("items") or []
                return parse_call(items[0]) if items else None

            return _op("calls.create", "GET", "/calls", first, params={"tag": tag})

        return _op("calls.create", "POST", "/calls", _one("calls.create", parse_call),
                   body=body, creates=True, tag=tag, reconcile=reconcile)

    def get_call(self, call_id: str) -> Operation[Call]:
        return _op("calls.get", "GET", f"/calls/{call_id}", _one("calls.get", parse_call))

    def list_calls(self, filters: CallFilters, cursor: str | None, page_size: int
                   ) -> Operation[Page[Call]]:
        q = filters.model_dump(mode="json", exclude_none=True, by_alias=True)
        return _op("calls.list", "GET", "/calls", _page("calls.list", parse_call),
                   params={**q, "cursor": cursor, "page_size": page_size})

    def update_call(self, call_id: str, params: UpdateCall) -> Operation[Call | None]:
        body = {"flow": params.flow.to_dict() if params.flow else None,
                "redirect_url": params.redirect_url}
        return _op("calls.update", "POST", f"/calls/{call_id}",
                   _one("calls.update", parse_call), body=body)

    def hangup_call(self, call_id: str) -> Operation[None]:
        return _op("calls.hangup", "DELETE", f"/calls/{call_id}", _none)

    # Recordings and transcriptions ---------------------------------------------------

    def list_recordings(self, call_id: str | None, cursor: str | None, page_size: int
                        ) -> Operation[Page[Recording]]:
        path = f"/calls/{call_id}/recordings" if call_id else "/recordings"
        return _op("recordings.list", "GET", path, _page("recordings.list", parse_recording),
                   params={"cursor": cursor, "page_size": page_size})

    def get_recording(self, recording_id: str, call_id: str | None) -> Operation[Recording]:
        return _op("recordings.get", "GET", f"/recordings/{recording_id}",
                   _one("recordings.get", parse_recording))

    def download_recording(self, recording: Recording) -> Operation[httpx.Response]:
        return _op("recordings.download", "GET", f"/recordings/{recording.id}/media",
                   lambda r: r, stream=True)

    def delete_recording(self, recording: Recording) -> Operation[None]:
        return _op("recordings.delete", "DELETE", f"/recordings/{recording.id}", _none)

    def create_transcription(self, recording: Recording, language: str | None
                             ) -> Operation[Transcription | None]:
        return _op("transcriptions.create", "POST", f"/recordings/{recording.id}/transcription",
                   _one("transcriptions.create", parse_transcription),
                   body={"language": language})

    def get_transcription(self, recording: Recording) -> Operation[Transcription]:
        return _op("transcriptions.get", "GET", f"/recordings/{recording.id}/transcription",
                   _one("transcriptions.get", parse_transcription))

    def delete_transcription(self, recording: Recording) -> Operation[None]:
        return _op("transcriptions.delete", "DELETE",
                   f"/recordings/{recording.id}/transcription", _none)

    # Conferences -----------------------------------------------------------------------

    def list_conferences(self, filters: ConferenceFilters, cursor: str | None,
                         page_size: int) -> Operation[Page[Conference]]:
        return _op("conferences.list", "GET", "/conferences",
                   _page("conferences.list", parse_conference),
                   params={"name": filters.name, "cursor": cursor, "page_size": page_size})

    def get_conference(self, conference_id: str) -> Operation[Conference]:
        return _op("conferences.get", "GET", f"/conferences/{conference_id}",
                   _one("conferences.get", parse_conference))

    def update_conference(self, conference_id: str, params: UpdateConference
                          ) -> Operation[None]:
        return _op("conferences.update", "POST", f"/conferences/{conference_id}", _none,
                   body=params.model_dump(mode="json"))

    def list_members(self, conference_id: str, cursor: str | None, page_size: int
                     ) -> Operation[Page[ConferenceMember]]:
        return _op("conferences.members", "GET", f"/conferences/{conference_id}/members",
                   _page("conferences.members", parse_member),
                   params={"cursor": cursor, "page_size": page_size})

    def update_member(self, conference_id: str, call_id: str, params: MemberUpdate
                      ) -> Operation[None]:
        return _op("conferences.members", "PUT",
                   f"/conferences/{conference_id}/members/{call_id}", _none,
                   body=params.model_dump(mode="json", exclude_none=True))

    # Stored flows and webhooks -----------------------------------------------------------

    def list_flows(self, cursor: str | None, page_size: int) -> Operation[Page[StoredFlow]]:
        return _op("flows.list", "GET", "/flows", _page("flows.list", parse_flow),
                   params={"cursor": cursor, "page_size": page_size})

    def get_flow(self, flow_id: str) -> Operation[StoredFlow]:
        return _op("flows.get", "GET", f"/flows/{flow_id}", _one("flows.get", parse_flow))

    def create_flow(self, flow: Flow, name: str | None) -> Operation[StoredFlow]:
        return _op("flows.create", "POST", "/flows", _one("flows.create", parse_flow),
                   body={"flow": flow.to_dict(), "name": name}, creates=True)

    def delete_flow(self, flow_id: str) -> Operation[None]:
        return _op("flows.delete", "DELETE", f"/flows/{flow_id}", _none)

    def list_webhooks(self, cursor: str | None, page_size: int
                      ) -> Operation[Page[WebhookSubscription]]:
        return _op("webhooks.list", "GET", "/webhooks", _page("webhooks.list", parse_webhook),
                   params={"cursor": cursor, "page_size": page_size})

    def create_webhook(self, url: str, events: list[str]) -> Operation[WebhookSubscription]:
        return _op("webhooks.create", "POST", "/webhooks",
                   _one("webhooks.create", parse_webhook),
                   body={"url": url, "events": events}, creates=True)

    def delete_webhook(self, webhook_id: str) -> Operation[None]:
        return _op("webhooks.delete", "DELETE", f"/webhooks/{webhook_id}", _none)
