"""A self-contained static HTML report of a :class:`FlowGraph`: arc diagram, heatmap and edge table.

Everything is inlined (plotly.js included), so the page renders offline. The arc diagram is plain SVG
built here from small pure geometry functions, which the tests check directly.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import os
from typing import Any

from .errors import InfoFlowError
from .graph import Edge, FlowGraph, Node, write_atomic

GREEN, RED = "#1a9850", "#d73027"
"""Arc colours: the edge helps the metric (positive effect) or hurts it (negative)."""

CHAR_WIDTH = 7.2  # px per character of the 12px monospace font used in the token boxes
BOX_PAD, MIN_BOX, GAP, BOX_HEIGHT = 8.0, 22.0, 2.0, 24.0
MAX_CHARS = 14  # longer tokens are cut in the box; the box's tooltip keeps the whole text
MARGIN = 12.0
MAX_ARC_HEIGHT = 240.0
LOOP_RADIUS = 9.0
BRACKET_ROW = 18.0


def visible(text: str) -> str:
    """``text`` with whitespace made visible: spaces as ``·``, newlines as ``↵``, tabs as ``⇥``."""
    return text.replace(" ", "·").replace("\n", "↵").replace("\t", "⇥")


def describe(value: Any) -> str:
    """A short text for a provenance value: ``{"kind": "dampen", "alpha": 0.5}`` becomes ``dampen(alpha=0.5)``."""
    if isinstance(value, dict):
        rest = {k: v for k, v in value.items() if k not in ("kind", "name")}
        name = str(value.get("kind", value.get("name", "")))
        args = ", ".join(f"{k}={v}" for k, v in rest.items())
        return f"{name}({args})" if name and args else name or args
    return "" if value is None else str(value)


# --- geometry (pure) -----------------------------------------------------------------------------


def token_layout(tokens: list[str]) -> list[tuple[float, float]]:
    """The ``(x, width)`` of each token's box in the strip, left to right, wide enough for its text."""
    boxes, x = [], MARGIN
    for token in tokens:
        width = max(MIN_BOX, min(len(visible(token)), MAX_CHARS) * CHAR_WIDTH + BOX_PAD)
        boxes.append((x, width))
        x += width + GAP
    return boxes


def node_extent(boxes: list[tuple[float, float]], node: Node) -> tuple[float, float]:
    """The left and right x of a node: from its first token box's left edge to its last one's right edge."""
    last = boxes[max(node.end, node.start + 1) - 1]  # an empty span still gets its first box
    return boxes[node.start][0], last[0] + last[1]


def node_centre(boxes: list[tuple[float, float]], node: Node) -> float:
    """The x of a node's centre, where its arcs start and end."""
    left, right = node_extent(boxes, node)
    return (left + right) / 2


def arc_height(x1: float, x2: float, max_height: float = MAX_ARC_HEIGHT) -> float:
    """How high an arc between ``x1`` and ``x2`` rises: with the distance, so nested arcs do not cross."""
    return min(max_height, 14.0 + 0.4 * abs(x2 - x1))


def arc_path(x1: float, x2: float, height: float, baseline: float = 0.0) -> str:
    """An SVG path from ``(x1, baseline)`` to ``(x2, baseline)`` bulging up (smaller y) to exactly ``height``.

    A cubic Bezier with both control points at the same level peaks at 3/4 of their offset, hence the 4/3.
    """
    cy = baseline - height * 4 / 3
    return f"M {x1:.1f} {baseline:.1f} C {x1:.1f} {cy:.1f} {x2:.1f} {cy:.1f} {x2:.1f} {baseline:.1f}"


def loop_path(x: float, radius: float = LOOP_RADIUS, baseline: float = 0.0) -> str:
    """A small loop above ``(x, baseline)`` for a self-edge; it rises ``1.5 * radius``."""
    cy = baseline - 2 * radius
    return (
        f"M {x - radius / 2:.1f} {baseline:.1f} C {x - 1.5 * radius:.1f} {cy:.1f} "
        f"{x + 1.5 * radius:.1f} {cy:.1f} {x + radius / 2:.1f} {baseline:.1f}"
    )


def stroke_style(effect: float, max_abs: float) -> tuple[float, float]:
    """The ``(stroke width, opacity)`` of an arc, both growing with ``|effect| / max_abs``."""
    share = abs(effect) / max_abs if max_abs > 0 else 0.0
    return 1.2 + 4.8 * share, 0.3 + 0.7 * share


def edge_colour(effect: float) -> str:
    """Green for an edge that helps the metric, red for one that hurts it."""
    return GREEN if effect >= 0 else RED


def stack_rows(spans: list[tuple[float, float]]) -> list[int]:
    """For each ``(left, right)`` interval, the lowest row where it overlaps no interval placed before it."""
    rows: list[list[tuple[float, float]]] = []
    placed = []
    for left, right in spans:
        row = next((i for i, r in enumerate(rows) if all(right <= a or left >= b for a, b in r)), len(rows))
        if row == len(rows):
            rows.append([])
        rows[row].append((left, right))
        placed.append(row)
    return placed


# --- SVG -----------------------------------------------------------------------------------------


def _check_top_k(top_k: Any) -> int:
    if isinstance(top_k, bool) or not isinstance(top_k, numbers.Integral) or top_k < 0:
        raise InfoFlowError(f"top_k needs a whole number >= 0 of edges to draw, got {top_k!r}.")
    return int(top_k)


def arc_svg(graph: FlowGraph, top_k: int = 10) -> str:
    """The arc diagram as an ``<svg>`` element: token strip below, the ``top_k`` strongest edges as arcs above it.

    Edges with a NaN or infinite effect are left out, since they have no sensible width.
    """
    top_k = _check_top_k(top_k)
    edges = [e for e in graph.ranked() if math.isfinite(e.effect)][:top_k]
    boxes = token_layout(graph.tokens)
    centres = [node_centre(boxes, n) for n in graph.nodes]

    def geometry(edge: Edge) -> tuple[bool, float]:
        x1, x2 = centres[edge.source], centres[edge.target]
        # a span and a token inside it can share a centre: a loop reads better than a zero-width arc
        loop = edge.source == edge.target or abs(x1 - x2) < 1
        return loop, 1.5 * LOOP_RADIUS if loop else arc_height(x1, x2)

    baseline = MARGIN + max((geometry(e)[1] for e in edges), default=0.0) + 8
    spans = sorted({i for e in edges for i in (e.source, e.target) if graph.nodes[i].end - graph.nodes[i].start > 1})
    extents = [node_extent(boxes, graph.nodes[i]) for i in spans]
    rows = stack_rows(extents)
    strip_bottom = baseline + BOX_HEIGHT + 14  # room for the position numbers
    height = strip_bottom + BRACKET_ROW * (max(rows, default=-1) + 1) + MARGIN
    width = (boxes[-1][0] + boxes[-1][1] if boxes else 0) + MARGIN

    out = [
        f'<svg class="arcs" width="{width:.0f}" height="{height:.0f}" '
        f'viewBox="0 0 {width:.0f} {height:.0f}" font-family="monospace">',
        "<defs>",
    ]
    for name, colour in (("pos", GREEN), ("neg", RED)):
        out.append(
            f'<marker id="arrow-{name}" viewBox="0 0 10 10" refX="8" refY="5" markerWidth="2.8" markerHeight="2.8" '
            f'markerUnits="strokeWidth" orient="auto"><path d="M 0 0 L 10 5 L 0 10 z" fill="{colour}"/></marker>'
        )
    out.append("</defs>")

    for i, (token, (x, w)) in enumerate(zip(graph.tokens, boxes, strict=True)):
        text = visible(token)
        shown = text if len(text) <= MAX_CHARS else text[: MAX_CHARS - 1] + "…"
        out.append(
            f'<g class="token"><title>{i}: {html.escape(text)}</title>'
            f'<rect x="{x:.1f}" y="{baseline:.1f}" width="{w:.1f}" height="{BOX_HEIGHT}" rx="3" '
            'fill="#f4f4f4" stroke="#bbb"/>'
            f'<text x="{x + w / 2:.1f}" y="{baseline + 16:.1f}" font-size="12" '
            f'text-anchor="middle">{html.escape(shown)}</text>'
            f'<text x="{x + w / 2:.1f}" y="{baseline + BOX_HEIGHT + 10:.1f}" font-size="8" fill="#999" '
            f'text-anchor="middle">{i}</text></g>'
        )

    for i, (left, right), row in zip(spans, extents, rows, strict=True):
        y = strip_bottom + BRACKET_ROW * row + 4
        out.append(
            f'<g class="span"><path d="M {left + 1:.1f} {y - 4:.1f} V {y:.1f} H {right - 1:.1f} V {y - 4:.1f}" '
            f'fill="none" stroke="#666"/><text x="{(left + right) / 2:.1f}" y="{y + 11:.1f}" font-size="10" '
            f'fill="#444" text-anchor="middle">{graph.nodes[i].label}</text></g>'
        )

    max_abs = max((abs(e.effect) for e in edges), default=0.0)
    for edge in reversed(edges):  # weakest first, so the strongest arcs are drawn on top
        loop, h = geometry(edge)
        x1, x2 = centres[edge.source], centres[edge.target]
        d = loop_path(x2, baseline=baseline) if loop else arc_path(x1, x2, h, baseline)
        stroke, opacity = stroke_style(edge.effect, max_abs)
        source_text, target_text = (visible(t) for t in graph.edge_text(edge))
        out.append(
            f'<path class="arc{" loop" if loop else ""}" d="{d}" fill="none" stroke="{edge_colour(edge.effect)}" '
            f'stroke-width="{stroke:.2f}" stroke-opacity="{opacity:.2f}" stroke-linecap="round" '
            f'marker-end="url(#arrow-{"pos" if edge.effect >= 0 else "neg"})">'
            f"<title>{html.escape(f'{source_text} -> {target_text}: {edge.effect:+.4g}')}</title></path>"
        )
    out.append("</svg>")
    return "\n".join(out)


# --- page ----------------------------------------------------------------------------------------

_LEGEND = (
    '<svg width="430" height="22" font-size="12">'
    f'<line x1="2" y1="11" x2="32" y2="11" stroke="{GREEN}" stroke-width="4"/>'
    '<text x="38" y="15">helps (effect &gt; 0)</text>'
    f'<line x1="162" y1="11" x2="192" y2="11" stroke="{RED}" stroke-width="4"/>'
    '<text x="198" y="15">hurts (effect &lt; 0)</text>'
    '<text x="318" y="15">width = |effect|</text></svg>'
)

_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
.scroll{overflow-x:auto;border:1px solid #ddd;padding:4px}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}dd{margin:0}
pre{white-space:pre-wrap;margin:0}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;font-family:monospace}td.num{text-align:right}"""


def _details(graph: FlowGraph) -> str:
    p = graph.provenance
    rows = [
        ("prompt", f"<pre>{html.escape(str(p.get('prompt', '')))}</pre>"),
        ("model", html.escape(describe(p.get("model")))),
        ("intervention", html.escape(describe(p.get("intervention")))),
        ("metric", html.escape(describe(p.get("metric")))),
        ("clean metric", f"{graph.clean_metric:.6g}"),
    ]
    shown = {"prompt", "model", "intervention", "metric"}
    for key, value in [*((k, v) for k, v in p.items() if k not in shown), *graph.stats.items()]:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        rows.append((html.escape(str(key)), html.escape(text)))
    return "<dl>" + "".join(f"<dt>{k}</dt><dd>{v}</dd>" for k, v in rows) + "</dl>"


def _table(graph: FlowGraph, edges: list[Edge]) -> str:
    head = "<tr><th>rank</th><th>source</th><th>target</th><th>effect</th></tr>"
    rows = []
    for rank, edge in enumerate(edges, start=1):
        source, target = (
            html.escape(f"{graph.nodes[i].label} {visible(graph.node_text(i))}") for i in (edge.source, edge.target)
        )
        effect = f'<td class="num">{edge.effect:+.4g}</td>'
        rows.append(f'<tr><td class="num">{rank}</td><td>{source}</td><td>{target}</td>{effect}</tr>')
    return f"<table>{head}{''.join(rows)}</table>"


def to_html(graph: FlowGraph, path: str | os.PathLike[str] | None = None, top_k: int = 10) -> str:
    """A standalone HTML page showing ``graph``, renderable offline (plotly.js is inlined).

    Args:
        graph: the graph to show.
        path: where to write the page (atomically); None only returns it.
        top_k: how many of the strongest edges to draw as arcs and list in the table.

    Returns:
        The HTML text.

    Raises:
        InfoFlowError: ``top_k`` is negative.
    """
    top_k = _check_top_k(top_k)
    title = "Information-flow graph"
    if graph.provenance.get("model"):
        title += f" — {describe(graph.provenance['model'])}"
    heatmap = graph.heatmap().to_html(include_plotlyjs=True, full_html=False, config={"displaylogo": False})
    page = f"""<!DOCTYPE html>
<html lang="en"><head><meta charset="utf-8"><title>{html.escape(title)}</title><style>{_CSS}</style></head>
<body>
<h1>{html.escape(title)}</h1>
{_details(graph)}
<h2>Top {min(top_k, len(graph.edges))} edges</h2>
{_LEGEND}
<div class="scroll">{arc_svg(graph, top_k)}</div>
<h2>Effect matrix</h2>
{heatmap}
<h2>Edge table</h2>
{_table(graph, graph.top(top_k).edges)}
</body></html>
"""
    if path is not None:
        write_atomic(path, page)
    return page
