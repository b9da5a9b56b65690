"""pluggy hook specifications for project ``univoice``.

A provider package implements ``univoice_providers``; other plugins observe what
univoice sends, receives and hears. Plugins are found through the ``univoice``
entry-point group (see ``univoice.plugins``).
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

import pluggy

if TYPE_CHECKING:
    from univoice.provider import Provider

PROJECT = "univoice"
hookspec = pluggy.HookspecMarker(PROJECT)
hookimpl = pluggy.HookimplMarker(PROJECT)


@hookspec
def univoice_providers() -> list[type[Provider]]:  # type: ignore[empty-body]
    """Return the provider classes this plugin offers."""


@hookspec
def univoice_request(provider: str, request: Any) -> None:
    """Observe an outgoing provider request (an ``httpx.Request``, secrets redacted)."""


@hookspec
def univoice_response(provider: str, request: Any, response: Any) -> None:
    """Observe a provider response (an ``httpx.Response``) to ``request``."""


@hookspec
def univoice_retry(provider: str, operation: str, attempt: int, delay: float, error: Any
                   ) -> None:
    """Observe a retry: ``attempt`` failed with ``error``; the next comes after ``delay`` s."""


@hookspec
def univoice_event(event: Any) -> None:
    """Observe a neutral event (a webhook callback or a simulated call event)."""
