"""Consensus across interventions: compare_interventions, Comparison, the widget entry."""

from __future__ import annotations

import math

import pandas as pd
import pytest

import infoflow_widget.engine.engine as engine_module
from infoflow_widget import (
    Backtrack,
    Comparison,
    Corrupt,
    Crop,
    Dampen,
    FlowEngine,
    InfoFlowError,
    Knockout,
    LogitDiff,
    Zero,
    compare_interventions,
    compute_flow,
)
from infoflow_widget.analysis.consensus import SIGN_RULE, compare_on, labels_of, sign_agreement, span_key
from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node

PROMPT = "when mary and john went to the store , john gave a book to"
CORRUPTED = "when felix and sarah went to the store , diego gave a book to"
METRIC = LogitDiff("mary", "john")
ARCHITECTURES = ["gpt2", "gemma3"]  # absolute positions and a plain softmax; sliding windows, GQA, soft-capping kept
INTERVENTIONS = [Zero(), Dampen(0.5), Knockout(), Corrupt(CORRUPTED)]
LABELS = ["zero", "dampen(alpha=0.5)", "knockout", "corrupt"]


@pytest.fixture(scope="module", params=ARCHITECTURES)
def tiny(request):
    from conftest import make_tiny

    return make_tiny(request.param)


@pytest.fixture(scope="module")
def comparison(tiny):
    return compare_interventions(tiny, PROMPT, METRIC, INTERVENTIONS, progress=False)


def independent_agreement(effects, floors):
    """The sign rule, written again: effects below the floor (or zero, or NaN) are left out; the rest share a sign."""
    kept = [e for e, f in zip(effects, floors) if not math.isnan(e) and abs(e) >= f and e != 0]
    return all(e > 0 for e in kept) or all(e < 0 for e in kept)


# --- the table ----------------------------------------------------------------------------------------------------


def test_every_column_is_the_single_interventions_graph_exactly(tiny, comparison):
    table = comparison.to_pandas()
    assert comparison.labels == LABELS and len(table) == 105
    for label, intervention in zip(LABELS, INTERVENTIONS):
        single = compute_flow(tiny, PROMPT, METRIC, intervention, progress=False)
        expected = single.to_pandas().set_index(["source_span", "target_span"])
        got = table.set_index(["source_span", "target_span"]).loc[expected.index]
        assert got[f"effect_{label}"].tolist() == expected["effect"].tolist(), f"{label}: the same numbers"
        assert got[f"rank_{label}"].tolist() == expected["rank"].tolist(), f"{label}: the same ranks"
    assert set(table.columns) >= {"source_text", "target_text", "signs_agree", "n_agree", "n_signed", "flags"}


def test_one_clean_run_serves_every_intervention(tiny, monkeypatch):
    runs = []
    real = FlowEngine._clean_run
    monkeypatch.setattr(FlowEngine, "_clean_run", lambda engine: runs.append(1) or real(engine))
    compare_interventions(tiny, PROMPT, METRIC, ["zero", "dampen", "knockout"], progress=False)
    assert len(runs) == 1


def test_signs_agree_follows_the_rule(comparison):
    table = comparison.to_pandas()
    floors = [g.stats["noise_floor"] for g in comparison.graphs.values()]
    assert floors[0] > 0
    for _, row in table.iterrows():
        effects = [row[f"effect_{label}"] for label in LABELS]
        assert row["signs_agree"] == independent_agreement(effects, floors), row.to_dict()
        signed = [e for e, f in zip(effects, floors) if abs(e) >= f and e != 0]
        assert row["n_signed"] == len(signed)
        assert row["n_agree"] == max(sum(e > 0 for e in signed), sum(e < 0 for e in signed))
        assert ("inconsistent" in row["flags"].split(",")) == (not row["signs_agree"])
    assert (~table["signs_agree"]).any() and table["signs_agree"].any(), "the tiny models have both kinds"


def test_flags_are_the_union_over_the_interventions(comparison):
    table = comparison.to_pandas().set_index(["source_span", "target_span"])
    for graph in comparison.graphs.values():
        for edge in graph.edges:
            s, t = span_key(graph, edge)
            listed = table.loc[(f"{s[0]}:{s[1]}", f"{t[0]}:{t[1]}"), "flags"].split(",")
            assert set(edge.flags) <= set(listed)


def test_the_consensus_graph_flags_exactly_the_disagreeing_edges(comparison, tiny):
    reference = comparison.graphs["zero"]
    floors = [g.stats["noise_floor"] for g in comparison.graphs.values()]
    graph = comparison.consensus()
    assert [(e.source, e.target, e.effect, e.damage) for e in graph.edges] == [
        (e.source, e.target, e.effect, e.damage) for e in reference.edges
    ], "the reference's edges and numbers"
    flagged = 0
    for edge, original in zip(graph.edges, reference.edges):
        key = span_key(graph, edge)
        effects = [next(e.effect for e in g.edges if span_key(g, e) == key) for g in comparison.graphs.values()]
        disagree = not independent_agreement(effects, floors)
        assert ("inconsistent" in edge.flags) == disagree
        assert set(edge.flags) - {"inconsistent"} == set(original.flags), "its other flags kept"
        flagged += disagree
    assert flagged > 0
    consensus = graph.provenance["consensus"]
    assert consensus["labels"] == LABELS and consensus["reference"] == "zero" and consensus["rule"] == SIGN_RULE
    assert consensus["interventions"][1] == {"kind": "dampen", "alpha": 0.5} and consensus["inconsistent"] == flagged
    assert graph.provenance["intervention"] == {"kind": "zero"} and "consensus" in graph.provenance["intervention_text"]
    assert graph.stats["forward_passes"] == sum(g.stats["forward_passes"] for g in comparison.graphs.values())
    assert FlowGraph.from_dict(graph.to_dict()).provenance == graph.provenance, "saves and loads as a graph"
    reference = FlowEngine(tiny, PROMPT, METRIC, Zero(), progress=False)
    assert reference.expand(graph, graph.edges[0]).edges, "an engine of the reference intervention measures it"


def test_another_reference_by_label_or_index(comparison):
    by_label = comparison.consensus("knockout")
    by_index = comparison.consensus(2)
    assert [e.effect for e in by_label.edges] == [e.effect for e in comparison.graphs["knockout"].edges]
    assert [e.flags for e in by_label.edges] == [e.flags for e in by_index.edges]
    assert by_label.provenance["consensus"]["reference"] == "knockout"
    for bad in ("crop", 4, True, None):
        with pytest.raises(InfoFlowError, match="reference must be"):
            comparison.consensus(bad)


@pytest.mark.filterwarnings("ignore:backtrack. no edge of the first level")  # Dampen(0.9) stops at the first level
def test_search_strategies_align_by_span_with_nan_where_unmeasured(tiny):
    comparison = compare_interventions(
        tiny, PROMPT, METRIC, [Zero(), Dampen(0.9)], strategy=Backtrack(threshold=0.004), progress=False
    )
    graphs = list(comparison.graphs.values())
    keys = [{span_key(g, e) for e in g.edges} for g in graphs]
    table = comparison.to_pandas()
    assert len(table) == len(keys[0] | keys[1])
    assert keys[0] != keys[1], "the threshold prunes differently under each intervention"
    for _, row in table.iterrows():
        s, t = (tuple(map(int, row[c].split(":"))) for c in ("source_span", "target_span"))
        for label, found in zip(comparison.labels, keys):
            assert math.isnan(row[f"effect_{label}"]) == ((s, t) not in found)
            assert (row[f"rank_{label}"] is pd.NA) == ((s, t) not in found)
    graph = comparison.consensus()
    assert len(graph.edges) == len(graphs[0].edges)


# --- the rule on hand-made graphs ------------------------------------------------------------------------------------


def hand_graph(effects, floor=0.01):
    """Three tokens, edges 0->1, 1->2, 0->2 with the given effects."""
    nodes = [Node(i, i + 1) for i in range(3)]
    pairs = [(0, 1), (1, 2), (0, 2)]
    edges = [Edge(s, t, e) for (s, t), e in zip(pairs, effects)]
    return FlowGraph(["a", "b", "c"], nodes, edges, 1.0, {"intervention": {"kind": "zero"}}, {"noise_floor": floor})


def test_sub_noise_and_unmeasured_effects_neither_agree_nor_disagree():
    a = hand_graph([0.5, 0.5, -0.5])
    b = hand_graph([-0.005, -0.3, math.nan])  # 0->1: below the floor; 0->2: not measured
    comparison = Comparison({"zero": a, "knockout": b})
    table = comparison.to_pandas().set_index(["source_span", "target_span"])
    assert table.loc[("0:1", "1:2"), "signs_agree"] == True  # noqa: E712 - a numpy bool
    assert table.loc[("1:2", "2:3"), "signs_agree"] == False  # noqa: E712
    assert table.loc[("0:1", "2:3"), ["signs_agree", "n_agree", "n_signed"]].tolist() == [True, 1, 1]
    assert table.loc[("0:1", "1:2"), ["n_agree", "n_signed"]].tolist() == [1, 1]
    flags = {(e.source, e.target): e.flags for e in comparison.consensus().edges}
    assert flags == {(0, 1): (), (1, 2): ("inconsistent",), (0, 2): ()}
    assert sign_agreement([0.0, 1.0, -1e-9], [0.0, 0.0, 1e-6]).signs_agree, "zero has no sign"


def test_labels_are_short_and_unique():
    assert labels_of([Zero(), Dampen(0.25), Corrupt(CORRUPTED), Corrupt(PROMPT), Knockout()]) == [
        "zero", "dampen(alpha=0.25)", "corrupt", "corrupt#2", "knockout",
    ]  # fmt: skip


# --- bad input, before any work -------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("interventions", "match"),
    [
        (["zero", "zeroo", "dampen", "nope"], r"Unknown intervention name\(s\).*'zeroo', 'nope'.*zero, dampen, crop"),
        (["zero"], "two or more interventions; got 1"),
        ([], "two or more interventions; got 0"),
        ("zero", "must be a list of two or more"),
        (Zero(), "must be a list of two or more"),
        ([Zero(), 3, Dampen], r"\[1\] 3, \[2\] <class"),
        ([Zero(), "zero"], "listed twice"),
        (["corrupt", "zero"], "Corrupt needs a corrupted prompt"),
        (None, "must be a list"),
    ],
)
def test_bad_lists_are_refused_before_any_model_work(monkeypatch, interventions, match):
    def no_work(*args, **kwargs):
        raise AssertionError("model work before the check")

    monkeypatch.setattr(engine_module, "load_model", no_work)
    monkeypatch.setattr(FlowEngine, "__init__", no_work)
    with pytest.raises(InfoFlowError, match=match):
        compare_interventions("smollm2-135m", PROMPT, interventions=interventions, answer=" Mary", distractor=" John")


def test_a_bad_corrupted_prompt_fails_before_any_graph(tiny, monkeypatch):
    graphs = []
    monkeypatch.setattr(FlowEngine, "graph", lambda *args, **kwargs: graphs.append(1))
    with pytest.raises(InfoFlowError, match="same token length|same length"):
        compare_interventions(tiny, PROMPT, METRIC, [Zero(), Corrupt("when felix went")], progress=False)
    assert graphs == []


def test_compare_on_an_engine_derives_every_intervention(tiny):
    engine = FlowEngine(tiny, PROMPT, METRIC, progress=False)
    seen = []
    comparison = compare_on(
        engine, ["zero", Crop()], progress=lambda done, total, desc: seen.append((done, total, desc))
    )
    assert engine.forward_passes == 1 and engine.interventions == 0, "the engine itself measured nothing"
    assert seen[-1][0] == seen[-1][1] == 210 and seen[-1][2].startswith("crop (2 of 2)")
    assert comparison.labels == ["zero", "crop"]


# --- the widget ------------------------------------------------------------------------------------------------------


def test_the_widgets_consensus_choice_shows_a_flagged_consensus_graph(tiny):
    pytest.importorskip("anywidget")
    from infoflow_widget.widget.page import graph_state
    from infoflow_widget.widget.widget import InfoFlowWidget

    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", alpha=0.3)
    try:
        entry = widget.interventions[-1]
        assert entry["name"] == "consensus" and entry["parameters"] == {"alpha": 0.5, "corrupted_prompt": ""}
        assert entry["description"].startswith("Consensus: Zero, Dampen(alpha), Knockout")
        widget.wait(timeout=60)
        widget.intervention = "consensus"
        graph = widget.wait(timeout=60)
        assert widget.error == "" and widget.graph["provenance"]["consensus"]["labels"] == [
            "zero", "dampen(alpha=0.3)", "knockout",
        ]  # fmt: skip
        expected = compare_interventions(tiny, PROMPT, METRIC, [Zero(), Dampen(0.3), Knockout()], progress=False)
        assert [e.flags for e in graph.edges] == [e.flags for e in expected.consensus().edges]
        assert any("inconsistent" in e.flags for e in graph.edges)
        assert any("inconsistent" in e.get("flags", []) for e in widget.graph["edges"]), "synced to the front end"
        # Each intervention's own graph is cached: choosing it alone recomputes nothing.
        widget.intervention = "knockout"
        widget.wait(timeout=60)
        assert widget.status.startswith("cached")
        # A corrupted prompt adds Corrupt to the consensus.
        widget.corrupted_prompt = CORRUPTED
        widget.intervention = "consensus"
        graph = widget.wait(timeout=60)
        assert graph.provenance["consensus"]["labels"][-1] == "corrupt"
        state = graph_state(graph)
        assert state["intervention"] == "consensus" and state["alpha"] == 0.3 and state["corrupted_prompt"] == CORRUPTED
        assert state["interventions"][-1]["name"] == "consensus", "a saved page's menu holds the entry"
    finally:
        widget.close()


def test_the_widget_refuses_a_bad_consensus_in_the_constructor(tiny):
    pytest.importorskip("anywidget")
    from infoflow_widget.widget.widget import InfoFlowWidget

    with pytest.raises(InfoFlowError, match="same length"):
        InfoFlowWidget(
            tiny, PROMPT, answer="mary", distractor="john", intervention="consensus", corrupted_prompt="when"
        )
    with pytest.raises(InfoFlowError, match="must be one of zero, dampen, crop, corrupt, knockout, consensus"):
        InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", intervention="melt")


# --- the IOI case on SmolLM2 -----------------------------------------------------------------------------------------


@pytest.mark.slow
def test_ioi_edges_keep_their_sign_across_interventions(smollm, ioi_case):
    from infoflow_widget.interventions.registry import INTERVENTIONS

    if "knockout" not in INTERVENTIONS:
        pytest.skip("Knockout is not in INTERVENTIONS yet: the IOI consensus compares Zero, Dampen(0.5) and Knockout")
    comparison = compare_interventions(
        smollm,
        ioi_case["prompt"],
        interventions=["zero", Dampen(0.5), "knockout"],
        answer=ioi_case["answer"],
        distractor=ioi_case["distractor"],
        progress=False,
    )
    tokens = comparison.graphs["zero"].tokens
    s1 = tokens.index(ioi_case["distractor"])
    role = {
        "When": tokens.index("When"),
        "IO": tokens.index(ioi_case["answer"]),
        "S1": s1,
        "S2": tokens.index(ioi_case["distractor"], s1 + 1),
        "END": len(tokens) - 1,
    }
    table = comparison.to_pandas()

    def row(source, target):
        span = lambda p: f"{p}:{p + 1}"  # noqa: E731
        found = table[(table.source_span == span(role[source])) & (table.target_span == span(role[target]))]
        assert len(found) == 1
        return found.iloc[0]

    with pd.option_context("display.width", 250, "display.max_columns", 30):
        for source, target in (("IO", "END"), ("S2", "END"), ("S1", "S2"), ("When", "IO")):
            print(f"\n{source} -> {target}\n{row(source, target).to_string()}")
    for source, target in (("IO", "END"), ("S2", "END"), ("S1", "S2")):
        found = row(source, target)
        assert found["signs_agree"] and found["n_agree"] == 3, f"{source} -> {target}: {found.to_dict()}"
        assert all(found[f"effect_{label}"] > 0 for label in comparison.labels), "all helping, as the case expects"
