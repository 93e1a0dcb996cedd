"""Pure helpers on spans of token positions: checking, halving, partitioning by delimiters, pairing.

A span is a ``Node`` ``[start, end)``. Nothing here touches a model.
"""

from __future__ import annotations

from collections.abc import Sequence

from ..core.errors import InfoFlowError
from ..graph.flowgraph import Node

Pair = tuple[Node, Node]
"""An edge between spans: (source span, target span), with ``source.start <= target.start``."""


def check_span(span: Node, n: int | None = None) -> Node:
    """Return ``span`` if it is a non-empty span inside ``0..n``.

    Raises:
        InfoFlowError: the span is empty, or lies outside the prompt's positions.
    """
    if span.end <= span.start:
        raise InfoFlowError(f"The span {span.label} is empty: a span needs start < end.")
    if span.start < 0 or (n is not None and span.end > n):
        raise InfoFlowError(f"The span {span.label} lies outside the prompt's positions 0..{n}.")
    return span


def check_pair(source: Node, target: Node, n: int | None = None) -> Pair:
    """Return ``(source, target)`` if both spans are valid and the source does not start after the target.

    Raises:
        InfoFlowError: a span is empty or out of range, or the source starts after the target.
    """
    check_span(source, n)
    check_span(target, n)
    if source.start > target.start:
        raise InfoFlowError(
            f"The source span {source.label} starts after the target span {target.label}: attention is causal, "
            "so information only flows from earlier to later positions."
        )
    return source, target


def tokens_of(span: Node) -> list[Node]:
    """The single-token spans of ``span``."""
    return [Node(p, p + 1) for p in range(span.start, span.end)]


def halves(span: Node) -> list[Node]:
    """``span`` split into two halves (the right one takes the odd token); a single token stays whole."""
    if span.end - span.start < 2:
        return [span]
    mid = (span.start + span.end) // 2
    return [Node(span.start, mid), Node(mid, span.end)]


def cut_positions(tokens: Sequence[str], delimiters: Sequence[str]) -> set[int]:
    r"""The positions of the tokens that end a part: each holds the last character of a delimiter.

    Delimiters are found in the joined token text, so one that spans two tokens ends at the second,
    and a token holding several delimiters (``"\n\n\n"``) still ends just one part.
    """
    text = "".join(tokens)
    owner = [p for p, token in enumerate(tokens) for _ in token]  # character index -> token position
    cuts: set[int] = set()
    for delimiter in delimiters:
        found = text.find(delimiter)
        while found != -1:
            cuts.add(owner[found + len(delimiter) - 1])
            found = text.find(delimiter, found + len(delimiter))
    return cuts


def partition(span: Node, cuts: set[int]) -> list[Node]:
    """``span`` cut after each position in ``cuts``; without a cut inside it, ``[span]``."""
    parts: list[Node] = []
    start = span.start
    for p in sorted(c for c in cuts if span.start <= c < span.end - 1):
        parts.append(Node(start, p + 1))
        start = p + 1
    parts.append(Node(start, span.end))
    return parts


def pairs_within(parts: Sequence[Node]) -> list[Pair]:
    """Every pair of ``parts`` (in position order) with the source not after the target, self-pairs included."""
    return [(parts[a], parts[b]) for b in range(len(parts)) for a in range(b + 1)]


def child_pairs(source: Node, target: Node, source_parts: Sequence[Node], target_parts: Sequence[Node]) -> list[Pair]:
    """The pairs of child spans that refine the pair ``source -> target``.

    A span paired with itself gives the pairs within its parts (c1->c1, c1->c2, c2->c2); two disjoint
    spans give every source part with every target part.
    """
    if source == target:
        return pairs_within(source_parts)
    return [(s, t) for t in target_parts for s in source_parts]
