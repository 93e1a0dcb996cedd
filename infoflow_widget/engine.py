"""The engine: batched attention-edge interventions inside nnsight traces.

How a batch of edges is measured:

1. The prompt is tokenized once, the intervention prepares what it needs beyond the clean run (for
   Corrupt, the corrupted prompt's run saves in every layer the keys and values that enter eager
   attention), and the clean run gives the clean final-position logits and the clean metric value.
2. A batch of B edge groups (sources S, targets T) becomes B copies of the prompt and a boolean
   edit mask of shape ``(B, 1, n, n)``: row b marks query i in T_b attending to key j in S_b, j <= i.
   Batches are planned by :mod:`infoflow_widget.planning`.
3. One ``model.trace`` runs the batch. In each chosen layer it reaches the eager attention
   function's own call sites through nnsight's ``.source`` (:class:`~infoflow_widget.models.AttentionSites`):
   the raw scores, the post-softmax pattern and the head outputs. The intervention's edit hooks
   change the sites it names (Zero, Dampen, Crop and Knockout the pattern; Corrupt swaps in q_i . k'_j at the
   scores and v'_j at the outputs). Every head sees the same mask. Those sites hold the true pattern
   under the model's causal and sliding-window masks, since eager attention is given the explicit mask.
4. The metric of each batch row, subtracted from the clean metric, is that row's effect. From the
   same logits, KL(clean || intervened) of the next-token distribution is its damage, kept in
   ``measurements`` and attached to a graph's edges with the trust flags (:mod:`infoflow_widget.trust`).

An intervention measured as the mean of others (:class:`~infoflow_widget.interventions.AutoCorrupt`, whose
``prepare`` returns :class:`~infoflow_widget.interventions.Samples`) gets one engine per sample in
:attr:`FlowEngine.samples`, derived from this one after its clean run and sharing it: each measures its edges as
above, and this engine keeps their mean (with ``effect_std`` and the mean ``damage`` in ``measurements``) and
counts their forward passes as its own.
"""

from __future__ import annotations

import copy
import math
import statistics
import threading
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any

from . import trust
from .display import token_texts
from .errors import ComputationCancelled, InfoFlowError, is_non_negative, is_whole
from .graph import SELECTION_PROVENANCE, Edge, FlowGraph
from .interventions import INTERVENTIONS, AttentionTensor, Context, Intervention, Samples, Zero, edit_masks
from .metrics import KLDivergence, Metric, as_metric
from .models import attention_modules, attention_sites, envoy, load_model
from .planning import batch_from_budget, plan_batches
from .strategies import Full, SpanPair, Strategy, cost_stats

if TYPE_CHECKING:
    import torch
    from nnsight.modeling.transformers import TransformersModel

Group = tuple[Sequence[int], Sequence[int]]
"""An edge between position groups: (source positions, target positions)."""

DEFAULT_MEMORY_BUDGET = 2 * 1024**3
"""Bytes of activations one batched forward pass may use (suits a 24 GB machine)."""

MAX_BATCH = 128
"""The most edge groups one forward pass runs, whatever the memory budget allows."""

NOISE_RELATIVE = 1e-4
"""The noise floor of a float32 model, relative to max(1, |clean metric|): ``js/src/style.json``'s ``noise.relative``.

The front end falls back on that constant for a graph without ``stats["noise_floor"]``;
``tests/integration/test_noise_floor.py`` keeps the two equal (the engine does not read the front end's build).
"""

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
        intervention: :class:`Zero` (default), :class:`Dampen`, :class:`Crop`, :class:`Corrupt` (or
            ``Corrupt.auto()``: the mean over generated corrupted prompts) or :class:`Knockout`.
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
            isinstance(layers, (str, bytes))
            or not isinstance(layers, Sequence)
            or not all(is_whole(x, minimum=None) for x in layers)
        ):
            raise InfoFlowError(f"layers must be a list of layer indices such as [0, 1, 2]; got {layers!r}.")
        if not is_whole(memory_budget, minimum=1):
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
        self.input_ids = self.tokenize(prompt, "prompt")
        self.n = self.input_ids.shape[1]
        # Each token on its own; a piece of a split multi-byte character shows its bytes (<0xF0>), not U+FFFD.
        self.tokens = token_texts(self.tokenizer, self.input_ids[0].tolist())
        self._attention_paths = attention_modules(self.hf_model)
        self.layers = _check_layers(layers, len(self._attention_paths))
        self._score = self.metric.prepare(self.tokenizer)
        # A metric of the wrong shape fails on two rows of zero logits here, not after the clean run.
        vocab = self.hf_model.get_output_embeddings().weight.shape[0]
        probe = torch.zeros(2, vocab, device=self.hf_model.device)
        self._score(probe, probe[0])
        if batch_size is not None and not is_whole(batch_size, minimum=1):
            raise InfoFlowError(f"batch_size must be a positive integer; got {batch_size!r}.")
        self.batch_size = batch_size or batch_from_budget(
            self.hf_model.config, self.hf_model.dtype.itemsize, self.n, memory_budget, MAX_BATCH
        )
        self._reset_counters()
        self._sites = attention_sites(self.model, self._attention_paths[0])
        embeddings = self.hf_model.get_input_embeddings()
        self._embeddings = next(path for path, module in self.hf_model.named_modules() if module is embeddings)

        start = time.perf_counter()
        self._set_intervention(intervention)  # checked before any forward pass, then prepared
        with torch.no_grad():
            self.clean_logits = self._clean_run()
        self.clean_metric = float(self._score(self.clean_logits[None], self.clean_logits)[0])
        if not math.isfinite(self.clean_metric):
            raise InfoFlowError(f"The metric is {self.clean_metric} on the clean prompt; it must be finite.")
        self.metric.check_clean(self.tokenizer, self.clean_logits)  # warns of "Mary" where " Mary" was meant
        self.noise_floor = noise_floor(self.clean_metric, float(self.clean_logits.abs().max()), self.hf_model.dtype)
        self._derive_samples()  # they share the clean run
        self.seconds += time.perf_counter() - start

    @property
    def num_layers(self) -> int:
        """Number of attention layers of the model."""
        return len(self._attention_paths)

    @property
    def _damage_rule(self) -> bool:
        """Whether the ``damage`` flag applies: not when the metric is the KL divergence, i.e. the damage itself."""
        return not isinstance(self.metric, KLDivergence)

    def with_intervention(
        self,
        intervention: Intervention,
        *,
        progress: bool | Callable[[int, int, str], None] | None = None,
        cancel: threading.Event | None = None,
    ) -> FlowEngine:
        """An engine for the same model, prompt, metric and layers with another intervention.

        It shares this engine's clean run (logits, keys and values), so it starts without a forward
        pass (Corrupt runs its corrupted prompt once, ``Corrupt.auto`` each of its prompts); its counters
        start at zero. Interactive use (a slider over Dampen's alpha) pays only for the intervened passes.

        Args:
            intervention: the intervention of the new engine.
            progress: as in the constructor (default: this engine's).
            cancel: as in the constructor (default: none).
        """
        _check_progress_and_cancel(progress, cancel)
        derived = copy.copy(self)
        derived.progress = self.progress if progress is None else progress
        derived.cancel = cancel
        derived._reset_counters()
        start = time.perf_counter()
        derived._set_intervention(intervention)
        derived._derive_samples()
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
        sinks = trust.sink_stats(self.sink_shares)
        edges = trust.attach(nodes, edges, self.measurements)
        edges = trust.flag(nodes, edges, sinks["positions"], self.noise_floor, damage_rule=self._damage_rule)
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
                **(self._sampled.provenance if self._sampled is not None else {}),  # AutoCorrupt: its plan
            },
            stats={
                "forward_passes": self.forward_passes,
                "interventions": self.interventions,
                "seconds": round(self.seconds, 3),
                "batch_size": self.batch_size,
                **cost_stats(self),
                "positions": self.positions,
                "noise_floor": self.noise_floor,
                "sinks": sinks,
                **self.extra_stats,
            },
            _engine=self,
        )
        return graph.filter(threshold) if threshold > 0 else graph

    def expand(self, graph: FlowGraph, edge: Edge) -> FlowGraph:
        """The token edges inside one span edge of ``graph``, measured now: see :meth:`FlowGraph.expand`.

        Its stats count this expansion only; its provenance is the graph's, less how the graph's edges
        were selected, plus the span pair expanded.
        """
        strategy = SpanPair(graph.nodes[edge.source], graph.nodes[edge.target])
        before = (self.forward_passes, self.interventions, self.seconds)
        nodes, edges = strategy.run(self)
        sinks = trust.sink_stats(self.sink_shares)
        # The damage rule's reference: the graph's edges as well as the few expanded here.
        edges = trust.attach(nodes, edges, self.measurements)
        edges = trust.flag(
            nodes, edges, sinks["positions"], self.noise_floor, [*graph.edges, *edges], damage_rule=self._damage_rule
        )
        stats = {
            "forward_passes": self.forward_passes - before[0],
            "interventions": self.interventions - before[1],
            "seconds": round(self.seconds - before[2], 3),
            "noise_floor": self.noise_floor,
            "sinks": sinks,
        }
        kept = {k: v for k, v in graph.provenance.items() if k not in SELECTION_PROVENANCE}
        provenance = {**kept, "estimate": False, "expanded_from": strategy.params()}
        return FlowGraph(list(graph.tokens), nodes, edges, graph.clean_metric, provenance, stats, _engine=self)

    def effects(self, groups: Sequence[Group], desc: str = "edges") -> list[float]:
        """Return metric(clean) - metric(intervened) for each (sources, targets) group, batched.

        Source positions after a target position are ignored (attention is causal). Each group's
        ``damage``, KL(clean || intervened) of the whole next-token distribution (:func:`kl_damage`), is
        computed from the same logits, with no forward pass of its own, and kept in :attr:`measurements`
        under ``(tuple(sources), tuple(targets))``; graphs attach it to their exact edges.

        An engine with :attr:`samples` (AutoCorrupt) returns the mean effect over them and keeps each group's
        ``effect_std`` (the samples' standard deviation, n - 1 in the denominator; none for one sample) and
        mean ``damage``; progress counts every sample's edges.
        """
        import torch
        from tqdm.auto import tqdm

        groups = [(list(s), list(t)) for s, t in groups]
        for sources, targets in groups:
            if not sources or not targets or min(sources + targets) < 0 or max(sources + targets) >= self.n:
                raise InfoFlowError(
                    f"Edge groups need non-empty positions in 0..{self.n - 1}; got {sources} -> {targets}."
                )
        if self.samples:
            return self._mean_effects(groups, desc)
        order = sorted(range(len(groups)), key=lambda k: min(groups[k][1]))
        starts = [min(groups[k][1]) for k in order]
        clean_logp = self.clean_logits.double().log_softmax(-1)
        results: dict[int, float] = {}
        begin = time.perf_counter()
        bar_wanted = self.progress is True
        with torch.no_grad(), tqdm(total=len(groups), desc=desc, unit="edge", disable=not bar_wanted) as bar:
            plan = plan_batches(starts, self.n, self.batch_size)
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
                    plan = [(first + a, first + b) for a, b in plan_batches(starts[first:], self.n, self.batch_size)]
                    continue
                plan.pop(0)
                values = self._score(logits, self.clean_logits)
                results.update(zip(rows, (self.clean_metric - values.double()).tolist()))
                for k, damage in zip(rows, kl_damage(logits, clean_logp)):
                    self.measurements.setdefault(_measured(groups[k]), {})["damage"] = damage
                bar.update(len(rows))
                if callable(self.progress):
                    self.progress(len(results), len(groups), desc)
        self.interventions += len(groups)
        self.seconds += time.perf_counter() - begin
        return [results[k] for k in range(len(groups))]

    def _mean_effects(self, groups: list[tuple[list[int], list[int]]], desc: str) -> list[float]:
        """The effects of ``groups`` as the mean over :attr:`samples`, each distinct sample engine measuring once."""
        from tqdm.auto import tqdm

        distinct = list({id(sample): sample for sample in self.samples}.values())
        total = len(groups) * len(distinct)
        begin = time.perf_counter()
        found: dict[int, list[float]] = {}
        with tqdm(total=total, desc=desc, unit="edge", disable=self.progress is not True) as bar:
            for k, sample in enumerate(distinct):

                def report(done: int, _total: int, _desc: str, before: int = k * len(groups)) -> None:
                    bar.update(before + done - bar.n)
                    if callable(self.progress):
                        self.progress(before + done, total, desc)

                sample.progress, sample.cancel = report, self.cancel  # this engine's, whichever copy of it runs
                passes, positions = sample.forward_passes, sample.positions
                found[id(sample)] = sample.effects(groups, desc)
                self.forward_passes += sample.forward_passes - passes
                self.positions += sample.positions - positions
        runs = [found[id(sample)] for sample in self.samples]  # a repeated sample counts as often as it appears
        effects = []
        for k, group in enumerate(groups):
            values = [run[k] for run in runs]
            damages = [sample.measurements[_measured(group)]["damage"] for sample in self.samples]
            measured = self.measurements.setdefault(_measured(group), {})
            measured["damage"] = statistics.fmean(damages)
            if len(values) > 1:
                measured["effect_std"] = statistics.stdev(values)
            effects.append(statistics.fmean(values))
        self.interventions += len(groups)
        self.seconds += time.perf_counter() - begin
        return effects

    def estimate(self) -> torch.Tensor:
        """First-order estimates of every token edge's effect: one forward and one backward pass.

        Returns:
            A float64 ``(n, n)`` tensor indexed ``[target, source]`` (zero above the diagonal): the
            gradient of the metric times the change the intervention makes, summed over heads and
            the chosen layers (each intervention's ``first_order``).
        """
        import torch

        _check_first_order(self.metric)
        if self._estimate is not None:  # a preview and AttributionThenExact on one engine share it
            return self._estimate.clone()
        start = time.perf_counter()
        with self._trace_lock:  # the weights' requires_grad flags change meanwhile: no other trace
            saved = self._gradient_trace(self.intervention.saves)
        self.forward_passes += 1
        self.positions += self.n
        total = torch.zeros(self.n, self.n, dtype=torch.float64)
        for layer, tensors in zip(self.layers, saved):
            detached = {name: tensor.detach()[0] for name, tensor in tensors.items()}
            grads = {name: _grad(tensor) for name, tensor in tensors.items()}
            total += self.intervention.first_order(detached, grads, self._context.get(layer)).cpu()
        self.seconds += time.perf_counter() - start
        self._estimate = total
        return total.clone()

    def attention_tensors(
        self, input_ids: torch.Tensor, names: Collection[AttentionTensor]
    ) -> dict[int, dict[str, torch.Tensor]]:
        """One forward pass of ``input_ids`` (batch of one); per chosen layer, the attention tensors ``names``.

        For an intervention's ``prepare``: Corrupt keeps its prompt's transposed keys and values this way.
        """
        import torch

        saved = {}
        with torch.no_grad(), self._trace_lock, self.model.trace(input_ids, logits_to_keep=1):
            for layer in self.layers:
                saved[layer] = {name: tensor.save() for name, tensor in self._read(layer, names).items()}
        self.forward_passes += 1
        return saved

    def tokenize(self, text: str, role: str) -> torch.Tensor:
        """The token ids of ``text`` on the model's device, checked against the model's context length.

        Args:
            text: the text to tokenize.
            role: what it is, for error messages (``"prompt"`` must also be two tokens or more).
        """
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

    def _gradient_trace(self, names: Collection[AttentionTensor]) -> list[dict[str, torch.Tensor]]:
        """One clean forward and backward pass: per layer, the attention tensors ``names``, with gradients."""
        import torch

        saved: list[Any] = []
        frozen = [p for p in self.hf_model.parameters() if p.requires_grad]
        try:
            for p in frozen:  # gradients are wanted at activations only, not at the weights
                p.requires_grad_(False)
            with torch.enable_grad(), self.model.trace(self.input_ids, logits_to_keep=1):
                envoy(self.model, self._embeddings).output.requires_grad_(True)
                for layer in self.layers:
                    tensors = self._read(layer, names)
                    for tensor in tensors.values():
                        if tensor.requires_grad:
                            tensor.retain_grad()
                    saved.append({name: tensor.save() for name, tensor in tensors.items()})
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
        computed. Query rows of the patterns are then ``start..n-1``.
        """
        import torch

        batch = edit.shape[0]
        edit = edit[:, :, start:]
        # nnsight would build an attention mask over the computed positions only: give the whole one.
        mask = torch.ones(batch, self.n, dtype=torch.long, device=edit.device)
        kwargs: dict[str, Any] = {"logits_to_keep": 1, "attention_mask": mask}
        if start > 0:
            kwargs["cache"] = self._prefix_cache(start, batch)
        with self._trace_lock, self.model.trace(self.input_ids[:, start:].expand(batch, -1), **kwargs):
            for layer in self.layers:
                self._edit_layer(layer, edit)
            logits = self.model.output.logits[:, -1].save()
        self.forward_passes += 1
        self.positions += batch * (self.n - start)
        return logits.float()

    def _edit_layer(self, layer: int, edit: torch.Tensor) -> None:
        """Inside a trace, apply the intervention's edit hooks at ``layer``'s attention sites, in execution order.

        Each hook gets the mask's key columns of this layer: the last positions the layer sees (all n,
        or fewer on a sliding-window layer).
        """
        intervention, eager, context = self.intervention, self._eager(layer), self._context.get(layer)
        if "scores" in intervention.edits:
            call = getattr(eager, self._sites.scores)
            query = call.inputs[0][0]  # nnsight needs a call's inputs before its output
            scores = call.output
            call.output = intervention.edit_scores(scores, query, _key_columns(edit, scores), context)
        if "pattern" in intervention.edits:
            call = getattr(eager, self._sites.pattern)
            pattern = call.output
            call.output = intervention.edit_pattern(pattern, _key_columns(edit, pattern), context)
        if "output" in intervention.edits:
            call = getattr(eager, self._sites.output)
            weights, values = call.inputs[0]
            output = call.output
            call.output = intervention.edit_output(output, weights, values, _key_columns(edit, weights), context)

    def _read(self, layer: int, names: Collection[AttentionTensor]) -> dict[str, Any]:
        """Inside a trace, the attention tensors ``names`` of ``layer``, read site by site in execution order."""
        eager, found = self._eager(layer), {}
        if {"query", "keys_t", "scores"} & set(names):
            call = getattr(eager, self._sites.scores)
            found["query"], found["keys_t"] = call.inputs[0]
            if "scores" in names:
                found["scores"] = call.output
        if "pattern" in names:
            found["pattern"] = getattr(eager, self._sites.pattern).output
        if {"weights", "values", "output"} & set(names):
            call = getattr(eager, self._sites.output)
            found["weights"], found["values"] = call.inputs[0]
            if "output" in names:
                found["output"] = call.output
        return {name: found[name] for name in names}

    def _clean_run(self) -> torch.Tensor:
        """The clean final-position logits; keeps every layer's keys and values for prefix reuse.

        Also measures, per layer, the attention each key position receives (summed over heads and
        queries: an ``(n,)`` vector, never the patterns): :attr:`sink_shares`, for the ``sink`` flag.
        """
        saved, received = [], []
        with self._trace_lock, self.model.trace(self.input_ids, logits_to_keep=1):
            for layer, path in enumerate(self._attention_paths):
                args = getattr(envoy(self.model, path).source, self._sites.call).inputs[0]
                saved.append((args[2].save(), args[3].save()))  # (module, query, key, value, mask, ...)
                pattern = getattr(self._eager(layer), self._sites.pattern).output
                received.append(pattern.float().sum((0, 1, 2)).save())
            logits = self.model.output.logits[:, -1].save()
        self.forward_passes += 1
        self.positions += self.n
        self._clean_kv = saved
        self.sink_shares = trust.sink_shares([r.tolist() for r in received], self.n)
        return logits[0].float()

    def _prefix_cache(self, start: int, batch: int) -> Any:
        """A cache holding the clean keys and values of positions 0..start-1 for ``batch`` rows."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.hf_model.config)
        for layer, (keys, values) in enumerate(self._clean_kv):
            size = (batch, -1, -1, -1)
            cache.update(keys[:, :, :start].expand(size), values[:, :, :start].expand(size), layer)
        return cache

    def _set_intervention(self, intervention: Intervention | None, context: Context | None = None) -> None:
        """Set the intervention (Zero by default) and run what it needs beyond the clean run.

        Its ``prepare`` checks it against the prompt (Corrupt: the corrupted prompt's length) before
        any forward pass of its own; a ``context`` given (a sample's, prepared by its parent) skips it.
        """
        intervention = intervention if intervention is not None else Zero()
        if not isinstance(intervention, Intervention):
            calls = [f"{cls.__name__}({', '.join(f.name for f in fields(cls))})" for cls in INTERVENTIONS.values()]
            raise InfoFlowError(f"intervention must be {', '.join(calls[:-1])} or {calls[-1]}; got {intervention!r}.")
        self.intervention = intervention
        self._estimate: torch.Tensor | None = None
        # What each exact measurement found beside its effect, by (sources, targets): Edge fields (damage, ...).
        self.measurements: dict[tuple[tuple[int, ...], tuple[int, ...]], dict[str, Any]] = {}
        prepared = intervention.prepare(self) if context is None else context
        self._sampled = prepared if isinstance(prepared, Samples) else None
        self._context = prepared.context if isinstance(prepared, Samples) else prepared
        # The engines whose mean effect is this one's: one per sample of an AutoCorrupt (repeats shared), else none.
        self.samples: list[FlowEngine] = []

    def _derive_samples(self) -> None:
        """One engine per distinct sample of a sampled intervention, derived from this one after its clean run."""
        if self._sampled is None:
            return
        derived: dict[Intervention, FlowEngine] = {}
        for intervention, context in zip(self._sampled.interventions, self._sampled.contexts):
            if intervention not in derived:
                sample = copy.copy(self)
                sample._reset_counters()
                sample._set_intervention(intervention, context)
                derived[intervention] = sample
        self.samples = [derived[intervention] for intervention in self._sampled.interventions]

    def _reset_counters(self) -> None:
        self.forward_passes = 0
        self.interventions = 0
        self.positions = 0  # token positions computed by all forward passes
        self.extra_stats: dict[str, Any] = {}  # figures a strategy reports, merged into the graph's stats
        self.seconds = 0.0

    def _eager(self, layer: int) -> Any:
        """The nnsight envoy of the eager attention function called in ``layer``, whose sites the traces reach."""
        return getattr(envoy(self.model, self._attention_paths[layer]).source, self._sites.call).source


def noise_floor(clean_metric: float, largest_logit: float, dtype: torch.dtype) -> float:
    """The |effect| below which an effect is numerical noise for a model computing in ``dtype``.

    float32 and wider: :data:`NOISE_RELATIVE` x max(1, |clean metric|). Alpha = 1 Dampen, which changes
    nothing, measures float32 effects of 1e-6 to 5e-6 on SmolLM2-135M (clean logit difference 5.9,
    logits up to 32): the floor of 6e-4 leaves a hundredfold margin.

    bfloat16 and float16 also round the logits the metric reads to the dtype: one unit in the last
    place of a logit of magnitude L is about eps x L (eps: bfloat16 7.8e-3, float16 9.8e-4), and an
    effect subtracts metrics that each read rounded logits. Their floor is the larger of the float32
    one and two such units at the largest clean logit: 2 x eps x max(1, |clean metric|, largest |logit|)
    (bfloat16 at logits of 32: 0.5; float16: 0.063).

    Args:
        clean_metric: the metric on the clean prompt.
        largest_logit: the largest |clean final-position logit|.
        dtype: the model's dtype.

    Examples:
        >>> import torch
        >>> noise_floor(5.9, 32.0, torch.float32)
        0.00059
        >>> round(noise_floor(5.9, 32.0, torch.bfloat16), 3)
        0.5
    """
    import torch

    scale = max(1.0, abs(clean_metric)) if math.isfinite(clean_metric) else 1.0
    floor = NOISE_RELATIVE * scale
    if dtype in (torch.bfloat16, torch.float16):
        logit = largest_logit if math.isfinite(largest_logit) else 0.0
        floor = max(floor, 2 * torch.finfo(dtype).eps * max(scale, abs(logit)))
    return floor


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
    bad = [layer for layer in chosen if not 0 <= layer < count]
    if not chosen or bad:
        raise InfoFlowError(f"Layers {bad or list(layers)} are out of range: this model has layers 0..{count - 1}.")
    return chosen


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
        if is_whole(value, minimum=1):
            return value
    return None


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
        intervention: ``Zero()`` (default), ``Dampen(alpha)``, ``Crop()``, ``Corrupt(prompt)`` or ``Knockout()``.
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


def kl_damage(logits: torch.Tensor, clean_logp: torch.Tensor, rows: int = 16) -> list[float]:
    """KL(clean || intervened) of the next-token distribution for each row of ``logits`` ``(batch, vocab)``.

    How much an intervention changed the whole prediction, not just the metric's tokens: the
    ``damage`` of an edge (:mod:`infoflow_widget.trust`). Computed in float64, ``rows`` at a time (a
    vocabulary of 262k in float64 is 2 MB a row), and never below 0.
    """
    found = []
    for chunk in logits.split(rows):
        logp = chunk.double().log_softmax(-1)
        found += (clean_logp.exp() * (clean_logp - logp)).sum(-1).clamp_min(0.0).tolist()
    return found


def _measured(group: tuple[list[int], list[int]]) -> tuple[tuple[int, ...], tuple[int, ...]]:
    """The key of a measured (sources, targets) group in :attr:`FlowEngine.measurements`."""
    return tuple(group[0]), tuple(group[1])


def _key_columns(edit: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    """The edit mask's last key columns, as many as ``tensor`` (a layer's scores or pattern) has."""
    return edit[..., edit.shape[-1] - tensor.shape[-1] :]


def _grad(tensor: torch.Tensor) -> torch.Tensor:
    """The gradient at a saved activation, batch of one squeezed (zeros where the metric did not reach)."""
    import torch

    return (tensor.grad if tensor.grad is not None else torch.zeros_like(tensor))[0].detach()
