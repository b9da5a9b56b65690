"""A layered top-down layout of a DAG whose nodes come in a topological order (a flow's
document order is one: every edge leads to a step written later).

Layers by longest path; an edge spanning several layers gets a waypoint in each layer it
crosses (so it keeps out of the nodes there); each layer is ordered by its predecessors'
places, then every node is put as near the mean x of its predecessors as the nodes
beside it allow (least squares under minimum gaps: pool-adjacent-violators). Pure
geometry: sizes in, boxes and routes out.
"""

from __future__ import annotations

from collections.abc import Sequence
from dataclasses import dataclass
from itertools import pairwise

Point = tuple[float, float]
H_GAP = 28.0  # between neighbours in a layer
V_GAP = 64.0  # between layers (edge labels sit there)
MARGIN = 20.0
WAYPOINT = 12.0  # the width a crossing edge takes in a layer


@dataclass(frozen=True, slots=True)
class Size:
    width: float
    height: float
    right: float = 0.0  # room kept on the right (a loop and its label)


@dataclass(frozen=True, slots=True)
class Box:
    x: float  # centre
    y: float  # top
    width: float
    height: float

    @property
    def bottom(self) -> float:
        return self.y + self.height


@dataclass(frozen=True, slots=True)
class Layout:
    boxes: dict[str, Box]
    routes: list[list[Point]]  # per edge given: source bottom, waypoints, target top
    width: float
    height: float


@dataclass(slots=True)
class _Vertex:
    key: str | tuple[int, int]  # a node id, or (edge index, layer) for a waypoint
    size: Size
    order: float  # tie-break: document order
    preds: list[_Vertex]
    x: float = 0.0


def layout(nodes: Sequence[tuple[str, Size]], edges: Sequence[tuple[str, str]]) -> Layout:
    rank = {node: i for i, (node, _) in enumerate(nodes)}
    forward = [(s, t) for s, t in edges if rank[s] < rank[t]]
    layer: dict[str, int] = {}
    preds: dict[str, list[str]] = {node: [] for node, _ in nodes}
    for source, target in forward:
        preds[target].append(source)
    previous = -1
    for node, _ in nodes:  # a node nothing leads to goes below the one written before it
        layer[node] = max((layer[p] + 1 for p in preds[node]), default=previous + 1)
        previous = layer[node]
    vertices = {node: _Vertex(node, size, rank[node], []) for node, size in nodes}
    layers: list[list[_Vertex]] = [[] for _ in range(max(layer.values(), default=0) + 1)]
    for node, _ in nodes:
        layers[layer[node]].append(vertices[node])
    chains: dict[int, list[_Vertex]] = {}
    for index, (source, target) in enumerate(edges):
        if rank[source] >= rank[target]:
            continue
        chain, before = [], vertices[source]
        for level in range(layer[source] + 1, layer[target]):
            point = _Vertex((index, level), Size(WAYPOINT, 0.0), rank[target] - 0.5, [before])
            layers[level].append(point)
            chain.append(point)
            before = point
        vertices[target].preds.append(before)
        chains[index] = chain
    _place(layers)
    tops = _tops(layers)
    shift = MARGIN - min((v.x - v.size.width / 2 for row in layers for v in row), default=0)
    boxes = {}
    for level, row in enumerate(layers):
        band = max((v.size.height for v in row), default=0.0)
        for v in row:
            v.x += shift
            if isinstance(v.key, str):
                boxes[v.key] = Box(v.x, tops[level] + (band - v.size.height) / 2,
                                   v.size.width, v.size.height)
    routes = []
    for index, (source, target) in enumerate(edges):
        middle = [(v.x, tops[layer[source] + 1 + i] + _band(layers[layer[source] + 1 + i]) / 2)
                  for i, v in enumerate(chains.get(index, []))]
        start, end = boxes[source], boxes[target]
        routes.append([(start.x, start.bottom), *middle, (end.x, end.y)])
    width = max((v.x + v.size.width / 2 + v.size.right for row in layers for v in row),
                default=0.0) + MARGIN
    height = (tops[-1] + _band(layers[-1]) + MARGIN) if layers else 2 * MARGIN
    return Layout(boxes, routes, width, height)


def _band(row: list[_Vertex]) -> float:
    return max((v.size.height for v in row), default=0.0)


def _tops(layers: list[list[_Vertex]]) -> list[float]:
    tops, y = [], MARGIN
    for row in layers:
        tops.append(y)
        y += _band(row) + V_GAP
    return tops


def _place(layers: list[list[_Vertex]]) -> None:
    """Order each layer by its predecessors' places, then set x (top layer first)."""
    for level, row in enumerate(layers):
        if level:
            place = {id(v): i for i, v in enumerate(layers[level - 1])}
            row.sort(key=lambda v: (_mean([place[id(p)] for p in v.preds], default=1e9),
                                    v.order))
        wanted: list[float] = []
        for v in row:
            known = [p.x for p in v.preds]
            wanted.append(_mean(known, default=wanted[-1] if wanted else 0.0))
        gaps = [a.size.width / 2 + a.size.right + H_GAP + b.size.width / 2
                for a, b in pairwise(row)]
        for v, x in zip(row, _spread(wanted, gaps), strict=True):
            v.x = x


def _mean(values: list[float] | list[int], *, default: float) -> float:
    return sum(values) / len(values) if values else default


def _spread(wanted: list[float], gaps: list[float]) -> list[float]:
    """x nearest ``wanted`` (least squares) with ``x[i+1] - x[i] >= gaps[i]``."""
    offsets = [0.0]
    for gap in gaps:
        offsets.append(offsets[-1] + gap)
    # With y = x - offset the constraint is y non-decreasing: pool adjacent violators.
    blocks: list[list[float]] = []  # [sum, count]
    for target in (w - o for w, o in zip(wanted, offsets, strict=True)):
        blocks.append([target, 1.0])
        while len(blocks) > 1 and (blocks[-2][0] / blocks[-2][1]
                                   > blocks[-1][0] / blocks[-1][1]):
            total, count = blocks.pop()
            blocks[-1][0] += total
            blocks[-1][1] += count
    out: list[float] = []
    for total, count in blocks:
        out.extend([total / count] * int(count))
    return [y + o for y, o in zip(out, offsets, strict=True)]
