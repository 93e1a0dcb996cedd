"""Search strategies: which (sources, targets) groups of positions the engine measures.

A strategy turns an engine into nodes (spans of positions) and edges between them. ``Full``
measures every pair of token positions j <= i: n(n+1)/2 interventions. The others (the write-up's
appendix C) skip pairs whose connection is expected to be weak, but never estimate: every edge they
report is the engine's exact effect for that pair of spans (all positions of the source span to all
positions of the target span). Each search level is measured in one batched ``engine.effects`` call.
"""

from __future__ import annotations

import heapq
import math
import warnings
from collections.abc import Callable, Collection, Sequence
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar, Final, Literal, Protocol

from ..core.errors import InfoFlowError, is_non_negative, is_whole
from ..graph.flowgraph import Edge, Node, strongest
from .spans import (
    Pair,
    check_pair,
    child_pairs,
    cut_positions,
    halves,
    pairs_within,
    partition,
    tokens_of,
)

if TYPE_CHECKING:
    import torch

PROSE_DELIMITERS: tuple[tuple[str, ...], ...] = (("\n\n",), ("\n",), (".", "!", "?", ";"))
"""Paragraphs, lines, sentences (then tokens)."""

CODE_DELIMITERS: tuple[tuple[str, ...], ...] = (("\n\n",), ("\n",))
"""Blocks separated by blank lines, then lines (then tokens)."""


class Measurer(Protocol):
    """What a strategy reads from and asks of the engine that runs it (``FlowEngine`` is one).

    Strategies depend on this, not on the engine: the engine sits above them and runs them.

    Attributes:
        n: the prompt's number of tokens.
        tokens: its tokens as text.
        intervention: the intervention measured (its ``estimate_steps`` is an estimate's default).
        interventions: how many edges were measured so far (for the cost in a graph's stats).
        attention_mass: ``(n, n)``, each edge's attention summed over heads and layers, ``[target, source]``.
        extra_stats: figures a strategy reports, merged into the graph's stats.
    """

    n: int
    tokens: list[str]
    intervention: Any
    interventions: int
    attention_mass: torch.Tensor
    extra_stats: dict[str, Any]

    def effects(self, groups: Sequence[tuple[Sequence[int], Sequence[int]]], desc: str = "edges") -> list[float]:
        """The exact effect of intervening on each group of edges (sources, targets), batched."""
        ...

    def estimate(self, steps: int = 1) -> torch.Tensor:
        """Every token edge's estimated effect, ``(n, n)`` indexed ``[target, source]``."""
        ...


@dataclass(frozen=True)
class Strategy:
    """Base class of the search strategies."""

    name: ClassVar[str] = "strategy"
    estimates: ClassVar[bool] = False
    """Whether it uses first-order estimates (which need a metric with ``first_order``)."""

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Measure the strategy's edges with ``engine`` and return the graph's nodes and edges."""
        raise TypeError(f"{type(self).__name__} does not define run().")

    def groups(self, engine: Measurer) -> list[tuple[list[int], list[int]]] | None:
        """The edge groups measured, when known before measuring anything (None: a search, led by what it finds)."""
        return None

    def build(self, engine: Measurer, effects: list[float]) -> tuple[list[Node], list[Edge]]:
        """The nodes and edges of the effects of :meth:`groups` measured elsewhere (strategies that name groups)."""
        raise TypeError(f"{type(self).__name__} searches: it has no groups to build from.")

    def params(self) -> dict[str, Any]:
        """The strategy as plain JSON data."""
        return {"name": self.name, **self.__dict__}


def full_cost(n: int) -> int:
    """Interventions of the full token graph of ``n`` positions: n(n+1)/2."""
    return n * (n + 1) // 2


def cost_stats(engine: Measurer) -> dict[str, Any]:
    """The engine's work so far against the full graph's: for a graph's ``stats``."""
    full = full_cost(engine.n)
    return {"full_interventions": full, "fraction_of_full": round(engine.interventions / full, 4)}


@dataclass
class _Search:
    """The span pairs one run has measured, with effect and level; each pair is measured at most once."""

    engine: Measurer
    name: str
    measured: dict[Pair, tuple[float, int]] = field(default_factory=dict)

    def measure(self, pairs: Sequence[Pair], levels: int | Sequence[int]) -> list[float]:
        """The effects of ``pairs``, measuring the new ones in one batched call."""
        levels = [levels] * len(pairs) if isinstance(levels, int) else list(levels)
        new = {pair: level for pair, level in zip(pairs, levels) if pair not in self.measured}
        if new:
            groups = [
                (range(s.start, s.end), range(t.start, t.end)) for s, t in (check_pair(*p, self.engine.n) for p in new)
            ]
            depth = min(new.values())
            effects = self.engine.effects(groups, desc=f"{self.name} level {depth}")
            self.measured.update({pair: (e, new[pair]) for pair, e in zip(new, effects)})
        return [self.measured[pair][0] for pair in pairs]

    def result(self, base: Sequence[Node] = ()) -> tuple[list[Node], list[Edge]]:
        """Nodes (``base`` and every measured span, parents before children) and edges."""
        spans = {*base, *(span for pair in self.measured for span in pair)}
        nodes = sorted(spans, key=lambda node: (node.start, -node.end))
        index = {node: i for i, node in enumerate(nodes)}
        edges = [Edge(index[s], index[t], e, level) for (s, t), (e, level) in self.measured.items()]
        return nodes, edges


def _check_threshold(value: Any, strategy: str) -> None:
    if not is_non_negative(value):
        raise InfoFlowError(
            f"{strategy}(threshold=...) needs a finite number >= 0 (edges with |effect| above it are followed); "
            f"got {value!r}."
        )


def _check_min_size(value: Any, strategy: str) -> None:
    if not is_whole(value, minimum=1):
        raise InfoFlowError(f"{strategy}(min_size=...) needs a whole number of tokens >= 1; got {value!r}.")


def _warn_pruned(strategy: str, threshold: float, effects: Sequence[float]) -> None:
    largest = max((abs(e) for e in effects if not math.isnan(e)), default=float("nan"))
    warnings.warn(
        f"{strategy}: no edge of the first level has |effect| > {threshold} (the largest is {largest:.4g}), so the "
        "graph holds only the first level; lower the threshold to search further.",
        stacklevel=3,
    )


def _strong(pairs: Sequence[Pair], effects: Sequence[float], threshold: float) -> list[Pair]:
    # NaN compares false, so a NaN edge is never followed.
    return [pair for pair, e in zip(pairs, effects) if abs(e) > threshold]


def _descend(
    search: _Search, top: Sequence[Node], children: Callable[[Node, int], list[Node]], threshold: float, depth: int
) -> None:
    """Measure all pairs of the ``top`` parts, then refine strong pairs level by level down to ``depth``.

    A pair whose spans both stay whole at a level is carried down unmeasured (its effect is known),
    so levels that do not split a span cost nothing and cannot loop.
    """
    frontier = pairs_within(top)
    effects = search.measure(frontier, 0)
    if depth > 0 and not _strong(frontier, effects, threshold):
        _warn_pruned(search.name, threshold, effects)
    for level in range(1, depth + 1):
        frontier = [
            child
            for s, t in _strong(frontier, effects, threshold)
            for child in child_pairs(s, t, children(s, level), children(t, level))
        ]
        if not frontier:
            return
        effects = search.measure(frontier, level)


@dataclass(frozen=True)
class Full(Strategy):
    """Every pair of token positions j <= i, self-edges included."""

    name: ClassVar[str] = "full"

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Measure all n(n+1)/2 token edges."""
        return self.build(engine, engine.effects(self.groups(engine), desc="full graph"))

    def groups(self, engine: Measurer) -> list[tuple[list[int], list[int]]]:
        """Every token edge j -> i with j <= i, by target then source."""
        return [([j], [i]) for i in range(engine.n) for j in range(i + 1)]

    def build(self, engine: Measurer, effects: list[float]) -> tuple[list[Node], list[Edge]]:
        """The token nodes and edges of the effects of :meth:`groups`."""
        nodes = [Node(p, p + 1) for p in range(engine.n)]
        groups = self.groups(engine)
        return nodes, [Edge(s[0], t[0], effect) for (s, t), effect in zip(groups, effects)]


@dataclass(frozen=True)
class Backtrack(Strategy):
    """Token edges, searched backwards from the last position.

    All edges into the last position are measured; every source with ``|effect| > threshold`` becomes a
    target whose incoming edges are measured in the next round, until no new position qualifies. With
    threshold 0 this reaches every position the last one depends on. An edge's level is its round
    (0 = edges into the last position).

    Args:
        threshold: follow sources with ``|effect|`` above this (a finite number >= 0).
    """

    name: ClassVar[str] = "backtrack"
    threshold: float = 0.0

    def __post_init__(self) -> None:
        _check_threshold(self.threshold, "Backtrack")

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Backtrack from the last position; one batched call per round."""
        search = _Search(engine, self.name)
        targets, done, level = [engine.n - 1], set(), 0
        while targets:
            done.update(targets)
            pairs = [(Node(j, j + 1), Node(i, i + 1)) for i in targets for j in range(i + 1)]
            effects = search.measure(pairs, level)
            targets = sorted({s.start for s, _ in _strong(pairs, effects, self.threshold)} - done)
            if level == 0 and not targets:
                _warn_pruned(self.name, self.threshold, effects)
            level += 1
        return search.result(tokens_of(Node(0, engine.n)))


@dataclass(frozen=True)
class Bisect(Strategy):
    """Span edges between halves, refined where the parents' connection is strong.

    The prompt is split in two halves and the edges left->left, left->right and right->right are
    measured. Each part is halved again, and the pairs of children are measured only under a parent
    edge with ``|effect| > threshold`` (under P->P: c1->c1, c1->c2, c2->c2; under P->Q: every child of P
    to every child of Q). Parts of at most ``min_size`` tokens are not split. An edge's level is its
    halving depth (0 = the two halves).

    Args:
        threshold: refine edges with ``|effect|`` above this (a finite number >= 0).
        min_size: parts of this many tokens or fewer are leaves (an integer >= 1).
    """

    name: ClassVar[str] = "bisect"
    threshold: float = 0.0
    min_size: int = 1

    def __post_init__(self) -> None:
        _check_threshold(self.threshold, "Bisect")
        _check_min_size(self.min_size, "Bisect")

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Bisect level by level; one batched call per level."""
        search = _Search(engine, self.name)
        top = self._split(Node(0, engine.n), 0)
        if len(top) == 1:
            warnings.warn(
                f"Bisect: the prompt has {engine.n} tokens, not more than min_size={self.min_size}, so it stays one "
                "part and the graph is its single self-edge.",
                stacklevel=2,
            )
        search_depth = _halving_depth(max(p.end - p.start for p in top), self.min_size)
        _descend(search, top, self._split, self.threshold, search_depth)
        return search.result(top)

    def _split(self, span: Node, level: int) -> list[Node]:
        return halves(span) if span.end - span.start > self.min_size else [span]


def _halving_depth(size: int, min_size: int) -> int:
    """How many halvings bring a part of ``size`` tokens down to ``min_size`` or fewer."""
    depth = 0
    while size > min_size:
        size, depth = (size + 1) // 2, depth + 1
    return depth


@dataclass(frozen=True)
class Split(Strategy):
    r"""Span edges between parts of a delimiter hierarchy, refined where the connection is strong.

    Each level of ``delimiters`` is a tuple of strings; a part ends at the token that holds a
    delimiter's last character. All pairs of top-level parts are measured; a pair with ``|effect| >
    threshold`` is refined by partitioning both its parts by the next level, and so on down to tokens.
    An edge's level is the index of its delimiter level (``len(delimiters)`` = tokens).

    Args:
        delimiters: the hierarchy, coarsest first, e.g. ``(("\n\n",), ("\n",), (".", "!", "?", ";"))``.
        threshold: refine pairs with ``|effect|`` above this (a finite number >= 0).

    Examples:
        >>> Split.code(threshold=0.5)  # blocks, then lines, then tokens
        >>> Split(((";",),))           # statements, then tokens
    """

    name: ClassVar[str] = "split"
    delimiters: tuple[tuple[str, ...], ...] = PROSE_DELIMITERS
    threshold: float = 0.0

    def __post_init__(self) -> None:
        object.__setattr__(self, "delimiters", _check_delimiters(self.delimiters))
        _check_threshold(self.threshold, "Split")

    @classmethod
    def prose(cls, threshold: float = 0.0) -> Split:
        """Paragraphs (blank lines), lines, sentences (``. ! ? ;``), then tokens."""
        return cls(PROSE_DELIMITERS, threshold)

    @classmethod
    def code(cls, threshold: float = 0.0) -> Split:
        """Blocks separated by blank lines, lines, then tokens."""
        return cls(CODE_DELIMITERS, threshold)

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Split level by level; one batched call per level."""
        cuts = [cut_positions(engine.tokens, level) for level in self.delimiters]
        self._warn_unused(cuts, engine.n)
        depth = len(self.delimiters)

        def children(span: Node, level: int) -> list[Node]:
            return partition(span, cuts[level]) if level < depth else tokens_of(span)

        top = children(Node(0, engine.n), 0)
        search = _Search(engine, self.name)
        _descend(search, top, children, self.threshold, depth)
        return search.result(top)

    def _warn_unused(self, cuts: list[set[int]], n: int) -> None:
        unused = [k for k, c in enumerate(cuts) if not any(p < n - 1 for p in c)]
        for k in unused:
            effect = f"the top level is one part 0:{n}" if k == 0 else "that level splits nothing further"
            warnings.warn(
                f"Split: none of the delimiters {self.delimiters[k]!r} (level {k}) occurs before the prompt's last "
                f"token, so {effect}.",
                stacklevel=3,
            )


def _check_delimiters(delimiters: Any) -> tuple[tuple[str, ...], ...]:
    """The hierarchy as a tuple of tuples of non-empty strings; a level given as one string is one delimiter."""
    if isinstance(delimiters, str) or not isinstance(delimiters, Sequence):
        raise InfoFlowError(
            f'Split(delimiters=...) needs a sequence of levels, each a tuple of strings, e.g. (("\\n\\n",), '
            f'("\\n",)); got {delimiters!r}.'
        )
    levels = tuple((level,) if isinstance(level, str) else tuple(level) for level in delimiters)
    for k, level in enumerate(levels):
        if not level or not all(isinstance(d, str) and d for d in level):
            raise InfoFlowError(
                f"Split(delimiters=...) level {k} must be a non-empty tuple of non-empty strings; got {level!r}."
            )
    return levels


@dataclass(frozen=True)
class BacktrackBisect(Strategy):
    """Backtracking from the last position, finding each target's sources by bisection.

    For a target position t, the edges from the two halves of ``[0, t]`` into t are measured; a half
    with ``|effect| > threshold`` is halved again (a span of at most ``min_size`` tokens is split
    straight into its tokens), down to single tokens. Token sources above the threshold become
    targets themselves. Each round measures the current spans of every open target in one batched
    call. An edge's level is its halving depth (0 = a half of ``[0, t]``).

    Args:
        threshold: follow spans and sources with ``|effect|`` above this (a finite number >= 0).
        min_size: spans this long or shorter are split into tokens rather than halves (an integer >= 1).
    """

    name: ClassVar[str] = "backtrack-bisect"
    threshold: float = 0.0
    min_size: int = 1

    def __post_init__(self) -> None:
        _check_threshold(self.threshold, "BacktrackBisect")
        _check_min_size(self.min_size, "BacktrackBisect")

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Rounds of bisection over every open target; one batched call per round."""
        search = _Search(engine, self.name)
        queued = {engine.n - 1}
        frontier = self._start(engine.n - 1)
        first = True
        while frontier:
            pairs = [(s, t) for s, t, _ in frontier]
            effects = search.measure(pairs, [d for _, _, d in frontier])
            strong = [item for item, e in zip(frontier, effects) if abs(e) > self.threshold]
            if first and not strong:
                _warn_pruned(self.name, self.threshold, effects)
            first, frontier = False, []
            for source, target, depth in strong:
                if source.end - source.start > 1:
                    frontier += [(c, target, depth + 1) for c in self._split(source)]
                elif source.start not in queued:
                    queued.add(source.start)
                    frontier += self._start(source.start)
        return search.result(tokens_of(Node(0, engine.n)))

    def _start(self, target: int) -> list[tuple[Node, Node, int]]:
        """The first spans to measure into ``target``: the halves of ``[0, target]`` (or the token itself)."""
        whole = Node(0, target + 1)
        first = [whole] if target == 0 else self._split(whole)
        return [(span, Node(target, target + 1), 0) for span in first]

    def _split(self, span: Node) -> list[Node]:
        return halves(span) if span.end - span.start > self.min_size else tokens_of(span)


@dataclass(frozen=True)
class SpanPair(Strategy):
    """Every token edge inside one span pair: each token j of ``source`` to each token i of ``target``, j <= i.

    Used by :meth:`FlowGraph.expand` to drill down into a span edge.
    """

    name: ClassVar[str] = "span-pair"
    source: Node = Node(0, 1)
    target: Node = Node(0, 1)

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Measure the token edges of the pair in one batched call."""
        check_pair(self.source, self.target, engine.n)
        pairs = [(s, t) for t in tokens_of(self.target) for s in tokens_of(self.source) if s.start <= t.start]
        search = _Search(engine, self.name)
        search.measure(pairs, 0)
        return search.result()

    def params(self) -> dict[str, Any]:
        """The strategy as plain JSON data (spans as labels)."""
        return {"name": self.name, "source": self.source.label, "target": self.target.label}


AUTO_VERIFY: Final = "auto"
"""``AttributionThenExact(k="auto")``: verify in rounds until the exact top 10 is settled (:func:`verify_in_rounds`)."""


MAX_STEPS = 256
"""The most points on an integration path: past 16 the estimates stopped improving (benchmarks/README.md, section 10),
and each point costs a gradient row."""


def _check_steps(value: Any, strategy: str) -> None:
    if value is not None and not (is_whole(value, minimum=1) and value <= MAX_STEPS):
        raise InfoFlowError(
            f"{strategy}(steps=...) needs a whole number from 1 to {MAX_STEPS} of points on the integration path (1: "
            f"the plain first-order estimate), or None for the intervention's own default; got {value!r}."
        )


def estimate_steps(strategy_steps: int | None, engine: Measurer) -> int:
    """The path points an estimating strategy uses: its own ``steps``, else its engine's intervention's default."""
    return strategy_steps if strategy_steps is not None else engine.intervention.estimate_steps


@dataclass(frozen=True)
class Attribution(Strategy):
    """Estimates of every token edge from one forward and one backward pass: not exact.

    Each edge is marked ``exact=False``. Each intervention owns its estimate (``first_order`` and its
    integration path in :mod:`infoflow_widget.interventions.base`). With ``steps=k > 1`` the gradient is read at k
    points along the path from the clean run to every edge intervened on (integrated gradients, as in EAP-IG),
    the k points being batch rows of the same pass; ``steps=1`` is the gradient at the clean run alone. Which
    is better depends on the intervention (``benchmarks/README.md``, section 10), so by default (None) each
    takes its own ``estimate_steps``: 1 for the pattern interventions, 8 for Corrupt. The graph's
    ``stats["steps"]`` says which was used.

    Args:
        steps: points on the integration path (a whole number >= 1), or None for the intervention's default.
    """

    name: ClassVar[str] = "attribution"
    estimates: ClassVar[bool] = True
    steps: int | None = None

    def __post_init__(self) -> None:
        _check_steps(self.steps, "Attribution")

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Estimate all n(n+1)/2 token edges at once."""
        steps = estimate_steps(self.steps, engine)
        estimate = engine.estimate(steps)
        engine.extra_stats["steps"] = steps
        nodes = tokens_of(Node(0, engine.n))
        return nodes, [Edge(j, i, float(estimate[i, j]), exact=False) for i in range(engine.n) for j in range(i + 1)]


@dataclass(frozen=True)
class AttributionThenExact(Strategy):
    """Estimates of every token edge, then exact interventions for the ``k`` strongest estimates.

    Edges whose estimate reaches ``threshold`` (when given) are verified too. With ``k="auto"`` the edges are
    verified in rounds, strongest estimates first, until the exact top 10 among them is settled
    (:func:`verify_in_rounds`); ``stats["verification"]`` says how many were verified and why it stopped. The
    graph holds every edge: verified ones exact, the rest estimates (``exact=False``); its stats record how
    well the estimates agreed with the exact values where both exist (correlation, top-10 overlap).

    Args:
        k: how many edges to verify, strongest estimates first (an integer >= 0), or ``"auto"``.
        threshold: also verify every edge with ``|estimate| >=`` this.
        steps: the estimate's points on the integration path, as in :class:`Attribution` (None: the
            intervention's default).
    """

    name: ClassVar[str] = "attribution-then-exact"
    estimates: ClassVar[bool] = True
    k: int | Literal["auto"] = 50
    threshold: float | None = None
    steps: int | None = None

    def __post_init__(self) -> None:
        if self.k != AUTO_VERIFY and not is_whole(self.k):
            raise InfoFlowError(
                f"AttributionThenExact(k=...) needs a whole number >= 0 or {AUTO_VERIFY!r} (verify until the exact "
                f"top 10 is settled); got {self.k!r}."
            )
        if self.threshold is not None:
            _check_threshold(self.threshold, "AttributionThenExact")
        _check_steps(self.steps, "AttributionThenExact")

    def run(self, engine: Measurer) -> tuple[list[Node], list[Edge]]:
        """Estimate everything, verify the strongest estimates in batches (in rounds for ``k="auto"``)."""
        _, estimated = Attribution(self.steps).run(engine)
        values = [e.effect for e in estimated]
        also = set() if self.threshold is None else {k for k, v in enumerate(values) if abs(v) >= self.threshold}

        def measure(indices: list[int]) -> list[float]:
            pairs = [([estimated[k].source], [estimated[k].target]) for k in indices]
            return engine.effects(pairs, desc="verify")

        if self.k == AUTO_VERIFY:
            mass = engine.attention_mass
            risk = [float(mass[e.target, e.source]) for e in estimated]
            exact, engine.extra_stats["verification"] = verify_in_rounds(values, measure, also=also, risk=risk)
        else:
            verify = sorted(set(strongest(values, self.k)) | also)
            exact = dict(zip(verify, measure(verify)))
        edges = list(estimated)
        for k, effect in exact.items():
            edges[k] = Edge(estimated[k].source, estimated[k].target, effect)
        if exact:
            verified = sorted(exact)
            engine.extra_stats["agreement"] = estimate_agreement(
                [values[k] for k in verified], [exact[k] for k in verified]
            )
        return tokens_of(Node(0, engine.n)), edges


BAND_QUANTILE = 0.75
"""The share of verified edges whose error per unit of risk the stopping band covers (the rest are outliers)."""


def verify_in_rounds(
    estimates: Sequence[float],
    measure: Callable[[list[int]], list[float]],
    top: int = 10,
    also: Collection[int] = (),
    risk: Sequence[float] | None = None,
) -> tuple[dict[int, float], dict[str, Any]]:
    """Verify edges in rounds until the exact top ``top`` among them is settled, and say how sure that is.

    An estimate errs more where the intervention changes more: ``risk`` (one number per edge; the engine gives the
    clean attention mass of the edge, summed over heads and layers) scales each edge's error band. The first round
    measures the ``2 * top`` strongest estimates (and the edges ``also``). After each round, c is the
    :data:`BAND_QUANTILE` quantile of |exact - estimate| / risk over the verified edges, tau the ``top``-th strongest
    exact |effect| verified, and an unverified edge's bound |estimate| + c * risk what it could reach; the next round
    measures the ``top`` unverified edges of highest bound (so an edge of large attention mass and small estimate,
    which first-order estimates miss, comes early). It stops when a round changed nothing in the exact top ``top``
    and no unverified bound reaches tau, or when every edge is verified.

    The band of the stopping rule leaves the largest errors out, so the report also counts the unverified edges
    that could still enter the top under the widest band seen (c_max, the largest error per unit of risk):
    ``at_risk`` 0 means no verified edge erred enough to move an unverified one into the top; more means the top
    is not certain, and verifying more (a larger ``k``) settles it. An edge whose estimate is NaN says nothing of
    its rank: it is verified in the first round; a NaN exact value makes the band infinite.

    Args:
        estimates: every edge's estimate.
        measure: the exact effects of the edges at the given indices (one batched call per round).
        top: the size of the top set to settle.
        also: edges verified in the first round whatever their rank.
        risk: each edge's scale of error (default: 1 for every edge, a band in the metric's units).

    Returns:
        The exact effects by edge index, and the report: ``verified`` (count), ``of`` (edges), ``rounds``,
        ``stopped`` (``"bound"`` or ``"all"``), ``tenth_exact`` (tau), ``widening`` (c) and ``widest`` (c_max; None
        where infinite) at the end, and ``at_risk`` (unverified edges whose estimate widened by c_max * risk reaches
        tau).
    """
    scale = [1.0] * len(estimates) if risk is None else [max(float(r), 1e-12) for r in risk]
    exact: dict[int, float] = {}
    rounds, settled = 0, None
    unknown = {k for k, value in enumerate(estimates) if math.isnan(value)}
    batch = sorted(set(strongest(estimates)[: 2 * top]) | set(also) | unknown)
    while True:
        exact.update(zip(batch, measure(batch)))
        rounds += 1
        errors = sorted(_error(estimates[k], exact[k]) / scale[k] for k in exact)
        c, widest = errors[min(len(errors) - 1, int(BAND_QUANTILE * len(errors)))], errors[-1]
        verified = list(exact)
        leaders = {verified[k] for k in strongest([exact[k] for k in verified], top)}
        tau = abs(exact[min(leaders, key=lambda k: _strength(exact[k]))]) if len(verified) >= top else 0.0
        left = [k for k in range(len(estimates)) if k not in exact]
        # The next round's edges alone, not all of them sorted: a long prompt has millions of token edges.
        ranked = heapq.nlargest(top, left, key=lambda k: _bound(estimates[k], c, scale[k]))
        report = {"tenth_exact": tau, "widening": _finite(c), "widest": _finite(widest)}
        report["at_risk"] = sum(_bound(estimates[k], widest, scale[k]) >= tau for k in left)
        if not left:
            stopped = "all"
            break
        if leaders == settled and _bound(estimates[ranked[0]], c, scale[ranked[0]]) < tau:
            stopped = "bound"
            break
        settled, batch = leaders, ranked
    return exact, {"verified": len(exact), "of": len(estimates), "rounds": rounds, "stopped": stopped, **report}


def _finite(value: float) -> float | None:
    """``value``, or None where it is not finite (saved graphs hold plain finite data)."""
    return value if math.isfinite(value) else None


def _bound(estimate: float, band: float, risk: float) -> float:
    """The strongest an edge could be: |estimate| widened by its band (infinite for NaN)."""
    value = _strength(estimate) + band * risk
    return math.inf if math.isnan(value) else value


def _strength(value: float) -> float:
    """|value|, with NaN as infinitely strong."""
    return math.inf if math.isnan(value) else abs(value)


def _error(estimate: float, exact: float) -> float:
    """|exact - estimate|, infinite when either is NaN."""
    error = abs(exact - estimate)
    return math.inf if math.isnan(error) else error


def estimate_agreement(estimates: list[float], exact: list[float]) -> dict[str, float | int | None]:
    """How well estimates ranked and matched exact values: Pearson correlation and top-10 overlap.

    The overlap counts the edges among the 10 strongest by estimate that are also among the 10
    strongest by exact value; with 10 or fewer verified edges both sets are all of them, so it is None.
    """
    count = len(exact)
    mean_e, mean_x = sum(estimates) / count, sum(exact) / count
    cov = sum((e - mean_e) * (x - mean_x) for e, x in zip(estimates, exact))
    spread = math.sqrt(sum((e - mean_e) ** 2 for e in estimates) * sum((x - mean_x) ** 2 for x in exact))
    overlap = len(set(strongest(estimates, 10)) & set(strongest(exact, 10))) if count > 10 else None
    return {
        "verified": count,
        "correlation": round(cov / spread, 4) if math.isfinite(spread) and spread > 0 else None,
        "top10_overlap": overlap,
    }


STRATEGIES: dict[str, type[Strategy]] = {
    "full": Full,
    "backtrack": Backtrack,
    "bisect": Bisect,
    "split": Split,
    "backtrack-bisect": BacktrackBisect,
    "attribution": Attribution,
    "attribution-then-exact": AttributionThenExact,
}
"""The strategies by CLI name; each builds with its defaults."""
