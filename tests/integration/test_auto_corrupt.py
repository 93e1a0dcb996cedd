"""Auto-Corrupt: the mean over generated corrupted prompts, exactly.

An auto-Corrupt graph is the mean of the Corrupt graphs of its plan's prompts, edge by edge (effect, damage),
with their sample standard deviation as ``effect_std``; its estimate is the mean of their estimates. Checked on
two tiny architectures (Llama; Gemma 3 with a sliding window and grouped-query attention) whose word tokenizer
knows the generator's words, so that the corrupted prompts' tokens differ from each other.
"""

from __future__ import annotations

import statistics

import pytest
import torch
from conftest import WORDS, make_tiny

from infoflow_widget import (
    AttributionThenExact,
    Bisect,
    Corrupt,
    FlowEngine,
    FlowGraph,
    InfoFlowError,
    LogitDiff,
    Zero,
    compute_flow,
)
from infoflow_widget.engine.planning import plan_batches
from infoflow_widget.interventions.corrupt import AutoCorrupt
from infoflow_widget.interventions.registry import build_intervention
from infoflow_widget.text.corruption import ADJECTIVES, NAMES, NOUNS, PAST_VERBS, VERBS

PROMPT = "when mary and john went to the store , john gave a book to"
N = 14
METRIC = LogitDiff("mary", "john")
VOCAB = list(dict.fromkeys([*WORDS, *(w.lower() for w in (*NAMES, *NOUNS, *ADJECTIVES, *VERBS, *PAST_VERBS))]))
VOCAB += [d for d in "0123456789" if d not in VOCAB]


@pytest.fixture(scope="module", params=["llama", "gemma3"])
def tiny(request):
    return make_tiny(request.param, words=VOCAB)


@pytest.fixture(scope="module")
def auto(tiny):
    """The auto-Corrupt engine (n=4, seed 0), its full graph, and the Corrupt graph of each of its prompts."""
    engine = FlowEngine(tiny, PROMPT, METRIC, Corrupt.auto(n=4, seed=0), batch_size=32, progress=False)
    graph = engine.graph()
    singles = [
        compute_flow(tiny, PROMPT, METRIC, Corrupt(p), batch_size=32, progress=False)
        for p in graph.provenance["corruption"]["prompts"]
    ]
    return engine, graph, singles


def test_the_prompts_are_distinct_corruptions_of_the_same_length(tiny, auto):
    _, graph, _ = auto
    prompts = graph.provenance["corruption"]["prompts"]
    ids = [tiny.tokenizer(p)["input_ids"] for p in [PROMPT, *prompts]]
    assert len(prompts) == 4 and all(len(i) == N for i in ids)
    assert len({tuple(i) for i in ids}) == 5, "every prompt has tokens of its own: the test measures something"
    assert graph.provenance["corruption"]["unreplaceable"] == []
    assert graph.provenance["intervention"] == {"kind": "corrupt", "corrupted_prompt": "auto", "n": 4, "seed": 0}
    assert graph.provenance["intervention_text"] == "auto-corrupt: mean over 4 corrupted prompts (words replaced)"


def test_effects_are_the_mean_of_the_corrupt_graphs_and_effect_std_their_spread(auto):
    """effect_std is the sample standard deviation (n - 1 in the denominator) of the 4 Corrupt effects."""
    _, graph, singles = auto
    assert all(len(s.edges) == len(graph.edges) == N * (N + 1) // 2 for s in singles)
    for k, edge in enumerate(graph.edges):
        effects = [s.edges[k].effect for s in singles]
        assert all((s.edges[k].source, s.edges[k].target) == (edge.source, edge.target) for s in singles)
        assert edge.effect == pytest.approx(statistics.fmean(effects), abs=1e-6)
        assert edge.effect_std == pytest.approx(statistics.stdev(effects), abs=1e-6)
        # The samples' rows share forward passes now, so sums run in another order: float32 rounding, no more.
        assert edge.damage == pytest.approx(statistics.fmean(s.edges[k].damage for s in singles), rel=1e-4, abs=1e-9)
    assert max(e.effect_std for e in graph.edges) > 1e-3, "the samples differ"
    assert all(e.effect_std is None for s in singles for e in s.edges), "a single Corrupt has no spread"


def test_stats_count_every_sample_pass(auto):
    engine, graph, singles = auto
    # One clean run, one run per corrupted prompt, then the batches of every sample's rows planned together
    # (the samples share forward passes: the rows of four prompts' edges, 32 to a pass).
    starts = sorted(i for _ in singles for i in range(N) for _j in range(i + 1))
    plan = plan_batches(starts, N, 32)
    assert graph.stats["forward_passes"] == 1 + 4 + len(plan)
    assert len(plan) < sum(s.stats["forward_passes"] - 2 for s in singles), "fewer passes than one sample at a time"
    assert graph.stats["interventions"] == N * (N + 1) // 2, "edges measured, not edges times samples"
    assert graph.stats["positions"] == N + sum(N - starts[a] for a, b in plan for _ in range(a, b))
    assert len(engine.samples) == 4 and all(s.intervention == Corrupt(p) for s, p in zip(engine.samples, [
        *graph.provenance["corruption"]["prompts"]
    ]))  # fmt: skip


def test_the_estimate_is_the_mean_of_the_corrupt_estimates(tiny, auto):
    """Corrupt's first order is linear in the corrupted keys and values: one pass with their mean."""
    engine, graph, _ = auto
    estimate = engine.estimate()
    separate = [
        FlowEngine(tiny, PROMPT, METRIC, Corrupt(p), progress=False).estimate()
        for p in graph.provenance["corruption"]["prompts"]
    ]
    mean = torch.stack(separate).mean(0)
    assert mean.abs().max() > 1e-3
    torch.testing.assert_close(estimate, mean, atol=1e-6 * float(mean.abs().max()), rtol=0)


def test_attribution_then_exact_verifies_with_the_mean(tiny, auto):
    engine, graph, _ = auto
    checked = engine.with_intervention(engine.intervention).graph(AttributionThenExact(k=10))
    exact = {(e.source, e.target): e for e in graph.edges}
    verified = [e for e in checked.edges if e.exact]
    assert len(verified) == 10 and checked.provenance["corruption"] == graph.provenance["corruption"]
    for e in verified:
        assert e.effect == pytest.approx(exact[(e.source, e.target)].effect, abs=1e-6)
        assert e.effect_std == pytest.approx(exact[(e.source, e.target)].effect_std, abs=1e-6)
    assert all(e.effect_std is None for e in checked.edges if not e.exact)


def test_a_derived_engine_shares_the_clean_run(tiny, auto, monkeypatch):
    engine, graph, _ = auto
    runs = []
    real = FlowEngine._clean_run
    monkeypatch.setattr(FlowEngine, "_clean_run", lambda e: runs.append(1) or real(e))
    base = FlowEngine(tiny, PROMPT, METRIC, Zero(), batch_size=32, progress=False)
    derived = base.with_intervention(Corrupt.auto())
    assert derived.forward_passes == 4, "each corrupted prompt once, no clean run"
    assert derived.graph().to_pandas()["effect"].tolist() == pytest.approx(graph.to_pandas()["effect"].tolist())
    assert len(runs) == 1 and base.forward_passes == 1
    assert base.with_intervention(Zero()).samples == [], "another intervention drops the samples"


def test_progress_counts_the_edges_of_every_sample(tiny):
    seen = []
    engine = FlowEngine(tiny, PROMPT, METRIC, Corrupt.auto(n=3), batch_size=16, progress=lambda *a: seen.append(a))
    engine.effects([([j], [i]) for i in range(N) for j in range(i + 1)], desc="full graph")
    assert {total for _, total, _ in seen} == {3 * 105} and {desc for *_, desc in seen} == {"full graph"}
    done = [d for d, _, _ in seen]
    assert done == sorted(done) and done[-1] == 3 * 105 and len(done) >= 3 * 105 // 16


def test_a_repeated_prompt_is_measured_once_and_counted_as_often_as_drawn(tiny):
    """Only 9 other digits: n = 12 repeats some prompts (the plan says so); each distinct one runs once."""
    prompt = "when mary and john went to the store , john gave 1 book to"
    engine = FlowEngine(tiny, prompt, METRIC, Corrupt.auto(n=12, kinds=["number"]), progress=False)
    plan = engine.graph(AttributionThenExact(k=0)).provenance["corruption"]
    assert len(plan["prompts"]) == 12 and len(set(plan["prompts"])) == 9 and "some repeat" in plan["notes"][0]
    assert len({id(s) for s in engine.samples}) == 9 and engine.forward_passes == 1 + 9 + 9  # + each one's estimate
    groups = [([j], [13]) for j in range(N)]  # one batch
    passes = engine.forward_passes
    effects = engine.effects(groups)
    # The 9 distinct prompts' 9 x 15 rows share passes (at most batch_size rows each), not one pass per prompt.
    assert engine.forward_passes - passes == len(plan_batches([13] * 9 * len(groups), N, engine.batch_size)) < 9
    single = {
        p: FlowEngine(tiny, prompt, METRIC, Corrupt(p), progress=False).effects(groups) for p in set(plan["prompts"])
    }
    expected = [statistics.fmean(single[p][k] for p in plan["prompts"]) for k in range(len(groups))]
    assert effects == pytest.approx(expected, abs=1e-6)


def test_span_edges_and_their_expansion_keep_the_spread(tiny):
    engine = FlowEngine(tiny, PROMPT, METRIC, Corrupt.auto(n=2), progress=False)
    graph = engine.graph(Bisect(threshold=0.0, min_size=4))
    span = next(e for e in graph.edges if graph.nodes[e.source].end - graph.nodes[e.source].start > 1)
    assert span.effect_std is not None
    expanded = engine.expand(graph, span)
    assert all(e.effect_std is not None for e in expanded.edges)
    assert expanded.provenance["corruption"] == graph.provenance["corruption"]


def test_the_graph_saves_and_loads_with_its_plan(tmp_path, auto):
    _, graph, _ = auto
    graph.save(tmp_path / "auto.json")
    loaded = FlowGraph.load(tmp_path / "auto.json")
    assert [e.effect_std for e in loaded.edges] == [e.effect_std for e in graph.edges]
    assert loaded.provenance["corruption"] == graph.provenance["corruption"]
    again = build_intervention(
        **{k: v for k, v in loaded.provenance["intervention"].items() if k != "kind"}, name="corrupt"
    )
    assert again == Corrupt.auto(n=4, seed=0)


# --- bad input, before any work --------------------------------------------------------------------------------------


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"n": 0}, r"n \(the number of corrupted prompts\) must be a whole number >= 1; got 0"),
        ({"n": 2.5}, "must be a whole number >= 1"),
        ({"n": True}, "must be a whole number >= 1"),
        ({"seed": "x"}, "seed must be a whole number"),
        ({"kinds": ["verb"]}, "kinds must be some of"),
        ({"avoid": [3]}, "avoid must be a list of texts"),
        ({"consistent": "yes"}, "consistent must be True or False"),
    ],
)
def test_bad_arguments_fail_when_built(kwargs, message):
    with pytest.raises(InfoFlowError, match=message):
        Corrupt.auto(**kwargs)


def test_a_prompt_with_nothing_to_replace_fails_before_any_forward_pass(tiny):
    calls = []
    handle = tiny._module.register_forward_pre_hook(lambda *_: calls.append(1))
    try:
        with pytest.raises(InfoFlowError, match="No token of this prompt can be replaced"):
            FlowEngine(tiny, "to the , a to", METRIC, Corrupt.auto(), progress=False)
        with pytest.raises(InfoFlowError, match="No token of this prompt can be replaced"):
            FlowEngine(tiny, PROMPT, METRIC, Corrupt.auto(kinds=["number"]), progress=False)
    finally:
        handle.remove()
    assert calls == []


def test_corrupt_auto_from_its_parameters():
    """What the CLI (--corrupted auto --samples N --seed S) and the widget (the prompt box's "auto") build."""
    assert build_intervention("corrupt", corrupted_prompt="auto") == Corrupt.auto() == AutoCorrupt()
    assert build_intervention("corrupt", corrupted_prompt=" AUTO ", n=8, seed=3, alpha=None) == Corrupt.auto(8, 3)
    assert build_intervention("corrupt", corrupted_prompt="when felix") == Corrupt("when felix")
    with pytest.raises(InfoFlowError, match="corrupt takes n only with corrupted_prompt='auto'"):
        build_intervention("corrupt", corrupted_prompt="when felix", n=8)
    with pytest.raises(InfoFlowError, match="must be a whole number >= 1"):
        build_intervention("corrupt", corrupted_prompt="auto", n=0)
    with pytest.raises(InfoFlowError, match="corrupt takes n, seed, avoid, keep, kinds, consistent, code, not alpha"):
        build_intervention("corrupt", corrupted_prompt="auto", alpha=0.5)
    chosen = Corrupt.auto(2, 1, keep=["mary"], kinds=["name", "number"])
    assert chosen.keep == ("mary",) and hash(chosen) == hash(
        Corrupt.auto(2, 1, keep=("mary",), kinds=("number", "name"))
    )
    assert chosen.params() == {
        "kind": "corrupt", "corrupted_prompt": "auto", "n": 2, "seed": 1, "keep": ["mary"], "kinds": ["name", "number"],
    }  # fmt: skip
    assert build_intervention(**{k: v for k, v in chosen.params().items() if k != "kind"}, name="corrupt") == chosen
