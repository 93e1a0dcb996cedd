"""Bad input: a clear InfoFlowError raised before any forward pass, each case on a tiny model."""

from __future__ import annotations

import math

import pytest
from conftest import make_tiny, word_tokenizer

from infoflow_widget import (
    Corrupt,
    Crop,
    Dampen,
    FlowEngine,
    InfoFlowError,
    LogitDiff,
    PromptLengthError,
    UnsupportedModelError,
    compute_flow,
    load_model,
    wrap_model,
)

PROMPT = "when mary and john went to the store , john gave a book to"


@pytest.fixture(scope="module")
def model():
    return make_tiny("llama")


@pytest.fixture
def forward_calls(model):
    calls = []
    handle = model._module.register_forward_pre_hook(lambda *_: calls.append(1))
    yield calls
    handle.remove()


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"prompt": ""}, "prompt is empty"),
        ({"prompt": "   "}, "prompt is empty"),
        ({"prompt": "mary"}, "at least two"),
        ({"prompt": " ".join(["mary"] * 65)}, "65 tokens, longer than the model's context of 64"),
        ({"answer": "mary john", "distractor": "john"}, r"2 tokens for this tokenizer \(\['mary', 'john'\]\), not one"),
        ({"answer": "mary", "distractor": "mary"}, "same token"),
        ({"answer": None, "distractor": "john"}, "needs an answer"),
        ({"intervention": Corrupt("when mary went")}, "corrupted prompt is 3 tokens but the clean prompt is 14"),
        ({"layers": [0, 3]}, r"Layers \[3\] are out of range: this model has layers 0..2"),
        ({"layers": [-1]}, "out of range"),
        ({"layers": []}, "out of range"),
        ({"batch_size": 0}, "batch_size must be a positive integer"),
        ({"threshold": -0.1}, "threshold must be a finite number >= 0"),
        ({"threshold": math.nan}, "threshold must be a finite number >= 0"),
        ({"intervention": "zero"}, r"intervention must be Zero\(\)"),
        ({"metric": 3}, "A metric must be a Metric or a callable"),
        ({"batch_size": True}, "batch_size must be a positive integer"),
        ({"layers": 2}, "layers must be a list of layer indices"),
        ({"layers": [True]}, "layers must be a list of layer indices"),
        ({"memory_budget": -1}, "memory_budget must be a positive number of bytes"),
        ({"memory_budget": "2GB"}, "memory_budget must be a positive number of bytes"),
        ({"progress": "yes"}, "progress must be True, False or a callable"),
        ({"cancel": 3}, "cancel must be a threading.Event"),
        ({"strategy": "full"}, r"strategy must be a Strategy such as Full\(\)"),
        ({"threshold": True}, "threshold must be a finite number >= 0"),
    ],
)
def test_clear_error_before_any_work(model, forward_calls, kwargs, message):
    args = {"prompt": PROMPT, "answer": "mary", "distractor": "john", "progress": False} | kwargs
    if "metric" in kwargs:
        args.pop("answer"), args.pop("distractor")
    with pytest.raises(InfoFlowError, match=message):
        compute_flow(model, **args)
    assert forward_calls == [], "the error must come before any forward pass"


def test_a_model_not_wrapped_for_the_engine_is_named(model, forward_calls):
    with pytest.raises(InfoFlowError, match=r"wrap_model\(model, tokenizer\)"):
        FlowEngine(model._module, PROMPT, LogitDiff("mary", "john"))
    with pytest.raises(InfoFlowError, match="got NoneType"):
        FlowEngine(None, PROMPT)
    base = FlowEngine(model, PROMPT, LogitDiff("mary", "john"), progress=False)
    with pytest.raises(InfoFlowError, match="cancel must be"):
        base.with_intervention(Crop(), cancel=3)
    assert len(forward_calls) == 1, "only the base engine's clean run"


def test_corrupted_length_error_names_first_difference(model):
    with pytest.raises(PromptLengthError, match="differ from position 2"):
        FlowEngine(
            model,
            PROMPT,
            LogitDiff("mary", "john"),
            Corrupt("when mary mary and john went to the store , john gave a book to"),
        )


@pytest.mark.parametrize("alpha", [-0.5, math.nan, math.inf, "1"])
def test_alpha_must_be_finite_and_non_negative(alpha):
    with pytest.raises(InfoFlowError, match="alpha >= 0"):
        Dampen(alpha)


def test_unknown_model_name_lists_bundled_models():
    with pytest.raises(UnsupportedModelError, match="Bundled models: gemma-3-270m, smollm2-135m"):
        load_model("gpt-17")


def test_model_without_reachable_attention():
    from transformers import AutoModelForCausalLM, MambaConfig

    mamba = AutoModelForCausalLM.from_config(
        MambaConfig(vocab_size=20, hidden_size=16, num_hidden_layers=1, state_size=4)
    )
    with pytest.raises(UnsupportedModelError, match="Cannot reach the attention pattern of MambaForCausalLM"):
        wrap_model(mamba, word_tokenizer())


def test_edge_groups_out_of_range(model):
    engine = FlowEngine(model, PROMPT, LogitDiff("mary", "john"), progress=False)
    passes = engine.forward_passes
    with pytest.raises(InfoFlowError, match="positions in 0..13"):
        engine.effects([([0], [14])])
    with pytest.raises(InfoFlowError, match="non-empty"):
        engine.effects([([], [3])])
    assert engine.forward_passes == passes


def test_custom_metric_of_wrong_shape(model, forward_calls):
    with pytest.raises(InfoFlowError, match=r"shape \(batch,\)"):
        compute_flow(model, PROMPT, metric=lambda logits: logits.sum(), progress=False)
    assert forward_calls == [], "found on a probe, before the clean run"


def test_custom_metric_and_kl_default(model):
    graph = compute_flow(model, PROMPT, metric=lambda logits: logits[:, 1] - logits[:, 3], progress=False)
    reference = compute_flow(model, PROMPT, answer="mary", distractor="john", progress=False)
    assert [e.effect for e in graph.edges] == pytest.approx([e.effect for e in reference.edges], abs=1e-6)
    kl = compute_flow(model, PROMPT, progress=False)
    assert kl.clean_metric == 0.0 and min(e.effect for e in kl.edges) >= -1e-6 and max(e.effect for e in kl.edges) > 0
