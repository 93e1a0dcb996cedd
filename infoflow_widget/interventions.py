"""Attention-edge interventions: what happens to the attention from query i to key j.

Each intervention is a small frozen spec plus pure tensor functions, testable without a model.
Tensors follow eager attention's layout: ``pattern`` and ``scores`` are ``(batch, head, query, key)``;
``edit`` is a boolean ``(batch, 1, query, key)`` mask, True where a query position of the batch
row's target group attends to a key position of its source group (always causal: key <= query).
"""

from __future__ import annotations

import math
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, ClassVar

from .errors import InfoFlowError

if TYPE_CHECKING:
    import torch


@dataclass(frozen=True)
class Intervention:
    """Base class of the interventions; the engine applies one to every head of every chosen layer."""

    kind: ClassVar[str] = ""

    def describe(self) -> str:
        """A sentence saying what the intervention does, for figures and the widget."""
        return self.kind

    def params(self) -> dict[str, Any]:
        """The intervention as plain JSON data (its ``kind`` and parameters)."""
        return {"kind": self.kind, **{k: v for k, v in self.__dict__.items()}}

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor) -> torch.Tensor:
        """Return the post-softmax pattern with the edges in ``edit`` intervened on."""
        return pattern


@dataclass(frozen=True)
class Zero(Intervention):
    """Zero pattern: A[i, j] = 0 after the softmax, without renormalising the row."""

    kind: ClassVar[str] = "zero"

    def describe(self) -> str:
        return "zero pattern: attention from i to j set to 0 after the softmax"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor) -> torch.Tensor:
        return pattern.masked_fill(edit, 0.0)


@dataclass(frozen=True)
class Dampen(Intervention):
    """Dampening: A[i, j] *= alpha after the softmax (0 equals Zero, 1 changes nothing, >1 amplifies)."""

    alpha: float = 0.5
    kind: ClassVar[str] = "dampen"

    def __post_init__(self) -> None:
        if (
            not isinstance(self.alpha, (int, float))
            or math.isnan(self.alpha)
            or self.alpha < 0
            or math.isinf(self.alpha)
        ):
            raise InfoFlowError(
                "Dampen needs a finite alpha >= 0 (0 knocks attention out, 1 leaves it, >1 amplifies); "
                f"got {self.alpha!r}."
            )

    def describe(self) -> str:
        return f"dampen: attention from i to j multiplied by alpha = {self.alpha:g} after the softmax"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor) -> torch.Tensor:
        import torch

        return torch.where(edit, pattern * self.alpha, pattern)


@dataclass(frozen=True)
class Crop(Intervention):
    """Crop: query i sees only keys j+1..i; keys 0..j are removed and the row renormalised.

    For a group edge, i loses every key up to the last source position at or before i. Removing
    all of a row's keys (the self-edge i -> i) leaves the row empty: that head writes nothing at i.
    Renormalising the post-softmax row equals a softmax over the remaining keys.
    """

    kind: ClassVar[str] = "crop"

    def describe(self) -> str:
        return "crop: i sees only the keys after j (keys up to j removed, the row renormalised)"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor) -> torch.Tensor:
        import torch

        removed = edit.flip(-1).cummax(-1).values.flip(-1)  # every key at or before an edited one
        kept = pattern.masked_fill(removed, 0.0)
        total = kept.sum(-1, keepdim=True)
        renormalised = torch.where(total > 0, kept / total.clamp_min(torch.finfo(kept.dtype).tiny), kept)
        rows = edit.any(-1, keepdim=True)
        return torch.where(rows, renormalised, pattern)


@dataclass(frozen=True)
class Corrupt(Intervention):
    """Corruption (path patching): query i sees key j and value j of the corrupted prompt.

    In every head, row i's score at j uses the corrupted prompt's key (from that prompt's own clean
    run, same layer), row i's softmax is recomputed, and the corrupted value replaces value j in
    row i's output. Nothing else changes. The corrupted prompt must have the same token length.
    """

    corrupted_prompt: str = ""
    kind: ClassVar[str] = "corrupt"

    def __post_init__(self) -> None:
        if not isinstance(self.corrupted_prompt, str) or not self.corrupted_prompt.strip():
            raise InfoFlowError("Corrupt needs a corrupted prompt of the same token length as the clean prompt.")

    def describe(self) -> str:
        return f"corrupt: i sees key and value j of the prompt {self.corrupted_prompt!r}"


def corrupt_scores(
    scores: torch.Tensor, query: torch.Tensor, corrupt_key_t: torch.Tensor, edit: torch.Tensor
) -> torch.Tensor:
    """Replace the raw scores q_i . k_j of edited edges by q_i . k'_j (``corrupt_key_t`` is K'^T)."""
    import torch

    return torch.where(edit, torch.matmul(query, corrupt_key_t), scores)


def corrupt_output(
    output: torch.Tensor, pattern: torch.Tensor, value: torch.Tensor, corrupt_value: torch.Tensor, edit: torch.Tensor
) -> torch.Tensor:
    """Swap value j for v'_j in the rows of edited edges: out_i += sum_j A'_ij (v'_j - v_j)."""
    import torch

    return output + torch.matmul(pattern * edit, (corrupt_value - value).to(pattern.dtype)).to(output.dtype)


def edit_masks(groups: list[tuple[list[int], list[int]]], n: int, device: Any = None) -> torch.Tensor:
    """Build the ``(batch, 1, n, n)`` edit mask of (sources, targets) groups, one batch row each."""
    import torch

    mask = torch.zeros(len(groups), 1, n, n, dtype=torch.bool, device=device)
    for row, (sources, targets) in enumerate(groups):
        mask[row, 0, torch.as_tensor(list(targets)).unsqueeze(1), torch.as_tensor(list(sources)).unsqueeze(0)] = True
    return mask & torch.ones(n, n, dtype=torch.bool, device=device).tril()
