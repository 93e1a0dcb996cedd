"""Auto-Corrupt on the write-up's IOI case and a second IOI template, on SmolLM2-135M and Gemma 3 270M.

``Corrupt.auto(n=4, seed=0)``: the mean over four generated corrupted prompts (the names replaced, ABB -> CDD).
Both prompts are checked against the case's expectations (cases/ioi.json), exactly as tests/acceptance/test_ioi.py
checks the Zero graph: every expected edge, with its sign, within its rank. The second template is one written here,
with the same roles in another order of words: its expectations are the case's, unchanged.

The write-up's hemorrhage edges, When -> Mary and When -> and, carry nothing under auto-Corrupt: "When" is kept in
every corrupted prompt, and its keys and values depend only on the tokens up to it, so corrupting it changes nothing.
"""

from __future__ import annotations

import pytest

from infoflow_widget import Corrupt, FlowEngine, LogitDiff

pytestmark = pytest.mark.slow

SECOND_TEMPLATE = {
    "name": "ioi-then-argument",
    "prompt": "Then, Anna and Tom had a long argument. Afterwards Tom said to",
    "answer": " Anna",
    "distractor": " Tom",
}
"""Another IOI template: the names after a comma, a sentence between, the subject repeated after "Afterwards"."""


def roles(tokens: list[str], case: dict) -> dict[str, int]:
    """The IOI roles located in the tokenization (Gemma's <bos> shifts every position)."""
    answer, subject = case["answer"], case["distractor"]
    s1 = tokens.index(subject)
    return {
        "IO": tokens.index(answer),
        "IO+1": tokens.index(answer) + 1,
        "S1": s1,
        "S1+1": s1 + 1,
        "S2": tokens.index(subject, s1 + 1),
        "END": len(tokens) - 1,
    }


@pytest.fixture(scope="module", params=["smollm", "gemma"])
def model(request):
    return request.getfixturevalue(request.param)


@pytest.fixture(scope="module", params=["standard", "second-template"])
def case(request, ioi_case):
    return ioi_case if request.param == "standard" else SECOND_TEMPLATE


@pytest.fixture(scope="module")
def graph(model, case):
    metric = LogitDiff(case["answer"], case["distractor"])
    return FlowEngine(model, case["prompt"], metric, Corrupt.auto(n=4, seed=0), progress=False).graph()


def test_the_graph_is_the_mean_over_four_name_corruptions(graph, case):
    corruption = graph.provenance["corruption"]
    assert len(set(corruption["prompts"])) == 4 and corruption["kinds"] == ["name", "number"]
    assert corruption["unreplaceable"] == []
    for changes in corruption["changes"]:  # the three name positions, nothing else
        role = roles(graph.tokens, case)
        assert sorted(c["position"] for c in changes) == sorted([role["IO"], role["S1"], role["S2"]])
    assert all(e.effect_std is not None for e in graph.edges)


@pytest.mark.parametrize("bucket", ["in_top_10_by_abs_effect", "in_top_15_by_abs_effect"])
def test_expected_edges_with_sign_and_rank(graph, case, ioi_case, bucket):
    limit = int(bucket.split("_")[2])
    role = roles(graph.tokens, case)
    ranked = [(e.source, e.target, e.effect) for e in graph.ranked()][:limit]
    for expected in ioi_case["expected_with_zero_pattern_on_smollm2_135m"][bucket]:
        found = [eff for s, t, eff in ranked if (s, t) == (role[expected["source"]], role[expected["target"]])]
        assert found, f"{expected} not in the top {limit}"
        assert (found[0] > 0) == (expected["sign"] == "+"), f"{expected} has the wrong sign: {found[0]}"


def test_the_hemorrhage_edges_vanish(graph, case):
    """When -> Mary and When -> and (the write-up's hemorrhage under Zero) are numerical zeros, in every sample."""
    role = roles(graph.tokens, case)
    first = graph.tokens.index("When" if case is not SECOND_TEMPLATE else "Then")
    edges = {(e.source, e.target): e for e in graph.edges}
    for target in ("IO", "IO+1"):
        edge = edges[(first, role[target])]
        assert abs(edge.effect) < graph.stats["noise_floor"] and edge.effect_std < graph.stats["noise_floor"], edge
    # Every edge out of a position before the first name: kept tokens, whose keys and values do not change.
    assert all(abs(e.effect) < graph.stats["noise_floor"] for e in graph.edges if e.source < role["IO"])
