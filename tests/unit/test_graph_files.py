"""Saving and loading graphs: ``FlowGraph.save`` checks its destination first, ``FlowGraph.load`` every field.

What the CLI makes of a bad ``--out``: tests/integration/test_cli_input.py.
"""

from __future__ import annotations

import json
import math
import os

import pytest
from conftest import unwritable

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node


def small_graph() -> FlowGraph:
    """4 tokens, one node each, three edges: the graph every test below saves or tampers with."""
    return FlowGraph(
        tokens=["The", " cat", " sat", "."],
        nodes=[Node(i, i + 1) for i in range(4)],
        edges=[Edge(0, 1, 0.5), Edge(1, 3, -0.25, exact=False), Edge(2, 3, 0.125, level=1)],
        clean_metric=1.5,
        provenance={"model": "tiny", "intervention": {"kind": "zero"}},
        stats={"forward_passes": 3},
    )


# --- FlowGraph.save checks its destination first ------------------------------------------------------------------


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("proc", "no file can be written in /proc"),
        ("folder", "is a folder"),
        ("missing-folder", "does not exist"),
        ("parent-is-a-file", "is not a folder"),
    ],
)
def test_save_to_an_unwritable_destination_is_an_infoflow_error(tmp_path, case, message):
    from infoflow_widget.core.files import check_destination
    from infoflow_widget.graph.flowgraph import save_suffixes

    path = unwritable(tmp_path, case)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for attempt in (lambda p: check_destination(p, save_suffixes()), small_graph().save):
        with pytest.raises(InfoFlowError, match=message):
            attempt(path)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, "nothing written, nothing left"


def test_destination_is_checked_before_the_graph_is_rendered(tmp_path):
    """A graph that cannot be written as JSON (a NaN effect) to a bad place: the place is what the error names."""
    graph = small_graph()
    graph.edges.append(Edge(0, 0, math.nan))
    with pytest.raises(InfoFlowError, match="does not exist"):
        graph.save(tmp_path / "missing" / "g.json")


@pytest.mark.parametrize("name", ["g.JSON", "g.Csv", "g.HTML"])
def test_suffixes_are_case_insensitive(tmp_path, name):
    from infoflow_widget.core.files import check_destination
    from infoflow_widget.graph.flowgraph import save_suffixes

    path = tmp_path / name
    assert check_destination(path, save_suffixes()) == path
    assert os.listdir(tmp_path) == [], "the check leaves no probe file"
    assert small_graph().save(path) == path
    assert os.listdir(tmp_path) == [name]
    if name == "g.JSON":
        assert FlowGraph.load(path) == small_graph()


def test_unknown_suffix_lists_the_known_ones(tmp_path):
    from infoflow_widget.core.files import check_destination
    from infoflow_widget.graph.flowgraph import save_suffixes

    for name in ("g.parquet", "graph", "g.json.bak"):
        with pytest.raises(InfoFlowError, match=r"\.json, \.csv, \.html"):
            check_destination(tmp_path / name, save_suffixes())


# --- FlowGraph.load validates every field -------------------------------------------------------------------------


def tampered(change) -> dict:
    d = small_graph().to_dict()
    change(d)
    return d


def _set(path: str, value):
    """A change that sets the field at a dotted path such as ``edges.0.exact`` (list items by index)."""

    def change(d):
        *parents, last = path.split(".")
        for part in parents:
            d = d[int(part)] if isinstance(d, list) else d[part]
        d[int(last) if isinstance(d, list) else last] = value

    return change


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = {"x": value}
    return value


BAD_FIELDS = [
    # (field to set, value, what the message must say)
    ("nodes.0.start", -1, r"nodes\[0\]\.start must be a whole number >= 0; got -1"),
    ("nodes.1.end", 0, r"nodes\[1\] is the span 1:0"),  # inverted
    ("nodes.2.end", 2, r"nodes\[2\] is the span 2:2"),  # empty
    ("nodes.3.end", 9, r"nodes\[3\] is the span 3:9, .*<= 4"),  # past the tokens
    ("nodes.0.end", 1.5, r"nodes\[0\]\.end must be a whole number"),  # fractional
    ("nodes.0", [0, 1], r"nodes\[0\] must be an object"),
    ("edges.0.source", 0.5, r"edges\[0\]\.source must be a whole number >= 0; got 0\.5"),
    ("edges.0.target", True, r"edges\[0\]\.target must be a whole number"),
    ("edges.1.target", 4, r"edges\[1\]\.target must be a node index below 4 \(there are 4 nodes\)"),
    ("edges.0.exact", "false", r'edges\[0\]\.exact must be true or false; got "false"'),
    ("edges.0.exact", 0, r"edges\[0\]\.exact must be true or false; got 0"),
    ("edges.2.effect", "abc", r'edges\[2\]\.effect must be a number .*; got "abc"'),
    ("edges.2.effect", None, r"edges\[2\]\.effect must be a number .*; got null"),
    ("edges.2.effect", "0.5", r"edges\[2\]\.effect must be a number"),  # numbers are not strings
    ("edges.2.effect", 10**400, r"edges\[2\]\.effect must be a number within the range of a float"),
    ("edges.1.level", -1, r"edges\[1\]\.level must be a whole number"),
    ("edges.1.level", "1", r"edges\[1\]\.level must be a whole number"),
    ("edges.0.damage", "big", r'edges\[0\]\.damage must be a number .*; got "big"'),
    ("edges.0.effect_std", True, r"edges\[0\]\.effect_std must be a number"),
    ("edges.0.flags", "sink", r'edges\[0\]\.flags must be a list of names such as \["sink"\]; got "sink"'),
    ("edges.0.flags", ["sink", 3], r"edges\[0\]\.flags\[1\] must be a non-empty string; got 3"),
    ("tokens", "The cat sat.", r'tokens must be a list; got "The cat sat\."'),
    ("tokens.1", 5, r"tokens\[1\] must be a string; got 5"),
    ("nodes", {"0": {"start": 0, "end": 1}}, r"nodes must be a list"),
    ("clean_metric", "high", r'clean_metric must be a number .*; got "high"'),
    ("provenance", "zero", r"provenance must be an object"),
    ("stats", nested(100), r"stats\.x\.x.* is nested more than 32 levels deep"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_FIELDS, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_FIELDS])
def test_a_bad_field_is_named(tmp_path, field, value, message):
    d = tampered(_set(field, value))
    with pytest.raises(InfoFlowError, match=message):
        FlowGraph.from_dict(d)
    if value != 10**400:  # an int of 401 digits is valid JSON too, but keep the file small
        path = tmp_path / "g.json"
        path.write_text(json.dumps(d), encoding="utf-8")
        with pytest.raises(InfoFlowError, match=message):
            FlowGraph.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format": "infoflow-graph/1", "tokens": ["caf\xe9"]}', r"not UTF-8 text \(byte 46 is 0xe9\)"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"clean_metric": ' + b"9" * 5000 + b"}", "not a saved graph"),  # more digits than int() reads
        (b"{not json", "not valid JSON"),
        (b'"a string"', "A saved FlowGraph is a dict"),
    ],
    ids=["latin-1", "deeply-nested", "huge-int", "not-json", "not-an-object"],
)
def test_unreadable_files_are_infoflow_errors(tmp_path, content, message):
    path = tmp_path / "g.json"
    path.write_bytes(content)
    with pytest.raises(InfoFlowError, match=message):
        FlowGraph.load(path)
    with pytest.raises(InfoFlowError, match="Cannot read"):
        FlowGraph.load(tmp_path / "missing.json")


def test_nan_and_infinity_as_the_json_exports_write_them_load(tmp_path):
    """The widget's JSON download writes non-finite numbers as the strings "NaN", "Infinity", "-Infinity"."""
    d = small_graph().to_dict()
    d["clean_metric"] = "NaN"
    d["edges"][0]["effect"], d["edges"][1]["effect"], d["edges"][2]["effect"] = "Infinity", "-Infinity", "NaN"
    path = tmp_path / "download.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    loaded = FlowGraph.load(path)
    assert math.isnan(loaded.clean_metric)
    assert [e.effect for e in loaded.edges][:2] == [math.inf, -math.inf] and math.isnan(loaded.edges[2].effect)
    assert loaded.edges[1].exact is False and loaded.edges[2].level == 1
    # Python's own json writes bare NaN / Infinity: those are numbers and load too.
    path.write_text(json.dumps({**small_graph().to_dict(), "clean_metric": math.inf}), encoding="utf-8")
    assert FlowGraph.load(path).clean_metric == math.inf


def test_a_valid_graph_still_round_trips_and_extra_keys_are_ignored(tmp_path):
    d = small_graph().to_dict()
    d["edges"][0]["note"] = "added by hand"
    assert FlowGraph.from_dict(d) == small_graph()
    path = tmp_path / "g.json"
    path.write_bytes(b"\xef\xbb\xbf" + small_graph().to_json().encode())  # a UTF-8 byte-order mark
    assert FlowGraph.load(path) == small_graph()
