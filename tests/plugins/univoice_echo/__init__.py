"""A third-party provider plugin that lives outside src/univoice, for discovery tests.

It speaks a flow back as plain text and supports only say, pause and hangup.
"""

from __future__ import annotations

from univoice.capabilities import Capabilities, Feature
from univoice.flow import Flow
from univoice.hooks import hookimpl
from univoice.provider import Document, Provider


class EchoProvider(Provider):
    name = "echo"
    title = "Echo (test plugin)"
    capabilities = Capabilities(
        frozenset({Feature.SAY, Feature.PAUSE, Feature.HANGUP}),
        notes={Feature.GATHER_MENU: "echo cannot hear keys"},
    )

    def compile_flow(self, flow: Flow) -> Document:
        self.check_flow(flow)
        lines = [f"{step.kind} {getattr(step, 'text', '')}".strip() for _, step in flow.walk()]
        return Document(self.name, "text/plain", "\n".join(lines))


@hookimpl
def univoice_providers() -> list[type[Provider]]:
    return [EchoProvider]
