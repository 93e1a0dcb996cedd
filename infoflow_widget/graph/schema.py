"""Checks of saved data: each turns one JSON value into a field, or names what is wrong with it by its path.

Every saved type (flow graphs, role graphs) reads its files through these, so a bad file fails the same way
whatever it holds: ``edges[3].exact must be true or false; got "yes".``
"""

from __future__ import annotations

import json
import math
import numbers
from collections.abc import Callable
from typing import Any, cast

from ..core.errors import InfoFlowError, is_whole

NON_FINITE = {"NaN": math.nan, "Infinity": math.inf, "-Infinity": -math.inf}
"""How JSON exports other than :meth:`FlowGraph.to_json` (the widget's download) write NaN and infinities."""

MAX_DEPTH = 32
"""How deeply ``provenance`` and ``stats`` of a loaded graph may nest."""


def show(value: Any) -> str:
    """``value`` as it reads in the JSON file (``"false"`` keeps its quotes), cut short."""
    try:
        text = json.dumps(value, ensure_ascii=False)
    except (TypeError, ValueError, RecursionError):
        text = repr(value)
    return text if len(text) <= 60 else text[:59] + "…"


def bad(where: str, expected: str, value: Any) -> InfoFlowError:
    """The error for a field ``where`` that should have been ``expected``, quoting what it was."""
    return InfoFlowError(f"{where} must be {expected}; got {show(value)}.")


def index(value: Any, where: str) -> int:
    """A whole number >= 0 (a position, a level)."""
    if not is_whole(value):
        raise bad(where, "a whole number >= 0", value)
    return int(value)


def number(value: Any, where: str) -> float:
    """A float; NaN and infinities may be written as the strings of :data:`NON_FINITE`."""
    if isinstance(value, str) and value in NON_FINITE:
        return NON_FINITE[value]
    if isinstance(value, bool) or not isinstance(value, numbers.Real):
        raise bad(where, 'a number (or "NaN", "Infinity", "-Infinity")', value)
    try:
        return float(value)
    except OverflowError:
        raise bad(where, "a number within the range of a float", value) from None


def flag(value: Any, where: str) -> bool:
    """``true`` or ``false``, not a number or a string."""
    if not isinstance(value, bool):
        raise bad(where, "true or false", value)
    return value


def text(value: Any, where: str) -> str:
    """A string."""
    if not isinstance(value, str):
        raise bad(where, "a string", value)
    return value


def optional_number(value: Any, where: str) -> float | None:
    """A :func:`number`, or None for a field that is not known (null)."""
    return None if value is None else number(value, where)


def names(value: Any, where: str) -> tuple[str, ...]:
    """A list of names (an edge's flags) as a tuple; each must be a non-empty string."""
    if not isinstance(value, (list, tuple)):
        raise bad(where, 'a list of names such as ["sink"]', value)
    items = cast("list[Any] | tuple[Any, ...]", value)  # JSON data: its items are checked here
    for i, name in enumerate(items):
        if not isinstance(name, str) or not name:
            raise bad(f"{where}[{i}]", "a non-empty string", name)
    return tuple(items)


def nested(value: Any, where: str, depth: int = 0) -> Any:
    """``value`` (provenance, stats) unchanged, once checked to nest at most :data:`MAX_DEPTH` levels."""
    if depth > MAX_DEPTH:
        raise InfoFlowError(f"{where} is nested more than {MAX_DEPTH} levels deep.")
    if isinstance(value, dict):
        fields = cast("dict[Any, Any]", value)  # JSON data: its items are checked here
        for key, item in fields.items():
            nested(item, f"{where}.{key}", depth + 1)
        return fields
    if isinstance(value, list):
        items = cast("list[Any]", value)
        for i, item in enumerate(items):
            nested(item, f"{where}[{i}]", depth + 1)
        return items
    return value


# The saved graph's layout: each field with the function that checks and converts it, and its default
# (REQUIRED when it has none). Records (nodes, edges) list their own fields.

REQUIRED = object()
"""The default of a field that has none: a record without that key is refused."""


def record(item: Any, where: str, layout: dict[str, tuple[Callable[[Any, str], Any], Any]]) -> dict[str, Any]:
    """The fields of one record, each checked; a missing required key or a wrong value names ``where.key``."""
    if not isinstance(item, dict):
        raise bad(where, "an object (a dict)", item)
    fields = cast("dict[Any, Any]", item)  # JSON data: its fields are checked here
    out: dict[str, Any] = {}
    for key, (check, default) in layout.items():
        if key not in fields and default is REQUIRED:
            raise InfoFlowError(f"{where} has no {key!r} key.")
        out[key] = check(fields.get(key, default), f"{where}.{key}")
    return out


def list_of(value: Any, where: str) -> list[Any]:
    """A JSON array, its items still to check."""
    if not isinstance(value, list):
        raise bad(where, "a list", value)
    return cast("list[Any]", value)
