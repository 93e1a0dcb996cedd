"""Attribution estimates through nnsight gradients: checked against exact interventions."""

from __future__ import annotations

from dataclasses import dataclass

import numpy
import pytest
from conftest import make_tiny

from infoflow_widget import (
    Attribution,
    AttributionThenExact,
    Corrupt,
    Dampen,
    FlowEngine,
    InfoFlowError,
    Knockout,
    LogitDiff,
    compute_flow,
)

PROMPT = "when mary and john went to the store , john gave a book to"
CORRUPTED = "when felix and sarah went to the store , diego gave a book to"
METRIC = LogitDiff("mary", "john")
PAIRS = [([j], [i]) for i in range(14) for j in range(i + 1)]


@pytest.mark.parametrize("arch", ["gpt2", "llama", "gemma3"])
@pytest.mark.parametrize("layers", [None, [1, 2]])
def test_estimate_is_the_first_order_of_the_exact_effect(arch, layers):
    """Dampening by 0.999 is a small change: the exact effect is its first order, to 1e-6."""
    model = make_tiny(arch)
    engine = FlowEngine(model, PROMPT, METRIC, Dampen(0.999), layers=layers, progress=False)
    estimate = engine.estimate()
    exact = engine.effects(PAIRS)
    assert [float(estimate[i, j]) for (j,), (i,) in PAIRS] == pytest.approx(exact, abs=1e-6)
    assert max(abs(e) for e in exact) > 1e-5
    assert (estimate.triu(1) == 0).all()


@dataclass(frozen=True)
class KnockoutStep(Knockout):
    """A step t of the way from the clean pattern to the knocked-out one: A + t (A' - A)."""

    t: float = 1e-3

    def edit_pattern(self, pattern, edit, context=None):
        return pattern + self.t * (super().edit_pattern(pattern, edit, context) - pattern)


@pytest.mark.parametrize("arch", ["gpt2", "llama", "gemma3"])
@pytest.mark.parametrize("layers", [None, [1, 2]])
def test_knockout_estimate_is_the_first_order_of_the_exact_effect(arch, layers):
    """Knockout is no small change, but its pattern change A' - A is fixed: a step t of it has the exact effect
    t x estimate to first order (the estimate linearises the metric in the pattern around the clean run)."""
    model = make_tiny(arch)
    t = 1e-3
    engine = FlowEngine(model, PROMPT, METRIC, KnockoutStep(t=t), layers=layers, progress=False)
    estimate = [float(engine.estimate()[i, j]) for (j,), (i,) in PAIRS]  # Knockout's own first_order
    step = engine.effects(PAIRS)
    assert step == pytest.approx([t * e for e in estimate], abs=1e-6)
    slope, scaled = numpy.array(step) / t, numpy.array(estimate)
    assert float(slope @ scaled / (scaled @ scaled)) == pytest.approx(1.0, abs=0.01)
    assert numpy.corrcoef(slope, scaled)[0, 1] > 0.999 and max(map(abs, estimate)) > 1e-2
    # And the full knockout, which is no small change: the estimate still ranks it (correlation 0.87 to 0.999).
    exact = FlowEngine(model, PROMPT, METRIC, Knockout(), layers=layers, progress=False).effects(PAIRS)
    assert numpy.corrcoef(exact, estimate)[0, 1] > 0.8


@pytest.mark.parametrize("arch", ["gpt2", "llama", "gemma3"])
def test_corrupt_estimate_is_the_first_order_of_the_exact_effect(arch):
    """Patch a step t of the way from the clean keys and values towards the corrupted ones: the exact effect is
    t times the estimate, to first order. Effects of t = 1e-3 sit near float32 noise on the weakest edges, so the
    check is the least-squares scale of exact against estimated (1 when the estimate is right) and their correlation.
    """
    import torch

    model = make_tiny(arch)
    engine = FlowEngine(model, PROMPT, METRIC, Corrupt(CORRUPTED), progress=False)
    estimate = torch.tensor([float(engine.estimate()[i, j]) for (j,), (i,) in PAIRS])
    clean = engine.attention_tensors(engine.input_ids, ("keys_t", "values"))  # the layout Corrupt prepares
    t = 1e-3
    engine._context = {
        layer: {name: c + t * (engine._context[layer][name] - c) for name, c in clean[layer].items()}
        for layer in engine.layers
    }
    slope = torch.tensor(engine.effects(PAIRS)) / t
    scale = float((slope * estimate).sum() / (estimate * estimate).sum())
    assert scale == pytest.approx(1.0, abs=0.02)
    assert float(torch.corrcoef(torch.stack([slope, estimate]))[0, 1]) > 0.99
    assert estimate.abs().max() > 1e-3


def test_corrupt_estimate_vanishes_where_the_prompts_agree():
    model = make_tiny("llama")

    engine = FlowEngine(model, PROMPT, METRIC, Corrupt(CORRUPTED), progress=False)
    estimate = engine.estimate()
    assert estimate[:, 0].abs().max() == 0  # "when" is the same token, keys and values in both prompts
    assert estimate[13, 1].abs() > 1e-4  # "mary" vs "felix" does change something


def test_attribution_graph_is_marked_as_an_estimate():
    model = make_tiny("qwen2")
    graph = compute_flow(model, PROMPT, METRIC, Dampen(0.5), strategy=Attribution(), progress=False)
    assert len(graph.edges) == 105 and not any(e.exact for e in graph.edges)
    assert graph.provenance["estimate"] is True and graph.stats["forward_passes"] == 2
    assert graph.to_pandas()["exact"].eq(False).all()


def test_attribution_then_exact_verifies_the_strongest_estimates():
    model = make_tiny("llama")
    full = {(e.source, e.target): e.effect for e in compute_flow(model, PROMPT, METRIC, progress=False).edges}
    graph = compute_flow(model, PROMPT, METRIC, strategy=AttributionThenExact(k=10), progress=False)
    verified = [e for e in graph.edges if e.exact]
    assert len(verified) == 10 and len(graph.edges) == 105
    assert all(e.effect == pytest.approx(full[(e.source, e.target)], abs=1e-4) for e in verified)
    estimated = {
        (e.source, e.target): e.effect for e in compute_flow(model, PROMPT, METRIC, strategy=Attribution()).edges
    }
    pairs = [(e.source, e.target) for e in verified]
    assert sorted(abs(estimated[p]) for p in pairs) == sorted(sorted(map(abs, estimated.values()))[-10:])
    expected = numpy.corrcoef([estimated[p] for p in pairs], [full[p] for p in pairs])[0, 1]
    agreement = graph.stats["agreement"]
    assert agreement["verified"] == 10 and agreement["correlation"] == pytest.approx(expected, abs=1e-3)
    assert agreement["top10_overlap"] is None, "10 verified edges are their own top 10"
    fifth = sorted((abs(e.effect) for e in graph.edges if not e.exact), reverse=True)[4]
    with_threshold = compute_flow(model, PROMPT, METRIC, strategy=AttributionThenExact(k=0, threshold=fifth))
    assert sum(e.exact for e in with_threshold.edges) == sum(abs(v) >= fifth for v in estimated.values())


@pytest.mark.parametrize("k", [-1, 1.5, True])
def test_bad_k(k):
    with pytest.raises(InfoFlowError, match="k=...\\) needs a whole number"):
        AttributionThenExact(k=k)


def test_one_engine_estimates_once_for_a_preview_and_attribution_then_exact():
    model = make_tiny("llama")
    engine = FlowEngine(model, PROMPT, METRIC, Dampen(0.5), progress=False)
    preview = engine.graph(Attribution())
    assert engine.forward_passes == 2
    checked = engine.graph(AttributionThenExact(k=10))
    alone = FlowEngine(model, PROMPT, METRIC, Dampen(0.5), progress=False)
    alone.graph(AttributionThenExact(k=10))
    assert engine.forward_passes == alone.forward_passes, "the same passes: clean, estimate, verification"
    estimates = {(e.source, e.target): e.effect for e in preview.edges}
    assert all(e.effect == estimates[(e.source, e.target)] for e in checked.edges if not e.exact)
    engine.estimate()[5, 2] = 99.0  # a caller writing into its copy changes nothing kept
    assert float(engine.estimate()[5, 2]) == estimates[(2, 5)]


def test_the_kl_divergence_has_no_estimates_and_says_so_before_any_work():
    """KL(clean || intervened) is minimal at the clean run: its gradient there is zero, and so every estimate."""
    with pytest.raises(InfoFlowError, match="every estimate would be zero"):
        compute_flow("no-such-model", PROMPT, strategy=Attribution())  # fails before the model is looked up
    engine = FlowEngine(make_tiny("llama"), PROMPT, None, progress=False)
    for strategy in (Attribution(), AttributionThenExact(k=5)):
        with pytest.raises(InfoFlowError, match="Give an answer"):
            engine.graph(strategy)
    with pytest.raises(InfoFlowError, match="every estimate would be zero"):
        engine.estimate()
    assert engine.forward_passes == 1, "only the clean run"


def test_a_graph_reports_only_its_own_strategy_figures():
    engine = FlowEngine(make_tiny("llama"), PROMPT, METRIC, progress=False)
    assert "agreement" in engine.graph(AttributionThenExact(k=5)).stats
    assert "agreement" not in engine.graph().stats
