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
from typing import TYPE_CHECKING

# Imported for its effect: it registers the ".html" format of FlowGraph.save (plain Python, no torch).
from .widget import report  # noqa: F401  # pyright: ignore[reportUnusedImport]

if TYPE_CHECKING:  # what type checkers see of the public names; at run time each is imported on first use (below)
    from .analysis.consensus import Comparison, compare_interventions
    from .analysis.faithfulness import faithfulness
    from .analysis.flowset import compute_flow_set
    from .core.errors import ComputationCancelled, InfoFlowError, PromptLengthError, UnsupportedModelError
    from .engine.engine import FlowEngine, compute_flow, trace_lock
    from .engine.lens import LogitLens
    from .engine.metrics import Custom, KLDivergence, Logit, LogitDiff, LogProb, Metric, Prob
    from .engine.models import BUNDLED_MODELS, load_model, wrap_model
    from .graph.anatomy import Anatomy
    from .graph.faithfulness import Faithfulness
    from .graph.flowgraph import Edge, FlowGraph, Node
    from .graph.rolegraph import RoleEdge, RoleGraph
    from .interventions.base import Intervention
    from .interventions.corrupt import AutoCorrupt, Corrupt
    from .interventions.patterns import Crop, Dampen, Knockout, Zero
    from .search.strategies import (
        Attribution,
        AttributionThenExact,
        Backtrack,
        BacktrackBisect,
        Bisect,
        Full,
        Split,
        Strategy,
    )
    from .text.promptset import PromptSet, ioi_words
    from .widget.widget import InfoFlowWidget

__version__ = "0.1.0"

# The public names and the module that defines each (``__all__`` and the type checkers' imports above list the
# same names). Each is imported on first use (PEP 562), so ``import infoflow_widget``, ``infoflow --help`` and the
# CLI's checks of bad input load neither torch, transformers, nnsight nor the widget's ipywidgets and anywidget.
_PUBLIC = {
    "Anatomy": "graph.anatomy",
    "Comparison": "analysis.consensus",
    "compare_interventions": "analysis.consensus",
    "Faithfulness": "graph.faithfulness",
    "faithfulness": "analysis.faithfulness",
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
    "AutoCorrupt": "interventions.corrupt",
    "Corrupt": "interventions.corrupt",
    "Crop": "interventions.patterns",
    "Dampen": "interventions.patterns",
    "Intervention": "interventions.base",
    "Knockout": "interventions.patterns",
    "Zero": "interventions.patterns",
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

__all__ = [
    "Anatomy",
    "Attribution",
    "AttributionThenExact",
    "AutoCorrupt",
    "BUNDLED_MODELS",
    "Backtrack",
    "BacktrackBisect",
    "Bisect",
    "Comparison",
    "ComputationCancelled",
    "Corrupt",
    "Crop",
    "Custom",
    "Dampen",
    "Edge",
    "Faithfulness",
    "FlowEngine",
    "FlowGraph",
    "Full",
    "InfoFlowError",
    "InfoFlowWidget",
    "Intervention",
    "KLDivergence",
    "Knockout",
    "LogProb",
    "Logit",
    "LogitDiff",
    "LogitLens",
    "Metric",
    "Node",
    "Prob",
    "PromptLengthError",
    "PromptSet",
    "RoleEdge",
    "RoleGraph",
    "Split",
    "Strategy",
    "UnsupportedModelError",
    "Zero",
    "__version__",
    "compare_interventions",
    "compute_flow",
    "compute_flow_set",
    "faithfulness",
    "ioi_words",
    "load_model",
    "trace_lock",
    "wrap_model",
]


def __getattr__(name: str) -> object:
    module = _PUBLIC.get(name)
    if module is None:
        raise AttributeError(f"module {__name__!r} has no attribute {name!r}")
    value = getattr(importlib.import_module(f".{module}", __name__), name)
    globals()[name] = value  # later look-ups skip this function
    return value


def __dir__() -> list[str]:
    return sorted({*globals(), *_PUBLIC})
