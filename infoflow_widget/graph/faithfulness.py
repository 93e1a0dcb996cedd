"""Faithfulness of a graph's strongest edges, as plain data: do the top k edges, together, carry the prediction?

``infoflow_widget.analysis.faithfulness`` measures it; this module holds the result with its table, figure and file.
With m(K) the metric when every attention edge (j -> i, j <= i) outside the kept set K is intervened, and m(none)
the metric with every edge intervened (the baseline),

    f(K) = (m(K) - m(none)) / (m(clean) - m(none)),

so f = 1 when K alone carries the clean prediction and f = 0 when it carries nothing beyond the baseline.
"""

from __future__ import annotations

import json
import math
import os
from collections.abc import Callable
from dataclasses import asdict, dataclass, field
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError, is_whole, plain
from ..core.files import check_destination, read_json, write_atomic
from ..core.style import colour
from . import schema

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

FORMAT = "infoflow-faithfulness/1"
"""The ``format`` tag of :meth:`Faithfulness.to_dict`; bump it when the layout changes."""

SAVE_SUFFIXES = (".json", ".csv")
"""What :meth:`Faithfulness.save` writes: all of it as JSON (for :meth:`Faithfulness.load`), or the table as CSV."""

Span = tuple[int, int]
"""A node of the graph as token positions ``start:end`` (half-open)."""


@dataclass(frozen=True)
class Point:
    """One kept set: the graph's ``k`` strongest edges.

    Attributes:
        k: how many of the graph's edges are kept (0: none, the baseline).
        fraction: k over the number of the graph's edges.
        kept: the kept edges as ``(source span, target span)``, strongest first.
        metric: the metric with every attention edge outside them intervened (necessity: with only them intervened).
        faithfulness: (metric - baseline) / (clean - baseline); for necessity, the share of the clean-minus-baseline
            gap that intervening on the kept edges alone removes.
    """

    k: int
    fraction: float
    kept: list[tuple[Span, Span]]
    metric: float
    faithfulness: float


@dataclass(frozen=True)
class RandomPoint:
    """The faithfulness of ``k`` of the graph's edges drawn at random: what a ranking of no information gives.

    Attributes:
        k: edges kept in each draw.
        mean: mean faithfulness over the draws.
        std: their standard deviation (n - 1 in the denominator; 0 for one draw).
        draws: how many kept sets were drawn.
    """

    k: int
    mean: float
    std: float
    draws: int


@dataclass(frozen=True)
class Faithfulness:
    """The faithfulness curve of a graph's strongest edges under one ablation of everything else.

    Attributes:
        tokens: the prompt's tokens.
        clean_metric: m(clean).
        baseline: m(none), the metric with every attention edge intervened by the ablation.
        curve: one :class:`Point` per k, k = 0 first (f = 0 by definition).
        necessity: per k (k = 0 aside), the metric with only the kept edges intervened, as a :class:`Point`.
        random: per k, the faithfulness of random kept sets of the same size.
        edges: the number of the graph's edges (the denominator of each point's fraction).
        provenance: the graph's provenance, the ablation and the ranking.
        stats: forward passes, rows measured and seconds.
    """

    tokens: list[str]
    clean_metric: float
    baseline: float
    curve: list[Point]
    necessity: list[Point] = field(default_factory=list)
    random: list[RandomPoint] = field(default_factory=list)
    edges: int = 0
    provenance: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        shown = ", ".join(f"k={p.k}: {p.faithfulness:.2f}" for p in self.curve[1:6])
        return f"Faithfulness({shown}{', ...' if len(self.curve) > 6 else ''}; cpr={self.cpr:.3f}, cmd={self.cmd:.3f})"

    @property
    def cpr(self) -> float:
        """Area under f over the fraction of the graph's edges kept (MIB's circuit performance ratio).

        The trapezoid rule over the measured points, k = 0 (f = 0) included, on the axis k / (number of the graph's
        edges) from 0 to the largest k measured; higher is better (1 for a graph whose every prefix keeps it all).
        """
        return _area([(p.fraction, p.faithfulness) for p in self.curve])

    @property
    def cmd(self) -> float:
        """Area under |1 - f| over the same axis and points as :attr:`cpr` (MIB's circuit-model difference).

        Lower is better: 0 when every kept set behaves as the whole model.
        """
        return _area([(p.fraction, abs(1.0 - p.faithfulness)) for p in self.curve])

    def at(self, k: int) -> float:
        """The faithfulness of the ``k`` strongest edges (a k that was measured).

        Raises:
            InfoFlowError: no point with that k.
        """
        for point in self.curve:
            if point.k == k:
                return point.faithfulness
        raise InfoFlowError(f"k={k} was not measured; measured: {[p.k for p in self.curve]}.")

    def to_pandas(self) -> pd.DataFrame:
        """One row per k: fraction, metric, faithfulness, necessity and the random baseline's mean and std."""
        import pandas as pd

        necessity = {p.k: p.faithfulness for p in self.necessity}
        random = {r.k: r for r in self.random}
        return pd.DataFrame(
            [
                {
                    "k": p.k,
                    "fraction": p.fraction,
                    "metric": p.metric,
                    "faithfulness": p.faithfulness,
                    "necessity": necessity.get(p.k, math.nan),
                    "random_mean": random[p.k].mean if p.k in random else math.nan,
                    "random_std": random[p.k].std if p.k in random else math.nan,
                }
                for p in self.curve
            ]
        )

    def plot(self) -> go.Figure:
        """Faithfulness and necessity against k (log axis), the random baseline as a band of one standard deviation."""
        import plotly.graph_objects as go

        figure = go.Figure()
        if self.random:
            ks, means, sds = [r.k for r in self.random], [r.mean for r in self.random], [r.std for r in self.random]
            band = [m + d for m, d in zip(means, sds)] + [m - d for m, d in zip(means, sds)][::-1]
            grey = colour("nan")
            figure.add_scatter(x=ks + ks[::-1], y=band, fill="toself", line={"width": 0}, fillcolor=grey, opacity=0.3)
            figure.data[-1].update(name="random ± 1 sd", hoverinfo="skip")
            figure.add_scatter(x=ks, y=means, mode="lines", name="random (mean)", line={"color": grey, "dash": "dot"})
        for points, name, hue in ((self.curve[1:], "faithfulness (top k kept)", "helps"),
                                  (self.necessity, "necessity (top k removed)", "hurts")):  # fmt: skip
            xs, ys = [q.k for q in points], [q.faithfulness for q in points]
            figure.add_scatter(x=xs, y=ys, mode="lines+markers", name=name, line={"color": colour(hue)})
        ablation = self.provenance.get("ablation_text", "")
        figure.update_layout(
            title=f"Faithfulness of the strongest edges (CPR {self.cpr:.3f}, CMD {self.cmd:.3f}); the rest: {ablation}",
            xaxis={"title": "edges kept (k)", "type": "log"},
            yaxis={"title": "share of the clean metric kept"},
        )
        return figure

    def to_dict(self) -> dict[str, Any]:
        """Plain data for JSON: every field, ``cpr`` and ``cmd``, and a ``format`` tag for :meth:`from_dict`.

        A kept edge is ``[source, target]`` (token positions) when both ends are single tokens, else
        ``[[s0, s1], [t0, t1]]`` (spans, half-open); NaN and infinities are the strings ``"NaN"``, ``"Infinity"``.
        """
        data = asdict(self)
        for key in ("curve", "necessity"):
            for point in data[key]:
                point["kept"] = [_compact(source, target) for source, target in point["kept"]]
        return _finite_or_named(plain({"format": FORMAT, **data, "cpr": self.cpr, "cmd": self.cmd}))

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False, allow_nan=False)

    @classmethod
    def from_dict(cls, d: Any) -> Faithfulness:
        """Rebuild from :meth:`to_dict` output, every field checked.

        Raises:
            InfoFlowError: naming the first bad field.
        """
        if not isinstance(d, dict) or d.get("format") != FORMAT:
            found = d.get("format") if isinstance(d, dict) else type(d).__name__
            raise InfoFlowError(
                f"Not a saved Faithfulness (format {schema.show(found)}; this version reads {FORMAT!r})."
            )
        tokens = [schema.text(t, f"tokens[{i}]") for i, t in enumerate(schema.list_of(d.get("tokens"), "tokens"))]
        for key in ("provenance", "stats"):
            if not isinstance(d.get(key, {}), dict):
                raise schema.bad(key, "an object (a dict)", d[key])
            schema.nested(d.get(key, {}), key)
        n = len(tokens)
        return cls(
            tokens=tokens,
            clean_metric=schema.number(d.get("clean_metric"), "clean_metric"),
            baseline=schema.number(d.get("baseline"), "baseline"),
            curve=_items(d, "curve", lambda item, where: _point(item, where, n)),
            necessity=_items(d, "necessity", lambda item, where: _point(item, where, n)),
            random=_items(d, "random", _random_point),
            edges=schema.index(d.get("edges", 0), "edges"),
            provenance=dict(d.get("provenance", {})),
            stats=dict(d.get("stats", {})),
        )

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write to ``path``: ``.json`` (all of it, for :meth:`load`) or ``.csv`` (:meth:`to_pandas`), atomically.

        Raises:
            InfoFlowError: another suffix, a destination that cannot take the file, or a failed write.
        """
        path = check_destination(path, SAVE_SUFFIXES)
        text = self.to_json(indent=1) if path.suffix.lower() == ".json" else self.to_pandas().to_csv(index=False)
        write_atomic(path, text)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> Faithfulness:
        """Read what :meth:`save` wrote to a ``.json`` file.

        Raises:
            InfoFlowError: the file cannot be read, is not JSON, or is not a saved Faithfulness.
        """
        path = Path(path)
        if path.suffix.lower() != ".json":
            raise InfoFlowError(f"Only .json files can be loaded back into a Faithfulness, not {path.name!r}.")
        return cls.from_dict(read_json(path, "a saved faithfulness curve"))


def _items(d: dict[str, Any], key: str, read: Callable[[Any, str], Any]) -> list[Any]:
    """The list ``d[key]`` (absent: empty), each item read by ``read(item, "key[i]")``."""
    return [read(item, f"{key}[{i}]") for i, item in enumerate(schema.list_of(d.get(key, []), key))]


def _area(points: list[tuple[float, float]]) -> float:
    """The trapezoid rule over ``(x, y)`` points in order of x (0 for fewer than two)."""
    finite = [(x, y) for x, y in points if math.isfinite(y)]
    return sum((x1 - x0) * (y0 + y1) / 2 for (x0, y0), (x1, y1) in zip(finite, finite[1:]))


def _compact(source: Span, target: Span) -> list[Any]:
    """A kept edge as saved: token positions for a token edge, spans otherwise."""
    if source[1] - source[0] == 1 and target[1] - target[0] == 1:
        return [source[0], target[0]]
    return [list(source), list(target)]


def _finite_or_named(value: Any) -> Any:
    """``value`` with each non-finite float written as the JSON exports write it (``schema.NON_FINITE``)."""
    if isinstance(value, float) and not math.isfinite(value):
        return "NaN" if math.isnan(value) else ("Infinity" if value > 0 else "-Infinity")
    if isinstance(value, list):
        return [_finite_or_named(item) for item in value]
    if isinstance(value, dict):
        return {key: _finite_or_named(item) for key, item in value.items()}
    return value


def _span(value: Any, where: str, n: int) -> Span:
    if is_whole(value):  # a token edge's end, saved as its position
        position = schema.index(value, where)
        value = [position, position + 1]
    items = schema.list_of(value, where)
    if len(items) != 2:
        raise schema.bad(where, "a span [start, end]", value)
    start, end = (schema.index(v, f"{where}[{i}]") for i, v in enumerate(items))
    if not start < end <= n:
        raise schema.bad(where, f"a span start < end <= {n}", value)
    return start, end


def _point(item: Any, where: str, n: int) -> Point:
    if not isinstance(item, dict):
        raise schema.bad(where, "an object (a dict)", item)
    kept = []
    for i, pair in enumerate(schema.list_of(item.get("kept", []), f"{where}.kept")):
        ends = schema.list_of(pair, f"{where}.kept[{i}]")
        if len(ends) != 2:
            raise schema.bad(f"{where}.kept[{i}]", "[source span, target span]", pair)
        kept.append((_span(ends[0], f"{where}.kept[{i}][0]", n), _span(ends[1], f"{where}.kept[{i}][1]", n)))
    return Point(
        k=schema.index(item.get("k"), f"{where}.k"),
        fraction=schema.number(item.get("fraction"), f"{where}.fraction"),
        kept=kept,
        metric=schema.number(item.get("metric"), f"{where}.metric"),
        faithfulness=schema.number(item.get("faithfulness"), f"{where}.faithfulness"),
    )


def _random_point(item: Any, where: str) -> RandomPoint:
    if not isinstance(item, dict):
        raise schema.bad(where, "an object (a dict)", item)
    return RandomPoint(
        k=schema.index(item.get("k"), f"{where}.k"),
        mean=schema.number(item.get("mean"), f"{where}.mean"),
        std=schema.number(item.get("std"), f"{where}.std"),
        draws=schema.index(item.get("draws"), f"{where}.draws"),
    )
