"""Fixtures of the browser tests: Debian's Chromium for pytest-playwright, and where screenshots go."""

from __future__ import annotations

from pathlib import Path

import pytest

from .served import REPO, chromium_launch_args


@pytest.fixture(scope="session")
def browser_type_launch_args(browser_type_launch_args):
    """Debian's Chromium for pytest-playwright, since Playwright cannot download its own browsers here."""
    return chromium_launch_args(browser_type_launch_args)


@pytest.fixture(scope="session")
def artifacts() -> Path:
    """Where screenshots go (git-ignored), for people to look at after a run."""
    folder = REPO / "test-artifacts"
    folder.mkdir(exist_ok=True)
    return folder
