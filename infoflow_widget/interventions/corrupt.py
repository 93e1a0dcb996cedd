"""Interventions that patch the cut edges from another prompt: Corrupt, and AutoCorrupt (the mean of Corrupts)."""

from __future__ import annotations

from collections.abc import Callable, Collection, Hashable
from dataclasses import dataclass, fields
from typing import TYPE_CHECKING, Any, ClassVar

from ..core.errors import InfoFlowError, PromptLengthError
from ..text.corruption import CorruptionPlan, check_corruption_args, corrupted_prompts, metric_texts

if TYPE_CHECKING:
    import torch


from .base import AttentionTensor, Context, EagerCall, EngineView, Intervention, Samples, Site

AUTO_PROMPTS = "auto"
"""The corrupted prompt that asks for generated ones: ``build_intervention("corrupt", corrupted_prompt="auto")``
(the CLI's ``--corrupted auto``, the widget's corrupted-prompt box) is :meth:`Corrupt.auto`."""


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
        if isinstance(prompt, str) and prompt.strip().lower() == AUTO_PROMPTS:
            return AutoCorrupt.build(**{k: v for k, v in parameters.items() if k != "corrupted_prompt"})
        sampling = [f.name for f in fields(AutoCorrupt) if f.name in parameters]
        if sampling:
            raise InfoFlowError(
                f"corrupt takes {', '.join(sampling)} only with corrupted_prompt={AUTO_PROMPTS!r} (generated prompts)."
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
        given = {"kind": self.kind, "corrupted_prompt": AUTO_PROMPTS, "n": self.n, "seed": self.seed}
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
