"""Quick to start: importing the package, `infoflow --help`, `infoflow models` and bad input load no torch.

Each case runs in a fresh interpreter, since this test process has long imported torch itself.
"""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

HEAVY = ("torch", "transformers", "nnsight", "anywidget", "ipywidgets")
PROBE = """
import json, sys
status = None
{code}
print(json.dumps({{"status": status, "heavy": [m for m in {heavy!r} if m in sys.modules]}}))
"""
CLI = """
from infoflow_widget.cli import main
try:
    status = main({args!r})
except SystemExit as exc:  # argparse's --help and usage errors
    status = exc.code
"""


def probe(code: str) -> dict:
    done = subprocess.run(
        [sys.executable, "-c", PROBE.format(code=code, heavy=HEAVY)], capture_output=True, text=True, timeout=120
    )
    assert done.returncode == 0, done.stderr
    return json.loads(done.stdout.splitlines()[-1])


def test_import_loads_no_heavy_module():
    assert probe("import infoflow_widget")["heavy"] == []


@pytest.mark.parametrize(
    ("args", "status"),
    [
        (["--help"], 0),
        (["graph", "--help"], 0),
        (["models"], 0),
        (["graph", "--prompt", "", "--out", "-"], 2),
        (["graph", "--prompt", "x", "--intervention", "dampen", "--alpha", "-1", "--out", "-"], 2),
        (["graph", "--prompt", "x", "--layers", "zero", "--out", "-"], 2),
        (["graph", "--prompt", "x", "--out", "graph.png"], 2),
        (["graph", "--out", "-"], 2),  # argparse: --prompt is required
    ],
)
def test_cli_paths_that_compute_nothing_load_no_heavy_module(args, status):
    result = probe(CLI.format(args=args))
    assert result == {"status": status, "heavy": []}


def test_public_names_resolve_on_first_use():
    import infoflow_widget

    assert set(infoflow_widget.__all__) <= set(dir(infoflow_widget))
    for name in infoflow_widget.__all__:
        assert getattr(infoflow_widget, name) is not None, name
    from infoflow_widget import FlowGraph, InfoFlowWidget, compute_flow
    from infoflow_widget.graph import flowgraph

    assert FlowGraph is flowgraph.FlowGraph and callable(compute_flow) and InfoFlowWidget.__name__ == "InfoFlowWidget"
    with pytest.raises(AttributeError, match="no attribute 'nope'"):
        infoflow_widget.nope  # noqa: B018


# Every name the README, the notebooks and the docstrings use from the package: `from infoflow_widget import X` is
# the public API, and moving a module must not move it.
DOCUMENTED = {
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
}


def test_every_documented_name_imports_from_the_package():
    import infoflow_widget

    assert set(infoflow_widget.__all__) == DOCUMENTED
    for name in sorted(DOCUMENTED):
        assert getattr(infoflow_widget, name) is not None, name
