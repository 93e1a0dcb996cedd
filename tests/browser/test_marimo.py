"""End to end in Chromium: notebooks/marimo_quickstart.py served by `marimo run`, the widget's alpha slider moved."""

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

pytest.importorskip("playwright")
pytest.importorskip("marimo")
pytestmark = [pytest.mark.browser, pytest.mark.slow, pytest.mark.timeout(900)]


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1400, "height": 1000}}


@pytest.fixture(scope="module")
def marimo_app(tmp_path_factory):
    """`marimo run` of a copy of the app (marimo may write beside it) on a free localhost port, without a token."""
    require_built_bundle()
    root = tmp_path_factory.mktemp("marimo")
    app = root / "marimo_quickstart.py"
    shutil.copy(REPO / "notebooks" / "marimo_quickstart.py", app)
    port = free_port()
    env = {
        **os.environ,
        "MARIMO_SKIP_UPDATE_CHECK": "1",  # offline: no look-up of a newer marimo
        "XDG_CONFIG_HOME": str(root / "config"),  # marimo's user settings and state, kept out of $HOME
        "XDG_STATE_HOME": str(root / "state"),
    }
    command = [sys.executable, "-m", "marimo", "run", str(app), "--headless", "--host", "127.0.0.1",
               "--port", str(port), "--no-token", "--no-sandbox"]  # fmt: skip
    log = root / "marimo.log"
    with serve(command, port, log, env=env, cwd=root):
        yield f"http://127.0.0.1:{port}", log


def test_quickstart_app_in_marimo_run(marimo_app, page, artifacts):
    url, log = marimo_app
    errors, remote = collect_errors(page)
    page.set_default_timeout(60_000)
    with server_log_on_failure(log):
        page.goto(url, wait_until="commit")  # the page streams in while the kernel loads the model
        check_alpha_slider_recomputes(page, artifacts, "marimo")
        # The app's last cell reads the wrapped widget, so marimo re-ran it when the slider moved; its wait()
        # blocked until the graph of the new alpha was on show (the README's way to react to a background
        # computation).
        reacted = page.get_by_text("Strongest edges at dampen, alpha = 0.25")
        reacted.wait_for(timeout=120_000)
        assert "computed" in reacted.text_content()
    page.screenshot(path=artifacts / "marimo-page.png")
    assert errors == []
    assert remote == []  # everything, the widget's bundle included, comes from the local server
