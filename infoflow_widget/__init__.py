"""infoflow-widget: which token positions pass information to which, and does it matter?

Intervene on the attention between pairs (or groups) of token positions, in every head of every
layer at once, and measure how a metric of the prediction changes.

Examples:
    >>> from infoflow_widget import compute_flow, load_model, Zero
    >>> model = load_model("smollm2-135m")
    >>> graph = compute_flow(model, "When Mary and John went to the store, John gave a book to",
    ...                      answer=" Mary", distractor=" John", intervention=Zero())
    >>> graph.top(10).to_pandas()
"""

from __future__ import annotations

import importlib

from . import report  # noqa: F401 - registers the ".html" format of FlowGraph.save (plain Python, no torch)

__version__ = "0.1.0"

# The public names and the module that defines each: the single source of ``__all__``. Each is imported
# on first use (PEP 562), so ``import infoflow_widget``, ``infoflow --help`` and the CLI's checks of bad
# input load neither torch, transformers, nnsight nor the widget's ipywidgets and anywidget.
_PUBLIC = {
    "Anatomy": "anatomy",
    "Comparison": "consensus",
    "compare_interventions": "consensus",
    "FlowEngine": "engine",
    "compute_flow": "engine",
    "trace_lock": "engine",
    "ComputationCancelled": "errors",
    "InfoFlowError": "errors",
    "PromptLengthError": "errors",
    "UnsupportedModelError": "errors",
    "Edge": "graph",
    "FlowGraph": "graph",
    "Node": "graph",
    "compute_flow_set": "flowset",
    "AutoCorrupt": "interventions",
    "Corrupt": "interventions",
    "Crop": "interventions",
    "Dampen": "interventions",
    "Intervention": "interventions",
    "Knockout": "interventions",
    "Zero": "interventions",
    "LogitLens": "lens",
    "Custom": "metrics",
    "KLDivergence": "metrics",
    "Logit": "metrics",
    "LogitDiff": "metrics",
    "LogProb": "metrics",
    "Metric": "metrics",
    "Prob": "metrics",
    "BUNDLED_MODELS": "models",
    "load_model": "models",
    "wrap_model": "models",
    "PromptSet": "promptset",
    "ioi_words": "promptset",
    "RoleEdge": "rolegraph",
    "RoleGraph": "rolegraph",
    "Attribution": "strategies",
    "AttributionThenExact": "strategies",
    "Backtrack": "strategies",
    "BacktrackBisect": "strategies",
    "Bisect": "strategies",
    "Full": "strategies",
    "Split": "strategies",
    "Strategy": "strategies",
    "InfoFlowWidget": "widget",
}

__all__ = sorted([*_PUBLIC, "__version__"])


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
