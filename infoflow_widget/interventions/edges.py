"""Which attention edges one row of a forward pass intervenes on: a group edge, or any set of token edges.

A group edge (sources, targets) cuts every j -> i with j in sources, i in targets and j <= i (attention is causal);
an :class:`EdgeSet` names its token edges one by one (faithfulness keeps a few and intervenes on all the others).
Both become the same ``(batch, 1, n, n)`` boolean mask, which every intervention's batched edit reads.
"""

from __future__ import annotations

from collections.abc import Iterable, Sequence
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    import torch


class EdgeSet(tuple[list[int], list[int]]):
    """A set of token edges ``(source j, target i)``, j <= i, intervened together in one row.

    It is also the group ``(sources, targets)`` of the positions it touches, so the batcher plans it as a group
    edge (a pass starts at its earliest target); :func:`edit_masks` and the reference path read :attr:`pairs`.

    Attributes:
        pairs: the token edges, ``(source, target)``.
    """

    pairs: frozenset[tuple[int, int]]

    def __new__(cls, pairs: Iterable[tuple[int, int]]) -> EdgeSet:
        found = frozenset((int(j), int(i)) for j, i in pairs)
        edge_set = super().__new__(cls, (sorted({j for j, _ in found}), sorted({i for _, i in found})))
        edge_set.pairs = found
        return edge_set

    def by_target(self) -> dict[int, list[int]]:
        """Each target position with the sources it loses, in order (the reference path edits row by row)."""
        found: dict[int, list[int]] = {}
        for j, i in sorted(self.pairs, key=lambda pair: (pair[1], pair[0])):
            found.setdefault(i, []).append(j)
        return found


def edit_masks(groups: Sequence[tuple[Sequence[int], Sequence[int]]], n: int, device: Any = None) -> torch.Tensor:
    """The ``(batch, 1, n, n)`` edit mask of each group edge or :class:`EdgeSet`, one batch row each."""
    import torch

    mask = torch.zeros(len(groups), 1, n, n, dtype=torch.bool, device=device)
    for row, group in enumerate(groups):
        if isinstance(group, EdgeSet):
            if group.pairs:
                sources, targets = zip(*group.pairs)
                mask[row, 0, list(targets), list(sources)] = True
            continue
        sources, targets = group
        mask[row, 0, torch.as_tensor(list(targets)).unsqueeze(1), torch.as_tensor(list(sources)).unsqueeze(0)] = True
    return mask & torch.ones(n, n, dtype=torch.bool, device=device).tril()
