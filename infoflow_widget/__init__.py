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

from .widget import report  # noqa: F401 - registers the ".html" format of FlowGraph.save (plain Python, no torch)

__version__ = "0.1.0"

# The public names and the module that defines each: the single source of ``__all__``. Each is imported
# on first use (PEP 562), so ``import infoflow_widget``, ``infoflow --help`` and the CLI's checks of bad
# input load neither torch, transformers, nnsight nor the widget's ipywidgets and anywidget.
_PUBLIC = {
    "Anatomy": "graph.anatomy",
    "Comparison": "analysis.consensus",
    "compare_interventions": "analysis.consensus",
    "FlowEngine": "engine.engine",
    "compute_flow": "engine.engine",
    "trace_lock": "engine.engine",
    "ComputationCancelled": "core.errors",
    "InfoFlowError": "core.errors",
    "PromptLengthError": "core.errors",
    "UnsupportedModelError": "core.errors",
    "Edge": "graph.flowgraph",
    "FlowGraph": "graph.flowgraph",
    "Node": "graph.flowgraph",
    "compute_flow_set": "analysis.flowset",
    "AutoCorrupt": "interventions.base",
    "Corrupt": "interventions.base",
    "Crop": "interventions.base",
    "Dampen": "interventions.base",
    "Intervention": "interventions.base",
    "Knockout": "interventions.base",
    "Zero": "interventions.base",
    "LogitLens": "engine.lens",
    "Custom": "engine.metrics",
    "KLDivergence": "engine.metrics",
    "Logit": "engine.metrics",
    "LogitDiff": "engine.metrics",
    "LogProb": "engine.metrics",
    "Metric": "engine.metrics",
    "Prob": "engine.metrics",
    "BUNDLED_MODELS": "engine.models",
    "load_model": "engine.models",
    "wrap_model": "engine.models",
    "PromptSet": "text.promptset",
    "ioi_words": "text.promptset",
    "RoleEdge": "graph.rolegraph",
    "RoleGraph": "graph.rolegraph",
    "Attribution": "search.strategies",
    "AttributionThenExact": "search.strategies",
    "Backtrack": "search.strategies",
    "BacktrackBisect": "search.strategies",
    "Bisect": "search.strategies",
    "Full": "search.strategies",
    "Split": "search.strategies",
    "Strategy": "search.strategies",
    "InfoFlowWidget": "widget.widget",
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
