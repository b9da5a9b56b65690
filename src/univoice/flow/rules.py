"""Rules that look across steps: menus, variables, reachability and nesting depth.

Field-level checks (types, ranges, formats) are pydantic's, in ``steps.py``; this walk
runs once the structure is valid and reports every problem with its step path.
"""

from __future__ import annotations

import re
from collections.abc import Sequence
from typing import TYPE_CHECKING

from univoice.errors import FlowIssue
from univoice.flow.fields import MAX_DEPTH
from univoice.flow.paths import join
from univoice.flow.steps import Branch, Gather, Record, Say, Step, Transfer

if TYPE_CHECKING:
    from univoice.flow.model import Flow

# `{name}` reads a variable; `{{` and `}}` are literal braces.
PLACEHOLDER = re.compile(r"\{\{|\}\}|\{([A-Za-z_][A-Za-z0-9_]*)\}")


def placeholders(text: str) -> list[str]:
    return [m.group(1) for m in PLACEHOLDER.finditer(text) if m.group(1)]


def check(flow: Flow) -> list[FlowIssue]:
    """Every cross-step problem in ``flow``: errors, then warnings, in document order."""
    walk = _Walk()
    walk.steps(flow.steps, "steps", depth=0, defined=frozenset(flow.inputs))
    if flow.machine_detection and flow.machine_detection.on_machine:
        walk.branch(flow.machine_detection.on_machine, "machine_detection.on_machine", 0,
                    frozenset())
    return walk.issues


class _Walk:
    def __init__(self) -> None:
        self.issues: list[FlowIssue] = []

    def error(self, path: str, message: str) -> None:
        self.issues.append(FlowIssue(path, message))

    def warn(self, path: str, message: str) -> None:
        self.issues.append(FlowIssue(path, message, "warning"))

    # Each walk returns (variables defined after it, whether it always ends the call).

    def branch(self, branch: Branch, path: str, depth: int, defined: frozenset[str]
               ) -> tuple[frozenset[str], bool]:
        if depth + 1 > MAX_DEPTH:
            self.error(path, f"branches nest deeper than the limit of {MAX_DEPTH} levels")
            return defined, False
        return self.steps(branch.steps, join(path, "steps"), depth + 1, defined)

    def steps(self, steps: Sequence[Step], path: str, depth: int, defined: frozenset[str]
              ) -> tuple[frozenset[str], bool]:
        for index, step in enumerate(steps):
            defined, ended = self.step(step, join(path, index, step.kind), depth, defined)
            if ended:
                if index + 1 < len(steps):
                    self.warn(join(path, index + 1), "never runs: the flow has already "
                              f"ended at {join(path, index)} ({step.kind})")
                return defined, True
        return defined, False

    def step(self, step: Step, here: str, depth: int, defined: frozenset[str]
             ) -> tuple[frozenset[str], bool]:
        if isinstance(step, Say):
            self.reads(step.text, join(here, "text"), defined)
        elif isinstance(step, Gather):
            return self.gather(step, here, depth, defined)
        elif isinstance(step, Record):
            if step.transcribe_language and not step.transcribe:
                self.error(join(here, "transcribe_language"),
                           "is set but transcribe is false")
        elif isinstance(step, Transfer) and step.no_answer is not None:
            # Answered or not, the call goes on after a transfer.
            self.branch(step.no_answer, join(here, "no_answer"), depth, defined)
        return defined, step.kind in ("hangup", "redirect")

    def reads(self, text: str, path: str, defined: frozenset[str]) -> None:
        for name in placeholders(text):
            if name not in defined:
                self.error(path, f"reads variable '{name}' before any gather sets it")

    def gather(self, g: Gather, here: str, depth: int, defined: frozenset[str]
               ) -> tuple[frozenset[str], bool]:
        for index, prompt in enumerate(g.prompt):
            if isinstance(prompt, Say):
                self.reads(prompt.text, join(here, "prompt", index, "say", "text"), defined)
        if g.options is None and g.variable is None:
            self.error(here, "needs either options (a menu) or variable (free input)")
        if g.options is not None and g.variable is not None:
            self.error(here, "has both options and variable; a gather is a menu or free input")
        if g.options is not None and not g.options:
            self.error(join(here, "options"), "a menu needs at least one option")
        if g.variable is not None and g.invalid is not None:
            self.error(join(here, "invalid"), "only a menu has invalid input; free input "
                       "accepts any keys")
        outcomes: list[tuple[frozenset[str], bool]] = []
        for digits, branch in (g.options or {}).items():
            opt = join(here, "options", digits)
            if len(digits) > g.max_digits:
                self.error(opt, f"has {len(digits)} digits but max_digits is {g.max_digits}; "
                           "no caller can enter it")
            if g.finish_on_key and g.finish_on_key in digits:
                self.error(opt, f"contains '{g.finish_on_key}', which ends input "
                           "(finish_on_key); no caller can enter it")
            outcomes.append(self.branch(branch, opt, depth, defined))
        if g.variable is not None:
            # Set on every path (empty when nothing was entered).
            defined = defined | {g.variable}
            outcomes.append((defined, False))
        for name in ("no_input", "invalid"):
            branch = getattr(g, name)
            if branch is not None:
                outcomes.append(self.branch(branch, join(here, name), depth, defined))
            elif name == "no_input" or g.options is not None:
                outcomes.append((defined, False))  # falls through with nothing new
        # After the gather, a variable is known if every outcome that goes on defined it.
        going_on = [names for names, ended in outcomes if not ended]
        if not going_on:
            return defined, bool(outcomes)
        return frozenset.intersection(*going_on), False
