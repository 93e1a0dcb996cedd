"""The slow, obviously-correct path: one intervention per plain PyTorch forward pass, no nnsight.

Every fast path of the engine is tested against this module. It shares nothing with the engine's
batching, masks or nnsight sites: for one edge group it temporarily wraps the model's own eager
attention function, lets it compute the true pattern and output, and hands that call to the
intervention's own reference edit (:meth:`~infoflow_widget.interventions.base.Intervention.reference_edit`):
Zero, Dampen and Crop edit the pattern by direct indexing and recompute the head outputs as
pattern @ values; Corrupt calls the eager function a second time with the corrupted keys and values
swapped in, and Knockout with -inf in its mask at the knocked-out keys (eager attention adds the mask
after the scaling and soft-capping, so that is a true -inf score before the softmax); both keep that
call's output at the target rows. The wrapper is registered through
transformers' attention interface, with eager attention's explicit causal and sliding-window masks.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any, cast

from ..interventions.base import EagerCall
from ..interventions.edges import EdgeSet
from .metrics import Metric, as_metric
from .models import attention_modules

if TYPE_CHECKING:
    import torch
    from nnsight.modeling.transformers import TransformersModel
    from transformers import PreTrainedTokenizerBase

    from ..interventions.base import Intervention


def reference_effects(
    model: TransformersModel,
    prompt: str,
    metric: Metric | Callable[..., Any] | None,
    intervention: Intervention,
    groups: Sequence[tuple[Sequence[int], Sequence[int]]],
    layers: Sequence[int] | None = None,
    heads: Sequence[int] | None = None,
) -> tuple[float, list[float]]:
    """Return the clean metric and metric(clean) - metric(intervened) for each group, one pass each.

    ``layers`` and ``heads`` restrict the intervention to those layers and query heads (default: all):
    the intervened call's head outputs are kept at those heads only, the clean ones elsewhere.
    """
    import torch

    # The models of load_model and wrap_model have a tokenizer (nnsight's type allows none).
    hf_model, tokenizer = model._module, cast("PreTrainedTokenizerBase", model.tokenizer)
    score = as_metric(metric).prepare(tokenizer)
    modules = [hf_model.get_submodule(p) for p in attention_modules(hf_model)]
    chosen = set(range(len(modules)) if layers is None else layers)
    layer_of = {id(m): k for k, m in enumerate(modules)}
    state: dict[str, Any] = {"edge": None, "record": None, "context": {}}

    def attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *args: Any, **kwargs: Any) -> Any:
        original = sys.modules[type(module).__module__].eager_attention_forward
        output, weights = original(module, query, key, value, attention_mask, *args, **kwargs)
        layer = layer_of[id(module)]
        if state["record"] is not None:
            state["record"][layer] = (key, value)
        if state["edge"] is None or layer not in chosen:
            return output, weights

        def rerun(key2: Any, value2: Any, mask: Any = None) -> Any:
            mask = attention_mask if mask is None else mask
            return original(module, query, key2, value2, mask, *args, **kwargs)[0]

        call = EagerCall(query, key, value, output, weights, state["context"].get(layer), rerun, attention_mask)
        edited = _edited(intervention, call, state["edge"])
        if heads is None:
            return edited, weights
        kept = output.clone()  # (batch, position, head, dim): heads are independent until the output projection
        kept[:, :, list(heads)] = edited[:, :, list(heads)]
        return kept, weights

    def tokenize(text: str) -> torch.Tensor:
        return tokenizer(text, return_tensors="pt")["input_ids"].to(hf_model.device)

    ids = tokenize(prompt)

    def logits() -> torch.Tensor:
        return hf_model(ids).logits[:, -1].float()

    def record(text: str) -> dict[int, tuple[torch.Tensor, torch.Tensor]]:
        """Run ``text``; per layer, the keys and values that enter the attention function."""
        state["record"] = {}
        hf_model(tokenize(text))
        recorded, state["record"] = state["record"], None
        return recorded

    with torch.no_grad(), _reference_attention(hf_model, attention):
        clean = logits()
        clean_metric = float(score(clean, clean[0])[0])
        state["context"] = intervention.reference_prepare(record)
        effects = []
        for group in groups:
            state["edge"] = group if isinstance(group, EdgeSet) else (list(group[0]), list(group[1]))
            effects.append(clean_metric - float(score(logits(), clean[0])[0]))
    return clean_metric, effects


def _edited(intervention: Intervention, call: EagerCall, edge: Any) -> torch.Tensor:
    """The call's head outputs with ``edge`` intervened: a group edge at once, an :class:`EdgeSet` row by row.

    A query row's output depends only on its own attention row, so an edge set is exact as each target's row
    edited with that target's sources alone (every intervention's reference edit leaves other rows clean).
    """
    if not isinstance(edge, EdgeSet):
        return intervention.reference_edit(call, *edge)
    edited = call.output.clone()  # (batch, position, head, dim)
    for target, sources in edge.by_target().items():
        edited[:, target] = intervention.reference_edit(call, sources, [target])[:, target]
    return edited


@contextmanager
def _reference_attention(hf_model: Any, attention: Callable[..., Any]) -> Iterator[None]:
    """Run the model with ``attention`` registered as its attention implementation, given eager's masks."""
    from transformers import AttentionInterface
    from transformers.masking_utils import ALL_MASK_ATTENTION_FUNCTIONS, AttentionMaskInterface

    AttentionInterface.register(_NAME, attention)
    AttentionMaskInterface.register(_NAME, ALL_MASK_ATTENTION_FUNCTIONS["eager"])
    previous = hf_model.config._attn_implementation
    hf_model.set_attn_implementation(_NAME)
    try:
        yield
    finally:
        hf_model.set_attn_implementation(previous)


_NAME = "infoflow_reference"
