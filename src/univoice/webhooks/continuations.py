"""What a provider's renderer may use to continue a call through univoice.

A compiler that cannot express a branch inline stores the rest of the flow here under an
id and points the provider at ``flow_url(flow_id, node)``; any process sharing the store
can then serve the next document, and per-call state (variables, retries used) lives in
the same store.
"""

from __future__ import annotations

import uuid
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.store import FlowStore


InboundFlows = Callable[[str | None], "Flow | None"]


@dataclass(frozen=True)
class Continuations:
    store: FlowStore
    public_url: str  # e.g. https://voice.example.com (no trailing slash)
    provider: str
    prefix: str = "/univoice"
    # The flow for an inbound call to a number (None: no flow for it).
    inbound: InboundFlows = lambda number: None


    def events_url(self) -> str:
        return f"{self.public_url}{self.prefix}/{self.provider}/events"

    def flow_url(self, flow_id: str, node: str) -> str:
        return f"{self.public_url}{self.prefix}/{self.provider}/flow/{flow_id}/{node}"

    def save_flow(self, flow: Flow, flow_id: str | None = None) -> str:
        flow_id = flow_id or uuid.uuid4().hex
        self.store.put_flow(flow_id, flow.to_dict())
        return flow_id

    def load_flow(self, flow_id: str) -> Flow | None:
        from univoice.flow import Flow

        document = self.store.get_flow(flow_id)
        return None if document is None else Flow.from_dict(document)

    def call_state(self, call_id: str) -> dict[str, Any]:
        state: dict[str, Any] = self.store.get_state(self._key(call_id)) or {}
        return state

    def update_call_state(self, call_id: str, fn: Callable[[dict[str, Any]], dict[str, Any]]
                          ) -> dict[str, Any]:
        return self.store.update_state(self._key(call_id), fn)

    def _key(self, call_id: str) -> str:
        return f"{self.provider}:call:{call_id}"
