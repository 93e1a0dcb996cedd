"""The slow, obviously-correct path: one intervention per plain PyTorch forward pass, no nnsight.

Every fast path of the engine is tested against this module. It shares nothing with the engine's
batching, masks or nnsight sites: for one edge group it temporarily wraps the model's own eager
attention function, lets it compute the true pattern, edits that pattern by direct indexing, and
recomputes the head outputs as pattern @ values. The wrapper is registered through transformers'
attention interface, with eager attention's explicit causal and sliding-window masks. Corrupt
calls the eager function a second time with the corrupted keys and values swapped in, and keeps
that call's output at the target rows.
"""

from __future__ import annotations

import sys
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import TYPE_CHECKING, Any

from .interventions import Corrupt, Crop, Dampen, Intervention, Zero
from .metrics import Metric, as_metric
from .models import attention_modules

if TYPE_CHECKING:
    import torch
    from nnsight.modeling.transformers import TransformersModel


def reference_effects(
    model: TransformersModel,
    prompt: str,
    metric: Metric | Callable[..., Any] | None,
    intervention: Intervention,
    groups: Sequence[tuple[Sequence[int], Sequence[int]]],
    layers: Sequence[int] | None = None,
) -> tuple[float, list[float]]:
    """Return the clean metric and metric(clean) - metric(intervened) for each group, one pass each."""
    import torch

    hf_model, tokenizer = model._module, model.tokenizer
    score = as_metric(metric).prepare(tokenizer)
    ids = tokenizer(prompt, return_tensors="pt")["input_ids"].to(hf_model.device)
    modules = [hf_model.get_submodule(p) for p in attention_modules(hf_model)]
    chosen = set(range(len(modules)) if layers is None else layers)
    layer_of = {id(m): k for k, m in enumerate(modules)}
    state: dict[str, Any] = {"edge": None, "record": None, "corrupt_kv": {}}

    def attention(module: Any, query: Any, key: Any, value: Any, attention_mask: Any, *args: Any, **kwargs: Any) -> Any:
        original = sys.modules[type(module).__module__].eager_attention_forward
        output, weights = original(module, query, key, value, attention_mask, *args, **kwargs)
        layer = layer_of[id(module)]
        if state["record"] is not None:
            state["record"][layer] = (key, value)
        if state["edge"] is None or layer not in chosen:
            return output, weights
        sources, targets = state["edge"]
        if isinstance(intervention, Corrupt):
            key2, value2 = key.clone(), value.clone()
            corrupt_key, corrupt_value = state["corrupt_kv"][layer]
            key2[:, :, sources] = corrupt_key[:, :, sources]
            value2[:, :, sources] = corrupt_value[:, :, sources]
            patched, _ = original(module, query, key2, value2, attention_mask, *args, **kwargs)
            output = output.clone()
            output[:, targets] = patched[:, targets]
            return output, weights
        pattern = _edit(weights.clone(), sources, targets, intervention)
        repeated = value.repeat_interleave(query.shape[1] // value.shape[1], dim=1)
        return torch.matmul(pattern, repeated).transpose(1, 2).contiguous(), pattern

    def logits() -> torch.Tensor:
        return hf_model(ids).logits[:, -1].float()

    with torch.no_grad(), _reference_attention(hf_model, attention):
        clean = logits()
        clean_metric = float(score(clean, clean[0])[0])
        if isinstance(intervention, Corrupt):
            state["record"] = state["corrupt_kv"]
            corrupt_ids = tokenizer(intervention.corrupted_prompt, return_tensors="pt")["input_ids"].to(hf_model.device)
            hf_model(corrupt_ids)
            state["record"] = None
        effects = []
        for sources, targets in groups:
            state["edge"] = (list(sources), list(targets))
            effects.append(clean_metric - float(score(logits(), clean[0])[0]))
    return clean_metric, effects


def _edit(pattern: torch.Tensor, sources: list[int], targets: list[int], intervention: Intervention) -> torch.Tensor:
    for i in targets:
        js = [j for j in sources if j <= i]
        if not js:
            continue
        if isinstance(intervention, Zero):
            pattern[:, :, i, js] = 0.0
        elif isinstance(intervention, Dampen):
            pattern[:, :, i, js] *= intervention.alpha
        elif isinstance(intervention, Crop):
            pattern[:, :, i, : max(js) + 1] = 0.0
            total = pattern[:, :, i, :].sum(-1, keepdim=True)
            pattern[:, :, i, :] = pattern[:, :, i, :] / total.where(total > 0, 1.0)
        else:
            raise TypeError(f"No reference for {type(intervention).__name__}.")
    return pattern


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
