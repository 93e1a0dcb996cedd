"""The static drawing (Python port of the front end's arc diagram): geometry, styles, header, legend, the block.

tests/widget/test_drawing_parity.py checks the same drawing against the front end's own output.
"""

from __future__ import annotations

import math
import re

import pytest

from infoflow_widget.core.style import STATIC, colour, style, theme
from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node
from infoflow_widget.widget.drawing import (
    MAX_STATIC_ARCS,
    arc_height,
    arc_path,
    bracket_rows,
    edge_style,
    filter_edges,
    format_effect,
    js_number,
    js_round,
    layout_strip,
    loop_path,
    node_anchor,
    static_html,
    to_precision,
)

TOKENS = ["The", " cat", "\n", "<b>"]


def graph() -> FlowGraph:
    return FlowGraph(
        tokens=list(TOKENS),
        nodes=[Node(i, i + 1) for i in range(4)] + [Node(0, 2)],
        edges=[Edge(0, 1, 0.5), Edge(1, 3, -0.75), Edge(2, 2, 0.25), Edge(4, 3, 0.1, level=1), Edge(0, 2, -0.05)],
        clean_metric=3.25,
        provenance={"metric": "logit diff", "intervention_text": "dampen: pattern × 0.5"},
        stats={"forward_passes": 7, "seconds": 0.5},
    )


def arcs(html: str) -> list[str]:
    return re.findall(r'<path class="if-arc".*?</path>', html)


def attribute(element: str, name: str) -> str:
    return re.search(rf'\b{name}="([^"]*)"', element).group(1)


# --- one source of style --------------------------------------------------------------------------


def test_style_comes_from_the_built_copy_of_the_front_ends_json():
    import json
    from pathlib import Path

    source = Path(__file__).resolve().parents[2] / "js" / "src" / "style.json"
    assert json.loads((STATIC / "style.json").read_text(encoding="utf-8")) == json.loads(source.read_text("utf-8"))
    assert style()["colors"] == {"helps": "#1a9850", "hurts": "#d73027", "nan": "#8a8a8a", "zero": "#f7f7f7"}


def test_every_plotly_figure_takes_the_drawings_palette():
    from infoflow_widget.graph.anatomy import Anatomy
    from infoflow_widget.graph.rolegraph import RoleGraph

    diverging = [[0, colour("hurts")], [0.5, colour("zero")], [1, colour("helps")]]
    graph = FlowGraph(["a", "b"], [Node(0, 1), Node(1, 2)], [Edge(0, 1, 0.5), Edge(1, 1, -0.25)], 1.0)
    assert [list(stop) for stop in graph.heatmap().data[0].colorscale] == diverging
    roles = RoleGraph.from_flow_graphs([graph, graph], [["A", "B"], ["A", "B"]])
    assert set(roles.plot().data[0].marker.color) == {colour("helps"), colour("hurts")}
    anatomy = Anatomy([0], [1], ["a", "b"], 1.0, 0.5, [0], [0.5], [[0.5, -0.1]], [0.5], [0.5])
    assert [list(stop) for stop in anatomy.heatmap().data[0].colorscale] == diverging


def test_the_light_theme_comes_from_the_stylesheets_fallbacks():
    colours = theme()
    assert set(colours) == {"bg", "fg", "muted", "border", "token"}
    css = (STATIC / "widget.css").read_text(encoding="utf-8")
    assert all(value in css for value in colours.values())


# --- numbers and geometry -------------------------------------------------------------------------


def test_numbers_are_written_as_javascript_writes_them():
    assert [js_number(v) for v in (0.0, -0.0, 12.0, 12.5, 0.1 + 0.2)] == ["0", "0", "12", "12.5", "0.30000000000000004"]
    assert [js_round(v) for v in (1.25, -1.25, 1.04, 2.0)] == [1.3, -1.2, 1.0, 2.0]
    assert [to_precision(v, 4) for v in (0.5, 12345.6, 1e-7, 0.0)] == ["0.5000", "1.235e+4", "1.000e-7", "0.000"]
    assert [format_effect(v) for v in (0.5, -1e-5, math.inf, -math.inf, math.nan, 0.0)] == [
        "+0.5000", "-1.00e-5", "+Infinity", "-Infinity", "NaN", "0.000",
    ]  # fmt: skip


def test_boxes_are_ordered_disjoint_and_as_wide_as_their_text_up_to_a_cap():
    layout = layout_strip(["a", "a much longer token than the cap", "", "b"])
    boxes = layout["boxes"]
    assert all(a["x"] + a["width"] <= b["x"] for a, b in zip(boxes, boxes[1:], strict=False))
    assert boxes[1]["width"] > boxes[0]["width"] == boxes[2]["width"] == style()["strip"]["minBox"]
    assert boxes[1]["width"] == layout_strip(["x" * 100])["boxes"][0]["width"]
    assert layout["width"] == boxes[-1]["x"] + boxes[-1]["width"] + style()["strip"]["margin"]


def test_a_span_anchors_between_its_tokens():
    boxes = layout_strip(TOKENS)["boxes"]
    first, second, span = (node_anchor(boxes, n)["x"] for n in (Node(0, 1), Node(1, 2), Node(0, 2)))
    assert first < span < second


def test_arcs_rise_with_distance_up_to_a_cap_and_land_from_above():
    assert arc_height(10) < arc_height(100) < arc_height(200) == arc_height(-200)
    assert arc_height(1e6) == style()["arcs"]["maxArc"]
    d = arc_path({"x": 10, "y": 100}, {"x": 110, "y": 100})
    numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*", d)]
    assert numbers[:2] == [10, 100] and numbers[-2:] == [110, 100]
    assert numbers[3] == numbers[5] < 100, "both control points above the strip"
    assert arc_path({"x": 50, "y": 80}, {"x": 50, "y": 80}) == loop_path({"x": 50, "y": 80})


def test_nested_spans_hang_one_row_below_their_container():
    nodes = [Node(0, 1), Node(0, 4), Node(1, 3), Node(1, 2)]
    assert bracket_rows(nodes) == {1: 0, 2: 1}


def test_edge_styles_follow_sign_and_share_of_the_largest():
    weak, strong, hurts = edge_style(0.1, 1.0), edge_style(1.0, 1.0), edge_style(-0.5, 1.0)
    assert weak["color"] == strong["color"] == colour("helps") and hurts["color"] == colour("hurts")
    assert weak["width"] < hurts["width"] < strong["width"] and weak["opacity"] < strong["opacity"]
    assert edge_style(math.nan, 1.0)["color"] == colour("nan")
    assert edge_style(math.inf, 1.0) == strong
    assert edge_style(0.0, 0.0) == edge_style(0.0, 1.0)  # no division by zero


def test_filtering_keeps_the_strongest_and_ranks_nan_last():
    edges = [Edge(0, 0, 0.1), Edge(0, 1, math.nan), Edge(1, 1, -0.9), Edge(0, 2, 0.1)]
    assert [i for i, _ in filter_edges(edges)] == [2, 0, 3, 1]
    assert [i for i, _ in filter_edges(edges, threshold=0.1)] == [2, 0, 3]
    assert [i for i, _ in filter_edges(edges, top_k=2)] == [2, 0]
    assert filter_edges(edges, top_k=0) == []


# --- the block ------------------------------------------------------------------------------------


@pytest.mark.parametrize("top_k", [0, 1, 3, 5])
def test_arc_count_equals_top_k(top_k):
    assert len(arcs(static_html(graph(), top_k=top_k))) == top_k


def test_arc_count_is_capped_by_edges_and_threshold():
    assert len(arcs(static_html(graph(), top_k=50))) == 5
    assert len(arcs(static_html(graph(), top_k=None, threshold=0.2))) == 3


def test_arcs_are_coloured_by_sign_widened_by_effect_and_drawn_weakest_first():
    drawn = {(attribute(a, "data-source"), attribute(a, "data-target")): a for a in arcs(static_html(graph(), top_k=5))}
    strongest, helps, weakest = drawn["1:2", "3:4"], drawn["0:1", "1:2"], drawn["0:1", "2:3"]
    assert attribute(strongest, "stroke") == colour("hurts") == attribute(weakest, "stroke")
    assert attribute(helps, "stroke") == colour("helps")
    widths = [float(attribute(a, "stroke-width")) for a in (strongest, helps, weakest)]
    assert widths == sorted(widths, reverse=True)
    in_order = [float(attribute(a, "stroke-width")) for a in arcs(static_html(graph(), top_k=5))]
    assert in_order == sorted(in_order), "the strongest arcs lie on top"
    assert "<title>1 ·cat → 3 &lt;b&gt;: effect -0.7500, rank 1 of 5, exact (measured)</title>" in strongest


def test_arrowheads_loops_and_span_brackets():
    block = static_html(graph(), top_k=5)
    assert all("marker-end=" in a for a in arcs(block))
    assert len(re.findall(r'<marker id="infoflow-static-\w+-(?:pos|neg|nan)"', block)) == 3
    loop = next(a for a in arcs(block) if 'data-source="2:3" data-target="2:3"' in a)
    numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*", attribute(loop, "d"))]
    centre = node_anchor(layout_strip(TOKENS)["boxes"], Node(2, 3))["x"]
    assert all(abs(x - centre) <= 12 for x in numbers[0::2]), "a self-edge is a small loop on its node"
    assert block.count('class="if-bracket"') == 1 and ">0–1</text>" in block, "a span's positions, both ends"


def test_token_text_is_escaped_and_whitespace_visible():
    block = static_html(graph(), top_k=5)
    assert "<b>" not in block.replace("<b style", "") and "&lt;b&gt;" in block
    assert ">·cat</text>" in block and ">↵</text>" in block


def test_non_finite_effects_are_drawn_as_the_front_end_draws_them():
    g = graph()
    g.edges += [Edge(0, 3, math.inf), Edge(1, 2, math.nan)]
    drawn = arcs(static_html(g, top_k=None))
    assert len(drawn) == 7
    infinite = next(a for a in drawn if "+Infinity" in a)
    assert float(attribute(infinite, "stroke-width")) == edge_style(math.inf, 1)["width"]
    assert attribute(next(a for a in drawn if "NaN" in a), "stroke") == colour("nan")


def test_estimates_are_dashed_and_said_so():
    g = graph()
    g.edges[1] = Edge(1, 3, -0.75, exact=False)
    block = static_html(g, top_k=5)
    estimate = next(a for a in arcs(block) if 'data-source="1:2" data-target="3:4"' in a)
    assert 'stroke-dasharray="5 3"' in estimate and "first-order estimate, not measured</title>" in estimate
    assert "partly estimated: 4 of 5 edges verified exactly, 1 first-order estimates (dashed)" in block
    assert "dashed: first-order estimate, not measured" in block


def test_the_block_has_header_legend_and_no_script():
    block = static_html(graph(), top_k=3, note="a note")
    assert "<script" not in block
    assert "<b" in block and "logit diff</b> under <span>dampen: pattern × 0.5</span>" in block
    assert "clean metric 3.250" in block and "4 tokens · 5 edges measured, 3 shown" in block
    assert "7 forward passes, 0.5 s" in block
    assert "helps the metric (effect &gt; 0)" in block and "hurts it (effect &lt; 0)" in block
    assert "|effect| relative to 3.25 (the clean metric&#x27;s magnitude)" in block and "a note" in block
    assert "in tokens: · a space, ↵ a newline" in block
    assert not re.search(r"(src|href)=", block)


def test_a_huge_graph_keeps_only_the_strongest_arcs():
    n = 40
    nodes = [Node(i, i + 1) for i in range(n)]
    edges = [Edge(j, i, (i * n + j + 1) / n**2) for i in range(n) for j in range(i + 1)]
    block = static_html(FlowGraph(["t"] * n, nodes, edges, 0.0), top_k=None)
    assert len(arcs(block)) == MAX_STATIC_ARCS
    assert f"holds the {MAX_STATIC_ARCS} strongest of the {len(edges)} edges" in block


def test_no_graph_draws_only_the_note():
    block = static_html(None, note="Computing the first graph…")
    assert "Computing the first graph…" in block and "<svg" not in block


def test_numerical_noise_is_not_drawn_and_the_drawing_says_so():
    g = graph()
    g.stats["noise_floor"] = 0.2
    block = static_html(g, top_k=None)
    assert len(arcs(block)) == 3, "0.5, -0.75 and 0.25 reach the floor"
    assert "not drawn: |effect| &lt; 0.2, numerical noise (2 edges)" in block
    g.stats["noise_floor"] = 1.0
    block = static_html(g, top_k=None)
    assert not arcs(block) and "No edge changes the metric measurably (all |effect| &lt; 1)" in block
