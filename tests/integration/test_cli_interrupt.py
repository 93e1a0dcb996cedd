"""Ctrl-C in the `infoflow` command: one line on stderr, status 130, and no output left behind."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import threading

import pytest
from conftest import WORDS


@pytest.mark.parametrize("out", ["graph.json", "graph.html", "-"])
def test_ctrl_c_while_computing(tiny_model_folder, tmp_path, out):
    prompt = " ".join((WORDS * 4)[:60])  # 1830 edges, one per forward pass: seconds of work to interrupt
    target = "-" if out == "-" else str(tmp_path / out)
    command = [sys.executable, "-m", "infoflow_widget.cli", "graph", "--model", str(tiny_model_folder)]
    command += ["--prompt", prompt, "--batch-size", "1", "--device", "cpu", "--out", target]
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    process = subprocess.Popen(command, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True, env=env)
    stderr: list[str] = []
    stdout: list[str] = []
    computing = threading.Event()  # set by the engine's first progress bar line, or at the end of stderr

    def read_stderr() -> None:  # a character at a time: the bar redraws its line with "\r", never ending it
        for char in iter(lambda: process.stderr.read(1), ""):
            stderr.append(char)
            if char == "]" and "edge/s]" in "".join(stderr[-8:]):
                computing.set()
        computing.set()

    readers = [
        threading.Thread(target=read_stderr, daemon=True),
        threading.Thread(target=lambda: stdout.append(process.stdout.read()), daemon=True),
    ]
    for reader in readers:
        reader.start()
    try:
        computing.wait(timeout=300)
        assert process.poll() is None, f"the command ended before it was interrupted:\n{''.join(stderr)}"
        process.send_signal(signal.SIGINT)
        process.wait(timeout=60)
    finally:
        process.kill()
    for reader in readers:
        reader.join(timeout=10)
    text = "".join(stderr)
    assert process.returncode == 130, text
    lines = [line for line in text.splitlines() if line.strip() and "%|" not in line]  # progress bars aside
    assert lines == ["infoflow: interrupted; nothing was written."], text
    assert stdout == [""]
    assert list(tmp_path.iterdir()) == [], "no output file and no temporary file"
