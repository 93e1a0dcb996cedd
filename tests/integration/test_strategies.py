"""Search strategies measure exactly: every reported span edge is the engine's effect for that pair."""

from __future__ import annotations

import dataclasses
import json
import math
import warnings

import pytest

from infoflow_widget import Dampen, Edge, FlowEngine, FlowGraph, InfoFlowError, LogitDiff, Node
from infoflow_widget.search.strategies import (
    STRATEGIES,
    Backtrack,
    BacktrackBisect,
    Bisect,
    Full,
    SpanPair,
    Split,
    cost_stats,
)

PROMPT = "when mary and john went to the store , john gave a book to"
METRIC = LogitDiff("mary", "john")
N = 14
WORDS_SPLIT = ((",",), ("and", "gave"))  # the tiny vocabulary has no newlines or full stops
ARCHS = ["llama", "gemma3"]


@pytest.fixture(scope="module", params=ARCHS)
def model(request):
    from conftest import make_tiny

    return make_tiny(request.param)


@pytest.fixture(scope="module")
def full(model):
    """The full token graph as {(j, i): effect}."""
    engine = FlowEngine(model, PROMPT, METRIC, progress=False)
    nodes, edges = Full().run(engine)
    return {(nodes[e.source].start, nodes[e.target].start): e.effect for e in edges}


def engine_for(model, **kwargs):
    return FlowEngine(model, PROMPT, METRIC, progress=False, **kwargs)


def run(strategy, model, **kwargs):
    """Run ``strategy``; return the engine, the graph, and the number of engine.effects calls."""
    engine = engine_for(model, **kwargs)
    calls = []
    measure = engine.effects
    engine.effects = lambda groups, desc="edges": calls.append(len(groups)) or measure(groups, desc)
    nodes, edges = strategy.run(engine)
    graph = FlowGraph(engine.tokens, nodes, edges, engine.clean_metric)
    return engine, graph, calls


def span_pairs(graph):
    return [(graph.nodes[e.source], graph.nodes[e.target]) for e in graph.edges]


def middle_threshold(values):
    """A threshold halfway inside the largest gap among the middle |effects|, so float noise cannot flip it."""
    mags = sorted(abs(v) for v in values)
    middle = mags[len(mags) // 4 : 3 * len(mags) // 4 + 1]
    gap, low = max((b - a, a) for a, b in zip(middle, middle[1:]))
    assert gap > 1e-4
    return low + gap / 2


def into_last(full):
    return [v for (_, i), v in full.items() if i == N - 1]


STRATEGY_CASES = {
    "backtrack": lambda t: [Backtrack(), Backtrack(t)],
    "bisect": lambda t: [Bisect(), Bisect(t), Bisect(t, min_size=3)],
    "split": lambda t: [Split(WORDS_SPLIT), Split(WORDS_SPLIT, t), Split(())],
    "backtrack-bisect": lambda t: [BacktrackBisect(), BacktrackBisect(t), BacktrackBisect(t, min_size=3)],
}


@pytest.mark.parametrize("name", list(STRATEGY_CASES))
def test_every_edge_equals_the_engine_for_its_span_pair(model, full, name):
    for strategy in STRATEGY_CASES[name](middle_threshold(into_last(full))):
        _, graph, _ = run(strategy, model)
        pairs = span_pairs(graph)
        assert len(set(pairs)) == len(pairs), "each span pair is measured once"
        for s, t in pairs:
            assert s.start < s.end and t.start < t.end and s.start <= t.start
        groups = [(range(s.start, s.end), range(t.start, t.end)) for s, t in pairs]
        direct = engine_for(model, batch_size=7).effects(groups)  # other batches, other neighbours
        assert [e.effect for e in graph.edges] == pytest.approx(direct, abs=1e-4), strategy
        tokens = [
            (s.start, t.start, e.effect)
            for (s, t), e in zip(pairs, graph.edges)
            if s.end - s.start == 1 == t.end - t.start
        ]
        assert [v for *_, v in tokens] == pytest.approx([full[j, i] for j, i, _ in tokens], abs=1e-4)


def reachable(full, threshold):
    """Positions reachable from the last one along edges with |effect| > threshold, in the full graph."""
    found, todo = {N - 1}, [N - 1]
    while todo:
        i = todo.pop()
        for j in range(i + 1):
            if abs(full[j, i]) > threshold and j not in found:
                found.add(j)
                todo.append(j)
    return found


def test_backtrack_zero_computes_exactly_the_edges_into_reachable_nodes(model, full):
    engine, graph, calls = run(Backtrack(0.0), model)
    expected = {(j, i) for i in reachable(full, 0.0) for j in range(i + 1)}
    got = {(s.start, t.start) for s, t in span_pairs(graph)}
    assert got == expected
    assert engine.interventions == len(expected)
    assert len(calls) == len({e.level for e in graph.edges}), "one batched call per round"


def test_backtrack_with_a_threshold_computes_fewer(model, full):
    threshold = middle_threshold(into_last(full))
    engine, graph, calls = run(Backtrack(threshold), model)
    targets = reachable(full, threshold)
    assert {t.start for _, t in span_pairs(graph)} == targets
    assert len(graph.edges) == sum(i + 1 for i in targets) == engine.interventions
    assert engine.interventions < N * (N + 1) // 2
    assert cost_stats(engine)["fraction_of_full"] < 1
    assert len(graph.nodes) == N and [n.label for n in graph.nodes[:2]] == ["0:1", "1:2"]


def parent_check(graph, threshold):
    """Every edge below level 0 lies inside an edge one level up whose |effect| passes the threshold."""
    by_level = {}
    for (s, t), e in zip(span_pairs(graph), graph.edges):
        by_level.setdefault(e.level, []).append((s, t, e.effect))
    for level, edges in by_level.items():
        for s, t, _ in edges if level else []:
            parents = [
                v
                for lvl in range(level)
                for ps, pt, v in by_level.get(lvl, [])
                if ps.start <= s.start and s.end <= ps.end and pt.start <= t.start and t.end <= pt.end
            ]
            assert parents and any(abs(v) > threshold for v in parents), (s, t)


def test_bisect_levels_and_pruning(model, full):
    _, everything, calls = run(Bisect(), model)
    top = [(s.label, t.label) for (s, t), e in zip(span_pairs(everything), everything.edges) if e.level == 0]
    assert top == [("0:7", "0:7"), ("0:7", "7:14"), ("7:14", "7:14")]
    assert len(calls) == len({e.level for e in everything.edges})
    tokens = {(s.start, t.start) for s, t in span_pairs(everything) if s.end - s.start == 1 == t.end - t.start}
    assert tokens == set(full), "with threshold 0 bisection reaches every token pair"
    threshold = middle_threshold([e.effect for e in everything.edges])
    _, pruned, _ = run(Bisect(threshold), model)
    assert set(span_pairs(pruned)) < set(span_pairs(everything))
    parent_check(pruned, threshold)
    _, coarse, _ = run(Bisect(min_size=4), model)
    assert min(n.end - n.start for n in coarse.nodes) >= 2 and max(n.end - n.start for n in coarse.nodes) == 7


def test_split_partitions_by_the_hierarchy(model, full):
    _, graph, calls = run(Split(WORDS_SPLIT), model)
    top = {(s.label, t.label) for (s, t), e in zip(span_pairs(graph), graph.edges) if e.level == 0}
    assert top == {("0:9", "0:9"), ("0:9", "9:14"), ("9:14", "9:14")}  # "," is token 8
    level1 = {n.label for (s, t), e in zip(span_pairs(graph), graph.edges) if e.level == 1 for n in (s, t)}
    assert level1 == {"0:3", "3:9", "9:11", "11:14"}  # "and" is token 2, "gave" token 10
    assert len(calls) == 3
    threshold = middle_threshold([e.effect for e in graph.edges])
    _, pruned, _ = run(Split(WORDS_SPLIT, threshold), model)
    assert set(span_pairs(pruned)) < set(span_pairs(graph))
    parent_check(pruned, threshold)
    _, tokens_only, _ = run(Split(()), model)
    assert {(s.start, t.start) for s, t in span_pairs(tokens_only)} == set(full)


def test_backtrack_bisect_follows_strong_token_sources(model, full):
    threshold = middle_threshold(into_last(full))
    _, graph, calls = run(BacktrackBisect(threshold), model)
    edges = [(s, t, e.effect) for (s, t), e in zip(span_pairs(graph), graph.edges)]
    assert all(t.end - t.start == 1 and s.end <= t.end for s, t, _ in edges), "sources lie in [0, target]"
    targets = {t.start for _, t, _ in edges}
    strong_sources = {s.start for s, t, v in edges if s.end - s.start == 1 and abs(v) > threshold}
    assert targets == {N - 1} | strong_sources
    assert any(s.end - s.start > 1 for s, _, _ in edges), "bisection measures spans before tokens"
    assert len(calls) > 1 and len(graph.edges) < N * (N + 1) // 2


def test_expand_measures_the_token_edges_of_a_span_pair(model, full):
    engine, graph, _ = run(Split(WORDS_SPLIT), model)
    disjoint = [e for e in graph.edges if graph.nodes[e.source].end <= graph.nodes[e.target].start]
    edge = max(disjoint, key=lambda e: abs(e.effect))
    source, target = graph.nodes[edge.source], graph.nodes[edge.target]
    expanded = engine.expand(graph.top(len(disjoint)), edge)
    got = {(expanded.nodes[e.source].start, expanded.nodes[e.target].start): e.effect for e in expanded.edges}
    assert set(got) == {(j, i) for j in range(source.start, source.end) for i in range(target.start, target.end)}
    assert list(got.values()) == pytest.approx([full[p] for p in got], abs=1e-4)
    assert expanded.stats["interventions"] == len(got) and expanded.stats["forward_passes"] == 1
    assert expanded.provenance["expanded_from"] == {"name": "span-pair", "source": source.label, "target": target.label}
    assert "top_k" not in expanded.provenance, "the top-k that picked the span edge did not filter the expansion"
    assert expanded.provenance["estimate"] is False
    within = next(
        e for e in graph.edges if e.source == e.target and graph.nodes[e.source].end - graph.nodes[e.source].start > 1
    )
    span = graph.nodes[within.source]
    assert len(engine.expand(graph, within).edges) == (span.end - span.start) * (span.end - span.start + 1) // 2


def test_a_loaded_graph_expands_as_one_just_computed_and_a_foreign_one_is_refused(model, tmp_path):
    engine = engine_for(model)
    graph = engine.graph(Bisect())
    assert "engine" not in graph.to_json() and not any("engine" in f.name for f in dataclasses.fields(graph))
    loaded = FlowGraph.load(graph.save(tmp_path / "g.json"))
    assert loaded == graph
    edge = next(e for e in loaded.edges if loaded.nodes[e.source].end - loaded.nodes[e.source].start > 1)
    assert engine.expand(loaded, edge).edges == engine.expand(graph, edge).edges
    with pytest.raises(InfoFlowError, match=r"intervention is zero, this engine's dampen\(alpha=0.5\)"):
        engine_for(model, intervention=Dampen(0.5)).expand(loaded, edge)
    with pytest.raises(InfoFlowError, match="another prompt"):
        FlowEngine(model, PROMPT + " again", METRIC, progress=False).expand(loaded, edge)
    with pytest.raises(InfoFlowError, match="one of this graph's edges"):
        engine.expand(graph, graph.edges[0].__class__(99, 0, 0.0))
    measured = {(e.source, e.target) for e in graph.edges}
    nodes = range(len(graph.nodes))
    missing = next(Edge(s, t, 1.0) for t in nodes for s in nodes if (s, t) not in measured)
    with pytest.raises(InfoFlowError, match="one of this graph's edges"):
        engine.expand(graph, missing)  # node indices in range, but no such edge was measured


@pytest.mark.parametrize(
    "make",
    [
        lambda: Backtrack(-0.1),
        lambda: Backtrack(math.nan),
        lambda: Backtrack(math.inf),
        lambda: Bisect("0.5"),
        lambda: Bisect(0.1, min_size=0),
        lambda: BacktrackBisect(0.1, min_size=1.5),
        lambda: BacktrackBisect(threshold=True),
        lambda: Split("\n"),
        lambda: Split(((),)),
        lambda: Split((("\n", ""),)),
    ],
    ids=[
        "negative", "nan", "inf", "string", "min_size-0", "min_size-float", "bool",
        "delimiters-str", "empty-level", "empty-delimiter",
    ],
)  # fmt: skip
def test_bad_parameters_are_clear_errors(make):
    with pytest.raises(InfoFlowError, match=r"threshold|min_size|delimiters"):
        make()


def test_split_level_given_as_a_string_is_one_delimiter():
    assert Split(["\n\n", ("\n",)]).delimiters == (("\n\n",), ("\n",))


@pytest.mark.parametrize(
    "strategy", [Backtrack(1e6), Bisect(1e6), Split(WORDS_SPLIT, 1e6), BacktrackBisect(1e6)], ids=lambda s: s.name
)
def test_threshold_pruning_everything_keeps_the_first_level_and_warns(strategy):
    from conftest import make_tiny

    with pytest.warns(UserWarning, match="only the first level"):
        engine, graph, calls = run(strategy, make_tiny("llama"))
    assert {e.level for e in graph.edges} == {0} and len(calls) == 1
    assert engine.interventions == len(graph.edges) < N * (N + 1) // 2


def test_delimiters_that_never_occur_give_one_part_and_a_warning():
    from conftest import make_tiny

    with warnings.catch_warnings(record=True) as caught:
        warnings.simplefilter("always")
        _, graph, _ = run(Split.code(threshold=1e6), make_tiny("llama"))
    messages = [str(w.message) for w in caught]
    assert any("top level is one part 0:14" in m for m in messages)
    assert any("splits nothing further" in m for m in messages) and any("only the first level" in m for m in messages)
    assert [(graph.nodes[e.source].label, graph.nodes[e.target].label, e.level) for e in graph.edges] == [
        ("0:14", "0:14", 0)
    ]
    with pytest.warns(UserWarning, match="none of the delimiters"):
        _, graph, _ = run(Split.prose(), make_tiny("llama"))
    tokens = {(s.start, t.start) for s, t in span_pairs(graph) if s.end - s.start == 1 == t.end - t.start}
    assert tokens == {(j, i) for i in range(N) for j in range(i + 1)}


def test_bisect_prompt_not_longer_than_min_size_warns():
    from conftest import make_tiny

    with pytest.warns(UserWarning, match="one part"):
        _, graph, _ = run(Bisect(min_size=20), make_tiny("llama"))
    assert [(graph.nodes[e.source].label, graph.nodes[e.target].label) for e in graph.edges] == [("0:14", "0:14")]


def test_empty_or_backwards_span_pair_is_an_error():
    from conftest import make_tiny

    engine = engine_for(make_tiny("llama"))
    with pytest.raises(InfoFlowError, match="empty"):
        SpanPair(Node(3, 3), Node(4, 6)).run(engine)
    with pytest.raises(InfoFlowError, match="causal"):
        SpanPair(Node(5, 6), Node(2, 4)).run(engine)
    assert engine.interventions == 0


def test_registry_builds_every_strategy_with_its_defaults():
    assert set(STRATEGIES) == {
        "full",
        "backtrack",
        "bisect",
        "split",
        "backtrack-bisect",
        "attribution",
        "attribution-then-exact",
    }
    for name, cls in STRATEGIES.items():
        params = cls().params()
        assert params["name"] == name
        json.dumps(params)


@pytest.mark.slow
def test_real_model_strategies_are_exact(smollm):
    prompt = "When Mary and John went to the store, John gave a book to"
    engine = FlowEngine(smollm, prompt, LogitDiff(" Mary", " John"), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")
        for strategy in [Split(((",",), (" and", " gave")), threshold=2.0), BacktrackBisect(threshold=2.0)]:
            nodes, edges = strategy.run(engine)
            groups = [
                (range(nodes[e.source].start, nodes[e.source].end), range(nodes[e.target].start, nodes[e.target].end))
                for e in edges
            ]
            direct = FlowEngine(smollm, prompt, LogitDiff(" Mary", " John"), batch_size=5, progress=False).effects(
                groups
            )
            assert [e.effect for e in edges] == pytest.approx(direct, abs=1e-4)
            assert len(edges) < engine.n * (engine.n + 1) // 2
