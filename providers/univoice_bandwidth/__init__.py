"""Bandwidth Voice API v2 and BXML as a univoice provider (entry point ``bandwidth``).

Modules, each one concern: ``settings`` (the ``[bandwidth]`` table), ``vocab`` (status,
cause and voice tables), ``bxml`` (the verb rules and a hardened parser), ``compile``
(neutral flow -> BXML documents, pure), ``operations`` (REST requests and response
parsers, sans-I/O), ``auth`` (HTTP Basic or OAuth2 client credentials), ``events``
(callbacks -> neutral events), ``interpreter`` (BXML -> trace, for differential tests).
"""

from __future__ import annotations

from univoice.hooks import hookimpl
from univoice.provider import Provider
from univoice_bandwidth.provider import BandwidthProvider


@hookimpl
def univoice_providers() -> list[type[Provider]]:
    return [BandwidthProvider]


__all__ = ["BandwidthProvider"]
