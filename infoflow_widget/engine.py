"""The engine: batched attention-edge interventions inside nnsight traces.

How a batch of edges is measured:

1. The prompt is tokenized once, and the clean run gives the clean final-position logits and the
   clean metric value (for Corrupt, the corrupted prompt's clean run also saves, in every layer,
   the keys and values that enter eager attention).
2. A batch of B edge groups (sources S, targets T) becomes B copies of the prompt and a boolean
   edit mask of shape ``(B, 1, n, n)``: row b marks query i in T_b attending to key j in S_b, j <= i.
3. One ``model.trace`` runs the batch. In each chosen layer it reaches the eager attention
   function's own call sites through nnsight's ``.source``: the raw scores ``torch_matmul_0``
   (Corrupt swaps in q_i . k'_j), the post-softmax pattern ``nn_functional_softmax_0`` (Zero,
   Dampen and Crop edit it) and the output ``torch_matmul_1`` (Corrupt swaps in v'_j). Every head
   sees the same mask. Those sites hold the true pattern under the model's causal and
   sliding-window masks, since eager attention is given the explicit mask.
4. The metric of each batch row, subtracted from the clean metric, is that row's effect.
"""

from __future__ import annotations

import copy
import math
import re
import threading
import time
import weakref
from collections.abc import Callable, Sequence
from typing import TYPE_CHECKING, Any

from .attribution import corrupt_first_order, pattern_first_order
from .errors import ComputationCancelled, InfoFlowError, PromptLengthError, is_non_negative
from .graph import FlowGraph
from .interventions import Corrupt, Intervention, Zero, corrupt_output, corrupt_scores, edit_masks
from .metrics import Metric, as_metric
from .models import attention_modules, load_model
from .strategies import Full, Strategy, cost_stats

if TYPE_CHECKING:
    import torch
    from nnsight.modeling.transformers import TransformersModel

Group = tuple[Sequence[int], Sequence[int]]
"""An edge between position groups: (source positions, target positions)."""

DEFAULT_MEMORY_BUDGET = 2 * 1024**3
"""Bytes of activations one batched forward pass may use (suits a 24 GB machine)."""

MAX_BATCH = 128

_TRACE_LOCKS: weakref.WeakKeyDictionary[Any, threading.RLock] = weakref.WeakKeyDictionary()
_TRACE_LOCKS_GUARD = threading.Lock()


def trace_lock(model: TransformersModel) -> threading.RLock:
    """The lock every trace of ``model`` holds while it runs.

    nnsight runs one trace of a model at a time: two threads tracing it at once (a widget
    recomputing while a cell calls :func:`compute_flow`) break both traces. Engines take this lock
    themselves; hold it to keep your own traces of the model out of their way.
    """
    with _TRACE_LOCKS_GUARD:
        return _TRACE_LOCKS.setdefault(model._module, threading.RLock())


class FlowEngine:
    """Measures the effect of attention edges for one model, prompt, metric and intervention.

    Everything is checked in the constructor, before any model work; then the clean run happens.

    Args:
        model: an nnsight-wrapped model from :func:`load_model`, or a name/path to load.
        prompt: the clean prompt.
        metric: a :class:`Metric`, a callable on final-position logits, or None for the KL divergence.
        intervention: :class:`Zero` (default), :class:`Dampen`, :class:`Crop` or :class:`Corrupt`.
        layers: indices of the layers to intervene in (default: all).
        batch_size: edges per forward pass (default: from ``memory_budget``).
        memory_budget: bytes of activations one forward pass may use.
        progress: True for a tqdm bar on stderr, False for none, or a callable
            ``progress(done, total, desc)`` called after each forward pass.
        cancel: an event; once set, the next batch raises :class:`ComputationCancelled`.
    """

    def __init__(
        self,
        model: TransformersModel | str,
        prompt: str,
        metric: Metric | Callable[..., Any] | None = None,
        intervention: Intervention | None = None,
        *,
        layers: Sequence[int] | None = None,
        batch_size: int | None = None,
        memory_budget: int = DEFAULT_MEMORY_BUDGET,
        progress: bool | Callable[[int, int, str], None] = True,
        cancel: threading.Event | None = None,
    ) -> None:
        import torch

        # Arguments first, before a model loads.
        _check_text(prompt, "prompt")
        if not isinstance(model, str) and not hasattr(model, "_module"):
            raise InfoFlowError(
                "model must be a name or path, or a model from load_model() or wrap_model(); "
                f"got {type(model).__name__}. A transformers model loaded by hand: wrap_model(model, tokenizer)."
            )
        if layers is not None and (
            isinstance(layers, (str, bytes)) or not isinstance(layers, Sequence) or not all(_is_int(x) for x in layers)
        ):
            raise InfoFlowError(f"layers must be a list of layer indices such as [0, 1, 2]; got {layers!r}.")
        if not _is_int(memory_budget) or memory_budget < 1:
            raise InfoFlowError(f"memory_budget must be a positive number of bytes; got {memory_budget!r}.")
        _check_progress_and_cancel(progress, cancel)
        self.model = load_model(model) if isinstance(model, str) else model
        self.hf_model = self.model._module
        self._trace_lock = trace_lock(self.model)
        if self.hf_model.config._attn_implementation != "eager":
            # Only eager attention computes the softmax as a reachable call, under the explicit mask.
            self.hf_model.set_attn_implementation("eager")
        self.tokenizer = self.model.tokenizer
        self.metric = as_metric(metric)
        self.progress = progress
        self.cancel = cancel
        self.prompt = prompt
        self.input_ids = self._tokenize(prompt, "prompt")
        self.n = self.input_ids.shape[1]
        self.tokens = [self.tokenizer.decode([int(t)]) for t in self.input_ids[0]]
        self._attention_paths = attention_modules(self.hf_model)
        self.layers = _check_layers(layers, len(self._attention_paths))
        self._score = self.metric.prepare(self.tokenizer)
        # A metric of the wrong shape fails on two rows of zero logits here, not after the clean run.
        vocab = self.hf_model.get_output_embeddings().weight.shape[0]
        probe = torch.zeros(2, vocab, device=self.hf_model.device)
        self._score(probe, probe[0])
        self._check_intervention(intervention)
        if batch_size is not None and (not _is_int(batch_size) or batch_size < 1):
            raise InfoFlowError(f"batch_size must be a positive integer; got {batch_size!r}.")
        self.batch_size = batch_size or self._batch_from_budget(memory_budget)
        self._reset_counters()
        self._call_site = _call_site_name(self.model, self._attention_paths[0])
        embeddings = self.hf_model.get_input_embeddings()
        self._embeddings = next(path for path, module in self.hf_model.named_modules() if module is embeddings)

        start = time.perf_counter()
        with torch.no_grad():
            self.clean_logits = self._clean_run()
        self.clean_metric = float(self._score(self.clean_logits[None], self.clean_logits)[0])
        if not math.isfinite(self.clean_metric):
            raise InfoFlowError(f"The metric is {self.clean_metric} on the clean prompt; it must be finite.")
        self._prepare_intervention()
        self.seconds += time.perf_counter() - start

    @property
    def num_layers(self) -> int:
        """Number of attention layers of the model."""
        return len(self._attention_paths)

    def with_intervention(
        self,
        intervention: Intervention,
        *,
        progress: bool | Callable[[int, int, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> FlowEngine:
        """An engine for the same model, prompt, metric and layers with another intervention.

        It shares this engine's clean run (logits, keys and values), so it starts without a forward
        pass (Corrupt runs its corrupted prompt once); its counters start at zero. Interactive use
        (a slider over Dampen's alpha) pays only for the intervened passes.

        Args:
            intervention: the intervention of the new engine.
            progress: as in the constructor (default: this engine's).
            cancel: as in the constructor (default: none).
        """
        _check_progress_and_cancel(progress, cancel)
        derived = copy.copy(self)
        derived._check_intervention(intervention)
        derived.progress = self.progress if progress is None else progress
        derived.cancel = cancel
        derived._reset_counters()
        start = time.perf_counter()
        derived._prepare_intervention()
        derived.seconds += time.perf_counter() - start
        return derived

    def graph(self, strategy: Strategy | None = None, threshold: float = 0.0) -> FlowGraph:
        """The information-flow graph of the edges ``strategy`` picks (``Full()`` by default).

        Args:
            strategy: which edges to measure.
            threshold: keep only edges with ``|effect| >= threshold``.

        Returns:
            A :class:`FlowGraph`. Its stats count this engine's work so far: the clean run of an engine
            built from a prompt (none for one from :meth:`with_intervention`) and earlier graphs' passes.

        Raises:
            InfoFlowError: a bad strategy or threshold, or an estimating strategy with a metric that has
                no first-order estimates (the KL divergence), before any work.
        """
        strategy = _check_graph_request(strategy, threshold, self.metric)
        self.extra_stats = {}  # what an earlier graph's strategy reported is not this graph's
        nodes, edges = strategy.run(self)
        graph = FlowGraph(
            tokens=self.tokens,
            nodes=nodes,
            edges=edges,
            clean_metric=self.clean_metric,
            provenance={
                "model": getattr(self.hf_model, "infoflow_name", type(self.hf_model).__name__),
                "prompt": self.prompt,
                "intervention": self.intervention.params(),
                "intervention_text": self.intervention.describe(),
                "metric": self.metric.describe(),
                "strategy": strategy.params(),
                "estimate": any(not edge.exact for edge in edges),
                "threshold": threshold,
                "layers": None if self.layers == list(range(self.num_layers)) else self.layers,
            },
            stats={
                "forward_passes": self.forward_passes,
                "interventions": self.interventions,
                "seconds": round(self.seconds, 3),
                "batch_size": self.batch_size,
                **cost_stats(self),
                "positions": self.positions,
                **self.extra_stats,
            },
            _engine=self,
        )
        return graph.filter(threshold) if threshold > 0 else graph

    def effects(self, groups: Sequence[Group], desc: str = "edges") -> list[float]:
        """Return metric(clean) - metric(intervened) for each (sources, targets) group, batched.

        Source positions after a target position are ignored (attention is causal).
        """
        import torch
        from tqdm.auto import tqdm

        groups = [(list(s), list(t)) for s, t in groups]
        for sources, targets in groups:
            if not sources or not targets or min(sources + targets) < 0 or max(sources + targets) >= self.n:
                raise InfoFlowError(
                    f"Edge groups need non-empty positions in 0..{self.n - 1}; got {sources} -> {targets}."
                )
        order = sorted(range(len(groups)), key=lambda k: min(groups[k][1]))
        starts = [min(groups[k][1]) for k in order]
        results: dict[int, float] = {}
        begin = time.perf_counter()
        bar_wanted = self.progress is True
        with torch.no_grad(), tqdm(total=len(groups), desc=desc, unit="edge", disable=not bar_wanted) as bar:
            plan = _plan_batches(starts, self.n, self.batch_size)
            while plan:
                if self.cancel is not None and self.cancel.is_set():
                    raise ComputationCancelled(f"{desc}: cancelled after {len(results)} of {len(groups)} edges")
                first, last = plan[0]
                rows = order[first:last]
                edit = edit_masks([groups[k] for k in rows], self.n, self.hf_model.device)
                try:
                    logits = self._trace(edit, starts[first])
                except torch.OutOfMemoryError:
                    if self.batch_size == 1:
                        raise
                    self.batch_size //= 2  # the estimate was too generous for this device: plan smaller batches
                    plan = [(first + a, first + b) for a, b in _plan_batches(starts[first:], self.n, self.batch_size)]
                    continue
                plan.pop(0)
                values = self._score(logits, self.clean_logits)
                results.update(zip(rows, (self.clean_metric - values.double()).tolist()))
                bar.update(len(rows))
                if callable(self.progress):
                    self.progress(len(results), len(groups), desc)
        self.interventions += len(groups)
        self.seconds += time.perf_counter() - begin
        return [results[k] for k in range(len(groups))]

    def estimate(self) -> torch.Tensor:
        """First-order estimates of every token edge's effect: one forward and one backward pass.

        Returns:
            A float64 ``(n, n)`` tensor indexed ``[target, source]`` (zero above the diagonal): the
            gradient of the metric times the change the intervention makes, summed over heads and
            the chosen layers (see :mod:`infoflow_widget.attribution`).
        """
        import torch

        _check_first_order(self.metric)
        if self._estimate is not None:  # a preview and AttributionThenExact on one engine share it
            return self._estimate.clone()
        corrupt = isinstance(self.intervention, Corrupt)
        start = time.perf_counter()
        with self._trace_lock:  # the weights' requires_grad flags change meanwhile: no other trace
            saved = self._gradient_trace(corrupt)
        self.forward_passes += 1
        self.positions += self.n
        total = torch.zeros(self.n, self.n, dtype=torch.float64)
        for layer, tensors in zip(self.layers, saved):
            if corrupt:
                query, keys_t, scores, pattern, values, output = tensors
                corrupt_keys_t, corrupt_values = self._corrupt_kv[layer]
                total += corrupt_first_order(
                    query.detach()[0],
                    keys_t.detach()[0],
                    corrupt_keys_t[0],
                    _grad(scores),
                    pattern.detach()[0],
                    values.detach()[0],
                    corrupt_values[0],
                    _grad(output),
                ).cpu()
            else:
                pattern = tensors[0]
                total += pattern_first_order(self.intervention, pattern.detach()[0], _grad(pattern)).cpu()
        self.seconds += time.perf_counter() - start
        self._estimate = total
        return total.clone()

    def _gradient_trace(self, corrupt: bool) -> list[tuple[torch.Tensor, ...]]:
        """One clean forward and backward pass: per layer, the attention tensors the estimate needs, with gradients."""
        import torch

        saved: list[Any] = []
        frozen = [p for p in self.hf_model.parameters() if p.requires_grad]
        try:
            for p in frozen:  # gradients are wanted at activations only, not at the weights
                p.requires_grad_(False)
            with torch.enable_grad(), self.model.trace(self.input_ids, logits_to_keep=1):
                _envoy(self.model, self._embeddings).output.requires_grad_(True)
                for layer in self.layers:
                    site = self._sites(layer)
                    if corrupt:
                        query, keys_t = site.torch_matmul_0.inputs[0]
                        scores = site.torch_matmul_0.output
                        pattern, values = site.torch_matmul_1.inputs[0]
                        output = site.torch_matmul_1.output
                        tensors = (query, keys_t, scores, pattern, values, output)
                    else:
                        tensors = (site.nn_functional_softmax_0.output,)
                    for tensor in tensors:
                        if tensor.requires_grad:
                            tensor.retain_grad()
                    saved.append(tuple(t.save() for t in tensors))
                logits = self.model.output.logits[:, -1].save()
            self._score(logits.float(), self.clean_logits).sum().backward()
        finally:
            for p in frozen:
                p.requires_grad_(True)
        return saved

    def _trace(self, edit: torch.Tensor, start: int) -> torch.Tensor:
        """One forward pass of a batch of edge groups, reusing the clean run before position ``start``.

        No group targets a position before ``start``, so those positions are exactly as in the clean
        run: their keys and values come from it as a cache, and only positions ``start..n-1`` are
        computed. Query rows of the patterns are then ``start..n-1``; key columns are the last
        positions the layer sees (all n, or fewer on a sliding-window layer), hence the slicing.
        """
        import torch

        batch = edit.shape[0]
        edit = edit[:, :, start:]
        # nnsight would build an attention mask over the computed positions only: give the whole one.
        mask = torch.ones(batch, self.n, dtype=torch.long, device=edit.device)
        kwargs: dict[str, Any] = {"logits_to_keep": 1, "attention_mask": mask}
        if start > 0:
            kwargs["cache"] = self._prefix_cache(start, batch)
        corrupt = isinstance(self.intervention, Corrupt)
        with self._trace_lock, self.model.trace(self.input_ids[:, start:].expand(batch, -1), **kwargs):
            for layer in self.layers:
                site = self._sites(layer)
                if corrupt:
                    keys_t, values = self._corrupt_kv[layer]
                    query = site.torch_matmul_0.inputs[0][0]  # nnsight needs sites in execution order
                    scores = site.torch_matmul_0.output
                    seen = self.n - scores.shape[-1]
                    layer_edit = edit[..., seen:]
                    site.torch_matmul_0.output = corrupt_scores(scores, query, keys_t[..., seen:], layer_edit)
                    args = site.torch_matmul_1.inputs[0]
                    site.torch_matmul_1.output = corrupt_output(
                        site.torch_matmul_1.output, args[0], args[1], values[:, :, seen:], layer_edit
                    )
                else:
                    pattern = site.nn_functional_softmax_0.output
                    layer_edit = edit[..., self.n - pattern.shape[-1] :]
                    site.nn_functional_softmax_0.output = self.intervention.edit_pattern(pattern, layer_edit)
            logits = self.model.output.logits[:, -1].save()
        self.forward_passes += 1
        self.positions += batch * (self.n - start)
        return logits.float()

    def _clean_run(self) -> torch.Tensor:
        """The clean final-position logits; keeps every layer's keys and values for prefix reuse."""
        saved = []
        with self._trace_lock, self.model.trace(self.input_ids, logits_to_keep=1):
            for path in self._attention_paths:
                args = getattr(_envoy(self.model, path).source, self._call_site).inputs[0]
                saved.append((args[2].save(), args[3].save()))  # (module, query, key, value, mask, ...)
            logits = self.model.output.logits[:, -1].save()
        self.forward_passes += 1
        self.positions += self.n
        self._clean_kv = saved
        return logits[0].float()

    def _prefix_cache(self, start: int, batch: int) -> Any:
        """A cache holding the clean keys and values of positions 0..start-1 for ``batch`` rows."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.hf_model.config)
        for layer, (keys, values) in enumerate(self._clean_kv):
            size = (batch, -1, -1, -1)
            cache.update(keys[:, :, :start].expand(size), values[:, :, :start].expand(size), layer)
        return cache

    def _save_keys_values(self, input_ids: torch.Tensor) -> list[tuple[torch.Tensor, torch.Tensor]]:
        """The transposed keys and the values that enter eager attention, per layer (batch of one)."""
        saved = {}
        with self._trace_lock, self.model.trace(input_ids, logits_to_keep=1):
            for layer in self.layers:
                site = self._sites(layer)
                keys_t = site.torch_matmul_0.inputs[0][1].save()
                values = site.torch_matmul_1.inputs[0][1].save()
                saved[layer] = (keys_t, values)
        self.forward_passes += 1
        return saved

    def _check_intervention(self, intervention: Intervention | None) -> None:
        """Set the intervention, checking it (and tokenizing Corrupt's prompt) before any model work."""
        self.intervention = intervention if intervention is not None else Zero()
        if not isinstance(self.intervention, Intervention):
            raise InfoFlowError(
                f"intervention must be Zero(), Dampen(alpha), Crop() or Corrupt(prompt); got {intervention!r}."
            )
        if isinstance(self.intervention, Corrupt):
            self.corrupt_ids = self._tokenize(self.intervention.corrupted_prompt, "corrupted prompt")
            _check_same_length(self.input_ids, self.corrupt_ids, self.tokenizer)

    def _prepare_intervention(self) -> None:
        """Run what the intervention needs beyond the clean run: Corrupt's keys and values."""
        import torch

        self._estimate: torch.Tensor | None = None
        if isinstance(self.intervention, Corrupt):
            with torch.no_grad():
                self._corrupt_kv = self._save_keys_values(self.corrupt_ids)

    def _reset_counters(self) -> None:
        self.forward_passes = 0
        self.interventions = 0
        self.positions = 0  # token positions computed by all forward passes
        self.extra_stats: dict[str, Any] = {}  # figures a strategy reports, merged into the graph's stats
        self.seconds = 0.0

    def _sites(self, layer: int) -> Any:
        return getattr(_envoy(self.model, self._attention_paths[layer]).source, self._call_site).source

    def _tokenize(self, text: str, role: str) -> torch.Tensor:
        _check_text(text, role)
        ids = self.tokenizer(text, return_tensors="pt")["input_ids"]
        limit = _context_length(self.hf_model.config)
        if limit is not None and ids.shape[1] > limit:
            raise InfoFlowError(
                f"The {role} is {ids.shape[1]} tokens, longer than the model's context of {limit} tokens: shorten it."
            )
        if ids.shape[1] < 2 and role == "prompt":
            raise InfoFlowError(f"The prompt {text!r} is a single token: an information flow needs at least two.")
        return ids.to(self.hf_model.device)

    def _batch_from_budget(self, budget: int) -> int:
        """Edges per pass such that one pass's activations fit in ``budget`` bytes.

        Per batch row and layer, eager attention holds a handful of (head, n, n) score tensors at
        once, and the residual stream and MLP a handful of (n, width) tensors.
        """
        cfg = self.hf_model.config
        heads = getattr(cfg, "num_attention_heads", 1)
        width = getattr(cfg, "hidden_size", 1)
        inner = getattr(cfg, "intermediate_size", None) or 4 * width
        element = self.hf_model.dtype.itemsize
        per_row = element * (6 * heads * self.n**2 + self.n * (10 * width + 3 * inner))
        return max(1, min(MAX_BATCH, budget // per_row))


def _is_int(value: Any) -> bool:
    return isinstance(value, int) and not isinstance(value, bool)


def _check_progress_and_cancel(progress: Any, cancel: Any) -> None:
    if progress is not None and not isinstance(progress, bool) and not callable(progress):
        raise InfoFlowError(
            f"progress must be True, False or a callable progress(done, total, desc); got {progress!r}."
        )
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise InfoFlowError(f"cancel must be a threading.Event (or None); got {cancel!r}.")


def _check_layers(layers: Sequence[int] | None, count: int) -> list[int]:
    if layers is None:
        return list(range(count))
    chosen = sorted(set(layers))
    bad = [layer for layer in chosen if not isinstance(layer, int) or not 0 <= layer < count]
    if not chosen or bad:
        raise InfoFlowError(f"Layers {bad or list(layers)} are out of range: this model has layers 0..{count - 1}.")
    return chosen


def _check_same_length(clean: torch.Tensor, corrupt: torch.Tensor, tokenizer: Any) -> None:
    a, b = clean[0].tolist(), corrupt[0].tolist()
    if len(a) == len(b):
        return
    first = next(
        (k for k, (x, y) in enumerate(zip(a, b)) if tokenizer.decode([x]) != tokenizer.decode([y])), min(len(a), len(b))
    )
    raise PromptLengthError(
        f"The corrupted prompt is {len(b)} tokens but the clean prompt is {len(a)}: they must tokenize to the same "
        f"length. The tokenizations differ from position {first} "
        f"({tokenizer.decode(a[first : first + 3])!r} vs {tokenizer.decode(b[first : first + 3])!r}); "
        "swap words for words of the same token count."
    )


def _check_graph_request(strategy: Strategy | None, threshold: float, metric: Metric) -> Strategy:
    """The strategy (``Full()`` by default), once it, the threshold and the metric's fit are checked."""
    strategy = strategy if strategy is not None else Full()
    if not isinstance(strategy, Strategy):
        raise InfoFlowError(f"strategy must be a Strategy such as Full(); got {strategy!r}.")
    if strategy.estimates:
        _check_first_order(metric)
    if not is_non_negative(threshold):
        raise InfoFlowError(f"threshold must be a finite number >= 0; got {threshold!r}.")
    return strategy


def _check_text(text: Any, role: str) -> None:
    if not isinstance(text, str) or not text.strip():
        raise InfoFlowError(f"The {role} is empty: give some text to analyse.")


def _check_first_order(metric: Metric) -> None:
    if not metric.first_order:
        raise InfoFlowError(
            f"Attribution estimates need a metric whose gradient at the clean run means something; {metric.describe()} "
            "is at its optimum there, so every estimate would be zero. Give an answer (and a distractor) for a "
            "logit-difference or log-probability metric, or use an exact strategy such as Full()."
        )


def _context_length(config: Any) -> int | None:
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if isinstance(value, int) and value > 0:
            return value
    return None


def _call_site_name(model: Any, path: str) -> str:
    """Nnsight's name for the call of the attention function (``attention_interface_1`` in transformers 5)."""
    names = re.findall(r"^\s*(attention_interface_\d+)\s+->", str(_envoy(model, path).source), flags=re.MULTILINE)
    if not names:
        raise InfoFlowError(f"nnsight found no call of the attention function in {path}: this model is not supported.")
    return names[-1]


def compute_flow(
    model: TransformersModel | str,
    prompt: str,
    metric: Metric | Callable[..., Any] | None = None,
    intervention: Intervention | None = None,
    *,
    answer: str | None = None,
    distractor: str | None = None,
    strategy: Strategy | None = None,
    threshold: float = 0.0,
    layers: Sequence[int] | None = None,
    batch_size: int | None = None,
    memory_budget: int = DEFAULT_MEMORY_BUDGET,
    progress: bool | Callable[[int, int, str], None] = True,
    cancel: threading.Event | None = None,
) -> FlowGraph:
    """Compute the information-flow graph of ``prompt``: the effect of every edge the strategy picks.

    Args:
        model: a model from :func:`load_model`, or a name/path for it (``"smollm2-135m"``).
        prompt: the clean prompt.
        metric: a :class:`Metric` or a callable on final-position logits ``(batch, vocab) -> (batch,)``;
            by default ``LogitDiff(answer, distractor)`` when both are given, ``LogProb(answer)`` when
            only the answer is, else the KL divergence.
        intervention: ``Zero()`` (default), ``Dampen(alpha)``, ``Crop()`` or ``Corrupt(prompt)``.
        answer: the token the model should predict (one token, e.g. ``" Mary"``).
        distractor: the token it should not (e.g. ``" John"``).
        strategy: which edges to measure; ``Full()`` (every token pair) by default.
        threshold: keep only edges with ``|effect| >= threshold``.
        layers: the layers to intervene in (default: all of them).
        batch_size: edges per forward pass (default: from ``memory_budget``).
        memory_budget: bytes of activations one forward pass may use.
        progress: True for a progress bar on stderr, False for none, or ``progress(done, total, desc)``.
        cancel: an event that stops the computation (raising :class:`ComputationCancelled`) once set.

    Returns:
        A :class:`FlowGraph` with the tokens, nodes, edges, clean metric, provenance and stats.

    Examples:
        >>> graph = compute_flow("smollm2-135m", "When Mary and John went to the store, John gave a book to",
        ...                      answer=" Mary", distractor=" John")
        >>> graph.top(10).to_pandas()
    """
    metric = as_metric(metric, answer, distractor)
    _check_graph_request(strategy, threshold, metric)  # before the model loads and the clean run
    engine = FlowEngine(
        model,
        prompt,
        metric,
        intervention,
        layers=layers,
        batch_size=batch_size,
        memory_budget=memory_budget,
        progress=progress,
        cancel=cancel,
    )
    return engine.graph(strategy, threshold)


def _envoy(model: Any, path: str) -> Any:
    """The nnsight envoy of the submodule at a dotted ``path`` such as ``model.layers.3.self_attn``."""
    envoy = model
    for part in path.split("."):
        envoy = envoy[int(part)] if part.isdigit() else getattr(envoy, part)
    return envoy


PASS_OVERHEAD_POSITIONS = 64
"""One forward pass costs about as much as computing this many more token positions (2-core CPU)."""


def _plan_batches(starts: Sequence[int], n: int, cap: int) -> list[tuple[int, int]]:
    """Split groups sorted by first target into batches of at most ``cap`` rows, minimising the cost.

    A batch of rows ``a..b-1`` starts at ``starts[a]`` and computes ``(b - a) * (n - starts[a])`` token
    positions, plus a fixed cost per pass: dynamic programming over the split points finds the
    cheapest plan (late targets share short suffixes, early ones pay for long ones).
    """
    best = [0.0] + [math.inf] * len(starts)
    split = [0] * (len(starts) + 1)
    for b in range(1, len(starts) + 1):
        for a in range(max(0, b - cap), b):
            cost = best[a] + PASS_OVERHEAD_POSITIONS + (b - a) * (n - starts[a])
            if cost < best[b]:
                best[b], split[b] = cost, a
    plan, b = [], len(starts)
    while b > 0:
        plan.append((split[b], b))
        b = split[b]
    return plan[::-1]


def _grad(tensor: torch.Tensor) -> torch.Tensor:
    """The gradient at a saved activation, batch of one squeezed (zeros where the metric did not reach)."""
    import torch

    return (tensor.grad if tensor.grad is not None else torch.zeros_like(tensor))[0].detach()
