"""An edge's anatomy (by layer, by head, by window) equals one reference pass per layer/head mask."""

from __future__ import annotations

import statistics

import pytest
import torch
from conftest import WORDS, word_tokenizer

from infoflow_widget import Corrupt, FlowEngine, InfoFlowError, Knockout, LogitDiff, Zero
from infoflow_widget.engine.reference import reference_effects

PROMPT = "when mary and john went to the store , john gave a book to"
CORRUPTED = "when felix and sarah went to the store , diego gave a book to"
METRIC = LogitDiff("mary", "john")
N = 14
EDGE = ([9], [13])  # S2 -> END
GROUP = ([1, 3], [12, 13])


def reference(model, intervention, group, layers=None, heads=None):
    return reference_effects(model, PROMPT, METRIC, intervention, [group], layers=layers, heads=heads)[1][0]


@pytest.mark.parametrize("intervention", [Zero(), Knockout(), Corrupt(CORRUPTED)], ids=["zero", "knockout", "corrupt"])
def test_anatomy_equals_the_reference_in_every_layer_head_and_window(tiny_model, intervention):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, intervention, batch_size=64, progress=False)
    group = GROUP if intervention.kind == "zero" else EDGE
    anatomy = engine.anatomy(*group)
    count, heads = engine.num_layers, len(anatomy.heads[0])
    assert heads == tiny_model._module.config.num_attention_heads == 4
    for layer in range(count):
        assert anatomy.layers[layer] == pytest.approx(reference(tiny_model, intervention, group, [layer]), abs=1e-4)
        for head in range(heads):
            expected = reference(tiny_model, intervention, group, [layer], [head])
            assert anatomy.heads[layer][head] == pytest.approx(expected, abs=1e-4), (layer, head)
        up_to, after = list(range(layer + 1)), list(range(layer, count))
        assert anatomy.up_to[layer] == pytest.approx(reference(tiny_model, intervention, group, up_to), abs=1e-4)
        assert anatomy.from_layer[layer] == pytest.approx(reference(tiny_model, intervention, group, after), abs=1e-4)
    assert anatomy.effect == pytest.approx(reference(tiny_model, intervention, group), abs=1e-4)
    assert max(abs(v) for row in anatomy.heads for v in row) > 1e-3, "the heads differ: the test measures something"
    # 3 layers + 12 heads + 6 windows + the whole edge share one batch: the clean run's prefix is reused once.
    assert anatomy.stats["forward_passes"] == 1 and anatomy.stats["interventions"] == 3 + 12 + 6 + 1


def test_one_head_per_layer_makes_each_head_its_layer():
    from transformers import AutoModelForCausalLM, LlamaConfig

    from infoflow_widget import wrap_model

    torch.manual_seed(1)
    config = LlamaConfig(
        vocab_size=len(WORDS) + 1, hidden_size=16, intermediate_size=32, num_hidden_layers=4, num_attention_heads=1,
        num_key_value_heads=1, max_position_embeddings=64, bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )  # fmt: skip
    model = wrap_model(AutoModelForCausalLM.from_config(config), word_tokenizer(), name="tiny-one-head")
    anatomy = FlowEngine(model, PROMPT, METRIC, Zero(), progress=False).anatomy(*EDGE)
    assert [row[0] for row in anatomy.heads] == pytest.approx(anatomy.layers, abs=1e-6)
    assert max(abs(v) for v in anatomy.layers) > 1e-4
    strongest = max(range(4), key=lambda k: abs(anatomy.layers[k]))
    assert anatomy.kv_group == 1 and anatomy.top_heads(1)[0][:2] == (strongest, 0)
    assert anatomy.top_heads(0) == [] and len(anatomy.top_heads(100)) == 4
    for bad in (-1, "x", 2.0):
        with pytest.raises(InfoFlowError, match=r"top_heads\(k\) needs a whole number"):
            anatomy.top_heads(bad)


def test_whole_window_is_the_graph_edge_and_grouped_heads_are_reported(tiny_model):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False)
    anatomy = engine.anatomy(9, 13)
    (effect,) = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False).effects([EDGE])
    assert anatomy.effect == anatomy.from_layer[0] == anatomy.up_to[-1]
    assert anatomy.effect == pytest.approx(effect, abs=1e-6)
    config = tiny_model._module.config
    assert anatomy.kv_group == config.num_attention_heads // getattr(config, "num_key_value_heads", 4)
    table = anatomy.to_pandas()
    assert len(table) == 12 and table["effect"].tolist() == [v for row in anatomy.heads for v in row]
    data = anatomy.to_dict()
    assert set(data["windows"]) == {"up_to", "from"} and data["heads"] == anatomy.heads
    assert anatomy.heatmap().data[0].z is not None


def test_graph_anatomy_and_a_layer_subset(tiny_model):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), layers=[0, 2], progress=False)
    graph = engine.graph()
    edge = graph.strongest(1)[0] if hasattr(graph, "strongest") else max(graph.edges, key=lambda e: abs(e.effect))
    anatomy = engine.anatomy(*graph.positions(edge))
    assert anatomy.layer_indices == [0, 2] and anatomy.effect == pytest.approx(edge.effect, abs=1e-6)
    src, tgt = graph.nodes[edge.source], graph.nodes[edge.target]
    expected = reference(tiny_model, Zero(), ([src.start], [tgt.start]), [2])
    assert anatomy.layers[1] == pytest.approx(expected, abs=1e-4)


def test_auto_corrupt_anatomy_is_the_mean_of_its_samples(tiny_model):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Corrupt.auto(n=2), progress=False)
    anatomy = engine.anatomy(*EDGE)
    singles = [
        FlowEngine(tiny_model, PROMPT, METRIC, sample.intervention, progress=False).anatomy(*EDGE)
        for sample in engine.samples
    ]
    for layer in range(engine.num_layers):
        for head in range(4):
            mean = statistics.fmean(s.heads[layer][head] for s in singles)
            assert anatomy.heads[layer][head] == pytest.approx(mean, abs=1e-5)


@pytest.mark.parametrize(
    "sources, targets, message",
    [
        (14, 13, "out of range"),
        (-1, 13, "out of range"),
        (13, 9, "comes after the target"),
        ([10, 12], [3, 9], "comes after the target"),
        (1.5, 13, "token position"),
        ("9", 13, "token position"),
        ([], 13, "token position"),
    ],
)
def test_bad_positions_fail_before_any_pass(tiny_model, sources, targets, message):
    engine = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False)
    passes = engine.forward_passes
    with pytest.raises(InfoFlowError, match=message):
        engine.anatomy(sources, targets)
    assert engine.forward_passes == passes


def test_an_edge_of_another_graph_is_refused(tiny_model):
    one = FlowEngine(tiny_model, PROMPT, METRIC, Zero(), progress=False).graph()
    other = FlowEngine(tiny_model, "when john and mary went to the store", METRIC, Zero(), progress=False).graph()
    with pytest.raises(InfoFlowError, match="not an edge of this graph"):
        one.positions(other.edges[-1])


@pytest.mark.slow
def test_anatomy_on_smollm2_equals_the_reference(smollm, ioi_case):
    """Every layer, one head per layer (in turn 0..8) and every fifth window, against one reference pass each."""
    prompt, metric = ioi_case["prompt"], LogitDiff(ioi_case["answer"], ioi_case["distractor"])
    anatomy = FlowEngine(smollm, prompt, metric, Zero(), progress=False).anatomy(9, 13)  # S2 -> END

    def expected(layers, heads=None):
        return reference_effects(smollm, prompt, metric, Zero(), [([9], [13])], layers=layers, heads=heads)[1][0]

    count = len(anatomy.layers)
    for layer in range(count):
        assert anatomy.layers[layer] == pytest.approx(expected([layer]), abs=1e-4)
        head = layer % len(anatomy.heads[layer])
        assert anatomy.heads[layer][head] == pytest.approx(expected([layer], [head]), abs=1e-4)
    for layer in range(0, count, 5):
        assert anatomy.up_to[layer] == pytest.approx(expected(list(range(layer + 1))), abs=1e-4)
        assert anatomy.from_layer[layer] == pytest.approx(expected(list(range(layer, count))), abs=1e-4)
    assert anatomy.kv_group == 3 and max(abs(v) for row in anatomy.heads for v in row) > 0.5
