"""Batch planning, pure arithmetic: what a forward pass's rows cost in memory, and which rows go together.

A batch whose earliest target is position t reuses the clean run before t and computes positions
t..n-1 only, so groups sorted by first target are cut into batches that minimise the positions computed,
each batch as large as the memory budget allows for the positions it computes.
"""

from __future__ import annotations

import math
from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from ..core.errors import InfoFlowError

PASS_OVERHEAD_POSITIONS = 64
"""One forward pass costs about as much as computing this many more token positions (2-core CPU)."""

MODEL_ATTENTION_TENSORS = 3
"""Attention-sized ``(heads, queries, keys)`` tensors eager attention holds at once per row without any edit
(scores, masked scores, pattern), measured on SmolLM2-135M, Gemma 3 270M and a tiny Llama (benchmarks/README.md)."""

GRADIENT_ATTENTION_TENSORS = 8
"""Attention-sized tensors a gradient pass keeps per row and layer until its backward pass (autograd's own and the
pattern, its moved copy and gradient that the estimate reads), with room for the heap's fragmentation over passes."""

DAMAGE_ELEMENTS = 2**20
"""Vocabulary entries the damage (KL) works on at a time, in float64: a few 8 MiB tensors, whatever the batch."""

PASS_FIXED_BYTES = 32 * 2**20 + 4 * 8 * DAMAGE_ELEMENTS
"""What one pass allocates whatever its rows: the damage's float64 chunks and the trace's own bookkeeping."""


@dataclass(frozen=True)
class RowCost:
    """Bytes one batch row holds at the peak of a pass, from the model's shape: the planner's memory model.

    Measured against peak resident memory in ``tests/integration/test_memory_budget.py`` (tiny model, two budgets)
    and on gemma-3-270m; the estimate is kept above what a row really allocates, by 1.1x to 2x.
    """

    layers: int
    heads: int
    kv_heads: int
    head_dim: int
    width: int
    inner: int
    vocab: int
    itemsize: int

    @classmethod
    def of(cls, config: Any, itemsize: int, vocab: int) -> RowCost:
        """The cost model of a transformers config (its text config for a multimodal one)."""
        config = getattr(config, "text_config", None) or config
        heads = getattr(config, "num_attention_heads", None) or getattr(config, "n_head", 1)
        width = getattr(config, "hidden_size", None) or getattr(config, "n_embd", 1)
        return cls(
            layers=getattr(config, "num_hidden_layers", None) or getattr(config, "n_layer", 1),
            heads=heads,
            kv_heads=getattr(config, "num_key_value_heads", None) or heads,
            head_dim=getattr(config, "head_dim", None) or width // heads,
            width=width,
            inner=getattr(config, "intermediate_size", None) or getattr(config, "n_inner", None) or 4 * width,
            vocab=vocab,
            itemsize=itemsize,
        )

    def forward(self, n: int, queries: int, edit_tensors: int = 1, context: bool = False) -> int:
        """One row of a no-gradient pass computing the last ``queries`` of ``n`` positions.

        Within a layer: the model's and the edit's attention-sized tensors, the MLP's and the residual
        stream's; across the pass: every layer's keys and values in the cache, the edit masks and the
        final logits. ``context``: rows of different engines carry their own copy of the clean prefix and
        of an intervention's per-layer keys and values (a prompt set, the samples of an AutoCorrupt).
        """
        attention = (MODEL_ATTENTION_TENSORS + edit_tensors) * self.heads * queries * n * self.itemsize
        stream = 4 * queries * (self.inner + self.width) * self.itemsize
        cache = 2 * self.layers * self.kv_heads * n * self.head_dim * self.itemsize
        masks = 3 * queries * n + 4 * self.vocab * self.itemsize
        return attention + stream + cache * (3 if context else 1) + masks

    def gradient(self, n: int, layers: int | None = None) -> int:
        """One row of a forward and backward pass over all ``n`` positions (an integrated-gradient path point).

        ``layers``: how many consecutive layers the backward pass goes through (all by default); a pass through a
        segment of them keeps only that segment's activations (the rest of the forward pass is a plain one).
        """
        attention = GRADIENT_ATTENTION_TENSORS * self.heads * n * n
        per_layer = (attention + n * (6 * self.inner + 12 * self.width)) * self.itemsize
        return (self.layers if layers is None else layers) * per_layer + self.forward(n, n)

    def rows(self, budget: int, row: int, what: str) -> int:
        """How many rows of ``row`` bytes one pass may hold within ``budget``; a budget too small for one is an error.

        Raises:
            InfoFlowError: ``budget`` is below one row and the pass's fixed cost, naming the least budget that works.
        """
        least = row + PASS_FIXED_BYTES
        if budget < least:
            raise InfoFlowError(
                f"memory_budget={budget:,} bytes ({budget / 2**20:.0f} MiB) is below what one {what} needs: "
                f"give memory_budget={_mib_up(least):,} ({_mib_up(least) // 2**20} MiB) or more."
            )
        return (budget - PASS_FIXED_BYTES) // row


def _mib_up(size: int) -> int:
    """``size`` rounded up to whole MiB, in bytes."""
    return -(-size // 2**20) * 2**20


def plan_batches(starts: Sequence[int], n: int, cap: int | Callable[[int], int]) -> list[tuple[int, int]]:
    """Split groups sorted by first target into batches, minimising the cost.

    A batch of rows ``a..b-1`` starts at ``starts[a]`` and computes ``(b - a) * (n - starts[a])`` token
    positions, plus a fixed cost per pass: dynamic programming over the split points finds the
    cheapest plan (late targets share short suffixes, early ones pay for long ones).

    Args:
        starts: each group's first target, in increasing order.
        n: the prompt's token count.
        cap: the most rows a batch may have, or a function of the batch's start giving it (a batch that
            starts later computes fewer positions, so more of its rows fit in memory).

    Returns:
        The batches as ``(first, end)`` row ranges, in order.
    """
    caps = [cap(start) if callable(cap) else cap for start in starts]
    widest = max(caps, default=1)
    best = [0.0] + [math.inf] * len(starts)
    split = [0] * (len(starts) + 1)
    for b in range(1, len(starts) + 1):
        for a in range(max(0, b - widest), b):
            if b - a > caps[a]:
                continue
            cost = best[a] + PASS_OVERHEAD_POSITIONS + (b - a) * (n - starts[a])
            if cost < best[b]:
                best[b], split[b] = cost, a
    plan: list[tuple[int, int]] = []
    b = len(starts)
    while b > 0:
        plan.append((split[b], b))
        b = split[b]
    return plan[::-1]
