"""Interventions that edit the attention pattern of the cut edges: Zero, Dampen, Crop and Knockout."""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from ..core.errors import InfoFlowError, is_non_negative

if TYPE_CHECKING:
    import torch


from .base import AttentionTensor, EagerCall, Intervention, Site


@dataclass(frozen=True)
class PatternIntervention(Intervention):
    """An intervention on the post-softmax pattern alone; its reference edits the pattern row by row."""

    edits: ClassVar[tuple[Site, ...]] = ("pattern",)
    saves: ClassVar[tuple[AttentionTensor, ...]] = ("pattern",)

    def reference_edit(self, call: EagerCall, sources: list[int], targets: list[int]) -> torch.Tensor:
        pattern = call.weights.clone()
        for i in targets:
            js = [j for j in sources if j <= i]
            if js:
                self.reference_row(pattern[:, :, i], js)
        return call.attend(pattern)

    def reference_row(self, row: torch.Tensor, sources: list[int]) -> None:
        """Edit one query row ``(batch, head, key)`` of the pattern in place, for the sources it can see."""
        raise TypeError(f"{type(self).__name__} does not define reference_row().")


@dataclass(frozen=True)
class Zero(PatternIntervention):
    """Zero pattern: A[i, j] = 0 after the softmax, without renormalising the row."""

    kind: ClassVar[str] = "zero"

    def describe(self) -> str:
        return "zero pattern: attention from i to j set to 0 after the softmax"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        return pattern.masked_fill(edit, 0.0)

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Every weight scaled by 1 - t: alpha from 1 to 0."""
        return _scaled_path(pattern, t, 0.0)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        return _scaling_first_order(tensors["pattern"], grads["pattern"], 0.0)

    def reference_row(self, row: torch.Tensor, sources: list[int]) -> None:
        row[:, :, sources] = 0.0


@dataclass(frozen=True)
class Dampen(PatternIntervention):
    """Dampening: A[i, j] *= alpha after the softmax (0 equals Zero, 1 changes nothing, >1 amplifies)."""

    alpha: float = 0.5
    kind: ClassVar[str] = "dampen"
    edit_tensors: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if not is_non_negative(self.alpha):
            raise InfoFlowError(
                "Dampen needs a finite alpha >= 0 (0 knocks attention out, 1 leaves it, >1 amplifies); "
                f"got {self.alpha!r}."
            )

    def describe(self) -> str:
        return f"dampen: attention from i to j multiplied by alpha = {self.alpha:g} after the softmax"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        import torch

        return torch.where(edit, pattern * self.alpha, pattern)

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Every weight scaled by 1 - t (1 - alpha): the scale from 1 to alpha."""
        return _scaled_path(pattern, t, self.alpha)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        return _scaling_first_order(tensors["pattern"], grads["pattern"], self.alpha)

    def reference_row(self, row: torch.Tensor, sources: list[int]) -> None:
        row[:, :, sources] *= self.alpha


def _scaled_path(pattern: torch.Tensor, t: torch.Tensor, alpha: float) -> torch.Tensor:
    """The pattern scaled by ``1 - t (1 - alpha)`` per batch row: the straight line to every weight times alpha.

    At t = 0 the scale is exactly 1, so the clean row of a path trace is the clean run bit for bit.
    """
    return pattern * (1.0 - t * (1.0 - alpha)).to(pattern.dtype)


def _scaling_first_order(pattern: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
    """Scaling A_ij by alpha changes it by ``(alpha - 1) A_ij``: the estimate is ``(1 - alpha) sum_heads G_ij A_ij``."""
    return ((1.0 - alpha) * (grad * pattern).double().sum(0)).tril()


@dataclass(frozen=True)
class Crop(PatternIntervention):
    """Crop: query i sees only keys j+1..i; keys 0..j are removed and the row renormalised.

    For a group edge, i loses every key up to the last source position at or before i. Removing
    all of a row's keys (the self-edge i -> i) leaves the row empty: that head writes nothing at i.
    Renormalising the post-softmax row equals a softmax over the remaining keys.
    """

    kind: ClassVar[str] = "crop"
    edit_tensors: ClassVar[int] = 3

    def describe(self) -> str:
        return "crop: i sees only the keys after j (keys up to j removed, the row renormalised)"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        removed = edit.flip(-1).cummax(-1).values.flip(-1)  # every key at or before an edited one
        return _renormalised_without(pattern, removed, edit.any(-1, keepdim=True))

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Zero's path, A (1 - t): cropping every edge (i -> i removes all of row i's keys) empties every row.

        See :meth:`Knockout.path_pattern`: the same reasoning holds.
        """
        return _scaled_path(pattern, t, 0.0)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        """Row i changes by ``-A_ik`` for k <= j and by ``A_ik (1 - r_j) / r_j`` for k > j (r_j: the kept mass)."""
        pattern = tensors["pattern"]
        weighted = (grads["pattern"] * pattern).double()
        removed = weighted.cumsum(-1)  # sum over k <= j of G A
        total = weighted.sum(-1, keepdim=True)
        mass = pattern.double()
        kept = mass.sum(-1, keepdim=True) - mass.cumsum(-1)  # the mass of keys j+1..i (rows sum to 1 only roughly)
        # Kept keys are scaled by 1 / kept; when (almost) nothing is kept, the row empties: every entry changes by -A.
        change = (-removed + (1.0 - kept) / kept.clamp_min(1e-12) * (total - removed)).where(kept > 1e-6, -total)
        return (-change).sum(0).tril()

    def reference_row(self, row: torch.Tensor, sources: list[int]) -> None:
        row[:, :, : max(sources) + 1] = 0.0
        total = row.sum(-1, keepdim=True)
        row[:] = row / total.where(total > 0, 1.0)


def _renormalised_without(pattern: torch.Tensor, removed: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """The pattern with the ``removed`` keys dropped from the ``rows`` marked, each renormalised over the keys left.

    A row left with no weight stays empty (all zeros): that head writes nothing at its query.
    """
    import torch

    kept = pattern.masked_fill(removed, 0.0)
    total = kept.sum(-1, keepdim=True)
    renormalised = torch.where(total > 0, kept / total.clamp_min(torch.finfo(kept.dtype).tiny), kept)
    return torch.where(rows, renormalised, pattern)


@dataclass(frozen=True)
class Knockout(PatternIntervention):
    """Knockout: the score of i on j is -inf before the softmax; the row renormalises over the keys i still sees.

    The attention knockout of Geva et al. (2023) and most papers since: i can no longer attend to j,
    and the weight j had goes to the other keys in proportion to theirs (Zero drops it instead). For a
    group edge, i loses every source position at or before i. A row that loses all of its keys (the
    self-edge 0 -> 0, whose query sees only key 0, or a group holding every key a row sees) is left
    empty, as Crop leaves it: that head writes nothing at i.

    Where: a score of -inf before the softmax is a softmax over the remaining keys, which is the
    post-softmax row with the removed entries zeroed and renormalised,
    ``A'_ik = A_ik / (1 - A_ij)`` for k != j. The edit is made on the pattern, in that form, for two
    reasons. The raw-scores site is the matmul q . k, *before* the scaling, Gemma's soft-capping
    ``c tanh(s / c)`` and the mask: -inf there would come out of the soft-capping as -c, a finite score
    that knocks nothing out. And the pattern is after all of them, so soft-capping, sliding windows and
    masks need no case of their own. In float32 a renormalised entry carries the clean softmax's own
    rounding, a relative ~6e-8 x (its score's distance below the row's largest): 3e-6 for a key 50 nats
    below a sink (a fresh softmax over the remaining keys would not), which is what the reference
    computes, from a mask of -inf after the soft-capping; the tiny and bundled models agree to 1e-7.
    Only a row whose every remaining key sits more than ~87 nats below a removed one, so far that the
    clean softmax rounded them to zero, comes out empty instead. A key that has no weight already
    (outside a sliding window) is knocked out without renormalising its row.
    """

    kind: ClassVar[str] = "knockout"
    edit_tensors: ClassVar[int] = 3

    def describe(self) -> str:
        return "knockout: i cannot attend to j (score -inf before the softmax, the row renormalised over the rest)"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        # Only rows that lose some weight change: knocking out a key of weight zero leaves the row bit for bit.
        return _renormalised_without(pattern, edit, (edit & (pattern > 0)).any(-1, keepdim=True))

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Zero's path, A (1 - t): the straight line in the pattern to every edge knocked out, which is the empty row.

        Knocking out the scores of *every* edge together cannot be followed in the scores: the softmax is
        invariant to all of a row's scores moving alike, so a path of scores falling towards -inf together
        would stand still until the row empties at its end. The endpoint itself is well defined: a row that
        loses every key it sees is left empty (as documented above), so every edge knocked out is the zero
        pattern, and the straight line to it in the edited tensor (the pattern, as for every other
        intervention) is A (1 - t). At each point an edge's change is still Knockout's own (:meth:`first_order`
        on the pattern there: its weight removed, the rest renormalised), so unlike Zero's the estimates of all
        edges need not add up to the path's effect.
        """
        return _scaled_path(pattern, t, 0.0)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        """Row i changes by ``-A_ij`` at j and by ``A_ik (1 - r_j) / r_j`` at every other key k.

        Here ``r_j = sum over k != j of A_ik`` is the weight left, and ``1 - r_j`` is ``A_ij`` when the row
        sums to 1 (as it does up to rounding). That is the exact change of the pattern, and the estimate
        is the metric's first order in it (a linearisation in the pattern, not in the scores, which move
        to -inf): ``-sum_k G_ik dA_ik = G_ij A_ij - (1 - r_j) (sum_{k != j} G_ik A_ik) / r_j``, the weight j
        had valued at its own gradient, less that weight spread over the other keys at their average
        gradient. The sums over k != j are prefix plus suffix sums, never the row's total less A_ij, so a
        key holding nearly all of a row's weight (an attention sink) loses no precision. A row with
        nothing left (r_j = 0) empties: the estimate is ``G_ij A_ij``.
        """
        pattern = tensors["pattern"].double()
        weighted = grads["pattern"].double() * pattern
        others = _excluding_each(pattern)  # r_j
        average = _excluding_each(weighted) / others.where(others > 0, 1.0)  # sum_{k != j} G_ik A_ik / r_j
        return (weighted - ((1.0 - others) * average).where(others > 0, 0.0)).sum(0).tril()

    def reference_edit(self, call: EagerCall, sources: list[int], targets: list[int]) -> torch.Tensor:
        """Call the eager function again with -inf in its mask (added after soft-capping) at the knocked-out keys."""
        import torch

        n = call.weights.shape[-1]
        mask = call.mask if call.mask is not None else torch.zeros(1, 1, n, n, device=call.weights.device)
        # Masked keys become -inf as well, so that a row with every key it sees knocked out is all -inf.
        mask = mask.masked_fill(mask <= torch.finfo(mask.dtype).min / 2, float("-inf"))
        mask = mask.masked_fill(torch.ones(n, n, dtype=torch.bool, device=mask.device).triu(1), float("-inf"))
        for i in targets:
            mask[..., i, [j for j in sources if j <= i]] = float("-inf")
        output = call.rerun(call.key, call.value, mask)
        empty = torch.isneginf(mask).all(-1).flatten(0, -2).any(0)  # query rows with no key left
        output[:, empty] = 0.0
        result = call.output.clone()
        result[:, targets] = output[:, targets]
        return result


def _excluding_each(x: torch.Tensor) -> torch.Tensor:
    """``sum over k != j of x[..., k]`` for every j along the last dimension, without subtracting x[..., j]."""
    import torch

    zero = torch.zeros_like(x[..., :1])
    before = torch.cat([zero, x[..., :-1].cumsum(-1)], -1)
    after = torch.cat([x[..., 1:].flip(-1).cumsum(-1).flip(-1), zero], -1)
    return before + after
