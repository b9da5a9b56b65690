"""Mermaid, SVG and HTML renderings of flow graphs: every example in every format, SVG
that parses as XML with one node per step and labelled edges, and escaping of every text
that comes from the flow."""

from __future__ import annotations

import re
from itertools import pairwise
from pathlib import Path

import pytest
from lxml import etree, html

from univoice.flow import Flow
from univoice.graph import build, render, render_html, render_mermaid, render_svg
from univoice.graph.layout import Size, layout
from univoice.plugins import provider_class

ROOT = Path(__file__).resolve().parents[2]
EXAMPLES = sorted((ROOT / "examples").glob("*.yaml"))
SVG = "{http://www.w3.org/2000/svg}"
PROVIDERS = (None, "simulator", "bandwidth", "messagebird", "bird")

HOSTILE = """
name: 'Evil "name" <script>alert(1)</script> ]]} end %% #quot; `x` | a&b'
steps:
  - say: "<script>alert('x')</script> \\"quoted\\" [b] {{c}} (p) #35; | `t` end -->"
  - gather:
      prompt: 'Press * or # <img src=x onerror=alert(1)>'
      max_digits: 2
      retries: 1
      options:
        "*":
          - say: "]] --> x\\"])"
        "#":
          - play: "https://example.com/a.wav?x=<y>&z=\\"q\\""
        "1#":
          - redirect: "https://example.com/next?a=1&b=<script>"
  - hangup
"""


def classes(element: etree._Element) -> set[str]:
    return set((element.get("class") or "").split())


def parse_svg(text: str) -> etree._Element:
    root = etree.fromstring(text.encode("utf-8"))
    assert root.tag == f"{SVG}svg"
    return root


@pytest.mark.parametrize("provider", PROVIDERS)
@pytest.mark.parametrize("path", EXAMPLES, ids=lambda p: p.name)
def test_every_example_renders_in_every_format(path: Path, provider: str | None) -> None:
    flow = Flow.load(path)
    adapter = None if provider is None else provider_class(provider).offline()
    steps = [p for p, _ in flow.walk()]

    mermaid = render(flow, "mermaid", adapter)
    assert mermaid.startswith("flowchart TD\n")

    root = parse_svg(render(flow, "svg", adapter))
    nodes = [g for g in root.iter(f"{SVG}g") if "step" in classes(g)]
    assert len(nodes) == len(steps)
    assert [g.get("data-path") for g in nodes] == steps
    edges = [g for g in root.iter(f"{SVG}g") if "edge" in classes(g)]
    assert edges
    for gather_path, step in flow.walk():
        for digits in getattr(step, "options", None) or {}:
            gather = next(g for g in nodes if g.get("data-path") == gather_path).get("id")
            labels = ["".join(e.itertext()) for e in edges if e.get("data-from") == gather]
            assert any(f"press {digits}" in label for label in labels), labels

    page = render(flow, "html", adapter)
    document = html.document_fromstring(page)
    assert len(document.xpath("//svg//g[contains(concat(' ', @class, ' '), ' step ')]")) == len(
        steps)
    assert not document.xpath("//script | //link | //img | //iframe")
    assert not re.search(r"(src|href)\s*=\s*[\"']?(https?:)?//", page)  # no external asset


def test_node_shapes_and_classes_tell_kinds_apart() -> None:
    flow = Flow.load(ROOT / "examples" / "support_ivr.yaml")
    root = parse_svg(render_svg(build(flow)))
    by_kind: dict[str, set[str]] = {}
    for g in root.iter(f"{SVG}g"):
        if "step" in classes(g):
            kind = next(c for c in classes(g) if c.startswith("kind-"))
            shape = g.find(f"{SVG}*[@class='shape']")
            assert shape is not None
            by_kind.setdefault(kind, set()).add(etree.QName(shape).localname)
    assert by_kind["kind-gather"] == {"polygon"}  # a hexagon
    assert by_kind["kind-record"] == {"path"}  # a cylinder
    assert by_kind["kind-transfer"] == {"rect"}  # with double sides (a path after it)
    mermaid = render_mermaid(build(flow))
    assert 'steps_1{{"menu' in mermaid  # hexagon
    assert 'steps_2(("hang up"))' in mermaid  # circle
    assert "class steps_1_gather_options_1_steps_1," in mermaid  # transfers styled
    assert 'steps_1 -->|"press 1"| steps_1_gather_options_1_steps_0' in mermaid
    assert 'steps_1 -.->|"no input / invalid: re-prompt (2 retries)"| steps_1' in mermaid


def test_hostile_text_is_escaped_in_svg_and_html() -> None:
    graph = build(Flow.from_yaml(HOSTILE), None)
    svg = render_svg(graph)
    root = parse_svg(svg)  # well-formed: nothing broke out of its element
    assert "<script" not in svg and "<img" not in svg
    assert not root.xpath("//*[local-name()='script' or local-name()='img']")
    texts = "".join(root.itertext())
    assert "<script>alert('x')</script>" in texts  # shown as text, exactly
    assert 'Evil "name"' in texts
    assert "press *" in texts and "press #" in texts and "press 1#" in texts
    page = render_html(graph)
    assert "<script" not in page and "<img" not in page
    document = html.document_fromstring(page)
    assert document.findtext(".//title") == graph.title
    assert "<script>alert(1)</script>" in document.findtext(".//h1")


def test_hostile_text_is_quoted_for_mermaid() -> None:
    mermaid = render_mermaid(build(Flow.from_yaml(HOSTILE)))
    for line in mermaid.splitlines()[1:]:
        if line.lstrip().startswith(("classDef", "class ")):
            continue
        # Inside a quoted label nothing can close it or start markup (but our line breaks).
        for label in re.findall(r'"(.*?)"', line.replace("<br/>", "")):
            assert not set(label) & set('"<>`|'), line
            assert re.fullmatch(r"(?:[^#]|#(?:quot|lt|gt|amp|\d+);)*", label), line
        assert line.count('"') % 2 == 0, line
    assert "#lt;script#gt;alert('x')#lt;/script#gt;" in mermaid
    assert "Evil #quot;name#quot;" in mermaid
    assert '-->|"press #35;"|' in mermaid and '-->|"press 1#35;"|' in mermaid
    assert "#35;quot;" in mermaid  # a literal entity in the text stays literal
    assert "steps_1_gather_options_star_steps_0" in mermaid
    assert "steps_1_gather_options_1hash_steps_0" in mermaid


def test_layout_keeps_nodes_apart_and_edges_downward() -> None:
    flow = Flow.load(ROOT / "examples" / "support_ivr.yaml")
    graph = build(flow)
    plain = [(e.source, e.target) for e in graph.edges if e.source != e.target]
    placed = layout([(n.id, Size(120, 40)) for n in graph.nodes], plain)
    boxes = list(placed.boxes.values())
    for i, a in enumerate(boxes):
        assert a.x - a.width / 2 >= 0 and a.x + a.width / 2 <= placed.width
        assert a.bottom <= placed.height
        for b in boxes[i + 1:]:
            apart_x = abs(a.x - b.x) >= (a.width + b.width) / 2
            apart_y = a.bottom <= b.y or b.bottom <= a.y
            assert apart_x or apart_y
    for (source, target), route in zip(plain, placed.routes, strict=True):
        assert route[0][1] == placed.boxes[source].bottom
        assert route[-1][1] == placed.boxes[target].y
        assert all(y0 < y1 for (_, y0), (_, y1) in pairwise(route))
