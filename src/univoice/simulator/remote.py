"""Running a flow the way a provider that fetches its call flow piece by piece does:
document after document from the webhook app, over HTTP.

``simulate_via_app`` starts from the stored flow's ``start`` document and follows each
redirect to the next continuation document; ``comparable`` strips what only the fetching
adds (the redirects), so its trace can be compared with the in-process simulation. This
is the harness each provider's interpreter is held to as well.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any

from univoice.errors import ProviderError
from univoice.flow import Flow
from univoice.simulator.callbacks import SIGNATURE_HEADER, sign
from univoice.simulator.engine import simulate
from univoice.simulator.trace import TraceKind

if TYPE_CHECKING:
    import httpx

    from univoice.simulator.script import CalleeScript
    from univoice.simulator.trace import Trace


def simulate_via_app(base_url: str, flow_id: str, script: CalleeScript | None,
                     client: httpx.Client, *, secret: str | None = None,
                     provider: str = "simulator", **options: Any) -> Trace:
    """Simulate the flow stored under ``flow_id`` in the app at ``base_url``."""

    def fetch(url: str) -> Flow:
        headers = {SIGNATURE_HEADER: sign(secret, url, b"")} if secret else {}
        response = client.get(url, headers=headers)
        if response.status_code != 200:
            raise ProviderError(response.text[:200], provider=provider,
                                operation="flow.continue", status=response.status_code)
        return Flow.from_json(response.content)

    start = fetch(f"{base_url.rstrip('/')}/univoice/{provider}/flow/{flow_id}/start")
    return simulate(start, script, redirects=fetch, **options)


def comparable(trace: Trace) -> list[tuple[float, str, dict[str, Any]]]:
    """The trace as a caller would hear it: times, kinds and data, without the redirects
    that fetching documents adds, and without step paths (which name documents)."""
    return [(e.at, e.kind.value, dict(e.data)) for e in trace.events
            if e.kind != TraceKind.REDIRECTED]
