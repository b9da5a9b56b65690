"""Flows served to providers that fetch each document from the univoice webhook app.

Bandwidth asks for BXML at every step of a call, so a call placed with a neutral flow
needs that flow stored where the app reads it (the FlowStore both processes share) and a
URL naming it. The id is the flow's content digest: storing it again, as a retried create
does, changes nothing, and the same flow placed a thousand times is stored once.
"""

from __future__ import annotations

import hashlib
import json
from dataclasses import dataclass, field
from typing import TYPE_CHECKING

from univoice.errors import ConfigError
from univoice.webhooks.continuations import Continuations

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.store import FlowStore

PREFIX = "/univoice"  # where VoiceApp serves its routes


def flow_id(flow: Flow) -> str:
    """The content digest naming a stored flow."""
    text = json.dumps(flow.to_dict(), sort_keys=True, separators=(",", ":"))
    return hashlib.sha256(text.encode()).hexdigest()[:32]


@dataclass
class FlowHost:
    """Stores flows for the webhook app at ``public_url`` and names their URLs."""

    public_url: str
    store_url: str | FlowStore
    _store: FlowStore | None = field(default=None, init=False, repr=False)

    def store(self) -> FlowStore:
        if self._store is None:
            from univoice.store import FlowStore, open_store

            self._store = (self.store_url if isinstance(self.store_url, FlowStore)
                           else open_store(self.store_url))
        return self._store

    def context(self, provider: str) -> Continuations:
        return Continuations(self.store(), self.public_url.rstrip("/"), provider, PREFIX)

    def host(self, provider: str, flow: Flow) -> tuple[str, str]:
        """Store ``flow``; return (URL of its first document, URL of the callback route)."""
        context = self.context(provider)
        stored = context.save_flow(flow, flow_id(flow))
        return context.flow_url(stored, "start"), context.events_url()

    def events_url(self, provider: str) -> str:
        return self.context(provider).events_url()

    def close(self) -> None:
        if self._store is not None and isinstance(self.store_url, str):  # we opened it
            self._store.close()
        self._store = None


def missing_host(provider: str) -> ConfigError:
    return ConfigError(
        f"provider '{provider}' fetches each document of a call from the univoice webhook "
        "app: set public_url (where the app is reachable) and flow_store (the store the app "
        "uses) in univoice.toml, or pass Voice(..., public_url=..., flow_store=...)")
