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

from .engine import FlowEngine, compute_flow, trace_lock
from .errors import ComputationCancelled, InfoFlowError, PromptLengthError, UnsupportedModelError
from .graph import Edge, FlowGraph, Node
from .interventions import Corrupt, Crop, Dampen, Intervention, Zero
from .metrics import Custom, KLDivergence, Logit, LogitDiff, LogProb, Metric, Prob
from .models import BUNDLED_MODELS, load_model, wrap_model
from .strategies import Attribution, AttributionThenExact, Backtrack, BacktrackBisect, Bisect, Full, Split, Strategy

__version__ = "0.1.0"


def __getattr__(name: str) -> object:
    # The widget pulls in ipywidgets and anywidget: only when asked for, so scripts and the CLI load neither.
    if name == "InfoFlowWidget":
        from .widget import InfoFlowWidget

        return InfoFlowWidget
    raise AttributeError(f"module {__name__!r} has no attribute {name!r}")


__all__ = [
    "Attribution",
    "AttributionThenExact",
    "BUNDLED_MODELS",
    "Backtrack",
    "BacktrackBisect",
    "Bisect",
    "ComputationCancelled",
    "Corrupt",
    "Crop",
    "Custom",
    "Dampen",
    "Edge",
    "FlowEngine",
    "FlowGraph",
    "Full",
    "InfoFlowWidget",
    "InfoFlowError",
    "Intervention",
    "KLDivergence",
    "LogProb",
    "Logit",
    "LogitDiff",
    "Metric",
    "Node",
    "Prob",
    "Split",
    "PromptLengthError",
    "Strategy",
    "UnsupportedModelError",
    "Zero",
    "__version__",
    "compute_flow",
    "load_model",
    "trace_lock",
    "wrap_model",
]
