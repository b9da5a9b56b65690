"""Bandwidth Voice API v2 REST operations: neutral arguments -> requests, responses ->
neutral models. Sans-I/O (``univoice.operations.Operation``): the transport sends them."""

from __future__ import annotations

from univoice.provider import Provider
from univoice_bandwidth.settings import BandwidthSettings


class BandwidthOperations(Provider):
    """The REST half of the Bandwidth provider (``BandwidthProvider`` adds the rest)."""

    @property
    def _settings(self) -> BandwidthSettings:
        assert isinstance(self.settings, BandwidthSettings)
        return self.settings
