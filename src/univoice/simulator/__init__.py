"""The simulator: the reference semantics of the neutral flow model.

``simulate(flow, CalleeScript(...))`` runs a flow against a scripted callee on a virtual
clock and returns a ``Trace`` of timed events with a readable transcript. Names load on
first use, so ``import univoice.simulator`` alone stays cheap.
"""

from __future__ import annotations

from typing import TYPE_CHECKING

from univoice._lazy import lazy

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


__getattr__, __dir__ = lazy(__name__, _LAZY)

__all__ = [
    "CalleeScript",
    "ScriptValidationError",
    "SimulatorProvider",
    "Trace",
    "TraceEvent",
    "TraceKind",
    "simulate",
]
