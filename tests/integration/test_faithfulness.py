"""Faithfulness curves: every kept set measured in a batch equals the one-set-per-pass reference, on five
architectures, and the curve's identities hold (everything kept, nothing kept, all but one edge kept)."""

from __future__ import annotations

import math

import pytest

from infoflow_widget import Bisect, Corrupt, Dampen, FlowEngine, InfoFlowError, Knockout, LogitDiff, Zero
from infoflow_widget.analysis.faithfulness import default_ks, faithfulness
from infoflow_widget.engine.reference import reference_effects
from infoflow_widget.graph.faithfulness import Faithfulness
from infoflow_widget.interventions.edges import EdgeSet

PROMPT = "when mary and john went to the store , john gave a book to"
CORRUPTED = "when felix and sarah went to the store , diego gave a book to"
METRIC = LogitDiff("mary", "john")
N = 14
EVERY = frozenset((j, i) for i in range(N) for j in range(i + 1))


def kept_pairs(graph, k):
    """The token edges of the graph's k strongest edges (by |effect|, ties by index), as the curve keeps them."""
    order = sorted(range(len(graph.edges)), key=lambda e: (-abs(graph.edges[e].effect), e))[:k]
    pairs = set()
    for e in order:
        sources, targets = graph.positions(graph.edges[e])
        pairs |= {(j, i) for i in targets for j in sources if j <= i}
    return frozenset(pairs)


@pytest.mark.parametrize("intervention", [Zero(), Knockout(), Corrupt(CORRUPTED)], ids=["zero", "knockout", "corrupt"])
def test_each_point_equals_the_reference_with_the_same_kept_set(tiny_model, intervention):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, intervention, progress=False)
    graph = engine.graph()
    result = faithfulness(engine, graph, ks=[1, 3, 20], random=2)
    sets = [EVERY, *(EVERY - kept_pairs(graph, k) for k in (1, 3, 20)), *(kept_pairs(graph, k) for k in (1, 3, 20))]
    clean, reference = reference_effects(tiny_model, PROMPT, METRIC, intervention, [EdgeSet(s) for s in sets])
    assert result.clean_metric == pytest.approx(clean, abs=1e-5)
    assert result.baseline == pytest.approx(clean - reference[0], abs=1e-4)
    assert [p.metric for p in result.curve[1:]] == pytest.approx([clean - e for e in reference[1:4]], abs=1e-4)
    assert [p.metric for p in result.necessity] == pytest.approx([clean - e for e in reference[4:]], abs=1e-4)
    gap = reference[0]
    assert [p.faithfulness for p in result.curve[1:]] == pytest.approx(
        [(gap - e) / gap for e in reference[1:4]], abs=1e-3
    )
    assert [r.k for r in result.random] == [1, 3, 20] and all(r.draws == 2 for r in result.random)


def test_the_identities_of_the_curve(tiny_model):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False)
    graph = engine.graph()
    edges = len(graph.edges)
    result = faithfulness(engine, graph, ks=[edges - 1, edges], random=0, necessity=False)
    weakest = min(graph.edges, key=lambda e: abs(e.effect))
    all_but_one, everything = result.curve[1:]
    assert result.clean_metric - all_but_one.metric == pytest.approx(weakest.effect, abs=1e-4)
    assert everything.metric == result.clean_metric and everything.faithfulness == 1.0
    assert result.curve[0].k == 0 and result.curve[0].faithfulness == 0.0
    assert result.curve[0].metric == result.baseline
    assert result.cpr == pytest.approx(
        (1 - 1 / edges) * all_but_one.faithfulness / 2 + (1 / edges) * (all_but_one.faithfulness + 1) / 2
    )


def test_span_edges_keep_every_token_edge_between_their_spans(tiny_model):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Knockout(), progress=False)
    graph = engine.graph(Bisect(threshold=0.0, min_size=4))
    assert any(graph.nodes[e.source].end - graph.nodes[e.source].start > 1 for e in graph.edges)
    result = faithfulness(engine, graph, ks=[2], random=0, necessity=False)
    kept = kept_pairs(graph, 2)
    _, reference = reference_effects(tiny_model, PROMPT, METRIC, Knockout(), [EdgeSet(EVERY - kept)])
    assert result.curve[1].metric == pytest.approx(result.clean_metric - reference[0], abs=1e-4)
    spans = result.curve[1].kept
    assert all(isinstance(s, tuple) and len(s) == 2 for pair in spans for s in pair)


def test_another_ablation_and_the_signed_ranking(tiny_model):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False)
    graph = engine.graph()
    dampened = faithfulness(engine, graph, ks=[2], ablation=Dampen(0.5), random=0, ranking="signed")
    helpful = sorted(graph.edges, key=lambda e: -e.effect)[:2]
    assert [graph.positions(e) for e in helpful] == [
        ([s[0]], [t[0]]) for s, t in ((a, b) for a, b in dampened.curve[1].kept)
    ]
    assert dampened.provenance["ablation"] == {"kind": "dampen", "alpha": 0.5}
    assert dampened.provenance["ranking"] == "signed"


def test_default_ks_are_the_first_few_and_mibs_fractions():
    assert default_ks(105) == [1, 2, 3, 5, 10, 21, 52, 105]  # round() halves to even: 10.5 -> 10, 52.5 -> 52
    assert default_ks(4) == [1, 2, 3, 4]
    assert default_ks(5000)[:7] == [1, 2, 3, 5, 10, 25, 50]


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"ks": [0]}, "ks must be whole numbers from 1"),
        ({"ks": [-1]}, "ks must be whole numbers from 1"),
        ({"ks": [1.5]}, "ks must be whole numbers from 1"),
        ({"ks": [10**6]}, "ks must be whole numbers from 1"),
        ({"ks": []}, "ks must be whole numbers from 1"),
        ({"random": -1}, "random must be a whole number"),
        ({"ranking": "loud"}, "ranking must be one of"),
        ({"ablation": "zero"}, "ablation must be an intervention"),
        ({"ablation": Corrupt("when felix went to the store")}, "same number of tokens|token"),
    ],
)
def test_bad_input_fails_before_any_forward_pass(tiny_model, kwargs, message):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False)
    graph = engine.graph()
    passes = engine.forward_passes
    with pytest.raises(InfoFlowError, match=message):
        faithfulness(engine, graph, **kwargs)
    assert engine.forward_passes == passes


def test_an_empty_graph_and_a_graph_of_another_prompt_are_refused(tiny_model):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False)
    graph = engine.graph()
    with pytest.raises(InfoFlowError, match="no edges"):
        faithfulness(engine, graph.filter(1e9))
    other = FlowEngine(tiny_model, "when john and mary went to the store", METRIC, Zero(), progress=False)
    with pytest.raises(InfoFlowError, match="another prompt"):
        faithfulness(other, graph)


def test_saves_and_loads_as_json_and_csv(tiny_model, tmp_path):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False)
    result = faithfulness(engine, engine.graph(), ks=[1, 2], random=3)
    assert Faithfulness.load(result.save(tmp_path / "f.json")) == result
    table = result.to_pandas()
    assert list(table["k"]) == [0, 1, 2] and not math.isnan(table["random_mean"].iloc[1])
    assert result.save(tmp_path / "f.csv").read_text().startswith("k,fraction,metric,faithfulness")
    data = result.to_dict()
    assert data["curve"][1]["kept"] == [list(p) for p in [(s[0], t[0]) for s, t in result.curve[1].kept]]
    assert {"cpr", "cmd", "baseline", "clean_metric", "random", "necessity"} <= data.keys()
    assert len(result.plot().data) == 4
    with pytest.raises(InfoFlowError, match="curve\\[1\\].k"):
        Faithfulness.from_dict({**data, "curve": [data["curve"][0], {**data["curve"][1], "k": -1}]})
