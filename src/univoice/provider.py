"""The base every provider adapter implements, and the compiled-document type."""

from __future__ import annotations

from abc import ABC, abstractmethod
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar, Self

from pydantic import BaseModel, ConfigDict, SecretStr, ValidationError

from univoice.capabilities import Resource
from univoice.errors import ConfigError, UnsupportedFeature
from univoice.webhooks.request import WebhookRejected, WebhookRequest

if TYPE_CHECKING:
    import httpx

    from univoice.capabilities import Capabilities, Feature
    from univoice.events import BaseEvent
    from univoice.flow import Flow
    from univoice.flow.steps import Native
    from univoice.migrate import Imported
    from univoice.models import (
        Call,
        Conference,
        ConferenceMember,
        Page,
        Recording,
        StoredFlow,
        Transcription,
        WebhookSubscription,
    )
    from univoice.operations import Operation
    from univoice.params import (
        CallFilters,
        ConferenceFilters,
        CreateCall,
        MemberUpdate,
        UpdateCall,
        UpdateConference,
    )
    from univoice.webhooks.continuations import Continuations


class ProviderSettings(BaseModel):
    """A provider's own settings (credentials as ``SecretStr``: never printed)."""

    model_config = ConfigDict(frozen=True, extra="forbid")


@dataclass(frozen=True)
class Push:
    """How the webhook app delivers a document to a running call of a push-only provider
    (Bird): by REST (``Provider.push_document``), not as the callback's answer.

    ``key`` names the push: the app makes it once across redeliveries and processes
    (claimed in the store like an event; a failed one is tried again on redelivery).
    ``state`` is what the call's state becomes once the provider has accepted it.
    """

    call_id: str
    key: str
    state: dict[str, Any]


@dataclass(frozen=True)
class Document:
    """A flow compiled into a provider's own language (BXML, call-flow JSON, ...)."""

    provider: str
    media_type: str
    body: str
    native: Any = None  # the same document as data (dict, element tree), for tests
    push: Push | None = None  # set: the app sends it to the call instead of answering

    def __str__(self) -> str:
        return self.body


class Provider(ABC):
    """A provider adapter. Subclasses hold only what is different about their provider.

    ``compile_flow`` is pure (no I/O); REST operations are pairs of pure functions
    (``univoice.operations``) that the transport runs. Resource methods a provider does
    not override raise ``UnsupportedFeature`` before any request.
    """

    name: ClassVar[str]
    title: ClassVar[str]
    capabilities: ClassVar[Capabilities]
    settings_model: ClassVar[type[ProviderSettings]] = ProviderSettings
    # True for a provider that fetches each document of a call from the univoice webhook
    # app (Bandwidth): the client stores a call's flow for the app before placing it, and
    # hands the provider the URLs (``CreateCall.flow_url`` / ``events_url``).
    fetches_documents: ClassVar[bool] = False

    def needs_app(self, flow: Flow) -> bool:
        """Whether a call running ``flow`` fetches documents from the webhook app (then the
        client stores the flow there first). MessageBird needs it only for some flows."""
        return self.fetches_documents

    def continuation_points(self, flow: Flow) -> dict[str, str]:
        """The steps (by path) at which a call running ``flow`` goes back to the webhook
        app for what runs next, each with a short reason (``univoice flow graph`` marks
        them). Pure; default: none, the whole flow is sent with the call. A provider
        whose ``needs_app`` can be true says where."""
        return {}

    def __init__(self, settings: ProviderSettings | None = None, **values: Any) -> None:
        if settings is None:
            try:
                settings = self.settings_model(**values)
            except ValidationError as exc:
                problems = "; ".join(
                    f"{'.'.join(str(p) for p in e['loc']) or 'settings'}: "
                    f"{'missing' if e['type'] == 'missing' else e['msg']}"
                    for e in exc.errors(include_url=False, include_input=False))
                raise ConfigError(f"[{self.name}] settings are invalid: {problems}") from None
        self.settings = settings

    @classmethod
    def offline(cls) -> Self:
        """An instance that only compiles and checks flows: no settings needed or read."""
        return cls(cls.settings_model.model_construct())

    def __repr__(self) -> str:  # settings may hold secrets: never shown
        return f"<{type(self).__name__} {self.name!r}>"

    # Flows ------------------------------------------------------------------------------

    def check_flow(self, flow: Flow) -> None:
        """Raise ``UnsupportedFeature`` for the first feature (in document order) missing,
        or a native step (``univoice.flow.Native``) of another provider."""
        for path, step in _natives(flow):
            if step.provider != self.name:
                raise UnsupportedFeature(
                    "native", self.name, path=f"{path}.native", alternatives=[step.provider],
                    detail=f"it is a {step.provider} instruction kept by an importer"
                           + (f" ({step.note})" if step.note else ""))
        missing = self.capabilities.missing(flow)
        if not missing:
            return
        feature, paths = min(missing.items(), key=lambda item: _order(item[1][0]))
        raise self.unsupported(feature, path=paths[0])

    def unsupported(self, feature: Feature | Resource, *, path: str | None = None
                    ) -> UnsupportedFeature:
        from univoice.plugins import providers_supporting

        return UnsupportedFeature(
            feature.value, self.name, path=path,
            alternatives=[p for p in providers_supporting(feature) if p != self.name],
            detail=self.capabilities.notes.get(feature),
        )

    @abstractmethod
    def compile_flow(self, flow: Flow) -> Document:
        """Translate ``flow`` into this provider's document; call ``check_flow`` first."""

    def import_document(self, source: str | bytes) -> Imported:
        """Read one of this provider's native documents into a neutral flow, with a note
        for every construct that did not carry over as it was (``univoice.migrate``);
        ``InvalidDocument`` (positions included) for one it cannot read."""
        raise UnsupportedFeature("import", self.name,
                                 detail="this provider has no importer")

    # Transport --------------------------------------------------------------------------

    def auth(self) -> httpx.Auth | None:
        """How requests are authenticated; the transport applies it, operations never do."""
        return None

    def secrets(self) -> list[str]:
        """Every secret value in the settings, for redaction."""
        return [value.get_secret_value() for _, value in self.settings
                if isinstance(value, SecretStr)]

    def error_details(self, response: httpx.Response) -> tuple[str, str | None, str | None]:
        """(message, provider error code, request id) of an error response."""
        try:
            body = response.json()
        except (ValueError, UnicodeDecodeError, RecursionError):
            body = None
        message, code = "", None
        if isinstance(body, dict):
            for key in ("message", "description", "error", "detail"):
                if isinstance(body.get(key), str):
                    message = body[key]
                    break
            raw_code = body.get("code", body.get("type"))
            code = None if raw_code is None else str(raw_code)
        request_id = next((response.headers[h] for h in _REQUEST_ID_HEADERS
                           if h in response.headers), None)
        return message or response.reason_phrase, code, request_id

    def http_transport(self) -> httpx.BaseTransport | None:
        """A transport of the provider's own (the simulator's in-memory one); None: network."""
        return None

    def async_http_transport(self) -> httpx.AsyncBaseTransport | None:
        """The async twin of ``http_transport``."""
        return None


    # REST operations: each builds an Operation (request + parser); none does I/O. ------
    # A provider overrides those it declares in ``capabilities.resources``.

    def create_call(self, params: CreateCall) -> Operation[Call]:
        raise self.unsupported(Resource.CALLS_CREATE)

    def get_call(self, call_id: str) -> Operation[Call]:
        raise self.unsupported(Resource.CALLS_GET)

    def list_calls(self, filters: CallFilters, cursor: str | None, page_size: int
                   ) -> Operation[Page[Call]]:
        raise self.unsupported(Resource.CALLS_LIST)

    def update_call(self, call_id: str, params: UpdateCall) -> Operation[Call | None]:
        raise self.unsupported(Resource.CALLS_UPDATE)

    def hangup_call(self, call_id: str) -> Operation[None]:
        raise self.unsupported(Resource.CALLS_HANGUP)

    def list_recordings(self, call_id: str | None, cursor: str | None, page_size: int
                        ) -> Operation[Page[Recording]]:
        raise self.unsupported(Resource.RECORDINGS_LIST)

    def get_recording(self, recording_id: str, call_id: str | None) -> Operation[Recording]:
        raise self.unsupported(Resource.RECORDINGS_GET)

    def download_recording(self, recording: Recording) -> Operation[httpx.Response]:
        raise self.unsupported(Resource.RECORDINGS_DOWNLOAD)

    def delete_recording(self, recording: Recording) -> Operation[None]:
        raise self.unsupported(Resource.RECORDINGS_DELETE)

    def create_transcription(self, recording: Recording, language: str | None
                             ) -> Operation[Transcription | None]:
        raise self.unsupported(Resource.TRANSCRIPTIONS_CREATE)

    def get_transcription(self, recording: Recording) -> Operation[Transcription]:
        raise self.unsupported(Resource.TRANSCRIPTIONS_GET)

    def delete_transcription(self, recording: Recording) -> Operation[None]:
        raise self.unsupported(Resource.TRANSCRIPTIONS_DELETE)

    def list_conferences(self, filters: ConferenceFilters, cursor: str | None,
                         page_size: int) -> Operation[Page[Conference]]:
        raise self.unsupported(Resource.CONFERENCES_LIST)

    def get_conference(self, conference_id: str) -> Operation[Conference]:
        raise self.unsupported(Resource.CONFERENCES_GET)

    def update_conference(self, conference_id: str, params: UpdateConference
                          ) -> Operation[None]:
        raise self.unsupported(Resource.CONFERENCES_UPDATE)

    def list_members(self, conference_id: str, cursor: str | None, page_size: int
                     ) -> Operation[Page[ConferenceMember]]:
        raise self.unsupported(Resource.CONFERENCE_MEMBERS)

    def update_member(self, conference_id: str, call_id: str, params: MemberUpdate
                      ) -> Operation[None]:
        raise self.unsupported(Resource.CONFERENCE_MEMBERS)

    def list_conference_recordings(self, conference_id: str, cursor: str | None,
                                   page_size: int) -> Operation[Page[Recording]]:
        raise self.unsupported(Resource.CONFERENCE_RECORDINGS)

    def list_flows(self, cursor: str | None, page_size: int) -> Operation[Page[StoredFlow]]:
        raise self.unsupported(Resource.FLOWS)

    def get_flow(self, flow_id: str) -> Operation[StoredFlow]:
        raise self.unsupported(Resource.FLOWS)

    def create_flow(self, flow: Flow, name: str | None) -> Operation[StoredFlow]:
        raise self.unsupported(Resource.FLOWS)

    def delete_flow(self, flow_id: str) -> Operation[None]:
        raise self.unsupported(Resource.FLOWS)

    def list_webhooks(self, cursor: str | None, page_size: int
                      ) -> Operation[Page[WebhookSubscription]]:
        raise self.unsupported(Resource.WEBHOOKS)

    def create_webhook(self, url: str, events: list[str]) -> Operation[WebhookSubscription]:
        raise self.unsupported(Resource.WEBHOOKS)

    def delete_webhook(self, webhook_id: str) -> Operation[None]:
        raise self.unsupported(Resource.WEBHOOKS)


    # Webhooks: verify, parse, answer. Pure functions of the request (no I/O) -----------

    webhook_content_types: ClassVar[tuple[str, ...]] = ("application/json",)
    # True when ``respond_to_callback`` reads the store on every callback (Bird: the call's
    # state), so the app runs it in a worker thread; otherwise it runs inline, cheaper.
    responds_from_store: ClassVar[bool] = False

    def verify_webhook(self, request: WebhookRequest) -> None:
        """Authenticate a callback the provider's way; ``WebhookRejected(401)`` if not."""
        raise WebhookRejected(404, f"provider '{self.name}' does not take callbacks yet")

    def parse_events(self, request: WebhookRequest) -> list[BaseEvent]:
        """The neutral events a (verified) callback carries; ``WebhookRejected(400)`` for a
        malformed one, ``UnknownEvent`` for one of a type no table knows."""
        raise WebhookRejected(404, f"provider '{self.name}' does not take callbacks yet")

    def respond_to_callback(self, request: WebhookRequest, events: list[BaseEvent],
                            context: Continuations) -> Document | None:
        """The document a callback expects back (BXML for a Bandwidth answer), or one to
        push to the call (``Document.push``: Bird), or None. Runs on the event loop unless
        ``responds_from_store`` (then in a worker thread, reading the store through
        ``context`` on every callback)."""
        return None

    def push_document(self, call_id: str, document: Document) -> Operation[Any]:
        """The REST request that hands a running call its next document (push-only
        providers: Bird's ``PATCH`` of the call's flow)."""
        raise WebhookRejected(404, f"provider '{self.name}' takes no pushed documents")

    def called_number(self, request: WebhookRequest) -> str | None:
        """The number an inbound call dialled, from a request for its first document."""
        return None

    def render_continuation(self, flow: Flow, flow_id: str, node: str,
                            request: WebhookRequest, events: list[BaseEvent],
                            context: Continuations) -> Document | None:
        """The next native document of a stored flow at ``node``; ``events`` are those the
        request carried (a gather's digits), already handled. May read and update the
        call's state in ``context`` (so it runs in a worker thread). A push-only provider
        returns a document with ``push`` set, or None when the callback needs none."""
        raise WebhookRejected(404, f"provider '{self.name}' has no continuation documents")


_REQUEST_ID_HEADERS = ("x-request-id", "messagebird-request-id", "x-amzn-requestid")


def _natives(flow: Flow) -> list[tuple[str, Native]]:
    """The flow's native steps with their paths (kept per flow object: checked per call)."""
    from univoice.flow.memo import memo
    from univoice.flow.steps import Native
    from univoice.flow.walk import walk

    kept = memo(flow, "natives")
    if "natives" not in kept:
        kept["natives"] = [(p, s) for p, s in walk(flow) if isinstance(s, Native)]
    found: list[tuple[str, Native]] = kept["natives"]
    return found


def _order(path: str) -> tuple[int, str]:
    # Top-level options (record, machine_detection) come before steps.
    return (0 if not path.startswith("steps") else 1, path)
