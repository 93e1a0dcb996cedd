"""The write-up's code-completion case (cases/code_completion.json: the fixture ``code_case``) on Gemma-3-270M.

The prompt is 563 tokens: longer than the 512-position window of Gemma 3's local layers, which the
engine sees through eager attention's explicit sliding-window mask. Here only the line edges into the
last line are measured (42 group interventions); the full line graph is the strategies' benchmark.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from infoflow_widget import FlowEngine, LogitDiff, Node, Zero
from infoflow_widget.search.spans import cut_positions, partition

pytestmark = pytest.mark.slow


def test_definitions_flow_into_the_call(gemma, code_case):
    metric = LogitDiff(code_case["answer"], code_case["distractor"])
    engine = FlowEngine(gemma, code_case["prompt"], metric, Zero(), progress=False)
    assert engine.n > 512 and engine.clean_metric > 0  # the clean model prefers 'bar'
    lines = partition(Node(0, engine.n), cut_positions(engine.tokens, ("\n",)))
    last = lines[-1]
    effects = engine.effects([(range(p.start, p.end), range(last.start, last.end)) for p in lines])
    text = ["".join(engine.tokens[p.start : p.end]).removeprefix("<bos>") for p in lines]
    ranked = sorted(range(len(lines)), key=lambda k: -abs(effects[k]))

    def rank_of(start: str) -> int:
        return next(r for r, k in enumerate(ranked) if text[k].lstrip().startswith(start))

    expected_edges = code_case["expected_with_zero_pattern_newline_split_on_gemma_3_270m"]
    for expected in expected_edges["in_top_5_by_abs_effect"]:
        rank = rank_of(expected["source_chunk_starts_with"])
        assert rank < 5, f"{expected} is at rank {rank + 1}"
        assert (effects[ranked[rank]] > 0) == (expected["sign"] == "+")
    for expected in expected_edges["positive"]:
        assert effects[ranked[rank_of(expected["source_chunk_starts_with"])]] > 0


@pytest.mark.parametrize("kind", ["zero", "crop", "corrupt"])
def test_prefix_reuse_is_exact_past_the_sliding_window(gemma, code_case, kind):
    """Batches starting beyond position 512 reuse a cache whose local layers hold only the window."""
    from infoflow_widget import Corrupt, Crop
    from infoflow_widget.engine.reference import reference_effects

    prompt = code_case["prompt"]
    corrupted = prompt.replace("Point(2, 3), Point(6, 5)", "Point(7, 1), Point(4, 8)").replace(
        "B(Point(0, 0), 5)", "B(Point(3, 9), 2)"
    )
    intervention = {"zero": Zero(), "crop": Crop(), "corrupt": Corrupt(corrupted)}[kind]
    metric = LogitDiff(code_case["answer"], code_case["distractor"])
    groups = [([510], [560]), (list(range(492, 511)), [558, 562]), ([3], [562]), ([40, 530], [540, 541]), ([20], [30])]
    engine = FlowEngine(gemma, prompt, metric, intervention, batch_size=2, progress=False)
    _, reference = reference_effects(gemma, prompt, metric, intervention, groups)
    assert engine.effects(groups) == pytest.approx(reference, abs=1e-4)
    assert engine.positions < (engine.forward_passes - 1) * engine.n  # prefixes were reused


def test_the_notebook_uses_the_case_prompt(code_case):
    notebook_copy = Path(__file__).resolve().parents[2] / "notebooks" / "data" / "code_completion_prompt.txt"
    assert notebook_copy.read_text() == code_case["prompt"]
