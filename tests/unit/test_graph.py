"""FlowGraph: selection, views and serialisation, on graphs built by hand."""

from __future__ import annotations

import json
import math
import os
import re
from dataclasses import FrozenInstanceError

import pandas as pd
import plotly.graph_objects as go
import pytest

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.graph.flowgraph import FORMAT, Edge, FlowGraph, Node

TOKENS = ["The", " cat", "\n", "<b>"]


def token_graph() -> FlowGraph:
    """4 tokens, one node each; effects 0.5, -0.75 (largest), a 0.25 self-edge, and two equal 0.1 ties."""
    return FlowGraph(
        tokens=list(TOKENS),
        nodes=[Node(i, i + 1) for i in range(4)],
        edges=[
            Edge(0, 1, 0.5),
            Edge(1, 3, -0.75),
            Edge(2, 2, 0.25),
            Edge(0, 2, 0.1),
            Edge(0, 3, 0.1),
        ],
        clean_metric=5.92613,
        provenance={"model": "tiny", "prompt": "".join(TOKENS), "intervention": {"kind": "zero"}, "metric": "logit"},
        stats={"forward_passes": 6, "interventions": 5, "seconds": 0.25},
    )


def span_graph() -> FlowGraph:
    """2 span nodes over 4 tokens, measured at level 1."""
    return FlowGraph(
        tokens=list(TOKENS),
        nodes=[Node(0, 2), Node(2, 4)],
        edges=[Edge(0, 1, 0.1 + 0.2, level=1), Edge(1, 1, 1e-17, level=1)],
        clean_metric=-1.5,
    )


# --- nodes, edges, repr ---------------------------------------------------------------------------


def test_node_label_and_frozen():
    node = Node(522, 535)
    assert node.label == "522:535"
    with pytest.raises(FrozenInstanceError):
        node.start = 0  # type: ignore[misc]
    assert Edge(0, 1, 0.5).level == 0


def test_repr_is_short_and_counts():
    assert repr(token_graph()) == "FlowGraph(4 tokens, 4 nodes, 5 edges, clean_metric=5.926)"


# --- selection ------------------------------------------------------------------------------------


def test_ranked_by_abs_effect_with_stable_ties():
    g = token_graph()
    ranked = g.ranked()
    assert [e.effect for e in ranked] == [-0.75, 0.5, 0.25, 0.1, 0.1]
    # the two 0.1 edges keep their original order
    assert [(e.source, e.target) for e in ranked[3:]] == [(0, 2), (0, 3)]
    assert g.edges[0] == Edge(0, 1, 0.5), "ranked() must not reorder the graph's own edges"


def test_ranked_puts_nan_last():
    g = token_graph()
    g.edges.insert(0, Edge(3, 3, math.nan))
    assert math.isnan(g.ranked()[-1].effect)
    assert g.ranked()[0].effect == -0.75


def test_top_keeps_nodes_tokens_and_records_k():
    g = token_graph()
    top = g.top(2)
    assert [e.effect for e in top.edges] == [-0.75, 0.5]
    assert top.nodes == g.nodes and top.tokens == g.tokens
    assert top.stats == g.stats
    assert top.provenance["top_k"] == 2 and top.provenance["model"] == "tiny"
    assert "top_k" not in g.provenance, "top() must not change the original"
    assert len(g.edges) == 5
    assert top.top(0).edges == []
    assert len(g.top(100).edges) == 5


@pytest.mark.parametrize("k", [-1, 1.5, "3", None])
def test_top_rejects_bad_k(k):
    with pytest.raises(InfoFlowError, match="k >= 0"):
        token_graph().top(k)


def test_filter_keeps_abs_effect_at_least_threshold():
    g = token_graph()
    kept = g.filter(0.25)
    assert [e.effect for e in kept.edges] == [0.5, -0.75, 0.25]  # original order, threshold inclusive
    assert kept.nodes == g.nodes
    assert len(g.filter(0).edges) == 5
    assert g.filter(10).edges == []


@pytest.mark.parametrize("threshold", [-0.1, math.nan, "0.1", True])
def test_filter_rejects_bad_threshold(threshold):
    with pytest.raises(InfoFlowError, match=">= 0"):
        token_graph().filter(threshold)


# --- views ----------------------------------------------------------------------------------------


def test_edge_text_joins_span_tokens():
    g = span_graph()
    assert g.edge_text(g.edges[0]) == ("The cat", "\n<b>")
    t = token_graph()
    assert t.edge_text(t.edges[1]) == (" cat", "<b>")


@pytest.mark.parametrize("index", [-1, 99, True, "0"])
def test_node_text_rejects_a_node_the_graph_lacks(index):
    with pytest.raises(InfoFlowError, match="out of range"):
        token_graph().node_text(index)


def test_to_pandas_columns_and_ranks():
    df = token_graph().to_pandas()
    assert list(df.columns) == [
        "source", "target", "source_span", "target_span", "source_text", "target_text",
        "effect", "abs_effect", "level", "exact", "rank", "damage", "flags", "effect_std",
    ]  # fmt: skip
    assert df["rank"].tolist() == [1, 2, 3, 4, 5]
    assert df["effect"].tolist() == [-0.75, 0.5, 0.25, 0.1, 0.1]
    assert df["abs_effect"].tolist() == [0.75, 0.5, 0.25, 0.1, 0.1]
    first = df.iloc[0]
    assert (first["source"], first["target"], first["source_span"], first["target_span"]) == (1, 3, "1:2", "3:4")
    assert (first["source_text"], first["target_text"]) == (" cat", "<b>")


def trusted_graph() -> FlowGraph:
    """token_graph() with what the engine attaches: damage on exact edges, flags, one averaged effect."""
    g = token_graph()
    g.edges[0] = Edge(0, 1, 0.5, damage=0.25, flags=("sink",))
    g.edges[1] = Edge(1, 3, -0.75, damage=1e-17, flags=("sink", "damage"), effect_std=0.125)
    g.edges[2] = Edge(2, 2, 0.25, exact=False)  # an estimate: no damage
    return g


def test_trust_fields_in_pandas():
    df = trusted_graph().to_pandas()
    assert df["flags"].tolist() == ["sink,damage", "sink", "", "", ""]
    assert df["damage"].tolist()[:2] == [1e-17, 0.25] and df["damage"][2:].isna().all()
    assert df["effect_std"][0] == 0.125 and df["effect_std"][1:].isna().all()


def test_trust_fields_are_saved_only_when_known_and_round_trip(tmp_path):
    g = trusted_graph()
    edges = g.to_dict()["edges"]
    assert edges[0] == {"source": 0, "target": 1, "effect": 0.5, "level": 0, "exact": True, "damage": 0.25,
                        "flags": ["sink"]}  # fmt: skip
    assert edges[1]["flags"] == ["sink", "damage"] and edges[1]["effect_std"] == 0.125
    assert edges[2] == {"source": 2, "target": 2, "effect": 0.25, "level": 0, "exact": False}
    assert FlowGraph.from_dict(g.to_dict()) == g
    loaded = FlowGraph.load(g.save(tmp_path / "g.json"))
    assert loaded == g and loaded.edges[1].damage == 1e-17 and loaded.edges[1].flags == ("sink", "damage")
    # A graph saved before these fields existed loads with none of them.
    assert FlowGraph.from_dict(token_graph().to_dict()).edges[0] == Edge(0, 1, 0.5)


@pytest.mark.parametrize("field", ["damage", "effect_std"])
def test_a_non_finite_trust_value_is_named_on_save(tmp_path, field):
    g = token_graph()
    g.edges.append(Edge(0, 0, 0.1, **{field: math.nan}))
    with pytest.raises(InfoFlowError, match=rf"edges\[5\]\.{field} = nan"):
        g.save(tmp_path / "g.json")


def test_to_pandas_of_empty_graph_has_columns():
    df = token_graph().top(0).to_pandas()
    assert df.empty and "rank" in df.columns and "effect" in df.columns


def test_matrix_rows_are_targets_columns_are_sources():
    m = token_graph().matrix()
    assert len(m) == 4 and all(len(row) == 4 for row in m)
    assert m[1][0] == 0.5  # edge 0 -> 1 sits in row 1 (target), column 0 (source)
    assert m[0][1] is None
    assert m[3][1] == -0.75
    assert m[2][2] == 0.25
    assert sum(v is not None for row in m for v in row) == 5


def test_matrix_keeps_the_larger_effect_when_edges_share_a_cell():
    g = FlowGraph(["a", "b"], [Node(0, 1), Node(1, 2)], [Edge(0, 1, 0.9), Edge(0, 1, -0.1, level=1)], 0.0)
    assert g.matrix()[1][0] == 0.9


def test_heatmap_is_a_centred_diverging_figure():
    g = token_graph()
    fig = g.heatmap()
    assert isinstance(fig, go.Figure)
    trace = fig.data[0]
    assert trace.type == "heatmap"
    assert trace.zmid == 0
    assert trace.colorscale[0][1] == "#d73027" and trace.colorscale[-1][1] == "#1a9850"
    assert [list(row) for row in trace.z] == g.matrix()
    assert list(trace.y) == ["0:1", "1:2", "2:3", "3:4"]
    assert trace.x[1] == "1:2 ·cat"
    assert "&lt;b&gt;" in trace.x[3]  # token text is escaped: plotly would read "<b>" as bold
    assert "logit" in fig.layout.title.text and "zero" in fig.layout.title.text and "5.926" in fig.layout.title.text
    assert "effect -0.75" in trace.text[3][1]


# --- serialisation --------------------------------------------------------------------------------


def test_to_dict_has_the_documented_keys():
    d = token_graph().to_dict()
    assert {"tokens", "clean_metric", "nodes", "edges", "stats", "provenance", "format"} <= d.keys()
    assert d["format"] == FORMAT == "infoflow-graph/1"
    assert d["nodes"][0] == {"start": 0, "end": 1, "label": "0:1"}
    assert d["edges"][1] == {"source": 1, "target": 3, "effect": -0.75, "level": 0, "exact": True}
    assert d["stats"]["forward_passes"] == 6 and d["stats"]["seconds"] == 0.25
    json.dumps(d)  # plain JSON data


def test_dict_round_trip():
    g = token_graph()
    assert FlowGraph.from_dict(g.to_dict()) == g


@pytest.mark.parametrize("key", ["format", "tokens", "clean_metric", "nodes", "edges"])
def test_from_dict_names_the_missing_key(key):
    d = token_graph().to_dict()
    del d[key]
    with pytest.raises(InfoFlowError, match=repr(key)):
        FlowGraph.from_dict(d)


def test_from_dict_rejects_unknown_format_and_bad_records():
    d = token_graph().to_dict()
    with pytest.raises(InfoFlowError, match="infoflow-graph/99"):
        FlowGraph.from_dict({**d, "format": "infoflow-graph/99"})
    del d["edges"][2]["effect"]
    with pytest.raises(InfoFlowError, match=r"edges\[2\].*'effect'"):
        FlowGraph.from_dict(d)
    d = token_graph().to_dict()
    d["edges"][0]["target"] = 9
    with pytest.raises(InfoFlowError, match="4 nodes"):
        FlowGraph.from_dict(d)


def test_json_round_trip_is_exact(tmp_path):
    g = span_graph()
    assert g.edges[0].effect == 0.1 + 0.2 != 0.3
    loaded = FlowGraph.load(g.save(tmp_path / "g.json"))
    assert loaded == g
    assert loaded.edges[0].effect == 0.1 + 0.2 and loaded.edges[1].effect == 1e-17
    assert FlowGraph.from_dict(json.loads(g.to_json(indent=2))) == g
    t = token_graph()
    assert FlowGraph.load(t.save(tmp_path / "t.json")) == t


@pytest.mark.parametrize("bad", [math.nan, math.inf, -math.inf])
def test_non_finite_effect_raises_and_writes_nothing(tmp_path, bad):
    g = token_graph()
    g.edges.append(Edge(0, 0, bad))
    with pytest.raises(InfoFlowError, match="NaN or infinite"):
        g.save(tmp_path / "g.json")
    assert os.listdir(tmp_path) == []


def test_failed_save_keeps_the_old_file(tmp_path):
    path = tmp_path / "g.json"
    token_graph().save(path)
    before = path.read_text()
    g = token_graph()
    g.edges.append(Edge(0, 0, math.nan))
    with pytest.raises(InfoFlowError):
        g.save(path)
    assert path.read_text() == before
    assert os.listdir(tmp_path) == ["g.json"]


def test_unserialisable_provenance_raises(tmp_path):
    g = token_graph()
    g.provenance["model"] = object()
    with pytest.raises(InfoFlowError, match="JSON"):
        g.save(tmp_path / "g.json")
    assert os.listdir(tmp_path) == []


def test_unknown_suffix_raises_before_writing(tmp_path):
    with pytest.raises(InfoFlowError, match=r"\.json, \.csv, \.html"):
        token_graph().save(tmp_path / "g.parquet")
    assert os.listdir(tmp_path) == []


def test_html_is_registered_whatever_module_is_imported_first():
    """graph.py never imports the report; the package does, so a fresh process that imports only graph saves .html."""
    import subprocess
    import sys

    code = "from infoflow_widget.graph.flowgraph import save_suffixes; print(' '.join(save_suffixes()))"
    done = subprocess.run([sys.executable, "-c", code], capture_output=True, text=True, check=True)
    assert done.stdout.split() == [".json", ".csv", ".html"]


def test_save_leaves_no_temp_files(tmp_path):
    g = token_graph()
    for name in ("g.json", "g.csv", "g.html", "again.json"):
        g.save(tmp_path / name)
    g.save(tmp_path / "g.json")  # overwrite in place
    assert sorted(os.listdir(tmp_path)) == ["again.json", "g.csv", "g.html", "g.json"]


def test_save_respects_umask_permissions(tmp_path):
    path = token_graph().save(tmp_path / "g.json")
    reference = tmp_path / "plain.txt"
    reference.write_text("x")
    assert path.stat().st_mode == reference.stat().st_mode


def test_csv_is_the_edge_table(tmp_path):
    path = token_graph().save(tmp_path / "g.csv")
    df = pd.read_csv(path, keep_default_na=False)
    assert df["rank"].tolist() == [1, 2, 3, 4, 5]
    assert df["effect"].tolist() == [-0.75, 0.5, 0.25, 0.1, 0.1]
    assert df.loc[0, "source_span"] == "1:2" and df.loc[0, "target_text"] == "<b>"
    assert df.loc[2, "source_text"] == "\n"  # a newline token survives CSV quoting


def test_html_save_is_self_contained(tmp_path):
    path = token_graph().save(tmp_path / "g.html", top_k=2)
    text = path.read_text(encoding="utf-8")
    state = json.loads(re.search(r"const state = (.*);\n", text).group(1))  # the widget's page: its front end draws
    assert state["top_k"] == 2 and state["graph"] == token_graph().to_dict()
    assert not re.search(r"<script[^>]*\bsrc\s*=", text), "every script must be inline"
    assert not re.search(r"""<(script|link|img|iframe)\b[^>]*\b(src|href)\s*=\s*["']?(https?:)?//""", text)


def test_load_rejects_other_suffixes_and_bad_json(tmp_path):
    with pytest.raises(InfoFlowError, match=".json"):
        FlowGraph.load(tmp_path / "g.csv")
    bad = tmp_path / "bad.json"
    bad.write_text("{not json")
    with pytest.raises(InfoFlowError, match="not valid JSON"):
        FlowGraph.load(bad)
