"""Tokens that hold part of a character show their bytes on the bundled tokenizers (SmolLM2-135M, Gemma 3 270M),
and in every view of a graph computed on SmolLM2-135M.

The same on a tokenizer built offline: tests/unit/test_token_display.py.
"""

from __future__ import annotations

import pytest
from conftest import bundled_tokenizer

from infoflow_widget.graph.flowgraph import FlowGraph

EMOJI_CJK = "Hi 😀 there 日本語 猫"


@pytest.mark.slow
def test_smollm2_byte_level_bpe_shows_the_bytes_of_split_characters():
    from infoflow_widget.text.display import token_texts

    tokenizer = bundled_tokenizer("smollm2-135m")
    tokens = token_texts(tokenizer, tokenizer(EMOJI_CJK)["input_ids"])
    assert not any("\ufffd" in t for t in tokens)
    assert tokens == [
        "Hi", " <0xF0><0x9F><0x98>", "<0x80>", " there",
        " <0xE6>", "<0x97>", "<0xA5>", "本", "<0xE8>", "<0xAA>", "<0x9E>", " <0xE7>", "<0x8C>", "<0xAB>",
    ]  # fmt: skip
    # A character inside one token stays as it is, U+FFFD itself included; plain text is decoded as before.
    for prompt in ("When Mary and John went to the store, John gave a book to", "é \ufffd 本"):
        ids = tokenizer(prompt)["input_ids"]
        assert token_texts(tokenizer, ids) == [tokenizer.decode([i]) for i in ids]


@pytest.mark.slow
def test_gemma_byte_fallback_tokens_show_their_bytes():
    from infoflow_widget.text.display import token_texts

    tokenizer = bundled_tokenizer("gemma-3-270m")
    tokens = token_texts(tokenizer, tokenizer("𓀀 🫠 " + EMOJI_CJK)["input_ids"])
    assert not any("\ufffd" in t for t in tokens)
    assert tokens[:7] == ["<bos>", "<0xF0>", "<0x93>", "<0x80>", "<0x80>", " ", "🫠"]
    assert " 日本" in tokens, "characters in Gemma's vocabulary stay whole"
    ids = tokenizer("When Mary and John went to the store")["input_ids"]
    assert token_texts(tokenizer, ids) == [tokenizer.decode([i]) for i in ids]


@pytest.mark.slow
def test_graph_tokens_show_bytes_everywhere(smollm, tmp_path):
    """The engine decodes through token_texts, so graph.tokens (widget, pages, pandas, CLI JSON) shows bytes."""
    from infoflow_widget import FlowEngine, Logit

    engine = FlowEngine(smollm, "I love 😀 and", Logit(" cats"), progress=False)
    assert " <0xF0><0x9F><0x98>" in engine.tokens and "<0x80>" in engine.tokens
    graph = engine.graph()
    assert graph.tokens == engine.tokens
    texts = set(graph.to_pandas()["source_text"])
    assert "<0x80>" in texts and not any("\ufffd" in t for t in texts)
    assert FlowGraph.load(graph.save(tmp_path / "g.json")).tokens == engine.tokens
