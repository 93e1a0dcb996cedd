"""The batch planner: per-start row caps and the memory model's arithmetic (no model)."""

from __future__ import annotations

import pytest
from transformers import Gemma3TextConfig, LlamaConfig

from infoflow_widget import InfoFlowError
from infoflow_widget.engine.planning import PASS_FIXED_BYTES, RowCost, plan_batches


def test_a_plan_never_exceeds_the_cap_of_its_batch_start_and_covers_every_row():
    starts = sorted([1, 1, 2, 3, 5, 8, 8, 8, 9, 9, 9, 9, 9, 9])

    def cap(start: int) -> int:
        return 1 + start // 3  # later batches compute fewer positions: more rows fit

    plan = plan_batches(starts, 10, cap)
    assert [a for a, _ in plan] == [0, *[b for _, b in plan[:-1]]] and plan[-1][1] == len(starts)
    assert all(b - a <= cap(starts[a]) for a, b in plan)
    assert plan_batches(starts, 10, 3) == plan_batches(starts, 10, lambda start: 3)


def test_a_row_costs_more_with_more_positions_more_edit_tensors_and_its_own_context():
    cost = RowCost.of(
        LlamaConfig(
            hidden_size=64,
            intermediate_size=128,
            num_hidden_layers=4,
            num_attention_heads=4,
            num_key_value_heads=2,
            vocab_size=100,
        ),
        4,
        100,
    )
    assert (cost.heads, cost.kv_heads, cost.head_dim, cost.layers) == (4, 2, 16, 4)
    assert cost.forward(512, 256) < cost.forward(512, 512) < cost.forward(512, 512, edit_tensors=3)
    assert cost.forward(512, 512) < cost.forward(512, 512, context=True)
    assert cost.gradient(512) > cost.layers * cost.forward(512, 512) / 2, "a gradient pass keeps every layer"


def test_the_attention_tensors_dominate_a_long_prompt_and_the_cache_gemma():
    """Gemma 3 270M's shape: at 563 tokens the cache of 18 layers weighs as much as the attention of one."""
    config = Gemma3TextConfig(
        hidden_size=640,
        intermediate_size=2048,
        num_hidden_layers=18,
        num_attention_heads=4,
        num_key_value_heads=1,
        head_dim=256,
        vocab_size=262144,
    )
    cost = RowCost.of(config, 4, 262144)
    row = cost.forward(563, 563)
    assert 40 * 2**20 < row < 90 * 2**20  # measured: 51.5 MiB a row (benchmarks/README.md)
    assert cost.rows(2 * 2**30, row, "row") == (2 * 2**30 - PASS_FIXED_BYTES) // row


def test_a_budget_below_one_row_is_an_error_naming_the_least_that_works():
    cost = RowCost.of(
        LlamaConfig(num_hidden_layers=2, hidden_size=32, intermediate_size=64, num_attention_heads=4), 4, 100
    )
    row = cost.forward(100, 100)
    with pytest.raises(InfoFlowError, match=r"give memory_budget=[\d,]+ \(\d+ MiB\) or more") as caught:
        cost.rows(row, row, "row")
    least = int(str(caught.value).split("memory_budget=")[-1].split(" ")[0].replace(",", ""))
    assert least >= row + PASS_FIXED_BYTES and cost.rows(least, row, "row") >= 1
