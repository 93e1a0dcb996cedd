"""The static HTML report: geometry helpers, the SVG arc diagram, and the page."""

from __future__ import annotations

import re

import pytest

from infoflow_widget.errors import InfoFlowError
from infoflow_widget.graph import Edge, FlowGraph, Node
from infoflow_widget.report import (
    GREEN,
    RED,
    arc_height,
    arc_path,
    arc_svg,
    describe,
    edge_colour,
    loop_path,
    node_centre,
    stack_rows,
    stroke_style,
    to_html,
    token_layout,
    visible,
)

TOKENS = ["The", " cat", "\n", "<b>"]


def graph() -> FlowGraph:
    return FlowGraph(
        tokens=list(TOKENS),
        nodes=[Node(i, i + 1) for i in range(4)] + [Node(0, 2)],
        edges=[Edge(0, 1, 0.5), Edge(1, 3, -0.75), Edge(2, 2, 0.25), Edge(4, 3, 0.1, level=1), Edge(0, 2, -0.05)],
        clean_metric=3.25,
        provenance={
            "model": "tiny-model",
            "prompt": "The cat\n<b>",
            "intervention": {"kind": "dampen", "alpha": 0.5},
            "metric": "logit diff",
            "layers": [0, 1],
        },
        stats={"forward_passes": 7, "seconds": 0.5},
    )


def arcs(svg: str) -> list[str]:
    return re.findall(r'<path class="arc[^"]*"[^>]*>', svg)


def stroke_width(arc: str) -> float:
    return float(re.search(r'stroke-width="([\d.]+)"', arc).group(1))


# --- pure helpers ---------------------------------------------------------------------------------


def test_visible_marks_whitespace():
    assert visible(" a\nb\tc") == "·a↵b⇥c"
    assert visible("plain") == "plain"


def test_describe_formats_provenance_values():
    assert describe({"kind": "dampen", "alpha": 0.5}) == "dampen(alpha=0.5)"
    assert describe({"kind": "zero"}) == "zero"
    assert describe("logit diff") == "logit diff"
    assert describe(None) == ""


def test_token_layout_boxes_are_ordered_and_disjoint():
    boxes = token_layout(["a", "a much longer token than the cap", ""])
    assert all(w > 0 for _, w in boxes)
    assert all(x1 + w1 <= x2 for (x1, w1), (x2, _) in zip(boxes, boxes[1:], strict=False))
    assert boxes[1][1] > boxes[0][1]  # longer text, wider box
    assert boxes[1][1] == token_layout(["x" * 100])[0][1]  # but capped


def test_node_centre_of_a_span_lies_between_its_tokens():
    boxes = token_layout(TOKENS)
    first, second = node_centre(boxes, Node(0, 1)), node_centre(boxes, Node(1, 2))
    span = node_centre(boxes, Node(0, 2))
    assert first < span < second
    assert span == pytest.approx((boxes[0][0] + boxes[1][0] + boxes[1][1]) / 2)


def test_arc_path_rises_to_height_above_baseline():
    d = arc_path(10, 110, 30, baseline=100)
    numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*", d)]
    assert d.startswith("M") and " C " in d
    assert numbers[:2] == [10, 100] and numbers[-2:] == [110, 100]
    # both control points sit at baseline - 4/3 * height, so the curve's apex is exactly `height` up
    assert numbers[3] == numbers[5] == pytest.approx(100 - 40, abs=0.05)
    assert all(y < 100 for y in (numbers[3], numbers[5])), "arcs go above the strip (smaller y)"


def test_arc_height_grows_with_distance_and_is_capped():
    assert arc_height(0, 10) < arc_height(0, 100) < arc_height(0, 200)
    assert arc_height(0, 100) == arc_height(100, 0)
    assert arc_height(0, 1e6, max_height=50) == 50


def test_loop_path_stays_near_its_node():
    d = loop_path(50, radius=10, baseline=80)
    numbers = [float(v) for v in re.findall(r"-?\d+\.?\d*", d)]
    xs, ys = numbers[0::2], numbers[1::2]
    assert all(35 <= x <= 65 for x in xs)
    assert ys[0] == ys[-1] == 80 and min(ys) == 60


def test_stroke_style_grows_with_share_of_max():
    weak, strong = stroke_style(0.1, 1.0), stroke_style(-1.0, 1.0)
    assert weak[0] < strong[0] and weak[1] < strong[1]
    assert strong[1] == 1.0
    assert stroke_style(0.0, 0.0) == stroke_style(0.0, 1.0)  # no division by zero


def test_edge_colour_by_sign():
    assert edge_colour(0.3) == GREEN == "#1a9850"
    assert edge_colour(-0.3) == RED == "#d73027"


def test_stack_rows_separates_overlapping_spans():
    assert stack_rows([(0, 10), (10, 20), (5, 15), (0, 30)]) == [0, 0, 1, 2]
    assert stack_rows([]) == []


# --- arc diagram ----------------------------------------------------------------------------------


@pytest.mark.parametrize("top_k", [0, 1, 3, 5])
def test_arc_count_equals_top_k(top_k):
    assert len(arcs(arc_svg(graph(), top_k))) == top_k


def test_arc_count_is_capped_by_edges():
    assert len(arcs(arc_svg(graph(), 50))) == 5


def test_arcs_are_coloured_by_sign_and_widened_by_effect():
    found = {
        re.search(r"<title>(.*?)</title>", m).group(1): m
        for m in re.findall(r'<path class="arc.*?</path>', arc_svg(graph(), 5))
    }
    strongest = found["·cat -&gt; &lt;b&gt;: -0.75"]
    assert f'stroke="{RED}"' in strongest and "arrow-neg" in strongest
    helps = found["The -&gt; ·cat: +0.5"]
    assert f'stroke="{GREEN}"' in helps and "arrow-pos" in helps
    assert f'stroke="{RED}"' in found["The -&gt; ↵: -0.05"]
    assert stroke_width(strongest) > stroke_width(helps) > stroke_width(found["The -&gt; ↵: -0.05"])


def test_arcs_are_drawn_weakest_first():
    widths = [stroke_width(a) for a in arcs(arc_svg(graph(), 5))]
    assert widths == sorted(widths)


def test_self_edge_is_a_loop_and_arrows_have_markers():
    svg = arc_svg(graph(), 5)
    loops = re.findall(r'<path class="arc loop"', svg)
    assert len(loops) == 1
    assert 'id="arrow-pos"' in svg and 'id="arrow-neg"' in svg
    assert all("marker-end=" in a for a in arcs(svg))


def test_span_nodes_get_a_labelled_bracket():
    svg = arc_svg(graph(), 5)
    assert svg.count('<g class="span">') == 1
    assert ">0:2</text>" in svg


def test_token_text_is_escaped_and_whitespace_visible():
    svg = arc_svg(graph(), 5)
    assert "<b>" not in svg and "&lt;b&gt;" in svg
    assert ">·cat</text>" in svg and ">↵</text>" in svg
    assert "\n</text>" not in svg


def test_non_finite_effects_are_not_drawn():
    g = graph()
    g.edges.append(Edge(0, 3, float("inf")))
    g.edges.append(Edge(0, 3, float("nan")))
    svg = arc_svg(g, 10)
    assert len(arcs(svg)) == 5
    assert "inf" not in svg and "nan" not in svg


def test_negative_top_k_raises():
    with pytest.raises(InfoFlowError, match="top_k"):
        arc_svg(graph(), -1)
    with pytest.raises(InfoFlowError, match="top_k"):
        to_html(graph(), top_k=-2)


# --- page -----------------------------------------------------------------------------------------


def test_page_has_all_parts_and_is_offline():
    page = to_html(graph(), top_k=3)
    assert page.startswith("<!DOCTYPE html>")
    assert "Information-flow graph — tiny-model" in page
    assert "dampen(alpha=0.5)" in page and "logit diff" in page and "3.25" in page
    assert "<pre>The cat\n&lt;b&gt;</pre>" in page  # the prompt, escaped
    assert "forward_passes" in page
    assert "helps" in page and "hurts" in page  # legend
    assert "Plotly.newPlot" in page  # the heatmap, with plotly.js inline
    assert len(arcs(page)) == 3
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", page)


def test_page_table_lists_top_edges_in_rank_order():
    page = to_html(graph(), top_k=2)
    table = page[page.index("<table>") :]
    rows = re.findall(r"<tr><td[^>]*>(\d+)</td><td>(.*?)</td><td>(.*?)</td><td[^>]*>(.*?)</td></tr>", table)
    assert rows == [("1", "1:2 ·cat", "3:4 &lt;b&gt;", "-0.75"), ("2", "0:1 The", "1:2 ·cat", "+0.5")]


def test_page_is_written_atomically_when_a_path_is_given(tmp_path):
    path = tmp_path / "report.html"
    page = to_html(graph(), path)
    assert path.read_text(encoding="utf-8") == page
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]
