"""Faithfulness: do a graph's strongest edges, together, carry the prediction?

Keep the graph's k strongest edges and intervene on every other attention edge (j -> i, j <= i) at once, in every
head of every chosen layer: one row of a forward pass per kept set, all rows batched. The result
(:class:`~infoflow_widget.graph.faithfulness.Faithfulness`) is plain data; its module defines f and the areas.
"""

from __future__ import annotations

import math
import random as random_module
import statistics
import time
from collections.abc import Sequence
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError, is_whole
from ..graph.faithfulness import Faithfulness, Point, RandomPoint, Span
from ..interventions.base import Intervention
from ..interventions.edges import EdgeSet

if TYPE_CHECKING:
    from ..engine.engine import FlowEngine
    from ..graph.flowgraph import Edge, FlowGraph

SMALL_KS = (1, 2, 3, 5, 10)
"""The first points of the default curve: the few edges a reader looks at first."""

MIB_FRACTIONS = (0.001, 0.002, 0.005, 0.01, 0.02, 0.05, 0.1, 0.2, 0.5, 1.0)
"""The fractions of the graph's edges at which MIB evaluates a circuit, the rest of the default curve."""

RANKINGS = ("abs", "signed")
"""How the kept set is chosen: the strongest |effect| first, or the most helpful (largest effect) first."""

MAX_RANDOM = 1000
"""The most random kept sets drawn per k."""


def default_ks(edges: int) -> list[int]:
    """1, 2, 3, 5, 10 and MIB's fractions of ``edges``, rounded, distinct, between 1 and ``edges``."""
    found = {k for k in SMALL_KS if k <= edges} | {max(1, round(f * edges)) for f in MIB_FRACTIONS}
    return sorted(k for k in found if k <= edges)


def faithfulness(
    engine: FlowEngine,
    graph: FlowGraph,
    ks: Sequence[int] | None = None,
    ablation: Intervention | None = None,
    *,
    ranking: str = "abs",
    necessity: bool = True,
    random: int = 8,
    seed: int = 0,
) -> Faithfulness:
    """How much of the prediction the graph's ``k`` strongest edges keep when everything else is intervened.

    For each k, K = the graph's k strongest edges (a span edge keeps every token edge j -> i, j <= i, between its
    spans), and every attention edge of the prompt outside K is intervened by ``ablation`` at once; k = 0 is the
    baseline, every edge intervened. Each kept set is one row of a forward pass, through the same edit path as a
    group edge, and the rows are batched. Everything is checked before the first pass.

    Args:
        engine: an engine of the graph's prompt, metric and layers (``engine.check_measured_here``); its
            intervention is the ablation unless ``ablation`` is given.
        graph: the graph whose edges are ranked (a graph just measured, or loaded from a file).
        ks: how many edges to keep at each point (default: :func:`default_ks`); each between 1 and the number of
            the graph's edges.
        ablation: what is done to the edges outside K (any intervention; default: the engine's). ``Corrupt.auto``
            gives the mean over its samples.
        ranking: ``"abs"`` keeps the strongest |effect| first; ``"signed"`` the most helpful first.
        necessity: also measure, for each k, the metric with only K intervened (the top k removed).
        random: kept sets of k of the graph's edges drawn at random per k (seeded by ``seed``): the baseline of a
            ranking that knows nothing. 0 for none.
        seed: the seed of the random draws.

    Raises:
        InfoFlowError: bad ``ks``, ``ranking``, ``random`` or ``ablation``; an empty graph; a graph of another
            prompt, metric or layers; an ablation the prompt cannot take (a corrupted prompt of another length).
    """
    begin = time.perf_counter()
    ks = _check(engine, graph, ks, ablation, ranking, random)
    measuring = engine if ablation is None or ablation == engine.intervention else engine.with_intervention(ablation)
    everything = frozenset((j, i) for i in range(engine.n) for j in range(i + 1))
    order = _ranked(graph, ranking)
    kept = [_kept(graph, order[:k]) for k in ks]
    draws = _draws(len(graph.edges), ks, random, seed)
    passes, rows = measuring.forward_passes, measuring.interventions
    removed = [everything, *(everything - pairs for pairs in kept)]
    removed += [pairs for pairs in kept] if necessity else []
    removed += [everything - _kept(graph, picked) for picked in draws]
    effects = _effects(measuring, removed)
    gap = effects[0]  # clean - baseline

    def share(effect: float) -> float:
        return (gap - effect) / gap if gap != 0 else math.nan

    clean = engine.clean_metric
    spans = [[_spans(graph, graph.edges[e]) for e in order[:k]] for k in ks]
    edges = len(graph.edges)
    curve = [Point(0, 0.0, [], clean - gap, 0.0)]
    curve += [Point(k, k / edges, s, clean - e, share(e)) for k, s, e in zip(ks, spans, effects[1 : 1 + len(ks)])]
    rest = effects[1 + len(ks) :]
    needed = []
    if necessity:
        needed = [Point(k, k / edges, s, clean - e, e / gap if gap else math.nan) for k, s, e in zip(ks, spans, rest)]
        rest = rest[len(ks) :]
    return Faithfulness(
        tokens=list(graph.tokens),
        clean_metric=clean,
        baseline=clean - gap,
        curve=curve,
        necessity=needed,
        random=_random_points(ks, random, [share(e) for e in rest]),
        edges=edges,
        provenance={
            **graph.provenance,
            "ablation": measuring.intervention.params(),
            "ablation_text": measuring.intervention.describe(),
            "ranking": ranking,
            "random": random,
            "seed": seed,
        },
        stats={
            "forward_passes": measuring.forward_passes - passes,
            "rows": measuring.interventions - rows,
            "seconds": round(time.perf_counter() - begin, 3),
        },
    )


def _check(
    engine: FlowEngine,
    graph: FlowGraph,
    ks: Sequence[int] | None,
    ablation: Intervention | None,
    ranking: str,
    random: int,
) -> list[int]:
    """The checked ks (sorted, distinct); every other argument checked too, before any pass."""
    if not graph.edges:
        raise InfoFlowError("The graph has no edges: there is nothing to keep (lower its threshold or top-k).")
    engine.check_measured_here(graph, intervention=False)
    if ranking not in RANKINGS:
        raise InfoFlowError(f"ranking must be one of {', '.join(map(repr, RANKINGS))}; got {ranking!r}.")
    if not is_whole(random) or random > MAX_RANDOM:
        raise InfoFlowError(f"random must be a whole number of draws from 0 to {MAX_RANDOM}; got {random!r}.")
    if ablation is not None and not isinstance(ablation, Intervention):
        raise InfoFlowError(f"ablation must be an intervention such as Zero() or Corrupt.auto(); got {ablation!r}.")
    if any(not math.isfinite(e.effect) for e in graph.edges):
        raise InfoFlowError("The graph has NaN or infinite effects: its edges cannot be ranked.")
    if ks is None:
        return default_ks(len(graph.edges))
    given: list[Any] = list(ks) if isinstance(ks, Sequence) and not isinstance(ks, str) else [ks]
    bad = [k for k in given if not is_whole(k, minimum=1) or k > len(graph.edges)]
    if not given or bad:
        raise InfoFlowError(
            f"ks must be whole numbers from 1 to {len(graph.edges)} (the graph's edges); got {bad or given!r}."
        )
    return sorted({int(k) for k in given})


def _ranked(graph: FlowGraph, ranking: str) -> list[int]:
    """The graph's edge indices, kept first: strongest |effect| (or largest effect), ties by index."""
    key = (lambda k: -abs(graph.edges[k].effect)) if ranking == "abs" else (lambda k: -graph.edges[k].effect)
    return sorted(range(len(graph.edges)), key=lambda k: (key(k), k))


def _spans(graph: FlowGraph, edge: Edge) -> tuple[Span, Span]:
    source, target = graph.nodes[edge.source], graph.nodes[edge.target]
    return (source.start, source.end), (target.start, target.end)


def _kept(graph: FlowGraph, indices: Sequence[int]) -> frozenset[tuple[int, int]]:
    """The token edges (j, i), j <= i, that the graph edges ``indices`` cover."""
    pairs = set()
    for k in indices:
        sources, targets = graph.positions(graph.edges[k])
        pairs |= {(j, i) for i in targets for j in sources if j <= i}
    return frozenset(pairs)


def _draws(edges: int, ks: list[int], random: int, seed: int) -> list[list[int]]:
    """``random`` sets of k edge indices drawn without replacement, for each k in turn (seeded)."""
    rng = random_module.Random(seed)
    return [rng.sample(range(edges), k) for k in ks for _ in range(random)]


def _effects(engine: FlowEngine, removed: list[frozenset[tuple[int, int]]]) -> list[float]:
    """Clean - metric with each set intervened; an empty set (nothing intervened) is 0 without a pass."""
    measured = [pairs for pairs in dict.fromkeys(removed) if pairs]
    found = dict(zip(measured, engine.effects_of_sets([EdgeSet(p) for p in measured], desc="faithfulness")))
    return [found.get(pairs, 0.0) for pairs in removed]


def _random_points(ks: list[int], random: int, shares: list[float]) -> list[RandomPoint]:
    points = []
    for n, k in enumerate(ks if random else []):
        values = shares[n * random : (n + 1) * random]
        std = statistics.stdev(values) if len(values) > 1 else 0.0
        points.append(RandomPoint(k, statistics.fmean(values), std, len(values)))
    return points
