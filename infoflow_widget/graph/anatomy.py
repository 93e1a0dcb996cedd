"""The anatomy of one edge: where along the depth, and in which heads, its effect is carried.

:meth:`FlowEngine.anatomy <infoflow_widget.engine.engine.FlowEngine.anatomy>` measures an edge (or group edge)
with the engine's intervention in one layer at a time, in one (layer, head) at a time, and in the
windows of layers 0..l and l..L-1 (the knockout windows of Geva et al., 2023). This module holds the
result as plain data with its table, its figure and its JSON.
"""

from __future__ import annotations

import json
from dataclasses import asdict, dataclass, field
from typing import TYPE_CHECKING, Any

from ..core.errors import InfoFlowError, is_whole
from ..core.style import colour

if TYPE_CHECKING:
    import pandas as pd
    import plotly.graph_objects as go


@dataclass(frozen=True)
class Anatomy:
    """One edge's effect by layer, by (layer, head) and by window of layers; effects are metric(clean) - metric(edited).

    Attributes:
        sources: the edge's source positions.
        targets: its target positions.
        tokens: the prompt's tokens.
        clean_metric: the metric on the clean prompt.
        effect: the edge intervened in every head of every layer below (the graph's value of the edge).
        layer_indices: the model layers measured (the engine's chosen layers), in order.
        layers: per layer, the edge intervened in that layer only (all its heads).
        heads: per layer, one effect per query head: the edge intervened in that head only.
        up_to: per layer l, the edge intervened in layers up to and including l.
        from_layer: per layer l, the edge intervened in layers l and after.
        kv_group: query heads per key/value head (grouped-query attention): query head h reads key/value
            head ``h // kv_group``; 1 without grouping.
        provenance: model, prompt, intervention and metric.
        stats: ``forward_passes``, ``interventions`` (rows measured) and ``seconds`` of this anatomy.
    """

    sources: list[int]
    targets: list[int]
    tokens: list[str]
    clean_metric: float
    effect: float
    layer_indices: list[int]
    layers: list[float]
    heads: list[list[float]]
    up_to: list[float]
    from_layer: list[float]
    kv_group: int = 1
    provenance: dict[str, Any] = field(default_factory=dict)
    stats: dict[str, Any] = field(default_factory=dict)

    def top_heads(self, k: int = 5) -> list[tuple[int, int, float]]:
        """The ``k`` (layer, head, effect) with the largest |effect|, strongest first (layer: the model's index).

        Raises:
            InfoFlowError: ``k`` is not a whole number >= 0.
        """
        if not is_whole(k):
            raise InfoFlowError(f"top_heads(k) needs a whole number of heads >= 0; got {k!r}.")
        found = [
            (layer, head, value) for layer, row in zip(self.layer_indices, self.heads) for head, value in enumerate(row)
        ]
        return sorted(found, key=lambda item: -abs(item[2]))[:k]

    def to_pandas(self) -> pd.DataFrame:
        """One row per (layer, head): its ``effect``, and its layer's ``layer_effect``, ``up_to`` and ``from``."""
        import pandas as pd

        rows = [
            {
                "layer": layer,
                "head": head,
                "effect": value,
                "layer_effect": self.layers[k],
                "up_to": self.up_to[k],
                "from": self.from_layer[k],
            }
            for k, layer in enumerate(self.layer_indices)
            for head, value in enumerate(self.heads[k])
        ]
        return pd.DataFrame(rows, columns=["layer", "head", "effect", "layer_effect", "up_to", "from"])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON data: the CLI's output (``windows`` holds ``up_to`` and ``from``)."""
        data = asdict(self)
        data["windows"] = {"up_to": data.pop("up_to"), "from": data.pop("from_layer")}
        return data

    def to_json(self) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=1)

    def heatmap(self) -> go.Figure:
        """A plotly figure: the layer x head effects (green helps, red hurts) beside the per-layer and window curves."""
        import plotly.graph_objects as go
        from plotly.subplots import make_subplots

        limit = max([abs(v) for row in self.heads for v in row] + [1e-12])
        figure = make_subplots(rows=1, cols=2, column_widths=[0.55, 0.45], subplot_titles=("by head", "by layer"))
        figure.add_trace(
            go.Heatmap(
                z=self.heads,
                y=self.layer_indices,
                colorscale=[[0, colour("hurts")], [0.5, colour("zero")], [1, colour("helps")]],
                zmin=-limit,
                zmax=limit,
                colorbar={"title": "effect", "x": 0.52},
                hovertemplate="L%{y}.H%{x}: %{z:.4g}<extra></extra>",
            ),
            row=1,
            col=1,
        )
        for name, values in (("this layer", self.layers), ("layers 0..l", self.up_to), ("layers l..", self.from_layer)):
            figure.add_trace(go.Scatter(x=values, y=self.layer_indices, name=name, mode="lines+markers"), row=1, col=2)
        figure.update_yaxes(title_text="layer", autorange="reversed")
        figure.update_xaxes(title_text="head", row=1, col=1)
        figure.update_xaxes(title_text="effect", row=1, col=2)
        source, target = _span(self.sources, self.tokens), _span(self.targets, self.tokens)
        figure.update_layout(title=f"Anatomy of {source} -> {target} (effect {self.effect:.4g})", height=500)
        return figure


def _span(positions: list[int], tokens: list[str]) -> str:
    """``3 'Mary'`` for one position, ``3-6`` for several."""
    if len(positions) == 1:
        return f"{positions[0]} {tokens[positions[0]]!r}"
    return f"{min(positions)}-{max(positions)}"
