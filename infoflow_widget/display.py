"""How a graph reads on screen, shared by every view of it (heatmap, HTML report): colours and short texts."""

from __future__ import annotations

from typing import Any

GREEN, RED = "#1a9850", "#d73027"
"""Edge colours: the edge helps the metric (positive effect) or hurts it (negative)."""


def visible(text: str) -> str:
    """``text`` with whitespace made visible: spaces as ``·``, newlines as ``↵``, tabs as ``⇥``."""
    return text.replace(" ", "·").replace("\n", "↵").replace("\t", "⇥")


def describe(value: Any) -> str:
    """A short text for a provenance value: ``{"kind": "dampen", "alpha": 0.5}`` becomes ``dampen(alpha=0.5)``."""
    if isinstance(value, dict):
        rest = {k: v for k, v in value.items() if k not in ("kind", "name")}
        name = str(value.get("kind", value.get("name", "")))
        args = ", ".join(f"{k}={v}" for k, v in rest.items())
        return f"{name}({args})" if name and args else name or args
    return "" if value is None else str(value)
