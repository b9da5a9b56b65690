"""Where a call is in a flow, and what runs next: the logic every provider that hands
control back to univoice mid-call needs (Bandwidth after each Gather, MessageBird's
``fetchCallFlow``, Bird's PATCHed call flows).

A position is a step path (``steps[1].gather.options['2'].steps[0]``). From a position a
call runs that step, the rest of its list, then whatever follows the step owning the list
(a branch runs, then the flow goes on after its gather or transfer), as ``simulate`` does.
The outcome of a gather (digits at an attempt) and of a transfer (answered or not) pick the
next position. Pure: no I/O; per-call state (variables) is the caller's to keep.
"""

from __future__ import annotations

from collections.abc import Iterator, Sequence
from dataclasses import dataclass

from univoice.flow.model import Flow
from univoice.flow.paths import join
from univoice.flow.steps import Branch, Gather, Step, Transfer

Entry = tuple[str, Step]  # a step with its path
ON_MACHINE = "machine_detection.on_machine.steps"


@dataclass(frozen=True, slots=True)
class _Place:
    steps: Sequence[Step]  # the list holding the step
    list_path: str
    index: int
    owner: str | None  # the gather/transfer whose branch this list is (None: top level)


@dataclass(frozen=True, slots=True)
class Reprompt:
    """A gather's next attempt: play its prompt again and wait for keys."""

    attempt: int


class Positions:
    """Every step of a flow indexed by path, and the steps that run from each."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self._places: dict[str, _Place] = {}
        self._index(flow.steps, "steps", None)
        detection = flow.machine_detection
        if detection is not None and detection.on_machine is not None:
            self._index(detection.on_machine.steps, ON_MACHINE, None)

    def _index(self, steps: Sequence[Step], list_path: str, owner: str | None) -> None:
        for index, step in enumerate(steps):
            path = join(list_path, index)
            self._places[path] = _Place(steps, list_path, index, owner)
            if isinstance(step, Gather):
                for key, branch in _gather_branches(step):
                    self._index(branch.steps, join(path, "gather", *key, "steps"), path)
            elif isinstance(step, Transfer) and step.no_answer is not None:
                self._index(step.no_answer.steps, join(path, "transfer", "no_answer", "steps"),
                            path)

    def step(self, path: str) -> Step | None:
        place = self._places.get(path)
        return None if place is None else place.steps[place.index]

    def start(self, *, machine: bool = False) -> Iterator[Entry]:
        """The steps of a newly answered call (``machine``: an answering machine's)."""
        if not machine:
            return self.run_from("steps[0]")
        if ON_MACHINE + "[0]" in self._places:
            return self.run_from(ON_MACHINE + "[0]")
        return iter(())

    def run_from(self, path: str) -> Iterator[Entry]:
        """The step at ``path``, then everything that runs after it."""
        place = self._places.get(path)
        if place is None:
            return iter(())
        return self._from(place, place.index)

    def run_after(self, path: str) -> Iterator[Entry]:
        """What runs once the step at ``path`` has finished."""
        place = self._places.get(path)
        if place is None:
            return iter(())
        return self._from(place, place.index + 1)

    def _from(self, place: _Place, first: int) -> Iterator[Entry]:
        for index in range(first, len(place.steps)):
            yield join(place.list_path, index), place.steps[index]
        if place.owner is not None:
            yield from self.run_after(place.owner)

    def run_branch(self, owner: str, branch: Branch | None, branch_path: str
                   ) -> Iterator[Entry]:
        """A branch's steps then what follows its owner (just the latter if it is empty)."""
        if branch is not None and branch.steps:
            return self.run_from(join(branch_path, "steps", 0))
        return self.run_after(owner)

    # Outcomes ---------------------------------------------------------------------------

    def after_gather(self, path: str, attempt: int, digits: str
                     ) -> tuple[Iterator[Entry] | Reprompt, dict[str, str]]:
        """What follows attempt ``attempt`` (1-based) of the gather at ``path`` ending with
        ``digits``, and the variables it sets. Mirrors ``simulate``: a failed attempt is
        re-prompted until the retries are used up, then its branch (if any) runs."""
        gather = self.step(path)
        if not isinstance(gather, Gather):
            raise KeyError(path)
        here = join(path, "gather")
        last = attempt >= 1 + gather.retries
        if gather.variable is not None:
            if digits:
                return self.run_after(path), {gather.variable: digits}
            if not last:
                return Reprompt(attempt + 1), {}
            return (self.run_branch(path, gather.no_input, join(here, "no_input")),
                    {gather.variable: ""})
        options = gather.options or {}
        if digits in options:
            return self.run_branch(path, options[digits], join(here, "options", digits)), {}
        if not last:
            return Reprompt(attempt + 1), {}
        failure = "invalid" if digits else "no_input"
        return self.run_branch(path, getattr(gather, failure), join(here, failure)), {}

    def after_transfer(self, path: str, *, answered: bool) -> Iterator[Entry]:
        """What follows the transfer at ``path``: its no-answer branch when nobody answered."""
        transfer = self.step(path)
        if not isinstance(transfer, Transfer):
            raise KeyError(path)
        if answered or transfer.no_answer is None:
            return self.run_after(path)
        return self.run_branch(path, transfer.no_answer, join(path, "transfer", "no_answer"))


def _gather_branches(gather: Gather) -> Iterator[tuple[tuple[str, ...], Branch]]:
    for digits, branch in (gather.options or {}).items():
        yield ("options", digits), branch
    for name in ("no_input", "invalid"):
        branch = getattr(gather, name)
        if branch is not None:
            yield (name,), branch
