"""Trust flags: which measured edges to read with care (the write-up's "hemorrhage").

Knocking out attention is blunt: an intervention may cut the one route a prediction takes, or it may
break the model ("a hemorrhage", write-up section 2), and both change the metric. Every flag here is
a rule on what the engine measured anyway, with no forward pass of its own; an edge carries the names
of the rules it meets in ``Edge.flags``. The rules:

``sink``
    The edge's source span holds an *attention sink*: a position that receives far more of the clean
    run's attention than its place in the prompt explains. Per layer, the attention each key position
    receives, summed over heads and queries, over the layer's total (heads x queries); a position's
    share is the mean of that over the layers (:func:`sink_shares`). Causal attention spread evenly
    would give position j the share ``(H_n - H_j) / n`` (H the harmonic numbers: 0.23 for the first
    of 14 positions, since early queries have few keys to choose from); a sink's share exceeds that by
    :data:`SINK_EXCESS` or more. Cutting a sink out of a row moves (Knockout) or removes (Zero) most of
    the row's weight, so an edge from a sink tends to measure how much the model leans on its sink,
    not one route. Calibration: see :data:`SINK_EXCESS`.

``damage``
    The edge's ``damage`` (KL(clean || intervened) of the whole next-token distribution, measured in
    the same forward pass as its effect) is far above what edges of its ``|effect|`` do. An edge that
    cuts a route the metric reads mostly moves the metric's tokens, and KL grows as effect^2 times a
    constant of the prompt and metric; the rule compares each edge's ``damage / effect^2`` with the
    median of that ratio over the graph's exact edges (:func:`damage_flags`). An edge over
    :data:`DAMAGE_RATIO` times the median, with a damage of at least :data:`DAMAGE_MIN`, changed the
    prediction far beyond its metric: a broken model, or a route to something the metric does not
    read. With the KL divergence as the metric the effect *is* the damage, and the rule is off.
    Calibration: see :data:`DAMAGE_RATIO`.

``inconsistent``
    Reserved for the consensus across interventions (an edge whose sign or rank disagrees between
    interventions); nothing here sets it, and :func:`flag` keeps it where it is set.

Estimated edges (``exact=False``) have no damage and get no ``damage`` flag; ``sink`` depends only on
the source, so it applies to them too.
"""

from __future__ import annotations

import math
import statistics
from collections.abc import Sequence
from dataclasses import fields, replace
from typing import Any

from .flowgraph import Edge, Node

FLAGS = ("sink", "damage", "inconsistent")
"""Every flag name, in the order an edge lists them."""

SINK_EXCESS = 0.2
"""How far a sink's share of the attention exceeds what evenly spread causal attention would give it.

Calibration (clean runs, float32; share, then the even share it is compared with): the first token of
SmolLM2-135M receives 0.58 (even: 0.23) on the 14-token IOI prompt and 0.40 (0.012) on the 560-token
code prompt; Gemma-3-270M's <bos> 0.62 (0.22) on the IOI prompt and 0.27 (0.012) on the code prompt,
where its sliding-window layers (512 keys) cannot see it from the last 51 queries. The next strongest
positions: SmolLM2 0.09 (" the", even 0.06) on the IOI prompt, 0.045 on the code prompt; Gemma 0.045
and 0.051. An excess of 0.2 sits between 0.035 and 0.26.
"""

DAMAGE_RATIO = 5.0
"""How many times the graph's median ``damage / effect^2`` an edge's ratio must exceed for the ``damage`` flag.

Calibration: full IOI graphs (cases/ioi.json, LogitDiff). SmolLM2-135M, Zero: median damage / effect^2
0.032; the case's expected edges sit at 0.3 to 1.2 times it (IO -> END: effect +4.16, damage 0.64 nats,
1.16x), When -> Mary (+8.39, 2.66 nats) at 1.19x, while " gave" -> END, which the write-up suspects
of hemorrhage, is at 9.7x (+0.52, 0.081 nats) and " book" -> END at 5.3x; Knockout: gave -> END 6.3x,
the expected edges at most 0.8x. Gemma-3-270M, Zero: median 0.116; gave -> END at 5.6x (+1.61, but
1.68 nats: the largest damage of the graph), the expected edges at most 0.5x; Knockout: gave -> END
6.9x. Corrupt on SmolLM2 reaches 4.0x (S1 -> END) with nothing above. Five times the median
separates the two groups on both models.
"""

DAMAGE_MIN = 0.01
"""The least damage (nats) worth a flag: a smaller change of the prediction breaks nothing."""


def sink_shares(received: Sequence[Sequence[float]], n: int) -> list[float]:
    """Each position's mean share, over layers, of the attention the layer's queries pay.

    Args:
        received: per layer, the attention each key position receives summed over heads and queries;
            a layer that sees fewer keys (a sliding window) lists the last ones.
        n: the number of positions.
    """
    shares = [0.0] * n
    for layer in received:
        total = sum(layer)
        if total <= 0:
            continue
        for offset, mass in enumerate(layer):
            shares[n - len(layer) + offset] += mass / total / len(received)
    return shares


def even_share(position: int, n: int) -> float:
    """The share of position ``position`` of ``n`` under causal attention spread evenly: ``(H_n - H_position) / n``.

    Query i spreads 1 over its i + 1 keys, so key j receives ``sum over i >= j of 1 / (i + 1)`` of the n rows.

    Examples:
        >>> round(even_share(0, 14), 3)
        0.232
    """
    return sum(1.0 / (i + 1) for i in range(position, n)) / n


def sink_stats(shares: Sequence[float], excess: float = SINK_EXCESS) -> dict[str, Any]:
    """The graph's ``stats["sinks"]``: the sinks and the share of each, the strongest other position, the rule.

    ``positions``: the sinks; ``share``: the share of each (3 decimals); ``strongest_other``:
    ``[position, share]`` of the largest share that is no sink (None if every position is one);
    ``excess``: how far a sink's share exceeds the even share (:func:`even_share`).
    """
    n = len(shares)
    sinks = [p for p, share in enumerate(shares) if share - even_share(p, n) >= excess]
    others = [p for p in range(n) if p not in sinks]
    other = max(others, key=lambda p: shares[p], default=None)
    return {
        "positions": sinks,
        "share": [round(shares[p], 3) for p in sinks],
        "strongest_other": None if other is None else [other, round(shares[other], 3)],
        "excess": excess,
    }


def attach(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    measurements: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[str, Any]],
) -> list[Edge]:
    """The edges with what was measured for their spans beside the effect (``damage``, ``effect_std``).

    ``measurements`` maps ``(sources, targets)`` position tuples to Edge fields; each exact edge gets
    those of its node spans. Estimated edges get nothing: they were not measured.
    """
    known = {f.name for f in fields(Edge)} - {"source", "target", "effect", "level", "exact", "flags"}
    out: list[Edge] = []
    for edge in edges:
        s, t = nodes[edge.source], nodes[edge.target]
        found = measurements.get((tuple(range(s.start, s.end)), tuple(range(t.start, t.end)))) if edge.exact else None
        out.append(replace(edge, **{k: v for k, v in found.items() if k in known}) if found else edge)
    return out


def damage_flags(
    edges: Sequence[Edge], noise_floor: float = 0.0, reference: Sequence[Edge] | None = None
) -> list[bool]:
    """Which edges' damage is far above that of edges of similar ``|effect|``.

    The reference is the median of ``damage / effect^2`` over the ``reference`` edges (by default
    ``edges``) that have a damage and ``|effect|`` above ``noise_floor`` (an effect at the noise floor
    says nothing of the ratio). An edge is flagged when its damage is at least :data:`DAMAGE_MIN` and
    above :data:`DAMAGE_RATIO` times that median times its ``effect^2`` (an edge whose effect is at the
    noise floor counts as having effect ``noise_floor``). Fewer than 3 such edges give no reference
    and no flag.
    """
    ratios = [
        e.damage / e.effect**2
        for e in (edges if reference is None else reference)
        if e.damage is not None and math.isfinite(e.effect) and abs(e.effect) > noise_floor and e.effect != 0
    ]
    if len(ratios) < 3:
        return [False] * len(edges)
    median = statistics.median(ratios)
    flags: list[bool] = []
    for e in edges:
        if e.damage is None or not math.isfinite(e.effect):
            flags.append(False)
            continue
        effect = max(abs(e.effect), noise_floor)
        flags.append(e.damage >= DAMAGE_MIN and e.damage > DAMAGE_RATIO * median * effect**2)
    return flags


def flag(
    nodes: Sequence[Node],
    edges: Sequence[Edge],
    sinks: Sequence[int] = (),
    noise_floor: float = 0.0,
    reference: Sequence[Edge] | None = None,
    damage_rule: bool = True,
) -> list[Edge]:
    """The edges with their ``sink`` and ``damage`` flags set (any ``inconsistent`` flag is kept).

    Args:
        nodes: the graph's nodes.
        edges: its edges, with their damage attached (:func:`attach`).
        sinks: the sink positions (``stats["sinks"]["positions"]``).
        noise_floor: the graph's noise floor of effects.
        reference: the edges the damage rule compares with (by default ``edges``; a drill-down adds its parent's).
        damage_rule: False turns the damage rule off (for the KL divergence, whose effect is the damage).
    """
    sink_positions = set(sinks)
    damaged = damage_flags(edges, noise_floor, reference) if damage_rule else [False] * len(edges)
    out: list[Edge] = []
    for edge, hurt in zip(edges, damaged):
        source = nodes[edge.source]
        names = set(edge.flags) - {"sink", "damage"}
        if any(source.start <= p < source.end for p in sink_positions):
            names.add("sink")
        if hurt:
            names.add("damage")
        out.append(replace(edge, flags=tuple(name for name in FLAGS if name in names)))
    return out
