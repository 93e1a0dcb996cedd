"""Span helpers: halving, delimiter partitions and child pairs, without a model."""

from __future__ import annotations

import pytest

from infoflow_widget import InfoFlowError, Node
from infoflow_widget.search.spans import (
    check_pair,
    check_span,
    child_pairs,
    cut_positions,
    halves,
    pairs_within,
    partition,
    tokens_of,
)


def parts(tokens, delimiters):
    return [n.label for n in partition(Node(0, len(tokens)), cut_positions(tokens, delimiters))]


def test_token_with_several_newlines_ends_one_part():
    tokens = ["a", " b", "\n\n\n\n", "c", "\n\n", "d"]
    assert parts(tokens, ["\n\n"]) == ["0:3", "3:5", "5:6"]


def test_no_delimiter_gives_one_part():
    assert parts(["a", " b", " c"], ["\n"]) == ["0:3"]
    assert parts(["a", " b", " c"], []) == ["0:3"]


def test_delimiter_at_the_last_token_adds_no_empty_part():
    assert parts(["a", ".", "b", "."], ["."]) == ["0:2", "2:4"]


def test_delimiter_across_tokens_ends_at_its_last_character():
    assert parts(["x", "\n", "\n", "y", "z"], ["\n\n"]) == ["0:3", "3:5"]


def test_any_delimiter_of_a_level_cuts():
    assert parts(["a", ".", "b", "!", "c", "?", "d"], [".", "!", "?"]) == ["0:2", "2:4", "4:6", "6:7"]


def test_partition_stays_inside_the_span():
    assert [n.label for n in partition(Node(2, 6), {0, 3, 5, 9})] == ["2:4", "4:6"]


def test_halves():
    assert [n.label for n in halves(Node(0, 14))] == ["0:7", "7:14"]
    assert [n.label for n in halves(Node(3, 6))] == ["3:4", "4:6"]
    assert halves(Node(4, 5)) == [Node(4, 5)]
    assert [n.label for n in tokens_of(Node(2, 5))] == ["2:3", "3:4", "4:5"]


def test_child_pairs_of_a_span_with_itself_and_of_two_spans():
    a, b = Node(0, 2), Node(2, 4)
    within = child_pairs(Node(0, 4), Node(0, 4), [a, b], [a, b])
    assert within == [(a, a), (a, b), (b, b)]
    c, d = Node(4, 6), Node(6, 8)
    across = child_pairs(Node(0, 4), Node(4, 8), [a, b], [c, d])
    assert set(across) == {(a, c), (b, c), (a, d), (b, d)} and len(across) == 4
    assert pairs_within([a]) == [(a, a)]


@pytest.mark.parametrize("span", [Node(3, 3), Node(4, 2)])
def test_empty_span_is_an_error(span):
    with pytest.raises(InfoFlowError, match="empty"):
        check_span(span)


def test_span_outside_the_prompt_and_backwards_pair_are_errors():
    with pytest.raises(InfoFlowError, match="outside"):
        check_span(Node(2, 9), n=5)
    with pytest.raises(InfoFlowError, match="causal"):
        check_pair(Node(3, 4), Node(1, 2))
