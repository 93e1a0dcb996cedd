"""Interventions on attention edges, tested on small random tensors (no model)."""

from __future__ import annotations

import json
from typing import get_args

import pytest
import torch

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.interventions.base import AttentionTensor, Site
from infoflow_widget.interventions.corrupt import Corrupt
from infoflow_widget.interventions.edges import edit_masks
from infoflow_widget.interventions.patterns import Crop, Dampen, Knockout, Zero
from infoflow_widget.interventions.registry import INTERVENTIONS, build_intervention, intervention_menu

N = 6


def causal_scores(batch: int = 1, heads: int = 2, n: int = N, seed: int = 0) -> torch.Tensor:
    """Random (batch, head, n, n) scores with -inf above the diagonal."""
    torch.manual_seed(seed)
    scores = torch.randn(batch, heads, n, n, dtype=torch.float64)
    return scores.masked_fill(~torch.ones(n, n, dtype=torch.bool).tril(), float("-inf"))


def causal_pattern(batch: int = 1, heads: int = 2, n: int = N, seed: int = 0) -> torch.Tensor:
    return causal_scores(batch, heads, n, seed).softmax(-1)


# ---------------------------------------------------------------- edit_masks


def test_edit_masks_marks_exactly_the_causal_target_source_cells():
    groups = [([1], [3]), ([0, 2, 5], [2, 4]), ([4], [1])]
    mask = edit_masks(groups, N)
    assert mask.shape == (3, 1, N, N) and mask.dtype == torch.bool
    expected = [{(3, 1)}, {(2, 0), (2, 2), (4, 0), (4, 2)}, set()]  # 5 -> 2, 5 -> 4 and 4 -> 1 are acausal
    for row, cells in enumerate(expected):
        assert {tuple(c) for c in mask[row, 0].nonzero().tolist()} == cells


# ---------------------------------------------------------------- Zero and Dampen


def test_zero_removes_edited_mass_without_renormalising():
    pattern = causal_pattern()
    edit = edit_masks([([0, 2], [3, 4])], N)
    out = Zero().edit_pattern(pattern, edit)
    cells = edit.expand_as(pattern)
    assert torch.all(out[cells] == 0)
    assert torch.equal(out[~cells], pattern[~cells])
    removed = (pattern * edit).sum(-1)
    assert torch.allclose(out.sum(-1), pattern.sum(-1) - removed, atol=1e-12)
    assert removed[0, :, 3].min() > 0  # so the row sum really did drop


@pytest.mark.parametrize("alpha", [0.25, 2.0])
def test_dampen_scales_only_edited_cells(alpha):
    pattern = causal_pattern(seed=1)
    edit = edit_masks([([1], [4])], N)
    out = Dampen(alpha).edit_pattern(pattern, edit)
    assert torch.equal(out[..., 4, 1], pattern[..., 4, 1] * alpha)
    cells = edit.expand_as(pattern)
    assert torch.equal(out[~cells], pattern[~cells])


def test_dampen_zero_is_zero_and_one_is_identity():
    pattern = causal_pattern(batch=2, seed=2)
    edit = edit_masks([([0, 1], [2, 5]), ([3], [3])], N)
    assert torch.equal(Dampen(0).edit_pattern(pattern, edit), Zero().edit_pattern(pattern, edit))
    assert torch.equal(Dampen(1.0).edit_pattern(pattern, edit), pattern)


@pytest.mark.parametrize("alpha", [-0.1, float("nan"), float("inf"), "0.5"])
def test_dampen_rejects_bad_alpha(alpha):
    with pytest.raises(InfoFlowError, match="alpha"):
        Dampen(alpha)


# ---------------------------------------------------------------- Crop


def cropped_softmax(scores: torch.Tensor, row: int, last_removed: int) -> torch.Tensor:
    """Softmax of one query row with keys 0..last_removed masked, computed independently."""
    masked = scores[..., row, :].clone()
    masked[..., : last_removed + 1] = float("-inf")
    return masked.softmax(-1)


def test_crop_token_edge_renormalises_over_later_keys():
    scores = causal_scores(seed=3)
    pattern = scores.softmax(-1)
    out = Crop().edit_pattern(pattern, edit_masks([([2], [4])], N))
    assert torch.all(out[..., 4, :3] == 0)
    assert torch.allclose(out[..., 4, :].sum(-1), torch.ones(2, dtype=torch.float64))
    assert torch.allclose(out[..., 4, :], cropped_softmax(scores, 4, 2), atol=1e-12)
    others = [r for r in range(N) if r != 4]
    assert torch.equal(out[..., others, :], pattern[..., others, :])


def test_crop_group_edge_removes_up_to_last_causal_source():
    scores = causal_scores(seed=4)
    pattern = scores.softmax(-1)
    out = Crop().edit_pattern(pattern, edit_masks([([0, 2, 4], [3, 5])], N))
    assert torch.allclose(out[..., 3, :], cropped_softmax(scores, 3, 2), atol=1e-12)  # source 4 is after 3
    assert torch.allclose(out[..., 5, :], cropped_softmax(scores, 5, 4), atol=1e-12)
    assert torch.equal(out[..., :3, :], pattern[..., :3, :])


def test_crop_self_edge_leaves_an_empty_row():
    pattern = causal_pattern(seed=5)
    out = Crop().edit_pattern(pattern, edit_masks([([3], [3])], N))
    assert not torch.isnan(out).any()
    assert torch.all(out[..., 3, :] == 0)
    assert torch.equal(out[..., 4, :], pattern[..., 4, :])


# ---------------------------------------------------------------- Knockout


def knocked_out_softmax(scores: torch.Tensor, row: int, removed: list[int]) -> torch.Tensor:
    """Softmax of one query row with the keys ``removed`` at -inf, computed independently."""
    masked = scores[..., row, :].clone()
    masked[..., removed] = float("-inf")
    return masked.softmax(-1)


def test_knockout_is_a_softmax_over_the_remaining_keys():
    scores = causal_scores(seed=6)
    pattern = scores.softmax(-1)
    out = Knockout().edit_pattern(pattern, edit_masks([([0, 2, 4], [3, 5])], N))
    assert torch.allclose(out[..., 3, :], knocked_out_softmax(scores, 3, [0, 2]), atol=1e-12)  # 4 is after 3
    assert torch.allclose(out[..., 5, :], knocked_out_softmax(scores, 5, [0, 2, 4]), atol=1e-12)
    assert torch.all(out[..., 5, [0, 2, 4]] == 0) and out[..., 5, [1, 3, 5]].min() > pattern[..., 5, [1, 3, 5]].min()
    others = [r for r in range(N) if r not in (3, 5)]
    assert torch.equal(out[..., others, :], pattern[..., others, :])


def test_knockout_differs_from_zero_and_crop_by_what_it_keeps():
    pattern = causal_pattern(seed=7)
    edit = edit_masks([([2], [4])], N)
    knocked, zeroed, cropped = (iv.edit_pattern(pattern, edit) for iv in (Knockout(), Zero(), Crop()))
    assert torch.allclose(knocked[..., 4, :].sum(-1), torch.ones(2, dtype=torch.float64))  # renormalised, Zero is not
    assert torch.allclose(knocked[..., 4, :], zeroed[..., 4, :] / zeroed[..., 4, :].sum(-1, keepdim=True))
    assert knocked[..., 4, :2].min() > 0 and torch.all(cropped[..., 4, :3] == 0)  # keys 0, 1 stay, Crop drops them


def test_knockout_of_the_only_key_leaves_an_empty_row():
    """Query 0 sees key 0 alone: the self-edge 0 -> 0 leaves no key, and that head writes nothing at 0 (as Crop)."""
    pattern = causal_pattern(batch=2, seed=8)
    out = Knockout().edit_pattern(pattern, edit_masks([([0], [0]), ([0, 1, 2], [2])], N))
    assert not torch.isnan(out).any()
    assert torch.all(out[0, :, 0] == 0) and torch.all(out[1, :, 2] == 0)
    assert torch.equal(out[0, :, 1:], pattern[0, :, 1:]) and torch.equal(out[1, :, 3:], pattern[1, :, 3:])


def test_knockout_of_a_key_without_weight_changes_nothing():
    """A key outside a sliding window has weight 0: knocking it out leaves the row bit for bit."""
    pattern = causal_pattern(seed=9)
    pattern[..., 5, :2] = 0.0
    pattern[..., 5, :] /= pattern[..., 5, :].sum(-1, keepdim=True) * (1 + 1e-9)  # a row summing to 1 only roughly
    assert torch.equal(Knockout().edit_pattern(pattern, edit_masks([([0, 1], [5])], N)), pattern)


def test_knockout_keeps_a_sink_row_exact():
    """A key holding all but 1e-34 of a row: the rest still renormalises to the softmax over the remaining keys.

    Within 1e-5: float32 softmax rounds exp(s - 80) to a relative 80 x 6e-8 (its own error, not the renormalising's).
    """
    scores = causal_scores(seed=10)
    scores[..., 5, 0] = 80.0
    out = Knockout().edit_pattern(scores.float().softmax(-1), edit_masks([([0], [5])], N))
    exact = knocked_out_softmax(scores.float().double(), 5, [0])  # from the same float32 scores
    assert torch.allclose(out[..., 5, :].double(), exact, rtol=1e-5, atol=0)


# ---------------------------------------------------------------- Corrupt


@pytest.mark.parametrize("prompt", ["", "   \n"])
def test_corrupt_needs_a_prompt(prompt):
    with pytest.raises(InfoFlowError, match="corrupted prompt"):
        Corrupt(prompt)


def test_corrupt_scores_uses_corrupted_keys_on_edited_cells_only():
    torch.manual_seed(6)
    batch, heads, d = 2, 2, 3
    query = torch.randn(batch, heads, N, d, dtype=torch.float64)
    key = torch.randn(batch, heads, N, d, dtype=torch.float64)
    corrupt_key = torch.randn(1, heads, N, d, dtype=torch.float64)
    scores = query @ key.transpose(-1, -2)
    edit = edit_masks([([1, 2], [4]), ([0], [0, 5])], N)
    out = Corrupt("x").edit_scores(scores, query, edit, {"keys_t": corrupt_key.transpose(-1, -2)})
    for b in range(batch):
        for h in range(heads):
            for i in range(N):
                for j in range(N):
                    k = corrupt_key[0, h, j] if edit[b, 0, i, j] else key[b, h, j]
                    assert torch.isclose(out[b, h, i, j], (query[b, h, i] * k).sum(), atol=1e-12)


def test_corrupt_output_swaps_values_of_edited_cells_only():
    torch.manual_seed(7)
    batch, heads, d = 2, 2, 3
    pattern = causal_pattern(batch, heads, seed=7)
    value = torch.randn(batch, heads, N, d, dtype=torch.float64)
    corrupt_value = torch.randn(1, heads, N, d, dtype=torch.float64)
    output = pattern @ value
    edit = edit_masks([([1, 3], [3, 5]), ([2], [2])], N)
    out = Corrupt("x").edit_output(output, pattern, value, edit, {"values": corrupt_value})
    for b in range(batch):
        for h in range(heads):
            for i in range(N):
                expected = sum(
                    pattern[b, h, i, j] * (corrupt_value[0, h, j] if edit[b, 0, i, j] else value[b, h, j])
                    for j in range(N)
                )
                assert torch.allclose(out[b, h, i], expected, atol=1e-12)
                if not edit[b, 0, i].any():
                    assert torch.equal(out[b, h, i], output[b, h, i])


# ---------------------------------------------------------------- params / describe


@pytest.mark.parametrize(
    "intervention, expected",
    [
        (Zero(), {"kind": "zero"}),
        (Dampen(0.3), {"kind": "dampen", "alpha": 0.3}),
        (Crop(), {"kind": "crop"}),
        (Knockout(), {"kind": "knockout"}),
        (Corrupt("john gave mary"), {"kind": "corrupt", "corrupted_prompt": "john gave mary"}),
    ],
)
def test_params_and_describe(intervention, expected):
    params = intervention.params()
    assert params == expected
    assert json.loads(json.dumps(params)) == expected
    text = intervention.describe()
    assert isinstance(text, str) and text.startswith(expected["kind"])
    if "alpha" in expected:
        assert "0.3" in text
    if "corrupted_prompt" in expected:
        assert "john gave mary" in text


# ---------------------------------------------------------------- registry


def test_the_registry_builds_each_intervention_by_name():
    assert all(cls.kind == name for name, cls in INTERVENTIONS.items())
    assert build_intervention("dampen", alpha=0.3, corrupted_prompt=None) == Dampen(0.3)
    assert build_intervention("dampen") == Dampen()
    assert build_intervention("corrupt", alpha=None, corrupted_prompt="john gave mary") == Corrupt("john gave mary")
    assert build_intervention("crop", alpha=None, corrupted_prompt=None) == Crop()
    assert build_intervention("knockout", alpha=None, corrupted_prompt=None) == Knockout()


@pytest.mark.parametrize(
    "name, parameters, message",
    [
        ("shrink", {}, "intervention must be one of zero, dampen, crop, corrupt, knockout"),
        ("zero", {"alpha": 0.5}, "zero takes no parameters, not alpha"),
        ("knockout", {"alpha": 0.5}, "knockout takes no parameters, not alpha"),
        ("knockout", {"corrupted_prompt": "mary"}, "knockout takes no parameters, not corrupted_prompt"),
        ("dampen", {"corrupted_prompt": "mary"}, "dampen takes alpha, not corrupted_prompt"),
        ("dampen", {"alpha": -1.0}, "alpha >= 0"),
        ("corrupt", {}, "corrupted prompt"),
    ],
)
def test_build_intervention_refuses_bad_input(name, parameters, message):
    with pytest.raises(InfoFlowError, match=message):
        build_intervention(name, **parameters)


def test_the_menu_lists_names_descriptions_and_parameters():
    menu = intervention_menu()
    assert [item["name"] for item in menu] == list(INTERVENTIONS)
    assert {item["name"]: item["parameters"] for item in menu} == {
        "zero": {},
        "dampen": {"alpha": 0.5},
        "crop": {},
        "corrupt": {"corrupted_prompt": ""},
        "knockout": {},
    }
    assert menu[0]["description"] == "Zero pattern: A[i, j] = 0 after the softmax, without renormalising the row."
    assert json.loads(json.dumps(menu)) == menu


def test_each_intervention_names_sites_and_tensors_the_engine_reaches():
    order = list(get_args(Site))
    for cls in INTERVENTIONS.values():
        assert cls.edits and list(cls.edits) == sorted(cls.edits, key=order.index), "sites in execution order"
        assert cls.saves and set(cls.saves) <= set(get_args(AttentionTensor))
