"""Releasing the main thread's OpenMP pool, so that a computing thread is not throttled."""

from __future__ import annotations

import os
import sys

import pytest
import torch

from infoflow_widget.core.openmp import release_idle_threads


def threads() -> int:
    return len(os.listdir("/proc/self/task"))


@pytest.mark.skipif(not sys.platform.startswith("linux"), reason="reads /proc/self/task")
@pytest.mark.skipif(torch.get_num_threads() < 2, reason="one torch thread: there is no pool to free")
def test_the_pool_is_freed_and_rebuilt_on_demand():
    x = torch.randn(512, 512)
    torch.softmax(x @ x, dim=-1)  # parallel work: this thread now holds a pool
    busy = threads()
    assert release_idle_threads()
    assert threads() == busy - (torch.get_num_threads() - 1)
    assert torch.equal(x @ x, x @ x), "torch works as before; the pool comes back"
    assert threads() == busy
