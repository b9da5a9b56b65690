"""A flow graph as one self-contained HTML page: the SVG inline, a list of the provider's
marks, no script and no external asset (its Content-Security-Policy forbids loading any).
Every text from the flow is escaped."""

from __future__ import annotations

from univoice.graph.model import FlowGraph
from univoice.graph.svg import esc, render_svg

CSP = "default-src 'none'; style-src 'unsafe-inline'; img-src data:"
PAGE_STYLE = """
body { font-family: system-ui, -apple-system, "Segoe UI", Roboto, sans-serif; margin: 1.5rem;
       color: #1f2937; }
h1 { font-size: 1.3rem; }
figure { margin: 0; overflow-x: auto; }
table { border-collapse: collapse; margin-top: 1rem; font-size: 0.9rem; }
th, td { border: 1px solid #d1d5db; padding: 0.3rem 0.6rem; text-align: left;
         vertical-align: top; }
code { font-size: 0.85rem; }
"""


def _marks_table(graph: FlowGraph) -> str:
    if graph.marks is None:
        return ""
    rows = []
    for node in graph.nodes:
        for sign, why in (("↻ calls the webhook app", node.continuation),
                          ("✖ cannot run", node.unsupported)):
            if why:
                where = node.path if node.path is not None else "(the call's start)"
                rows.append(f"<tr><td><code>{esc(where)}</code></td><td>{esc(node.title)}</td>"
                            f"<td>{esc(sign)}</td><td>{esc(why)}</td></tr>")
    if not rows:
        return f"<p>{esc(graph.marks.provider)}: nothing to mark.</p>"
    return ("<table><thead><tr><th>step</th><th>kind</th><th>mark</th><th>why</th></tr>"
            f"</thead><tbody>{''.join(rows)}</tbody></table>")


def render_html(graph: FlowGraph) -> str:
    summary = f"<p>{esc(graph.marks.summary)}</p>" if graph.marks is not None else ""
    return ("<!DOCTYPE html>\n"
            '<html lang="en"><head><meta charset="utf-8">'
            f'<meta http-equiv="Content-Security-Policy" content="{CSP}">'
            '<meta name="viewport" content="width=device-width, initial-scale=1">'
            f"<title>{esc(graph.title)}</title><style>{PAGE_STYLE}</style></head>"
            f"<body><h1>{esc(graph.title)}</h1>{summary}"
            f"<figure>{render_svg(graph, standalone=False)}</figure>"
            f"{_marks_table(graph)}</body></html>\n")
