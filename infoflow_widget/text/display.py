"""How a graph reads on screen, shared by every view of it: short texts and each token's text (colours: core.style)."""

from __future__ import annotations

import functools
import re
from collections.abc import Sequence
from typing import Any

CONTROL = re.compile(r"[\x00-\x08\x0b-\x1f\x7f]")
"""Control characters other than newline and tab: invisible on screen, and XML cannot hold most of them."""


def _picture(match: re.Match[str]) -> str:
    """A control character by its code, as the bytes of a split character are shown: ESC ``<0x1B>``, NUL ``<0x00>``."""
    return f"<0x{ord(match[0]):02X}>"


def visible(text: str) -> str:
    """``text`` with whitespace made visible (spaces ``·``, newlines ``↵``, tabs ``⇥``) and controls by code."""
    return CONTROL.sub(_picture, text.replace(" ", "·").replace("\n", "↵").replace("\t", "⇥"))


def xml_safe(text: str) -> str:
    """``text`` with every character XML 1.0 cannot hold replaced: controls by their codes, others by U+FFFD."""
    text = re.sub(r"[\x00-\x08\x0b\x0c\x0e-\x1f]", _picture, text)
    return re.sub(r"[\ud800-\udfff\ufffe\uffff]", "\ufffd", text)


def describe(value: Any) -> str:
    """A short text for a provenance value: ``{"kind": "dampen", "alpha": 0.5}`` becomes ``dampen(alpha=0.5)``."""
    if isinstance(value, dict):
        rest = {k: v for k, v in value.items() if k not in ("kind", "name")}
        name = str(value.get("kind", value.get("name", "")))
        args = ", ".join(f"{k}={v}" for k, v in rest.items())
        return f"{name}({args})" if name and args else name or args
    return "" if value is None else str(value)


def token_texts(tokenizer: Any, ids: Sequence[int]) -> list[str]:
    """Each token of ``ids`` decoded on its own, with the bytes of a split character shown as ``<0xF0>``.

    A character of several UTF-8 bytes (an emoji, most CJK) can be split across tokens, and such a
    token decodes to U+FFFD. Its raw bytes are then shown instead: byte-level BPE tokens (GPT-2,
    Llama 3, SmolLM2) map back to bytes through the byte-level alphabet, and byte-fallback tokens
    (SentencePiece, Gemma) already are bytes such as ``<0xF0>``. The parts that are whole characters
    stay text (``" <0xF0><0x9F>"``), and a token that decodes cleanly stays exactly as decoded.
    """
    texts = []
    for i in ids:
        text = tokenizer.decode([int(i)])
        if "\ufffd" in text:
            raw = _token_bytes(tokenizer.convert_ids_to_tokens(int(i)))
            text = text if raw is None else _show_bytes(raw)
        texts.append(text)
    return texts


_BYTE_TOKEN = re.compile(r"<0x([0-9A-Fa-f]{2})>")


def _token_bytes(piece: Any) -> bytes | None:
    """The bytes a vocabulary entry stands for: a byte-fallback ``<0xF0>`` or byte-level BPE text; None otherwise."""
    if not isinstance(piece, str):
        return None
    if match := _BYTE_TOKEN.fullmatch(piece):
        return bytes([int(match[1], 16)])
    alphabet = _byte_level_alphabet()
    if piece and all(c in alphabet for c in piece):
        return bytes(alphabet[c] for c in piece)
    return None


def _show_bytes(raw: bytes) -> str:
    """``raw`` as UTF-8 text, each byte that is not part of a whole character written as ``<0xF0>``."""
    # surrogateescape turns each undecodable byte b into the lone surrogate U+DC00 + b.
    text = raw.decode("utf-8", errors="surrogateescape")
    return "".join(f"<0x{ord(c) - 0xDC00:02X}>" if "\udc80" <= c <= "\udcff" else c for c in text)


@functools.cache
def _byte_level_alphabet() -> dict[str, int]:
    """GPT-2's byte-level BPE alphabet, character to byte: printable bytes stand for themselves, others from U+0100."""
    kept = [*range(ord("!"), ord("~") + 1), *range(ord("¡"), ord("¬") + 1), *range(ord("®"), ord("ÿ") + 1)]
    moved = [b for b in range(256) if b not in kept]
    return {chr(b): b for b in kept} | {chr(256 + n): b for n, b in enumerate(moved)}
