"""MessageBird Voice Calling API and call-flow JSON as a univoice provider (entry point
``messagebird``).

Modules, each one concern: ``settings`` (the ``[messagebird]`` table), ``vocab`` (status
tables), ``compile`` (neutral flow -> call-flow JSON, pure), ``operations`` (REST requests
and response parsers, sans-I/O), ``events`` (signed callbacks -> neutral events),
``interpreter`` (call-flow JSON -> trace, for differential tests).
"""

from __future__ import annotations

from univoice.hooks import hookimpl
from univoice.provider import Provider
from univoice_messagebird.provider import MessageBirdProvider


@hookimpl
def univoice_providers() -> list[type[Provider]]:
    return [MessageBirdProvider]


__all__ = ["MessageBirdProvider"]
