"""``BirdProvider``: ``callFlow`` commands pushed with the call (and PATCHed later by the
webhook app where a flow is hosted, or to answer an inbound call), Bird Voice REST,
signed callbacks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from univoice.capabilities import Capabilities, Feature, Resource
from univoice.errors import UnivoiceError
from univoice.flow.steps import Gather
from univoice.models import Direction
from univoice.provider import Document, Provider, ProviderSettings
from univoice.webhooks.request import WebhookRejected
from univoice_bird import compile, events, push, vocab
from univoice_bird.operations import BirdOperations
from univoice_bird.settings import BirdSettings

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.flow import Flow
    from univoice.migrate import Imported
    from univoice.operations import Operation
    from univoice.webhooks.continuations import Continuations
    from univoice.webhooks.request import WebhookRequest

MISSING = (Feature.CONFERENCE, Feature.CONFERENCE_MUTED, Feature.CONFERENCE_HOLD_MUSIC,
           Feature.CONFERENCE_RECORD, Feature.CONFERENCE_END_ON_EXIT, Feature.CONFERENCE_WAIT,
           Feature.SAY_VOICE, Feature.SEND_DIGITS, Feature.TRANSFER_MULTIPLE,
           Feature.REDIRECT, Feature.REDIRECT_GET,
           # Bird reports neither a bridge's outcome nor (documented) when to act on AMD:
           Feature.TRANSFER_NO_ANSWER, Feature.FLOW_MACHINE_DETECTION)
RESOURCES = (Resource.CALLS_CREATE, Resource.CALLS_GET, Resource.CALLS_LIST,
             Resource.CALLS_UPDATE, Resource.CALLS_HANGUP, Resource.RECORDINGS_LIST,
             Resource.RECORDINGS_GET,
             Resource.RECORDINGS_DOWNLOAD)
NOTES: dict[Feature | Resource, str] = {
    Feature.CONFERENCE: "the Voice API has no conference command",
    Feature.SAY_VOICE: "say takes a gender (male/female), not a named voice",
    Feature.SEND_DIGITS: "keys can be sent only when the call is created (sendKeys)",
    Feature.TRANSFER_MULTIPLE: "a bridge rings one destination",
    Feature.REDIRECT: "Bird pulls no call flow from a URL: univoice's app pushes flows",
    Feature.TRANSFER_NO_ANSWER: "a bridge's callFlow goes on whether or not the other "
                                "party answered, and no callback documents which",
    Feature.FLOW_MACHINE_DETECTION: "amdSettings give a result on the call, but nothing "
                                    "documents when a call flow could act on it",
    **{f: compile.NEEDS_APP for f in (
        Feature.GATHER_NESTED_MENU, Feature.GATHER_FREE_INPUT, Feature.GATHER_RETRIES)},
}
# Call statuses of an inbound call that has not been answered yet (the app answers it).
RINGING = frozenset(("starting", "ringing"))


class BirdProvider(BirdOperations):
    name: ClassVar[str] = "bird"
    title: ClassVar[str] = "Bird Voice API (callFlow commands)"
    capabilities: ClassVar[Capabilities] = Capabilities.all_but(
        MISSING, resources=RESOURCES, notes=NOTES)
    settings_model: ClassVar[type[ProviderSettings]] = BirdSettings
    responds_from_store: ClassVar[bool] = True  # each callback reads the call's state

    def check_flow(self, flow: Flow) -> None:
        super().check_flow(flow)
        compile.check(flow)

    def needs_app(self, flow: Flow) -> bool:
        return compile.hosted(flow)

    def continuation_points(self, flow: Flow) -> dict[str, str]:
        """Every gather of a hosted flow: the app pushes the next segment after it."""
        if not compile.hosted(flow):
            return {}
        return {path: "the app reads the keys from the callback and PATCHes the call "
                      "with its next call flow"
                for path, step in flow.walk() if isinstance(step, Gather)}

    def compile_flow(self, flow: Flow) -> Document:
        self.check_flow(flow)
        native = compile.start(flow)
        return Document(provider=self.name, media_type="application/json",
                        body=json.dumps(native, separators=(",", ":")), native=native)

    def import_document(self, source: str | bytes) -> Imported:
        from univoice_bird.importer import import_document  # only convert needs it

        return import_document(source)

    def verify_webhook(self, request: WebhookRequest) -> None:
        events.verify(self._settings, request)

    def parse_events(self, request: WebhookRequest) -> list[BaseEvent]:
        return events.parse(request)

    # Pushing the next call flow (univoice_bird.push) ----------------------------------

    def push_document(self, call_id: str, document: Document) -> Operation[Any]:
        return self.patch_call_flow(call_id, document.native)

    def respond_to_callback(self, request: WebhookRequest, events_: list[BaseEvent],
                            context: Continuations) -> Document | None:
        """A callback on the events route: a hosted call's next call flow (its state names
        the flow), or an unanswered inbound call's first, for the called number's flow."""
        call = events.call_object(request.json())
        call_id = _call_id(call)
        if call is None or call_id is None:
            return None
        state = context.call_state(call_id)
        if state.get("flow"):
            flow = context.load_flow(str(state["flow"]))
            return None if flow is None else self._continue(flow, call, call_id, state)
        if (vocab.direction(call.get("direction")) is Direction.INBOUND
                and vocab.word(call.get("status")) in RINGING):
            number = (vocab.phone(call.get("to"))
                      or vocab.party_number(call.get("receiver")))
            flow = context.inbound(number)
            if flow is None:
                return None  # not a number univoice answers: Bird's own handling applies
            from univoice.hosting import flow_id

            try:
                Provider.check_flow(self, flow)
                compile.check(flow)
                first = push.answer(flow, flow_id(flow), call_id)
            except UnivoiceError as exc:  # the app's configuration, not the callback
                raise WebhookRejected(422, f"the flow answering {number} cannot run on "
                                           f"Bird: {exc}") from None
            context.save_flow(flow, flow_id(flow))
            return first
        return None

    def render_continuation(self, flow: Flow, flow_id: str, node: str,
                            request: WebhookRequest, events_: list[BaseEvent],
                            context: Continuations) -> Document | None:
        """A callback on a hosted call's own route (its ``notification.url``, naming the
        flow it started with): the next call flow once a gather's keys are reported."""
        call = events.call_object(request.json())
        call_id = _call_id(call)
        if call is None or call_id is None:
            return None
        state = context.call_state(call_id) or push.first_state(flow, flow_id)
        if state.get("flow") not in (None, flow_id):  # moved to another flow since
            moved = context.load_flow(str(state["flow"]))
            if moved is None:
                return None
            flow = moved
        return self._continue(flow, call, call_id, state)

    def _continue(self, flow: Flow, call: dict[str, Any], call_id: str,
                  state: dict[str, Any]) -> Document | None:
        status = vocab.word(call.get("status"))
        if status is not None and status not in vocab.LIVE_STATUSES:
            # An ended call takes no call flow: its final callback (which may still show
            # the keys of a gather whose push failed) is handled, never pushed for.
            return None
        result = events.gather_result(call)
        return None if result is None else push.next_flow(flow, call_id, state, result)


def _call_id(call: dict[str, Any] | None) -> str | None:
    if call is None:
        return None
    for key in ("id", "callId"):
        value = call.get(key)
        if isinstance(value, str) and value.strip():
            return value.strip()
    return None
