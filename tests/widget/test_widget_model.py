"""The widget's Python side: traits, recompute triggers, cache, cancellation, errors, drill-down, HTML export."""

from __future__ import annotations

import json
import math
import re
import threading

import pytest

pytest.importorskip("anywidget")

import infoflow_widget.widget.computation as compute_module  # noqa: E402
import infoflow_widget.widget.widget as widget_module  # noqa: E402
from infoflow_widget import Crop, Dampen, FlowEngine, InfoFlowError, Zero  # noqa: E402
from infoflow_widget.engine.metrics import as_metric  # noqa: E402
from infoflow_widget.widget.widget import InfoFlowWidget  # noqa: E402

# A worker thread's exception would be a bug: failures belong in the `error` trait.
pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

PROMPT = "when mary and john went to the store , john gave a book to"
CORRUPTED = "when felix and sarah went to the store , diego gave a book to"


@pytest.fixture(scope="module")
def tiny():
    from conftest import make_tiny

    return make_tiny("llama")


@pytest.fixture
def calls(monkeypatch):
    """Every graph the widget has an engine compute, as {"strategy": ...} (estimates included)."""
    made = []
    real = FlowEngine.graph

    def counting(engine, strategy=None, threshold=0.0):
        made.append({"strategy": strategy})
        return real(engine, strategy, threshold)

    monkeypatch.setattr(FlowEngine, "graph", counting)
    return made


def exact(calls):
    """The calls that were not attribution estimates."""
    return [call for call in calls if call["strategy"].name != "attribution"]


def make(tiny, **kwargs):
    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", **kwargs)
    widget.wait(timeout=30)
    return widget


def test_traits_and_state(tiny):
    widget = make(tiny, top_k=5)
    state = widget.get_state()
    for name in (
        "tokens",
        "graph",
        "intervention",
        "alpha",
        "corrupted_prompt",
        "strategy",
        "strategies",
        "threshold",
        "top_k",
        "answer",
        "distractor",
        "status",
        "progress",
        "computing",
        "error",
        "selected",
    ):
        assert name in state, name
    assert state["tokens"] == PROMPT.split()
    assert state["graph"]["format"] == "infoflow-graph/1"
    assert len(state["graph"]["edges"]) == 14 * 15 // 2
    assert state["computing"] is False and state["progress"] == 1.0 and state["error"] == ""
    assert widget.graph_object.to_dict() == state["graph"]
    json.dumps(state["graph"])  # plain JSON, as the comm sends it
    assert "InfoFlowWidget(14 tokens" in repr(widget)


def test_importing_the_package_does_not_import_the_widget():
    import subprocess
    import sys

    code = "import sys, infoflow_widget; assert 'anywidget' not in sys.modules; infoflow_widget.InfoFlowWidget"
    subprocess.run([sys.executable, "-c", code], check=True)


@pytest.mark.parametrize(
    ("change", "expected"),
    [
        ({"intervention": "dampen"}, {"kind": "dampen", "alpha": 0.5}),
        ({"intervention": "crop"}, {"kind": "crop"}),
        (
            {"intervention": "corrupt", "corrupted_prompt": CORRUPTED},
            {"kind": "corrupt", "corrupted_prompt": CORRUPTED},
        ),
    ],
)
def test_parameter_changes_recompute(tiny, change, expected):
    widget = make(tiny)
    with widget.hold_trait_notifications():
        for name, value in change.items():
            setattr(widget, name, value)
    graph = widget.wait(timeout=30)
    assert graph.provenance["intervention"] == expected
    assert widget.graph["provenance"]["intervention"] == expected


def test_alpha_answer_and_strategy_recompute(tiny, calls):
    widget = make(tiny, intervention="dampen")
    widget.alpha = 1.5
    assert widget.wait(timeout=30).provenance["intervention"]["alpha"] == 1.5
    widget.distractor = "sarah"
    assert "sarah" in widget.wait(timeout=30).provenance["metric"]
    widget.strategy = "backtrack"
    assert widget.wait(timeout=30).provenance["strategy"]["name"] == "backtrack"
    assert len(exact(calls)) == 4


def test_threshold_and_top_k_of_a_full_graph_do_not_recompute(tiny, calls):
    widget = make(tiny)
    graph = widget.graph_object
    widget.threshold = 0.05
    widget.top_k = 3
    widget.top_k = None
    assert widget.wait() is graph
    assert len(exact(calls)) == 1 and not widget.computing


def test_threshold_of_a_search_strategy_recomputes(tiny, calls):
    widget = make(tiny, strategy="backtrack")
    widget.threshold = 0.01
    graph = widget.wait(timeout=30)
    assert len(calls) == 2
    assert graph.provenance["strategy"] == {"name": "backtrack", "threshold": 0.01}


def test_going_back_is_a_cache_hit_without_forward_passes(tiny, calls):
    widget = make(tiny, intervention="dampen")
    first = widget.graph_object
    widget.alpha = 1.2
    widget.wait(timeout=30)
    widget.alpha = 0.5
    assert not widget.computing, "a cache hit shows at once, with no thread"
    assert widget.graph_object is first
    assert widget.graph == first.to_dict()
    assert "cached" in widget.status
    assert len(exact(calls)) == 2


def gate_first_exact(monkeypatch, **overrides):
    """Make the first exact graph wait for the returned ``gate``; ``reached`` is set when it does.

    Estimates and later graphs run at once. ``overrides`` set attributes of the gated graph's engine.
    Returns ``(reached, gate, outcomes)``, outcomes being each graph's strategy and how it ended, in order.
    """
    real = FlowEngine.graph
    reached, gate, outcomes = threading.Event(), threading.Event(), []

    def gated(engine, strategy=None, threshold=0.0):
        name = strategy.name
        if name != "attribution" and not reached.is_set():
            reached.set()
            gate.wait(10)
            for attribute, value in overrides.items():
                setattr(engine, attribute, value)
        try:
            graph = real(engine, strategy, threshold)
        except BaseException as err:
            outcomes.append((name, type(err).__name__))
            raise
        outcomes.append((name, "done"))
        return graph

    monkeypatch.setattr(FlowEngine, "graph", gated)
    return reached, gate, outcomes


def shown_graphs(widget):
    """A list that collects (strategy, alpha, all edges exact) of every graph the widget puts on show."""
    shown = []

    def record(change):
        provenance, edges = change["new"]["provenance"], change["new"]["edges"]
        exact_edges = all(edge["exact"] for edge in edges)
        shown.append((provenance["strategy"]["name"], provenance["intervention"].get("alpha"), exact_edges))

    widget.observe(record, "graph")
    return shown


def test_a_stale_computation_is_cancelled_and_never_shown(tiny, monkeypatch):
    """Alpha moves while the first exact graph computes: it stops at its next batch and is never drawn."""
    reached, gate, outcomes = gate_first_exact(monkeypatch, batch_size=8)
    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", intervention="dampen", alpha=0.3)
    assert reached.wait(10)
    shown = shown_graphs(widget)  # from here: the 0.3 estimate is on show
    assert widget.graph["provenance"]["estimate"] is True
    assert widget.computing and widget.status.startswith(widget_module.ESTIMATE_SHOWN)
    widget.alpha = 1.7
    gate.set()
    graph = widget.wait(timeout=30)
    assert outcomes == [
        ("attribution", "done"),
        ("full", "ComputationCancelled"),
        ("attribution", "done"),
        ("full", "done"),
    ]
    assert graph.provenance["intervention"]["alpha"] == 1.7
    assert shown == [("attribution", 1.7, False), ("full", 1.7, True)]
    assert not widget.computing and widget.progress == 1.0


def test_an_older_result_that_finishes_anyway_does_not_overwrite_the_newer(tiny, monkeypatch):
    reached, gate, outcomes = gate_first_exact(monkeypatch, cancel=None)  # as if past its last cancellation check
    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", intervention="dampen", alpha=0.3)
    assert reached.wait(10)
    shown = shown_graphs(widget)
    widget.alpha = 1.1
    gate.set()
    assert widget.wait(timeout=30).provenance["intervention"]["alpha"] == 1.1
    assert outcomes[1] == ("full", "done"), "the 0.3 graph was computed"
    assert shown == [("attribution", 1.1, False), ("full", 1.1, True)], "but never shown"
    widget.alpha = 0.3  # the older result was still worth caching
    assert not widget.computing and widget.graph["provenance"]["intervention"]["alpha"] == 0.3
    assert widget.graph_object.provenance["estimate"] is False


def test_the_estimate_shows_first_then_the_exact_graph(tiny):
    widget = make(tiny, intervention="dampen", alpha=0.3, preview_seconds=0)
    states = []
    widget.observe(lambda change: states.append((change["new"]["provenance"]["estimate"], widget.status)), "graph")
    widget.alpha = 0.6
    final = widget.wait(timeout=30)
    assert [estimate for estimate, _ in states] == [True, False]
    assert states[0][1] == widget_module.ESTIMATE_SHOWN
    assert states[1][1].startswith("computed")
    assert final.provenance["estimate"] is False and all(edge.exact for edge in final.edges)
    assert all(edge["exact"] for edge in widget.graph["edges"])
    assert {(e.source, e.target) for e in final.edges} == {(e["source"], e["target"]) for e in widget.graph["edges"]}


def test_a_fast_full_graph_skips_the_estimate_after_the_first(tiny, calls):
    """A full graph that last took under preview_seconds needs no estimate to fill the wait: it would only flicker."""
    widget = make(tiny, intervention="dampen", alpha=0.3, preview_seconds=3600.0)  # whatever the machine's load
    shown = shown_graphs(widget)
    widget.alpha = 0.6
    widget.wait(timeout=30)
    assert [call["strategy"].name for call in calls] == ["attribution", "full", "full"]
    assert shown == [("full", 0.6, True)]
    widget.preview_seconds = 0.0
    widget.alpha = 0.9
    widget.wait(timeout=30)
    assert shown[1:] == [("attribution", 0.9, False), ("full", 0.9, True)]


def test_new_alphas_reuse_the_clean_run(tiny):
    widget = make(tiny, intervention="dampen", alpha=0.3, preview_seconds=math.inf)  # no estimate pass after the first
    fresh = FlowEngine(tiny, PROMPT, as_metric(None, "mary", "john"), progress=False)
    widget.alpha = 1.4
    graph = widget.wait(timeout=30)
    assert fresh.forward_passes == 1
    assert graph.stats["forward_passes"] == fresh.graph().stats["forward_passes"] - 1, "no clean run"
    widget.answer = "sarah"  # another metric: one more clean run, kept for the next changes too
    widget.wait(timeout=30)
    assert len(widget._computation.engines) == 2


def test_drilling_into_a_graph_shown_again_from_the_cache(tiny):
    """A graph that finished before a newer request began is not cancelled by it."""
    widget = make(tiny, strategy="bisect")
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    first = widget.graph_object
    widget.strategy = "backtrack"
    widget.wait(timeout=30)
    widget.strategy = "bisect"
    assert widget.graph_object is first
    edge = next(e for e in first.edges if first.nodes[e.source].end - first.nodes[e.source].start > 1)
    widget._handle_custom_msg({"type": "expand", "source": edge.source, "target": edge.target, "level": 0}, [])
    widget.wait(timeout=30)
    assert [message["type"] for message in sent] == ["expanded"]


def test_attribution_then_exact_shows_the_estimate_first_and_keeps_its_agreement(tiny, calls):
    widget = make(tiny)
    shown = shown_graphs(widget)
    widget.strategy = "attribution-then-exact"
    graph = widget.wait(timeout=30)
    assert shown == [("attribution", None, False), ("attribution-then-exact", None, False)], "partly exact"
    assert graph.stats["agreement"]["verified"] == 50
    assert sum(edge["exact"] for edge in widget.graph["edges"]) == 50
    assert widget.graph["stats"]["agreement"] == graph.stats["agreement"]


def test_estimates_and_exact_graphs_have_their_own_cache_keys(tiny, calls):
    widget = make(tiny)
    full = widget.graph_object
    widget.strategy = "attribution"
    assert not widget.computing, "the estimate computed on the way is cached"
    estimate = widget.graph_object
    assert estimate.provenance["estimate"] is True and estimate is not full
    widget.strategy = "full"
    assert not widget.computing and widget.graph_object is full
    assert [call["strategy"].name for call in calls] == ["attribution", "full"]


def test_a_cached_estimate_shows_at_once_while_the_exact_graph_computes(tiny, calls):
    widget = make(tiny, strategy="attribution")
    estimate = widget.graph_object
    widget.strategy = "full"
    assert widget.computing and widget.graph_object is estimate
    assert widget.status == widget_module.ESTIMATE_SHOWN
    assert widget.wait(timeout=30).provenance["strategy"]["name"] == "full"
    assert [call["strategy"].name for call in calls] == ["attribution", "full"]


def test_search_strategies_show_no_estimate(tiny, calls):
    widget = make(tiny, strategy="bisect")
    assert [call["strategy"].name for call in calls] == ["bisect"]
    assert widget.graph_object.provenance["estimate"] is False


def test_strategy_menu_comes_from_the_engine(tiny):
    from infoflow_widget.search.strategies import STRATEGIES

    widget = make(tiny)
    menu = {entry["name"]: entry for entry in widget.strategies}
    assert list(menu) == list(STRATEGIES)
    assert {"attribution", "attribution-then-exact"} <= set(menu)
    assert all(entry["description"] and "``" not in entry["description"] for entry in menu.values())
    pruning = [name for name, entry in menu.items() if entry["prunes"]]
    assert pruning == ["backtrack", "bisect", "split", "backtrack-bisect"]
    assert widget.get_state()["strategies"] == widget.strategies


def test_threshold_of_attribution_then_exact_filters_without_recomputing(tiny, calls):
    widget = make(tiny, strategy="attribution-then-exact")
    graph = widget.graph_object
    widget.threshold = 0.05
    assert widget.wait() is graph and len(exact(calls)) == 1
    assert graph.provenance["strategy"] == {"name": "attribution-then-exact", "k": 50, "threshold": None, "steps": None}


def test_non_finite_effects_travel_as_strings(tiny, monkeypatch):
    from dataclasses import replace

    real = FlowEngine.graph

    def broken(engine, strategy=None, threshold=0.0):
        graph = real(engine, strategy, threshold)
        bad = [float("nan"), float("inf"), float("-inf")]
        graph.edges[:3] = [replace(edge, effect=value) for edge, value in zip(graph.edges, bad)]
        graph.clean_metric = float("inf")
        return graph

    monkeypatch.setattr(FlowEngine, "graph", broken)
    widget = make(tiny)
    text = json.dumps(widget.get_state()["graph"], allow_nan=False)  # what the comm can send
    assert [edge["effect"] for edge in widget.graph["edges"][:3]] == ["NaN", "Infinity", "-Infinity"]
    assert widget.graph["clean_metric"] == "Infinity"
    assert json.loads(text)["edges"][3]["effect"] == widget.graph_object.edges[3].effect
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    widget.strategy = "bisect"
    graph = widget.wait(timeout=30)
    edge = next(e for e in graph.edges if graph.nodes[e.source].end - graph.nodes[e.source].start > 1)
    widget._handle_custom_msg({"type": "expand", "source": edge.source, "target": edge.target, "level": 0}, [])
    widget.wait(timeout=30)
    json.dumps(sent, allow_nan=False)


def test_json_safe_keeps_finite_data_as_it_is():
    data = {"a": [1, 2.5, None, "x", True], "b": {"c": (0.0, -1e308)}}
    assert widget_module.json_safe(data) == {"a": [1, 2.5, None, "x", True], "b": {"c": [0.0, -1e308]}}
    assert widget_module.json_safe([float("nan"), {"x": float("-inf")}]) == ["NaN", {"x": "-Infinity"}]


def test_progress_reaches_the_traits(tiny, monkeypatch):
    monkeypatch.setattr(compute_module, "PROGRESS_INTERVAL", 0.0)
    widget = make(tiny)
    seen = []
    widget.observe(lambda change: seen.append(change["new"]), "progress")
    widget.intervention = "crop"
    widget.wait(timeout=30)
    assert any(0 < p < 1 for p in seen) and seen[-1] == 1.0


def test_bad_changes_from_the_controls_land_in_the_error_trait(tiny):
    widget = make(tiny)
    shown = widget.graph_object
    widget.set_state({"intervention": "corrupt", "corrupted_prompt": "when felix and sarah"})  # as the browser does
    with pytest.raises(InfoFlowError, match="same"):
        widget.wait(timeout=30)
    assert "tokens but the clean prompt is 14" in widget.error
    assert widget.graph_object is shown, "the last good graph stays on show"
    assert not widget.computing
    widget.set_state({"corrupted_prompt": CORRUPTED})
    assert widget.wait(timeout=30).provenance["intervention"]["kind"] == "corrupt"
    assert widget.error == ""
    widget.set_state({"intervention": "dampen", "alpha": -1.0})
    with pytest.raises(InfoFlowError):
        widget.wait(timeout=30)
    assert "alpha" in widget.error
    widget.set_state({"alpha": 0.5, "strategy": "sideways"})
    with pytest.raises(InfoFlowError):
        widget.wait(timeout=30)
    assert "strategy must be one of" in widget.error


@pytest.mark.parametrize(
    ("kwargs", "match"),
    [
        ({"intervention": "corrupt", "corrupted_prompt": "when felix"}, "same length"),
        ({"intervention": "dampen", "alpha": -0.5}, "alpha"),
        ({"intervention": "melt"}, "intervention must be one of"),
        ({"strategy": "sideways"}, "strategy must be one of"),
        ({"answer": "mary john"}, "not one"),
        ({"layers": [99]}, "out of range"),
        ({"preview_seconds": -1}, "preview_seconds must be"),
        ({"threshold": -1.0}, "threshold must be a finite number"),
        ({"threshold": float("nan")}, "threshold must be a finite number"),
        ({"top_k": -5}, "top_k must be a whole number"),
        ({"model": None}, "model must be a name or path"),
        ({"preview_seconds": float("nan")}, "preview_seconds must be"),
    ],
)
def test_bad_initial_input_raises_before_any_computation(tiny, calls, kwargs, match):
    model = kwargs.pop("model", tiny)
    with pytest.raises(InfoFlowError, match=match):
        InfoFlowWidget(model, PROMPT, **{"answer": "mary", "distractor": "john", **kwargs})
    assert calls == []


def test_unknown_keyword_names_the_valid_ones(tiny):
    with pytest.raises(TypeError, match=r"unknown argument\(s\) alhpa.*valid: model, prompt, answer"):
        InfoFlowWidget(tiny, PROMPT, alhpa=0.3)


@pytest.fixture(scope="module")
def tiny_widget(tiny):
    """One widget for the trait checks below, each of which leaves it as it found it."""
    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john")
    widget.wait(timeout=60)
    yield widget
    widget.close()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("top_k", -5, "top_k must be a whole number >= 0"),
        ("threshold", -1.0, "threshold must be a finite number >= 0"),
        ("threshold", math.nan, "threshold must be a finite number >= 0"),
        ("threshold", math.inf, "threshold must be a finite number >= 0"),
    ],
)
def test_trait_changes_are_checked_like_the_constructor(tiny_widget, name, value, message):
    shown, before = tiny_widget.graph_object, getattr(tiny_widget, name)
    with pytest.raises(InfoFlowError, match=message):
        setattr(tiny_widget, name, value)
    assert getattr(tiny_widget, name) == before, "the trait keeps its last good value"
    assert message in tiny_widget.error, "the error shows in the widget too"
    assert tiny_widget.graph_object is shown
    setattr(tiny_widget, name, before)  # a valid setting again: the failure is gone
    tiny_widget.error = ""


def test_undoing_a_failed_change_clears_the_failed_status(tiny_widget):
    shown = tiny_widget.graph_object
    tiny_widget.set_state({"strategy": "sideways"})  # as the browser would send it
    with pytest.raises(InfoFlowError):
        tiny_widget.wait(timeout=60)
    assert tiny_widget.status.startswith("failed")
    tiny_widget.set_state({"strategy": "full"})  # undone: the graph on show is this setting's
    tiny_widget.wait(timeout=60)
    assert tiny_widget.graph_object is shown
    assert tiny_widget.error == ""
    assert not tiny_widget.status.startswith("failed"), tiny_widget.status
    assert "shown again" in tiny_widget.status


def test_selected_is_a_synced_token_position(tiny):
    widget = make(tiny)
    widget.set_state({"selected": 3})
    assert widget.selected == 3
    widget.set_state({"selected": None})
    assert widget.selected is None


def test_clicking_a_span_edge_sends_its_token_graph(tiny):
    widget = make(tiny, strategy="bisect")
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    graph = widget.graph_object
    edge = next(e for e in graph.edges if graph.nodes[e.source].end - graph.nodes[e.source].start > 1)
    message = {"type": "expand", "source": edge.source, "target": edge.target, "level": 0, "request": "view:1"}
    widget._handle_custom_msg(message, [])
    widget.wait(timeout=30)
    assert len(sent) == 1 and sent[0]["type"] == "expanded" and sent[0]["level"] == 0
    assert sent[0]["request"] == "view:1", "the asking view recognises its answer"
    inner = sent[0]["graph"]
    source, target = graph.nodes[edge.source], graph.nodes[edge.target]
    assert all(n["end"] - n["start"] == 1 for n in inner["nodes"])
    assert {n["start"] for n in inner["nodes"]} <= set(range(source.start, target.end))
    assert inner["provenance"]["expanded_from"]["name"]


def test_an_expansion_of_a_graph_no_longer_on_show_is_dropped(tiny):
    """A span edge is clicked, then another (cached) graph goes on show before its token edges are measured."""
    from infoflow_widget.engine.engine import trace_lock

    widget = make(tiny, strategy="bisect")
    zero = widget.graph_object
    widget.intervention = "crop"
    crop = widget.wait(timeout=30)
    widget.intervention = "zero"
    sent = []
    widget.send = lambda content, buffers=None: sent.append(content)
    edge = next(e for e in zero.edges if zero.nodes[e.source].end - zero.nodes[e.source].start > 1)
    with trace_lock(tiny):  # the expansion waits for the model
        widget._handle_custom_msg({"type": "expand", "source": edge.source, "target": edge.target, "level": 0}, [])
        widget.intervention = "crop"  # cached: on show at once
        assert widget.graph_object is crop
    widget.wait(timeout=30)
    assert sent == [] and widget._computation.drill == [crop], "the zero graph's expansion belongs to nothing on screen"
    assert not widget.status.startswith("expand")


def test_save_html_is_self_contained_and_offline(tiny, tmp_path):
    widget = make(tiny, top_k=7)
    path = widget.save_html(tmp_path / "flow.html")
    page = path.read_text(encoding="utf-8")
    assert not re.search(r"<script[^>]+src=", page), "no external scripts"
    assert not re.search(r"https?://", page.replace("http://www.w3.org/2000/svg", "")), "no network address at all"
    assert page.count("</script>") == 1, "the inlined bundle and state cannot close the script early"
    state = json.loads(re.search(r"const state = (.*);\n", page).group(1))
    assert state["top_k"] == 7 and state["graph"] == widget.graph and "_esm" not in state
    assert state["interventions"] == widget.interventions and state["strategies"] == widget.strategies, "menus"
    assert list(tmp_path.iterdir()) == [path], "written through a temporary file, which is gone"


@pytest.mark.slow
def test_ioi_on_smollm2_alpha_change_recomputes_and_caches(smollm):
    """The latency is a benchmark figure (benchmarks/run.py section 4); here: the right graphs, and the cache."""
    from infoflow_widget import Dampen, compute_flow

    prompt = "When Mary and John went to the store, John gave a book to"
    widget = InfoFlowWidget(smollm, prompt, answer=" Mary", distractor=" John", intervention="dampen", alpha=0.0)
    zero_like = widget.wait(timeout=120)
    top = zero_like.top(10).to_pandas()
    assert (top["effect"] > 0).any() and (top["effect"] < 0).any()
    widget.alpha = 0.5
    half = widget.wait(timeout=120)
    assert half.provenance["intervention"] == {"kind": "dampen", "alpha": 0.5}
    alone = compute_flow(smollm, prompt, answer=" Mary", distractor=" John", intervention=Dampen(0.5), progress=False)
    assert [e.effect for e in half.edges] == pytest.approx([e.effect for e in alone.edges], abs=1e-4)
    widget.alpha = 0.0
    assert not widget.computing and widget.graph_object is zero_like, "a cache hit"


def test_widgets_and_a_cell_share_one_model_while_they_compute(tiny, monkeypatch):
    """Two widgets recompute in their threads while the kernel's thread runs compute_flow on the same model."""
    import infoflow_widget.engine.engine as engine_module
    from infoflow_widget import compute_flow

    monkeypatch.setattr(engine_module, "MAX_BATCH", 2)  # many small passes: the three computations overlap
    first = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john")
    second = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", intervention="crop")
    assert first.computing and second.computing
    in_the_cell = compute_flow(tiny, PROMPT, answer="mary", distractor="john", intervention=Dampen(0.5), progress=False)
    graphs = [first.wait(timeout=60), second.wait(timeout=60), in_the_cell]
    assert first.error == second.error == ""
    for graph, intervention in zip(graphs, (Zero(), Crop(), Dampen(0.5))):
        alone = compute_flow(tiny, PROMPT, answer="mary", distractor="john", intervention=intervention, progress=False)
        assert [e.effect for e in graph.edges] == pytest.approx([e.effect for e in alone.edges], abs=1e-5)


def test_no_estimate_is_shown_for_the_kl_divergence(tiny, calls):
    """Without an answer the metric is the KL divergence, whose first-order estimates are all zero."""
    widget = InfoFlowWidget(tiny, PROMPT, preview_seconds=0)
    widget.wait(timeout=30)
    assert [call["strategy"].name for call in calls] == ["full"]
    widget.strategy = "attribution"
    with pytest.raises(InfoFlowError, match="every estimate would be zero"):
        widget.wait(timeout=30)
    assert "Give an answer" in widget.error and widget.graph_object.provenance["strategy"]["name"] == "full"


def measured_and_skipped(status):
    """The numbers in ``backtrack measured 48 of 105 edges (57 skipped below threshold 0.59)``."""
    found = re.search(r"backtrack measured (\d+) of (\d+) edges \((\d+) skipped below threshold ([\d.e+-]+)\)", status)
    assert found, status
    return int(found[1]), int(found[2]), int(found[3]), float(found[4])


def test_a_search_chosen_at_threshold_0_gets_a_default_threshold_and_says_what_it_skipped(tiny, calls):
    """Left at threshold 0, backtrack would measure every edge, slower than full, with no word why."""
    from infoflow_widget.widget.requests import SEARCH_THRESHOLD, default_threshold

    widget = make(tiny)
    full = widget.graph_object
    widget.strategy = "backtrack"
    expected = default_threshold(full.clean_metric)
    assert widget.threshold == expected > 0
    assert expected == pytest.approx(SEARCH_THRESHOLD * abs(full.clean_metric), rel=0.05)
    graph = widget.wait(timeout=30)
    assert graph.provenance["strategy"] == {"name": "backtrack", "threshold": expected}
    assert [call["strategy"].name for call in exact(calls)] == ["full", "backtrack"], "no search at threshold 0"
    measured, total, skipped, threshold = measured_and_skipped(widget.status)
    assert (measured, total, skipped) == (graph.stats["interventions"], 105, 105 - graph.stats["interventions"])
    assert threshold == pytest.approx(expected, rel=1e-2) and widget.status.startswith("computed: ")
    assert skipped > 0, "the default threshold prunes"
    widget.strategy = "full"
    assert widget.threshold == 0 and widget.graph_object is full, "the untouched default goes; full is cached"
    widget.strategy = "backtrack"
    assert widget.graph_object is graph and measured_and_skipped(widget.status)[:3] == (measured, 105, skipped)
    assert widget.status.startswith("cached: ")
    widget.threshold = 0.5 * expected  # the user's own threshold stays
    widget.wait(timeout=30)
    widget.strategy = "full"
    assert widget.threshold == 0.5 * expected
    widget.strategy = "bisect"
    assert widget.threshold == 0.5 * expected, "only a threshold of 0 gets the default"
    widget.wait(timeout=30)
    assert re.search(r"bisect measured \d+ span edges where full measures 105 token edges \(threshold ", widget.status)


def test_the_constructor_gives_a_search_its_default_unless_a_threshold_is_given(tiny, calls):
    from infoflow_widget.widget.requests import default_threshold

    searched = make(tiny, strategy="backtrack")
    assert searched.threshold == default_threshold(searched.graph_object.clean_metric) > 0
    assert searched.graph_object.provenance["strategy"]["threshold"] == searched.threshold
    everything = make(tiny, strategy="backtrack", threshold=0)
    assert everything.threshold == 0
    assert "backtrack measured all 105 edges (threshold 0 skipped none)" in everything.status
    assert make(tiny, threshold=None).threshold == 0, "full keeps every edge: nothing to prune"
    assert [call["strategy"].threshold for call in calls if call["strategy"].name == "backtrack"] == [
        searched.threshold,
        0,
    ]


def test_the_kl_divergence_defaults_from_the_graph_on_show(tiny):
    """Its clean value is 0: the default is 10% of the largest |effect| of the graph on show."""
    widget = InfoFlowWidget(tiny, PROMPT)
    full = widget.wait(timeout=30)
    assert full.clean_metric == 0
    widget.strategy = "backtrack"
    largest = max(abs(e.effect) for e in full.edges)
    assert widget.threshold == float(f"{0.1 * largest:.2g}") > 0
    assert widget.wait(timeout=30).provenance["strategy"]["threshold"] == widget.threshold


def test_a_new_graph_on_show_unpins_the_token(tiny):
    """The views unpin on a new graph; the kernel's trait agrees, for a graph computed or shown from the cache."""
    widget = make(tiny, intervention="dampen")
    first = widget.graph_object
    widget.set_state({"selected": 3})  # a click in a view
    widget.alpha = 1.5
    assert widget.wait(timeout=30) is not first and widget.selected is None
    widget.set_state({"selected": 5})
    widget.alpha = 0.5
    assert widget.graph_object is first and widget.selected is None, "a cached graph is a new graph on show too"
    widget.set_state({"selected": 2})
    widget.top_k = 3  # filtering keeps the graph, and the pin
    assert widget.selected == 2


def test_loading_a_model_by_name_writes_no_progress_bar(tiny_model_folder, capfd):
    """Voila showed transformers' "Loading weights" bar above the widget; the widget loads quietly."""
    from transformers.utils import logging as transformers_logging

    assert transformers_logging.is_progress_bar_enabled()
    capfd.readouterr()
    widget = InfoFlowWidget(str(tiny_model_folder), PROMPT, answer="mary", distractor="john")
    widget.wait(timeout=30)
    out, err = capfd.readouterr()
    assert "Loading weights" not in err + out and err == "", err
    assert transformers_logging.is_progress_bar_enabled(), "the bars come back for the rest of the session"


# --- the anatomy of a selected edge ---------------------------------------------------------------------------


def test_a_selected_edge_gets_its_anatomy_and_lens_in_the_background_with_progress(tiny, monkeypatch):
    monkeypatch.setattr(compute_module, "PROGRESS_INTERVAL", 0.0)
    widget = make(tiny)
    edge = widget.graph_object.top(1).edges[0]
    progress, statuses = [], []
    widget.observe(lambda change: progress.append(change["new"]), "progress")
    widget.observe(lambda change: statuses.append(change["new"]), "status")
    widget.selected_edge = {"source": edge.source, "target": edge.target}
    assert widget.anatomy == {"edge": {"source": edge.source, "target": edge.target, "level": 0}, "status": "computing"}
    widget.wait(timeout=30)
    data, anatomy = widget.anatomy, widget.anatomy_object
    assert data["status"] == "done" and progress[0] == 0.0 and progress[-1] == 1.0  # one batch on the tiny model
    assert any("measurements" in s and " of " in s for s in statuses) and "exact measurements" in widget.status
    engine = FlowEngine(tiny, PROMPT, as_metric(None, "mary", "john"), progress=False)
    expected = engine.anatomy(*widget.graph_object.positions(edge))
    assert anatomy.heads == expected.heads and anatomy.top_heads(5) == expected.top_heads(5)
    assert data["top_heads"] == [list(item) for item in expected.top_heads(5)]
    assert [data["lens"][end]["position"] for end in ("source", "target")] == [edge.source, edge.target]
    assert len(data["lens"]["target"]["layers"]) == len(anatomy.layer_indices) + 1  # the embeddings, then each layer
    json.dumps(data, allow_nan=False)  # what the comm can send


def test_an_anatomy_is_cached_and_a_new_selection_cancels_the_running_one(tiny, monkeypatch):
    widget = make(tiny)
    first, second = widget.graph_object.top(2).edges
    calls, real = [], FlowEngine.anatomy

    def counting(engine, sources, targets):
        calls.append(engine.cancel)
        return real(engine, sources, targets)

    monkeypatch.setattr(FlowEngine, "anatomy", counting)
    widget.selected_edge = {"source": first.source, "target": first.target}
    widget.selected_edge = {"source": second.source, "target": second.target}  # before the first could finish
    widget.wait(timeout=30)
    assert widget.anatomy_object.targets == [second.target] and calls[-1] is not None
    assert all(cancel.is_set() for cancel in calls[:-1]), "the first anatomy was cancelled"
    widget.selected_edge = None
    assert widget.anatomy is None and widget.anatomy_object is None
    count = len(calls)
    widget.selected_edge = {"source": second.source, "target": second.target}
    assert widget.anatomy["status"] == "done" and "cached" in widget.status and len(calls) == count


def test_a_bad_selected_edge_is_refused_and_a_new_graph_unselects(tiny):
    widget = make(tiny)
    with pytest.raises(InfoFlowError, match="not an edge of the graph on show"):
        widget.selected_edge = {"source": 3, "target": 1}
    assert "not an edge" in widget.error and widget.selected_edge is None
    for bad, match in [({"source": 1}, "must be None or a dict"), ({"source": -1, "target": 2}, "whole number"),
                       ({"source": 1, "target": 2, "level": 1}, "level 1 is not open")]:  # fmt: skip
        with pytest.raises(InfoFlowError, match=match):
            widget.selected_edge = bad
    edge = widget.graph_object.top(1).edges[0]
    chosen = {"source": edge.source, "target": edge.target}
    widget.set_state({"selected_edge": chosen})
    widget.wait(timeout=30)
    widget.set_state({"selected_edge": {"source": 0, "target": 99, "level": 0}})  # as the browser does: no raise
    assert "not an edge" in widget.error and widget.selected_edge == chosen and widget.anatomy["status"] == "done"
    widget.intervention = "crop"
    assert widget.selected_edge is None and widget.anatomy is None  # at once: it belongs to the graph replaced
    widget.wait(timeout=30)
    assert widget.selected_edge is None and widget.anatomy is None


def test_a_span_edge_and_an_edge_inside_a_drill_down_get_their_anatomy(tiny):
    widget = make(tiny, strategy="bisect")
    graph = widget.graph_object
    span = next(e for e in graph.edges if graph.nodes[e.source].end - graph.nodes[e.source].start > 1)
    widget.selected_edge = {"source": span.source, "target": span.target}
    widget.wait(timeout=30)
    source = graph.nodes[span.source]
    assert widget.anatomy_object.sources == list(range(source.start, source.end))  # the group edge of the spans
    assert widget.anatomy["lens"]["source"]["position"] == source.end - 1
    widget.send = lambda content, buffers=None: None
    widget._handle_custom_msg({"type": "expand", "source": span.source, "target": span.target, "level": 0}, [])
    widget.wait(timeout=30)
    inner = widget._computation.drill[1].edges[0]
    widget.selected_edge = {"source": inner.source, "target": inner.target, "level": 1}
    widget.wait(timeout=30)
    assert widget.anatomy["edge"]["level"] == 1 and widget.anatomy["status"] == "done"


def test_a_prompt_set_widget_refuses_what_needs_one_prompt(tiny):
    from infoflow_widget import PromptSet

    names = ["mary", "john", "felix", "sarah"]
    prompts = PromptSet.from_template("when {IO} and {S} went to the store , {S} gave a book to", IO=names, S=names,
                                      answer="{IO}", distractor="{S}", n=3, tokenizer=tiny.tokenizer)  # fmt: skip
    with pytest.raises(InfoFlowError, match="carries each prompt's answer"):
        InfoFlowWidget(tiny, prompts, answer="mary")
    with pytest.raises(InfoFlowError, match="consensus compares interventions on one prompt"):
        InfoFlowWidget(tiny, prompts, intervention="consensus")
    widget = InfoFlowWidget(tiny, prompts, top_k=5)
    try:
        roles = widget.wait(timeout=60)
        assert widget.graph["tokens"] == roles.nodes and widget.graph_object.tokens == roles.nodes
        assert "consensus" not in [entry["name"] for entry in widget.interventions]
        edge = widget.graph["edges"][0]
        assert {"low", "high", "sign_consistency", "n"} <= set(edge) and edge["n"] == 3
        with pytest.raises(InfoFlowError, match="prompt_index must be -1 .* or a prompt 0..2; got 3"):
            widget.prompt_index = 3
        with pytest.raises(InfoFlowError, match="The anatomy of an edge"):
            widget.selected_edge = {"source": 0, "target": 1}
        widget.prompt_index = 1
        assert widget.graph["tokens"] == roles.graphs[1].tokens and widget.graph_object is roles.graphs[1]
        assert "low" not in widget.graph["edges"][0] and widget.graph["provenance"]["prompt_of_set"]["index"] == 1
        assert widget.wait() is roles and widget.error == ""
    finally:
        widget.close()
