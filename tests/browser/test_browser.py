"""End to end in Chromium: the quickstart notebook in a real JupyterLab, and a page saved by save_html."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys
import time
import urllib.request
import uuid

import pytest

from .served import REPO, free_port

pytest.importorskip("playwright")
pytestmark = pytest.mark.browser

KNOWN_LAB_ERROR = "reading 'schema'"  # JupyterLab 4.6 logs it on start; harmless
# Notebook 7 logs it when opened on a server whose JupyterLab session left a workspace behind; harmless.
KNOWN_NOTEBOOK_ERROR = "Command 'filebrowser:open-path' not registered"


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="module")
def lab(tmp_path_factory):
    """JupyterLab on a free localhost port, serving a copy of the notebooks (autosave never touches the repo)."""
    root = tmp_path_factory.mktemp("lab")
    shutil.copytree(REPO / "notebooks", root / "notebooks")
    home = tmp_path_factory.mktemp("jupyter-home")
    # No "get notified about Jupyter news?" toast over the screenshots.
    news = home / "settings" / "@jupyterlab" / "apputils-extension" / "notification.jupyterlab-settings"
    news.parent.mkdir(parents=True)
    news.write_text('{"fetchNews": "false"}')
    token, port = uuid.uuid4().hex, free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(home / "config"),
        "JUPYTER_RUNTIME_DIR": str(home / "runtime"),
        "JUPYTERLAB_SETTINGS_DIR": str(home / "settings"),
        "JUPYTERLAB_WORKSPACES_DIR": str(home / "workspaces"),
    }
    command = [
        sys.executable, "-m", "jupyter", "lab", "--no-browser", "--allow-root", "--ip=127.0.0.1", f"--port={port}",
        f"--IdentityProvider.token={token}", f"--ServerApp.root_dir={root}", "--LabApp.expose_app_in_browser=True",
    ]  # fmt: skip
    log = open(home / "lab.log", "w")  # noqa: SIM115 - closed after the server stops
    server = subprocess.Popen(command, env=env, stdout=log, stderr=subprocess.STDOUT)
    url = f"http://127.0.0.1:{port}"
    try:
        for _ in range(120):
            try:
                urllib.request.urlopen(f"{url}/api/status?token={token}", timeout=1)
                break
            except OSError:
                if server.poll() is not None:
                    pytest.fail(f"jupyter lab exited: {(home / 'lab.log').read_text()[-2000:]}")
                time.sleep(0.5)
        yield url, token
    finally:
        server.terminate()
        server.wait(timeout=30)
        log.close()


def wait_answering_dialogs(page, locator, timeout: float) -> None:
    """Wait for ``locator``, answering JupyterLab's "Select Kernel" dialog if it appears."""
    deadline = time.monotonic() + timeout
    while not locator.is_visible():
        button = page.locator(".jp-Dialog-button", has_text="Select").first
        if button.is_visible():
            button.click()
        assert time.monotonic() < deadline, f"timed out waiting for {locator}"
        page.wait_for_timeout(250)


def arc_shapes(page) -> str:
    """The arcs of the page's first widget (the notebook shows a second one further down)."""
    return page.eval_on_selector_all(
        ".if-root >> nth=0 >> .if-arc",
        "arcs => arcs.map(a => a.getAttribute('d') + a.getAttribute('stroke-width')).join('|')",
    )


def open_in_server(page, address: str) -> list[str]:
    """Open ``address`` of the Jupyter server with a long timeout; returns the list its page errors collect in."""
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.set_default_timeout(60_000)
    page.goto(address)
    return errors


def test_quickstart_notebook_in_jupyterlab(lab, page, artifacts):
    url, token = lab
    errors = open_in_server(page, f"{url}/lab/tree/notebooks/01_quickstart.ipynb?reset&token={token}")
    notebook = page.locator(".jp-NotebookPanel:visible")
    notebook.locator(".jp-Cell").first.wait_for()

    # Run All once the notebook's kernel session is ready (menus clicked earlier are silently lost).
    page.evaluate(
        """() => { window.runAll = (async () => {
            const app = window.jupyterapp;
            await app.restored;
            const panel = app.shell.currentWidget;
            await panel.context.ready;
            await panel.sessionContext.ready;
            await app.commands.execute("notebook:run-all-cells");
        })(); }"""
    )

    # The last cell's output (the agreement of attribution-then-exact) marks the end of the run.
    try:
        wait_answering_dialogs(page, notebook.locator(".jp-OutputArea-output", has_text="top10_overlap").first, 180)
    except AssertionError:
        page.screenshot(path=artifacts / "lab-failure.png")
        raise
    widget = notebook.locator(".if-root").first
    widget.scroll_into_view_if_needed()
    page.wait_for_function("document.querySelectorAll('.if-root:not(.if-computing) .if-arc').length > 0")
    assert widget.locator(".if-arc").count() == 12  # top_k=12
    assert widget.locator(".if-token").count() == 14
    assert "dampen" in widget.locator(".if-header").text_content()
    widget.screenshot(path=artifacts / "lab-widget.png")

    before = arc_shapes(page)
    widget.locator("input[data-trait='alpha']").fill("0.25")
    page.wait_for_function(
        "before => { const root = document.querySelector('.if-root');"
        " const arcs = [...root.querySelectorAll('.if-arc')]"
        ".map(a => a.getAttribute('d') + a.getAttribute('stroke-width'));"
        " return !root.classList.contains('if-computing') && arcs.join('|') !== before"
        " && root.querySelector('.if-status-text').textContent.startsWith('computed'); }",
        arg=before,
        timeout=60_000,
    )
    assert "alpha = 0.25" in widget.locator(".if-header").text_content()
    widget.screenshot(path=artifacts / "lab-widget-alpha-0.25.png")

    widget.locator(".if-token[data-pos='13']").hover()
    assert widget.locator("svg.if-focus").count() == 1
    hot = widget.locator(".if-arc.if-hot")
    assert hot.count() > 0
    for source, target in zip(hot.evaluate_all("a => a.map(x => x.dataset.source)"),
                              hot.evaluate_all("a => a.map(x => x.dataset.target)")):  # fmt: skip
        assert "13:14" in (source, target)
    widget.screenshot(path=artifacts / "lab-widget-hover.png")
    page.screenshot(path=artifacts / "lab-page.png", full_page=False)

    # The strategy menu comes from Python; a span arc of a search strategy drills down into its token edges.
    menu = widget.locator("select[data-trait='strategy']")
    assert {"attribution", "attribution-then-exact"} <= set(
        menu.locator("option").evaluate_all("o => o.map(x => x.value)")
    )
    interventions = widget.locator("select[data-trait='intervention'] option").evaluate_all("o => o.map(x => x.value)")
    assert {"zero", "dampen", "crop", "corrupt"} <= set(interventions), "the intervention menu comes from Python too"
    menu.select_option("bisect")
    span_arc = widget.locator(".if-arc[data-source='0:7'][data-target='7:14']")
    span_arc.wait_for(timeout=60_000)
    # Chosen at threshold 0, the search starts at its default threshold, and the status line says what it did.
    assert float(widget.locator("input[data-trait='threshold'] + output").text_content()) > 0
    assert "bisect measured" in widget.locator(".if-status-text").text_content()
    span_arc.dispatch_event("click")
    widget.locator("button", has_text="back").wait_for(timeout=60_000)
    assert "inside span edge" in widget.locator(".if-header").text_content()
    assert widget.locator(".if-bracket").count() == 0
    widget.screenshot(path=artifacts / "lab-drill-down.png")

    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Dark'})")
    page.wait_for_function("document.body.dataset.jpThemeLight === 'false'")
    background = widget.evaluate("el => getComputedStyle(el).backgroundColor")
    assert background != "rgb(255, 255, 255)", "the widget follows the dark theme"
    widget.screenshot(path=artifacts / "lab-dark.png")
    page.evaluate("() => window.jupyterapp.commands.execute('apputils:change-theme', {theme: 'JupyterLab Light'})")
    assert [e for e in errors if KNOWN_LAB_ERROR not in e] == []


def test_saved_page_renders_offline(page, artifacts, tmp_path):
    from conftest import make_tiny

    from infoflow_widget import InfoFlowWidget

    widget = InfoFlowWidget(make_tiny("llama"), "when mary and john went to the store , john gave a book to",
                            answer="mary", distractor="john", top_k=8)  # fmt: skip
    widget.wait(timeout=60)
    path = widget.save_html(tmp_path / "flow.html")
    errors, requests = [], []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.on("request", lambda request: requests.append(request.url))
    page.goto(path.as_uri())
    page.locator(".if-arc").first.wait_for(timeout=10_000)
    assert page.locator(".if-arc").count() == 8
    strongest_target = page.locator(".if-arc[data-rank='1']").get_attribute("data-target").split(":")[0]
    page.locator(f".if-token[data-pos='{strongest_target}']").hover()
    assert page.locator(".if-arc.if-hot").count() > 0
    page.locator("input[data-trait='top_k']").fill("3")
    page.locator("input[data-trait='top_k']").dispatch_event("change")
    assert page.locator(".if-arc").count() == 3
    page.screenshot(path=artifacts / "saved-page.png", full_page=True)
    assert errors == []
    assert all(url.startswith(("file:", "blob:", "data:")) for url in requests), requests


def test_quickstart_widget_in_notebook_7(lab, page, artifacts):
    """The same server with the notebook package serves Notebook 7: its first cells draw the widget there."""
    url, token = lab
    errors = open_in_server(page, f"{url}/notebooks/notebooks/01_quickstart.ipynb?token={token}")
    cells = page.locator(".jp-Notebook .jp-Cell")
    cells.first.wait_for()
    # The markdown introduction, the model loading, the widget: Shift+Enter runs each and moves on.
    cells.first.click()
    for _ in range(3):
        page.keyboard.press("Shift+Enter")
    widget = page.locator(".if-root").first
    wait_answering_dialogs(page, widget, 120)
    page.wait_for_function(
        "document.querySelectorAll('.if-root:not(.if-computing) .if-arc').length > 0", timeout=120_000
    )
    assert widget.locator(".if-arc").count() == 12
    assert widget.locator(".if-token").count() == 14
    widget.screenshot(path=artifacts / "notebook7-widget.png")
    assert [e for e in errors if KNOWN_LAB_ERROR not in e and KNOWN_NOTEBOOK_ERROR not in e] == []


# Geometry of the drawing, measured in the browser: overlapping boxes, labels wider than their box, arcs
# leaving the drawing.
LAYOUT_PROBLEMS = """() => {
  const svg = document.querySelector('.if-canvas svg');
  const width = Number(svg.getAttribute('width'));
  const boxes = [...svg.querySelectorAll('.if-token rect')].map(r => r.getBBox());
  const problems = [];
  boxes.forEach((b, i) => {
    const next = boxes[i + 1];
    if (next && next.y === b.y && next.x < b.x + b.width) problems.push(`box ${i} overlaps box ${i + 1}`);
  });
  svg.querySelectorAll('.if-token').forEach((token, i) => {
    const [label, index] = token.querySelectorAll('text');
    if (label.getComputedTextLength() > boxes[i].width) problems.push(`label ${i} is wider than its box`);
    if (index.getComputedTextLength() > boxes[i].width + 6) problems.push(`index ${i} is wider than its box`);
  });
  for (const arc of svg.querySelectorAll('.if-arc')) {
    const b = arc.getBBox();
    const name = `arc ${arc.dataset.source}->${arc.dataset.target}`;
    if (b.x < 0 || b.x + b.width > width + 1) problems.push(`${name} leaves the drawing`);
  }
  return { problems, width, canvas: document.querySelector('.if-canvas').clientWidth,
           rows: new Set(boxes.map(b => b.y)).size };
}"""


@pytest.mark.slow
def test_long_code_prompt_stays_usable(gemma, page, artifacts, tmp_path):
    """The 563-token code prompt with attribution-then-exact, in a saved page: wrapped, scrolling, zoomed, dark."""
    from infoflow_widget import InfoFlowWidget

    prompt = (REPO / "notebooks" / "data" / "code_completion_prompt.txt").read_text()
    widget = InfoFlowWidget(gemma, prompt, answer="bar", distractor="foo", strategy="attribution-then-exact", top_k=30)
    graph = widget.wait(timeout=120)
    assert len(graph.tokens) == 563 and graph.stats["agreement"]["verified"] == 50
    path = widget.save_html(tmp_path / "code.html")
    page.set_viewport_size({"width": 1200, "height": 900})
    page.goto(path.as_uri())
    root = page.locator(".if-root")
    page.locator(".if-arc").first.wait_for(timeout=30_000)
    header = root.locator(".if-header").text_content()
    assert "partly estimated: 50 of" in header and "correlation" in header
    assert "dashed: first-order estimate" in root.locator(".if-legend").text_content()

    wrapped = page.evaluate(LAYOUT_PROBLEMS)
    assert wrapped["problems"] == []
    assert wrapped["rows"] > 10 and wrapped["width"] <= wrapped["canvas"], "wrapped: no sideways scrolling"
    page.locator(".if-token[data-pos='562']").hover()
    assert page.locator(".if-arc.if-hot").count() > 0
    page.screenshot(path=artifacts / "long-wrapped-hover.png")
    strongest = page.locator(".if-arc[data-rank='1']")
    strongest.dispatch_event("mouseover", {"clientX": 500, "clientY": 300})
    assert page.locator(".if-token.if-end").count() == 2
    assert "exact (measured)" in root.locator(".if-tooltip").text_content()
    strongest.dispatch_event("mouseout")
    page.locator("button[title='Zoom in']").click()
    assert page.evaluate(LAYOUT_PROBLEMS)["problems"] == []
    page.screenshot(path=artifacts / "long-wrapped-zoom-in.png")

    page.get_by_role("checkbox", name="wrap").uncheck()
    scrolling = page.evaluate(LAYOUT_PROBLEMS)
    assert scrolling["problems"] == [] and scrolling["rows"] == 1 and scrolling["width"] > scrolling["canvas"]
    page.screenshot(path=artifacts / "long-scrolling.png")
    for _ in range(3):
        page.locator("button[title='Zoom out']").click()
    assert page.evaluate(LAYOUT_PROBLEMS)["width"] < 0.6 * scrolling["width"]  # zoom 1.25 to 0.65
    page.screenshot(path=artifacts / "long-scrolling-zoom-out.png")

    # JupyterLab's dark theme variables, as a page inside JupyterLab Dark would have them.
    page.add_style_tag(content=DARK_THEME)
    page.get_by_role("checkbox", name="wrap").check()
    assert page.evaluate(LAYOUT_PROBLEMS)["problems"] == []
    page.screenshot(path=artifacts / "long-dark.png")


def test_a_prompt_of_2000_tokens_stays_usable(page, artifacts, tmp_path):
    """2,000 tokens (four times the 563-token case) on a tiny model: verified, wrapped, and answering at once."""
    from conftest import make_tiny_long

    from infoflow_widget import InfoFlowWidget

    model, (prompt, _) = make_tiny_long(2000)
    widget = InfoFlowWidget(model, prompt, answer="w1", distractor="w2", strategy="attribution-then-exact", top_k=40)
    graph = widget.wait(timeout=300)
    assert len(graph.tokens) == 2000 and graph.stats["gradient_segments"] > 1, "the backward pass went in segments"
    path = widget.save_html(tmp_path / "long.html")
    page.set_viewport_size({"width": 1200, "height": 900})
    start = time.perf_counter()
    page.goto(path.as_uri())
    page.locator(".if-arc").first.wait_for(timeout=30_000)
    drawn_s = time.perf_counter() - start
    assert "estimate vs exact on 50 verified" in page.locator(".if-header").text_content()
    wrapped = page.evaluate(LAYOUT_PROBLEMS)
    assert wrapped["problems"] == [] and wrapped["rows"] > 30 and wrapped["width"] <= wrapped["canvas"]
    start = time.perf_counter()
    page.locator(".if-token[data-pos='1999']").hover()
    page.locator(".if-arc.if-hot").first.wait_for(timeout=5_000)
    hover_s = time.perf_counter() - start
    page.screenshot(path=artifacts / "long-2000-hover.png")
    assert drawn_s < 20 and hover_s < 5, f"drawn in {drawn_s:.1f} s, hover answered in {hover_s:.1f} s"


DARK_THEME = """:root { --jp-layout-color0: #111111; --jp-layout-color1: #212121; --jp-layout-color2: #424242;
  --jp-ui-font-color0: rgba(255, 255, 255, 1); --jp-ui-font-color2: rgba(255, 255, 255, 0.54);
  --jp-border-color2: #424242; --jp-brand-color1: #42a5f5; }
body { background: #111111 !important; }"""
