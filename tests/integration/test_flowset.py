"""compute_flow_set: per-prompt effects equal compute_flow alone; role edges are their statistics."""

from __future__ import annotations

import statistics

import pytest

from infoflow_widget import Bisect, Corrupt, FlowEngine, InfoFlowError, LogitDiff, Zero, compute_flow
from infoflow_widget.analysis.flowset import compute_flow_set
from infoflow_widget.text.promptset import PromptSet

TEMPLATE = "when {IO} and {S} went to the store , {S} gave a book to"
NAMES = ["mary", "john", "felix", "sarah", "diego", "bob", "alice"]


@pytest.fixture(scope="module")
def tiny(request):
    from conftest import make_tiny

    return make_tiny("llama")


@pytest.fixture(scope="module")
def template_set(tiny):
    return PromptSet.from_template(
        TEMPLATE, IO=NAMES, S=NAMES, answer="{IO}", distractor="{S}", n=6, seed=0, tokenizer=tiny.tokenizer
    )


@pytest.fixture(scope="module")
def role_graph(tiny, template_set):
    return compute_flow_set(tiny, template_set, Zero(), batch_size=64, progress=False)


def test_every_prompt_equals_compute_flow_alone(tiny, template_set, role_graph):
    assert len(role_graph.graphs) == 6
    separate_passes = 0
    for k, record in enumerate(template_set):
        alone = compute_flow(
            tiny, record.prompt, answer=record.answer, distractor=record.distractor, batch_size=64, progress=False
        )
        separate_passes += alone.stats["forward_passes"]
        joint = role_graph.graphs[k]
        assert [(e.source, e.target) for e in joint.edges] == [(e.source, e.target) for e in alone.edges]
        assert [e.effect for e in joint.edges] == pytest.approx([e.effect for e in alone.edges], abs=1e-4)
        assert joint.clean_metric == pytest.approx(alone.clean_metric, abs=1e-5)
    assert max(abs(e.effect) for e in role_graph.graphs[0].edges) > 1e-3
    # Six prompts of one length share passes: 6 clean runs + the joint plan, fewer than six graphs' own passes.
    assert role_graph.stats["forward_passes"] < separate_passes


def test_role_edges_are_the_statistics_of_the_prompts(template_set, role_graph):
    labels = template_set.labels[0]
    assert role_graph.nodes == list(labels) and {"IO", "S1", "S2", "END"} <= set(labels)
    for source, target in [("IO", "END"), ("S2", "END"), ("S1", "S2")]:
        j, i = labels.index(source), labels.index(target)
        values = [next(e.effect for e in g.edges if (e.source, e.target) == (j, i)) for g in role_graph.graphs]
        edge = role_graph.edge(source, target)
        mean = statistics.fmean(values)
        assert edge.mean == pytest.approx(mean, abs=1e-12)
        assert edge.std == pytest.approx(statistics.stdev(values), abs=1e-12)
        assert edge.n == 6
        share = sum((v > 0) == (mean > 0) for v in values) / 6  # no effect here is exactly 0
        assert 0 not in values
        assert edge.sign_consistency == pytest.approx(share)
        half = 2.5706 * statistics.stdev(values) / 6**0.5  # t(0.975, df=5)
        assert (edge.low, edge.high) == pytest.approx((mean - half, mean + half), abs=1e-3)


def test_search_strategies_and_auto_corrupt_run_per_prompt(tiny, template_set):
    subset = PromptSet(template_set.prompts[:2], template_set.answers[:2], template_set.distractors[:2])
    searched = compute_flow_set(tiny, subset, Zero(), strategy=Bisect(threshold=0.0, min_size=4), progress=False)
    for k, graph in enumerate(searched.graphs):
        metric = LogitDiff(subset.answers[k], subset.distractors[k])
        alone = FlowEngine(tiny, subset.prompts[k], metric, progress=False).graph(Bisect(threshold=0.0, min_size=4))
        assert [e.effect for e in graph.edges] == pytest.approx([e.effect for e in alone.edges], abs=1e-4)
    auto = compute_flow_set(tiny, subset, Corrupt.auto(n=2), progress=False)
    for k, graph in enumerate(auto.graphs):
        metric = LogitDiff(subset.answers[k], subset.distractors[k])
        alone = FlowEngine(tiny, subset.prompts[k], metric, Corrupt.auto(n=2), progress=False).graph()
        assert [e.effect for e in graph.edges] == pytest.approx([e.effect for e in alone.edges], abs=1e-4)
        assert graph.provenance["corruption"] == alone.provenance["corruption"]


def test_progress_counts_every_prompt_edge(tiny, template_set):
    seen = []
    compute_flow_set(tiny, template_set, Zero(), progress=lambda *a: seen.append(a))
    n = len(template_set.labels[0])
    assert seen[-1][:2] == (6 * n * (n + 1) // 2,) * 2 and seen[-1][2] == "prompt set"


@pytest.mark.parametrize(
    "kwargs, message",
    [
        ({"prompt_set": ["when mary"]}, "must be a PromptSet"),
        ({"executor": "dask"}, "executor must be one of"),
        ({"workers": 0}, "workers must be"),
        ({"strategy": "full"}, "strategy must be a Strategy"),
    ],
)
def test_bad_requests_fail_before_work(tiny, template_set, kwargs, message):
    arguments = {"prompt_set": template_set, **kwargs}
    with pytest.raises(InfoFlowError, match=message):
        compute_flow_set(tiny, progress=False, **arguments)


def test_an_answer_of_two_tokens_fails_before_any_clean_run(tiny, monkeypatch):
    runs = []
    real = FlowEngine._clean_run
    monkeypatch.setattr(FlowEngine, "_clean_run", lambda e: runs.append(1) or real(e))
    prompts = ["when mary and john went to", "when john and mary went to"]
    bad = PromptSet(prompts, ["mary", "john bob"], ["john", "mary"])
    with pytest.raises(InfoFlowError, match="prompt 1"):
        compute_flow_set(tiny, bad, progress=False)
    assert runs == []


def test_ray_workers_equal_the_local_run(tiny_model_folder):
    pytest.importorskip("ray")
    from infoflow_widget import load_model

    model = load_model(str(tiny_model_folder))
    prompts = PromptSet.from_template(
        TEMPLATE, IO=NAMES, S=NAMES, answer="{IO}", distractor="{S}", n=4, seed=1, tokenizer=model.tokenizer
    )
    local = compute_flow_set(model, prompts, Zero(), progress=False)
    # 3 workers asked for, 4 prompts: shards of 2, so 2 workers run, and the provenance says so.
    distributed = compute_flow_set(str(tiny_model_folder), prompts, Zero(), executor="ray", workers=3, progress=False)
    assert distributed.provenance["executor"] == "ray" and len(distributed.graphs) == 4
    assert distributed.provenance["workers"] == 2
    for a, b in zip(local.graphs, distributed.graphs):
        assert [e.effect for e in a.edges] == pytest.approx([e.effect for e in b.edges], abs=1e-5)
    assert [e.mean for e in local.edges] == pytest.approx([e.mean for e in distributed.edges], abs=1e-5)
