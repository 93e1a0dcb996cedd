"""Damage, sinks and flags on tiny models: damage is the KL divergence of the same forward pass, no extra one."""

from __future__ import annotations

import pytest
from conftest import make_tiny

from infoflow_widget import (
    Attribution,
    AttributionThenExact,
    Bisect,
    Corrupt,
    FlowEngine,
    Knockout,
    LogitDiff,
    Zero,
)
from infoflow_widget.engine.planning import plan_batches
from infoflow_widget.engine.reference import reference_effects
from infoflow_widget.graph.trust import FLAGS

PROMPT = "when mary and john went to the store , john gave a book to"
CORRUPTED = "when felix and sarah went to the store , diego gave a book to"
METRIC = LogitDiff("mary", "john")
N = 14
GROUPS = [([j], [i]) for i in range(N) for j in range(0, i + 1, 3)] + [([0, 1, 2], [3, 4, 5]), ([1, 3], [9, 13])]


@pytest.mark.parametrize("intervention", [Zero(), Knockout(), Corrupt(CORRUPTED)], ids=lambda iv: iv.kind)
def test_damage_is_the_kl_divergence_and_costs_no_forward_pass(tiny_model, intervention):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, intervention, batch_size=8, progress=False)
    before = engine.forward_passes
    engine.effects(GROUPS)
    batches = plan_batches(sorted(min(t) for _, t in GROUPS), N, 8)
    assert engine.forward_passes - before == len(batches), "one pass per batch, as without damage"
    # The reference's effect under the metric -KL(clean || .) is KL(clean || intervened): the damage, measured apart
    # (in float64, as the engine computes it; the float32 KLDivergence metric rounds to 3e-7 here).
    clean = engine.clean_logits.double().log_softmax(-1)

    def minus_kl(logits):
        logp = logits.double().log_softmax(-1)
        return -(clean.exp() * (clean - logp)).sum(-1)

    _, kl = reference_effects(tiny_model, PROMPT, minus_kl, intervention, GROUPS)
    damage = [engine.measurements[(tuple(s), tuple(t))]["damage"] for s, t in GROUPS]
    assert damage == pytest.approx(kl, rel=1e-3, abs=1e-9)
    assert min(damage) >= 0 and max(damage) > 1e-5


def test_every_exact_edge_of_a_graph_carries_its_damage_and_flags():
    model = make_tiny("llama")
    engine = FlowEngine(model, PROMPT, METRIC, Zero(), progress=False)
    graph = engine.graph()
    assert all(e.damage is not None and e.damage >= 0 for e in graph.edges)
    assert all(set(e.flags) <= set(FLAGS) and "inconsistent" not in e.flags for e in graph.edges)
    for e in graph.edges:
        assert e.damage == engine.measurements[((e.source,), (e.target,))]["damage"]
    sinks = graph.stats["sinks"]
    assert set(sinks) == {"positions", "share", "strongest_other", "excess"}
    assert all(("sink" in e.flags) == (e.source in sinks["positions"]) for e in graph.edges)
    assert graph.filter(0.01).edges == [e for e in graph.edges if abs(e.effect) >= 0.01], "flags survive a filter"
    # The span edges of a search strategy get the damage of their own span groups.
    spans = engine.graph(Bisect(threshold=0.0, min_size=4))
    for e in spans.edges:
        s, t = spans.nodes[e.source], spans.nodes[e.target]
        assert e.damage == engine.measurements[(tuple(range(s.start, s.end)), tuple(range(t.start, t.end)))]["damage"]
    # A drill-down gets its token edges' damage.
    wide = max(spans.edges, key=lambda e: abs(e.effect))
    inside = engine.expand(spans, wide)
    assert inside.edges and all(e.damage is not None for e in inside.edges) and "sinks" in inside.stats


def test_estimates_have_no_damage():
    model = make_tiny("qwen2")
    engine = FlowEngine(model, PROMPT, METRIC, Knockout(), progress=False)
    assert all(e.damage is None and "damage" not in e.flags for e in engine.graph(Attribution()).edges)
    checked = engine.graph(AttributionThenExact(k=10)).edges
    assert sum(e.damage is not None for e in checked) == 10
    assert all((e.damage is not None) == e.exact for e in checked)


def test_the_kl_metric_is_its_own_damage_and_gets_no_damage_flag():
    model = make_tiny("gpt2")
    graph = FlowEngine(model, PROMPT, None, Zero(), progress=False).graph()
    assert all(e.damage == pytest.approx(e.effect, abs=1e-5) for e in graph.edges)
    assert not any("damage" in e.flags for e in graph.edges)


def test_an_engine_with_another_intervention_has_its_own_measurements():
    model = make_tiny("llama")
    base = FlowEngine(model, PROMPT, METRIC, Zero(), progress=False)
    base.effects(GROUPS[:3])
    derived = base.with_intervention(Knockout())
    assert derived.measurements == {} and len(base.measurements) == 3
    derived.effects(GROUPS[:3])
    assert derived.measurements.keys() == base.measurements.keys() and derived.measurements != base.measurements
    assert derived.sink_shares is base.sink_shares, "the clean run's sinks are shared"
