"""Role graphs: the information flow of a task, between roles, each edge averaged over a prompt set.

One flow graph per prompt says how much each attention edge of *that* prompt matters; a
:class:`RoleGraph` lines the prompts up by role (``IO``, ``S1``, ``S2``, ``END``, and the template's fixed
words) and gives each role edge its mean effect over the prompts, with the spread: the sample standard
deviation, a 95% interval for the mean, and the share of prompts whose effect has the mean's sign.

**The interval** is Student's t: ``mean ± t(0.975, n - 1) · std / √n`` with the sample standard deviation
(``n - 1`` in the denominator). scipy is not a dependency, so ``t(0.975, df)`` comes from
:data:`T_975`, the standard table to four decimals for df 1..30, 40, 60 and 120, read between its rows
linearly in ``1 / df`` (which tends to the normal value 1.95996 as df grows); the error this leaves is
below 2e-4. An edge measured on one prompt has no standard deviation and no interval (None).

Plain data with no torch import, like :mod:`infoflow_widget.graph.flowgraph`: a saved role graph loads, ranks
and draws without a model.
"""

from __future__ import annotations

import html
import json
import math
import numbers
import os
import statistics
from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError, is_whole, plain
from ..core.files import check_destination, read_json, write_atomic
from ..core.style import colour
from ..text.display import describe, visible
from . import schema
from .flowgraph import Edge, FlowGraph, Node, strongest

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go

    from ..text.promptset import PromptSet

FORMAT = "infoflow-rolegraph/1"
"""The ``format`` tag of :meth:`RoleGraph.to_dict`; bump it when the layout changes."""

T_975: dict[int, float] = {
    1: 12.7062, 2: 4.3027, 3: 3.1824, 4: 2.7764, 5: 2.5706, 6: 2.4469, 7: 2.3646, 8: 2.3060, 9: 2.2622,
    10: 2.2281, 11: 2.2010, 12: 2.1788, 13: 2.1604, 14: 2.1448, 15: 2.1314, 16: 2.1199, 17: 2.1098,
    18: 2.1009, 19: 2.0930, 20: 2.0860, 21: 2.0796, 22: 2.0739, 23: 2.0687, 24: 2.0639, 25: 2.0595,
    26: 2.0555, 27: 2.0518, 28: 2.0484, 29: 2.0452, 30: 2.0423, 40: 2.0211, 60: 2.0003, 120: 1.9799,
}  # fmt: skip
"""Student's t quantile t(0.975, df) (two-sided 95%), the standard table to four decimals."""

Z_975 = 1.959964
"""The normal quantile of 0.975, the t quantile's limit for infinitely many degrees of freedom."""

PANDAS_COLUMNS = [
    "source",
    "target",
    "mean",
    "abs_mean",
    "std",
    "low",
    "high",
    "sign_consistency",
    "n",
    "exact",
    "rank",
]
SAVE_SUFFIXES = (".json", ".csv")
"""What :meth:`RoleGraph.save` writes: the whole graph (``.json``) or the edge table (``.csv``)."""


def t_975(df: int) -> float:
    """Student's t quantile t(0.975, ``df``): :data:`T_975`, read linearly in ``1 / df`` between its rows.

    Raises:
        InfoFlowError: ``df`` is not a whole number >= 1.
    """
    if not is_whole(df, 1):
        raise InfoFlowError(f"Degrees of freedom must be a whole number >= 1, got {df!r}.")
    if df in T_975:
        return T_975[df]
    rows = sorted(T_975)
    below = max(r for r in rows if r < df)
    above = min((r for r in rows if r > df), default=None)
    # 1/df runs from 1/below down to 1/above (0 for the normal limit) as df grows.
    x0, y0 = 1 / below, T_975[below]
    x1, y1 = (0.0, Z_975) if above is None else (1 / above, T_975[above])
    return y1 + (y0 - y1) * (1 / df - x1) / (x0 - x1)


@dataclass(frozen=True)
class RoleEdge:
    """One role edge ``source -> target`` over a prompt set.

    Attributes:
        source: the source role (or fixed word) label.
        target: the target label.
        mean: the mean effect over the prompts where it was measured.
        std: the sample standard deviation (``n - 1``); None for one prompt.
        low: the low end of the 95% t interval of the mean; None for one prompt.
        high: its high end; None for one prompt.
        sign_consistency: the share of those prompts whose effect has the mean's sign (0 counts as a sign).
        n: how many prompts it was measured on.
        exact: False when some of the effects are first-order estimates (attribution).
        values: the effect in each prompt of the set, None where it was not measured.
    """

    source: str
    target: str
    mean: float
    std: float | None
    low: float | None
    high: float | None
    sign_consistency: float
    n: int
    exact: bool
    values: tuple[float | None, ...]

    @classmethod
    def summarize(cls, source: str, target: str, values: Sequence[float | None], exact: bool = True) -> RoleEdge:
        """The edge's statistics from its per-prompt ``values`` (None: not measured in that prompt).

        Raises:
            InfoFlowError: no value is given (an edge needs at least one measurement).
        """
        measured = [float(v) for v in values if v is not None]
        if not measured:
            raise InfoFlowError(f"The edge {source} -> {target} has no measured value.")
        mean = math.fsum(measured) / len(measured)
        std = low = high = None
        if len(measured) > 1:
            std = statistics.stdev(measured)
            half = t_975(len(measured) - 1) * std / math.sqrt(len(measured))
            low, high = mean - half, mean + half
        sign = _sign(mean)
        consistency = sum(_sign(v) == sign for v in measured) / len(measured)
        return cls(source, target, mean, std, low, high, consistency, len(measured), exact, tuple(values))

    @property
    def name(self) -> str:
        """``"S2 -> END"``."""
        return f"{self.source} -> {self.target}"


def _sign(x: float) -> int:
    return (x > 0) - (x < 0)


Measurement = tuple  # (source label, target label, effect) or (source, target, effect, exact)


@dataclass(repr=False)
class RoleGraph:
    """The flow between the roles of a prompt set: each edge's mean effect over the prompts, with its spread.

    Attributes:
        nodes: the labels, in template order (roles and the template's fixed words); for a hand-made set
            whose prompts differ, the role names only.
        edges: the role edges, by target then source in node order.
        n_prompts: how many prompts the set has.
        clean_metrics: the metric of each prompt's unmodified run, or None when not known.
        provenance: how it was made (model, intervention, metric, strategy, the prompt set's provenance, ...).
        stats: cost and bookkeeping (forward passes, seconds, edges left out, ...).
        graphs: each prompt's flow graph when built from them (:meth:`from_flow_graphs`); never saved.
        prompt_set: the (labelled) prompt set it was measured on, when the caller keeps it; never saved.
    """

    nodes: list[str]
    edges: list[RoleEdge]
    n_prompts: int
    clean_metrics: list[float] | None = None
    provenance: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)
    # What it was computed from, for a closer look at one prompt; not serialised, so a loaded graph has neither.
    graphs: list[FlowGraph] | None = field(default=None, repr=False, compare=False)
    prompt_set: PromptSet | None = field(default=None, repr=False, compare=False)

    def __repr__(self) -> str:
        return f"RoleGraph({len(self.nodes)} nodes, {len(self.edges)} edges, {self.n_prompts} prompts)"

    # --- building --------------------------------------------------------------------------------

    @classmethod
    def aggregate(
        cls,
        nodes: Sequence[str],
        per_prompt: Sequence[Iterable[Measurement]],
        *,
        clean_metrics: Sequence[float] | None = None,
        provenance: Mapping[str, Any] | None = None,
        stats: Mapping[str, Any] | None = None,
    ) -> RoleGraph:
        """Average per-prompt effects into role edges.

        Args:
            nodes: the distinct node labels, in the order to show them.
            per_prompt: for each prompt, its measured edges as ``(source, target, effect)`` or
                ``(source, target, effect, exact)``, labels from ``nodes``. A NaN or infinite effect counts
                as not measured (``stats["non_finite_effects"]`` counts them).
            clean_metrics: each prompt's clean metric, if known.
            provenance: how the graph was made.
            stats: cost figures to keep.

        Raises:
            InfoFlowError: no prompt, repeated or unknown labels, an edge given twice for one prompt, or
                a clean metric per prompt that does not match.
        """
        nodes = list(nodes)
        if not nodes or not all(isinstance(n, str) for n in nodes) or len(set(nodes)) != len(nodes):
            raise InfoFlowError(f"A RoleGraph needs distinct string node labels, got {nodes!r}.")
        per_prompt = list(per_prompt)
        if not per_prompt:
            raise InfoFlowError("A RoleGraph needs the edges of at least one prompt.")
        if clean_metrics is not None and len(clean_metrics) != len(per_prompt):
            raise InfoFlowError(
                f"{len(clean_metrics)} clean metrics for {len(per_prompt)} prompts: give one per prompt."
            )
        values, exact, non_finite = _collect(nodes, per_prompt)
        order = {label: i for i, label in enumerate(nodes)}
        pairs = sorted(values, key=lambda pair: (order[pair[1]], order[pair[0]]))
        edges = [RoleEdge.summarize(s, t, values[s, t], exact[s, t]) for s, t in pairs if _any(values[s, t])]
        return cls(
            nodes=nodes,
            edges=edges,
            n_prompts=len(per_prompt),
            clean_metrics=None if clean_metrics is None else [float(m) for m in clean_metrics],
            provenance=dict(provenance or {}),
            # Added to a count already in stats, so a loaded graph keeps the count it was saved with.
            stats={**(stats or {}), "non_finite_effects": (stats or {}).get("non_finite_effects", 0) + non_finite},
        )

    @classmethod
    def from_flow_graphs(
        cls,
        graphs: Sequence[FlowGraph],
        labels: Sequence[Sequence[str]],
        roles: Sequence[Mapping[str, int]] | None = None,
        *,
        provenance: Mapping[str, Any] | None = None,
        stats: Mapping[str, Any] | None = None,
    ) -> RoleGraph:
        """The role graph of one flow graph per prompt, lined up by the prompts' labels.

        When every prompt has the same labels (a template set) every label is a node, in order, and each
        token edge maps to its labels. Otherwise (a hand-made set of differing prompts) the nodes are the
        role names, ordered by mean position, and only edges between two role positions count. Span
        edges (search strategies' spans of several tokens) have no role and are left out;
        ``stats["span_edges_left_out"]`` and ``stats["edges_off_roles"]`` count what was left out.

        Args:
            graphs: one flow graph per prompt, in the set's order (``compute_flow`` of each prompt).
            labels: each prompt's labels, one per token position (``PromptSet.labels``).
            roles: each prompt's roles, role name -> position (``PromptSet.roles``); needed when labels differ.
            provenance: how the graphs were made (model, intervention, metric, the prompt set's provenance).
            stats: cost figures to keep.

        Raises:
            InfoFlowError: as many graphs as label lists are not given, a graph's token count differs
                from its labels, or labels differ and no roles are given.
        """
        if len(graphs) != len(labels):
            raise InfoFlowError(f"{len(graphs)} flow graphs for {len(labels)} prompts: give one graph per prompt.")
        for i, (graph, row) in enumerate(zip(graphs, labels)):
            if len(graph.tokens) != len(row):
                raise InfoFlowError(
                    f"prompt {i}: its graph has {len(graph.tokens)} tokens but {len(row)} labels; label the prompt "
                    "set with the model's own tokenizer."
                )
        nodes, names = _role_nodes(labels, roles)
        per_prompt, counts = [], {"span_edges_left_out": 0, "edges_off_roles": 0}
        for graph, row in zip(graphs, names):
            per_prompt.append(_measurements(graph, row, counts))
        graph = cls.aggregate(
            nodes,
            per_prompt,
            clean_metrics=[g.clean_metric for g in graphs],
            provenance=provenance,
            stats={**(stats or {}), **counts},
        )
        graph.graphs = list(graphs)
        return graph

    # --- selection -------------------------------------------------------------------------------

    def ranked(self) -> list[RoleEdge]:
        """The edges by ``|mean|``, largest first (ties keep their order)."""
        return [self.edges[i] for i in strongest([e.mean for e in self.edges])]

    def top(self, k: int) -> RoleGraph:
        """A copy holding only the ``k`` edges of largest ``|mean|`` (nodes kept).

        Raises:
            InfoFlowError: ``k`` is not a whole number >= 0.
        """
        if not is_whole(k):
            raise InfoFlowError(f"top(k) needs a whole number k >= 0 of edges to keep, got {k!r}.")
        return replace(self, edges=self.ranked()[: int(k)], provenance={**self.provenance, "top_k": int(k)})

    def edge(self, source: str, target: str) -> RoleEdge:
        """The edge ``source -> target``.

        Raises:
            InfoFlowError: no such edge (the message lists the nodes).
        """
        for edge in self.edges:
            if edge.source == source and edge.target == target:
                return edge
        raise InfoFlowError(f"No edge {source!r} -> {target!r} in this role graph; its nodes are {self.nodes}.")

    # --- views -----------------------------------------------------------------------------------

    def to_pandas(self) -> pd.DataFrame:
        """One row per edge, ranked by ``|mean|`` (rank 1 = largest); std, low and high are NaN for one prompt.

        Columns: ``source``, ``target``, ``mean``, ``abs_mean``, ``std``, ``low``, ``high``,
        ``sign_consistency``, ``n``, ``exact``, ``rank``.
        """
        import pandas as pd

        rows = [
            (e.source, e.target, e.mean, abs(e.mean), _or_nan(e.std), _or_nan(e.low), _or_nan(e.high),
             e.sign_consistency, e.n, e.exact, rank)
            for rank, e in enumerate(self.ranked(), start=1)
        ]  # fmt: skip
        return pd.DataFrame(rows, columns=PANDAS_COLUMNS)

    def plot(self, k: int | None = 20) -> go.Figure:
        """A plotly bar chart of the ``k`` strongest role edges (all when None): mean effect with its 95% interval.

        Raises:
            InfoFlowError: ``k`` is neither None nor a whole number >= 0.
        """
        if k is not None and not is_whole(k):
            raise InfoFlowError(f"plot(k) needs a whole number of edges >= 0, or None for all; got {k!r}.")
        import plotly.graph_objects as go

        edges = self.ranked()[:k]
        names = [html.escape(f"{visible(e.source)} → {visible(e.target)}") for e in edges]
        fig = go.Figure(
            go.Bar(
                x=names,
                y=[e.mean for e in edges],
                marker_color=[colour("helps") if e.mean >= 0 else colour("hurts") for e in edges],
                error_y={
                    "type": "data",
                    "symmetric": False,
                    "array": [0.0 if e.high is None else e.high - e.mean for e in edges],
                    "arrayminus": [0.0 if e.low is None else e.mean - e.low for e in edges],
                },
                hovertext=[_hover(name, e) for name, e in zip(names, edges)],
                hoverinfo="text",
            )
        )
        p = self.provenance
        title = f"{describe(p.get('metric', 'metric'))} under {describe(p.get('intervention', 'intervention'))}"
        fig.update_layout(
            title=f"{html.escape(title)}: mean effect over {self.n_prompts} prompts, 95% interval",
            xaxis={"title": {"text": "role edge (source → target)"}, "type": "category"},
            yaxis={"title": {"text": "effect"}, "zeroline": True},
        )
        return fig

    def to_flow_graph(self) -> FlowGraph:
        """A :class:`FlowGraph` to draw: one token per node label, each edge's effect its mean.

        ``effect_std`` carries the standard deviation over prompts; the clean metric is the mean of the
        prompts' (NaN when unknown). The interval and sign consistency have no field in :class:`Edge`, so
        they stay here (``provenance["role_graph"]`` marks the graph as a role view).
        """
        index = {label: i for i, label in enumerate(self.nodes)}
        edges = [Edge(index[e.source], index[e.target], e.mean, exact=e.exact, effect_std=e.std) for e in self.edges]
        clean = math.nan if not self.clean_metrics else math.fsum(self.clean_metrics) / len(self.clean_metrics)
        return FlowGraph(
            tokens=list(self.nodes),
            nodes=[Node(i, i + 1) for i in range(len(self.nodes))],
            edges=edges,
            clean_metric=clean,
            provenance={**self.provenance, "role_graph": {"prompts": self.n_prompts}},
            stats=dict(self.stats),
        )

    # --- serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The graph as plain JSON-ready data, tagged ``"format": "infoflow-rolegraph/1"``.

        Each edge holds its per-prompt ``values`` (null where not measured) and, for readers, the
        statistics derived from them; :meth:`from_dict` derives them again from the values.
        """
        return {
            "format": FORMAT,
            "nodes": list(self.nodes),
            "n_prompts": self.n_prompts,
            "clean_metrics": self.clean_metrics,
            "edges": [
                {
                    "source": e.source, "target": e.target, "mean": e.mean, "std": e.std, "low": e.low,
                    "high": e.high, "sign_consistency": e.sign_consistency, "n": e.n, "exact": e.exact,
                    "values": list(e.values),
                }
                for e in self.edges
            ],
            "stats": plain(dict(self.stats)),
            "provenance": plain(dict(self.provenance)),
        }  # fmt: skip

    @classmethod
    def from_dict(cls, d: Any) -> RoleGraph:
        """Rebuild a role graph from :meth:`to_dict` output, every field checked.

        Raises:
            InfoFlowError: the format tag is unknown, a key is missing, or a field has the wrong type or an
                impossible value; the message names the field, e.g. ``edges[3].values[1]``.
        """
        if not isinstance(d, dict):
            raise InfoFlowError(f"A saved RoleGraph is a dict (a JSON object), got {type(d).__name__}.")
        for key in ("format", "nodes", "n_prompts", "edges"):
            if key not in d:
                raise InfoFlowError(f"The saved role graph has no {key!r} key; is it a RoleGraph saved by save()?")
        if d["format"] != FORMAT:
            raise schema.bad("format", repr(FORMAT), d["format"])
        nodes = [schema.text(t, f"nodes[{i}]") for i, t in enumerate(schema.list_of(d["nodes"], "nodes"))]
        if not is_whole(d["n_prompts"], 1):
            raise schema.bad("n_prompts", "a whole number >= 1", d["n_prompts"])
        clean = d.get("clean_metrics")
        if clean is not None:
            clean = [_finite(v, f"clean_metrics[{i}]") for i, v in enumerate(schema.list_of(clean, "clean_metrics"))]
        _check_prompt_count(d["n_prompts"], clean)
        per_prompt: list[list[Measurement]] = [[] for _ in range(d["n_prompts"])]
        for i, item in enumerate(schema.list_of(d["edges"], "edges")):
            _saved_edge(item, f"edges[{i}]", per_prompt)
        for key in ("provenance", "stats"):
            if not isinstance(d.get(key, {}), dict):
                raise schema.bad(key, "an object (a dict)", d[key])
            schema.nested(d.get(key, {}), key)
        return cls.aggregate(
            nodes, per_prompt, clean_metrics=clean, provenance=d.get("provenance"), stats=d.get("stats")
        )

    def to_json(self, indent: int | None = None) -> str:
        """The graph as JSON text (floats written exactly, so :meth:`load` gives back equal numbers).

        Raises:
            InfoFlowError: provenance or stats are not JSON data.
        """
        try:
            return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as err:
            raise InfoFlowError(
                f"The role graph cannot be written as JSON: {err}. Keep provenance and stats to plain finite data."
            ) from err

    def save(self, path: str | os.PathLike[str]) -> Path:
        """Write the graph to ``path``: ``.json`` (all of it, for :meth:`load`) or ``.csv`` (:meth:`to_pandas`).

        Written to a temporary file beside it, then moved into place, so an error never leaves half a file.

        Raises:
            InfoFlowError: another suffix, a destination that cannot take the file, or a failed write.
        """
        suffix = Path(path).suffix.lower()
        if suffix not in SAVE_SUFFIXES:
            raise InfoFlowError(f"A RoleGraph saves to {' or '.join(SAVE_SUFFIXES)} files, not {Path(path).name!r}.")
        path = check_destination(path, SAVE_SUFFIXES)
        text = self.to_json(indent=1) if suffix == ".json" else self.to_pandas().to_csv(index=False)
        write_atomic(path, text)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> RoleGraph:
        """Read a role graph written by :meth:`save` to a ``.json`` file.

        Raises:
            InfoFlowError: the file cannot be read, is not UTF-8 JSON, or is not a saved RoleGraph.
        """
        path = Path(path)
        if path.suffix.lower() != ".json":
            raise InfoFlowError(f"Only .json files can be loaded back into a RoleGraph, not {path.name!r}.")
        return cls.from_dict(read_json(path, "a saved role graph"))


# --- helpers -----------------------------------------------------------------------------------------


def _collect(nodes: list[str], per_prompt: list[Iterable[Measurement]]) -> tuple[dict, dict, int]:
    """Per label pair: the value in each prompt (None: not measured), whether all are exact; non-finite count."""
    known = set(nodes)
    values: dict[tuple[str, str], list[float | None]] = {}
    exact: dict[tuple[str, str], bool] = {}
    non_finite = 0
    for i, measurements in enumerate(per_prompt):
        seen = set()
        for item in measurements:
            source, target, effect, *rest = item
            for label in (source, target):
                if label not in known:
                    raise InfoFlowError(f"prompt {i}: the edge label {label!r} is not a node ({nodes}).")
            if (source, target) in seen:
                raise InfoFlowError(f"prompt {i}: the edge {source!r} -> {target!r} is given twice.")
            seen.add((source, target))
            if isinstance(effect, bool) or not isinstance(effect, numbers.Real):
                raise InfoFlowError(
                    f"prompt {i}: the effect of {source!r} -> {target!r} must be a number, got {effect!r}."
                )
            row = values.setdefault((source, target), [None] * len(per_prompt))
            if math.isfinite(effect):
                row[i] = float(effect)
                exact[source, target] = exact.get((source, target), True) and bool(rest[0] if rest else True)
            else:
                non_finite += 1
    return values, exact, non_finite


def _any(values: Sequence[float | None]) -> bool:
    return any(v is not None for v in values)


def _role_nodes(
    labels: Sequence[Sequence[str]], roles: Sequence[Mapping[str, int]] | None
) -> tuple[list[str], Sequence[Sequence[str | None]]]:
    """The nodes, and each prompt's node label per position (None: a position that is no node)."""
    rows = [list(row) for row in labels]
    if all(row == rows[0] for row in rows):
        return rows[0], rows
    if roles is None:
        raise InfoFlowError("The prompts' labels differ, so their roles are needed to line them up: pass roles=.")
    positions: dict[str, list[int]] = {}
    for prompt_roles in roles:
        for name, position in prompt_roles.items():
            positions.setdefault(name, []).append(position)
    nodes = sorted(positions, key=lambda name: (sum(positions[name]) / len(positions[name]), name))
    names = []
    for row, prompt_roles in zip(rows, roles):
        at = {position: name for name, position in prompt_roles.items()}
        names.append([at.get(position) for position in range(len(row))])
    return nodes, names


def _measurements(graph: FlowGraph, names: Sequence[str | None], counts: dict[str, int]) -> list[Measurement]:
    """The graph's token edges as ``(source, target, effect, exact)`` by label; the rest counted in ``counts``."""
    out = []
    for edge in graph.edges:
        source, target = graph.nodes[edge.source], graph.nodes[edge.target]
        if source.end - source.start != 1 or target.end - target.start != 1:
            counts["span_edges_left_out"] += 1
            continue
        labels = names[source.start], names[target.start]
        if None in labels:
            counts["edges_off_roles"] += 1
            continue
        out.append((*labels, edge.effect, edge.exact))
    return out


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


def _finite(value: Any, where: str) -> float:
    if isinstance(value, bool) or not isinstance(value, (int, float)) or not math.isfinite(value):
        raise schema.bad(where, "a finite number", value)
    return float(value)


def _optional_finite(value: Any, where: str) -> float | None:
    return None if value is None else _finite(value, where)


# The saved fields an edge is rebuilt from; its statistics are derived again from the values.
_SAVED_EDGE = {
    "source": (schema.text, schema.REQUIRED),
    "target": (schema.text, schema.REQUIRED),
    "values": (schema.list_of, schema.REQUIRED),
    "exact": (schema.flag, True),
}


MAX_SAVED_PROMPTS = 1_000_000
"""The most prompts a saved role graph may claim (each edge then holds as many values)."""


def _check_prompt_count(n: int, clean: list[float] | None) -> None:
    """``n_prompts`` against the clean metrics the file holds (one per prompt) and a maximum, before allocating."""
    if clean is not None and len(clean) != n:
        raise schema.bad("n_prompts", f"{len(clean)} (the file holds {len(clean)} clean metrics, one per prompt)", n)
    if n > MAX_SAVED_PROMPTS:
        raise schema.bad("n_prompts", f"at most {MAX_SAVED_PROMPTS:,}", n)


def _saved_edge(item: Any, where: str, per_prompt: list[list[Measurement]]) -> None:
    """Check one saved edge and add its values to ``per_prompt`` (its statistics are derived again)."""
    fields = schema.record(item, where, _SAVED_EDGE)
    values = fields["values"]
    if len(values) != len(per_prompt):
        raise schema.bad(
            f"{where}.values", f"a list of {len(per_prompt)} values (one per prompt, null where unmeasured)", values
        )
    for k, value in enumerate(values):
        value = _optional_finite(value, f"{where}.values[{k}]")
        if value is not None:
            per_prompt[k].append((fields["source"], fields["target"], value, fields["exact"]))


def _hover(name: str, e: RoleEdge) -> str:
    interval = "no interval (one prompt)" if e.low is None else f"95% interval [{e.low:+.4g}, {e.high:+.4g}]"
    return (
        f"{name}<br>mean {e.mean:+.4g}, std {_or_nan(e.std):.4g}<br>{interval}<br>"
        f"same sign in {e.sign_consistency:.0%} of {e.n} prompts" + ("" if e.exact else "<br>includes estimates")
    )
