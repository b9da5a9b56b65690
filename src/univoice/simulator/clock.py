"""The virtual clock and scripted callee a provider's interpreter shares with the
simulator's model: events stamped in milliseconds, the callee hanging up at its deadline
(ties go to the callee), keys taken one script entry per gather attempt."""

from __future__ import annotations

from typing import Any, ClassVar, NoReturn

from univoice.simulator.script import CalleeScript
from univoice.simulator.trace import TraceEvent, TraceKind

MAX_CALL_MS = 24 * 3600 * 1000  # no call runs longer (an interpreter's max_call_ms)


class CallClock:
    """Subclasses say what a hang-up ends (``hang_up`` raises their own exception).

    An interpreter that sets ``max_call_ms`` treats a step that would take the call past
    it (an endless pause, a huge repeat count) as an option its provider refuses
    (``ValueError``, after the callee's hang-up if that comes first), not as a clock
    that overflows.
    """

    max_call_ms: ClassVar[int | None] = None
    provider: ClassVar[str] = "the provider"

    def __init__(self, script: CalleeScript) -> None:
        self.script = script
        self.events: list[TraceEvent] = []
        self.now = 0  # milliseconds since the call started
        self.deadline: int | None = None  # when the callee hangs up (hang_up_after)
        self.next_key = 0

    def emit(self, kind: TraceKind, data: dict[str, Any]) -> None:
        self.events.append(TraceEvent(self.now / 1000, kind, None, data))

    def advance(self, ms: int) -> None:
        """Let ``ms`` pass, unless the callee hangs up first."""
        limit = self.max_call_ms
        refused = limit is not None and (ms < 0 or self.now + ms > limit)
        step = max(ms, 0) if refused else ms
        if self.deadline is not None and self.now + step >= self.deadline:
            self.now = max(self.now, self.deadline)
            self.hang_up()
        if refused:
            raise ValueError(f"a step of {ms} ms is not a duration {self.provider} runs")
        self.now += step

    def check_deadline(self) -> None:
        if self.deadline is not None and self.now >= self.deadline:
            self.hang_up()

    def hang_up(self) -> NoReturn:
        raise NotImplementedError

    def keys(self) -> str | None:
        """The callee's next gather attempt (None: silence; a machine never presses)."""
        if self.script.answer == "machine" or self.next_key >= len(self.script.keys):
            return None
        self.next_key += 1
        return self.script.keys[self.next_key - 1]
