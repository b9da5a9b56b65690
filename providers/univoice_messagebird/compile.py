"""Neutral flow -> MessageBird call-flow JSON. Pure: no I/O.

(The compiler proper lands in its own commit; this module fixes its interface.)
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any
from urllib.parse import quote, urlencode

if TYPE_CHECKING:
    from univoice.flow import Flow


@dataclass(frozen=True)
class Links:
    """Where ``fetchCallFlow`` steps send MessageBird: the prefix of the stored flow's node
    URLs (``https://app.example/univoice/messagebird/flow/{id}/``)."""

    flow: str = ""

    def node(self, path: str, **query: str | int) -> str:
        url = self.flow + quote(path, safe=".")
        return f"{url}?{urlencode(query)}" if query else url


def start(flow: Flow, links: Links) -> dict[str, Any]:
    """The call flow a call starts with: ``{"title"?, "record"?, "steps": [...]}``."""
    return {"steps": [{"id": "s0", "action": "hangup"}]}


def needs_app(flow: Flow) -> bool:
    """Whether the flow continues through the webhook app (``fetchCallFlow``)."""
    return False
