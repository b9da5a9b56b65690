"""Neutral flow -> Bird ``callFlow`` commands. Pure: no I/O.

(The compiler proper lands in its own commit; this module fixes its interface.)
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from univoice.flow import Flow

MAX_COMMANDS = 20  # Bird runs at most 20 commands per call flow


def start(flow: Flow) -> list[dict[str, Any]]:
    """The ``callFlow`` a call starts with (at most ``MAX_COMMANDS`` commands)."""
    return [{"command": "hangup"}]
