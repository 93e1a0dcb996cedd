"""Integrated-gradient estimates (``estimate(steps=k)``) and adaptive verification (``AttributionThenExact(k="auto")``).

The path of each intervention runs from the clean run to every edge intervened on; an edge's estimate averages its
``first_order`` over k points of it. Checked here: the path's ends, convergence to the exact effect where one edge
alone moves along it, convergence of all edges' estimates together to the effect of intervening on all of them
(completeness), the batching of the points, the defaults, and the rounds of the adaptive verification.
"""

from __future__ import annotations

import json
import math
from dataclasses import dataclass

import numpy
import pytest
import torch
from conftest import make_tiny, tiny_config, word_tokenizer

from infoflow_widget import (
    Attribution,
    AttributionThenExact,
    Corrupt,
    Crop,
    Dampen,
    FlowEngine,
    InfoFlowError,
    Knockout,
    LogitDiff,
    Zero,
    compute_flow,
    wrap_model,
)
from infoflow_widget.graph.flowgraph import strongest
from infoflow_widget.interventions.edges import edit_masks
from infoflow_widget.search.strategies import verify_in_rounds

PROMPT = "when mary and john went to the store , john gave a book to"
CORRUPTED = "when felix and sarah went to the store , diego gave a book to"
METRIC = LogitDiff("mary", "john")
N = 14
PAIRS = [([j], [i]) for i in range(N) for j in range(i + 1)]
H, D = 3, 4


def causal_pattern() -> torch.Tensor:
    scores = torch.randn(1, H, N, N) * 2
    return scores.masked_fill(~torch.ones(N, N, dtype=torch.bool).tril(), float("-inf")).softmax(-1)


def ends() -> torch.Tensor:
    """Two batch rows: t = 0 and t = 1."""
    return torch.tensor([0.0, 1.0]).view(-1, 1, 1, 1)


EVERY_EDGE = edit_masks([(list(range(N)), list(range(N)))], N)


@pytest.mark.parametrize(
    "intervention", [Zero(), Dampen(0.3), Dampen(1.7), Crop(), Knockout()], ids=lambda iv: repr(iv)
)
def test_the_pattern_path_runs_from_the_clean_pattern_to_every_edge_intervened(intervention):
    torch.manual_seed(0)
    pattern = causal_pattern()
    moved = intervention.path_pattern(pattern.expand(2, -1, -1, -1), ends())
    assert torch.equal(moved[0], pattern[0]), "t = 0 is the clean pattern, bit for bit"
    every = intervention.edit_pattern(pattern, EVERY_EDGE)[0]
    torch.testing.assert_close(moved[1], every, atol=1e-7, rtol=0)
    if isinstance(intervention, (Crop, Knockout)):
        assert moved[1].abs().max() == 0, "every edge cropped or knocked out leaves every row empty"


def test_the_corrupt_path_runs_from_the_clean_keys_and_values_to_the_corrupted_ones():
    torch.manual_seed(1)
    query, keys_t, corrupt_keys_t = (torch.randn(1, H, *shape) for shape in [(N, D), (D, N), (D, N)])
    values, corrupt_values = torch.randn(1, H, N, D), torch.randn(1, H, N, D)
    context = {"keys_t": corrupt_keys_t, "values": corrupt_values}
    corrupt, scores = Corrupt(CORRUPTED), query @ keys_t
    moved = corrupt.path_scores(scores.expand(2, -1, -1, -1), query.expand(2, -1, -1, -1), ends(), context)
    assert torch.equal(moved[0], scores[0])
    torch.testing.assert_close(moved[1], (query @ corrupt_keys_t)[0])
    causal = EVERY_EDGE[0, 0]
    torch.testing.assert_close(
        moved[1][:, causal], corrupt.edit_scores(scores, query, EVERY_EDGE, context)[0][:, causal]
    )
    # The outputs: with the pattern of the moved keys, t = 1 attends over the corrupted values only.
    weights = causal_pattern()
    output = weights @ values
    moved = corrupt.path_output(output.expand(2, -1, -1, -1), weights, values, ends(), context)
    assert torch.equal(moved[0], output[0])
    torch.testing.assert_close(moved[1], (weights @ corrupt_values)[0])
    torch.testing.assert_close(moved[1], corrupt.edit_output(output, weights, values, EVERY_EDGE, context)[0])


def one_layer(arch: str):
    """A one-layer tiny model (full attention), sharpened as ``make_tiny`` sharpens its models."""
    from transformers import AutoModelForCausalLM

    config = tiny_config(arch)
    if arch == "gpt2":
        config.n_layer = 1
    else:
        config.num_hidden_layers = 1
        if getattr(config, "layer_types", None) is not None:
            config.layer_types = ["full_attention"]
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, attn_implementation="sdpa")
    with torch.no_grad():
        for name, param in model.named_parameters():
            if any(part in name for part in ("q_proj", "k_proj", "c_attn", "query_key_value")):
                param.mul_(4.0)
    return wrap_model(model, word_tokenizer(), name=f"one-layer-{arch}")


def errors(engine: FlowEngine, source: int, target: int, exact: float) -> list[float]:
    return [abs(float(engine.estimate(k)[target, source]) - exact) for k in (1, 4, 16, 64)]


def assert_converges(found: list[float], exact: float) -> None:
    """Errors at 1, 4, 16 and 64 points: a left Riemann sum's error falls as 1/k, so about 4x per step here
    (down to float32 noise, a few 1e-6 of these metrics)."""
    assert found[2] < found[1] / 3 and found[3] < max(found[2] / 3, 5e-6), f"not converging as 1/k: {found}"
    assert found[3] < found[0] / 10 and found[3] < 0.05 * abs(exact), f"64 points should be within 5%: {found}"


@pytest.mark.parametrize("arch", ["gpt2", "llama", "gemma3"])
def test_a_lone_corrupted_edge_converges_to_its_exact_effect(arch):
    """One layer, a corrupted prompt that differs at one position only ("mary" -> "sarah", position 1): only key and
    value 1 change, and only the last row reaches the metric, so the path moves the edge 1 -> 13 alone and its
    estimate integrates that edge's own effect; every other edge's exact effect and estimate are zero."""
    model = one_layer(arch)
    engine = FlowEngine(model, PROMPT, METRIC, Corrupt(PROMPT.replace("mary", "sarah")), progress=False)
    exact = engine.effects([([1], [13])])[0]
    assert abs(exact) > 1e-3
    found = errors(engine, 1, 13, exact)
    assert found[0] > 0.02 * abs(exact), f"the first-order estimate should miss noticeably: {found}"
    assert_converges(found, exact)
    others = [pair for pair in PAIRS if pair != ([1], [13])]
    assert max(map(abs, engine.effects(others[::7]))) < 1e-6
    assert float(engine.estimate(16).abs().sum() - engine.estimate(16)[13, 1].abs()) < 1e-6


@dataclass(frozen=True)
class LoneZero(Zero):
    """Zero whose integration path moves one edge only: the integral of that edge's own effect."""

    source: int = 1
    target: int = 13

    def path_pattern(self, pattern, t, context=None):
        scale = torch.ones_like(pattern[:1])
        scale[..., self.target, self.source - (N - pattern.shape[-1])] = 0.0
        return pattern * (1.0 - t * (1.0 - scale))


@pytest.mark.parametrize("arch", ["gpt2", "llama", "gemma3"])
def test_a_lone_pattern_edge_converges_to_its_exact_effect(arch):
    """Zero in the middle layer alone, on its strongest edge. The gradient must be read after the path's move and the
    change before it: scaled at the pattern, a gradient read before the move would be off by 1 - t, and the estimate
    would converge to something else."""
    model = make_tiny(arch)
    effects = FlowEngine(model, PROMPT, METRIC, Zero(), layers=[1], progress=False).effects(PAIRS)
    strongest_pair = max(range(len(PAIRS)), key=lambda k: abs(effects[k]))
    (source,), (target,) = PAIRS[strongest_pair]
    engine = FlowEngine(model, PROMPT, METRIC, LoneZero(source, target), layers=[1], progress=False)
    exact = engine.effects([([source], [target])])[0]  # Zero's own edit: the exact effect
    assert exact == pytest.approx(effects[strongest_pair], abs=1e-6) and abs(exact) > 1e-3
    assert_converges(errors(engine, source, target, exact), exact)


@pytest.mark.parametrize("arch", ["gpt2", "llama", "gemma3"])
@pytest.mark.parametrize("intervention", [Dampen(0.5), Corrupt(CORRUPTED)], ids=["dampen", "corrupt"])
def test_the_estimates_together_converge_to_every_edge_intervened(arch, intervention):
    """Completeness: along the path the metric changes by the sum, over every edge, of its gradient times its change
    there, so the estimates of all edges add up to the effect of intervening on all of them at once, up to the
    Riemann sum's error; the first-order estimate does not. (Not for Zero on Gemma: its post-attention norm
    rescales the shrinking attention output until the output vanishes at t = 1, a jump the path cannot follow;
    for Dampen the same norm hides the whole path, and every figure there is float32 noise.)"""
    engine = FlowEngine(make_tiny(arch), PROMPT, METRIC, intervention, progress=False)
    every = engine.effects([(list(range(N)), list(range(N)))])[0]
    gaps = [abs(float(engine.estimate(k).sum()) - every) for k in (1, 4, 16, 64)]
    assert gaps[3] < 0.05 * max(abs(every), gaps[0]) + 1e-5, (every, gaps)  # 1e-5: float32 noise
    assert gaps[2] < gaps[1] and gaps[3] < gaps[2], gaps


SHORT_OF_FIRST_ORDER = pytest.mark.xfail(
    strict=True,
    reason="measured (benchmarks/README.md, section 10): the tiny random models' effects are nearly linear, and the "
    "path's interactions between edges cost more than its curvature gains (mean error 7.6e-5 -> 2.6e-4 on gpt2, "
    "1.4e-4 -> 2.3e-4 on llama)",
)


@pytest.mark.parametrize(
    "arch",
    [pytest.param("gpt2", marks=SHORT_OF_FIRST_ORDER), pytest.param("llama", marks=SHORT_OF_FIRST_ORDER), "gemma3"],
)
def test_integrated_estimates_are_closer_to_exact_than_first_order_on_average(arch):
    """Integrating brings estimates closer to exact, for Corrupt (which integrates by default), edge by edge: this
    holds on Gemma 3 (mean error 2.4e-3 -> 1.5e-3), not on GPT-2 and Llama, where it is expected to fail (strictly:
    a pass is news)."""
    engine = FlowEngine(make_tiny(arch), PROMPT, METRIC, Corrupt(CORRUPTED), progress=False)
    exact = numpy.array(engine.effects(PAIRS))

    def mean_error(steps: int) -> float:
        estimate = engine.estimate(steps)
        return float(numpy.abs(numpy.array([float(estimate[i, j]) for (j,), (i,) in PAIRS]) - exact).mean())

    assert mean_error(Corrupt.estimate_steps) < mean_error(1)


def spearman(a: list[float], b: list[float]) -> float:
    def ranks(x: list[float]) -> numpy.ndarray:
        return numpy.argsort(numpy.argsort(x)).astype(float)

    return float(numpy.corrcoef(ranks(a), ranks(b))[0, 1])


@pytest.mark.slow
@pytest.mark.parametrize("name", ["smollm", "gemma"])
def test_integrating_ranks_corrupt_better_on_the_bundled_models(name, request, ioi_case):
    """Why Corrupt integrates by default: on the IOI case, its 8-point estimate ranks the edges closer to their exact
    order (Spearman 0.71 -> 0.80 on SmolLM2, 0.64 -> 0.78 on Gemma 3) and needs fewer of them verified to hold the
    exact top 10."""
    model = request.getfixturevalue(name)
    metric = LogitDiff(ioi_case["answer"], ioi_case["distractor"])
    engine = FlowEngine(model, ioi_case["prompt"], metric, Corrupt(ioi_case["corrupted"]), progress=False)
    pairs = [([j], [i]) for i in range(engine.n) for j in range(i + 1)]
    exact = engine.effects(pairs)
    found = {}
    for steps in (1, Corrupt.estimate_steps):
        estimate = engine.estimate(steps)
        values = [float(estimate[i, j]) for (j,), (i,) in pairs]
        rank = {k: r for r, k in enumerate(strongest(values))}
        found[steps] = (spearman(values, exact), max(rank[k] + 1 for k in strongest(exact, 10)))
    (first, first_needed), (integrated, needed) = found[1], found[Corrupt.estimate_steps]
    assert integrated > first + 0.05 and needed < first_needed, found


def test_the_points_in_several_passes_give_the_estimate_of_one():
    model = make_tiny("llama")
    one = FlowEngine(model, PROMPT, METRIC, Corrupt(CORRUPTED), progress=False)
    several = FlowEngine(model, PROMPT, METRIC, Corrupt(CORRUPTED), batch_size=1, progress=False)
    before = (one.forward_passes, several.forward_passes)
    torch.testing.assert_close(several.estimate(8), one.estimate(8), atol=1e-7, rtol=1e-5)
    assert (one.forward_passes - before[0], several.forward_passes - before[1]) == (1, 8)
    assert several.positions - one.positions == 0, "the same token positions, in 8 passes of one row"


def test_each_intervention_has_its_default_and_each_steps_is_computed_once():
    model = make_tiny("llama")
    engine = FlowEngine(model, PROMPT, METRIC, progress=False)
    zero = engine.graph(Attribution())
    assert zero.stats["steps"] == 1 and zero.provenance["strategy"] == {"name": "attribution", "steps": None}
    corrupt = engine.with_intervention(Corrupt(CORRUPTED))
    graph = corrupt.graph(Attribution())
    assert graph.stats["steps"] == Corrupt.estimate_steps == 8
    assert [e.effect for e in graph.edges] == [float(corrupt.estimate(8)[e.target, e.source]) for e in graph.edges], (
        "the graph's edges are the 8-point estimate"
    )
    passes = corrupt.forward_passes
    corrupt.estimate(8), corrupt.graph(AttributionThenExact(k=0)), corrupt.estimate(8)
    assert corrupt.forward_passes == passes, "kept, and shared with AttributionThenExact"
    assert not torch.equal(corrupt.estimate(1), corrupt.estimate(8)) and corrupt.forward_passes == passes + 1
    explicit = corrupt.graph(Attribution(steps=2))
    assert explicit.stats["steps"] == 2 and explicit.provenance["strategy"]["steps"] == 2


def test_the_auto_corrupt_estimate_is_the_mean_of_its_samples_integrated_estimates():
    model = make_tiny("llama")
    engine = FlowEngine(model, PROMPT, METRIC, Corrupt.auto(n=2, seed=0), progress=False)
    separate = [sample.with_intervention(sample.intervention).estimate(4) for sample in engine.samples]
    torch.testing.assert_close(engine.estimate(4), torch.stack(separate).mean(0))
    assert not torch.allclose(engine.estimate(4), engine.estimate(1))


@pytest.mark.parametrize(
    ("make", "message"),
    [
        (lambda: Attribution(steps=0), "steps=...\\) needs a whole number from 1 to 256"),
        (lambda: AttributionThenExact(steps=1.5), "steps=...\\) needs a whole number from 1 to 256"),
        (lambda: Attribution(steps=True), "steps=...\\) needs a whole number from 1 to 256"),
        (lambda: Attribution(steps=100_000), "steps=...\\) needs a whole number from 1 to 256"),
        (lambda: AttributionThenExact(k="sometimes"), "k=...\\) needs a whole number >= 0 or 'auto'"),
    ],
)
def test_bad_arguments_are_named(make, message):
    with pytest.raises(InfoFlowError, match=message):
        make()


def test_the_engine_refuses_bad_steps_before_any_pass():
    engine = FlowEngine(make_tiny("llama"), PROMPT, METRIC, progress=False)
    for steps in (0, -2, 2.5, "8", 257):
        with pytest.raises(InfoFlowError, match="steps must be a whole number from 1 to 256"):
            engine.estimate(steps)
    assert engine.forward_passes == 1


def test_rounds_stop_once_the_top_is_settled_and_nothing_unverified_can_enter_it():
    exact = [float(100 - k) for k in range(100)]
    rounds = []

    def measure(indices):
        rounds.append(len(indices))
        return [exact[k] for k in indices]

    found, report = verify_in_rounds(exact, measure)  # perfect estimates
    assert rounds == [20, 10] and sorted(found) == list(range(30))
    assert report == {
        "verified": 30, "of": 100, "rounds": 2, "stopped": "bound", "tenth_exact": 91.0, "widening": 0.0,
        "widest": 0.0, "at_risk": 0,
    }  # fmt: skip
    # An outlier error is left out of the stopping band but counted in the report: the top is not certain.
    estimates = list(exact)
    estimates[25] = 99.5  # exact 75: verified in the first round, 24.5 off
    found, report = verify_in_rounds(estimates, lambda ks: [exact[k] for k in ks])
    assert (report["verified"], report["stopped"], report["widening"], report["widest"]) == (30, "bound", 0.0, 24.5)
    assert report["at_risk"] == sum(abs(estimates[k]) + 24.5 >= 91.0 for k in range(100) if k not in found) == 4
    # The bound trusts the errors seen: an edge far weaker by estimate than every one verified is not looked at...
    estimates, exact[50] = list(exact), 99.5
    estimates[50] = 0.5
    found, report = verify_in_rounds(estimates, lambda ks: [exact[k] for k in ks])
    assert report["verified"] == 30 and 50 not in found and report["at_risk"] == 0
    # ... unless its risk says its estimate may err: errors scale with each edge's risk (its attention mass).
    risk = [1.0] * 100
    risk[50] = 200.0
    estimates = [value - 1.0 for value in exact]  # every estimate off by 1 at risk 1 ...
    estimates[50] = 0.5  # ... so this one, of risk 200, could reach 0.5 + 200: verified in the second round
    found, report = verify_in_rounds(estimates, lambda ks: [exact[k] for k in ks], risk=risk)
    assert 50 in found and report["verified"] == 40 and report["widening"] == 1.0


def test_rounds_verify_everything_when_they_cannot_settle():
    exact = [float(k) for k in range(12)]
    found, report = verify_in_rounds(exact, lambda ks: [exact[k] for k in ks])
    assert report["stopped"] == "all" and len(found) == 12 and report["rounds"] == 1
    estimates = [float(k) for k in range(50)]
    estimates[3] = math.nan
    found, report = verify_in_rounds(estimates, lambda ks: [float(k) for k in ks])
    assert 3 in found and report["stopped"] == "bound", "a NaN estimate is verified first, then no obstacle"
    found, report = verify_in_rounds(estimates, lambda ks: [math.nan if k == 25 else float(k) for k in ks])
    assert report["widest"] is None and report["at_risk"] == report["of"] - report["verified"] > 0, (
        "a NaN exact value makes the widest band infinite: nothing unverified is certain"
    )
    found, _ = verify_in_rounds([float(k) for k in range(50)], lambda ks: [float(k) for k in ks], also=[0, 1])
    assert {0, 1} <= set(found)


def test_auto_verification_holds_the_exact_top_10_of_the_tiny_models():
    model = make_tiny("llama")
    full = compute_flow(model, PROMPT, METRIC, progress=False)
    top = {(full.edges[k].source, full.edges[k].target) for k in strongest([e.effect for e in full.edges], 10)}
    exact = {(e.source, e.target): e.effect for e in full.edges}
    graph = compute_flow(model, PROMPT, METRIC, strategy=AttributionThenExact(k="auto"), progress=False)
    verified = {(e.source, e.target): e.effect for e in graph.edges if e.exact}
    report = graph.stats["verification"]
    assert report["verified"] == len(verified) < len(graph.edges) and report["stopped"] == "bound"
    assert top <= set(verified)
    assert all(effect == pytest.approx(exact[pair], abs=1e-4) for pair, effect in verified.items())
    assert graph.stats["agreement"]["verified"] == len(verified)
    assert graph.provenance["strategy"] == {
        "name": "attribution-then-exact",
        "k": "auto",
        "threshold": None,
        "steps": None,
    }


def test_the_command_line_takes_verify_auto_and_steps(tiny_model_folder, capsys):
    from infoflow_widget.cli import main

    args = ["graph", "--model", str(tiny_model_folder), "--prompt", PROMPT, "--answer", "mary", "--distractor", "john"]
    status = main([*args, "--strategy", "attribution-then-exact", "--verify", "auto", "--steps", "2", "--quiet",
                   "--out", "-"])  # fmt: skip
    captured = capsys.readouterr()
    assert status == 0, captured.err
    graph = json.loads(captured.out)
    assert graph["provenance"]["strategy"] == {"name": "attribution-then-exact", "k": "auto", "threshold": None,
                                               "steps": 2}  # fmt: skip
    assert graph["stats"]["steps"] == 2 and graph["stats"]["verification"]["verified"] >= 30
    assert main([*args, "--steps", "2", "--out", "-"]) == 2
    assert "--steps applies only to --strategy attribution" in capsys.readouterr().err
    with pytest.raises(SystemExit) as exit_:
        main([*args, "--strategy", "attribution-then-exact", "--verify", "some", "--out", "-"])
    assert exit_.value.code == 2 and "a whole number of edges or 'auto'" in capsys.readouterr().err


@pytest.mark.parametrize("layers", [None, [1, 2]])
def test_a_budget_for_one_layer_gives_the_same_estimates_in_segments_of_layers(tiny_model, layers):
    """Long prompts: the backward pass goes through as many layers as the budget holds, one segment per pass."""
    from infoflow_widget.engine.planning import PASS_FIXED_BYTES

    for intervention, steps in ((Zero(), 1), (Corrupt(CORRUPTED), 3)):
        whole = FlowEngine(tiny_model, PROMPT, METRIC, intervention, layers=layers, progress=False)
        split = FlowEngine(tiny_model, PROMPT, METRIC, intervention, layers=layers, progress=False)
        split.memory_budget = PASS_FIXED_BYTES + split.row_cost.gradient(split.n, 1)
        rows, segments = split._gradient_plan(steps)
        assert rows == 1 and segments == [(k, k + 1) for k in range(min(split.layers), split.num_layers)]
        passes = split.forward_passes
        torch.testing.assert_close(split.estimate(steps), whole.estimate(steps), atol=1e-6, rtol=1e-5)
        assert split.forward_passes - passes == steps * len(segments)
