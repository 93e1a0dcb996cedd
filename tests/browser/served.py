"""Helpers for the browser tests; their fixtures are in conftest.py next to this file.

The end-to-end tests in clients other than JupyterLab (marimo, Voila) start the client's server on a free localhost
port as a subprocess (:func:`serve`, which always stops it and whatever it started), open the page in the system
Chromium, and drive the widget with the helpers below. The widget may sit inside a shadow root (marimo draws outputs
in web components): Playwright's CSS locators pierce open shadow roots, ``document.querySelector`` does not, so every
check goes through a locator.
"""

from __future__ import annotations

import os
import signal
import socket
import subprocess
import time
from collections.abc import Callable, Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

import pytest

REPO = Path(__file__).resolve().parents[2]
CHROMIUM = Path("/usr/bin/chromium")
CHROMIUM_FLAGS = ["--no-sandbox", "--disable-gpu", "--disable-dev-shm-usage", "--disable-background-networking",
                  "--disable-component-update"]  # fmt: skip

# Generous: two cores shared with other work load a model and compute a graph in seconds when idle, minutes when not.
SERVER_START = 120
FIRST_GRAPH = 300
RECOMPUTE = 180


def chromium_launch_args(args: dict[str, Any]) -> dict[str, Any]:
    """pytest-playwright's launch arguments with Debian's Chromium (Playwright cannot download its own here)."""
    if not CHROMIUM.exists():
        pytest.skip(f"{CHROMIUM} is missing: `make install` installs it (apt-get install chromium)")
    return {**args, "executable_path": str(CHROMIUM), "args": CHROMIUM_FLAGS}


def require_built_bundle() -> None:
    """Fail at once, not after minutes of waiting for a drawing, when the front end is not built."""
    bundle = REPO / "infoflow_widget" / "static" / "widget.js"
    if not bundle.is_file():
        pytest.fail(f"{bundle} is missing: `make bundle` builds it (the server's kernel could not import the widget)")


def free_port() -> int:
    with socket.socket() as s:
        s.bind(("127.0.0.1", 0))
        return s.getsockname()[1]


def _listening(port: int) -> bool:
    with socket.socket() as s:
        s.settimeout(1)
        return s.connect_ex(("127.0.0.1", port)) == 0


@contextmanager
def serve(command: list[str], port: int, log: Path, *, env: dict[str, str], cwd: Path) -> Iterator[None]:
    """Run ``command`` (a server on ``port``) until the block ends; then stop it and every process it started.

    Readiness is a TCP connection, not an HTTP request: a request for Voila's page would start a kernel.
    """
    with open(log, "w") as out:
        server = subprocess.Popen(command, env=env, cwd=cwd, stdout=out, stderr=subprocess.STDOUT,
                                  start_new_session=True)  # fmt: skip
        try:
            deadline = time.monotonic() + SERVER_START
            while not _listening(port):
                if server.poll() is not None:
                    pytest.fail(f"{command[2]} exited with status {server.returncode}: {log.read_text()[-3000:]}")
                if time.monotonic() > deadline:
                    pytest.fail(f"{command[2]} did not listen on port {port} in {SERVER_START} s: "
                                f"{log.read_text()[-3000:]}")  # fmt: skip
                time.sleep(0.5)
            yield
        finally:
            _stop(server)


@contextmanager
def server_log_on_failure(log: Path) -> Iterator[None]:
    """Add the end of the server's log (its kernel's tracebacks) to any failure inside the block."""
    try:
        yield
    except Exception as err:
        raise AssertionError(f"{err}\n--- end of {log.name} ---\n{log.read_text()[-4000:]}") from err


def _stop(server: subprocess.Popen) -> None:
    """SIGTERM to the server's process group (it shuts its kernels down), SIGKILL to whatever is left."""
    import psutil

    try:
        children = psutil.Process(server.pid).children(recursive=True)
    except psutil.NoSuchProcess:
        children = []
    try:
        os.killpg(server.pid, signal.SIGTERM)
    except ProcessLookupError:
        pass
    try:
        server.wait(timeout=30)
    except subprocess.TimeoutExpired:
        os.killpg(server.pid, signal.SIGKILL)
        server.wait(timeout=30)
    _, alive = psutil.wait_procs(children, timeout=10)
    for child in alive:  # a kernel in a session of its own
        child.kill()


def collect_errors(page) -> tuple[list[str], list[str]]:
    """The page's uncaught errors and the URLs it requested outside this machine, as lists that fill up."""
    errors: list[str] = []
    remote: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    local = ("http://127.0.0.1", "ws://127.0.0.1", "http://localhost", "ws://localhost", "data:", "blob:")
    page.on("request", lambda request: None if request.url.startswith(local) else remote.append(request.url))
    return errors, remote


# What a check needs to know of the widget, read in one go so that it is consistent.
STATE = """root => ({
  computing: root.classList.contains('if-computing'),
  arcs: [...root.querySelectorAll('.if-arc')].map(a => a.getAttribute('d') + a.getAttribute('stroke-width')),
  tokens: root.querySelectorAll('.if-token').length,
  status: root.querySelector('.if-status-text')?.textContent ?? '',
  header: root.querySelector('.if-header')?.textContent ?? '',
  error: root.querySelector('.if-error')?.textContent ?? '',
})"""


def widget_state(root) -> dict[str, Any]:
    return root.evaluate(STATE)


def wait_for_widget(page, root, condition: Callable[[dict[str, Any]], bool], timeout: float, what: str) -> dict:
    """Poll the widget's state until ``condition`` holds; fail with the last state seen after ``timeout`` s."""
    deadline = time.monotonic() + timeout
    while True:
        state = widget_state(root)
        if condition(state):
            return state
        if time.monotonic() > deadline:
            state["arcs"] = len(state["arcs"])
            raise AssertionError(f"timed out after {timeout} s waiting for {what}; the widget shows {state}")
        page.wait_for_timeout(250)


def exact_graph_shown(state: dict[str, Any]) -> bool:
    """The exact graph is on show: arcs drawn, nothing computing (the dashed estimate comes with ``computing``)."""
    return bool(state["arcs"]) and not state["computing"] and state["status"].startswith("computed")


def check_alpha_slider_recomputes(page, artifacts: Path, name: str) -> None:
    """The IOI widget (dampen, alpha 0.5, top_k 12) draws its graph; moving the alpha slider to 0.25 redraws it."""
    root = page.locator(".if-root").first
    try:
        root.wait_for(timeout=FIRST_GRAPH * 1000)
        state = wait_for_widget(page, root, exact_graph_shown, FIRST_GRAPH, "the first exact graph")
    except Exception:
        page.screenshot(path=artifacts / f"{name}-failure.png")
        raise
    assert len(state["arcs"]) == 12  # top_k=12
    assert state["tokens"] == 14
    assert "dampen" in state["header"] and "alpha = 0.5 " in state["header"]
    root.scroll_into_view_if_needed()
    root.screenshot(path=artifacts / f"{name}-widget.png")

    before = state["arcs"]
    root.locator("input[data-trait='alpha']").fill("0.25")
    try:
        state = wait_for_widget(
            page,
            root,
            lambda s: exact_graph_shown(s) and s["arcs"] != before and "alpha = 0.25" in s["header"],
            RECOMPUTE,
            "the graph of alpha = 0.25",
        )
    except Exception:
        page.screenshot(path=artifacts / f"{name}-failure.png")
        raise
    assert len(state["arcs"]) == 12 and state["error"] == ""
    root.screenshot(path=artifacts / f"{name}-widget-alpha-0.25.png")
