"""The engine: batched attention-edge interventions inside nnsight traces.

How a batch of edges is measured:

1. The prompt is tokenized once, the intervention prepares what it needs beyond the clean run (for
   Corrupt, the corrupted prompt's run saves in every layer the keys and values that enter eager
   attention), and the clean run gives the clean final-position logits and the clean metric value.
2. A batch of B edge groups (sources S, targets T) becomes B copies of the prompt and a boolean
   edit mask of shape ``(B, 1, n, n)``: row b marks query i in T_b attending to key j in S_b, j <= i.
   Batches are planned by :mod:`infoflow_widget.engine.planning`.
3. One ``model.trace`` runs the batch. In each chosen layer it reaches the eager attention
   function's own call sites through nnsight's ``.source`` (``AttentionSites``):
   the raw scores, the post-softmax pattern and the head outputs. The intervention's edit hooks
   change the sites it names (Zero, Dampen, Crop and Knockout the pattern; Corrupt swaps in q_i . k'_j at the
   scores and v'_j at the outputs). Every head sees the same mask. Those sites hold the true pattern
   under the model's causal and sliding-window masks, since eager attention is given the explicit mask.
4. The metric of each batch row, subtracted from the clean metric, is that row's effect. From the
   same logits, KL(clean || intervened) of the next-token distribution is its damage, kept in
   ``measurements`` and attached to a graph's edges with the trust flags (:mod:`infoflow_widget.graph.trust`).

An intervention measured as the mean of others (``AutoCorrupt``, whose
``prepare`` returns ``Samples``) gets one engine per sample in
:attr:`FlowEngine.samples`, derived from this one after its clean run and sharing it: each measures its edges as
above, and this engine keeps their mean (with ``effect_std`` and the mean ``damage`` in ``measurements``) and
counts their forward passes as its own.
"""

from __future__ import annotations

import copy
import math
import threading
import time
import weakref
from collections.abc import Callable, Collection, Sequence
from dataclasses import fields
from typing import TYPE_CHECKING, Any, cast

from ..core.checks import (
    check_edge,
    check_layers,
    check_progress_and_cancel,
    check_text,
    context_length,
)
from ..core.errors import InfoFlowError, is_non_negative, is_whole
from ..graph import trust
from ..graph.flowgraph import SELECTION_PROVENANCE, Edge, FlowGraph, Node
from ..interventions.base import AttentionTensor, Context, Intervention, Samples
from ..interventions.edges import EdgeSet
from ..interventions.patterns import Zero
from ..interventions.registry import INTERVENTIONS
from ..search.strategies import MAX_STEPS, Full, SpanPair, Strategy, cost_stats
from ..text.display import describe, token_texts
from .batching import Batch, Group, Rows, head_masks, measure
from .metrics import KLDivergence, Metric, as_metric, check_first_order
from .models import attention_modules, attention_sites, envoy, load_model
from .planning import PASS_FIXED_BYTES, RowCost

if TYPE_CHECKING:
    import torch
    from nnsight.modeling.transformers import TransformersModel
    from transformers import PreTrainedModel, PreTrainedTokenizerBase

    from ..graph.anatomy import Anatomy
    from .lens import LogitLens


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


def tokenizer_of(model: TransformersModel) -> PreTrainedTokenizerBase:
    """``model``'s tokenizer, the one the engine tokenizes prompts with.

    Raises:
        InfoFlowError: the model has none (an nnsight model built without one).
    """
    if model.tokenizer is None:
        raise InfoFlowError(
            "This model has no tokenizer: load it with load_model(), or wrap a transformers model with "
            "wrap_model(model, tokenizer)."
        )
    return model.tokenizer


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
        check_text(prompt, "prompt")
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
        check_progress_and_cancel(progress, cancel)
        self.model = load_model(model) if isinstance(model, str) else model
        self.tokenizer = tokenizer_of(self.model)
        # nnsight types the wrapped module as a torch Module; the engine's are transformers models (load_model).
        self.hf_model = cast("PreTrainedModel", self.model._module)
        self._trace_lock = trace_lock(self.model)
        if self.hf_model.config._attn_implementation != "eager":
            # Only eager attention computes the softmax as a reachable call, under the explicit mask.
            self.hf_model.set_attn_implementation("eager")
        self.metric = as_metric(metric)
        self.progress = progress
        self.cancel = cancel
        self.prompt = prompt
        self.input_ids = self.tokenize(prompt, "prompt")
        self.n = self.input_ids.shape[1]
        # Each token on its own; a piece of a split multi-byte character shows its bytes (<0xF0>), not U+FFFD.
        self.tokens = token_texts(self.tokenizer, self.input_ids[0].tolist())
        self._attention_paths = attention_modules(self.hf_model)
        self._layer_paths = [path.rsplit(".", 1)[0] for path in self._attention_paths]  # each attention's block
        self.layers = check_layers(layers, len(self._attention_paths))
        self._chosen = set(self.layers)
        self._score = self.metric.prepare(self.tokenizer)
        # A metric of the wrong shape fails on two rows of zero logits here, not after the clean run.
        unembedding = self.hf_model.get_output_embeddings()
        if unembedding is None:
            raise InfoFlowError(
                f"{type(self.hf_model).__name__} has no language-modelling head (output embeddings): the engine "
                "needs a causal language model."
            )
        vocab = unembedding.weight.shape[0]
        probe = torch.zeros(2, vocab, device=self.hf_model.device)
        self._score(probe, probe[0])
        if batch_size is not None and not is_whole(batch_size, minimum=1):
            raise InfoFlowError(f"batch_size must be a positive integer; got {batch_size!r}.")
        self.memory_budget = memory_budget
        self.row_cost = RowCost.of(self.hf_model.config, self.hf_model.dtype.itemsize, vocab)
        self._budgeted = batch_size is None
        self._row_limit = batch_size or MAX_BATCH
        # A budget too small for one row fails here, before the clean run (the edit's own tensors count too).
        self._rows_within_budget(0, getattr(intervention, "edit_tensors", Intervention.edit_tensors))
        self._reset_counters()
        self._sites = attention_sites(self.model, self._attention_paths[0])

        start = time.perf_counter()
        self._set_intervention(intervention)  # checked before any forward pass, then prepared
        with torch.no_grad():
            self.clean_logits = self._clean_run()
        self.clean_metric = float(self._score(self.clean_logits[None], self.clean_logits)[0])
        if not math.isfinite(self.clean_metric):
            raise InfoFlowError(f"The metric is {self.clean_metric} on the clean prompt; it must be finite.")
        self.metric.check_clean(self.tokenizer, self.clean_logits)  # warns of "Mary" where " Mary" was meant
        self.noise_floor = numerical_noise(self.clean_metric, float(self.clean_logits.abs().max()), self.hf_model.dtype)
        self._derive_samples()  # they share the clean run
        self.seconds += time.perf_counter() - start

    @property
    def batch_size(self) -> int:
        """The most rows a pass over the whole prompt holds: ``batch_size`` as given, else what the budget allows.

        A pass that starts later computes fewer positions, so it may hold more: :meth:`rows_per_pass`.
        """
        return self.rows_per_pass(0)

    @batch_size.setter
    def batch_size(self, rows: int) -> None:
        """Fix the rows of every pass from now on, as ``batch_size`` given to the constructor does."""
        if not is_whole(rows, minimum=1):
            raise InfoFlowError(f"batch_size must be a positive integer; got {rows!r}.")
        self._budgeted, self._row_limit = False, rows

    def rows_per_pass(self, start: int, context: bool = False) -> int:
        """The most rows a pass computing positions ``start..n-1`` holds within the memory budget.

        ``context``: rows of other engines in the same pass, each with its own clean prefix and intervention
        context (``RowCost``). A ``batch_size`` given to the constructor is kept as is.
        """
        if not self._budgeted:
            return self._row_limit
        return min(self._row_limit, self._rows_within_budget(start, self.intervention.edit_tensors, context))

    def _rows_within_budget(self, start: int, edit_tensors: int, context: bool = False) -> int:
        row = self.row_cost.forward(self.n, self.n - start, edit_tensors, context)
        return self.row_cost.rows(self.memory_budget, row, f"row of a forward pass over {self.n - start} tokens")

    def _gradient_plan(self, steps: int) -> tuple[int, list[tuple[int, int]]]:
        """Path points per pass, and the segments of layers ``[a, b)`` each backward pass goes through, within budget.

        All layers from the first chosen one in one pass when a row fits; else segments of as many layers as one
        row's budget holds, each its own pass from the last segment down (the gradient at a segment's first layer
        is the next lower one's starting point). A budget too small for one layer's is an error naming the least.
        """
        first, count = min(self.layers), self.num_layers
        whole = self.row_cost.gradient(self.n, count - first)
        if whole + PASS_FIXED_BYTES <= self.memory_budget:
            fits = self.row_cost.rows(self.memory_budget, whole, "gradient pass")
            return min(steps, fits, self._row_limit), [(first, count)]
        one_layer = self.row_cost.gradient(self.n, 1)
        self.row_cost.rows(self.memory_budget, one_layer, f"gradient pass through one layer over {self.n} tokens")
        per_layer = one_layer - self.row_cost.gradient(self.n, 0)
        span = max(1, (self.memory_budget - PASS_FIXED_BYTES - self.row_cost.gradient(self.n, 0)) // per_layer)
        bounds = [*range(count, first, -span), first]
        return 1, [(a, b) for b, a in zip(bounds, bounds[1:])][::-1]

    def limit_rows(self, rows: int) -> None:
        """Hold at most ``rows`` rows per pass from now on (the device ran out of memory with more)."""
        self._row_limit = max(1, min(self._row_limit, rows))

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
        check_progress_and_cancel(progress, cancel)
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
        strategy = check_graph_request(strategy, threshold, self.metric)
        if strategy.estimates:
            self._gradient_plan(1)  # a budget too small for a gradient pass fails before any pass
        self.extra_stats = {}  # what an earlier graph's strategy reported is not this graph's
        return self._graph(strategy, threshold, *strategy.run(self))

    def graph_of(self, strategy: Strategy, effects: Sequence[float], threshold: float = 0.0) -> FlowGraph:
        """The graph of a strategy that names its edge groups in advance (``Full``), from effects measured already.

        For measurements made jointly with other engines' rows (``compute_flow_set``
        batches the prompts of a set together): ``effects`` are those of ``strategy.groups(self)``, in order,
        measured by ``measure`` with this engine's requests (which kept their damage).

        Raises:
            InfoFlowError: the strategy searches (its groups depend on what it measures), or the effects do not
                match its groups.
        """
        strategy = check_graph_request(strategy, threshold, self.metric)
        groups = strategy.groups(self)
        if groups is None or len(groups) != len(effects):
            raise InfoFlowError(
                f"graph_of needs a strategy that names its edges in advance (Full) and one effect per edge; got "
                f"{strategy!r} and {len(effects)} effects."
            )
        self.extra_stats = {}
        return self._graph(strategy, threshold, *strategy.build(self, list(effects)))

    def _graph(self, strategy: Strategy, threshold: float, nodes: list[Node], edges: list[Edge]) -> FlowGraph:
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
        )
        return graph.filter(threshold) if threshold > 0 else graph

    def expand(self, graph: FlowGraph, edge: Edge) -> FlowGraph:
        """The token edges inside one span edge of ``graph``, measured now with this engine.

        Every token j of the source span to every token i of the target span with j <= i, in one batched
        call: a token graph over those positions. Its stats count this expansion only; its provenance is the
        graph's, less how the graph's edges were selected, plus the span pair expanded. ``graph`` may be one
        this engine measured, or one loaded from a file: it must be of this engine's prompt, intervention,
        metric and layers.

        Raises:
            InfoFlowError: ``edge`` is not an edge of ``graph``, or ``graph`` was measured another way.
        """
        graph.positions(edge)
        self.check_measured_here(graph)
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
        return FlowGraph(list(graph.tokens), nodes, edges, graph.clean_metric, provenance, stats)

    def check_measured_here(self, graph: FlowGraph, intervention: bool = True) -> None:
        """Check that ``graph`` is of this engine's prompt, intervention, metric and layers.

        The intervention, metric and layers are those its provenance names (a graph built by hand, without
        them, is checked on its tokens only); ``intervention=False`` leaves the intervention out (faithfulness
        may ablate with another).

        Raises:
            InfoFlowError: naming the first thing that differs.
        """
        if list(graph.tokens) != self.tokens:
            raise InfoFlowError(
                "This graph is of another prompt than this engine's: measure it with an engine of its own."
            )
        ours = {
            **({"intervention": self.intervention.params()} if intervention else {}),
            "metric": self.metric.describe(),
            "layers": None if self.layers == list(range(self.num_layers)) else self.layers,
        }
        for what, mine in ours.items():
            theirs = graph.provenance.get(what, mine)
            if theirs != mine:
                raise InfoFlowError(
                    f"This graph's {what} is {describe(theirs) or 'all'}, this engine's {describe(mine) or 'all'}: "
                    "measure it with an engine of the same prompt, intervention, metric and layers."
                )

    def anatomy(self, sources: int | Sequence[int], targets: int | Sequence[int]) -> Anatomy:
        """Where one edge's effect is carried: by layer, by (layer, head) and by window of layers.

        The edge (token positions, or groups of them) is intervened with this engine's intervention in one
        chosen layer at a time (all heads), in one query head of one layer at a time, and in the layers
        0..l and l..L-1. Every row runs in the same batched passes (they share the edge's earliest target,
        so the clean run before it is reused once for all), and the rows of an ``AutoCorrupt`` engine are
        means over its samples.

        Args:
            sources: the source position(s) j.
            targets: the target position(s) i; at least one source must be at or before a target.

        Returns:
            An ``Anatomy``; its stats count this anatomy's work only.

        Raises:
            InfoFlowError: positions that are not whole numbers, out of range, or a source after every
                target, before any forward pass.
        """
        from ..graph.anatomy import Anatomy

        group = check_edge(sources, targets, self.n)
        heads = self.hf_model.config.num_attention_heads
        masks = head_masks(len(self.layers), heads)
        wheres = [m for part in ("layers", "heads", "up_to", "from") for m in masks[part]]
        before = (self.forward_passes, self.interventions, self.seconds)
        measured = measure(
            [Rows(self, [group] * len(wheres), wheres, record=False), Rows(self, [group])],
            self,
            "anatomy",
            self.progress,
            self.cancel,
        )
        found, (effect,) = measured
        count = len(self.layers)
        per_head = found[count : count + count * heads]
        return Anatomy(
            sources=group[0],
            targets=group[1],
            tokens=list(self.tokens),
            clean_metric=self.clean_metric,
            effect=effect,
            layer_indices=list(self.layers),
            layers=found[:count],
            heads=[per_head[k * heads : (k + 1) * heads] for k in range(count)],
            up_to=found[count + count * heads : 2 * count + count * heads],
            from_layer=found[2 * count + count * heads :],
            kv_group=heads // (getattr(self.hf_model.config, "num_key_value_heads", None) or heads),
            provenance={
                "model": getattr(self.hf_model, "infoflow_name", type(self.hf_model).__name__),
                "prompt": self.prompt,
                "intervention": self.intervention.params(),
                "metric": self.metric.describe(),
                **(self._sampled.provenance if self._sampled is not None else {}),  # AutoCorrupt: its plan
            },
            stats={
                "forward_passes": self.forward_passes - before[0],
                "interventions": self.interventions - before[1],
                "seconds": round(self.seconds - before[2], 3),
            },
        )

    def logit_lens(self, position: int, top: int = 5) -> LogitLens:
        """The residual stream at ``position`` after each layer, read through the final norm and the unembedding.

        Per layer: the ``top`` tokens (logit, probability) and this engine's metric on those logits (for a
        logit difference, the difference read at that layer). One forward pass of the prompt up to
        ``position``. See :func:`infoflow_widget.engine.lens.logit_lens`.
        """
        from .lens import logit_lens

        return logit_lens(self, position, top)

    def effects(self, groups: Sequence[Group], desc: str = "edges") -> list[float]:
        """Return metric(clean) - metric(intervened) for each (sources, targets) group, batched.

        Source positions after a target position are ignored (attention is causal). Each group's
        ``damage``, KL(clean || intervened) of the whole next-token distribution
        (``kl_damage``), is computed from the same logits, with no forward pass of
        its own, and kept in :attr:`measurements` under ``(tuple(sources), tuple(targets))``; graphs attach it to
        their exact edges.

        An engine with :attr:`samples` (AutoCorrupt) returns the mean effect over them and keeps each group's
        ``effect_std`` (the samples' standard deviation, n - 1 in the denominator; none for one sample) and
        mean ``damage``; progress counts every sample's edges.
        """
        groups = self._checked_groups(groups)
        return measure([Rows(self, groups)], self, desc, self.progress, self.cancel)[0]

    def effects_of_sets(self, sets: Sequence[EdgeSet], desc: str = "edge sets") -> list[float]:
        """Return metric(clean) - metric(every edge of the set intervened) for each :class:`EdgeSet`, batched.

        One row of a forward pass per set, through the same edit path as a group edge; a pass starts at the sets'
        earliest target (no clean prefix is reused when position 0 is intervened). Not kept in :attr:`measurements`
        (a set is not a graph's edge).

        Raises:
            InfoFlowError: an empty set, or an edge j -> i outside 0 <= j <= i < n.
        """
        for edge_set in sets:
            bad = [(j, i) for j, i in edge_set.pairs if not 0 <= j <= i < self.n]
            if not edge_set.pairs or bad:
                raise InfoFlowError(
                    f"An edge set needs edges j -> i with 0 <= j <= i < {self.n}; got {sorted(bad)[:3] or 'none'}."
                )
        return measure([Rows(self, list(sets), record=False)], self, desc, self.progress, self.cancel)[0]

    def _checked_groups(self, groups: Sequence[Group]) -> list[Group]:
        checked: list[Group] = []
        for s, t in groups:
            sources, targets = list(s), list(t)
            if not sources or not targets or min(sources + targets) < 0 or max(sources + targets) >= self.n:
                raise InfoFlowError(
                    f"Edge groups need non-empty positions in 0..{self.n - 1}; got {sources} -> {targets}."
                )
            checked.append((sources, targets))
        return checked

    def estimate(self, steps: int = 1) -> torch.Tensor:
        """Estimates of every token edge's effect: first order (``steps=1``) or integrated gradients (``steps > 1``).

        ``steps=1``: the gradient of the metric at the clean run times the change the intervention makes, from one
        forward and one backward pass. ``steps=k``: the gradient read at k points of the intervention's path
        (its ``path_*`` hooks: every edge moved a fraction t = m/k, m = 0..k-1, of the way to intervened), the
        points being batch rows of one forward and backward pass (more passes when the rows would not fit the
        memory :attr:`batch_size` stands for); an edge's estimate is the mean over the points of its
        ``first_order`` from that point's tensors and gradients (the change the intervention would make there, a
        moved site taken before its move). So the estimates of every edge add up to the effect of intervening on
        all of them, up to the Riemann sum's error; at t = 0 the tensors are the clean ones, and ``steps=1`` is
        the first-order estimate bit for bit. An engine with :attr:`samples` (AutoCorrupt) averages its samples'
        integrated estimates. Each ``steps`` is computed once per engine.

        Returns:
            A float64 ``(n, n)`` tensor indexed ``[target, source]`` (zero above the diagonal), summed over heads and
            the chosen layers.

        Raises:
            InfoFlowError: ``steps`` is not a whole number >= 1, or the metric has no first-order estimates.
        """
        check_first_order(self.metric)
        if not (is_whole(steps, minimum=1) and steps <= MAX_STEPS):
            raise InfoFlowError(
                f"steps must be a whole number from 1 to {MAX_STEPS} (points on the integration path); got {steps!r}."
            )
        # Backward passes per path point (1: every layer at once); the budget is checked before any pass.
        self.extra_stats["gradient_segments"] = len(self._gradient_plan(steps)[1])
        if steps in self._estimates:  # a preview and AttributionThenExact on one engine share it
            return self._estimates[steps].clone()
        start = time.perf_counter()
        if self.samples and steps > 1:
            total = self._mean_sample_estimate(steps)
        else:
            total = self._integrated_estimate(steps)
        self.seconds += time.perf_counter() - start
        self._estimates[steps] = total
        return total.clone()

    def _integrated_estimate(self, steps: int) -> torch.Tensor:
        """The mean over ``steps`` path points of each layer's ``first_order``, summed over layers (:meth:`estimate`).

        Each point's ``first_order`` gets that point's tensors (a moved site as it was before the move) and the
        gradients at the moved sites: the change the intervention makes there times the metric's gradient there,
        so that the estimates of every edge together integrate the metric's change along the whole path.
        """
        import torch

        total = torch.zeros(self.n, self.n, dtype=torch.float64)
        # A gradient pass keeps every layer's activations for the backward pass, a forward pass one layer's.
        (rows, segments), first = self._gradient_plan(steps), 0
        while first < steps:
            fractions = None if steps == 1 else torch.arange(first, min(first + rows, steps)) / steps
            count = 1 if fractions is None else len(fractions)
            part = torch.zeros_like(total)
            try:
                upstream = None
                for segment in reversed(segments):  # the metric's end first: each gives the next its gradient
                    with self._trace_lock:  # the weights' requires_grad flags change meanwhile: no other trace
                        saved, upstream = self._gradient_trace(self.intervention.saves, fractions, segment, upstream)
                    self.forward_passes += 1
                    self.positions += self.n * count
                    for layer, tensors in saved.items():
                        for row in range(count):
                            values = {name: value.detach()[row] for name, (value, _) in tensors.items()}
                            grads = {name: _grad(moved, row) for name, (_, moved) in tensors.items()}
                            found = self.intervention.first_order(values, grads, self._context.get(layer)).cpu()
                            part += found if steps == 1 else found / steps  # steps=1: the first order, bit for bit
                    del saved
            except torch.OutOfMemoryError:
                if rows == 1:
                    raise
                rows //= 2
                continue
            total += part
            first += count
        return total

    def _mean_sample_estimate(self, steps: int) -> torch.Tensor:
        """The mean of the samples' integrated estimates (a repeated sample counted as often as it appears).

        Their first-order estimates are linear in the corrupted keys and values, so ``steps=1`` takes the mean
        ones in one pass instead; the gradients along a path are not, so each distinct sample follows its own.
        """
        import torch

        found: dict[int, torch.Tensor] = {}
        for sample in {id(sample): sample for sample in self.samples}.values():
            passes, positions = sample.forward_passes, sample.positions
            found[id(sample)] = sample.estimate(steps)
            self.forward_passes += sample.forward_passes - passes
            self.positions += sample.positions - positions
        return torch.stack([found[id(sample)] for sample in self.samples]).mean(0)

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
        check_text(text, role)
        ids = self.tokenizer(text, return_tensors="pt")["input_ids"]
        limit = context_length(self.hf_model.config)
        if limit is not None and ids.shape[1] > limit:
            raise InfoFlowError(
                f"The {role} is {ids.shape[1]} tokens, longer than the model's context of {limit} tokens: shorten it."
            )
        if ids.shape[1] < 2 and role == "prompt":
            raise InfoFlowError(f"The prompt {text!r} is a single token: an information flow needs at least two.")
        return ids.to(self.hf_model.device)

    def _gradient_trace(
        self,
        names: Collection[AttentionTensor],
        fractions: torch.Tensor | None,
        segment: tuple[int, int],
        upstream: torch.Tensor | None,
    ) -> tuple[dict[int, dict[str, tuple[torch.Tensor, torch.Tensor]]], torch.Tensor]:
        """A forward pass, and a backward pass through the layers ``segment = (a, b)``.

        Per chosen layer of the segment, the attention tensors ``names`` and where to read their gradients: each
        name maps to ``(value, moved)``, a site the intervention moves has its value before the move and the moved
        tensor, which holds the gradient at the path point; any other tensor is both. ``fractions`` (one per batch
        row): the rows are points of the intervention's integration path, every edge of every chosen layer moved
        that fraction of the way (:meth:`Intervention.path_pattern` and its kin). None: one clean row.

        The backward pass starts from the metric when b is the last layer, else from ``upstream``, the gradient at
        layer b's input (the next segment's); it returns the gradient at layer a's input, for the segment below.
        Layers outside the segment run without gradients, so only the segment's activations are kept.
        """
        import torch

        saved: dict[int, Any] = {}
        frozen = [p for p in self.hf_model.parameters() if p.requires_grad]
        rows = 1 if fractions is None else len(fractions)
        t = None if fractions is None else fractions.to(self.hf_model.device, self.hf_model.dtype).view(-1, 1, 1, 1)
        start, end = segment
        # Bound in the trace (nnsight writes saved values back): leaf at layer start; at the segment's end, the
        # final logits when it is the last layer, else the input of layer end.
        leaf = logits = output = None
        try:
            for p in frozen:  # gradients are wanted at activations only, not at the weights
                p.requires_grad_(False)
            with torch.enable_grad(), self.model.trace(self.input_ids.expand(rows, -1), logits_to_keep=1):
                for layer in range(0 if t is not None else start, self.num_layers):
                    if layer == end:  # the segment's end: its output, then no gradients above it
                        top = envoy(self.model, self._layer_paths[end])
                        output = top.input.save()
                        top.input = output.detach()
                        if t is None:
                            break  # no path to move the layers above along
                    if layer == start:
                        bottom = envoy(self.model, self._layer_paths[start])
                        leaf = bottom.input.detach().requires_grad_(True).save()
                        bottom.input = leaf
                    if layer not in self._chosen:
                        continue
                    if t is None:
                        tensors = {name: (tensor, tensor) for name, tensor in self._read(layer, names).items()}
                    else:  # every chosen layer moves along the path; the segment's are also read
                        eager, context = self._eager(layer), self._context.get(layer)
                        tensors = _read_on_path(eager, self._sites, self.intervention, names, t, context)
                    if not start <= layer < end:
                        continue
                    for _, moved in tensors.values():
                        if moved.requires_grad:
                            moved.retain_grad()
                    saved[layer] = {name: (value.save(), moved.save()) for name, (value, moved) in tensors.items()}
                if end == self.num_layers:
                    logits = self.model.output.logits[:, -1].save()
            assert leaf is not None  # every trace reaches layer start (it runs from layer 0 or from start)
            if logits is not None:  # end is the last layer
                self._score(logits.float(), self.clean_logits).sum().backward()  # rows are independent: each its own
            else:
                assert output is not None  # a lower segment: the trace passed layer end
                output.backward(upstream)
        finally:
            for p in frozen:
                p.requires_grad_(True)
        return saved, _grad_all(leaf)

    def _trace(self, batch: Batch) -> torch.Tensor:
        """One forward pass of a batch of rows (``batching``), reusing the clean runs before it.

        No row targets a position before ``batch.start``, so those positions are exactly as in the clean
        runs: their keys and values come from them as a cache, and only positions ``start..n-1`` are
        computed. Query rows of the patterns are then ``start..n-1``. A row with a ``where`` mask is
        intervened only in the heads and layers it marks; a layer no row marks is left alone.
        """
        import torch

        size, start = batch.edit.shape[0], batch.start
        edit = batch.edit[:, :, start:]
        # nnsight would build an attention mask over the computed positions only: give the whole one.
        mask = torch.ones(size, self.n, dtype=torch.long, device=edit.device)
        kwargs: dict[str, Any] = {"logits_to_keep": 1, "attention_mask": mask}
        if start > 0:
            kwargs["cache"] = self._prefix_cache(batch.kv)
        marked = [True] * len(self.layers) if batch.where is None else batch.where.any(-1).any(0).tolist()
        # No gradients: a pass that recorded them would keep every layer's activations alive until it ends.
        with torch.no_grad(), self._trace_lock, self.model.trace(batch.ids[:, start:], **kwargs):
            for index, layer in enumerate(self.layers):
                if not marked[index]:
                    continue
                layer_edit = edit if batch.where is None else edit & batch.where[:, index, :, None, None]
                self._edit_layer(layer, layer_edit, batch.context.get(layer))
            logits = self.model.output.logits[:, -1].save()
        return logits.float()

    def _edit_layer(self, layer: int, edit: torch.Tensor, context: Any) -> None:
        """Inside a trace, apply the intervention's edit hooks at ``layer``'s attention sites, in execution order.

        Each hook gets the mask's key columns of this layer: the last positions the layer sees (all n,
        or fewer on a sliding-window layer).
        """
        intervention, eager = self.intervention, self._eager(layer)
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
        queries: an ``(n,)`` vector, never the patterns): :attr:`sink_shares`, for the ``sink`` flag; and
        :attr:`attention_mass`, each edge's attention summed over heads and the chosen layers.
        """
        import torch

        saved, received = [], []
        chosen = set(self.layers)
        mass = torch.zeros(self.n, self.n, dtype=torch.float64)
        with self._trace_lock, self.model.trace(self.input_ids, logits_to_keep=1):
            for layer, path in enumerate(self._attention_paths):
                args = getattr(envoy(self.model, path).source, self._sites.call).inputs[0]
                saved.append((args[2].save(), args[3].save()))  # (module, query, key, value, mask, ...)
                pattern = getattr(self._eager(layer), self._sites.pattern).output
                received.append(pattern.float().sum((0, 1, 2)).save())
                if layer in chosen:  # summed as the pass goes: one (n, n) tensor, not one per layer
                    summed = pattern.double().sum((0, 1)).cpu()
                    mass[:, self.n - summed.shape[-1] :] += summed
            logits = self.model.output.logits[:, -1].save()
        self.forward_passes += 1
        self.positions += self.n
        self._clean_kv = saved
        self.attention_mass = mass  # [target, source]: how much each edge carries, the scale of an estimate's error
        self.sink_shares = trust.sink_shares([r.tolist() for r in received], self.n)
        return logits[0].float()

    def _prefix_cache(self, kv: list[tuple[torch.Tensor, torch.Tensor]]) -> Any:
        """A cache holding the given clean keys and values (per layer, the batch's rows, positions before its start)."""
        from transformers import DynamicCache

        cache = DynamicCache(config=self.hf_model.config)
        for layer, (keys, values) in enumerate(kv):
            cache.update(keys, values, layer)
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
        self._estimates: dict[int, torch.Tensor] = {}  # by steps
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


def numerical_noise(clean_metric: float, largest_logit: float, dtype: torch.dtype) -> float:
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
        >>> numerical_noise(5.9, 32.0, torch.float32)
        0.00059
        >>> round(numerical_noise(5.9, 32.0, torch.bfloat16), 3)
        0.5
    """
    import torch

    scale = max(1.0, abs(clean_metric)) if math.isfinite(clean_metric) else 1.0
    floor = NOISE_RELATIVE * scale
    if dtype in (torch.bfloat16, torch.float16):
        logit = largest_logit if math.isfinite(largest_logit) else 0.0
        floor = max(floor, 2 * torch.finfo(dtype).eps * max(scale, abs(logit)))
    return floor


def check_graph_request(strategy: Strategy | None, threshold: float, metric: Metric) -> Strategy:
    """The strategy (``Full()`` by default), once it, the threshold and the metric's fit are checked."""
    strategy = strategy if strategy is not None else Full()
    if not isinstance(strategy, Strategy):
        raise InfoFlowError(f"strategy must be a Strategy such as Full(); got {strategy!r}.")
    if strategy.estimates:
        check_first_order(metric)
    if not is_non_negative(threshold):
        raise InfoFlowError(f"threshold must be a finite number >= 0; got {threshold!r}.")
    return strategy


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
    check_graph_request(strategy, threshold, metric)  # before the model loads and the clean run
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


def _key_columns(edit: torch.Tensor, tensor: torch.Tensor) -> torch.Tensor:
    """The edit mask's last key columns, as many as ``tensor`` (a layer's scores or pattern) has."""
    return edit[..., edit.shape[-1] - tensor.shape[-1] :]


def _grad_all(tensor: torch.Tensor) -> torch.Tensor:
    """The gradient at a saved activation, every row (zeros where the metric did not reach)."""
    import torch

    return (tensor.grad if tensor.grad is not None else torch.zeros_like(tensor)).detach()


def _grad(tensor: torch.Tensor, row: int = 0) -> torch.Tensor:
    """The gradient at a saved activation, one batch row's (zeros where the metric did not reach)."""
    import torch

    return (tensor.grad if tensor.grad is not None else torch.zeros_like(tensor))[row].detach()


def _read_on_path(
    eager: Any,
    sites: Any,
    intervention: Intervention,
    names: Collection[AttentionTensor],
    t: torch.Tensor,
    context: Any,
) -> dict[str, tuple[Any, Any]]:
    """Inside a gradient trace, one layer's tensors ``names``, the sites the intervention edits moved along its path.

    Site by site in execution order, as :meth:`FlowEngine._read` reads them; a site the intervention ``edits`` is
    replaced by its path hook's tensor at the fractions ``t`` (``(batch, 1, 1, 1)``). Each name maps to
    ``(value, moved)``: the value before the move and the tensor that holds the gradient at the path point.
    """
    found: dict[str, Any] = {}
    moved: dict[str, Any] = {}
    edits = intervention.edits
    if {"query", "keys_t", "scores"} & set(names) or "scores" in edits:
        call = getattr(eager, sites.scores)
        found["query"], found["keys_t"] = call.inputs[0]
        found["scores"] = call.output
        if "scores" in edits:
            moved["scores"] = call.output = intervention.path_scores(found["scores"], found["query"], t, context)
    if "pattern" in names or "pattern" in edits:
        call = getattr(eager, sites.pattern)
        found["pattern"] = call.output
        if "pattern" in edits:
            moved["pattern"] = call.output = intervention.path_pattern(found["pattern"], t, context)
    if {"weights", "values", "output"} & set(names) or "output" in edits:
        call = getattr(eager, sites.output)
        found["weights"], found["values"] = call.inputs[0]
        found["output"] = call.output
        if "output" in edits:
            moved["output"] = call.output = intervention.path_output(
                found["output"], found["weights"], found["values"], t, context
            )
    return {name: (found[name], moved.get(name, found[name])) for name in names}
