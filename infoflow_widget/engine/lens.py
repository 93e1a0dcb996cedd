"""The logit lens: the residual stream at one position, after each layer, read as a next-token prediction.

One trace of the prompt (cut after the position: a causal model's residual stream there does not depend
on later tokens) saves the residual stream at that position entering the first decoder layer (the
embeddings, row ``layer=-1``) and leaving each decoder layer. Each is decoded as the model decodes its
last layer: through the final norm (``final_norm``), the output embedding and
the final logit soft-capping where the config has one (Gemma 2 and 3). The last row is therefore the
model's own prediction at that position, which the lens checks against the model's logits in the same
trace; at the final position that is the engine's clean run. The engine's metric reads every row's
logits as it reads the final position's (for a logit difference: the difference at that layer).

The decoder layers are found as the parents of the attention modules
(``attention_modules``), so every architecture the engine runs has a lens.
"""

from __future__ import annotations

import json
import math
import warnings
from dataclasses import dataclass
from typing import TYPE_CHECKING, Any, NamedTuple, cast

from ..core.errors import InfoFlowError, is_whole
from ..text.display import token_texts
from .models import envoy, final_norm

if TYPE_CHECKING:
    import pandas as pd
    import torch

    from .engine import FlowEngine

EMBEDDINGS = -1
"""The ``layer`` of the row read before the first decoder layer: the embeddings (GPT-2: token plus position)."""


class LensToken(NamedTuple):
    """One of a layer's top tokens: its text, its logit and its probability (softmax over the vocabulary)."""

    token: str
    logit: float
    prob: float


@dataclass(frozen=True)
class LensLayer:
    """The lens after one layer.

    Attributes:
        layer: the decoder layer whose output is read (0-based), or ``-1`` (:data:`EMBEDDINGS`) for the
            residual stream entering layer 0.
        top: the top tokens, highest logit first.
        metric: the engine's metric computed on this row's logits (NaN if the metric gives no number there).
    """

    layer: int
    top: list[LensToken]
    metric: float

    @property
    def label(self) -> str:
        """``"embed"`` for the embeddings row, else the layer number."""
        return "embed" if self.layer == EMBEDDINGS else str(self.layer)


@dataclass(frozen=True)
class LogitLens:
    """The logit lens at one position of an engine's prompt (see :func:`logit_lens`).

    Attributes:
        position: the position read (0-based; a negative position given is stored as its 0-based index).
        token: the text of the prompt's token there.
        metric_name: the engine's metric, described (``LogitDiff(' Mary', ' John')`` ...).
        layers: the embeddings row, then one row per decoder layer, in order.
        exact: whether the last row equals the model's own logits at this position, as it must: False only
            for an architecture that does something to its logits the lens does not know (a warning says so).
    """

    position: int
    token: str
    metric_name: str
    layers: list[LensLayer]
    exact: bool = True

    def to_pandas(self) -> pd.DataFrame:
        """One row per layer and top token.

        Columns: ``layer`` (-1: the embeddings), ``label``, ``rank`` (1 = top), ``token``, ``logit``, ``prob``
        and ``metric`` (the layer's metric value, repeated on each of its rows).
        """
        import pandas as pd

        rows = [
            (row.layer, row.label, rank, t.token, t.logit, t.prob, row.metric)
            for row in self.layers
            for rank, t in enumerate(row.top, start=1)
        ]
        return pd.DataFrame(rows, columns=["layer", "label", "rank", "token", "logit", "prob", "metric"])

    def to_dict(self) -> dict[str, Any]:
        """Plain JSON-ready data; a metric value that is not finite becomes None."""
        return {
            "position": self.position,
            "token": self.token,
            "metric_name": self.metric_name,
            "exact": self.exact,
            "layers": [
                {
                    "layer": row.layer,
                    "label": row.label,
                    "metric": row.metric if math.isfinite(row.metric) else None,
                    "top": [t._asdict() for t in row.top],
                }
                for row in self.layers
            ],
        }

    def to_json(self, indent: int | None = None) -> str:
        """:meth:`to_dict` as JSON text."""
        return json.dumps(self.to_dict(), indent=indent, ensure_ascii=False)


def logit_lens(engine: FlowEngine, position: int, top: int = 5) -> LogitLens:
    """The logit lens of ``engine``'s prompt at ``position``: each layer's top tokens and metric value there.

    Costs one forward pass of the tokens up to ``position`` (counted in ``engine.forward_passes``), under the
    engine's trace lock.

    Args:
        engine: a ``FlowEngine`` (its model, prompt, metric and clean run).
        position: the token position, 0-based; negative positions count from the end as in Python
            (``-1`` is the final position, the one the metric is defined on).
        top: how many top tokens each layer keeps (at most the vocabulary).

    Raises:
        InfoFlowError: ``position`` is not an integer in ``-n .. n-1``, or ``top`` not a positive integer
            (checked before the forward pass).
    """
    import torch

    position = _check_position(position, engine.n)
    if not is_whole(top, minimum=1):
        raise InfoFlowError(f"top must be a positive integer; got {top!r}.")
    with torch.no_grad(), engine._trace_lock:
        residuals, model_logits = _residuals(engine, position)
        logits = decode(engine.hf_model, residuals)
        metric = engine._score(logits, engine.clean_logits).float().tolist()
    engine.forward_passes += 1
    engine.positions += position + 1
    dtype = cast("torch.dtype", engine.hf_model.dtype)  # a transformers model's dtype (torch's Module types none)
    exact = _check_exact(logits[-1], model_logits, dtype, position)
    rows = _top_rows(engine.tokenizer, logits, min(int(top), logits.shape[-1]), metric)
    return LogitLens(position, engine.tokens[position], engine.metric.describe(), rows, exact)


def _check_position(position: Any, n: int) -> int:
    """``position`` as a 0-based index into ``n`` tokens; Python's negative indices count from the end."""
    if not is_whole(position, minimum=None):
        raise InfoFlowError(f"position must be an integer token index; got {position!r}.")
    if not -n <= position < n:
        raise InfoFlowError(f"position {position} is outside the prompt's {n} tokens (0 .. {n - 1}, or -{n} .. -1).")
    return int(position) % n


def _residuals(engine: FlowEngine, position: int) -> tuple[torch.Tensor, torch.Tensor]:
    """One trace of the tokens up to ``position``: the residual stream and the model's own logits there.

    Returns the residual stream entering layer 0 and leaving each layer ``(layers + 1, hidden)``, and the
    logits ``(vocab,)``.
    """
    import torch

    paths = [path.rpartition(".")[0] for path in engine._attention_paths]  # found once, by the engine
    saved: list[Any] = []
    with engine.model.trace(engine.input_ids[:, : position + 1], logits_to_keep=1):
        saved.append(envoy(engine.model, paths[0]).input[0, -1].save())
        for path in paths:
            output = envoy(engine.model, path).output
            # Decoder layers return their hidden states, or (in older transformers) a tuple led by them.
            hidden = output[0] if isinstance(output, tuple) else output
            saved.append(hidden[0, -1].save())
        logits = engine.model.output.logits[0, -1].save()
    return torch.stack(saved), logits


def decode(hf_model: Any, residuals: torch.Tensor) -> torch.Tensor:
    """Logits ``(rows, vocab)`` (float32) of residual-stream rows ``(rows, hidden)``, decoded as the model's last layer.

    Final norm, output embedding, then the final logit soft-capping of configs that set
    ``final_logit_softcapping`` (Gemma 2 and 3 compute ``cap * tanh(logits / cap)``), in the model's dtype.
    """
    import torch

    norm = hf_model.get_submodule(final_norm(hf_model))
    logits = hf_model.get_output_embeddings()(norm(residuals))
    cap = getattr(hf_model.config, "final_logit_softcapping", None)
    if cap:
        logits = torch.tanh(logits / cap) * cap
    return logits.float()


def _check_exact(lens: torch.Tensor, model: torch.Tensor, dtype: torch.dtype, position: int) -> bool:
    """Whether the last layer's lens equals the model's logits (to rounding); warns when it does not."""
    import torch

    scale = max(1.0, float(model.float().abs().max()))
    tolerance = max(1e-3, 8 * torch.finfo(dtype).eps) * scale
    gap = float((lens - model.float()).abs().max())
    if gap <= tolerance:
        return True
    warnings.warn(
        f"The logit lens at position {position} does not reproduce the model's logits at its last layer (they differ "
        f"by up to {gap:.3g}): the model does something between its last decoder layer and its logits that the lens "
        "does not (see infoflow_widget.engine.lens.decode). Its rows are not the model's own reading.",
        UserWarning,
        stacklevel=3,
    )
    return False


def _top_rows(tokenizer: Any, logits: torch.Tensor, top: int, metric: list[float]) -> list[LensLayer]:
    """One :class:`LensLayer` per row of ``logits``, the first being the embeddings."""
    values, ids = logits.topk(top, dim=-1)
    probs = logits.softmax(-1).gather(-1, ids)
    texts = token_texts(tokenizer, ids.flatten().tolist())
    rows = []
    for row, (row_values, row_probs) in enumerate(zip(values.tolist(), probs.tolist())):
        tokens = [
            LensToken(text, logit, prob)
            for text, logit, prob in zip(texts[row * top : (row + 1) * top], row_values, row_probs)
        ]
        rows.append(LensLayer(row + EMBEDDINGS, tokens, metric[row]))
    return rows
