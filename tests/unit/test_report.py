"""The static HTML report: the widget's offline page (its front end draws the arcs), the heatmap and the table.

The drawing itself is the front end's (js/ tests, and tests/browser/test_report_browser.py in Chromium);
here: the page holds the bundle and the graph's state, the heatmap, the table, and needs no network.
"""

from __future__ import annotations

import json
import math
import re

import pytest

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.core.style import STATIC
from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node
from infoflow_widget.interventions.registry import intervention_menu
from infoflow_widget.widget.page import SAVED_STATUS
from infoflow_widget.widget.report import to_html

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
            "strategy": {"name": "bisect", "threshold": 0.01},
            "layers": [0, 1],
        },
        stats={"forward_passes": 7, "seconds": 0.5},
    )


def state_of(page: str) -> dict:
    return json.loads(re.search(r"const state = (.*);\n", page).group(1))


def test_the_page_is_the_widgets_offline_page_drawing_the_graph():
    page = to_html(graph(), top_k=3)
    assert page.lower().startswith("<!doctype html>")
    source = json.loads(re.search(r"const source = (.*);\n", page).group(1))
    assert source == (STATIC / "widget.js").read_text(encoding="utf-8"), "the front-end bundle, inline"
    assert (STATIC / "widget.css").read_text(encoding="utf-8") in page
    state = state_of(page)
    assert state["graph"] == graph().to_dict() and state["tokens"] == TOKENS
    assert state["top_k"] == 3 and state["threshold"] == 0.0, "the front end draws the three strongest"
    assert (state["intervention"], state["alpha"], state["strategy"]) == ("dampen", 0.5, "bisect")
    assert {entry["name"] for entry in state["strategies"]} >= {"full", "bisect"}
    assert state["interventions"] == intervention_menu(), "the page's intervention menu, as the widget sends it"
    assert state["status"] == SAVED_STATUS and state["computing"] is False
    assert page.index('<div id="infoflow">') < page.index("Effect matrix") < page.index("<table>")


def test_the_page_has_the_details_heatmap_and_table():
    page = to_html(graph(), top_k=3)
    assert "Information-flow graph — tiny-model" in page
    assert "dampen(alpha=0.5)" in page and "logit diff" in page and "3.25" in page
    assert "<pre>The cat\n&lt;b&gt;</pre>" in page  # the prompt, escaped
    assert "forward_passes" in page and "<h2>Top 3 edges</h2>" in page
    assert "Plotly.newPlot" in page  # the heatmap, with plotly.js inline
    table = page[page.index("<table>") :]
    rows = re.findall(r"<tr><td[^>]*>(\d+)</td><td>(.*?)</td><td>(.*?)</td><td[^>]*>(.*?)</td></tr>", table)
    assert rows == [
        ("1", "1:2 ·cat", "3:4 &lt;b&gt;", "-0.75"),
        ("2", "0:1 The", "1:2 ·cat", "+0.5"),
        ("3", "2:3 ↵", "2:3 ↵", "+0.25"),
    ]


def test_the_page_works_offline():
    page = to_html(graph(), top_k=3)
    assert not re.search(r"<script[^>]*\bsrc\s*=", page)
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", page)
    scripts = re.findall(r"<script\b", page)
    assert page.count("</script>") == len(scripts), "the inlined bundle and state cannot close their script early"


def test_text_that_looks_like_markup_stays_inside_the_state():
    g = graph()
    g.tokens[3] = "</script><script>alert(1)</script>"
    page = to_html(g, top_k=3)
    assert "<script>alert(1)" not in page and page.count("</script>") == len(re.findall(r"<script\b", page))
    assert state_of(page)["tokens"][3] == g.tokens[3]


def test_non_finite_effects_travel_as_strings():
    g = graph()
    g.edges.append(Edge(0, 3, math.nan))
    g.edges.append(Edge(1, 2, math.inf))
    effects = [edge["effect"] for edge in state_of(to_html(g, top_k=10))["graph"]["edges"]]
    assert effects[-2:] == ["NaN", "Infinity"]


def test_top_k_must_be_a_whole_number():
    for bad in (-2, True, 2.5, "3"):
        with pytest.raises(InfoFlowError, match="top_k"):
            to_html(graph(), top_k=bad)


def test_the_page_is_written_atomically_when_a_path_is_given(tmp_path):
    path = tmp_path / "report.html"
    page = to_html(graph(), path)
    assert path.read_text(encoding="utf-8") == page
    assert [p.name for p in tmp_path.iterdir()] == ["report.html"]


def test_flowgraph_save_writes_the_report(tmp_path):
    path = graph().save(tmp_path / "g.html", top_k=2)
    state = state_of(path.read_text(encoding="utf-8"))
    assert state["top_k"] == 2 and state["graph"]["tokens"] == TOKENS
