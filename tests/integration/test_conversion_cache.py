"""The conversion cache: a weight conversion killed half-way leaves no partial folder once the next load runs."""

from __future__ import annotations

import os
import signal
import subprocess
import sys
import time
from pathlib import Path

# A conversion that stops half-way: it writes part of its output, says so, and waits to be killed.
SLOW_CONVERSION = """
import sys, time
from infoflow_widget.engine.models import _cached_conversion

def half_done(workdir):
    (workdir / "weights.part").write_bytes(b"x" * 100_000)
    print("converting", flush=True)
    time.sleep(600)

_cached_conversion(sys.argv[1], half_done)
"""


def ready_cache(tmp_path: Path, key: str) -> None:
    """A finished conversion of ``key`` in the cache at ``tmp_path``, so loading it converts nothing."""
    from infoflow_widget.engine.models import _write_manifest

    folder = tmp_path / "models" / key
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    _write_manifest(folder)


def hidden_folders(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".") and p.is_dir())


def test_a_killed_conversion_is_cleaned_at_the_next_load_a_live_one_is_kept(tmp_path, monkeypatch):
    from infoflow_widget.engine.models import _cached_conversion

    monkeypatch.setenv("INFOFLOW_CACHE", str(tmp_path))
    ready_cache(tmp_path, "ready-1")

    def never(_workdir):
        raise AssertionError("the ready model must load from the cache")

    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_CONVERSION, "killed-1"],
        env={**os.environ, "INFOFLOW_CACHE": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "converting"
        live = hidden_folders(tmp_path)
        assert live, "the conversion works in a hidden partial folder"
        assert _cached_conversion("ready-1", never) == tmp_path / "models" / "ready-1"
        assert hidden_folders(tmp_path) == live, "a folder a live process is converting into is kept"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert hidden_folders(tmp_path) == live, "SIGKILL leaves the partial folder behind"
    assert _cached_conversion("ready-1", never) == tmp_path / "models" / "ready-1"
    assert hidden_folders(tmp_path) == [], "the next load removes the killed conversion's folder"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["ready-1"]


def test_old_style_partial_folders_go_once_abandoned(tmp_path, monkeypatch):
    """Earlier versions converted into tempfile folders (``.{key}-xxxxxxxx``, no lock): removed once an hour old."""
    from infoflow_widget.engine.models import _cached_conversion

    monkeypatch.setenv("INFOFLOW_CACHE", str(tmp_path))
    ready_cache(tmp_path, "ready-1")
    old, recent = tmp_path / "models" / ".smollm2-135m-0.1.2-ab12cd34", tmp_path / "models" / ".ready-1-ef56gh78"
    for folder in (old, recent):
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "model.safetensors").write_bytes(b"x" * 1000)
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    _cached_conversion("ready-1", lambda _workdir: None)
    assert hidden_folders(tmp_path) == [recent.name]
