"""The simulator as a provider plugin (entry point ``simulator`` in group ``univoice``).

It is registered exactly as a third-party provider is, and is the default provider, so
everything runs on a fresh machine with no account.
"""

from __future__ import annotations

from typing import TYPE_CHECKING, Any, ClassVar

from univoice.capabilities import Capabilities
from univoice.hooks import hookimpl
from univoice.provider import Document, Provider

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.simulator.script import CalleeScript
    from univoice.simulator.trace import Trace


class SimulatorProvider(Provider):
    """Runs flows in-process against a scripted callee; its document is the neutral JSON."""

    name: ClassVar[str] = "simulator"
    title: ClassVar[str] = "Simulator (embedded, no account)"
    capabilities: ClassVar[Capabilities] = Capabilities.all_but()

    def compile_flow(self, flow: Flow) -> Document:
        self.check_flow(flow)
        return Document(provider=self.name, media_type="application/json",
                        body=flow.to_json(), native=flow.to_dict())

    def simulate(self, flow: Flow, script: CalleeScript | None = None, **options: Any
                 ) -> Trace:
        """``univoice.simulator.simulate`` (options: from_, to, call_id, redirects)."""
        from univoice.simulator.engine import simulate

        return simulate(flow, script, **options)


@hookimpl
def univoice_providers() -> list[type[Provider]]:
    return [SimulatorProvider]
