"""Metrics: scalars computed from the final position's logits.

The effect of an edge is ``metric(clean) - metric(intervened)``: positive means the connection
helps the metric (drawn green), negative that it hurts (red). A metric is prepared once per
tokenizer, which checks its strings before any model work, and then maps a ``(batch, vocab)``
tensor of final-position logits (plus the clean run's ``(vocab,)`` logits) to ``(batch,)`` values.
"""

from __future__ import annotations

import warnings
from collections.abc import Callable
from dataclasses import dataclass, field
from typing import TYPE_CHECKING, Any, ClassVar

from ..core.errors import InfoFlowError

if TYPE_CHECKING:
    import torch

ScoreFn = Callable[["torch.Tensor", "torch.Tensor"], "torch.Tensor"]

SPACING_MARGIN = 2.0
"""Logits by which the clean run must prefer the other spacing of a token string (``" Mary"`` for ``"Mary"``, or
the reverse) for :meth:`Metric.check_clean` to warn: e**2, over 7 times as likely, is no close call."""


def single_token(tokenizer: Any, text: str, role: str = "target") -> int:
    """Return the id of ``text``, which must be exactly one token (without special tokens)."""
    if not isinstance(text, str) or not text:
        raise InfoFlowError(f"The {role} must be a non-empty string; got {text!r}.")
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    if len(ids) != 1:
        pieces = [tokenizer.decode([i]) for i in ids]
        raise InfoFlowError(
            f"The {role} {text!r} is {len(ids)} tokens for this tokenizer ({pieces}), not one. "
            "Pick a string that is a single token; mind the leading space (' Mary', not 'Mary')."
        )
    return ids[0]


def spacing_warning(tokenizer: Any, text: str, role: str, clean_logits: torch.Tensor) -> str | None:
    """What to warn when ``text`` spelled with (or without) a leading space is one token the clean run much prefers."""
    other = text[1:] if text.startswith(" ") else f" {text}"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]
    other_ids = tokenizer(other, add_special_tokens=False)["input_ids"] if other else []
    if len(ids) != 1 or len(other_ids) != 1 or ids == other_ids:
        return None
    mine, theirs = float(clean_logits[ids[0]]), float(clean_logits[other_ids[0]])
    if not theirs - mine > SPACING_MARGIN:
        return None
    problem = "may be missing its leading space" if other.startswith(" ") else "may have one leading space too many"
    return (
        f"The {role} {text!r} {problem}: {other!r} is one token too, and the clean run scores it "
        f"{theirs - mine:.1f} logits higher ({theirs:.2f} vs {mine:.2f}). Did you mean {other!r}?"
    )


@dataclass(frozen=True)
class Metric:
    """Base class of the metrics."""

    first_order: ClassVar[bool] = True
    """Whether the gradient at the clean run says anything, so that attribution estimates mean something."""

    def prepare(self, tokenizer: Any) -> ScoreFn:
        """Check the metric against ``tokenizer`` and return ``fn(logits, clean_logits) -> values``."""
        raise InfoFlowError(f"{type(self).__name__} is not a usable metric.")

    def check_clean(self, tokenizer: Any, clean_logits: torch.Tensor) -> None:
        """Warn (``UserWarning``) when the clean run prefers the other spacing of a token string by > SPACING_MARGIN.

        The engine calls it once, after the clean run: ``"Mary"`` for ``" Mary"`` is one token too and runs
        without complaint, but measures a prediction the model hardly makes.
        """
        for role in ("answer", "distractor", "target"):
            text = getattr(self, role, None)
            if isinstance(text, str) and (message := spacing_warning(tokenizer, text, role, clean_logits)):
                warnings.warn(message, UserWarning, stacklevel=3)

    def describe(self) -> str:
        """A short text naming the metric."""
        return type(self).__name__

    def params(self) -> dict[str, Any]:
        """The metric as plain JSON data."""
        return {
            "kind": type(self).__name__,
            **{k: v for k, v in self.__dict__.items() if isinstance(v, (str, int, float))},
        }


@dataclass(frozen=True)
class LogitDiff(Metric):
    """logit(answer) - logit(distractor) at the last position (the IOI metric)."""

    answer: str
    distractor: str

    def prepare(self, tokenizer: Any) -> ScoreFn:
        a = single_token(tokenizer, self.answer, "answer")
        d = single_token(tokenizer, self.distractor, "distractor")
        if a == d:
            raise InfoFlowError(f"The answer and the distractor are the same token ({self.answer!r}).")
        return lambda logits, clean: logits[:, a] - logits[:, d]

    def describe(self) -> str:
        return f"logit({self.answer!r}) - logit({self.distractor!r})"


@dataclass(frozen=True)
class Logit(Metric):
    """The logit of one target token."""

    target: str

    def prepare(self, tokenizer: Any) -> ScoreFn:
        t = single_token(tokenizer, self.target)
        return lambda logits, clean: logits[:, t]

    def describe(self) -> str:
        return f"logit({self.target!r})"


@dataclass(frozen=True)
class LogProb(Metric):
    """The log-probability of one target token."""

    target: str

    def prepare(self, tokenizer: Any) -> ScoreFn:
        t = single_token(tokenizer, self.target)
        return lambda logits, clean: logits.float().log_softmax(-1)[:, t]

    def describe(self) -> str:
        return f"log p({self.target!r})"


@dataclass(frozen=True)
class Prob(Metric):
    """The probability of one target token."""

    target: str

    def prepare(self, tokenizer: Any) -> ScoreFn:
        t = single_token(tokenizer, self.target)
        return lambda logits, clean: logits.float().softmax(-1)[:, t]

    def describe(self) -> str:
        return f"p({self.target!r})"


@dataclass(frozen=True)
class KLDivergence(Metric):
    """Minus the KL divergence KL(clean || intervened) of the next-token distribution.

    Its clean value is 0, so an edge's effect is the KL divergence its intervention causes: never
    negative, larger for connections that matter more to the prediction. Needs no answer. The clean
    run is its maximum, where its gradient vanishes: it has no first-order (attribution) estimates.
    """

    first_order: ClassVar[bool] = False

    def prepare(self, tokenizer: Any) -> ScoreFn:
        def score(logits: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
            clean_logp = clean.float().log_softmax(-1)
            logp = logits.float().log_softmax(-1)
            return -(clean_logp.exp() * (clean_logp - logp)).sum(-1)

        return score

    def describe(self) -> str:
        return "-KL(clean || intervened) of the next token"


@dataclass(frozen=True)
class Custom(Metric):
    """A user function from final-position logits ``(batch, vocab)`` to one value per row ``(batch,)``."""

    fn: Callable[[torch.Tensor], torch.Tensor] = field(compare=False)
    name: str = "custom"

    def prepare(self, tokenizer: Any) -> ScoreFn:
        def score(logits: torch.Tensor, clean: torch.Tensor) -> torch.Tensor:
            values = self.fn(logits)
            if not hasattr(values, "shape") or tuple(values.shape) != (logits.shape[0],):
                raise InfoFlowError(
                    f"The custom metric {self.name!r} must return a tensor of shape (batch,) = ({logits.shape[0]},) "
                    f"from logits of shape {tuple(logits.shape)}; "
                    f"got {getattr(values, 'shape', type(values).__name__)}."
                )
            return values

        return score

    def describe(self) -> str:
        return self.name


def as_metric(
    metric: Metric | Callable[..., Any] | None, answer: str | None = None, distractor: str | None = None
) -> Metric:
    """Turn the user's choice into a Metric: a Metric, a callable, an answer (and distractor), or KL."""
    if metric is not None and (answer is not None or distractor is not None):
        raise InfoFlowError("Give either a metric or an answer/distractor pair, not both.")
    if isinstance(metric, Metric):
        return metric
    if callable(metric):
        return Custom(metric, getattr(metric, "__name__", "custom"))
    if metric is not None:
        raise InfoFlowError(f"A metric must be a Metric or a callable on logits; got {type(metric).__name__}.")
    if answer is not None and distractor is not None:
        return LogitDiff(answer, distractor)
    if answer is not None:
        return LogProb(answer)
    if distractor is not None:
        raise InfoFlowError("A distractor needs an answer to compare with.")
    return KLDivergence()


def check_first_order(metric: Metric) -> None:
    """A metric whose gradient at the clean run means something (attribution needs one), or an error."""
    if not metric.first_order:
        raise InfoFlowError(
            f"Attribution estimates need a metric whose gradient at the clean run means something; {metric.describe()} "
            "is at its optimum there, so every estimate would be zero. Give an answer (and a distractor) for a "
            "logit-difference or log-probability metric, or use an exact strategy such as Full()."
        )
