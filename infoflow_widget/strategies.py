"""Search strategies: which (sources, targets) groups of positions the engine measures.

A strategy turns an engine into nodes (spans of positions) and edges between them. ``Full``
measures every pair of token positions j <= i: n(n+1)/2 interventions.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import TYPE_CHECKING, Any

from .graph import Edge, Node

if TYPE_CHECKING:
    from .engine import FlowEngine


@dataclass(frozen=True)
class Strategy:
    """Base class of the search strategies."""

    def run(self, engine: FlowEngine) -> tuple[list[Node], list[Edge]]:
        """Measure the strategy's edges with ``engine`` and return the graph's nodes and edges."""
        raise TypeError(f"{type(self).__name__} does not define run().")

    def params(self) -> dict[str, Any]:
        """The strategy as plain JSON data."""
        return {"name": type(self).__name__.lower(), **self.__dict__}


@dataclass(frozen=True)
class Full(Strategy):
    """Every pair of token positions j <= i, self-edges included."""

    def run(self, engine: FlowEngine) -> tuple[list[Node], list[Edge]]:
        """Measure all n(n+1)/2 token edges."""
        nodes = [Node(p, p + 1) for p in range(engine.n)]
        pairs = [(j, i) for i in range(engine.n) for j in range(i + 1)]
        effects = engine.effects([([j], [i]) for j, i in pairs], desc="full graph")
        return nodes, [Edge(j, i, effect) for (j, i), effect in zip(pairs, effects)]


STRATEGIES: dict[str, type[Strategy]] = {"full": Full}
