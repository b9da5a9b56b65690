"""A flow as a graph: one node per step, and an edge for each way the call goes on.

Edges follow the simulator's semantics through ``univoice.flow.positions``: a step is
followed by what runs after it (a branch's last step by the step after its gather or
transfer), a menu by one edge per key, no-input and invalid outcomes (to their branch, or
on when there is none), a re-prompt loop when it has retries, a transfer by its
no-answer branch. A synthetic ``call_start`` node leads to the first step; ``call_end``
stands for running out of steps (only when some edge reaches it). Pure: no I/O.
"""

from __future__ import annotations

import re
from dataclasses import dataclass, replace
from enum import StrEnum
from typing import TYPE_CHECKING

from univoice.flow.paths import join
from univoice.flow.positions import Positions, Run
from univoice.flow.steps import Gather, Transfer
from univoice.graph.labels import describe, flow_title

if TYPE_CHECKING:
    from collections.abc import Iterable

    from univoice.flow import Flow
    from univoice.graph.marks import Marks

START = "call_start"
END = "call_end"


class EdgeKind(StrEnum):
    NEXT = "next"  # the step is done: what follows it runs
    OPTION = "option"  # a menu key
    INPUT = "input"  # free input stored in a variable
    NO_INPUT = "no-input"
    INVALID = "invalid"
    RETRY = "retry"  # a failed attempt plays the prompt again (a loop on the gather)
    NO_ANSWER = "no-answer"
    MACHINE = "machine"  # an answering machine answered (machine detection)


@dataclass(frozen=True, slots=True)
class Node:
    """A step (``path`` set) or one of the two terminals (``path`` None)."""

    id: str
    path: str | None
    kind: str  # a step kind, or "start" / "end"
    title: str  # a short heading: "menu", "say", "transfer"
    text: str  # the step's own words, cleaned (never escaped: each format escapes)
    continuation: str | None = None  # why the provider calls the webhook app here
    unsupported: str | None = None  # why the provider cannot run this step

    @property
    def is_step(self) -> bool:
        return self.path is not None


@dataclass(frozen=True, slots=True)
class Edge:
    source: str
    target: str
    kind: EdgeKind  # the first outcome that takes this way (for styling)
    label: str  # "" for a plain NEXT


@dataclass(frozen=True, slots=True)
class FlowGraph:
    title: str
    nodes: tuple[Node, ...]  # in document order: start, steps (as Flow.walk), end
    edges: tuple[Edge, ...]
    marks: Marks | None = None

    @property
    def steps(self) -> tuple[Node, ...]:
        return tuple(n for n in self.nodes if n.is_step)

    def node(self, node_id: str) -> Node:
        return next(n for n in self.nodes if n.id == node_id)


_UNSAFE = re.compile(r"[^A-Za-z0-9_]")
_SPELLED = {"*": "star", "#": "hash", "[": "_", ".": "_", "]": "", "'": ""}


def node_id(path: str) -> str:
    """A step path as an identifier every format accepts (``steps[1].gather.options['2']
    .steps[0]`` -> ``steps_1_gather_options_2_steps_0``): deterministic, and unique
    because menu keys only hold 0-9, * and #."""
    spelled = "".join(_SPELLED.get(c, c) for c in path)
    return _UNSAFE.sub(lambda m: f"x{ord(m.group()):x}", spelled)


class _Edges:
    """Edges in the order found; two outcomes taking the same way share one edge."""

    def __init__(self) -> None:
        self._found: dict[tuple[str, str], list[tuple[EdgeKind, str]]] = {}

    def add(self, source: str, target: str, kind: EdgeKind, label: str = "") -> None:
        self._found.setdefault((source, target), []).append((kind, label))

    def edges(self) -> tuple[Edge, ...]:
        out = []
        for (source, target), outcomes in self._found.items():
            kinds: list[EdgeKind] = [k for k, _ in outcomes if k is not EdgeKind.NEXT]
            labels = list(dict.fromkeys(label for _, label in outcomes if label))
            out.append(Edge(source, target, kinds[0] if kinds else EdgeKind.NEXT,
                            " / ".join(labels)))
        return tuple(out)

    def targets(self) -> set[str]:
        return {target for _, target in self._found}


def _to(run: Run) -> str:
    return END if run.start is None else node_id(run.start)


def build(flow: Flow, marks: Marks | None = None) -> FlowGraph:
    """The graph of ``flow``; with ``marks``, each step carries the provider's verdict."""
    positions = Positions(flow)
    edges = _Edges()
    steps: list[Node] = []
    detection = flow.machine_detection is not None
    edges.add(START, _to(positions.start()), EdgeKind.NEXT, "human" if detection else "")
    if detection:
        edges.add(START, _to(positions.start(machine=True)), EdgeKind.MACHINE, "machine")
    for path, step in flow.walk():
        here = node_id(path)
        title, text = describe(step)
        steps.append(Node(here, path, step.kind, title, text))
        if isinstance(step, Gather):
            _gather(positions, edges, path, step)
        elif isinstance(step, Transfer) and step.no_answer is not None:
            branch = join(path, "transfer", "no_answer")
            edges.add(here, _to(positions.run_after(path)), EdgeKind.NEXT, "after the call")
            edges.add(here, _to(positions.run_branch(path, step.no_answer, branch)),
                      EdgeKind.NO_ANSWER, "no answer")
        elif step.kind not in ("hangup", "redirect"):  # nothing runs after those
            edges.add(here, _to(positions.run_after(path)), EdgeKind.NEXT)
    nodes = [Node(START, None, "start", "call answered", flow_title(flow)), *steps]
    if END in edges.targets():
        nodes.append(Node(END, None, "end", "call ends", "no more steps: hang up"))
    graph = FlowGraph(flow_title(flow), tuple(nodes), edges.edges(), marks)
    return graph if marks is None else _marked(graph, marks)


def _gather(positions: Positions, edges: _Edges, path: str, gather: Gather) -> None:
    here = node_id(path)

    def outcome(name: str, kind: EdgeKind, label: str) -> None:
        branch = getattr(gather, name)
        run = positions.run_branch(path, branch, join(path, "gather", name))
        edges.add(here, _to(run), kind, label)

    if gather.variable is not None:
        edges.add(here, _to(positions.run_after(path)), EdgeKind.INPUT,
                  f"keys → {gather.variable}")
    for digits, branch in (gather.options or {}).items():
        run = positions.run_branch(path, branch, join(path, "gather", "options", digits))
        edges.add(here, _to(run), EdgeKind.OPTION, f"press {digits}")
    if gather.retries:
        failed = "no input" if gather.options is None else "no input / invalid"
        tries = "retry" if gather.retries == 1 else f"{gather.retries} retries"
        edges.add(here, here, EdgeKind.RETRY, f"{failed}: re-prompt ({tries})")
    outcome("no_input", EdgeKind.NO_INPUT, "no input")
    if gather.options is not None:  # free input takes any keys: nothing is invalid
        outcome("invalid", EdgeKind.INVALID, "invalid")


def _marked(graph: FlowGraph, marks: Marks) -> FlowGraph:
    nodes: Iterable[Node] = graph.nodes
    marked = []
    for node in nodes:
        key = node.path if node.path is not None else ("" if node.kind == "start" else None)
        if key is None:
            marked.append(node)
            continue
        continuation = marks.continuations.get(key)
        if node.kind == "start":
            continuation = marks.start
        marked.append(replace(node, continuation=continuation,
                              unsupported=marks.unsupported.get(key)))
    return replace(graph, nodes=tuple(marked))
