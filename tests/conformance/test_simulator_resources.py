"""The simulator provider meets the resource contract (and so shows what one looks like)."""

from __future__ import annotations

from collections.abc import Iterator

import httpx
import pytest

from univoice import Voice
from univoice.simulator.backend import Clock
from univoice.transport import Hooks

from .resources import ResourceContract


class TestSimulatorResources(ResourceContract):
    provider = "simulator"

    @pytest.fixture(autouse=True)
    def _voice(self) -> Iterator[None]:
        self.requests: list[httpx.Request] = []
        hooks = Hooks(request=[self.requests.append])
        with Voice("simulator", hooks=hooks) as voice:
            self.voice = voice
            # A hand-moved clock: calls stand still until the test advances time.
            voice.provider.backend.clock = Clock(speed=1.0, now=lambda: 0.0)  # type: ignore[attr-defined]
            self.advance = voice.provider.backend.clock.advance  # type: ignore[attr-defined]
            yield

    def sent(self) -> list[httpx.Request]:
        return self.requests
