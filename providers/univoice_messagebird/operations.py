"""MessageBird Voice Calling REST operations: neutral arguments -> requests, responses ->
neutral models. Sans-I/O (``univoice.operations.Operation``): the transport sends them."""

from __future__ import annotations

from univoice.provider import Provider
from univoice_messagebird.settings import MessageBirdSettings


class MessageBirdOperations(Provider):
    """The REST half of the MessageBird provider (``MessageBirdProvider`` adds the rest)."""

    @property
    def _settings(self) -> MessageBirdSettings:
        assert isinstance(self.settings, MessageBirdSettings)
        return self.settings
