"""``MessageBirdProvider``: call-flow JSON (inline where it can branch, through the webhook
app where it cannot), Voice Calling REST, signed callbacks."""

from __future__ import annotations

import hmac
import json
from typing import TYPE_CHECKING, Any, ClassVar

from univoice.capabilities import Capabilities, Feature, Resource
from univoice.flow.positions import Positions, Reprompt
from univoice.flow.steps import Gather
from univoice.provider import Document, ProviderSettings
from univoice.webhooks.request import WebhookRejected
from univoice_messagebird import compile, events
from univoice_messagebird.operations import MessageBirdOperations
from univoice_messagebird.settings import MessageBirdSettings

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.flow import Flow
    from univoice.migrate import Imported
    from univoice.webhooks.continuations import Continuations
    from univoice.webhooks.request import WebhookRequest

MISSING = (Feature.CONFERENCE, Feature.CONFERENCE_MUTED, Feature.CONFERENCE_HOLD_MUSIC,
           Feature.CONFERENCE_RECORD, Feature.CONFERENCE_END_ON_EXIT, Feature.CONFERENCE_WAIT,
           Feature.SAY_VOICE, Feature.SEND_DIGITS, Feature.TRANSFER_MULTIPLE,
           Feature.TRANSFER_CALLER_ID, Feature.TRANSFER_NO_ANSWER, Feature.PLAY_LOOP,
           Feature.FLOW_MACHINE_DETECTION)
RESOURCES = (
    Resource.CALLS_CREATE, Resource.CALLS_GET, Resource.CALLS_LIST, Resource.CALLS_HANGUP,
    Resource.RECORDINGS_LIST, Resource.RECORDINGS_GET, Resource.RECORDINGS_DOWNLOAD,
    Resource.RECORDINGS_DELETE, Resource.TRANSCRIPTIONS_CREATE, Resource.TRANSCRIPTIONS_GET,
    Resource.FLOWS, Resource.WEBHOOKS,
)
NOTES: dict[Feature | Resource, str] = {
    Feature.CONFERENCE: "the Voice Calling API has no conference step",
    Feature.SAY_VOICE: "say takes a gender (male/female), not a named voice",
    Feature.SEND_DIGITS: "no documented step sends DTMF",
    Feature.TRANSFER_MULTIPLE: "a transfer step has one destination",
    Feature.TRANSFER_CALLER_ID: "a transfer step has no caller ID option",
    Feature.TRANSFER_NO_ANSWER: "a transfer step reports no outcome to branch on",
    Feature.PLAY_LOOP: "a play step has no repeat option",
    Feature.FLOW_MACHINE_DETECTION: "only say steps react to a machine (ifMachine); no "
                                    "detection result to branch on",
}


class MessageBirdProvider(MessageBirdOperations):
    name: ClassVar[str] = "messagebird"
    title: ClassVar[str] = "MessageBird Voice Calling API (call flows)"
    capabilities: ClassVar[Capabilities] = Capabilities.all_but(
        MISSING, resources=RESOURCES, notes=NOTES)
    settings_model: ClassVar[type[ProviderSettings]] = MessageBirdSettings

    def needs_app(self, flow: Flow) -> bool:
        return compile.needs_app(flow)

    def continuation_points(self, flow: Flow) -> dict[str, str]:
        """Each gather it cannot run inline (``compile.inline``): its keys go to the app."""
        return {path: "fetchCallFlow: the app decides the keys (re-prompts, free input, "
                      "a nested menu) and answers with the next call flow"
                for path, step in flow.walk()
                if isinstance(step, Gather) and not compile.inline(step)}

    def check_flow(self, flow: Flow) -> None:
        super().check_flow(flow)
        compile.check(flow)

    def compile_flow(self, flow: Flow) -> Document:
        """The call flow a call starts with (``fetchCallFlow`` URLs relative to the app's
        node URL: the app serves absolute ones)."""
        self.check_flow(flow)
        return _document(compile.start(flow, compile.Links()))

    def import_document(self, source: str | bytes) -> Imported:
        """A call flow (or a stored flow's REST envelope) as a neutral flow, with notes."""
        from univoice_messagebird.importer import import_document  # only convert needs it

        return import_document(source)

    def verify_webhook(self, request: WebhookRequest) -> None:
        """A signed callback (JWT), or a ``fetchCallFlow`` of a continuation URL univoice
        handed out (its token: MessageBird's signing of these requests is unconfirmed)."""
        token = request.query.get("token")
        if request.method == "GET" and token and not request.header(
                "messagebird-signature-jwt"):
            self._verify_token(request, token)
            return
        events.verify(self._settings, request)

    def _verify_token(self, request: WebhookRequest, token: str) -> None:
        key = self._settings.signing_key
        if key is None:
            raise WebhookRejected(401, "set messagebird.signing_key: no request can be "
                                       "verified without it")
        parts = request.path.rstrip("/").split("/")
        if len(parts) < 3 or parts[-3] != "flow":
            raise WebhookRejected(401, "a token only authenticates continuation URLs")
        expected = compile.url_token(key.get_secret_value(), parts[-2], parts[-1],
                                     request.query)
        if not hmac.compare_digest(expected.encode(), token.encode("utf-8", "surrogatepass")):
            raise WebhookRejected(401, "the continuation URL's token does not match")

    def parse_events(self, request: WebhookRequest) -> list[BaseEvent]:
        if not request.body:  # a fetchCallFlow request: its query carries no event
            return []
        return events.parse(request)

    def called_number(self, request: WebhookRequest) -> str | None:
        """``destination`` of the fetchCallFlow request (digits; E.164 with its '+')."""
        number = request.query.get("destination", "")
        return f"+{number}" if number.isdigit() else (number or None)

    def inbound_call_flow(self, public_url: str) -> dict[str, Any]:
        """The call flow to store at MessageBird and attach to numbers (``voice.flows``):
        it fetches each inbound call's flow from the webhook app at ``public_url``."""
        links = compile.Links(flow=f"{public_url.rstrip('/')}/univoice/{self.name}/flow/"
                                   "inbound/", key=self._key())
        return {"title": "univoice inbound",
                "steps": [{"id": "s0", "action": "fetchCallFlow",
                           "options": {"url": links.node("start", on="inbound")}}]}

    def _key(self) -> str | None:
        key = self._settings.signing_key
        return key.get_secret_value() if key else None

    def _links(self, context: Continuations, flow_id: str) -> compile.Links:
        return compile.Links(flow=context.flow_url(flow_id, ""), key=self._key())

    def render_continuation(self, flow: Flow, flow_id: str, node: str,
                            request: WebhookRequest, events: list[BaseEvent],
                            context: Continuations) -> Document:
        """The call flow for ``node``: ``start``; ``?on=gather&attempt=N`` decides a
        gather from the keys in ``variables``; a bare step path runs from that step."""
        links = self._links(context, flow_id)
        call_id = request.query.get("callID") or None
        variables: dict[str, str] = (context.call_state(call_id).get("variables", {})
                                     if call_id else {})
        positions = Positions(flow)
        if node == "start":
            return _document(compile.start(flow, links))
        if positions.step(node) is None:
            raise WebhookRejected(404, f"flow {flow_id!r} has no step {node!r}")
        on = request.query.get("on")
        if on == "gather":
            attempt = _attempt(request.query.get("attempt"))
            keys = "" if request.query.get("input") == "none" else _keys(request)
            outcome, values = positions.after_gather(node, attempt, keys)
            if values and call_id:
                variables = context.update_call_state(
                    call_id, lambda state: {**state, "variables": {
                        **state.get("variables", {}), **values}})["variables"]
            if isinstance(outcome, Reprompt):
                return _document(compile.gather_again(flow, node, links, outcome, variables))
            return _document(compile.render(flow, outcome, links, variables))
        if on is None:
            return _document(compile.render(flow, positions.run_from(node), links, variables))
        raise WebhookRejected(400, f"unknown continuation {on!r}")


def _document(native: dict[str, Any]) -> Document:
    return Document(provider="messagebird", media_type=compile.MEDIA_TYPE,
                    body=json.dumps(native, separators=(",", ":"), ensure_ascii=False),
                    native=native)


def _attempt(value: str | None) -> int:
    if (value is None or not value.isascii() or not value.isdigit() or len(value) > 2
            or not 1 <= int(value) <= 11):
        raise WebhookRejected(400, "attempt must be a number from 1 to 11")
    return int(value)


def _keys(request: WebhookRequest) -> str:
    """The gathered keys: ``variables`` (JSON) of the fetchCallFlow request."""
    raw = request.query.get("variables")
    if not raw:
        return ""
    try:
        found = json.loads(raw)
    except ValueError:
        raise WebhookRejected(400, "variables is not JSON") from None
    keys = found.get(compile.KEYS_VARIABLE, "") if isinstance(found, dict) else ""
    if not isinstance(keys, str) or len(keys) > 64 or not all(k in "0123456789*#" for k in keys):
        raise WebhookRejected(400, "the gathered keys are not 0-9, * or #")
    return keys
