"""Every step of a flow with its path, depth first in document order."""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from typing import TYPE_CHECKING

from univoice.flow.paths import join
from univoice.flow.steps import Branch, Gather, Step, Transfer

if TYPE_CHECKING:
    from univoice.flow.model import Flow


def walk(flow: Flow) -> Iterator[tuple[str, Step]]:
    """Yield ``(path, step)`` for each step, nested branches included (prompts are not)."""
    if flow.machine_detection and flow.machine_detection.on_machine:
        yield from _branch(flow.machine_detection.on_machine, "machine_detection.on_machine")
    yield from _steps(flow.steps, "steps")


def _steps(steps: Sequence[Step], path: str) -> Iterator[tuple[str, Step]]:
    for index, step in enumerate(steps):
        here = join(path, index)
        yield here, step
        if isinstance(step, Gather):
            for digits, branch in (step.options or {}).items():
                yield from _branch(branch, join(here, "gather", "options", digits))
            for name, outcome in (("no_input", step.no_input), ("invalid", step.invalid)):
                if outcome is not None:
                    yield from _branch(outcome, join(here, "gather", name))
        elif isinstance(step, Transfer) and step.no_answer is not None:
            yield from _branch(step.no_answer, join(here, "transfer", "no_answer"))


def _branch(branch: Branch, path: str) -> Iterator[tuple[str, Step]]:
    yield from _steps(branch.steps, join(path, "steps"))


def branches(flow: Flow) -> Iterator[tuple[str, Branch]]:
    """Every branch with its path (``steps[1].gather.options['2']``), in document order."""
    if flow.machine_detection and flow.machine_detection.on_machine:
        yield "machine_detection.on_machine", flow.machine_detection.on_machine
    for path, step in walk(flow):
        if isinstance(step, Gather):
            for digits, branch in (step.options or {}).items():
                yield join(path, "gather", "options", digits), branch
            for name, outcome in (("no_input", step.no_input), ("invalid", step.invalid)):
                if outcome is not None:
                    yield join(path, "gather", name), outcome
        elif isinstance(step, Transfer) and step.no_answer is not None:
            yield join(path, "transfer", "no_answer"), step.no_answer
