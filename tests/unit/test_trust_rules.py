"""Trust flags (infoflow_widget.graph.trust): each rule on hand-made numbers, no model."""

from __future__ import annotations

import pytest

from infoflow_widget.graph.flowgraph import Edge, Node
from infoflow_widget.graph.trust import (
    DAMAGE_MIN,
    DAMAGE_RATIO,
    FLAGS,
    SINK_EXCESS,
    attach,
    damage_flags,
    even_share,
    flag,
    sink_shares,
    sink_stats,
)

TOKENS = [Node(p, p + 1) for p in range(4)]


def test_flag_names_are_reserved_in_one_place():
    assert FLAGS == ("sink", "damage", "inconsistent")


def test_sink_shares_average_each_layers_share_and_right_align_a_window():
    # layer 0: 4 queries of 1 head, position 0 receives 3 of 4; layer 1 sees the last 2 keys only (a window)
    shares = sink_shares([[3.0, 0.5, 0.25, 0.25], [1.0, 3.0]], 4)
    assert shares == pytest.approx([3 / 8, 0.5 / 8, (0.25 + 1) / 8, (0.25 + 3) / 8])
    assert sum(shares) == pytest.approx(1.0)


def test_even_share_is_what_evenly_spread_causal_attention_gives():
    n = 5
    received = [sum(1 / (i + 1) for i in range(j, n)) for j in range(n)]  # query i spreads 1 over i + 1 keys
    assert [even_share(j, n) for j in range(n)] == pytest.approx([r / n for r in received])
    assert sum(even_share(j, n) for j in range(n)) == pytest.approx(1.0)


def test_a_sink_exceeds_its_even_share_by_the_margin():
    n = 14
    even = [even_share(j, n) for j in range(n)]
    assert even[0] == pytest.approx(0.232, abs=1e-3)  # the first of 14 positions gets this from even attention
    stats = sink_stats(even)
    assert stats["positions"] == [] and stats["strongest_other"][0] == 0, "even attention has no sink"
    shares = list(even)
    shares[0] += SINK_EXCESS + 1e-9
    shares[6] += SINK_EXCESS - 1e-3  # just short
    stats = sink_stats(shares)
    assert stats["positions"] == [0] and stats["share"] == [round(shares[0], 3)]
    assert stats["strongest_other"] == [6, round(shares[6], 3)] and stats["excess"] == SINK_EXCESS


def test_attach_gives_exact_edges_what_was_measured_for_their_spans():
    nodes = [Node(0, 2), Node(2, 4), Node(0, 1)]
    edges = [Edge(0, 1, 0.5), Edge(1, 1, 0.1, level=1), Edge(2, 1, 0.3, exact=False), Edge(2, 0, 0.2)]
    measured = {
        ((0, 1), (2, 3)): {"damage": 0.25, "effect_std": 0.01, "unknown": 1},
        ((2, 3), (2, 3)): {"damage": 0.0},
        ((0,), (2, 3)): {"damage": 9.0},  # the estimated edge: not attached
    }
    out = attach(nodes, edges, measured)
    assert out[0] == Edge(0, 1, 0.5, damage=0.25, effect_std=0.01)
    assert out[1].damage == 0.0 and out[2] == edges[2] and out[3] == edges[3]


def with_damage(effects_and_damage):
    return [Edge(0, k % 4, e, damage=d) for k, (e, d) in enumerate(effects_and_damage)]


def test_damage_far_above_edges_of_similar_effect_is_flagged():
    # damage = 0.04 effect^2 for most (a surgical edge moves the metric's tokens); one edge does 6 times that.
    edges = with_damage([(2.0, 0.16), (1.0, 0.04), (-3.0, 0.36), (0.5, 0.01), (1.0, 0.04 * 6), (0.7, 0.0196)])
    assert damage_flags(edges) == [False, False, False, False, True, False]
    assert DAMAGE_RATIO == 5.0 and DAMAGE_MIN == 0.01


def test_small_damage_is_never_flagged_and_noise_level_effects_count_at_the_floor():
    edges = with_damage([(2.0, 0.16), (1.0, 0.04), (-3.0, 0.36), (1e-6, 0.009), (1e-6, 0.02), (0.0, 0.02)])
    # 0.009 nats is below DAMAGE_MIN whatever its effect; 0.02 nats with no effect is far above 0.04 x floor^2
    assert damage_flags(edges, noise_floor=1e-3) == [False, False, False, False, True, True]


def test_too_few_edges_give_no_reference():
    edges = with_damage([(1.0, 0.04), (1e-9, 5.0)])
    assert damage_flags(edges) == [False, False]
    # a drill-down compares with its parent graph's edges as well
    parent = with_damage([(2.0, 0.16), (1.0, 0.04), (-3.0, 0.36)])
    assert damage_flags(edges, reference=[*parent, *edges]) == [False, True]


def test_flag_sets_sink_and_damage_and_keeps_inconsistent():
    nodes = [Node(0, 2), Node(2, 3), Node(3, 4)]
    edges = [
        Edge(0, 1, 2.0, damage=0.16, flags=("damage",)),  # a stale flag is recomputed
        Edge(1, 2, 1.0, damage=0.04, flags=("inconsistent",)),
        Edge(2, 2, -3.0, damage=0.36),
        Edge(1, 1, 1.0, damage=0.5),
        Edge(0, 2, 1.0, exact=False),
    ]
    out = flag(nodes, edges, sinks=[1])
    assert [e.flags for e in out] == [("sink",), ("inconsistent",), (), ("damage",), ("sink",)]
    assert flag(nodes, edges, sinks=[1], damage_rule=False)[3].flags == ()
    assert [e.effect for e in out] == [e.effect for e in edges]
