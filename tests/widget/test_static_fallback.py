"""The widget's display data holds a static drawing (text/html, no script) next to the live view.

A notebook executed by nbconvert and read without a kernel shows the graph; a person's front end (input
allowed) gets the live view and one display update, when the first graph arrives (each update rebuilds its views).
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import threading
from pathlib import Path

import pytest

pytest.importorskip("anywidget")

from infoflow_widget import FlowEngine  # noqa: E402
from infoflow_widget.widget.widget import InfoFlowWidget  # noqa: E402

TESTS = Path(__file__).resolve().parents[1]
PROMPT = "when mary and john went to the store , john gave a book to"
WIDGET_VIEW = "application/vnd.jupyter.widget-view+json"


@pytest.fixture(scope="module")
def tiny():
    from conftest import make_tiny

    return make_tiny("llama")


def arcs(html: str) -> list[str]:
    return re.findall(r'<path class="if-arc"', html)


def test_the_display_data_holds_the_live_view_and_the_drawing(tiny):
    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", top_k=6)
    widget.wait(timeout=30)
    data, _ = widget._repr_mimebundle_()
    assert data[WIDGET_VIEW]["model_id"] == widget.model_id, "front ends with the widget manager show the live widget"
    assert data["text/plain"].startswith("InfoFlowWidget(14 tokens")
    html = data["text/html"]
    assert len(arcs(html)) == 6 and "<script" not in html
    assert "logit(&#x27;mary&#x27;) - logit(&#x27;john&#x27;)</b> under <span>zero" in html
    assert "helps the metric" in html and "the live widget needs a running kernel" in html
    widget.top_k = 2
    assert len(arcs(widget._repr_mimebundle_()[0]["text/html"])) == 2, "the drawing follows the traits"


def test_before_the_first_graph_the_drawing_says_it_computes(tiny, monkeypatch):
    gate, real = threading.Event(), FlowEngine.graph
    monkeypatch.setattr(FlowEngine, "graph", lambda engine, *a, **k: (gate.wait(10), real(engine, *a, **k))[1])
    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john")
    try:
        html = widget._repr_mimebundle_()[0]["text/html"]
        assert "Computing the first graph" in html and not arcs(html)
    finally:
        gate.set()
        widget.wait(timeout=30)


def test_a_closed_widget_displays_only_its_drawing(tiny):
    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", top_k=3)
    widget.wait(timeout=30)
    widget.close()
    data, _ = widget._bundle()
    assert WIDGET_VIEW not in data and len(arcs(data["text/html"])) == 3


NOTEBOOK_CELLS = [
    f"import sys\nsys.path.insert(0, {str(TESTS)!r})\nfrom conftest import make_tiny\n"
    "from infoflow_widget import InfoFlowWidget\nmodel = make_tiny('llama')",
    f"widget = InfoFlowWidget(model, {PROMPT!r}, answer='mary', distractor='john', top_k=5)\nwidget",
    "widget.intervention = 'crop'  # computed during the next cell, which updates the drawing above\nwidget.wait();",
    f"InfoFlowWidget(model, {PROMPT!r}, answer='mary', distractor='john', strategy='bisect', top_k=3)",
]


def output_blocks(page: str) -> list[str]:
    """The HTML of each output of an nbconvert page (lab template), in order."""
    starts = [m.start() for m in re.finditer(r'<div class="jp-OutputArea-child', page)]
    return [page[a:b] for a, b in zip(starts, [*starts[1:], len(page)], strict=True)]


def test_a_notebook_executed_by_nbconvert_shows_the_graph_without_a_kernel(tmp_path):
    """``jupyter nbconvert --execute --to html``: displaying waits for the running computation, and a graph
    computed later updates the drawing by display id. The widget state is not stored (as JupyterLab,
    Notebook 7 and VS Code save notebooks), else nbconvert's page renders the widget view instead, with the
    widget manager from a CDN."""
    nbformat = pytest.importorskip("nbformat")
    notebook = nbformat.v4.new_notebook(cells=[nbformat.v4.new_code_cell(code) for code in NOTEBOOK_CELLS])
    notebook.metadata["kernelspec"] = {"name": "python3", "display_name": "Python 3", "language": "python"}
    path = tmp_path / "flow.ipynb"
    nbformat.write(notebook, path)
    command = [
        sys.executable, "-m", "jupyter", "nbconvert", "--execute", "--to", "html",
        "--ExecutePreprocessor.store_widget_state=False", str(path),
    ]  # fmt: skip
    subprocess.run(command, check=True, capture_output=True, timeout=300, env={**os.environ, "OMP_NUM_THREADS": "1"})
    page = (tmp_path / "flow.html").read_text(encoding="utf-8")
    drawings = [block for block in output_blocks(page) if "if-static" in block]
    assert len(drawings) == 2, "both widgets show their drawing"
    for block, count in zip(drawings, (5, 3), strict=True):
        assert len(arcs(block)) == count
        assert "<script" not in block, "nothing in the output needs a script"
        assert not re.search(r"""(src|href)\s*=\s*["']?(https?:)?//""", block), "nor the network"
        assert "Computing the first graph" not in block
    assert "under <span>crop" in drawings[0], "the graph computed after the display replaced the first one"
    assert 'class="if-bracket"' in drawings[1], "the last cell's widget, a span graph, waited for its graph"


def test_a_person_s_front_end_gets_the_live_view_at_once_and_one_display_update():
    """A request that allows input (JupyterLab, Notebook 7, VS Code): no waiting; the first graph updates the
    static drawing once (so the notebook it saves shows a graph), later graphs do not (each update redraws views)."""
    jupyter_client = pytest.importorskip("jupyter_client")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "OMP_NUM_THREADS": "1"})
    client = manager.client()
    client.start_channels()
    messages = []
    try:
        client.wait_for_ready(timeout=120)
        slow = "import infoflow_widget.engine.engine as e\ne.MAX_BATCH = 1  # a graph takes a while"
        code = "\n".join([*NOTEBOOK_CELLS[:1], slow, NOTEBOOK_CELLS[1].replace("\nwidget", "\ndisplay(widget)")])
        reply = client.execute_interactive(code, allow_stdin=True, timeout=240, output_hook=messages.append)
        assert reply["content"]["status"] == "ok"
        reply = client.execute_interactive("widget.wait();", allow_stdin=True, timeout=240, output_hook=messages.append)
        assert reply["content"]["status"] == "ok"
        again = "widget.intervention = 'crop'; widget.wait();"  # a second graph: no second update
        reply = client.execute_interactive(again, allow_stdin=True, timeout=240, output_hook=messages.append)
        assert reply["content"]["status"] == "ok"
    finally:
        client.stop_channels()
        manager.shutdown_kernel(now=True)
    displays = [m for m in messages if m["msg_type"] == "display_data"]
    assert len(displays) == 1 and WIDGET_VIEW in displays[0]["content"]["data"]
    assert displays[0]["content"]["transient"]["display_id"].startswith("infoflow-")
    assert "Computing the first graph" in displays[0]["content"]["data"]["text/html"], "shown at once"
    updates = [m for m in messages if m["msg_type"] == "update_display_data"]
    assert len(updates) == 1, "one update: the first graph"
    assert updates[0]["content"]["transient"]["display_id"] == displays[0]["content"]["transient"]["display_id"]
    drawing = updates[0]["content"]["data"]["text/html"]
    assert "Computing the first graph" not in drawing and arcs(drawing), "the saved notebook shows the graph"
    assert "under <span>zero" in drawing or "crop" not in drawing
    json.dumps([m["content"] for m in messages], default=str)
