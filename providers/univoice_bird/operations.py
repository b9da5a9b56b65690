"""Bird Voice REST operations: neutral arguments -> requests, responses -> neutral models.
Sans-I/O (``univoice.operations.Operation``): the transport sends them."""

from __future__ import annotations

from univoice.provider import Provider
from univoice_bird.settings import BirdSettings


class BirdOperations(Provider):
    """The REST half of the Bird provider (``BirdProvider`` adds the rest)."""

    @property
    def _settings(self) -> BirdSettings:
        assert isinstance(self.settings, BirdSettings)
        return self.settings
