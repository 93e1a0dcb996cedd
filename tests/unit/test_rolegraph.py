"""RoleGraph: per-prompt effects averaged into role edges, their intervals, views and files (no model).

The statistics are checked against the statistics module and against Student's t distribution integrated
numerically here, not against the module's own table.
"""

from __future__ import annotations

import json
import math
import statistics

import pytest

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node
from infoflow_widget.graph.rolegraph import T_975, RoleGraph, t_975

NODES = ["When", "IO", " and", "S1", "END"]
PER_PROMPT = [
    [("IO", "END", 1.0), ("S1", "END", -0.5), ("When", "IO", 0.25)],
    [("IO", "END", 2.0), ("S1", "END", 0.5)],
    [("IO", "END", 4.0), ("S1", "END", -1.0), ("When", "IO", 0.25)],
]


def t_coverage(q: float, df: int, steps: int = 20_000) -> float:
    """P(-q < T < q) for Student's t with ``df`` degrees of freedom, by Simpson's rule on its density."""
    c = math.exp(math.lgamma((df + 1) / 2) - math.lgamma(df / 2)) / math.sqrt(df * math.pi)

    def pdf(x):
        return c * (1 + x * x / df) ** (-(df + 1) / 2)

    h = q / steps
    total = pdf(0) + pdf(q) + sum((4 if k % 2 else 2) * pdf(k * h) for k in range(1, steps))
    return 2 * total * h / 3


@pytest.mark.parametrize("df", [*range(1, 31), 35, 40, 50, 60, 75, 100, 120, 150, 500, 5000])
def test_t_quantile_covers_95_percent(df):
    assert t_coverage(t_975(df), df) == pytest.approx(0.95, abs=1e-4)


def test_t_quantile_matches_published_values_between_rows():
    # Published t(0.975, df) for df between and beyond the table's rows.
    for df, published in [(50, 2.0086), (100, 1.9840), (1000, 1.9623)]:
        assert t_975(df) == pytest.approx(published, abs=2e-4)
    assert set(T_975) >= set(range(1, 31))
    with pytest.raises(InfoFlowError):
        t_975(0)


def test_edge_statistics():
    graph = RoleGraph.aggregate(NODES, PER_PROMPT, clean_metrics=[3.0, 4.0, 5.0])
    edge = graph.edge("IO", "END")
    values = [1.0, 2.0, 4.0]
    mean, std = statistics.mean(values), statistics.stdev(values)
    half = 4.3027 * std / math.sqrt(3)  # t(0.975, 2) from a printed table
    assert (edge.mean, edge.std, edge.n) == (pytest.approx(mean), pytest.approx(std), 3)
    assert (edge.low, edge.high) == (pytest.approx(mean - half), pytest.approx(mean + half))
    assert edge.sign_consistency == 1.0 and edge.values == (1.0, 2.0, 4.0) and edge.exact

    s1 = graph.edge("S1", "END")
    assert s1.mean == pytest.approx(-1 / 3) and s1.sign_consistency == pytest.approx(2 / 3)

    once = graph.edge("When", "IO")  # measured in two prompts of three, both 0.25
    assert (once.n, once.values, once.std, once.sign_consistency) == (2, (0.25, None, 0.25), 0.0, 1.0)
    assert once.low == once.high == 0.25


def test_one_prompt_has_no_spread():
    edge = RoleGraph.aggregate(NODES, [[("IO", "END", 2.0)]]).edge("IO", "END")
    assert (edge.mean, edge.std, edge.low, edge.high, edge.n) == (2.0, None, None, None, 1)


def test_edges_are_in_node_order_and_ranked_by_mean():
    graph = RoleGraph.aggregate(NODES, PER_PROMPT)
    assert [e.name for e in graph.edges] == ["When -> IO", "IO -> END", "S1 -> END"]
    assert [e.name for e in graph.ranked()] == ["IO -> END", "S1 -> END", "When -> IO"]
    assert [e.name for e in graph.top(1).edges] == ["IO -> END"] and graph.top(1).nodes == NODES
    with pytest.raises(InfoFlowError, match="whole number"):
        graph.top(-1)
    with pytest.raises(InfoFlowError, match="No edge 'END' -> 'IO'"):
        graph.edge("END", "IO")


def test_non_finite_effects_count_as_unmeasured_and_estimates_are_marked():
    graph = RoleGraph.aggregate(NODES, [[("IO", "END", math.nan, True)], [("IO", "END", 1.0, False)]])
    edge = graph.edge("IO", "END")
    assert (edge.n, edge.values, edge.exact) == (1, (None, 1.0), False)
    assert graph.stats["non_finite_effects"] == 1


@pytest.mark.parametrize(
    ("nodes", "per_prompt", "kwargs", "message"),
    [
        (NODES, [], {}, "at least one prompt"),
        ([], PER_PROMPT, {}, "distinct string node labels"),
        (["IO", "IO"], PER_PROMPT, {}, "distinct string node labels"),
        (NODES, [[("IO", "XX", 1.0)]], {}, "prompt 0: the edge label 'XX' is not a node"),
        (NODES, [[], [("IO", "END", 1.0), ("IO", "END", 2.0)]], {}, "prompt 1: the edge 'IO' -> 'END' is given twice"),
        (NODES, [[("IO", "END", "1")]], {}, "must be a number"),
        (NODES, PER_PROMPT, {"clean_metrics": [1.0]}, "1 clean metrics for 3 prompts"),
    ],
)
def test_bad_aggregate_input(nodes, per_prompt, kwargs, message):
    with pytest.raises(InfoFlowError, match=message):
        RoleGraph.aggregate(nodes, per_prompt, **kwargs)


# --- from flow graphs ----------------------------------------------------------------------------------


def token_graph(tokens, edges, clean=1.0, spans=()):
    nodes = [Node(i, i + 1) for i in range(len(tokens))] + [Node(a, b) for a, b in spans]
    return FlowGraph(tokens, nodes, [Edge(s, t, e) for s, t, e in edges], clean)


def test_from_flow_graphs_of_aligned_prompts():
    labels = [["When", "IO", " and", "END"]] * 2
    graphs = [
        token_graph(["When", " Mary", " and", " to"], [(1, 3, 2.0), (0, 1, 0.5), (4, 3, 9.0)], spans=[(0, 2)]),
        token_graph(["When", " Anna", " and", " to"], [(1, 3, 4.0)], clean=3.0),
    ]
    graph = RoleGraph.from_flow_graphs(graphs, labels, provenance={"metric": "logit_diff"}, stats={"seconds": 1.5})
    assert graph.nodes == labels[0] and graph.n_prompts == 2 and graph.clean_metrics == [1.0, 3.0]
    assert graph.edge("IO", "END").values == (2.0, 4.0)
    assert graph.edge("When", "IO").values == (0.5, None)
    assert graph.stats == {"seconds": 1.5, "span_edges_left_out": 1, "edges_off_roles": 0, "non_finite_effects": 0}
    assert graph.graphs == graphs and graph.top(1).graphs == graphs


def test_from_flow_graphs_of_differing_prompts_keeps_roles_only():
    labels = [["x", "IO", "END"], ["y", "z", "IO", "END"]]
    roles = [{"IO": 1, "END": 2}, {"IO": 2, "END": 3}]
    graphs = [token_graph(["a", "b", "c"], [(1, 2, 1.0), (0, 2, 5.0)]), token_graph(list("abcd"), [(2, 3, 3.0)])]
    graph = RoleGraph.from_flow_graphs(graphs, labels, roles)
    assert graph.nodes == ["IO", "END"]
    assert graph.edge("IO", "END").values == (1.0, 3.0)
    assert graph.stats["edges_off_roles"] == 1
    with pytest.raises(InfoFlowError, match="roles are needed"):
        RoleGraph.from_flow_graphs(graphs, labels)


def test_from_flow_graphs_checks_the_labels_fit():
    graphs = [token_graph(["a", "b"], [])]
    with pytest.raises(InfoFlowError, match="1 flow graphs for 2 prompts"):
        RoleGraph.from_flow_graphs(graphs, [["A", "B"], ["A", "B"]])
    with pytest.raises(InfoFlowError, match="prompt 0: its graph has 2 tokens but 3 labels"):
        RoleGraph.from_flow_graphs(graphs, [["A", "B", "C"]])


# --- views and files -----------------------------------------------------------------------------------


def test_to_pandas():
    df = RoleGraph.aggregate(NODES, PER_PROMPT).to_pandas()
    assert list(df["source"] + ">" + df["target"]) == ["IO>END", "S1>END", "When>IO"]
    assert list(df["rank"]) == [1, 2, 3] and list(df["n"]) == [3, 3, 2]
    assert df["std"].iloc[0] == pytest.approx(statistics.stdev([1.0, 2.0, 4.0]))


def test_plot_draws_the_intervals():
    graph = RoleGraph.aggregate(NODES, PER_PROMPT + [[("IO", " and", 1.0)]])
    bar = graph.plot().data[0]
    edges = graph.ranked()
    assert list(bar.x) == [f"{e.source.replace(' ', '·')} → {e.target.replace(' ', '·')}" for e in edges]
    assert list(bar.y) == [e.mean for e in edges]
    assert bar.error_y.array[0] == pytest.approx(edges[0].high - edges[0].mean)
    assert bar.error_y.arrayminus[0] == pytest.approx(edges[0].mean - edges[0].low)
    single = [e.name for e in edges].index("IO ->  and")  # one prompt: no interval
    assert bar.error_y.array[single] == bar.error_y.arrayminus[single] == 0.0
    assert len(graph.plot(k=2).data[0].x) == 2
    for bad in ("x", -1, 1.5):
        with pytest.raises(InfoFlowError, match="plot\\(k\\) needs a whole number"):
            graph.plot(k=bad)


def test_to_flow_graph_draws_means():
    graph = RoleGraph.aggregate(NODES, PER_PROMPT, clean_metrics=[3.0, 4.0, 5.0], provenance={"metric": "m"})
    flow = graph.to_flow_graph()
    assert flow.tokens == NODES and flow.clean_metric == 4.0
    io_end = next(e for e in flow.edges if flow.edge_text(e) == ("IO", "END"))
    assert io_end.effect == graph.edge("IO", "END").mean and io_end.effect_std == graph.edge("IO", "END").std
    assert flow.provenance == {"metric": "m", "role_graph": {"prompts": 3}}
    assert FlowGraph.from_dict(json.loads(flow.to_json())).edges == flow.edges


def test_save_and_load(tmp_path):
    graph = RoleGraph.aggregate(
        NODES, PER_PROMPT, clean_metrics=[3.0, 4.0, 5.0], provenance={"metric": "m"}, stats={"seconds": 2.0}
    )
    loaded = RoleGraph.load(graph.save(tmp_path / "roles.json"))
    assert loaded.nodes == graph.nodes and loaded.edges == graph.edges
    assert (loaded.clean_metrics, loaded.provenance, loaded.stats) == (
        graph.clean_metrics,
        graph.provenance,
        graph.stats,
    )
    assert list(tmp_path.iterdir()) == [tmp_path / "roles.json"]  # no temporary file left
    assert loaded.graphs is None and loaded.prompt_set is None
    csv = graph.save(tmp_path / "roles.csv").read_text(encoding="utf-8")
    assert csv.splitlines()[0].startswith("source,target,mean,abs_mean,std,low,high")
    with pytest.raises(InfoFlowError, match=r"\.json or \.csv"):
        graph.save(tmp_path / "roles.html")
    with pytest.raises(InfoFlowError, match="Only .json"):
        RoleGraph.load(tmp_path / "roles.csv")


def saved(**changes):
    d = RoleGraph.aggregate(NODES, PER_PROMPT).to_dict()
    d.update(changes)
    return d


@pytest.mark.parametrize(
    ("data", "message"),
    [
        ([], "is a dict"),
        ({"format": "infoflow-rolegraph/1"}, "no 'nodes' key"),
        (saved(format="infoflow-graph/1"), "format must be"),
        (saved(nodes=["When", 3]), r"nodes\[1\] must be a string"),
        (saved(n_prompts=0), "n_prompts must be a whole number"),
        (saved(n_prompts=10**9), "n_prompts must be at most 1,000,000"),
        (saved(n_prompts=3, clean_metrics=[1.0, 2.0]), r"n_prompts must be 2 \(the file holds 2 clean metrics"),
        (saved(clean_metrics=[1.0, "NaN", 2.0]), r"clean_metrics\[1\] must be a finite number"),
        (saved(edges=[{"source": "IO", "target": "END", "values": [1.0]}]), r"edges\[0\].values must be a list of 3"),
        (saved(edges=[{"source": "IO", "target": "END", "values": [1, "x", None]}]), r"edges\[0\].values\[1\]"),
        (saved(edges=[{"source": "IO", "values": [1, 2, 3]}]), r"edges\[0\] has no 'target' key"),
        (saved(edges=[{"source": "IO", "target": "XX", "values": [1, 2, 3]}]), "'XX' is not a node"),
        (saved(provenance=[]), "provenance must be an object"),
    ],
)
def test_bad_saved_graphs_name_the_field(tmp_path, data, message):
    with pytest.raises(InfoFlowError, match=message):
        RoleGraph.from_dict(data)
    path = tmp_path / "bad.json"
    path.write_text(json.dumps(data), encoding="utf-8")
    with pytest.raises(InfoFlowError, match=message):
        RoleGraph.load(path)


def test_loading_a_file_that_is_not_json(tmp_path):
    path = tmp_path / "bad.json"
    path.write_bytes(b"[" * 100_000 + b"]" * 100_000)
    with pytest.raises(InfoFlowError, match="nested too deeply to be a saved role graph"):
        RoleGraph.load(path)
