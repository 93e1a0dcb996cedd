"""Batch planning for the engine, pure arithmetic: how many edges per forward pass, and which ones together.

A batch whose earliest target is position t reuses the clean run before t and computes positions
t..n-1 only, so groups sorted by first target are cut into batches that minimise the positions computed.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from typing import Any

PASS_OVERHEAD_POSITIONS = 64
"""One forward pass costs about as much as computing this many more token positions (2-core CPU)."""


def batch_from_budget(config: Any, itemsize: int, n: int, budget: int, cap: int) -> int:
    """Edges per pass (1 to ``cap``) such that one pass's activations over ``n`` positions fit in ``budget`` bytes.

    Per batch row and layer, eager attention holds a handful of (head, n, n) score tensors at
    once, and the residual stream and MLP a handful of (n, width) tensors.

    Args:
        config: the model's transformers config (heads, width and MLP width are read from it).
        itemsize: bytes per activation element (4 for float32).
        n: the prompt's token count.
        budget: bytes of activations one pass may use.
        cap: the most rows a batch may have.
    """
    heads = getattr(config, "num_attention_heads", 1)
    width = getattr(config, "hidden_size", 1)
    inner = getattr(config, "intermediate_size", None) or 4 * width
    per_row = itemsize * (6 * heads * n**2 + n * (10 * width + 3 * inner))
    return max(1, min(cap, budget // per_row))


def plan_batches(starts: Sequence[int], n: int, cap: int) -> list[tuple[int, int]]:
    """Split groups sorted by first target into batches of at most ``cap`` rows, minimising the cost.

    A batch of rows ``a..b-1`` starts at ``starts[a]`` and computes ``(b - a) * (n - starts[a])`` token
    positions, plus a fixed cost per pass: dynamic programming over the split points finds the
    cheapest plan (late targets share short suffixes, early ones pay for long ones).

    Returns:
        The batches as ``(first, end)`` row ranges, in order.
    """
    best = [0.0] + [math.inf] * len(starts)
    split = [0] * (len(starts) + 1)
    for b in range(1, len(starts) + 1):
        for a in range(max(0, b - cap), b):
            cost = best[a] + PASS_OVERHEAD_POSITIONS + (b - a) * (n - starts[a])
            if cost < best[b]:
                best[b], split[b] = cost, a
    plan, b = [], len(starts)
    while b > 0:
        plan.append((split[b], b))
        b = split[b]
    return plan[::-1]
