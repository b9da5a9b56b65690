"""The simulator: the reference semantics of the neutral flow model.

``simulate(flow, CalleeScript(...))`` runs a flow against a scripted callee on a virtual
clock and returns a ``Trace`` of timed events with a readable transcript. Names load on
first use, so ``import univoice.simulator`` alone stays cheap.
"""

from __future__ import annotations

from importlib import import_module
from typing import TYPE_CHECKING, Any

_LAZY = {
    "CalleeScript": "univoice.simulator.script",
    "ScriptValidationError": "univoice.simulator.script",
    "Trace": "univoice.simulator.trace",
    "TraceEvent": "univoice.simulator.trace",
    "TraceKind": "univoice.simulator.trace",
    "simulate": "univoice.simulator.engine",
    "SimulatorProvider": "univoice.simulator.plugin",
}

if TYPE_CHECKING:
    from univoice.simulator.engine import simulate
    from univoice.simulator.plugin import SimulatorProvider
    from univoice.simulator.script import CalleeScript, ScriptValidationError
    from univoice.simulator.trace import Trace, TraceEvent, TraceKind


def __getattr__(name: str) -> Any:
    module = _LAZY.get(name)
    if module is None:
        raise AttributeError(f"module 'univoice.simulator' has no attribute {name!r}")
    value = getattr(import_module(module), name)
    globals()[name] = value
    return value


def __dir__() -> list[str]:
    return sorted([*globals(), *_LAZY])


__all__ = [
    "CalleeScript",
    "ScriptValidationError",
    "SimulatorProvider",
    "Trace",
    "TraceEvent",
    "TraceKind",
    "simulate",
]
