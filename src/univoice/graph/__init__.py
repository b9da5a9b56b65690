"""A flow as a diagram: Mermaid text for docs, SVG and self-contained HTML drawn in Python
(no network, no script). ``render(flow, "svg", provider)``; ``univoice flow graph``."""

from __future__ import annotations

from typing import TYPE_CHECKING, Literal

from univoice.graph.html import render_html
from univoice.graph.marks import Marks, marks_for
from univoice.graph.mermaid import render_mermaid
from univoice.graph.model import Edge, EdgeKind, FlowGraph, Node, build, node_id
from univoice.graph.svg import render_svg

if TYPE_CHECKING:
    from univoice.flow import Flow
    from univoice.provider import Provider

Format = Literal["mermaid", "svg", "html"]
FORMATS: dict[str, Format] = {".mmd": "mermaid", ".mermaid": "mermaid", ".md": "mermaid",
                              ".svg": "svg", ".html": "html", ".htm": "html"}


def graph_of(flow: Flow, provider: Provider | None = None) -> FlowGraph:
    """The graph of ``flow``; with ``provider``, marked with what it makes of each step."""
    return build(flow, None if provider is None else marks_for(flow, provider))


def render(flow: Flow, form: Format = "mermaid", provider: Provider | None = None) -> str:
    graph = graph_of(flow, provider)
    if form == "svg":
        return render_svg(graph)
    if form == "html":
        return render_html(graph)
    return render_mermaid(graph)


__all__ = [
    "FORMATS",
    "Edge",
    "EdgeKind",
    "FlowGraph",
    "Format",
    "Marks",
    "Node",
    "build",
    "graph_of",
    "marks_for",
    "node_id",
    "render",
    "render_html",
    "render_mermaid",
    "render_svg",
]
