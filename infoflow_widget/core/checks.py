"""Checks of a request's arguments, made before any model work: one place for the engine and the front ends above it.

Each returns the checked value (or nothing) and raises ``InfoFlowError`` with a message
that says what was expected.
"""

from __future__ import annotations

from collections.abc import Collection, Sequence
from typing import Any, cast

from .errors import InfoFlowError, is_whole


def check_progress_and_cancel(progress: Any, cancel: Any) -> None:
    """A ``progress`` (True, False, None or a callable) and a ``cancel`` (an event or None), or an error."""
    if progress is not None and not isinstance(progress, bool) and not callable(progress):
        raise InfoFlowError(
            f"progress must be True, False or a callable progress(done, total, desc); got {progress!r}."
        )
    if cancel is not None and not callable(getattr(cancel, "is_set", None)):
        raise InfoFlowError(f"cancel must be a threading.Event (or None); got {cancel!r}.")


def check_layers(layers: Sequence[int] | None, count: int) -> list[int]:
    """The chosen layer indices, sorted and distinct (all ``count`` layers for None), or an error."""
    if layers is None:
        return list(range(count))
    chosen = sorted({int(layer) for layer in layers})  # numpy integers become ints: saved as plain JSON
    bad = [layer for layer in chosen if not 0 <= layer < count]
    if not chosen or bad:
        raise InfoFlowError(f"Layers {bad or list(layers)} are out of range: this model has layers 0..{count - 1}.")
    return chosen


def check_edge(sources: Any, targets: Any, n: int) -> tuple[list[int], list[int]]:
    """An edge's (sources, targets) as sorted position lists, checked against a prompt of ``n`` tokens."""
    found: list[list[int]] = []
    ends: tuple[tuple[str, Any], ...] = (("source", sources), ("target", targets))
    for role, given in ends:
        many = isinstance(given, (Sequence, set, frozenset)) and not isinstance(given, str)
        positions: Collection[Any] = cast("Collection[Any]", given) if many else [given]
        if not positions or not all(is_whole(p, minimum=None) for p in positions):
            raise InfoFlowError(f"The {role} must be a token position or a list of them; got {given!r}.")
        bad = [p for p in positions if not 0 <= p < n]
        if bad:
            raise InfoFlowError(f"The {role} position {bad[0]} is out of range: this prompt has positions 0..{n - 1}.")
        found.append(sorted({int(p) for p in positions}))
    if found[0][0] > found[1][-1]:
        raise InfoFlowError(
            f"The source {found[0]} comes after the target {found[1]}: a position attends only to itself and "
            "earlier positions, so there is no such edge. Swap them?"
        )
    return found[0], found[1]


def check_text(text: Any, role: str) -> None:
    """A non-blank text, or an error naming its ``role`` (the prompt, the corrupted prompt)."""
    if not isinstance(text, str) or not text.strip():
        raise InfoFlowError(f"The {role} is empty: give some text to analyse.")


def context_length(config: Any) -> int | None:
    """The model's context length from its config, or None when it does not say."""
    for name in ("max_position_embeddings", "n_positions", "n_ctx"):
        value = getattr(config, name, None)
        if is_whole(value, minimum=1):
            return value
    return None
