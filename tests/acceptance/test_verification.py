"""Adaptive verification on SmolLM2-135M: ``AttributionThenExact(k="auto")`` holds the exact top 10, or says it may not.

Zero's first-order estimates miss some strong edges entirely (an edge estimated near 0 whose exact effect is in
the top 10: benchmarks/README.md, section 10), so no rule that trusts the estimates can promise the top 10 while
verifying few edges. What it must do: verify the edges that carry the most attention early (their estimates err
most), and report in ``stats["verification"]["at_risk"]`` how many unverified estimates could still enter the top.
"""

from __future__ import annotations

import pytest

from infoflow_widget import AttributionThenExact, LogitDiff, Zero, compute_flow
from infoflow_widget.graph.flowgraph import strongest

pytestmark = pytest.mark.slow

PROMPTS = [
    ("When Mary and John went to the store, John gave a book to", " Mary", " John"),
    ("Then, Lisa and Kevin had a long argument. Afterwards, Kevin said to", " Lisa", " Kevin"),
]


@pytest.mark.parametrize(("prompt", "answer", "distractor"), PROMPTS)
def test_auto_verification_holds_the_exact_top_10_or_says_it_may_not(smollm, prompt, answer, distractor):
    metric = LogitDiff(answer, distractor)
    full = compute_flow(smollm, prompt, metric, Zero(), progress=False)
    graph = compute_flow(smollm, prompt, metric, Zero(), strategy=AttributionThenExact(k="auto"), progress=False)
    report = graph.stats["verification"]
    exact_top = {(full.edges[k].source, full.edges[k].target) for k in strongest([e.effect for e in full.edges], 10)}
    shown_top = {(graph.edges[k].source, graph.edges[k].target) for k in strongest([e.effect for e in graph.edges], 10)}
    verified = sum(edge.exact for edge in graph.edges)
    assert report["verified"] == verified <= 0.6 * len(graph.edges), report
    assert exact_top == shown_top or report["at_risk"] > 0, report
    # measured: both hold the exact top 10 (60 of 105 and 50 of 120 verified) and still say 45 and 65 are at risk
    assert exact_top == shown_top
