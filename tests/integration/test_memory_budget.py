"""Every planned pass stays within ``memory_budget``: peak resident memory measured in a process of its own.

Each case runs tests/integration/memory_probe.py, which builds the engines (model and clean run), resets the
high-water mark, runs one kind of planned pass and reports the peak resident memory (``getrusage``). What the
pass added must stay within 1.25 x the budget, and a larger budget must buy larger batches.
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

PROBE = Path(__file__).with_name("memory_probe.py")
MiB = 2**20


def probe(model: str, tokens: int, budget: int, path: str) -> dict:
    done = subprocess.run(
        [sys.executable, str(PROBE), model, str(tokens), str(budget), path],
        capture_output=True,
        text=True,
        timeout=600,
    )
    assert done.returncode == 0, done.stderr[-2000:]
    return json.loads(done.stdout.strip().splitlines()[-1])


@pytest.mark.parametrize("path", ["rows", "anatomy", "estimate", "stacked"])
def test_a_long_prompt_on_a_tiny_model_stays_within_two_budgets(path):
    """768 tokens: one attention tensor is 9.4 MiB a row, so the budget, not the 128-row cap, sets the batches."""
    small, large = (probe("tiny", 768, budget, path) for budget in (512 * MiB, 1536 * MiB))
    for found, budget in ((small, 512 * MiB), (large, 1536 * MiB)):
        assert found["peak"] - found["baseline"] <= 1.25 * budget, (path, budget, found)
    assert 1 < small["rows"] < large["rows"] < 128


@pytest.mark.slow
@pytest.mark.parametrize(("tokens", "path"), [(300, "rows"), (200, "estimate")])
def test_the_code_case_on_gemma_stays_within_512_mib(tokens, path):
    found = probe("gemma", tokens, 512 * MiB, path)
    assert found["peak"] - found["baseline"] <= 1.25 * 512 * MiB, found
