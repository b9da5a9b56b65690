"""``BirdProvider``: ``callFlow`` commands pushed with the call (and PATCHed later by the
webhook app where a flow continues), Bird Voice REST, signed callbacks."""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, ClassVar

from univoice.capabilities import Capabilities, Feature, Resource
from univoice.provider import Document, ProviderSettings
from univoice_bird import compile, events
from univoice_bird.operations import BirdOperations
from univoice_bird.settings import BirdSettings

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.flow import Flow
    from univoice.webhooks.request import WebhookRequest

MISSING = (Feature.CONFERENCE, Feature.CONFERENCE_MUTED, Feature.CONFERENCE_HOLD_MUSIC,
           Feature.CONFERENCE_RECORD, Feature.CONFERENCE_END_ON_EXIT, Feature.CONFERENCE_WAIT,
           Feature.SAY_VOICE, Feature.SEND_DIGITS, Feature.TRANSFER_MULTIPLE,
           Feature.REDIRECT, Feature.REDIRECT_GET,
           # Until the webhook app pushes the next call flow (PATCH) for Bird:
           Feature.GATHER_NESTED_MENU, Feature.GATHER_FREE_INPUT, Feature.GATHER_RETRIES,
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
    **{f: compile.NEEDS_PUSH for f in (
        Feature.GATHER_NESTED_MENU, Feature.GATHER_FREE_INPUT, Feature.GATHER_RETRIES,
        Feature.TRANSFER_NO_ANSWER, Feature.FLOW_MACHINE_DETECTION)},
}


class BirdProvider(BirdOperations):
    name: ClassVar[str] = "bird"
    title: ClassVar[str] = "Bird Voice API (callFlow commands)"
    capabilities: ClassVar[Capabilities] = Capabilities.all_but(
        MISSING, resources=RESOURCES, notes=NOTES)
    settings_model: ClassVar[type[ProviderSettings]] = BirdSettings

    def check_flow(self, flow: Flow) -> None:
        super().check_flow(flow)
        compile.check(flow)

    def compile_flow(self, flow: Flow) -> Document:
        self.check_flow(flow)
        native = compile.start(flow)
        return Document(provider=self.name, media_type="application/json",
                        body=json.dumps(native, separators=(",", ":")), native=native)

    def verify_webhook(self, request: WebhookRequest) -> None:
        events.verify(self._settings, request)

    def parse_events(self, request: WebhookRequest) -> list[BaseEvent]:
        return events.parse(request)
