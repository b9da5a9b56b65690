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

from univoice.flow.memo import memo
from univoice.flow.model import Flow
from univoice.flow.paths import join
from univoice.flow.steps import Branch, Gather, Step, Transfer

Entry = tuple[str, Step]  # a step with its path
ON_MACHINE = "machine_detection.on_machine.steps"


@dataclass(frozen=True, slots=True)
class _List:
    steps: Sequence[Step]
    paths: tuple[str, ...]  # each step's path
    owner: str | None  # the gather/transfer whose branch this list is (None: top level)


_Place = tuple[_List, int]  # the list holding a step, and its index there


@dataclass(frozen=True, slots=True)
class _Index:
    """Every step of one flow by path, and each branch's list by (owner, branch key). It
    holds steps, never the flow, so a cached index does not keep its flow alive."""

    places: dict[str, _Place]
    branches: dict[tuple[str, tuple[str, ...]], _List]


def _index_of(flow: Flow) -> _Index:
    # Kept per flow object (see univoice.flow.memo): the webhook app works out positions at
    # every callback, and indexing is most of that work.
    kept = memo(flow, "positions")
    index: _Index | None = kept.get("index")
    if index is None:
        index = kept["index"] = _Index({}, {})
        _add(index, flow.steps, "steps", None)
        detection = flow.machine_detection
        if detection is not None and detection.on_machine is not None:
            _add(index, detection.on_machine.steps, ON_MACHINE, None)
    return index


def _add(index: _Index, steps: Sequence[Step], list_path: str, owner: str | None) -> _List:
    listed = _List(steps, tuple(f"{list_path}[{i}]" for i in range(len(steps))), owner)
    for position, step in enumerate(steps):
        path = listed.paths[position]
        index.places[path] = (listed, position)
        if isinstance(step, Gather):
            for key, branch in _gather_branches(step):
                # join(path, "gather", *key, "steps"), written out: a menu key is keyed
                where = f"options[{key[1]!r}]" if len(key) == 2 else key[0]
                index.branches[path, key] = _add(
                    index, branch.steps, f"{path}.gather.{where}.steps", path)
        elif isinstance(step, Transfer) and step.no_answer is not None:
            index.branches[path, ("no_answer",)] = _add(
                index, step.no_answer.steps, f"{path}.transfer.no_answer.steps", path)
    return listed


@dataclass(frozen=True, slots=True)
class Reprompt:
    """A gather's next attempt: play its prompt again and wait for keys."""

    attempt: int


class Run(Iterator[Entry]):
    """The steps that run from a position, in order, produced as they are read.

    ``start`` is the path of the first step (None: nothing runs). Everything after it
    follows from where that step sits, so two runs of one flow with the same ``start`` give
    the same steps: ``(flow, start)`` names a run while ``fresh`` (nothing read yet).
    """

    __slots__ = ("_entries", "_index", "_place", "flow", "fresh", "start")

    def __init__(self, flow: Flow, index: _Index, place: _Place | None) -> None:
        self.flow, self._index, self.fresh = flow, index, True
        while place is not None and place[1] >= len(place[0].steps):  # past a list's end
            owner = place[0].owner
            place = None if owner is None else index.places[owner]
            place = None if place is None else (place[0], place[1] + 1)
        self.start = None if place is None else place[0].paths[place[1]]
        self._place = place
        self._entries: Iterator[Entry] | None = None  # made when first read

    def _walk(self, place: _Place | None) -> Iterator[Entry]:
        while place is not None:
            listed, first = place
            steps, paths = listed.steps, listed.paths
            for position in range(first, len(steps)):
                yield paths[position], steps[position]
            if listed.owner is None:
                return
            owner, at = self._index.places[listed.owner]
            place = (owner, at + 1)

    def __iter__(self) -> Run:
        return self

    def __next__(self) -> Entry:
        if self._entries is None:
            self.fresh, self._entries = False, self._walk(self._place)
        return next(self._entries)


class Positions:
    """Every step of a flow indexed by path, and the steps that run from each."""

    def __init__(self, flow: Flow) -> None:
        self.flow = flow
        self._index = _index_of(flow)
        self._places = self._index.places

    def step(self, path: str) -> Step | None:
        place = self._places.get(path)
        return None if place is None else place[0].steps[place[1]]

    def start(self, *, machine: bool = False) -> Run:
        """The steps of a newly answered call (``machine``: an answering machine's)."""
        if not machine:
            return self.run_from("steps[0]")
        if ON_MACHINE + "[0]" in self._places:
            return self.run_from(ON_MACHINE + "[0]")
        return Run(self.flow, self._index, None)

    def run_from(self, path: str) -> Run:
        """The step at ``path``, then everything that runs after it."""
        return Run(self.flow, self._index, self._places.get(path))

    def run_after(self, path: str) -> Run:
        """What runs once the step at ``path`` has finished."""
        place = self._places.get(path)
        return Run(self.flow, self._index, None if place is None else (place[0], place[1] + 1))

    def run_branch(self, owner: str, branch: Branch | None, branch_path: str) -> Run:
        """A branch's steps then what follows its owner (just the latter if it is empty)."""
        if branch is not None and branch.steps:
            return self.run_from(join(branch_path, "steps", 0))
        return self.run_after(owner)

    def _branch(self, owner: str, key: tuple[str, ...]) -> Run:
        """The branch ``key`` of the step at ``owner`` (as ``run_branch``, paths known)."""
        listed = self._index.branches.get((owner, key))
        if listed is not None and listed.steps:
            return Run(self.flow, self._index, (listed, 0))
        return self.run_after(owner)

    # Outcomes ---------------------------------------------------------------------------

    def after_gather(self, path: str, attempt: int, digits: str
                     ) -> tuple[Run | Reprompt, dict[str, str]]:
        """What follows attempt ``attempt`` (1-based) of the gather at ``path`` ending with
        ``digits``, and the variables it sets. Mirrors ``simulate``: a failed attempt is
        re-prompted until the retries are used up, then its branch (if any) runs."""
        gather = self.step(path)
        if not isinstance(gather, Gather):
            raise KeyError(path)
        last = attempt >= 1 + gather.retries
        if gather.variable is not None:
            if digits:
                return self.run_after(path), {gather.variable: digits}
            if not last:
                return Reprompt(attempt + 1), {}
            return self._branch(path, ("no_input",)), {gather.variable: ""}
        # Every menu key has its list in the index (empty or not): no need to ask the menu.
        if gather.options is not None and (path, ("options", digits)) in self._index.branches:
            return self._branch(path, ("options", digits)), {}
        if not last:
            return Reprompt(attempt + 1), {}
        return self._branch(path, ("invalid",) if digits else ("no_input",)), {}

    def after_transfer(self, path: str, *, answered: bool) -> Run:
        """What follows the transfer at ``path``: its no-answer branch when nobody answered."""
        transfer = self.step(path)
        if not isinstance(transfer, Transfer):
            raise KeyError(path)
        if answered or transfer.no_answer is None:
            return self.run_after(path)
        return self._branch(path, ("no_answer",))


def _gather_branches(gather: Gather) -> Iterator[tuple[tuple[str, ...], Branch]]:
    for digits, branch in (gather.options or {}).items():
        yield ("options", digits), branch
    for name in ("no_input", "invalid"):
        branch = getattr(gather, name)
        if branch is not None:
            yield (name,), branch
