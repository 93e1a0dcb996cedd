"""The information-flow graph: token spans as nodes, measured attention edges between them.

Plain data with no torch import, so saved graphs can be loaded, filtered and drawn without a model.
"""

from __future__ import annotations

import html
import json
import math
import os
from collections.abc import Callable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError, is_non_negative, is_whole, plain
from ..core.files import check_destination, read_json, write_atomic
from ..core.style import colour
from ..text.display import describe, visible
from . import schema

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go


FORMAT = "infoflow-graph/1"
"""The ``format`` tag of :meth:`FlowGraph.to_dict`; bump it when the layout changes."""

SELECTION_PROVENANCE = ("threshold", "top_k", "filter_threshold")
"""Provenance keys that say how a graph's edges were picked from what was measured, not how it was measured."""

PANDAS_COLUMNS = [
    "source", "target", "source_span", "target_span", "source_text", "target_text",
    "effect", "abs_effect", "level", "exact", "rank", "damage", "flags", "effect_std",
]  # fmt: skip


@dataclass(frozen=True)
class Node:
    """A span ``[start, end)`` of token positions; a token-level graph has one node per token.

    Attributes:
        start: first token position in the span.
        end: one past the last token position.
    """

    start: int
    end: int

    @property
    def label(self) -> str:
        """The span as ``"start:end"``, as in the figures (e.g. ``"522:535"``)."""
        return f"{self.start}:{self.end}"


@dataclass(frozen=True)
class Edge:
    """A measured attention edge from the ``source`` node to the ``target`` node.

    Attributes:
        source: index of the source node in :attr:`FlowGraph.nodes`.
        target: index of the target node in :attr:`FlowGraph.nodes`.
        effect: ``metric(clean) - metric(intervened)``; positive means the connection helps the metric.
        level: depth of the span level the edge was measured at (0 = top level, or tokens in a full graph).
        exact: False for a first-order estimate (attribution) not verified by an intervention.
        damage: KL(clean || intervened) of the whole next-token distribution under the edge's intervention,
            from the same forward pass as its effect: how much the intervention changed the prediction
            beyond the metric. None for estimates (and graphs saved before it existed).
        flags: names of the trust rules the edge meets (:mod:`infoflow_widget.graph.trust`): ``"sink"``,
            ``"damage"``, ``"inconsistent"``; empty when none.
        effect_std: the standard deviation of the effect over samples, for an effect averaged over
            several (corrupted prompts); None for a single measurement.
    """

    source: int
    target: int
    effect: float
    level: int = 0
    exact: bool = True
    damage: float | None = None
    flags: tuple[str, ...] = ()
    effect_std: float | None = None


def strongest(effects: Sequence[float], k: int | None = None) -> list[int]:
    """Indices of the ``k`` largest ``|effects|`` (all when None), largest first; ties keep their order, NaN last.

    Every ranking of edges goes through here, so NaN (which would make sorting meaningless) always ranks last.
    """

    def strength(i: int) -> float:
        return -1.0 if math.isnan(effects[i]) else abs(effects[i])

    return sorted(range(len(effects)), key=strength, reverse=True)[:k]


@dataclass(repr=False)
class FlowGraph:
    """An information-flow graph: tokens, span nodes, and edges with their measured effects.

    Attributes:
        tokens: each token of the prompt, decoded on its own.
        nodes: the spans that edges connect.
        edges: the measured edges.
        clean_metric: the metric on the unmodified run.
        provenance: how the graph was made (model, prompt, intervention, metric, strategy, layers, ...).
        stats: cost of making it (forward_passes, interventions, seconds, ...).
    """

    tokens: list[str]
    nodes: list[Node]
    edges: list[Edge]
    clean_metric: float
    provenance: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def __repr__(self) -> str:
        return (
            f"FlowGraph({len(self.tokens)} tokens, {len(self.nodes)} nodes, {len(self.edges)} edges, "
            f"clean_metric={self.clean_metric:.4g})"
        )

    # --- selection -------------------------------------------------------------------------------

    def ranked(self) -> list[Edge]:
        """The edges by ``|effect|``, largest first; ties keep their order and NaN effects come last."""
        return [self.edges[i] for i in strongest([e.effect for e in self.edges])]

    def top(self, k: int) -> FlowGraph:
        """A copy holding only the ``k`` edges of largest ``|effect|`` (nodes and tokens all kept).

        Args:
            k: how many edges to keep; 0 keeps none, more than there are keeps all.

        Raises:
            InfoFlowError: ``k`` is negative or not an integer.
        """
        if not is_whole(k):
            raise InfoFlowError(f"top(k) needs a whole number k >= 0 of edges to keep, got {k!r}.")
        return self._with_edges(self.ranked()[: int(k)], top_k=int(k))

    def filter(self, threshold: float) -> FlowGraph:
        """A copy holding only the edges with ``|effect| >= threshold``.

        Args:
            threshold: the smallest ``|effect|`` to keep, a number >= 0.

        Raises:
            InfoFlowError: ``threshold`` is negative or NaN.
        """
        if not is_non_negative(threshold, finite=False):
            raise InfoFlowError(
                f"filter(threshold) needs a number >= 0 (the smallest |effect| to keep), got {threshold!r}."
            )
        kept = [e for e in self.edges if abs(e.effect) >= threshold]
        return self._with_edges(kept, filter_threshold=float(threshold))

    def _with_edges(self, edges: list[Edge], **provenance: Any) -> FlowGraph:
        return replace(
            self,
            tokens=list(self.tokens),
            nodes=list(self.nodes),
            edges=edges,
            provenance={**self.provenance, **provenance},
            stats=dict(self.stats),
        )

    def positions(self, edge: Edge) -> tuple[list[int], list[int]]:
        """The token positions of ``edge``'s source and target spans, for measuring it again.

        ``engine.anatomy(*graph.positions(edge))`` is where the edge is carried (:meth:`FlowEngine.anatomy`);
        ``engine.expand(graph, edge)`` measures the token edges inside it.

        Raises:
            InfoFlowError: ``edge`` is not one of this graph's edges.
        """
        if not isinstance(edge, Edge) or edge not in self.edges:
            raise InfoFlowError(
                f"Need one of this graph's edges (from .edges or .top()); got {edge!r}: not an edge of this graph."
            )
        source, target = self.nodes[edge.source], self.nodes[edge.target]
        return list(range(source.start, source.end)), list(range(target.start, target.end))

    # --- views -----------------------------------------------------------------------------------

    def node_text(self, index: int) -> str:
        """The text of node ``index``: its tokens joined.

        Raises:
            InfoFlowError: no such node (a negative index would silently count from the end).
        """
        if not is_whole(index) or index >= len(self.nodes):
            raise InfoFlowError(f"node index {index!r} is out of range: this graph has nodes 0..{len(self.nodes) - 1}.")
        node = self.nodes[index]
        return "".join(self.tokens[node.start : node.end])

    def edge_text(self, edge: Edge) -> tuple[str, str]:
        """The texts of the edge's source and target spans."""
        return self.node_text(edge.source), self.node_text(edge.target)

    def to_pandas(self) -> pd.DataFrame:
        """One row per edge, ranked by ``|effect|`` (rank 1 = largest).

        Columns: ``source``, ``target`` (node indices), ``source_span``, ``target_span`` (labels),
        ``source_text``, ``target_text``, ``effect``, ``abs_effect``, ``level``, ``exact``, ``rank``,
        ``damage`` and ``effect_std`` (NaN where None), ``flags`` (the names joined by commas, ``""`` for none).
        """
        import pandas as pd

        rows = []
        for rank, edge in enumerate(self.ranked(), start=1):
            source_text, target_text = self.edge_text(edge)
            rows.append((
                edge.source, edge.target, self.nodes[edge.source].label, self.nodes[edge.target].label,
                source_text, target_text, edge.effect, abs(edge.effect), edge.level, edge.exact, rank,
                _or_nan(edge.damage), ",".join(edge.flags), _or_nan(edge.effect_std),
            ))  # fmt: skip
        return pd.DataFrame(rows, columns=PANDAS_COLUMNS)

    def matrix(self) -> list[list[float | None]]:
        """The effects as a node-by-node matrix: ``m[target][source]``, rows are targets, columns sources.

        Cells without an edge are None. If two edges share a cell, the one of larger ``|effect|`` wins.
        """
        m: list[list[float | None]] = [[None] * len(self.nodes) for _ in self.nodes]
        for edge in reversed(self.ranked()):  # the largest is written last, so it wins
            m[edge.target][edge.source] = edge.effect
        return m

    def heatmap(self) -> go.Figure:
        """A plotly heatmap of :meth:`matrix`: sources along x, targets along y, red hurts, green helps."""
        import plotly.graph_objects as go

        m = self.matrix()
        # plotly reads tags in labels and hover text, so token text is escaped like any HTML.
        texts = [f"{n.label} {html.escape(visible(self.node_text(i)))}" for i, n in enumerate(self.nodes)]
        hover = [
            ["" if z is None else f"{texts[s]} → {texts[t]}<br>effect {z:+.4g}" for s, z in enumerate(row)]
            for t, row in enumerate(m)
        ]
        p = self.provenance
        title = f"{describe(p.get('metric', 'metric'))} under {describe(p.get('intervention', 'intervention'))}"
        fig = go.Figure(
            go.Heatmap(
                z=m,
                x=texts,
                y=[n.label for n in self.nodes],
                text=hover,
                hovertemplate="%{text}<extra></extra>",
                colorscale=[[0.0, colour("hurts")], [0.5, colour("zero")], [1.0, colour("helps")]],
                zmid=0,
                colorbar={"title": {"text": "effect"}},
                hoverongaps=False,
            )
        )
        fig.update_layout(
            title=f"{html.escape(title)} (clean metric {self.clean_metric:.4g})",
            xaxis={"title": {"text": "source"}, "type": "category"},
            yaxis={"title": {"text": "target"}, "type": "category", "autorange": "reversed"},
        )
        return fig

    # --- serialisation ---------------------------------------------------------------------------

    def to_dict(self) -> dict[str, Any]:
        """The graph as plain JSON-ready data, tagged ``"format": "infoflow-graph/1"``."""
        return {
            "format": FORMAT,
            "tokens": list(self.tokens),
            "clean_metric": float(self.clean_metric),
            "nodes": [{"start": n.start, "end": n.end, "label": n.label} for n in self.nodes],
            "edges": [_edge_dict(e) for e in self.edges],
            "stats": plain(dict(self.stats)),
            "provenance": plain(dict(self.provenance)),
        }

    @classmethod
    def from_dict(cls, d: dict[str, Any]) -> FlowGraph:
        """Rebuild a graph from :meth:`to_dict` output, every field checked (:func:`check_saved`).

        Raises:
            InfoFlowError: the format tag is unknown, a key is missing, or a field has the wrong type or an
                impossible value (a span past the tokens, an edge to a node that is not there); the message
                names the field, e.g. ``edges[3].exact``.
        """
        return cls(**check_saved(d))

    def to_json(self, indent: int | None = None) -> str:
        """The graph as JSON text; floats are written exactly, so :meth:`load` gives back equal numbers.

        Raises:
            InfoFlowError: an effect or the clean metric is NaN or infinite, or provenance/stats are not JSON data.
        """
        bad = [
            (i, key, value)
            for i, e in enumerate(self.edges)
            for key, value in (("effect", e.effect), ("damage", e.damage), ("effect_std", e.effect_std))
            if value is not None and not math.isfinite(value)
        ]
        if bad:
            i, key, first = bad[0]
            raise InfoFlowError(
                f"{len(bad)} edge value(s) are NaN or infinite (first: edges[{i}].{key} = {first}) and JSON cannot "
                "hold them: drop those edges first, or save as .csv."
            )
        try:
            return json.dumps(self.to_dict(), indent=indent, allow_nan=False, ensure_ascii=False)
        except (TypeError, ValueError) as err:
            raise InfoFlowError(
                f"The graph cannot be written as JSON: {err}. Keep provenance and stats to plain finite data."
            ) from err

    def save(self, path: str | os.PathLike[str], top_k: int = 10) -> Path:
        """Write the graph to ``path``; the suffix picks the format: ``.json``, ``.csv`` (edge table) or ``.html``.

        The file is written to a temporary file beside it and then moved into place, so an error never
        leaves a half-written file.

        Args:
            path: the file to write.
            top_k: for ``.html`` only, how many of the strongest edges the report draws and lists.

        Returns:
            The path written.

        Raises:
            InfoFlowError: the destination cannot take the file (:func:`check_destination`, checked before
                anything is rendered), the graph cannot be written in that format, or the write fails.
        """
        path = check_destination(path, save_suffixes())
        text = _WRITERS[path.suffix.lower()](self, top_k=top_k)
        write_atomic(path, text)
        return path

    @classmethod
    def load(cls, path: str | os.PathLike[str]) -> FlowGraph:
        """Read a graph written by :meth:`save` to a ``.json`` file.

        Raises:
            InfoFlowError: the file cannot be read, is not UTF-8 JSON (or is nested too deeply to parse), or
                is not a saved FlowGraph (:meth:`from_dict` names the bad field).
        """
        path = Path(path)
        if path.suffix.lower() != ".json":
            raise InfoFlowError(f"Only .json files can be loaded back into a FlowGraph, not {path.name!r}.")
        return cls.from_dict(read_json(path, "a saved graph"))


def _edge_dict(e: Edge) -> dict[str, Any]:
    """One edge as saved: ``damage`` and ``effect_std`` only when known, ``flags`` only when there are some."""
    d: dict[str, Any] = {"source": e.source, "target": e.target, "effect": float(e.effect), "level": e.level}
    d["exact"] = e.exact
    if e.damage is not None:
        d["damage"] = float(e.damage)
    if e.flags:
        d["flags"] = list(e.flags)
    if e.effect_std is not None:
        d["effect_std"] = float(e.effect_std)
    return d


def _or_nan(value: float | None) -> float:
    return math.nan if value is None else value


Writer = Callable[..., str]
"""``writer(graph, top_k=...)``: the text of a saved graph in one format."""

_WRITERS: dict[str, Writer] = {
    ".json": lambda graph, top_k: graph.to_json(indent=1),
    ".csv": lambda graph, top_k: graph.to_pandas().to_csv(index=False),
}


def register_format(suffix: str, writer: Writer) -> None:
    """Let :meth:`FlowGraph.save` write files ending in ``suffix`` (such as ``".html"``) with ``writer``.

    Modules above this one (the HTML report) register their formats here when imported, so the graph
    saves through them without importing them.
    """
    _WRITERS[suffix.lower()] = writer


def save_suffixes() -> tuple[str, ...]:
    """The file suffixes :meth:`FlowGraph.save` can write."""
    return tuple(_WRITERS)


# The saved graph's layout: each field with the function that checks and converts it, and its default
# (REQUIRED when it has none). Records (nodes, edges) list their own fields.
_NODE_FIELDS = {"start": (schema.index, schema.REQUIRED), "end": (schema.index, schema.REQUIRED)}
_EDGE_FIELDS = {
    "source": (schema.index, schema.REQUIRED),
    "target": (schema.index, schema.REQUIRED),
    "effect": (schema.number, schema.REQUIRED),
    "level": (schema.index, 0),
    "exact": (schema.flag, True),
    "damage": (schema.optional_number, None),
    "flags": (schema.names, ()),
    "effect_std": (schema.optional_number, None),
}


def check_saved(d: Any) -> dict[str, Any]:
    """The :class:`FlowGraph` fields of saved graph data (:meth:`FlowGraph.to_dict`), every field checked.

    Spans must be ``start < end <= len(tokens)``, edges must join existing nodes, effects and the clean
    metric must be numbers (or the strings ``"NaN"``, ``"Infinity"``, ``"-Infinity"``), ``exact`` a
    boolean, ``damage`` and ``effect_std`` numbers or absent (null), ``flags`` a list of names or absent,
    ``provenance`` and ``stats`` objects of limited nesting.

    Raises:
        InfoFlowError: naming the first bad field, as a path such as ``edges[3].exact``.
    """
    if not isinstance(d, dict):
        raise InfoFlowError(f"A saved FlowGraph is a dict (a JSON object), got {type(d).__name__}.")
    for key in ("format", "tokens", "clean_metric", "nodes", "edges"):
        if key not in d:
            raise InfoFlowError(f"The saved graph has no {key!r} key; is it a FlowGraph saved by to_dict/save?")
    if d["format"] != FORMAT:
        raise InfoFlowError(f"Unknown graph format {schema.show(d['format'])}; this version reads {FORMAT!r}.")
    tokens = [schema.text(t, f"tokens[{i}]") for i, t in enumerate(schema.list_of(d["tokens"], "tokens"))]
    nodes = []
    for i, item in enumerate(schema.list_of(d["nodes"], "nodes")):
        node = Node(**schema.record(item, f"nodes[{i}]", _NODE_FIELDS))
        if not node.start < node.end <= len(tokens):
            raise InfoFlowError(
                f"nodes[{i}] is the span {node.label}, but a span start:end needs start < end <= {len(tokens)} "
                "(the number of tokens)."
            )
        nodes.append(node)
    edges = []
    for i, item in enumerate(schema.list_of(d["edges"], "edges")):
        edge = Edge(**schema.record(item, f"edges[{i}]", _EDGE_FIELDS))
        for key in ("source", "target"):
            if getattr(edge, key) >= len(nodes):
                raise schema.bad(
                    f"edges[{i}].{key}", f"a node index below {len(nodes)} (there are {len(nodes)} nodes)", item[key]
                )
        edges.append(edge)
    provenance, stats = (d.get(key, {}) for key in ("provenance", "stats"))
    for key, value in (("provenance", provenance), ("stats", stats)):
        if not isinstance(value, dict):
            raise schema.bad(key, "an object (a dict)", value)
        schema.nested(value, key)
    return {
        "tokens": tokens,
        "nodes": nodes,
        "edges": edges,
        "clean_metric": schema.number(d["clean_metric"], "clean_metric"),
        "provenance": dict(provenance),
        "stats": dict(stats),
    }
