"""Every batched engine result equals the one-intervention-per-pass reference, on five architectures."""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import numpy
import pytest

from infoflow_widget import (
    Attribution,
    Corrupt,
    Crop,
    Dampen,
    FlowEngine,
    InfoFlowError,
    Knockout,
    LogitDiff,
    PromptLengthError,
    Zero,
)
from infoflow_widget.engine.reference import reference_effects

PROMPT = "when mary and john went to the store , john gave a book to"
CORRUPTED = "when felix and sarah went to the store , diego gave a book to"
METRIC = LogitDiff("mary", "john")
INTERVENTIONS = [Zero(), Dampen(0.3), Dampen(1.8), Crop(), Corrupt(CORRUPTED), Knockout()]
N = 14
TOKEN_EDGES = [([j], [i]) for i in range(N) for j in range(i + 1)]
GROUP_EDGES = [
    ([0, 1, 2], [3, 4, 5]),
    ([1, 3], [9, 13]),
    ([4, 5, 6, 7], [7, 8]),
    ([10, 11], [2, 3]),
    (list(range(N)), [N - 1]),
]


@pytest.mark.parametrize("intervention", INTERVENTIONS, ids=lambda iv: f"{iv.kind}{getattr(iv, 'alpha', '')}")
def test_batched_equals_one_edge_per_pass(tiny_model, intervention):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, intervention, batch_size=32, progress=False)
    groups = TOKEN_EDGES + GROUP_EDGES
    batched = engine.effects(groups)
    clean, reference = reference_effects(tiny_model, PROMPT, METRIC, intervention, groups)
    assert engine.forward_passes >= 1 + (intervention.kind == "corrupt") + -(-len(groups) // 32)
    assert clean == pytest.approx(engine.clean_metric, abs=1e-5)
    assert batched == pytest.approx(reference, abs=1e-4)
    assert max(abs(e) for e in batched) > 1e-3, "the tiny model should show some non-zero effects"


@pytest.mark.parametrize("intervention", [Zero(), Corrupt(CORRUPTED), Knockout()], ids=["zero", "corrupt", "knockout"])
def test_layer_subset_matches_reference(tiny_model, intervention):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, intervention, layers=[1, 2], progress=False)
    groups = TOKEN_EDGES[::3]
    _, reference = reference_effects(tiny_model, PROMPT, METRIC, intervention, groups, layers=[1, 2])
    assert engine.effects(groups) == pytest.approx(reference, abs=1e-4)
    everywhere = FlowEngine(tiny_model, PROMPT, METRIC, intervention, progress=False).effects(groups)
    assert engine.effects(groups) != pytest.approx(everywhere, abs=1e-6)


def test_batch_size_does_not_change_results(tiny_model):
    one = FlowEngine(tiny_model, PROMPT, METRIC, Crop(), batch_size=1, progress=False)
    many = FlowEngine(tiny_model, PROMPT, METRIC, Crop(), batch_size=50, progress=False)
    assert one.effects(TOKEN_EDGES) == pytest.approx(many.effects(TOKEN_EDGES), abs=1e-4)
    assert one.forward_passes == 1 + len(TOKEN_EDGES)
    assert 1 + 3 <= many.forward_passes < one.forward_passes
    # prefix reuse: a batch computes only the positions from its earliest target on
    minimum = sum((i + 1) * (N - i) for i in range(N))
    assert one.positions - N == minimum < many.positions - N < len(TOKEN_EDGES) * N


def test_dampen_limits():
    from conftest import make_tiny

    model = make_tiny("llama")
    zero = FlowEngine(model, PROMPT, METRIC, Zero(), progress=False).effects(TOKEN_EDGES)
    assert FlowEngine(model, PROMPT, METRIC, Dampen(0.0), progress=False).effects(TOKEN_EDGES) == pytest.approx(
        zero, abs=1e-6
    )
    assert FlowEngine(model, PROMPT, METRIC, Dampen(1.0), progress=False).effects(TOKEN_EDGES) == pytest.approx(
        [0.0] * len(TOKEN_EDGES), abs=1e-6
    )


def test_sliding_window_is_respected():
    """Gemma 3's local layers see 4 positions here: edges further apart carry nothing in those layers."""
    from conftest import make_tiny

    model = make_tiny("gemma3")
    engine = FlowEngine(model, PROMPT, METRIC, Zero(), layers=[0, 2], progress=False)
    effects = dict(zip(map(str, TOKEN_EDGES), engine.effects(TOKEN_EDGES)))
    far = [e for (s, t) in TOKEN_EDGES if t[0] - s[0] >= 4 for e in [effects[str((s, t))]]]
    near = [e for (s, t) in TOKEN_EDGES if t[0] - s[0] < 4 for e in [effects[str((s, t))]]]
    assert far and max(abs(e) for e in far) < 1e-6  # batched matmuls round differently, nothing more
    assert max(abs(e) for e in near) > 1e-3
    # the global layer does see far positions
    full = FlowEngine(model, PROMPT, METRIC, Zero(), layers=[1], progress=False).effects([([0], [13])])
    assert abs(full[0]) > 0.0


@dataclass(frozen=True)
class ScoresKnockout(Knockout):
    """The knockout as -inf at the raw-scores site q . k: what Knockout must not do."""

    edits: ClassVar[tuple[str, ...]] = ("scores",)

    def edit_scores(self, scores, query, edit, context=None):
        return scores.masked_fill(edit, float("-inf"))


@pytest.mark.parametrize("arch", ["llama", "gemma2"])
def test_knockout_must_act_after_soft_capping(arch):
    """-inf at the raw scores leaves Gemma 2's soft-capping c tanh(s / c) with -c, a finite score: no knockout.

    Without soft-capping (Llama, and Gemma 3 as transformers runs it) the raw-scores site would do; Knockout
    edits the pattern, which is after both.
    Row 0's self-edge is left out: -inf there leaves a row of -inf, which the softmax makes NaN.
    """
    from conftest import make_tiny

    model = make_tiny(arch, attn_implementation="eager")  # Gemma 2 has no SDPA
    groups = TOKEN_EDGES[1:]
    _, reference = reference_effects(model, PROMPT, METRIC, Knockout(), groups)
    at_scores = FlowEngine(model, PROMPT, METRIC, ScoresKnockout(), progress=False).effects(groups)
    assert FlowEngine(model, PROMPT, METRIC, Knockout(), progress=False).effects(groups) == pytest.approx(
        reference, abs=1e-4
    )
    if arch == "gemma2":  # off by a tenth of the largest effect: far beyond the tolerance of 1e-4
        assert max(abs(a - b) for a, b in zip(at_scores, reference)) > 0.05 * max(abs(e) for e in reference) > 1e-3
    else:
        assert at_scores == pytest.approx(reference, abs=1e-4)


def test_memory_budget_sets_the_batch_size():
    from conftest import make_tiny

    from infoflow_widget.engine.planning import PASS_FIXED_BYTES

    model = make_tiny("qwen2")
    roomy = FlowEngine(model, PROMPT, METRIC, Zero(), progress=False)
    row = roomy.row_cost.forward(roomy.n, roomy.n)
    tight = FlowEngine(model, PROMPT, METRIC, Zero(), memory_budget=PASS_FIXED_BYTES + 5 * row, progress=False)
    assert roomy.batch_size == 128 and tight.batch_size == 5
    assert tight.rows_per_pass(roomy.n - 1) > 5, "a pass that starts later computes fewer positions: more rows"
    assert tight.effects(TOKEN_EDGES) == pytest.approx(roomy.effects(TOKEN_EDGES), abs=1e-4)
    assert tight.forward_passes > roomy.forward_passes


def test_a_budget_below_one_row_names_the_least_budget_that_works():
    from conftest import make_tiny

    from infoflow_widget.engine.planning import PASS_FIXED_BYTES

    model = make_tiny("llama")
    with pytest.raises(InfoFlowError, match=r"below what one row of a forward pass .* needs: give memory_budget="):
        FlowEngine(model, PROMPT, METRIC, Zero(), memory_budget=PASS_FIXED_BYTES, progress=False)
    engine = FlowEngine(model, PROMPT, METRIC, Zero(), progress=False)
    engine.memory_budget = PASS_FIXED_BYTES + engine.row_cost.forward(engine.n, engine.n, 1)
    passes = engine.forward_passes
    with pytest.raises(InfoFlowError, match="below what one gradient pass through one layer over 14 tokens") as caught:
        engine.graph(Attribution())
    assert engine.forward_passes == passes, "no pass before the error"
    least = int(str(caught.value).split("memory_budget=")[-1].split(" ")[0].replace(",", ""))
    engine.memory_budget = least
    assert engine.graph(Attribution()).edges, "the budget it names works"


def test_progress_callback_and_cancellation():
    import threading

    from conftest import make_tiny

    from infoflow_widget import ComputationCancelled, compute_flow

    model = make_tiny("llama")
    calls = []
    compute_flow(model, PROMPT, METRIC, batch_size=40, progress=lambda done, total, desc: calls.append((done, total)))
    done = [d for d, _ in calls]
    assert done == sorted(done) and done[-1] == 105 and {t for _, t in calls} == {105}
    assert all(0 < b - a <= 40 for a, b in zip([0, *done], done))
    cancel = threading.Event()

    def stop_after_first(done, total, desc):
        cancel.set()

    with pytest.raises(ComputationCancelled, match=f"cancelled after {done[0]} of 105"):
        compute_flow(model, PROMPT, METRIC, batch_size=40, progress=stop_after_first, cancel=cancel)


@pytest.mark.parametrize("arch", ["gemma3", "llama"])
@pytest.mark.parametrize("dtype", ["bfloat16", "float16"])
@pytest.mark.parametrize(
    "intervention",
    [Zero(), Dampen(0.3), Crop(), Corrupt(CORRUPTED), Knockout()],
    ids=lambda iv: f"{iv.kind}{getattr(iv, 'alpha', '')}",
)
def test_half_precision_runs_and_agrees_with_the_reference_at_its_precision(intervention, dtype, arch):
    """Half precision is for GPUs; here it has to work and agree with the reference run in the same precision."""
    import torch
    from conftest import make_tiny

    model = make_tiny(arch)
    model._module.to(getattr(torch, dtype))
    engine = FlowEngine(model, PROMPT, METRIC, intervention, progress=False)
    _, reference = reference_effects(model, PROMPT, METRIC, intervention, TOKEN_EDGES)
    effects = engine.effects(TOKEN_EDGES)
    assert effects == pytest.approx(reference, abs=5e-3, rel=2e-2)
    # Most effects of a tiny model sit below that tolerance: their pattern must match too.
    assert numpy.corrcoef(effects, reference)[0, 1] > 0.98
    assert max(abs(e) for e in reference) > 2e-2
    assert engine.estimate().isfinite().all()


def test_out_of_memory_halves_the_batch_and_retries():
    """A device that cannot hold more than 8 rows: the engine halves its batches until they fit."""
    import torch
    from conftest import make_tiny

    model = make_tiny("llama")

    def small_device(module, args, kwargs):
        if kwargs["input_ids"].shape[0] > 8:
            raise torch.OutOfMemoryError("simulated: 8 rows at most")

    handle = model._module.register_forward_pre_hook(small_device, with_kwargs=True)
    try:
        engine = FlowEngine(model, PROMPT, METRIC, Zero(), batch_size=64, progress=False)
        effects = engine.effects(TOKEN_EDGES)
    finally:
        handle.remove()
    assert engine.batch_size == 8
    reference = FlowEngine(model, PROMPT, METRIC, Zero(), batch_size=8, progress=False).effects(TOKEN_EDGES)
    assert effects == pytest.approx(reference, abs=1e-6)


def test_an_engine_with_another_intervention_shares_the_clean_run_and_matches_the_reference(tiny_model):
    """The widget's route: one clean run, then each alpha (or intervention) costs only its intervened passes."""
    base = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), layers=[0, 2], batch_size=16, progress=False)
    groups = TOKEN_EDGES[::2] + GROUP_EDGES
    for intervention in (Dampen(0.3), Crop(), Corrupt(CORRUPTED), Knockout(), Zero()):
        derived = base.with_intervention(intervention)
        assert derived.intervention is intervention and base.intervention == Zero()
        assert derived.forward_passes == (intervention.kind == "corrupt"), "no clean run, Corrupt's prompt once"
        _, reference = reference_effects(tiny_model, PROMPT, METRIC, intervention, groups, layers=[0, 2])
        assert derived.effects(groups) == pytest.approx(reference, abs=1e-4)
        assert derived.clean_metric == base.clean_metric and derived.batch_size == 16
    assert base.forward_passes == 1 and base.interventions == 0, "the base engine's counters are its own"


def test_an_engine_with_a_bad_intervention_fails_before_any_work(tiny_model):
    base = FlowEngine(tiny_model, PROMPT, METRIC, progress=False)
    with pytest.raises(InfoFlowError, match="intervention must be"):
        base.with_intervention("dampen")
    with pytest.raises(PromptLengthError, match="same length"):
        base.with_intervention(Corrupt("when felix went to the store"))
    assert base.intervention == Zero() and base.forward_passes == 1


def test_traces_of_one_model_from_two_threads_take_turns(tiny_model):
    """nnsight runs one trace of a model at a time: engines in two threads share the model's trace lock."""
    import threading

    groups = TOKEN_EDGES + GROUP_EDGES
    expected = {
        iv.kind: FlowEngine(tiny_model, PROMPT, METRIC, iv, progress=False).effects(groups) for iv in (Zero(), Crop())
    }
    got, errors = {}, []

    def measure(intervention):
        try:
            engine = FlowEngine(tiny_model, PROMPT, METRIC, intervention, batch_size=2, progress=False)
            got[intervention.kind] = engine.effects(groups)
        except Exception as err:  # noqa: BLE001 - collected for the assertion below
            errors.append(err)

    threads = [threading.Thread(target=measure, args=(iv,)) for iv in (Zero(), Crop())]
    for thread in threads:
        thread.start()
    for thread in threads:
        thread.join(120)
    assert errors == []
    assert got["zero"] == pytest.approx(expected["zero"], abs=1e-5)
    assert got["crop"] == pytest.approx(expected["crop"], abs=1e-5)
