"""The simulator as a provider plugin (entry point ``simulator`` in group ``univoice``).

It is registered exactly as a third-party provider is, and is the default provider, so
everything runs on a fresh machine with no account.
"""

from __future__ import annotations

import json
from typing import TYPE_CHECKING, Any, ClassVar

from univoice.capabilities import Capabilities, Resource
from univoice.hooks import hookimpl
from univoice.provider import Document, Provider, ProviderSettings
from univoice.simulator.rest import SimulatorOperations, SimulatorSettings
from univoice.webhooks.request import WebhookRejected, WebhookRequest

if TYPE_CHECKING:
    from univoice.events import BaseEvent
    from univoice.flow import Flow
    from univoice.simulator.script import CalleeScript
    from univoice.simulator.trace import Trace
    from univoice.webhooks.continuations import Continuations


class SimulatorProvider(SimulatorOperations):
    """Runs flows in-process against a scripted callee; its document is the neutral JSON.

    Its REST resources are served in memory (``univoice.simulator.backend``) through the
    same transport as a real provider's, so ``Voice()`` works with no account.
    """

    name: ClassVar[str] = "simulator"
    title: ClassVar[str] = "Simulator (embedded, no account)"
    # Conference recordings are not kept apart from call recordings in the simulator.
    capabilities: ClassVar[Capabilities] = Capabilities.all_but(
        resources=[r for r in Resource if r is not Resource.CONFERENCE_RECORDINGS])
    settings_model: ClassVar[type[ProviderSettings]] = SimulatorSettings

    def compile_flow(self, flow: Flow) -> Document:
        self.check_flow(flow)
        native = flow.to_dict()
        # Compact JSON: the indenting encoder is pure Python and twice as slow.
        return Document(provider=self.name, media_type="application/json",
                        body=json.dumps(native, ensure_ascii=False), native=native)

    def verify_webhook(self, request: WebhookRequest) -> None:
        from univoice.simulator.callbacks import verify

        secret = self._settings.webhook_secret
        verify(secret.get_secret_value() if secret else None, request)

    def parse_events(self, request: WebhookRequest) -> list[BaseEvent]:
        from univoice.simulator.callbacks import parse

        return parse(request)

    def respond_to_callback(self, request: WebhookRequest, events: list[BaseEvent],
                            context: Continuations) -> Document | None:
        """An inbound call is answered with the flow configured for the called number."""
        from univoice.events import CallInitiated
        from univoice.models import Direction

        for event in events:
            if isinstance(event, CallInitiated) and event.direction == Direction.INBOUND:
                flow = context.inbound(event.to)
                if flow is None:
                    raise WebhookRejected(404, f"no flow answers calls to {event.to}")
                return self.compile_flow(flow)
        return None

    def render_continuation(self, flow: Flow, flow_id: str, node: str,
                            request: WebhookRequest, events: list[BaseEvent],
                            context: Continuations) -> Document:
        """The document at ``node`` (``start`` or a menu outcome's path): its steps and
        what follows them, each menu outcome a redirect to its own node, as a provider
        that fetches its call flow piece by piece would be served."""
        from univoice.flow.continuation import document

        served = document(flow, node, lambda next_node: context.flow_url(flow_id, next_node))
        if served is None:
            raise WebhookRejected(404, f"flow {flow_id!r} has no node {node!r}")
        return self.compile_flow(served)

    def simulate(self, flow: Flow, script: CalleeScript | None = None, **options: Any
                 ) -> Trace:
        """``univoice.simulator.simulate`` (options: from_, to, call_id, redirects)."""
        from univoice.simulator.engine import simulate

        return simulate(flow, script, **options)


@hookimpl
def univoice_providers() -> list[type[Provider]]:
    return [SimulatorProvider]
