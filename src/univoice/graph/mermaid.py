"""A flow graph as Mermaid flowchart text, for docs and READMEs.

Every label is quoted, and every character Mermaid could read as syntax or markup in it
is written as a Mermaid entity code (``#quot;``, ``#35;``, ``#lt;``...), which Mermaid
shows as the character itself. Node ids are the sanitised step paths (``model.node_id``).
"""

from __future__ import annotations

from univoice.flow.speech import spoken
from univoice.graph.model import EdgeKind, FlowGraph, Node

# Entity codes: Mermaid turns #name; into &name; and #123; into &#123; when it draws.
_CODES = {"#": "#35;", '"': "#quot;", "&": "#amp;", "<": "#lt;", ">": "#gt;",
          "`": "#96;", "|": "#124;", "\\": "#92;"}
# Opening and closing delimiters of each kind's shape.
SHAPES = {
    "start": ('(["', '"])'), "end": ('(["', '"])'),
    "gather": ('{{"', '"}}'), "transfer": ('[["', '"]]'), "record": ('[("', '")]'),
    "conference": ('[/"', '"\\]'), "redirect": ('>"', '"]'), "hangup": ('(("', '"))'),
    "native": ('[/"', '"/]'),
}
CLASSES = {
    "start": "fill:#15803d,stroke:#14532d,color:#ffffff",
    "end": "fill:#e5e7eb,stroke:#4b5563",
    "gather": "fill:#fef9c3,stroke:#a16207",
    "transfer": "fill:#dcfce7,stroke:#15803d",
    "record": "fill:#fce7f3,stroke:#be185d",
    "conference": "fill:#cffafe,stroke:#0e7490",
    "hangup": "fill:#fee2e2,stroke:#991b1b,stroke-width:2px",
    "redirect": "fill:#f3e8ff,stroke:#7e22ce",
    "native": "fill:#f5f5f4,stroke:#57534e",
    "continuation": "stroke:#ea580c,stroke-width:3px,stroke-dasharray:6 3",
    "unsupported": "fill:#fecaca,stroke:#dc2626,stroke-width:3px",
}
DOTTED = frozenset({EdgeKind.NO_INPUT, EdgeKind.INVALID, EdgeKind.RETRY, EdgeKind.NO_ANSWER,
                    EdgeKind.MACHINE})


def quote(text: str) -> str:
    """Text safe inside a quoted Mermaid label (one line, syntax characters as codes)."""
    return "".join(_CODES.get(c, c) for c in spoken(text))


def _label(node: Node, provider: str | None) -> str:
    parts = [quote(node.title)] + ([quote(node.text)] if node.text else [])
    if node.continuation:
        parts.append(quote("↻ app"))
    if node.unsupported:
        parts.append(quote(f"✖ not on {provider}"))
    return "<br/>".join(parts)


def render_mermaid(graph: FlowGraph) -> str:
    provider = graph.marks.provider if graph.marks else None
    lines = ["flowchart TD"]
    if graph.marks is not None:
        lines.append(f"    %% {quote(graph.marks.summary)}")
    for node in graph.nodes:
        opening, closing = SHAPES.get(node.kind, ('["', '"]'))
        lines.append(f"    {node.id}{opening}{_label(node, provider)}{closing}")
    for edge in graph.edges:
        arrow = "-.->" if edge.kind in DOTTED else "-->"
        label = f'|"{quote(edge.label)}"|' if edge.label else ""
        lines.append(f"    {edge.source} {arrow}{label} {edge.target}")
    used: dict[str, list[str]] = {}
    for node in graph.nodes:
        if node.kind in CLASSES:
            used.setdefault(node.kind, []).append(node.id)
        for name in ("continuation", "unsupported"):
            if getattr(node, name):
                used.setdefault(name, []).append(node.id)
    for name, ids in used.items():
        # Prefixed: "end" is a Mermaid keyword.
        lines.append(f"    classDef uv_{name} {CLASSES[name]}")
        lines.append(f"    class {','.join(ids)} uv_{name}")
    return "\n".join(lines) + "\n"
