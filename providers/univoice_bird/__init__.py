"""Bird (api.bird.com, the successor of MessageBird) Voice API as a univoice provider
(entry point ``bird``).

Modules: ``settings`` (the ``[bird]`` table), ``vocab`` (status tables), ``compile``
(neutral flow -> ``callFlow`` commands, pure), ``operations`` (REST, sans-I/O), ``events``
(signed callbacks -> neutral events).
"""

from __future__ import annotations

from univoice.hooks import hookimpl
from univoice.provider import Provider
from univoice_bird.provider import BirdProvider


@hookimpl
def univoice_providers() -> list[type[Provider]]:
    return [BirdProvider]


__all__ = ["BirdProvider"]
