"""First-order estimates are exact for a metric that is linear in the changed activations.

Each case builds a random linear metric M(X) = sum(W * X), so its gradient is W and the first
order is the whole change: each intervention's ``first_order`` must equal M(clean) - M(intervened),
with the intervened activations made by the intervention's own edit hooks (an independent path).
"""

from __future__ import annotations

import pytest
import torch

from infoflow_widget.interventions.corrupt import Corrupt
from infoflow_widget.interventions.edges import edit_masks
from infoflow_widget.interventions.patterns import Crop, Dampen, Knockout, Zero
from infoflow_widget.search.strategies import estimate_agreement

H, N, D = 3, 7, 4


def causal_pattern() -> torch.Tensor:
    scores = torch.randn(H, N, N) * 2
    return scores.masked_fill(~torch.ones(N, N, dtype=torch.bool).tril(), float("-inf")).softmax(-1)


@pytest.mark.parametrize(
    "intervention", [Zero(), Dampen(0.3), Dampen(1.7), Crop(), Knockout()], ids=lambda iv: repr(iv)
)
def test_pattern_estimate_is_exact_for_a_linear_metric(intervention):
    torch.manual_seed(0)
    pattern, weight = causal_pattern().double(), torch.randn(H, N, N).double()
    estimate = intervention.first_order({"pattern": pattern}, {"pattern": weight})
    for i in range(N):
        for j in range(i + 1):
            edited = intervention.edit_pattern(pattern[None], edit_masks([([j], [i])], N))[0]
            exact = (weight * pattern).sum() - (weight * edited).sum()
            assert estimate[i, j].item() == pytest.approx(exact.item(), abs=1e-9), (i, j)
    assert (estimate.triu(1) == 0).all()


def test_corrupt_estimate_is_exact_for_a_linear_metric():
    torch.manual_seed(1)
    query, keys_t, corrupt_keys_t = (torch.randn(H, *shape).double() for shape in [(N, D), (D, N), (D, N)])
    values, corrupt_values = torch.randn(H, N, D).double(), torch.randn(H, N, D).double()
    pattern = causal_pattern().double()
    w_scores, w_output = torch.randn(H, N, N).double(), torch.randn(H, N, D).double()
    scores, output = query @ keys_t, pattern @ values

    def metric(s, o):
        return (w_scores * s).sum() + (w_output * o).sum()

    corrupt = Corrupt("a corrupted prompt")
    context = {"keys_t": corrupt_keys_t[None], "values": corrupt_values[None]}  # as prepared: batch of one
    tensors = {"query": query, "keys_t": keys_t, "scores": scores, "weights": pattern, "values": values}
    estimate = corrupt.first_order({**tensors, "output": output}, {"scores": w_scores, "output": w_output}, context)
    for i in range(N):
        for j in range(i + 1):
            edit = edit_masks([([j], [i])], N)
            s2 = corrupt.edit_scores(scores[None], query[None], edit, context)[0]
            o2 = corrupt.edit_output(output[None], pattern[None], values[None], edit, context)[0]
            exact = metric(scores, output) - metric(s2, o2)
            assert estimate[i, j].item() == pytest.approx(exact.item(), abs=1e-9), (i, j)


def test_estimate_agreement():
    result = estimate_agreement([1.0, 2.0, 3.0, -4.0], [1.1, 2.2, 2.9, -3.8])
    assert result["verified"] == 4 and 0.99 < result["correlation"] <= 1
    assert result["top10_overlap"] is None, "4 verified edges are their own top 10: no overlap to report"
    assert estimate_agreement([1.0, 1.0], [2.0, 3.0])["correlation"] is None


def test_top10_overlap_ranks_by_magnitude_with_nan_last():
    estimates = [float(k) for k in range(20)]  # strongest: 10..19
    exact = [float(k) for k in range(20)]
    exact[19], exact[0] = -100.0, float("nan")  # sign does not matter; NaN is never among the strongest
    assert estimate_agreement(estimates, exact)["top10_overlap"] == 10
    exact[10] = 0.0  # 10 leaves the exact top 10 and 9 (an edge outside the estimated top 10) joins it
    assert estimate_agreement(estimates, exact)["top10_overlap"] == 9
