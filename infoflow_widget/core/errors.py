"""The package's exceptions (one base class, subclasses only where callers branch), and the number checks."""

from __future__ import annotations

import math
import numbers
from typing import Any, cast


def is_non_negative(value: Any, *, finite: bool = True) -> bool:
    """Whether ``value`` is a real number >= 0 (finite unless ``finite=False``); bools and NaN are not."""
    if isinstance(value, bool) or not isinstance(value, numbers.Real) or math.isnan(value) or value < 0:
        return False
    return math.isfinite(value) or not finite


def is_whole(value: Any, minimum: int | None = 0) -> bool:
    """Whether ``value`` is a whole number (an int or numpy integer, not a bool) >= ``minimum`` (None: any)."""
    if isinstance(value, bool) or not isinstance(value, numbers.Integral):
        return False
    return minimum is None or int(value) >= minimum


def plain(value: Any) -> Any:
    """``value`` with every number a Python ``int`` or ``float`` (numpy's become them), in lists, tuples and dicts too.

    What numbers pass the checks (numpy integers are whole numbers) is saved as plain JSON.
    """
    if isinstance(value, bool) or value is None or isinstance(value, str):
        return value
    if isinstance(value, numbers.Integral):
        return int(value)
    if isinstance(value, numbers.Real):
        return float(value)
    if isinstance(value, (list, tuple)):
        items = cast("list[Any] | tuple[Any, ...]", value)  # JSON-like data: the items' types are not known
        return type(items)(plain(item) for item in items)
    if isinstance(value, dict):
        fields = cast("dict[Any, Any]", value)
        return {key: plain(item) for key, item in fields.items()}
    return value


class InfoFlowError(ValueError):
    """Bad input to infoflow-widget: the message says what was wrong and what to do."""


class UnsupportedModelError(InfoFlowError):
    """The model's attention pattern cannot be reached, or the model cannot be found."""


class PromptLengthError(InfoFlowError):
    """A corrupted prompt tokenizes to another length than the clean prompt."""


class ComputationCancelled(Exception):  # noqa: N818 - a signal, not a failure
    """A computation stopped because its ``cancel`` event was set (for example by a newer widget request)."""
