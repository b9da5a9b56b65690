"""``BandwidthProvider``: BXML documents served by the webhook app, Voice API v2 REST."""

from __future__ import annotations

from collections import UserDict
from functools import cached_property
from typing import TYPE_CHECKING, Any, ClassVar

from univoice import hosting
from univoice.capabilities import Capabilities, Feature, Resource
from univoice.events import CallInitiated, DigitsGathered, MachineDetected, TransferCompleted
from univoice.flow.positions import Positions
from univoice.flow.steps import Gather, Transfer
from univoice.models import Direction
from univoice.provider import Document, ProviderSettings
from univoice.webhooks.request import WebhookRejected
from univoice_bandwidth import compile, events
from univoice_bandwidth.operations import BandwidthOperations
from univoice_bandwidth.settings import BandwidthSettings

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.flow import Flow
    from univoice.migrate import Imported
    from univoice.webhooks.continuations import Continuations
    from univoice.webhooks.request import WebhookRequest

MISSING = (Feature.CONFERENCE_HOLD_MUSIC, Feature.CONFERENCE_END_ON_EXIT,
           Feature.CONFERENCE_WAIT)
RESOURCES = (
    Resource.CALLS_CREATE, Resource.CALLS_GET, Resource.CALLS_LIST, Resource.CALLS_UPDATE,
    Resource.CALLS_HANGUP, Resource.RECORDINGS_LIST, Resource.RECORDINGS_GET,
    Resource.RECORDINGS_DOWNLOAD, Resource.RECORDINGS_DELETE,
    Resource.TRANSCRIPTIONS_CREATE, Resource.TRANSCRIPTIONS_GET,
    Resource.TRANSCRIPTIONS_DELETE, Resource.CONFERENCES_LIST,
    Resource.CONFERENCES_GET, Resource.CONFERENCES_UPDATE, Resource.CONFERENCE_MEMBERS,
    Resource.CONFERENCE_RECORDINGS,
)
NOTES: dict[Feature | Resource, str] = {
    Feature.CONFERENCE_HOLD_MUSIC: "the Conference verb has no hold music",
    Feature.CONFERENCE_END_ON_EXIT: "the Conference verb cannot end the room when one "
                                    "member leaves (end it with conferences.update)",
    Feature.CONFERENCE_WAIT: "a Bandwidth conference starts with its first member",
    Resource.FLOWS: "Bandwidth stores no call flows: univoice's webhook app serves them",
    Resource.WEBHOOKS: "callback URLs are set per call and on the Voice application",
}


class BandwidthProvider(BandwidthOperations):
    name: ClassVar[str] = "bandwidth"
    title: ClassVar[str] = "Bandwidth Voice API v2 (BXML)"
    capabilities: ClassVar[Capabilities] = Capabilities.all_but(
        MISSING, resources=RESOURCES, notes=NOTES)
    settings_model: ClassVar[type[ProviderSettings]] = BandwidthSettings
    fetches_documents: ClassVar[bool] = True

    def __init__(self, settings: ProviderSettings | None = None, **values: Any) -> None:
        super().__init__(settings, **values)
        self._saved: set[str] = set()  # inbound flows already in the store (this process)

    # Flows ------------------------------------------------------------------------------

    def check_flow(self, flow: Flow) -> None:
        super().check_flow(flow)
        compile.check(flow)

    def continuation_points(self, flow: Flow) -> dict[str, str]:
        """Each gather (``gatherUrl``) and transfer (``transferAnswerUrl`` on the answered
        leg; ``transferCompleteUrl`` when a no-answer branch needs deciding). The first
        document is fetched too (``fetches_documents``)."""
        found: dict[str, str] = {}
        for path, step in flow.walk():
            if isinstance(step, Gather):
                found[path] = "gatherUrl: the app decides the keys and serves the next BXML"
            elif isinstance(step, Transfer):
                found[path] = ("transferAnswerUrl: the app serves the answered leg's BXML"
                               + ("; transferCompleteUrl: it picks the no-answer branch"
                                  if step.no_answer is not None else ""))
        return found

    def compile_flow(self, flow: Flow) -> Document:
        """The call's first document, its URLs relative to where the app serves it and
        without the callback credentials (a document to read; the app serves the real
        one)."""
        self.check_flow(flow)
        return _document(compile.start(flow, compile.Links()))

    def import_document(self, source: str | bytes) -> Imported:
        """A BXML ``<Response>``/``<Bxml>`` as a neutral flow (``importer``)."""
        from univoice_bandwidth.importer import import_document

        return import_document(source)

    def _links(self, context: Continuations, flow_id: str) -> compile.Links:
        s = self._settings
        password = s.callback_password.get_secret_value() if s.callback_password else None
        # Positional: a NamedTuple made with keywords costs half as much again, per callback.
        return compile.Links(context.flow_url(flow_id, ""), context.events_url(),
                             s.callback_username, password)

    # Webhooks ---------------------------------------------------------------------------

    def verify_webhook(self, request: WebhookRequest) -> None:
        events.verify(self._settings, request)

    def parse_events(self, request: WebhookRequest) -> list[BaseEvent]:
        return events.parse(request)

    def respond_to_callback(self, request: WebhookRequest, events: list[BaseEvent],
                            context: Continuations) -> Document | None:
        """An inbound call (``initiate``) is answered with the flow for the called number;
        conference events, which expect BXML, get an empty document (nothing to run)."""
        for event in events:
            if isinstance(event, CallInitiated) and event.direction == Direction.INBOUND:
                flow = context.inbound(event.to)
                if flow is None:
                    raise WebhookRejected(404, f"no flow answers calls to {event.to}")
                flow_id = hosting.flow_id(flow)
                if flow_id not in self._saved:
                    context.save_flow(flow, flow_id)
                    self._saved.add(flow_id)
                return _document(compile.start(flow, self._links(context, flow_id)))
        kinds = {str(e.raw.get("eventType", "")) for e in events}
        if kinds & EXPECTS_EMPTY_DOCUMENT:
            return _document(compile.empty())
        return None

    def render_continuation(self, flow: Flow, flow_id: str, node: str,
                            request: WebhookRequest, events: list[BaseEvent],
                            context: Continuations) -> Document:
        """The document for ``node`` of a stored flow. ``start`` answers the call;
        ``?on=gather&attempt=N`` decides a gather's outcome from its digits;
        ``?on=transfer`` a transfer's (no-answer branch or not); ``?on=answered`` runs on
        a transfer's answered leg; a bare step path runs from that step."""
        links = self._links(context, flow_id)
        on = request.query.get("on")
        call_id = next((e.call_id for e in events if e.call_id), None)
        variables = _CallVariables(context, call_id)
        positions = Positions(flow)
        if node == "start":
            machine = any(isinstance(e, MachineDetected) and e.result == "machine"
                          for e in events)
            return _document(compile.start(flow, links, machine=machine))
        if positions.step(node) is None:
            raise WebhookRejected(404, f"flow {flow_id!r} has no step {node!r}")
        try:
            if on == "gather":
                attempt = _attempt(request.query.get("attempt"))
                digits = next((e.digits for e in events if isinstance(e, DigitsGathered)), "")
                body, values = compile.after_gather(flow, node, attempt, digits, links,
                                                    variables)
                if values and call_id:
                    context.update_call_state(call_id, lambda state: {**state, "variables": {
                        **state.get("variables", {}), **values}})
                return _document(body)
            if on == "transfer":
                cause = next((e.cause for e in events if isinstance(e, TransferCompleted)),
                             None)
                runs = positions.after_transfer(node, answered=cause == "hangup")
                return _document(compile.render(flow, runs, links, variables))
            if on == "answered":
                return _document(compile.answered_leg(flow, node, links))
            if on is None:
                return _document(compile.render(flow, positions.run_from(node), links,
                                                variables))
        except KeyError:
            raise WebhookRejected(404, f"step {node!r} is not a {on}") from None
        raise WebhookRejected(400, f"unknown continuation {on!r}")


class _CallVariables(UserDict[str, str]):
    """A call's gathered variables, read from the store when a document first asks: a
    document served from its flow's template reads none (most callbacks), and the read
    is a store round trip (twice the document's cost with SQLite)."""

    def __init__(self, context: Continuations, call_id: str | None) -> None:
        self._context, self._call_id = context, call_id  # ``data`` is read on first use

    @cached_property
    def data(self) -> dict[str, str]:  # type: ignore[override]
        if self._call_id is None:
            return {}
        values: dict[str, str] = self._context.call_state(self._call_id).get("variables", {})
        return values


# Conference events expect BXML back; run nothing (the conference goes on).
EXPECTS_EMPTY_DOCUMENT = frozenset({"conferenceCreated", "conferenceMemberJoin",
                                    "conferenceMemberExit", "conferenceRedirect"})


def _document(body: bytes) -> Document:
    return Document(provider="bandwidth", media_type=compile.MEDIA_TYPE,
                    body=body.decode("utf-8"))


def _attempt(value: str | None) -> int:
    if (value is None or not value.isascii() or not value.isdigit() or len(value) > 2
            or not 1 <= int(value) <= 11):
        raise WebhookRejected(400, "attempt must be a number from 1 to 11")
    return int(value)
