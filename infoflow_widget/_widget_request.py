"""The widget's parameters: what a set of control values asks to measure, and the checks of its arguments.

A :class:`Request` freezes the parameters that change what is measured, so equal requests share one
cached graph. Threshold and top-k of a graph of every token edge are not part of it: the front end
filters those without a round trip. Nothing here imports anywidget, so the offline pages use it too.
"""

from __future__ import annotations

import inspect
import math
from dataclasses import dataclass, fields, replace
from typing import Any

from .errors import InfoFlowError, is_non_negative, is_whole
from .interventions import INTERVENTIONS, Intervention, build_intervention
from .metrics import as_metric
from .strategies import STRATEGIES, Attribution, Strategy

INTERVENTION_NAMES = tuple(INTERVENTIONS)
"""The values of the ``intervention`` trait."""

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


def strategy_menu() -> list[dict[str, Any]]:
    """The strategies for the front end's menu: name, the first line of the docstring, and :func:`prunes`."""
    return [
        {
            "name": name,
            "description": inspect.getdoc(strategy).splitlines()[0].replace("``", ""),
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
    if not is_non_negative(threshold):
        raise InfoFlowError(f"threshold must be a finite number >= 0; got {threshold!r}.")
    if top_k is not None and not is_whole(top_k):
        raise InfoFlowError(f"top_k must be a whole number >= 0, or None to draw every edge; got {top_k!r}.")


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
        return cls(
            intervention=traits.intervention,
            alpha=traits.alpha if "alpha" in takes else None,
            corrupted_prompt=traits.corrupted_prompt if "corrupted_prompt" in takes else None,
            strategy=traits.strategy,
            threshold=traits.threshold if strategy is not None and prunes(strategy) else None,
            answer=traits.answer or None,  # an emptied text box means "no answer"
            distractor=traits.distractor or None,
        )

    def build_intervention(self) -> Intervention:
        return build_intervention(self.intervention, alpha=self.alpha, corrupted_prompt=self.corrupted_prompt)

    def build_strategy(self) -> Strategy:
        if self.strategy not in STRATEGIES:
            raise InfoFlowError(f"strategy must be one of {', '.join(STRATEGIES)}; got {self.strategy!r}.")
        if self.threshold is None:
            return STRATEGIES[self.strategy]()
        return STRATEGIES[self.strategy](threshold=self.threshold)

    def estimate(self) -> Request | None:
        """The attribution estimate shown while this request computes, or None when there is none to show."""
        if self.strategy not in ESTIMATED_FIRST or not as_metric(None, self.answer, self.distractor).first_order:
            return None  # a span graph, or the KL divergence, whose estimates are all zero
        return replace(self, strategy=Attribution.name, threshold=None)
