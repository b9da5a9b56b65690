"""``MessageBirdProvider``: call-flow JSON (inline where it can branch, through the webhook
app where it cannot), Voice Calling REST, signed callbacks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

from univoice.capabilities import Capabilities, Feature, Resource
from univoice.provider import Document, ProviderSettings
from univoice_messagebird import compile, events
from univoice_messagebird.operations import MessageBirdOperations
from univoice_messagebird.settings import MessageBirdSettings

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.flow import Flow
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

    def compile_flow(self, flow: Flow) -> Document:
        self.check_flow(flow)
        native: dict[str, object] = {"steps": []}  # the compiler arrives in its own commit
        return Document(provider=self.name, media_type="application/json",
                        body=json.dumps(native), native=native)

    def verify_webhook(self, request: WebhookRequest) -> None:
        events.verify(self._settings, request)

    def parse_events(self, request: WebhookRequest) -> list[BaseEvent]:
        return events.parse(request)
