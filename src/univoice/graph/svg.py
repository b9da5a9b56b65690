"""A flow graph drawn as a standalone SVG document: laid out in Python (``layout``), no
script, no external asset. Every text from the flow is XML-escaped (``esc``).

Each step is a ``<g class="node step kind-KIND">`` whose ``id`` is its node id and whose
``data-path`` is its step path; the terminals are ``class="node terminal"``. Shapes tell
the kinds apart (a hexagon for a menu, a double-sided box for a transfer, a cylinder for
a recording, a red pill for a hang-up, a flag for a redirect); with a provider, a step
where the call goes back to the webhook app is dashed orange with a "↻ app" badge, and a
step the provider cannot run is red with a "✖" badge.
"""

from __future__ import annotations

import html
import textwrap

from univoice.flow.speech import spoken
from univoice.graph.layout import Box, Layout, Point, Size, layout
from univoice.graph.model import Edge, FlowGraph, Node

FONT = 12.0
CHAR = 6.8  # average width of a character at FONT (sans-serif)
LINE = 15.0
PAD_X, PAD_Y = 14.0, 8.0
MIN_WIDTH = 96.0
WRAP = 34  # characters per line of a node's text
MAX_LINES = 4
LABEL_AT = 0.62  # where on an edge's first curve its label sits (0: source, 1: next point)
LOOP = 44.0  # how far a re-prompt loop reaches right of its node
HEADER_LINE = 18.0
SVG_NS = "http://www.w3.org/2000/svg"
HEADING = ' class="heading"'

STYLE = """
svg { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; }
text { font-size: 12px; fill: #1f2937; }
.heading { font-weight: 600; }
.caption { font-size: 12px; fill: #4b5563; }
.node .shape { fill: #eef2ff; stroke: #4f46e5; stroke-width: 1.5; }
.kind-gather .shape { fill: #fef9c3; stroke: #a16207; }
.kind-transfer .shape { fill: #dcfce7; stroke: #15803d; }
.kind-record .shape { fill: #fce7f3; stroke: #be185d; }
.kind-conference .shape { fill: #cffafe; stroke: #0e7490; }
.kind-hangup .shape { fill: #fee2e2; stroke: #991b1b; stroke-width: 2; }
.kind-redirect .shape { fill: #f3e8ff; stroke: #7e22ce; }
.kind-native .shape { fill: #f5f5f4; stroke: #57534e; }
.kind-start .shape { fill: #15803d; stroke: #14532d; }
.kind-start text { fill: #ffffff; }
.kind-start.unsupported text { fill: #1f2937; }
.kind-end .shape { fill: #e5e7eb; stroke: #4b5563; }
.continuation .shape { stroke: #ea580c; stroke-width: 3; stroke-dasharray: 7 3; }
.unsupported .shape { fill: #fecaca; stroke: #dc2626; stroke-width: 3; }
.badge rect { stroke: none; }
.badge text { font-size: 10px; font-weight: 600; fill: #ffffff; }
.continuation .badge.app rect { fill: #ea580c; }
.unsupported .badge.cannot rect { fill: #dc2626; }
.edge path { fill: none; stroke: #6b7280; stroke-width: 1.4; }
.edge-option path { stroke: #1d4ed8; }
.edge-input path { stroke: #1d4ed8; }
.edge-no-input path, .edge-invalid path { stroke: #b45309; stroke-dasharray: 5 3; }
.edge-retry path { stroke: #7c3aed; stroke-dasharray: 3 3; }
.edge-no-answer path, .edge-machine path { stroke: #b91c1c; stroke-dasharray: 5 3; }
.edge .label rect { fill: #ffffff; fill-opacity: 0.9; }
.edge .label text { font-size: 11px; }
"""


def esc(text: str) -> str:
    """Text as XML character data or an attribute value: control characters and lone
    surrogates (which XML cannot carry) dropped, markup characters escaped."""
    return html.escape(spoken(text), quote=True)


def _width(text: str, size: float = FONT) -> float:
    return len(text) * CHAR * size / FONT


def _lines(node: Node) -> list[str]:
    body = textwrap.wrap(node.text, WRAP, max_lines=MAX_LINES, placeholder=" …")
    return [node.title, *body]


def _loops(graph: FlowGraph) -> dict[str, Edge]:
    return {e.source: e for e in graph.edges if e.source == e.target}


def _size(node: Node, loop: Edge | None) -> Size:
    lines = _lines(node)
    width = max(MIN_WIDTH, max(_width(line) for line in lines) + 2 * PAD_X)
    if node.kind in ("gather", "hangup", "start", "end", "redirect", "native"):
        width += 24.0  # pointed or rounded sides
    right = LOOP + 10.0 + _width(loop.label, 11) if loop is not None else 0.0
    return Size(width, len(lines) * LINE + 2 * PAD_Y, right)


# Shapes ---------------------------------------------------------------------------------


def _polygon(points: list[Point]) -> str:
    return (f'<polygon class="shape" points="'
            f'{" ".join(f"{x:.1f},{y:.1f}" for x, y in points)}"/>')


def _rect(b: Box, radius: float) -> str:
    return (f'<rect class="shape" x="{b.x - b.width / 2:.1f}" y="{b.y:.1f}" '
            f'width="{b.width:.1f}" height="{b.height:.1f}" rx="{radius:.1f}"/>')


def _shape(kind: str, b: Box) -> str:
    left, right, top, bottom, mid = b.x - b.width / 2, b.x + b.width / 2, b.y, b.bottom, (
        b.y + b.height / 2)
    if kind == "gather":  # a hexagon: a decision
        return _polygon([(left, mid), (left + 12, top), (right - 12, top), (right, mid),
                         (right - 12, bottom), (left + 12, bottom)])
    if kind == "transfer":  # a box with double sides
        return (_rect(b, 2) + f'<path class="shape" d="M{left + 7:.1f},{top:.1f}V{bottom:.1f}'
                f'M{right - 7:.1f},{top:.1f}V{bottom:.1f}"/>')
    if kind == "record":  # a cylinder
        e, rx = 6.0, b.width / 2
        return (f'<path class="shape" d="M{left:.1f},{top + e:.1f}'
                f'A{rx:.1f},{e} 0 0 1 {right:.1f},{top + e:.1f}V{bottom - e:.1f}'
                f'A{rx:.1f},{e} 0 0 1 {left:.1f},{bottom - e:.1f}Z'
                f'M{left:.1f},{top + e:.1f}A{rx:.1f},{e} 0 0 0 {right:.1f},{top + e:.1f}"/>')
    if kind == "conference":  # an octagon
        c = 8.0
        return _polygon([(left + c, top), (right - c, top), (right, top + c),
                         (right, bottom - c), (right - c, bottom), (left + c, bottom),
                         (left, bottom - c), (left, top + c)])
    if kind == "redirect":  # a flag pointing away
        return _polygon([(left, top), (right - 14, top), (right, mid), (right - 14, bottom),
                         (left, bottom)])
    if kind == "native":  # a parallelogram
        return _polygon([(left + 10, top), (right, top), (right - 10, bottom),
                         (left, bottom)])
    if kind in ("hangup", "start", "end"):  # a pill
        return _rect(b, b.height / 2)
    return _rect(b, 6)


def _badge(b: Box, text: str, name: str) -> str:
    width = _width(text, 11.5) + 10  # bold
    x, y = b.x + b.width / 2 - width + 6, b.y - 9
    return (f'<g class="badge {name}"><rect x="{x:.1f}" y="{y:.1f}" width="{width:.1f}" '
            f'height="15" rx="7"/><text x="{x + width / 2:.1f}" y="{y + 11:.1f}" '
            f'text-anchor="middle">{esc(text)}</text></g>')


def _node(node: Node, b: Box, provider: str | None) -> str:
    classes = ["node", "step" if node.is_step else "terminal", f"kind-{node.kind}"]
    tip = [f"{node.title}: {node.text}" if node.text else node.title]
    if node.path is not None:
        tip.append(f"at {node.path}")
    badges = []
    if node.continuation:
        classes.append("continuation")
        tip.append(f"↻ {provider} calls the webhook app here: {node.continuation}")
        badges.append(_badge(b, "↻ app", "app"))
    if node.unsupported:
        classes.append("unsupported")
        tip.append(f"✖ {provider} cannot run this: {node.unsupported}")
        badges.append(_badge(Box(b.x, b.y + 16 * len(badges), b.width, b.height),
                             f"✖ not on {provider}", "cannot"))
    path = f' data-path="{esc(node.path)}"' if node.path is not None else ""
    lines = _lines(node)
    top = b.y + (b.height - len(lines) * LINE) / 2 + LINE - 3.5
    text = "".join(
        f'<text x="{b.x:.1f}" y="{top + i * LINE:.1f}" text-anchor="middle"'
        f'{HEADING if i == 0 else ""}>{esc(line)}</text>' for i, line in enumerate(lines))
    return (f'<g class="{" ".join(classes)}" id="{node.id}"{path}>'
            f'<title>{esc(" · ".join(tip))}</title>{_shape(node.kind, b)}{text}'
            f'{"".join(badges)}</g>')


# Edges ----------------------------------------------------------------------------------


def _curve(points: list[Point]) -> str:
    """A smooth path through ``points``, vertical at each of them."""
    (x0, y0), d = points[0], [f"M{points[0][0]:.1f},{points[0][1]:.1f}"]
    for x1, y1 in points[1:]:
        my = (y0 + y1) / 2
        d.append(f"C{x0:.1f},{my:.1f} {x1:.1f},{my:.1f} {x1:.1f},{y1:.1f}")
        x0, y0 = x1, y1
    return "".join(d)


def _along(start: Point, end: Point, t: float) -> Point:
    """The point at ``t`` on one curve of ``_curve`` (its control points share a y)."""
    (x0, y0), (x1, y1) = start, end
    my, u = (y0 + y1) / 2, 1 - t
    return (x0 + (x1 - x0) * (3 * t * t - 2 * t ** 3),
            u ** 3 * y0 + 3 * u * t * my + t ** 3 * y1)


def _label(text: str, x: float, y: float, anchor: str = "middle") -> str:
    if not text:
        return ""
    width = _width(text, 11) + 6
    left = x - width / 2 if anchor == "middle" else x - 3
    return (f'<g class="label"><rect x="{left:.1f}" y="{y - 10:.1f}" width="{width:.1f}" '
            f'height="14" rx="3"/><text x="{x:.1f}" y="{y:.1f}" text-anchor="{anchor}">'
            f'{esc(text)}</text></g>')


def _edge(edge: Edge, route: list[Point] | None, b: Box) -> str:
    if route is None:  # a re-prompt loop on the right of its node
        right, ya, yb = b.x + b.width / 2, b.y + b.height * 0.3, b.y + b.height * 0.7
        d = (f"M{right:.1f},{ya:.1f}C{right + LOOP:.1f},{ya - 8:.1f} "
             f"{right + LOOP:.1f},{yb + 8:.1f} {right + 2:.1f},{yb:.1f}")
        label = _label(edge.label, right + LOOP + 6, (ya + yb) / 2 + 4, "start")
    else:
        d = _curve(route)
        x, y = _along(route[0], route[1], LABEL_AT)
        label = _label(edge.label, x, y + 4)
    return (f'<g class="edge edge-{edge.kind.value}" data-from="{edge.source}" '
            f'data-to="{edge.target}"><path d="{d}" marker-end="url(#arrow)"/>{label}</g>')


def _ports(placed: Layout, plain: list[Edge]) -> list[list[Point]]:
    """Routes whose ends are spread along the bottom of the source and the top of the
    target, in the order of where they go (or come from), so edges do not share a point."""
    routes = [list(r) for r in placed.routes]
    for end, side in ((0, "source"), (-1, "target")):
        groups: dict[str, list[int]] = {}
        for i, edge in enumerate(plain):
            groups.setdefault(getattr(edge, side), []).append(i)
        for node, members in groups.items():
            box = placed.boxes[node]
            inner = 1 if end == 0 else -2
            members.sort(key=lambda i: routes[i][inner][0])
            span = min(box.width * 0.6, 22.0 * (len(members) - 1))
            for k, i in enumerate(members):
                dx = -span / 2 + (span * k / (len(members) - 1) if len(members) > 1 else 0)
                routes[i][end] = (box.x + dx, routes[i][end][1])
    return routes


# The document ---------------------------------------------------------------------------

LEGEND = (("say / play", "say"), ("menu", "gather"), ("transfer", "transfer"),
          ("record", "record"), ("conference", "conference"), ("redirect", "redirect"),
          ("hang up", "hangup"))


def _legend(y: float, provider: str | None) -> tuple[str, float]:
    parts, x = [], 20.0
    items: list[tuple[str, str, str]] = [(name, kind, "") for name, kind in LEGEND]
    if provider:
        items += [("calls the app", "say", "continuation"),
                  (f"not on {provider}", "say", "unsupported")]
    for name, kind, extra in items:
        box = Box(x + 17, y, 34, 16)
        parts.append(f'<g class="node kind-{kind} {extra}">{_shape(kind, box)}</g>'
                     f'<text class="caption" x="{x + 40:.1f}" y="{y + 12:.1f}">{esc(name)}'
                     "</text>")
        x += 40 + _width(name) + 18
    return f'<g class="legend">{"".join(parts)}</g>', x


def render_svg(graph: FlowGraph, *, standalone: bool = True) -> str:
    """The graph as SVG markup (``standalone``: with the namespace, for an .svg file)."""
    loops = _loops(graph)
    plain = [e for e in graph.edges if e.source != e.target]
    placed = layout([(n.id, _size(n, loops.get(n.id))) for n in graph.nodes],
                    [(e.source, e.target) for e in plain])
    routes = dict(zip((id(e) for e in plain), _ports(placed, plain), strict=True))
    provider = graph.marks.provider if graph.marks else None
    header = [f'<text class="heading" x="20" y="22">{esc(graph.title)}</text>']
    lines = 1
    if graph.marks is not None:
        header.append(f'<text class="caption" x="20" y="{22 + HEADER_LINE:.0f}">'
                      f'{esc(graph.marks.summary)}</text>')
        lines += 1
    legend, legend_width = _legend(10 + lines * HEADER_LINE, provider)
    header.append(legend)
    offset = 10 + (lines + 1) * HEADER_LINE + 12
    summary_width = _width(graph.marks.summary) + 40 if graph.marks else 0
    width = max(placed.width, legend_width, summary_width, _width(graph.title) + 40)
    height = placed.height + offset
    edges = "".join(_edge(e, routes.get(id(e)), placed.boxes[e.source])
                    for e in graph.edges)
    nodes = "".join(_node(n, placed.boxes[n.id], provider) for n in graph.nodes)
    namespace = f' xmlns="{SVG_NS}"' if standalone else ""
    return (f'<svg{namespace} class="univoice-flow" width="{width:.0f}" height="{height:.0f}" '
            f'viewBox="0 0 {width:.0f} {height:.0f}" role="img" aria-label="{esc(graph.title)}">'
            f"<title>{esc(graph.title)}</title><style>{STYLE}</style>"
            '<defs><marker id="arrow" viewBox="0 0 10 10" refX="9" refY="5" markerWidth="7" '
            'markerHeight="7" orient="auto-start-reverse"><path d="M0,0L10,5L0,10z" '
            'fill="#6b7280"/></marker></defs>'
            f'{"".join(header)}<g class="graph" transform="translate(0,{offset:.0f})">'
            f"{edges}{nodes}</g></svg>\n")

