"""A self-contained HTML report of a :class:`FlowGraph`: the widget's drawing, a heatmap and the edge table.

The page is the widget's own offline page (:func:`._html_export.widget_page`): the front-end bundle
draws the graph from its state, so one renderer draws every arc, in the notebook, in a page the widget
saves and here. The provenance sits above the drawing, the plotly heatmap and the table of the strongest
edges below it. Everything is inlined (plotly.js and the bundle), so the page renders offline.
"""

from __future__ import annotations

import html
import json
import os

from ..core.errors import InfoFlowError, is_whole
from ..core.files import write_atomic
from ..graph.flowgraph import Edge, FlowGraph, register_format
from ..text.display import describe, visible, xml_safe

_CSS = """body{font-family:system-ui,sans-serif;margin:1.5em;color:#222}
dl{display:grid;grid-template-columns:max-content auto;gap:2px 12px}dt{font-weight:600}dd{margin:0}
pre{white-space:pre-wrap;margin:0}table{border-collapse:collapse}
td,th{border:1px solid #ccc;padding:2px 8px;font-family:monospace}td.num{text-align:right}"""


def _escape(text: str) -> str:
    """Text for the page: markup escaped, control characters (a prompt's ESC or NUL) as their pictures."""
    return html.escape(xml_safe(text))


def _details(graph: FlowGraph) -> str:
    p = graph.provenance
    rows = [
        ("prompt", f"<pre>{_escape(str(p.get('prompt', '')))}</pre>"),
        ("model", _escape(describe(p.get("model")))),
        ("intervention", _escape(describe(p.get("intervention")))),
        ("metric", _escape(describe(p.get("metric")))),
        ("clean metric", f"{graph.clean_metric:.6g}"),
    ]
    shown = {"prompt", "model", "intervention", "metric"}
    for key, value in [*((k, v) for k, v in p.items() if k not in shown), *graph.stats.items()]:
        text = value if isinstance(value, str) else json.dumps(value, default=str)
        rows.append((_escape(str(key)), _escape(text)))
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
    """A standalone HTML page showing ``graph``, renderable offline (the front end and plotly.js are inlined).

    Args:
        graph: the graph to show.
        path: where to write the page (atomically); None only returns it.
        top_k: how many of the strongest edges to draw as arcs (the page's top-k box changes it) and list in the table.

    Returns:
        The HTML text.

    Raises:
        InfoFlowError: ``top_k`` is not a whole number >= 0.
        ImportError: the widget's front end is not built.
    """
    from .page import graph_state, widget_page  # the bundle is read only when a page is made

    if not is_whole(top_k):
        raise InfoFlowError(f"top_k needs a whole number >= 0 of edges to draw, got {top_k!r}.")
    top_k = int(top_k)
    title = "Information-flow graph"
    if graph.provenance.get("model"):
        title += f" — {describe(graph.provenance['model'])}"
    heatmap = graph.heatmap().to_html(include_plotlyjs=True, full_html=False, config={"displaylogo": False})
    before = f"""<h1>{html.escape(title)}</h1>
{_details(graph)}
<h2>Top {min(top_k, len(graph.edges))} edges</h2>"""
    after = f"""<h2>Effect matrix</h2>
{heatmap}
<h2>Edge table</h2>
{_table(graph, graph.top(top_k).edges)}"""
    state = graph_state(graph, top_k=top_k)
    page = widget_page(state, title, head=f"<style>{_CSS}</style>", before=before, after=after)
    if path is not None:
        write_atomic(path, page)
    return page


register_format(".html", to_html)
