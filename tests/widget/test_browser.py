"""End to end in Chromium: the quickstart notebook in a real JupyterLab, and a page saved by save_html."""

from __future__ import annotations

import os
import shutil
import socket
import subprocess
import sys
import time
import urllib.request
import uuid
from pathlib import Path

import pytest

pytest.importorskip("playwright")
pytestmark = pytest.mark.browser

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
KNOWN_LAB_ERROR = "reading 'schema'"  # JupyterLab 4.6 logs it on start; harmless


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium, since Playwright cannot download its own browsers here."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make install` installs it (apt-get install chromium)")
    flags = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
             "--disable-component-update"]  # fmt: skip
    return {**browser_type_launch_args, "executable_path": str(CHROMIUM), "args": flags}


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored), for people to look at after a run."""
    folder = REPO / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


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
    return page.eval_on_selector_all(
        ".if-arc", "arcs => arcs.map(a => a.getAttribute('d') + a.getAttribute('stroke-width')).join('|')"
    )


def test_quickstart_notebook_in_jupyterlab(lab, page, artifacts):
    url, token = lab
    errors = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.set_default_timeout(60_000)
    page.goto(f"{url}/lab/tree/notebooks/01_quickstart.ipynb?reset&token={token}")
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

    # The last cell's table (the alpha sweep) marks the end of the run.
    try:
        wait_answering_dialogs(page, notebook.locator(".jp-OutputArea-output", has_text="S1->END").first, 180)
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
