"""The widget's parameters: what a set of control values asks to measure, and the checks of its arguments.

A :class:`Request` freezes the parameters that change what is measured, so equal requests share one
cached graph. Threshold and top-k of a graph of every token edge are not part of it: the front end
filters those without a round trip. Nothing here imports anywidget, so the offline pages use it too.
"""

from __future__ import annotations

import inspect
import math
from collections.abc import Callable
from dataclasses import dataclass, fields, replace
from typing import TYPE_CHECKING, Any, cast

from ..core.errors import InfoFlowError, is_non_negative, is_whole
from ..engine.metrics import as_metric
from ..interventions.base import Intervention
from ..interventions.patterns import Zero
from ..interventions.registry import INTERVENTIONS, build_intervention, intervention_menu
from ..search.strategies import STRATEGIES, Attribution, Strategy

if TYPE_CHECKING:
    from ..graph.flowgraph import Edge, FlowGraph

CONSENSUS = "consensus"
"""The widget's intervention menu entry that compares interventions (:mod:`infoflow_widget.analysis.consensus`); not an
intervention itself, so it is not in ``INTERVENTIONS``."""

CONSENSUS_ENTRY: dict[str, Any] = {
    "name": CONSENSUS,
    "description": (
        "Consensus: Zero, Dampen(alpha), Knockout (and Corrupt when a corrupted prompt is given); "
        "inconsistent edges faded"
    ),
    # The alpha slider and the corrupted-prompt box show for it, as for the interventions that take them.
    "parameters": {"alpha": 0.5, "corrupted_prompt": ""},
}
"""The consensus entry of the widget's intervention menu."""

INTERVENTION_NAMES = (*INTERVENTIONS, CONSENSUS)
"""The values of the ``intervention`` trait."""


def widget_intervention_menu() -> list[dict[str, Any]]:
    """The widget's intervention menu: ``intervention_menu``, then consensus."""
    return [*intervention_menu(), dict(CONSENSUS_ENTRY, parameters=dict(CONSENSUS_ENTRY["parameters"]))]


def consensus_interventions(alpha: float | None, corrupted_prompt: str | None) -> list[Intervention]:
    """What the consensus entry compares: Zero, Dampen(alpha), Knockout, and Corrupt when a corrupted prompt is given.

    Zero comes first: the consensus graph shows its effects.
    """
    chosen = [Zero(), build_intervention("dampen", alpha=alpha)]
    if "knockout" in INTERVENTIONS:
        chosen.append(build_intervention("knockout"))
    if corrupted_prompt:
        chosen.append(build_intervention("corrupt", corrupted_prompt=corrupted_prompt))
    return chosen


ESTIMATED_FIRST = ("full", "attribution-then-exact")
"""Strategies whose graph holds every token edge, so the attribution estimate previews the same edges.

Attribution estimates all four interventions the widget offers; search strategies measure span edges,
which a token estimate does not preview.
"""

ARGUMENTS = (
    "model", "prompt", "answer", "distractor", "intervention", "alpha", "corrupted_prompt",
    "strategy", "threshold", "top_k", "layers", "preview_seconds",
)  # fmt: skip
"""The widget's constructor arguments, in order."""


def prunes(strategy: type[Strategy]) -> bool:
    """Whether ``strategy`` searches with a threshold (Backtrack, Bisect, ...) rather than keeping every edge.

    Their ``threshold`` has a numeric default; AttributionThenExact's optional one widens verification
    instead, and Full and Attribution have none. Graphs of the others hold every token pair, so the
    browser filters them by threshold without recomputing.
    """
    return any(f.name == "threshold" and f.default is not None for f in fields(strategy))


def searches(name: str) -> bool:
    """Whether the strategy called ``name`` prunes its search with a threshold (see :func:`prunes`)."""
    strategy = STRATEGIES.get(name)
    return strategy is not None and prunes(strategy)


SEARCH_THRESHOLD = 0.1
"""A search strategy chosen at threshold 0 starts at this fraction of |clean metric| (see :func:`default_threshold`)."""


def default_threshold(clean_metric: float | None, largest_effect: float = 0.0) -> float:
    """The threshold a search strategy starts at when chosen at threshold 0, rounded to two significant digits.

    10% of |clean metric|: a source that moves the metric by less is not followed. Where the clean
    metric is 0 (the KL divergence, whose clean value is its optimum) or unknown, 10% of
    ``largest_effect`` (the largest |effect| of the graph on show); 0 when neither is known. At
    threshold 0 a search measures every edge the full graph does, and more slowly.

    Examples:
        >>> default_threshold(5.93)
        0.59
        >>> default_threshold(0.0, largest_effect=0.042)
        0.0042
    """
    base = abs(clean_metric) if clean_metric is not None and math.isfinite(clean_metric) else 0.0
    if base == 0.0 and math.isfinite(largest_effect):
        base = abs(largest_effect)
    return float(f"{SEARCH_THRESHOLD * base:.2g}")


def strategy_menu() -> list[dict[str, Any]]:
    """The strategies for the front end's menu: name, the first line of the docstring, and :func:`prunes`."""
    return [
        {
            "name": name,
            "description": cast(str, inspect.getdoc(strategy)).splitlines()[0].replace("``", ""),  # each has one
            "prunes": prunes(strategy),
        }
        for name, strategy in STRATEGIES.items()
    ]


def json_safe(value: Any) -> Any:
    """``value`` with NaN and infinite floats as the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``.

    The comm sends JSON, which has no such numbers (the browser's parser would reject the whole
    message); the front end reads the strings back with ``Number()``.
    """
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, dict):
        return {k: json_safe(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [json_safe(v) for v in value]
    return value


def check_arguments(unknown: dict[str, Any], threshold: Any, top_k: Any, preview_seconds: Any) -> None:
    """Refuse what the widget's constructor can check before building anything (the engine checks the rest).

    A ``threshold`` of None (the constructor's default: see :func:`default_threshold`) passes.

    Raises:
        TypeError: an unknown keyword argument.
        InfoFlowError: a bad ``preview_seconds``, ``threshold`` or ``top_k``.
    """
    if unknown:
        raise TypeError(
            f"InfoFlowWidget got unknown argument(s) {', '.join(sorted(unknown))}; valid: {', '.join(ARGUMENTS)}."
        )
    if not is_non_negative(preview_seconds, finite=False):
        raise InfoFlowError(
            f"preview_seconds must be a number of seconds >= 0 (0: always show the estimate first, math.inf: "
            f"never); got {preview_seconds!r}."
        )
    if threshold is not None:
        check_control("threshold", threshold)
    check_control("top_k", top_k)


def check_control(name: str, value: Any) -> None:
    """Refuse a bad value of a control trait, whether the constructor, a cell or the front end sets it.

    Raises:
        InfoFlowError: a ``threshold`` that is not a finite number >= 0, or a ``top_k`` that is neither None
            nor a whole number >= 0.
    """
    if name == "threshold" and not is_non_negative(value):
        raise InfoFlowError(f"{name} must be a finite number >= 0; got {value!r}.")
    if name == "top_k" and value is not None and not is_whole(value):
        raise InfoFlowError(f"top_k must be a whole number >= 0, or None to draw every edge; got {value!r}.")


SELECTED_EDGE_KEYS = ("source", "target", "level")
"""The keys of a ``selected_edge`` value: node indices of the edge's ends, and the drill-down level (0: the graph
in the ``graph`` trait; k: the k-th expansion opened from it)."""


def check_selected_edge(value: Any, drill: list[FlowGraph]) -> tuple[int, Edge] | None:
    """The drill-down level and the edge a ``selected_edge`` value names; None for None (no edge selected).

    Args:
        value: None, or a dict with ``source`` and ``target`` (node indices of an edge of the graph on show)
            and optionally ``level`` (default 0: the graph in the ``graph`` trait; k: the k-th drill-down).
        drill: the graph on show, then the expansions opened from it.

    Raises:
        InfoFlowError: not such a dict, no graph on show yet, or no such edge in the graph of that level.
    """
    if value is None:
        return None
    if not isinstance(value, dict) or not {"source", "target"} <= set(value) or set(value) - set(SELECTED_EDGE_KEYS):
        raise InfoFlowError(
            "selected_edge must be None or a dict {'source': i, 'target': j} of node indices of an edge of the graph "
            f"on show (and optionally 'level', a drill-down level); got {value!r}."
        )
    source, target, level = value["source"], value["target"], value.get("level", 0)
    for name, number in (("source", source), ("target", target), ("level", level)):
        if not is_whole(number):
            raise InfoFlowError(f"selected_edge's {name} must be a whole number >= 0; got {number!r}.")
    if not drill:
        raise InfoFlowError("selected_edge: there is no graph on show yet to select an edge of; wait for it.")
    if level >= len(drill):
        raise InfoFlowError(
            f"selected_edge's level {level} is not open: the graph on show has {len(drill) - 1} drill-down level(s) "
            f"open (0 .. {len(drill) - 1})."
        )
    graph = drill[level]
    for edge in graph.edges:
        if (edge.source, edge.target) == (source, target):
            return int(level), edge
    where = "the graph on show" if level == 0 else f"drill-down level {level}"
    raise InfoFlowError(
        f"selected_edge {{'source': {source}, 'target': {target}}} is not an edge of {where} ({len(graph.edges)} "
        f"edges over nodes 0 .. {len(graph.nodes) - 1}): select one of graph_object.edges, by its source and target."
    )


@dataclass(frozen=True)
class Request:
    """The parameters that change what is measured: equal requests give equal graphs."""

    intervention: str
    alpha: float | None  # only for dampen
    corrupted_prompt: str | None  # only for corrupt
    strategy: str
    threshold: float | None  # only for strategies that prune with it
    answer: str | None
    distractor: str | None

    @classmethod
    def of(cls, traits: Any) -> Request:
        """The request of an object with the widget's traits (``intervention``, ``alpha``, ...)."""
        strategy = STRATEGIES.get(traits.strategy)
        intervention = INTERVENTIONS.get(traits.intervention)
        takes = {f.name for f in fields(intervention)} if intervention is not None else set()
        corrupted = traits.corrupted_prompt if "corrupted_prompt" in takes else None
        if traits.intervention == CONSENSUS:
            takes = set(CONSENSUS_ENTRY["parameters"])
            corrupted = traits.corrupted_prompt or None  # an empty box: no Corrupt among those compared
        return cls(
            intervention=traits.intervention,
            alpha=traits.alpha if "alpha" in takes else None,
            corrupted_prompt=corrupted,
            strategy=traits.strategy,
            threshold=traits.threshold if strategy is not None and prunes(strategy) else None,
            answer=traits.answer or None,  # an emptied text box means "no answer"
            distractor=traits.distractor or None,
        )

    def build_intervention(self) -> Intervention:
        if self.intervention not in INTERVENTION_NAMES:  # the widget's menu: the registry's names and consensus
            raise InfoFlowError(
                f"intervention must be one of {', '.join(INTERVENTION_NAMES)}; got {self.intervention!r}."
            )
        if self.intervention == CONSENSUS:
            raise InfoFlowError("consensus is a comparison of interventions, not one: use build_interventions().")
        return build_intervention(self.intervention, alpha=self.alpha, corrupted_prompt=self.corrupted_prompt)

    def build_interventions(self) -> list[Intervention]:
        """The interventions the request measures: the consensus's (:func:`consensus_interventions`), or its one."""
        if self.intervention == CONSENSUS:
            return consensus_interventions(self.alpha, self.corrupted_prompt)
        return [self.build_intervention()]

    def alone(self, intervention: Intervention) -> Request:
        """The request of one intervention of a consensus, as the widget asks for it alone (its cache key).

        Read from its ``params()``, so that auto-corrupt's is the request of corrupt with the prompt ``"auto"``.
        """
        params = intervention.params()
        return replace(
            self,
            intervention=intervention.kind,
            alpha=params.get("alpha"),
            corrupted_prompt=params.get("corrupted_prompt"),
        )

    def build_strategy(self) -> Strategy:
        if self.strategy not in STRATEGIES:
            raise InfoFlowError(f"strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}.")
        if self.threshold is None:
            return STRATEGIES[self.strategy]()
        # A request has a threshold only for a strategy that prunes with it (see :meth:`of`): one that takes it.
        build = cast("Callable[..., Strategy]", STRATEGIES[self.strategy])
        return build(threshold=self.threshold)

    def measured(self) -> Request:
        """This request less how its edges are selected (strategy and threshold): the key of the anatomy cache.

        The same engine, intervention and metric measure any one edge the same way whatever the strategy.
        """
        return replace(self, strategy="", threshold=None)

    def estimate(self) -> Request | None:
        """The attribution estimate shown while this request computes, or None when there is none to show."""
        if self.strategy not in ESTIMATED_FIRST or not as_metric(None, self.answer, self.distractor).first_order:
            return None  # a span graph, or the KL divergence, whose estimates are all zero
        if self.intervention == CONSENSUS:
            return None  # an estimate of one intervention would show no flags: the consensus shows when measured
        return replace(self, strategy=Attribution.name, threshold=None)
