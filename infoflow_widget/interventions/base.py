"""Attention-edge interventions: what happens to the attention from query i to key j.

An intervention is a small frozen spec that owns everything about itself, so a new one is a subclass
here plus one line in :data:`INTERVENTIONS`:

1. Its fast edit, which the engine applies batched inside nnsight traces. ``edits`` names the
   attention sites it changes, in execution order: ``"scores"`` (the raw q . k before the softmax),
   ``"pattern"`` (the post-softmax pattern) and ``"output"`` (the head outputs pattern @ values);
   ``edit_scores``, ``edit_pattern`` and ``edit_output`` change them. ``prepare(engine)`` runs what
   the edits need beyond the clean run (Corrupt: its prompt's keys and values) and returns it per
   layer; each hook gets its layer's part as ``context``.
2. Its first-order estimate (attribution). ``saves`` names the attention tensors it reads (see
   :data:`AttentionTensor`); the engine takes them and their gradients from one forward and one
   backward pass, and ``first_order`` turns one layer's into an estimate of every token edge.
3. Its reference edit, for the slow exact path (:mod:`infoflow_widget.engine.reference`): one edge group at
   a time, by direct indexing, written apart from the fast edit so that each checks the other.
4. Its integration path, for integrated-gradient estimates (``FlowEngine.estimate(steps=k)``):
   ``path_scores``, ``path_pattern`` and ``path_output`` move the sites it ``edits`` a fraction t of
   the way from the clean run to the run with *every* edge intervened on, on the straight line in the
   edited tensor (each batch row has its own t; t = 0 returns the tensor as it is). The engine reads the
   gradients at k points t = m/k (m = 0..k-1, a left Riemann sum, so k = 1 is the clean gradient alone)
   and an edge's estimate is the mean over them of its ``first_order`` from that point's tensors (an
   edited site as it was before the move) and gradients (at the moved site): the change the intervention
   would make there times the metric's gradient there. By the chain rule the estimates of all edges then
   add up to the effect of intervening on every edge, up to the sum's error (completeness). Taking the
   change from the clean tensors instead, as EAP-IG does, ranked Corrupt's edges worse on the IOI case.
   ``estimate_steps`` is how many points its estimates take by default. Corrupt's path ends at a real
   prompt's keys and values and integrating improves its ranking; the pattern interventions' path ends
   with every attention row emptied, far from any one edge's run (and invisible behind a norm that
   rescales each layer's attention output, as Gemma's post-attention norm does, where it only multiplies
   every estimate alike), and integrating made their ranking worse on every case measured
   (``benchmarks/README.md``, section 10): they default to 1.

An intervention may instead be the mean of others (:class:`AutoCorrupt`: Corrupt over generated
prompts): its ``prepare`` returns :class:`Samples`, and the engine measures each sample on an engine
derived from its own (sharing the clean run) and keeps the mean, with the spread as ``effect_std``.

Tensors follow eager attention's layout: ``scores`` and ``pattern`` are ``(batch, head, query, key)``;
``edit`` is a boolean ``(batch, 1, query, key)`` mask, True where a query position of the batch
row's target group attends to a key position of its source group (always causal: key <= query).
A layer's key columns are the last positions it sees (fewer than the prompt's on a sliding window).

An edge's effect is ``M(clean) - M(intervened)``; to first order it is ``-sum <dM/dX, dX>`` over the
activations X the intervention changes, summed over every head of every chosen layer. ``first_order``
gets one layer's tensors and gradients with the batch of one squeezed (``(head, query, key)``) and
returns a float64 ``(target, source)`` matrix, zero above the diagonal.
"""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar, Literal, Protocol

from ..core.errors import InfoFlowError, PromptLengthError, is_non_negative
from ..text.corruption import CorruptionPlan, check_corruption_args, corrupted_prompts, metric_texts

if TYPE_CHECKING:
    import torch

Site = Literal["scores", "pattern", "output"]
"""An attention site an intervention edits (see ``AttentionSites``)."""

AttentionTensor = Literal["query", "keys_t", "scores", "pattern", "weights", "values", "output"]
"""A tensor of one layer's eager attention: the queries and transposed keys that make ``scores``, the
softmax's output ``pattern``, and the ``weights`` (that pattern as the output matmul takes it, after the
model's cast to its dtype) and ``values`` that make the head ``output`` (``(head, query, dim)``)."""

Context = dict[int, Any]
"""What an intervention prepared beyond the clean run, by layer."""

AUTO = "auto"
"""The corrupted prompt that asks for generated ones: ``build_intervention("corrupt", corrupted_prompt="auto")``
(the CLI's ``--corrupted auto``, the widget's corrupted-prompt box) is :meth:`Corrupt.auto`."""


class EngineView(Protocol):
    """What an intervention's ``prepare`` and ``plan`` read from the engine that runs it (``FlowEngine`` is one).

    Interventions depend on this, not on the engine: the engine sits above them and calls them.
    """

    prompt: str
    tokenizer: Any
    input_ids: torch.Tensor
    metric: Any

    def tokenize(self, text: str, role: str) -> torch.Tensor:
        """The token ids of ``text`` (its ``role`` names it in errors), checked against the context length."""
        ...

    def attention_tensors(
        self, input_ids: torch.Tensor, names: Collection[AttentionTensor]
    ) -> dict[int, dict[str, torch.Tensor]]:
        """One clean pass of ``input_ids``: per layer, the attention tensors ``names``."""
        ...


@dataclass(frozen=True)
class EagerCall:
    """One call of a model's eager attention function, as an intervention's reference edit sees it.

    Attributes:
        query: its queries, ``(batch, head, position, dim)``.
        key: its keys, ``(batch, key-value head, position, dim)``.
        value: its values, shaped as the keys.
        output: its head outputs, ``(batch, position, head, dim)``.
        weights: its post-softmax pattern, ``(batch, head, query, key)``.
        context: what the intervention's ``reference_prepare`` recorded for this layer (None if nothing).
        rerun: ``rerun(key, value, mask=None)``, the head outputs of the eager function called again with other
            keys and values (and another additive mask, which eager attention adds after the scaling and soft-capping).
        mask: its additive attention mask, ``(batch, 1, query, key)`` (0 where a key is seen), or None.
    """

    query: torch.Tensor
    key: torch.Tensor
    value: torch.Tensor
    output: torch.Tensor
    weights: torch.Tensor
    context: Any
    rerun: Callable[..., torch.Tensor]
    mask: torch.Tensor | None = None

    def attend(self, pattern: torch.Tensor) -> torch.Tensor:
        """The head outputs of ``pattern`` over this call's values: plain ``pattern @ values``."""
        import torch

        repeated = self.value.repeat_interleave(self.query.shape[1] // self.value.shape[1], dim=1)
        return torch.matmul(pattern, repeated).transpose(1, 2).contiguous()


@dataclass(frozen=True)
class Samples:
    """What ``prepare`` returns for an intervention measured as the mean of others (:class:`AutoCorrupt`).

    The engine derives one engine per distinct intervention of ``interventions`` from its own (sharing the
    clean run), already prepared with the matching entry of ``contexts``; an edge's effect is the mean of its
    effects over the samples (a repeated sample counts as often as it appears), its ``effect_std`` their
    sample standard deviation, its ``damage`` the mean of theirs.

    Attributes:
        interventions: one per sample, in order (repeats allowed).
        contexts: each one's prepared context, as its own ``prepare`` returns it.
        context: the intervention's own context, by layer, for its :meth:`~Intervention.first_order`.
        provenance: entries merged into a graph's provenance, over the engine's own (``"corruption"``: the plan;
            ``"intervention_text"``: a description that knows what was sampled).
    """

    interventions: tuple[Intervention, ...]
    contexts: tuple[Context, ...]
    context: Context
    provenance: dict[str, Any]


@dataclass(frozen=True)
class Intervention:
    """Base class of the interventions; the engine applies one to every head of every chosen layer.

    A subclass sets ``kind``, ``edits`` and ``saves``, overrides the edit hooks of the sites it edits,
    :meth:`first_order` and :meth:`reference_edit`, and keeps its parameters as dataclass fields
    checked in ``__post_init__``.
    """

    kind: ClassVar[str] = ""
    """Its name in :data:`INTERVENTIONS`, the CLI and saved graphs."""
    edits: ClassVar[tuple[Site, ...]] = ()
    """The attention sites the fast edit changes, in execution order."""
    saves: ClassVar[tuple[AttentionTensor, ...]] = ()
    """The attention tensors :meth:`first_order` reads, with their gradients."""
    edit_tensors: ClassVar[int] = 1
    """Attention-sized tensors its edit hooks allocate at once per row, beyond the model's own: the memory planner's
    share for it (``RowCost``), measured on a long prompt (benchmarks/README.md)."""
    estimate_steps: ClassVar[int] = 1
    """The points on its integration path that its estimates take by default (1: the plain first order), chosen
    from the agreement with exact effects measured in ``benchmarks/README.md`` (section 10)."""

    def describe(self) -> str:
        """A sentence saying what the intervention does, for figures and the widget."""
        return self.kind

    def edit_key(self) -> Hashable:
        """What two engines' interventions must share for their rows to run in one forward pass.

        The edit hooks' own parameters (the intervention itself); an intervention whose hooks read only
        their ``context`` (Corrupt) returns its class, since contexts travel with the rows.
        """
        return self

    def params(self) -> dict[str, Any]:
        """The intervention as plain JSON data (its ``kind`` and parameters)."""
        return {"kind": self.kind, **{k: v for k, v in self.__dict__.items()}}

    @classmethod
    def build(cls, **parameters: Any) -> Intervention:
        """The intervention from its parameters, each a field of the class (:func:`build_intervention`'s last step).

        A subclass may map a value to another intervention (Corrupt: ``corrupted_prompt="auto"`` builds
        :meth:`Corrupt.auto`).

        Raises:
            InfoFlowError: a parameter the intervention does not take, or a bad value.
        """
        takes = [f.name for f in fields(cls)]
        extra = [key for key in parameters if key not in takes]
        if extra:
            raise InfoFlowError(f"{cls.kind} takes {', '.join(takes) or 'no parameters'}, not {', '.join(extra)}.")
        return cls(**parameters)

    def prepare(self, engine: EngineView) -> Context | Samples:
        """Check the intervention against the engine's prompt, then run what its edits need beyond the clean run.

        Raises before any model work when the intervention does not fit the prompt. An intervention measured as
        the mean of others returns :class:`Samples` instead of its context.
        """
        return {}

    def edit_scores(
        self, scores: torch.Tensor, query: torch.Tensor, edit: torch.Tensor, context: Any = None
    ) -> torch.Tensor:
        """Return the raw scores q . k (before scaling and mask) with the edges in ``edit`` intervened on."""
        return scores

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Return the post-softmax pattern with the edges in ``edit`` intervened on."""
        return pattern

    def edit_output(
        self,
        output: torch.Tensor,
        weights: torch.Tensor,
        values: torch.Tensor,
        edit: torch.Tensor,
        context: Any = None,
    ) -> torch.Tensor:
        """Return the head outputs ``weights @ values`` with the edges in ``edit`` intervened on.

        ``weights`` is the pattern as the output matmul takes it (in the model's dtype).
        """
        return output

    def path_scores(
        self, scores: torch.Tensor, query: torch.Tensor, t: torch.Tensor, context: Any = None
    ) -> torch.Tensor:
        """The raw scores a fraction ``t`` (``(batch, 1, 1, 1)``) of the way to every edge intervened on."""
        raise TypeError(f"{type(self).__name__} edits the scores but does not define path_scores().")

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """The post-softmax pattern a fraction ``t`` (``(batch, 1, 1, 1)``) of the way to every edge intervened on."""
        raise TypeError(f"{type(self).__name__} edits the pattern but does not define path_pattern().")

    def path_output(
        self, output: torch.Tensor, weights: torch.Tensor, values: torch.Tensor, t: torch.Tensor, context: Any = None
    ) -> torch.Tensor:
        """The head outputs a fraction ``t`` (``(batch, 1, 1, 1)``) of the way to every edge intervened on."""
        raise TypeError(f"{type(self).__name__} edits the outputs but does not define path_output().")

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        """One layer's first-order estimate of every token edge, from the tensors in ``saves`` and their gradients."""
        raise TypeError(f"{type(self).__name__} does not define first_order().")

    def reference_prepare(self, record: Callable[[str], Context]) -> Context:
        """What :meth:`reference_edit` needs beyond the clean run; ``record(prompt)`` gives its keys and values."""
        return {}

    def reference_edit(self, call: EagerCall, sources: list[int], targets: list[int]) -> torch.Tensor:
        """The head outputs of one eager attention call with the edge ``sources -> targets`` intervened on."""
        raise TypeError(f"{type(self).__name__} does not define reference_edit().")


@dataclass(frozen=True)
class PatternIntervention(Intervention):
    """An intervention on the post-softmax pattern alone; its reference edits the pattern row by row."""

    edits: ClassVar[tuple[Site, ...]] = ("pattern",)
    saves: ClassVar[tuple[AttentionTensor, ...]] = ("pattern",)

    def reference_edit(self, call: EagerCall, sources: list[int], targets: list[int]) -> torch.Tensor:
        pattern = call.weights.clone()
        for i in targets:
            js = [j for j in sources if j <= i]
            if js:
                self.reference_row(pattern[:, :, i], js)
        return call.attend(pattern)

    def reference_row(self, row: torch.Tensor, sources: list[int]) -> None:
        """Edit one query row ``(batch, head, key)`` of the pattern in place, for the sources it can see."""
        raise TypeError(f"{type(self).__name__} does not define reference_row().")


@dataclass(frozen=True)
class Zero(PatternIntervention):
    """Zero pattern: A[i, j] = 0 after the softmax, without renormalising the row."""

    kind: ClassVar[str] = "zero"

    def describe(self) -> str:
        return "zero pattern: attention from i to j set to 0 after the softmax"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        return pattern.masked_fill(edit, 0.0)

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Every weight scaled by 1 - t: alpha from 1 to 0."""
        return _scaled_path(pattern, t, 0.0)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        return _scaling_first_order(tensors["pattern"], grads["pattern"], 0.0)

    def reference_row(self, row: torch.Tensor, sources: list[int]) -> None:
        row[:, :, sources] = 0.0


@dataclass(frozen=True)
class Dampen(PatternIntervention):
    """Dampening: A[i, j] *= alpha after the softmax (0 equals Zero, 1 changes nothing, >1 amplifies)."""

    alpha: float = 0.5
    kind: ClassVar[str] = "dampen"
    edit_tensors: ClassVar[int] = 2

    def __post_init__(self) -> None:
        if not is_non_negative(self.alpha):
            raise InfoFlowError(
                "Dampen needs a finite alpha >= 0 (0 knocks attention out, 1 leaves it, >1 amplifies); "
                f"got {self.alpha!r}."
            )

    def describe(self) -> str:
        return f"dampen: attention from i to j multiplied by alpha = {self.alpha:g} after the softmax"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        import torch

        return torch.where(edit, pattern * self.alpha, pattern)

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Every weight scaled by 1 - t (1 - alpha): the scale from 1 to alpha."""
        return _scaled_path(pattern, t, self.alpha)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        return _scaling_first_order(tensors["pattern"], grads["pattern"], self.alpha)

    def reference_row(self, row: torch.Tensor, sources: list[int]) -> None:
        row[:, :, sources] *= self.alpha


def _scaled_path(pattern: torch.Tensor, t: torch.Tensor, alpha: float) -> torch.Tensor:
    """The pattern scaled by ``1 - t (1 - alpha)`` per batch row: the straight line to every weight times alpha.

    At t = 0 the scale is exactly 1, so the clean row of a path trace is the clean run bit for bit.
    """
    return pattern * (1.0 - t * (1.0 - alpha)).to(pattern.dtype)


def _scaling_first_order(pattern: torch.Tensor, grad: torch.Tensor, alpha: float) -> torch.Tensor:
    """Scaling A_ij by alpha changes it by ``(alpha - 1) A_ij``: the estimate is ``(1 - alpha) sum_heads G_ij A_ij``."""
    return ((1.0 - alpha) * (grad * pattern).double().sum(0)).tril()


@dataclass(frozen=True)
class Crop(PatternIntervention):
    """Crop: query i sees only keys j+1..i; keys 0..j are removed and the row renormalised.

    For a group edge, i loses every key up to the last source position at or before i. Removing
    all of a row's keys (the self-edge i -> i) leaves the row empty: that head writes nothing at i.
    Renormalising the post-softmax row equals a softmax over the remaining keys.
    """

    kind: ClassVar[str] = "crop"
    edit_tensors: ClassVar[int] = 3

    def describe(self) -> str:
        return "crop: i sees only the keys after j (keys up to j removed, the row renormalised)"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        removed = edit.flip(-1).cummax(-1).values.flip(-1)  # every key at or before an edited one
        return _renormalised_without(pattern, removed, edit.any(-1, keepdim=True))

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Zero's path, A (1 - t): cropping every edge (i -> i removes all of row i's keys) empties every row.

        See :meth:`Knockout.path_pattern`: the same reasoning holds.
        """
        return _scaled_path(pattern, t, 0.0)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        """Row i changes by ``-A_ik`` for k <= j and by ``A_ik (1 - r_j) / r_j`` for k > j (r_j: the kept mass)."""
        pattern = tensors["pattern"]
        weighted = (grads["pattern"] * pattern).double()
        removed = weighted.cumsum(-1)  # sum over k <= j of G A
        total = weighted.sum(-1, keepdim=True)
        mass = pattern.double()
        kept = mass.sum(-1, keepdim=True) - mass.cumsum(-1)  # the mass of keys j+1..i (rows sum to 1 only roughly)
        # Kept keys are scaled by 1 / kept; when (almost) nothing is kept, the row empties: every entry changes by -A.
        change = (-removed + (1.0 - kept) / kept.clamp_min(1e-12) * (total - removed)).where(kept > 1e-6, -total)
        return (-change).sum(0).tril()

    def reference_row(self, row: torch.Tensor, sources: list[int]) -> None:
        row[:, :, : max(sources) + 1] = 0.0
        total = row.sum(-1, keepdim=True)
        row[:] = row / total.where(total > 0, 1.0)


def _renormalised_without(pattern: torch.Tensor, removed: torch.Tensor, rows: torch.Tensor) -> torch.Tensor:
    """The pattern with the ``removed`` keys dropped from the ``rows`` marked, each renormalised over the keys left.

    A row left with no weight stays empty (all zeros): that head writes nothing at its query.
    """
    import torch

    kept = pattern.masked_fill(removed, 0.0)
    total = kept.sum(-1, keepdim=True)
    renormalised = torch.where(total > 0, kept / total.clamp_min(torch.finfo(kept.dtype).tiny), kept)
    return torch.where(rows, renormalised, pattern)


@dataclass(frozen=True)
class Knockout(PatternIntervention):
    """Knockout: the score of i on j is -inf before the softmax; the row renormalises over the keys i still sees.

    The attention knockout of Geva et al. (2023) and most papers since: i can no longer attend to j,
    and the weight j had goes to the other keys in proportion to theirs (Zero drops it instead). For a
    group edge, i loses every source position at or before i. A row that loses all of its keys (the
    self-edge 0 -> 0, whose query sees only key 0, or a group holding every key a row sees) is left
    empty, as Crop leaves it: that head writes nothing at i.

    Where: a score of -inf before the softmax is a softmax over the remaining keys, which is the
    post-softmax row with the removed entries zeroed and renormalised,
    ``A'_ik = A_ik / (1 - A_ij)`` for k != j. The edit is made on the pattern, in that form, for two
    reasons. The raw-scores site is the matmul q . k, *before* the scaling, Gemma's soft-capping
    ``c tanh(s / c)`` and the mask: -inf there would come out of the soft-capping as -c, a finite score
    that knocks nothing out. And the pattern is after all of them, so soft-capping, sliding windows and
    masks need no case of their own. In float32 a renormalised entry carries the clean softmax's own
    rounding, a relative ~6e-8 x (its score's distance below the row's largest): 3e-6 for a key 50 nats
    below a sink (a fresh softmax over the remaining keys would not), which is what the reference
    computes, from a mask of -inf after the soft-capping; the tiny and bundled models agree to 1e-7.
    Only a row whose every remaining key sits more than ~87 nats below a removed one, so far that the
    clean softmax rounded them to zero, comes out empty instead. A key that has no weight already
    (outside a sliding window) is knocked out without renormalising its row.
    """

    kind: ClassVar[str] = "knockout"
    edit_tensors: ClassVar[int] = 3

    def describe(self) -> str:
        return "knockout: i cannot attend to j (score -inf before the softmax, the row renormalised over the rest)"

    def edit_pattern(self, pattern: torch.Tensor, edit: torch.Tensor, context: Any = None) -> torch.Tensor:
        # Only rows that lose some weight change: knocking out a key of weight zero leaves the row bit for bit.
        return _renormalised_without(pattern, edit, (edit & (pattern > 0)).any(-1, keepdim=True))

    def path_pattern(self, pattern: torch.Tensor, t: torch.Tensor, context: Any = None) -> torch.Tensor:
        """Zero's path, A (1 - t): the straight line in the pattern to every edge knocked out, which is the empty row.

        Knocking out the scores of *every* edge together cannot be followed in the scores: the softmax is
        invariant to all of a row's scores moving alike, so a path of scores falling towards -inf together
        would stand still until the row empties at its end. The endpoint itself is well defined: a row that
        loses every key it sees is left empty (as documented above), so every edge knocked out is the zero
        pattern, and the straight line to it in the edited tensor (the pattern, as for every other
        intervention) is A (1 - t). At each point an edge's change is still Knockout's own (:meth:`first_order`
        on the pattern there: its weight removed, the rest renormalised), so unlike Zero's the estimates of all
        edges need not add up to the path's effect.
        """
        return _scaled_path(pattern, t, 0.0)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        """Row i changes by ``-A_ij`` at j and by ``A_ik (1 - r_j) / r_j`` at every other key k.

        Here ``r_j = sum over k != j of A_ik`` is the weight left, and ``1 - r_j`` is ``A_ij`` when the row
        sums to 1 (as it does up to rounding). That is the exact change of the pattern, and the estimate
        is the metric's first order in it (a linearisation in the pattern, not in the scores, which move
        to -inf): ``-sum_k G_ik dA_ik = G_ij A_ij - (1 - r_j) (sum_{k != j} G_ik A_ik) / r_j``, the weight j
        had valued at its own gradient, less that weight spread over the other keys at their average
        gradient. The sums over k != j are prefix plus suffix sums, never the row's total less A_ij, so a
        key holding nearly all of a row's weight (an attention sink) loses no precision. A row with
        nothing left (r_j = 0) empties: the estimate is ``G_ij A_ij``.
        """
        pattern = tensors["pattern"].double()
        weighted = grads["pattern"].double() * pattern
        others = _excluding_each(pattern)  # r_j
        average = _excluding_each(weighted) / others.where(others > 0, 1.0)  # sum_{k != j} G_ik A_ik / r_j
        return (weighted - ((1.0 - others) * average).where(others > 0, 0.0)).sum(0).tril()

    def reference_edit(self, call: EagerCall, sources: list[int], targets: list[int]) -> torch.Tensor:
        """Call the eager function again with -inf in its mask (added after soft-capping) at the knocked-out keys."""
        import torch

        n = call.weights.shape[-1]
        mask = call.mask if call.mask is not None else torch.zeros(1, 1, n, n, device=call.weights.device)
        # Masked keys become -inf as well, so that a row with every key it sees knocked out is all -inf.
        mask = mask.masked_fill(mask <= torch.finfo(mask.dtype).min / 2, float("-inf"))
        mask = mask.masked_fill(torch.ones(n, n, dtype=torch.bool, device=mask.device).triu(1), float("-inf"))
        for i in targets:
            mask[..., i, [j for j in sources if j <= i]] = float("-inf")
        output = call.rerun(call.key, call.value, mask)
        empty = torch.isneginf(mask).all(-1).flatten(0, -2).any(0)  # query rows with no key left
        output[:, empty] = 0.0
        result = call.output.clone()
        result[:, targets] = output[:, targets]
        return result


def _excluding_each(x: torch.Tensor) -> torch.Tensor:
    """``sum over k != j of x[..., k]`` for every j along the last dimension, without subtracting x[..., j]."""
    import torch

    zero = torch.zeros_like(x[..., :1])
    before = torch.cat([zero, x[..., :-1].cumsum(-1)], -1)
    after = torch.cat([x[..., 1:].flip(-1).cumsum(-1).flip(-1), zero], -1)
    return before + after


@dataclass(frozen=True)
class Corrupt(Intervention):
    """Corruption (path patching): query i sees key j and value j of the corrupted prompt.

    In every head, row i's score at j uses the corrupted prompt's key (from that prompt's own clean
    run, same layer), row i's softmax is recomputed, and the corrupted value replaces value j in
    row i's output. Nothing else changes. The corrupted prompt must have the same token length.
    """

    corrupted_prompt: str = ""
    kind: ClassVar[str] = "corrupt"
    edit_tensors: ClassVar[int] = 3
    edits: ClassVar[tuple[Site, ...]] = ("scores", "output")
    saves: ClassVar[tuple[AttentionTensor, ...]] = ("query", "keys_t", "scores", "weights", "values", "output")
    estimate_steps: ClassVar[int] = 8  # its path runs to a real prompt's keys and values: integrating pays

    def __post_init__(self) -> None:
        if not isinstance(self.corrupted_prompt, str) or not self.corrupted_prompt.strip():
            raise InfoFlowError("Corrupt needs a corrupted prompt of the same token length as the clean prompt.")

    @staticmethod
    def auto(
        n: int = 4,
        seed: int = 0,
        *,
        avoid: Collection[str] = (),
        keep: Collection[str] = (),
        kinds: Collection[str] | None = None,
        consistent: bool = True,
        code: bool | None = None,
    ) -> AutoCorrupt:
        """Corrupt with ``n`` generated corrupted prompts, the effect of an edge being the mean over them.

        The prompts come from ``corrupted_prompts`` (other names and
        numbers in prose, identifiers in code; the metric's answer and distractor never used as replacements),
        built for the engine's prompt and tokenizer when the engine prepares it. The arguments are checked
        here, before any work. See :class:`AutoCorrupt`.

        Examples:
            >>> Corrupt.auto(n=4, seed=0)
            AutoCorrupt(n=4, seed=0, avoid=(), keep=(), kinds=None, consistent=True, code=None)
        """
        return AutoCorrupt(n, seed, avoid=avoid, keep=keep, kinds=kinds, consistent=consistent, code=code)

    @classmethod
    def build(cls, **parameters: Any) -> Intervention:
        """Corrupt, or :meth:`auto` (with ``n``, ``seed``, ...) when the corrupted prompt is ``"auto"``.

        ``"auto"`` counts in any case, with spaces around.
        """
        prompt = parameters.get("corrupted_prompt")
        if isinstance(prompt, str) and prompt.strip().lower() == AUTO:
            return AutoCorrupt.build(**{k: v for k, v in parameters.items() if k != "corrupted_prompt"})
        sampling = [f.name for f in fields(AutoCorrupt) if f.name in parameters]
        if sampling:
            raise InfoFlowError(
                f"corrupt takes {', '.join(sampling)} only with corrupted_prompt={AUTO!r} (generated prompts)."
            )
        return super().build(**parameters)

    def describe(self) -> str:
        return f"corrupt: i sees key and value j of the prompt {self.corrupted_prompt!r}"

    def edit_key(self) -> Hashable:
        return Corrupt

    def prepare(self, engine: EngineView) -> Context:
        """The corrupted prompt's transposed keys and values as eager attention computes with them, per layer."""
        ids = engine.tokenize(self.corrupted_prompt, "corrupted prompt")
        _check_same_length(engine.input_ids, ids, engine.tokenizer)
        return engine.attention_tensors(ids, ("keys_t", "values"))

    def edit_scores(
        self, scores: torch.Tensor, query: torch.Tensor, edit: torch.Tensor, context: Any = None
    ) -> torch.Tensor:
        """Replace the raw scores q_i . k_j of edited edges by q_i . k'_j."""
        import torch

        return torch.where(edit, torch.matmul(query, context["keys_t"][..., -edit.shape[-1] :]), scores)

    def edit_output(
        self,
        output: torch.Tensor,
        weights: torch.Tensor,
        values: torch.Tensor,
        edit: torch.Tensor,
        context: Any = None,
    ) -> torch.Tensor:
        """Swap value j for v'_j in the rows of edited edges: out_i += sum_j A'_ij (v'_j - v_j)."""
        import torch

        change = (context["values"][:, :, -edit.shape[-1] :] - values).to(weights.dtype)
        return output + torch.matmul(weights * edit, change).to(output.dtype)

    def path_scores(
        self, scores: torch.Tensor, query: torch.Tensor, t: torch.Tensor, context: Any = None
    ) -> torch.Tensor:
        """Every key moved to ``k + t (k' - k)``: the raw scores ``q . k + t (q . k' - q . k)``."""
        import torch

        corrupted = torch.matmul(query, context["keys_t"][..., -scores.shape[-1] :])
        return scores + t.to(scores.dtype) * (corrupted - scores)

    def path_output(
        self, output: torch.Tensor, weights: torch.Tensor, values: torch.Tensor, t: torch.Tensor, context: Any = None
    ) -> torch.Tensor:
        """Every value moved to ``v + t (v' - v)``: ``out + t A (v' - v)``, A the pattern of the moved keys."""
        import torch

        change = (context["values"][:, :, -weights.shape[-1] :] - values).to(weights.dtype)
        return output + t.to(output.dtype) * torch.matmul(weights, change).to(output.dtype)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        """The score changes by ``q_i . (k'_j - k_j)`` and row i's output by ``A_ij (v'_j - v_j)``."""
        return _patching_first_order(tensors, grads, context)

    def reference_prepare(self, record: Callable[[str], Context]) -> Context:
        return record(self.corrupted_prompt)

    def reference_edit(self, call: EagerCall, sources: list[int], targets: list[int]) -> torch.Tensor:
        """Call the eager function again with keys and values of ``sources`` corrupted; keep its ``targets`` rows."""
        corrupt_key, corrupt_value = call.context
        key, value = call.key.clone(), call.value.clone()
        key[:, :, sources] = corrupt_key[:, :, sources]
        value[:, :, sources] = corrupt_value[:, :, sources]
        output = call.output.clone()
        output[:, targets] = call.rerun(key, value)[:, targets]
        return output


def _patching_first_order(
    tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: dict[str, torch.Tensor]
) -> torch.Tensor:
    """Corrupt's estimate, linear in the key and value differences ``k'_j - k_j`` and ``v'_j - v_j`` of the context."""
    score_change = (tensors["query"] @ (context["keys_t"][0] - tensors["keys_t"])).double()
    value_change = (grads["output"] @ (context["values"][0] - tensors["values"]).transpose(-1, -2)).double()
    return -(grads["scores"].double() * score_change + value_change * tensors["weights"].double()).sum(0).tril()


@dataclass(frozen=True)
class AutoCorrupt(Intervention):
    """Corrupt with generated prompts: an edge's effect is the mean over ``n`` corrupted prompts, its spread kept.

    Built by :meth:`Corrupt.auto` (or ``corrupted_prompt="auto"``). When an engine prepares it, it builds its
    prompts with ``corrupted_prompts`` from the engine's tokenizer and prompt,
    never using the metric's texts (answer, distractor) or ``avoid`` as replacements; a prompt with nothing
    replaceable fails there, before any forward pass. Each distinct prompt runs once (its keys and values),
    and the engine measures ``Corrupt(prompt)`` for each on an engine derived from its own, sharing its clean run
    (:class:`Samples`): an edge's ``effect`` is the mean over the samples, ``effect_std`` their sample standard
    deviation (n - 1 in the denominator; none for n = 1), ``damage`` the mean damage. A graph's
    ``provenance["corruption"]`` holds the plan: the prompts, what changed where, and the positions that could
    not be replaced, with the reason.

    The first-order estimate of Corrupt is linear in the key and value differences ``k'_j - k_j`` and
    ``v'_j - v_j``, so the mean of the ``n`` estimates is Corrupt's estimate with the mean corrupted keys and
    values: one forward and one backward pass. The integrated estimate is not linear in them (the gradients are
    read along each prompt's own path), so the engine averages the samples' integrated estimates instead; the mean
    keys and values would be a path to no prompt at all.

    Args:
        n: the number of corrupted prompts, >= 1.
        seed: the seed of the generator.
        avoid: texts never used as replacements, beyond the metric's own.
        keep: words that stay unchanged.
        kinds: the kinds replaced (``"name"``, ``"number"``, ``"word"``); None: chosen by the prompt.
        consistent: the same word gets the same replacement throughout a prompt.
        code: whether the prompt is code (None: detected).
    """

    n: int = 4
    seed: int = 0
    avoid: Collection[str] = ()  # any collection of texts (one string: one text); stored as a tuple
    keep: Collection[str] = ()
    kinds: Collection[str] | None = None
    consistent: bool = True
    code: bool | None = None
    kind: ClassVar[str] = "corrupt"
    edit_tensors: ClassVar[int] = 3
    saves: ClassVar[tuple[AttentionTensor, ...]] = Corrupt.saves
    estimate_steps: ClassVar[int] = Corrupt.estimate_steps

    def __post_init__(self) -> None:
        avoid, keep, kinds = check_corruption_args(
            self.n, self.seed, avoid=self.avoid, keep=self.keep, kinds=self.kinds, consistent=self.consistent,
            code=self.code,
        )  # fmt: skip
        for name, value in (("avoid", avoid), ("keep", keep), ("kinds", kinds)):
            object.__setattr__(self, name, value)  # tuples: the intervention stays hashable

    def describe(self) -> str:
        return f"auto-corrupt: mean over {self.n} generated corrupted prompts (seed {self.seed})"

    def params(self) -> dict[str, Any]:
        """``{"kind": "corrupt", "corrupted_prompt": "auto", "n": 4, "seed": 0}``, and arguments not at their default.

        ``build_intervention(**params)`` builds it back; front ends show it as the corrupted prompt ``"auto"``.
        """
        given = {"kind": self.kind, "corrupted_prompt": AUTO, "n": self.n, "seed": self.seed}
        for f in fields(self):
            value = getattr(self, f.name)
            if f.name not in given and value != f.default:
                given[f.name] = list(value) if isinstance(value, tuple) else value
        return given

    def plan(self, engine: EngineView) -> CorruptionPlan:
        """The corrupted prompts for the engine's prompt, tokenizer and metric (no model work)."""
        return corrupted_prompts(
            engine.tokenizer,
            engine.prompt,
            self.n,
            self.seed,
            avoid=(*self.avoid, *metric_texts(engine.metric)),
            keep=self.keep,
            kinds=self.kinds,
            consistent=self.consistent,
            code=self.code,
        )

    def prepare(self, engine: EngineView) -> Samples:
        """The plan (raising before any model work), then one run of each distinct prompt (Corrupt's ``prepare``).

        Its own context, for :meth:`first_order`, is the mean corrupted keys and values over the samples.
        """
        plan = self.plan(engine)
        samples = tuple(Corrupt(prompt) for prompt in plan.prompts)
        prepared = {sample: sample.prepare(engine) for sample in dict.fromkeys(samples)}
        contexts = tuple(prepared[sample] for sample in samples)
        mean = {
            layer: {name: _mean([c[layer][name] for c in contexts]) for name in ("keys_t", "values")}
            for layer in contexts[0]
        }
        found = [k for k in plan.replaced_kinds if k in plan.kinds]  # the kinds this prompt holds, not all allowed
        what = " and ".join({"name": "names", "number": "numbers", "word": "words"}[k] for k in found)
        text = f"auto-corrupt: mean over {len(samples)} corrupted prompts ({what} replaced)"
        provenance = {"corruption": plan.provenance(), "intervention_text": text}
        return Samples(samples, contexts, mean, provenance)

    def first_order(
        self, tensors: dict[str, torch.Tensor], grads: dict[str, torch.Tensor], context: Any = None
    ) -> torch.Tensor:
        """Corrupt's estimate with the mean corrupted keys and values: the mean of the samples' estimates."""
        return _patching_first_order(tensors, grads, context)


def _mean(tensors: list[torch.Tensor]) -> torch.Tensor:
    """The mean of equal-shaped tensors, summed in float32 at least and returned in their dtype."""
    import torch

    stacked = torch.stack(tensors)
    return stacked.to(torch.promote_types(stacked.dtype, torch.float32)).mean(0).to(stacked.dtype)


INTERVENTIONS: dict[str, type[Intervention]] = {
    "zero": Zero,
    "dampen": Dampen,
    "crop": Crop,
    "corrupt": Corrupt,
    "knockout": Knockout,
}
"""The interventions by ``kind``: what the CLI, the widget's menu and :func:`build_intervention` offer."""


def intervention_menu() -> list[dict[str, Any]]:
    """The interventions for menus: name, the first line of the docstring, and parameters with their defaults.

    Examples:
        >>> [item["name"] for item in intervention_menu()]
        ['zero', 'dampen', 'crop', 'corrupt', 'knockout']
        >>> intervention_menu()[1]["parameters"]
        {'alpha': 0.5}
    """
    return [
        {
            "name": name,
            "description": (cls.__doc__ or name).strip().splitlines()[0],
            "parameters": {f.name: f.default for f in fields(cls)},
        }
        for name, cls in INTERVENTIONS.items()
    ]


def build_intervention(name: str, **parameters: Any) -> Intervention:
    """The intervention called ``name`` in :data:`INTERVENTIONS`, built from its parameters.

    A parameter given as None keeps its default, so a caller may pass every parameter it has
    (``alpha=..., corrupted_prompt=...``) and set those the intervention does not take to None.

    Raises:
        InfoFlowError: an unknown name, a parameter the intervention does not take, or a bad value.

    Examples:
        >>> build_intervention("dampen", alpha=0.3, corrupted_prompt=None)
        Dampen(alpha=0.3)
    """
    if name not in INTERVENTIONS:
        raise InfoFlowError(f"intervention must be one of {', '.join(INTERVENTIONS)}; got {name!r}.")
    return INTERVENTIONS[name].build(**{key: value for key, value in parameters.items() if value is not None})


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
