"""What a provider's renderer may use to continue a call through univoice.

A compiler that cannot express a branch inline stores the rest of the flow here under an
id and points the provider at ``flow_url(flow_id, node)``; any process sharing the store
can then serve the next document, and per-call state (variables, retries used) lives in
the same store.
"""

from __future__ import annotations

import threading
import uuid
from collections import OrderedDict
from collections.abc import Callable
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.store import FlowStore


InboundFlows = Callable[[str | None], "Flow | None"]
MAX_PARSED = 256
_PARSED: OrderedDict[str, Flow] = OrderedDict()  # content-addressed flows, parsed
_LOCK = threading.Lock()


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
        # Node paths hold [ ] ' and menu keys (# *): percent-encoded, the URL is the same
        # string whoever sends it, which is what a signature over it needs.
        return (f"{self.public_url}{self.prefix}/{self.provider}/flow/{flow_id}/"
                f"{quote(node, safe='.')}")

    def save_flow(self, flow: Flow, flow_id: str | None = None) -> str:
        flow_id = flow_id or uuid.uuid4().hex
        self.store.put_flow(flow_id, flow.to_dict())
        return flow_id

    def load_flow(self, flow_id: str) -> Flow | None:
        """The stored flow. One stored under its content digest (as calls' flows are)
        cannot change, so it is parsed once per process: validating a flow costs far more
        than serving its next document."""
        from univoice.flow import Flow
        from univoice.hosting import flow_id as digest

        with _LOCK:  # documents are rendered in worker threads
            cached = _PARSED.get(flow_id)
            if cached is not None:
                _PARSED.move_to_end(flow_id)
                return cached
        document = self.store.get_flow(flow_id)
        if document is None:
            return None
        flow = Flow.from_dict(document)
        if digest(flow) == flow_id:
            with _LOCK:
                _PARSED[flow_id] = flow
                if len(_PARSED) > MAX_PARSED:
                    _PARSED.popitem(last=False)
        return flow

    def call_state(self, call_id: str) -> dict[str, Any]:
        state: dict[str, Any] = self.store.get_state(self._key(call_id)) or {}
        return state

    def update_call_state(self, call_id: str, fn: Callable[[dict[str, Any]], dict[str, Any]]
                          ) -> dict[str, Any]:
        return self.store.update_state(self._key(call_id), fn)

    def _key(self, call_id: str) -> str:
        return f"{self.provider}:call:{call_id}"
