"""The logit lens reads each layer's residual stream as the model reads its last one, on six architectures.

The last layer at the final position is the engine's clean run; every other row is checked against a plain
PyTorch computation (``output_hidden_states=True``, then the final norm, the unembedding and the soft-capping,
written out here per architecture), never against the lens's own decoding.
"""

from __future__ import annotations

import json

import numpy
import pytest
import torch
from conftest import WORDS, make_tiny, tiny_config, word_tokenizer

from infoflow_widget import FlowEngine, InfoFlowError, LogitDiff
from infoflow_widget.engine.lens import EMBEDDINGS, LogitLens, logit_lens

PROMPT = "when mary and john went to the store , john gave a book to"
METRIC = LogitDiff("mary", "john")
N = 14
CAP = 0.5
"""A final soft-cap well under the tiny models' largest logits, so that leaving it out would show."""

ARCHS = ["gpt2", "gpt_neox", "llama", "qwen2", "gemma3", "gemma2-softcap", "gemma3-softcap"]

FINAL_NORM = {
    "gpt2": lambda hf: hf.transformer.ln_f,
    "gpt_neox": lambda hf: hf.gpt_neox.final_layer_norm,
    "llama": lambda hf: hf.model.norm,
    "qwen2": lambda hf: hf.model.norm,
    "gemma2": lambda hf: hf.model.norm,
    "gemma3": lambda hf: hf.model.norm,
}
"""Each architecture's final norm, by hand: the independent side of the check."""


def softcapped(arch: str):
    """A tiny random model of ``arch`` whose config soft-caps its final logits at CAP (Gemma 2 and 3 do)."""
    from transformers import AutoModelForCausalLM

    from infoflow_widget import wrap_model

    torch.manual_seed(0)
    config = tiny_config(arch)
    config.final_logit_softcapping = CAP
    model = AutoModelForCausalLM.from_config(config, attn_implementation="eager")
    return wrap_model(model, word_tokenizer(), name=f"tiny-{arch}-softcap")


@pytest.fixture(scope="module", params=ARCHS)
def engine(request) -> FlowEngine:
    arch = request.param
    model = softcapped(arch.removesuffix("-softcap")) if arch.endswith("-softcap") else make_tiny(arch)
    return FlowEngine(model, PROMPT, METRIC, progress=False)


def vocab(engine: FlowEngine) -> int:
    return engine.hf_model.get_output_embeddings().weight.shape[0]


def lens_logits(lens: LogitLens, size: int) -> torch.Tensor:
    """The lens's logits ``(layers + 1, vocab)`` in vocabulary order, from a lens that kept every token."""
    ids = {text: i for i, text in enumerate(LENS_VOCAB)}
    out = torch.full((len(lens.layers), size), float("nan"))
    for row, layer in enumerate(lens.layers):
        for token in layer.top:
            out[row, ids[token.token]] = token.logit
    return out


LENS_VOCAB = [*WORDS, "[UNK]"]
"""The tiny models' tokens, in id order."""


def independent_logits(engine: FlowEngine, position: int) -> torch.Tensor:
    """Each layer's logits at ``position`` ``(layers + 1, vocab)``, by plain PyTorch on the whole prompt.

    In transformers, hidden_states[0] is the embeddings and hidden_states[k + 1] layer k's output, except the
    last, which is after the final norm: the last row is the model's own logits instead.
    """
    hf = engine.hf_model
    arch = hf.config.model_type.removesuffix("_text")
    with torch.no_grad():
        out = hf(engine.input_ids, output_hidden_states=True)
        hidden = torch.stack([h[0, position] for h in out.hidden_states[:-1]])
        logits = hf.get_output_embeddings()(FINAL_NORM[arch](hf)(hidden))
        cap = getattr(hf.config, "final_logit_softcapping", None)
        if cap:
            logits = cap * torch.tanh(logits / cap)
        return torch.cat([logits, out.logits[0, position][None]]).float()


def test_last_layer_at_the_final_position_is_the_clean_run(engine):
    passes = engine.forward_passes
    lens = logit_lens(engine, N - 1, top=vocab(engine))
    assert engine.forward_passes == passes + 1
    assert lens.exact and lens.position == N - 1 and lens.token == "to"
    assert [row.layer for row in lens.layers] == [EMBEDDINGS, *range(engine.num_layers)]
    last = lens.layers[-1]
    clean = engine.clean_logits.cpu()
    assert last.top[0].token == LENS_VOCAB[int(clean.argmax())]
    assert lens_logits(lens, vocab(engine))[-1] == pytest.approx(clean, abs=1e-4)
    assert [t.prob for t in last.top] == pytest.approx(clean.softmax(-1).sort(descending=True).values, abs=1e-6)
    assert last.metric == pytest.approx(engine.clean_metric, abs=1e-4)
    assert logit_lens(engine, -1).to_dict() == logit_lens(engine, N - 1).to_dict()


@pytest.mark.parametrize("position", [0, 4, 9])
def test_every_layer_matches_plain_pytorch(engine, position):
    lens = logit_lens(engine, position, top=vocab(engine))
    expected = independent_logits(engine, position)
    assert lens.exact and lens.token == PROMPT.split()[position]
    assert lens_logits(lens, vocab(engine)) == pytest.approx(expected, abs=1e-4)
    mary, john = LENS_VOCAB.index("mary"), LENS_VOCAB.index("john")
    assert [row.metric for row in lens.layers] == pytest.approx(
        (expected[:, mary] - expected[:, john]).tolist(), abs=1e-4
    )
    # Each layer's rows are ranked, with probabilities of the whole vocabulary.
    for row in lens.layers:
        assert [t.logit for t in row.top] == sorted((t.logit for t in row.top), reverse=True)
        assert sum(t.prob for t in row.top) == pytest.approx(1.0, abs=1e-5)


def test_the_soft_cap_is_applied():
    """Without the cap the tiny Gemma's logits would differ: the lens's agreement above is not by luck."""
    engine = FlowEngine(softcapped("gemma3"), PROMPT, METRIC, progress=False)
    lens = logit_lens(engine, 5, top=vocab(engine))
    logits = lens_logits(lens, vocab(engine))
    assert logits.abs().max() < CAP
    uncapped = CAP * torch.atanh(logits / CAP)
    assert (uncapped - logits).abs().max() > 1e-2


def test_results_as_data(engine):
    lens = logit_lens(engine, numpy.int64(3), top=2)
    frame = lens.to_pandas()
    assert len(frame) == 2 * (engine.num_layers + 1)
    assert list(frame.columns) == ["layer", "label", "rank", "token", "logit", "prob", "metric"]
    assert frame["label"].iloc[0] == "embed" and frame["rank"].tolist()[:2] == [1, 2]
    data = json.loads(lens.to_json())
    assert data == lens.to_dict() and data["position"] == 3 and data["token"] == "john"
    assert data["layers"][-1]["top"][0] == lens.layers[-1].top[0]._asdict()
    token, logit, prob = lens.layers[0].top[0]  # a top token unpacks as (text, logit, prob)
    assert isinstance(token, str) and prob <= 1.0 and logit == lens.layers[0].top[0].logit


def test_negative_positions_count_from_the_end(engine):
    assert logit_lens(engine, -N).to_dict() == logit_lens(engine, 0).to_dict()
    assert logit_lens(engine, -3).position == N - 3


@pytest.mark.parametrize("position", [N, -N - 1, 100, 1.0, 2.5, "3", True, None, [3], numpy.float64(2)])
def test_bad_positions_fail_before_any_forward_pass(engine, position):
    passes, positions = engine.forward_passes, engine.positions
    with pytest.raises(InfoFlowError, match="position"):
        logit_lens(engine, position)
    assert (engine.forward_passes, engine.positions) == (passes, positions)


@pytest.mark.parametrize("top", [0, -1, 2.0, True, "5", None])
def test_bad_top_fails_before_any_forward_pass(engine, top):
    passes = engine.forward_passes
    with pytest.raises(InfoFlowError, match="top"):
        logit_lens(engine, 3, top=top)
    assert engine.forward_passes == passes


def test_top_is_at_most_the_vocabulary(engine):
    assert all(len(row.top) == vocab(engine) for row in logit_lens(engine, 3, top=10_000).layers)


@pytest.mark.slow
def test_ioi_on_smollm(smollm, ioi_case):
    """At END the model's answer appears only at the last layer; the logit difference turns positive late."""
    engine = FlowEngine(
        smollm, ioi_case["prompt"], LogitDiff(ioi_case["answer"], ioi_case["distractor"]), progress=False
    )
    lens = logit_lens(engine, -1, top=5)
    assert lens.exact and lens.position == engine.n - 1 and lens.token == " to"
    assert lens.layers[-1].top[0].token == ioi_case["answer"] == " Mary"
    assert lens.layers[-1].top[0].prob > 0.5
    assert lens.layers[-1].metric == pytest.approx(engine.clean_metric, abs=1e-3)
    # Observed: negative up to layer 22 of 30, positive from layer 23 on (5.93 at the last).
    metric = [row.metric for row in lens.layers]
    assert all(m < 0 for m in metric[: 2 * len(metric) // 3])
    assert all(m > 0 for m in metric[-5:])


def test_a_lens_that_misses_the_models_logits_says_so(engine, monkeypatch):
    """An architecture doing something the lens does not know after its last layer: a warning and exact=False."""
    import infoflow_widget.engine.lens as lens_module

    right = lens_module.decode
    monkeypatch.setattr(lens_module, "decode", lambda hf, residuals: right(hf, residuals) * 2 + 1)
    with pytest.warns(UserWarning, match="does not reproduce the model's logits"):
        lens = logit_lens(engine, 2)
    assert not lens.exact and not lens.to_dict()["exact"]


def test_final_norm_of_an_unknown_architecture(monkeypatch):
    """An architecture outside FINAL_NORMS gets its base model's one norm child; none, or several: an error."""
    from infoflow_widget.core.errors import UnsupportedModelError
    from infoflow_widget.engine.models import final_norm

    hf = make_tiny("gpt_neox")._module
    monkeypatch.setattr(hf.config, "model_type", "not_an_architecture")
    assert final_norm(hf) == "gpt_neox.final_layer_norm"
    monkeypatch.setattr(hf.gpt_neox, "extra_norm", torch.nn.LayerNorm(4), raising=False)
    with pytest.raises(UnsupportedModelError, match="final norm"):
        final_norm(hf)
