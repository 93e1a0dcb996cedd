"""The package's exceptions: one base class, subclasses only where callers branch."""

from __future__ import annotations


class InfoFlowError(ValueError):
    """Bad input to infoflow-widget: the message says what was wrong and what to do."""


class UnsupportedModelError(InfoFlowError):
    """The model's attention pattern cannot be reached, or the model cannot be found."""


class PromptLengthError(InfoFlowError):
    """A corrupted prompt tokenizes to another length than the clean prompt."""


class ComputationCancelled(Exception):  # noqa: N818 - a signal, not a failure
    """A computation stopped because its ``cancel`` event was set (for example by a newer widget request)."""
