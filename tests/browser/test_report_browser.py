"""In Chromium: the report of FlowGraph.save(".html") is the widget's page, its arcs drawn by the front end, offline."""

from __future__ import annotations

import pytest

pytest.importorskip("playwright")
pytestmark = pytest.mark.browser


def test_saved_report_draws_with_the_front_end_offline(page, tmp_path):
    from conftest import make_tiny

    from infoflow_widget import compute_flow

    graph = compute_flow(make_tiny("llama"), "when mary and john went to the store , john gave a book to",
                         answer="mary", distractor="john", progress=False)  # fmt: skip
    path = graph.save(tmp_path / "report.html", top_k=4)
    errors, requests = [], []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.locator(".if-arc").first.wait_for(timeout=10_000)
    assert page.locator(".if-root .if-arc").count() == 4
    assert page.locator(".if-token").count() == 14
    strongest = graph.top(1).edges[0]
    rank_one = page.locator(".if-arc[data-rank='1']")
    assert rank_one.get_attribute("data-source") == graph.nodes[strongest.source].label
    assert page.locator(".js-plotly-plot").count() == 1, "the heatmap"
    assert page.locator("table tr").count() == 5  # the head and the four strongest
    page.locator("input[data-trait='top_k']").fill("2")
    page.locator("input[data-trait='top_k']").dispatch_event("change")
    assert page.locator(".if-root .if-arc").count() == 2
    assert errors == []
    assert all(url.startswith(("file:", "blob:", "data:")) for url in requests), requests
