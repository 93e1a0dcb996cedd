"""The engine's noise floor: every graph says below which |effect| its effects are numerical noise."""

from __future__ import annotations

import math

import pytest
import torch

from infoflow_widget import Backtrack, Dampen, FlowEngine, LogitDiff
from infoflow_widget.core.style import style
from infoflow_widget.engine.engine import NOISE_RELATIVE, numerical_noise

PROMPT = "when mary and john went to the store , john gave a book to"


@pytest.fixture(scope="module")
def tiny():
    from conftest import make_tiny

    return make_tiny("llama")


def test_the_float32_factor_is_the_front_ends():
    """The front end draws graphs without stats.noise_floor with style.json's factor: one constant, two copies."""
    assert NOISE_RELATIVE == style()["noise"]["relative"]
    assert numerical_noise(5.9, 32.0, torch.float32) == pytest.approx(5.9e-4)
    assert numerical_noise(0.0, 32.0, torch.float32) == NOISE_RELATIVE, "max(1, |clean|): the KL divergence's 0"
    assert numerical_noise(-3.0, 32.0, torch.float64) == pytest.approx(3e-4)


def test_half_precision_floors_follow_their_epsilon():
    """Two units in the last place of the largest clean logit, which the metric reads rounded to the dtype."""
    assert numerical_noise(5.9, 32.0, torch.bfloat16) == pytest.approx(2 * 2**-7 * 32)
    assert numerical_noise(5.9, 32.0, torch.float16) == pytest.approx(2 * 2**-10 * 32)
    assert numerical_noise(5.9, 0.5, torch.bfloat16) == pytest.approx(2 * 2**-7 * 5.9), (
        "the metric when logits are small"
    )
    assert numerical_noise(5.9, math.inf, torch.float16) == pytest.approx(2 * 2**-10 * 5.9)
    assert (
        numerical_noise(5.9, 32.0, torch.bfloat16)
        > numerical_noise(5.9, 32.0, torch.float16)
        > numerical_noise(5.9, 32.0, torch.float32)
    )


def test_graphs_and_expansions_carry_the_noise_floor(tiny):
    engine = FlowEngine(tiny, PROMPT, LogitDiff("mary", "john"), progress=False)
    expected = NOISE_RELATIVE * max(1.0, abs(engine.clean_metric))
    graph = engine.graph()
    assert graph.stats["noise_floor"] == pytest.approx(expected)
    assert graph.filter(0.01).stats["noise_floor"] == graph.stats["noise_floor"]
    assert graph.to_dict()["stats"]["noise_floor"] == graph.stats["noise_floor"]
    searched = engine.with_intervention(Dampen(0.3)).graph(Backtrack(threshold=0.0))
    assert searched.stats["noise_floor"] == graph.stats["noise_floor"], "the clean run's, whatever the intervention"
    spans = engine.graph(Backtrack(threshold=0.0))
    assert engine.expand(spans, spans.edges[0]).stats["noise_floor"] == graph.stats["noise_floor"]


def test_alpha_one_dampen_measures_only_noise(tiny):
    """Dampen(1) changes no attention: whatever it measures is numerical noise, under the floor."""
    graph = FlowEngine(tiny, PROMPT, LogitDiff("mary", "john"), Dampen(1.0), progress=False).graph()
    assert len(graph.edges) == 14 * 15 // 2
    floor = graph.stats["noise_floor"]
    assert floor > 0 and all(abs(edge.effect) < floor for edge in graph.edges)
