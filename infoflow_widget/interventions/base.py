"""Attention-edge interventions: what happens to the attention from query i to key j.

An intervention is a small frozen spec that owns everything about itself, so a new one is a subclass in a
module of this package (``patterns``: the edits of the pattern; ``corrupt``: patching from another prompt) plus
one line in ``registry.INTERVENTIONS``. This module holds what they share:

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

from ..core.errors import InfoFlowError

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
