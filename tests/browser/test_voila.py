"""End to end in Chromium: notebooks/voila_quickstart.ipynb served by Voila, the widget's alpha slider moved."""

from __future__ import annotations

import os
import shutil
import sys

import pytest

from .served import (
    REPO,
    check_alpha_slider_recomputes,
    collect_errors,
    free_port,
    require_built_bundle,
    serve,
    server_log_on_failure,
)

VOILA_TEMPLATE_CDN = "https://cdn.jsdelivr.net/npm/@fortawesome/fontawesome-free@"

pytest.importorskip("playwright")
pytest.importorskip("voila")
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="module")
def voila_app(tmp_path_factory):
    """Voila on a free localhost port (no token by default), serving a copy of the notebook; Jupyter's config apart."""
    require_built_bundle()
    root = tmp_path_factory.mktemp("voila")
    notebook = root / "voila_quickstart.ipynb"
    shutil.copy(REPO / "notebooks" / "voila_quickstart.ipynb", notebook)
    port = free_port()
    env = {
        **os.environ,
        "JUPYTER_CONFIG_DIR": str(root / "config"),
        "JUPYTER_RUNTIME_DIR": str(root / "runtime"),
    }
    command = [sys.executable, "-m", "voila", str(notebook), "--no-browser", "--Voila.ip=127.0.0.1",
               f"--port={port}", "--Voila.port_retries=0", "--show_tracebacks=True"]  # fmt: skip
    log = root / "voila.log"
    with serve(command, port, log, env=env, cwd=root):
        yield f"http://127.0.0.1:{port}/", log


def test_quickstart_dashboard_in_voila(voila_app, page, artifacts):
    url, log = voila_app
    errors, remote = collect_errors(page)
    page.set_default_timeout(60_000)
    with server_log_on_failure(log):
        page.goto(url, wait_until="commit")  # the page streams in while the kernel loads the model
        check_alpha_slider_recomputes(page, artifacts, "voila")
    assert "InfoFlowWidget(model" not in page.locator("body").inner_text()  # a dashboard: the code stays hidden
    page.screenshot(path=artifacts / "voila-page.png")
    assert errors == []
    # Voila's own page template links Font Awesome's stylesheets from a CDN (offline its icons are missing, no
    # more); everything else, the widget's bundle included, comes from the local server.
    assert [url for url in remote if not url.startswith(VOILA_TEMPLATE_CDN)] == []
