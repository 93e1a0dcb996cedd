"""An answer whose spacing the model finds unlikely ('mary' where the model expects ' mary') warns, from Python and
as one line from the ``infoflow`` command; the graph is computed all the same.
"""

from __future__ import annotations

import json

import pytest
from conftest import infoflow_cli, one_line


@pytest.fixture(scope="module")
def spacing_model(tmp_path_factory):
    """A tiny random Llama whose tokenizer tells 'mary' from ' mary' (Metaspace, as SentencePiece models do).

    Returns its folder, a prompt, and a word's two spellings: the one the clean run scores more than
    SPACING_MARGIN logits lower first.
    """
    import torch
    from conftest import WORDS
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    from infoflow_widget.engine.metrics import SPACING_MARGIN

    vocab = {w: i for i, w in enumerate([*WORDS, *(f"▁{w}" for w in WORDS), "[UNK]"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    backend.decoder = decoders.Metaspace(prepend_scheme="never")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False,
        bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(50.0)  # logits far apart: one spelling of a word clearly preferred
    folder = tmp_path_factory.mktemp("tiny-spacing")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    prompt = "when mary and john went to the store"
    with torch.no_grad():
        logits = model(tokenizer(prompt, return_tensors="pt")["input_ids"]).logits[0, -1]

    def logit(text: str) -> float:
        return float(logits[tokenizer(text, add_special_tokens=False)["input_ids"][0]])

    for word in WORDS:
        low, high = sorted((word, f" {word}"), key=logit)
        if logit(high) - logit(low) > SPACING_MARGIN + 1:
            return folder, prompt, low, high
    raise AssertionError("no word whose spellings the tiny model tells apart")


def test_a_token_string_of_the_unlikely_spacing_warns(spacing_model):
    import warnings

    from infoflow_widget import FlowEngine, Logit, load_model

    folder, prompt, low, high = spacing_model
    model = load_model(str(folder), device="cpu")
    with pytest.warns(UserWarning, match="clean run scores it .* logits higher") as caught:
        FlowEngine(model, prompt, Logit(low), progress=False)
    (message,) = [str(w.message) for w in caught]
    assert repr(low) in message and repr(high) in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlowEngine(model, prompt, Logit(high), progress=False)


def test_the_cli_shows_the_spacing_warning_as_one_line(spacing_model):
    folder, prompt, low, high = spacing_model
    done = infoflow_cli("graph", "--model", str(folder), "--prompt", prompt, "--answer", low, "--quiet",
                        "--device", "cpu", "--out", "-")  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("infoflow: warning: The target") and repr(high) in line
    assert json.loads(done.stdout)["edges"], "the graph is computed all the same"


@pytest.mark.slow
def test_mary_without_its_space_warns_on_smollm2(smollm, ioi_case):
    import warnings

    from infoflow_widget import FlowEngine, LogitDiff

    with pytest.warns(UserWarning, match="The answer 'Mary' may be missing its leading space: ' Mary'"):
        FlowEngine(smollm, ioi_case["prompt"], LogitDiff("Mary", ioi_case["distractor"]), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlowEngine(smollm, ioi_case["prompt"], LogitDiff(ioi_case["answer"], ioi_case["distractor"]), progress=False)
