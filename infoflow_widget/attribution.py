"""First-order estimates of every token edge's effect, from one forward and one backward pass.

An edge's effect is ``M(clean) - M(intervened)``. To first order it is ``-sum <dM/dX, dX>`` over
the activations X the intervention changes, summed over every head of every chosen layer:

- Zero and Dampen(alpha) change one pattern entry by ``(alpha - 1) A_ij``: the estimate is
  ``(1 - alpha) * sum_heads G_ij A_ij`` with G the gradient of the metric at the pattern.
- Crop removes keys 0..j of row i and renormalises: with ``r_j`` the mass of the kept keys j+1..i,
  the row changes by ``-A_ik`` for k <= j and by ``A_ik (1 - r_j) / r_j`` for k > j.
- Corrupt changes the raw score by ``q_i . (k'_j - k_j)`` and the output of row i by
  ``A_ij (v'_j - v_j)``: the estimate uses the gradients at the scores and at the head outputs.

Tensors are one layer's ``(head, query, key)`` patterns and gradients (batch of one, squeezed);
results are ``(target, source)`` matrices, zero above the diagonal.
"""

from __future__ import annotations

import math
from typing import TYPE_CHECKING

from .interventions import Crop, Dampen, Intervention, Zero

if TYPE_CHECKING:
    import torch


def pattern_first_order(intervention: Intervention, pattern: torch.Tensor, grad: torch.Tensor) -> torch.Tensor:
    """The estimate for Zero, Dampen or Crop from one layer's pattern and its gradient."""
    weighted = (grad * pattern).double()
    if isinstance(intervention, (Zero, Dampen)):
        alpha = intervention.alpha if isinstance(intervention, Dampen) else 0.0
        return ((1.0 - alpha) * weighted.sum(0)).tril()
    if not isinstance(intervention, Crop):
        raise TypeError(f"No pattern estimate for {type(intervention).__name__}.")
    removed = weighted.cumsum(-1)  # sum over k <= j of G A
    total = weighted.sum(-1, keepdim=True)
    mass = pattern.double()
    kept = mass.sum(-1, keepdim=True) - mass.cumsum(-1)  # the mass of keys j+1..i (rows sum to 1 only roughly)
    # Kept keys are scaled by 1 / kept; when (almost) nothing is kept, the row empties: every entry changes by -A.
    change = (-removed + (1.0 - kept) / kept.clamp_min(1e-12) * (total - removed)).where(kept > 1e-6, -total)
    return (-change).sum(0).tril()


def corrupt_first_order(
    query: torch.Tensor,
    keys_t: torch.Tensor,
    corrupt_keys_t: torch.Tensor,
    scores_grad: torch.Tensor,
    pattern: torch.Tensor,
    values: torch.Tensor,
    corrupt_values: torch.Tensor,
    output_grad: torch.Tensor,
) -> torch.Tensor:
    """The estimate for Corrupt from one layer's queries, keys, values, pattern and gradients."""
    score_change = (query @ (corrupt_keys_t - keys_t)).double()
    value_change = (output_grad @ (corrupt_values - values).transpose(-1, -2)).double() * pattern.double()
    return -(scores_grad.double() * score_change + value_change).sum(0).tril()


def agreement(estimates: list[float], exact: list[float]) -> dict[str, float | int | None]:
    """How well estimates ranked and matched exact values: Pearson correlation and top-10 overlap.

    The overlap counts the edges among the 10 strongest by estimate that are also among the 10
    strongest by exact value; with 10 or fewer verified edges both sets are all of them, so it is None.
    """
    count = len(exact)
    mean_e, mean_x = sum(estimates) / count, sum(exact) / count
    cov = sum((e - mean_e) * (x - mean_x) for e, x in zip(estimates, exact))
    spread = math.sqrt(sum((e - mean_e) ** 2 for e in estimates) * sum((x - mean_x) ** 2 for x in exact))
    overlap = len(set(_strongest(estimates, 10)) & set(_strongest(exact, 10))) if count > 10 else None
    return {
        "verified": count,
        "correlation": round(cov / spread, 4) if math.isfinite(spread) and spread > 0 else None,
        "top10_overlap": overlap,
    }


def _strongest(values: list[float], k: int) -> list[int]:
    """Indices of the k largest |values|, NaN last."""
    return sorted(range(len(values)), key=lambda i: -1.0 if math.isnan(values[i]) else abs(values[i]), reverse=True)[:k]
