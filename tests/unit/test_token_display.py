"""How tokens are shown: a token that holds part of a character shows its bytes (``<0xF0>``), and characters
XML cannot hold (ESC, NUL, BEL) show by their codes in the static drawing and in saved pages.

The bundled models' tokenizers: tests/integration/test_token_display_models.py. The SVG and PNG downloads of a
prompt with control characters are checked in Chromium: tests/browser/test_drawing_meaning.py
(test_control_characters_export_as_well_formed_svg_and_png).
"""

from __future__ import annotations

from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node

# --- tokens that hold part of a character show their bytes --------------------------------------------------------


def byte_level_tokenizer():
    """A byte-level BPE tokenizer with no merges, built offline: every byte of a character is a token of its own."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from infoflow_widget.text.display import _byte_level_alphabet

    vocab = {c: i for i, c in enumerate(sorted(_byte_level_alphabet(), key=_byte_level_alphabet().get))}
    backend = Tokenizer(models.BPE(vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend)


def test_split_characters_show_their_bytes_on_a_byte_level_tokenizer():
    from infoflow_widget.text.display import token_texts

    tokenizer = byte_level_tokenizer()
    ids = tokenizer("a 😀é")["input_ids"]
    assert [tokenizer.decode([i]) for i in ids].count("\ufffd") == 6, "the unfixed decoding shows U+FFFD"
    assert token_texts(tokenizer, ids) == ["a", " ", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>", "<0xC3>", "<0xA9>"]
    plain = tokenizer("When Mary, 3 < 4")["input_ids"]
    assert token_texts(tokenizer, plain) == [tokenizer.decode([i]) for i in plain]


# --- characters XML cannot hold (ESC, NUL, BEL) in every export ---------------------------------------------------


def control_graph() -> FlowGraph:
    tokens = ["Mary", "\x1b", "[", "31", "m", "\x00", "\x07", " told"]
    return FlowGraph(
        tokens=tokens,
        nodes=[Node(i, i + 1) for i in range(len(tokens))],
        edges=[Edge(1, 7, 0.5), Edge(5, 6, -0.25), Edge(0, 7, 0.125)],
        clean_metric=1.0,
        provenance={"model": "tiny", "prompt": "".join(tokens), "intervention": {"kind": "zero"}},
        stats={},
    )


def test_the_static_drawing_is_well_formed_xml_with_control_pictures():
    import xml.etree.ElementTree as ET

    from infoflow_widget.widget.drawing import static_html

    page = static_html(control_graph())
    ET.fromstring(page)  # raises on a character XML cannot hold
    assert all(code in page for code in ("&lt;0x1B&gt;", "&lt;0x00&gt;", "&lt;0x07&gt;"))
    assert not any(c in page for c in "\x1b\x00\x07")
    assert "a control character" in page  # the legend says what <0x1B> stands for


def test_saved_pages_hold_no_raw_control_character_outside_their_data(tmp_path):
    from infoflow_widget.text.display import visible, xml_safe

    assert visible("\x1b[31m\x00\x07\r\x7f") == "<0x1B>[31m<0x00><0x07><0x0D><0x7F>"
    assert xml_safe("a\x1bb\ud800") == "a<0x1B>b\ufffd"
    path = control_graph().save(tmp_path / "g.html")
    text = path.read_text(encoding="utf-8")
    assert not any(c in text for c in "\x1b\x00\x07")  # the tokens travel as JSON escapes (\u001b) in the state
    assert "\\u001b" in text
