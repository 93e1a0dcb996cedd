"""Numbers from numpy pass the checks as whole or real numbers, and whatever holds them saves as plain JSON."""

from __future__ import annotations

import json

import numpy as np
import pytest
from conftest import make_tiny

from infoflow_widget import (
    Attribution,
    AttributionThenExact,
    Backtrack,
    Dampen,
    FlowGraph,
    LogitDiff,
    Zero,
    compare_interventions,
    compute_flow,
)

PROMPT = "when mary and john went to the store , john gave a book to"
METRIC = LogitDiff("mary", "john")


@pytest.fixture(scope="module")
def tiny():
    return make_tiny("llama")


@pytest.mark.parametrize(
    "arguments",
    [
        {"strategy": Attribution(steps=np.int64(3))},
        {"strategy": AttributionThenExact(k=np.int64(5))},
        {"intervention": Dampen(np.float32(0.5))},
        {"strategy": Backtrack(np.float32(0.01))},
        {"layers": [np.int64(1)]},
    ],
    ids=["steps", "k", "alpha", "threshold", "layers"],
)
def test_a_graph_computed_with_numpy_numbers_saves_and_loads(tiny, tmp_path, arguments):
    graph = compute_flow(tiny, PROMPT, METRIC, progress=False, **arguments)
    path = graph.save(tmp_path / "graph.json")
    text = path.read_text()
    assert FlowGraph.load(path).edges == graph.edges
    assert "int64" not in text and "float32" not in text and json.loads(text)["provenance"]


def test_the_consensus_graph_with_a_numpy_reference_saves(tiny, tmp_path):
    comparison = compare_interventions(tiny, PROMPT, METRIC, [Zero(), Dampen(np.float32(0.5))], progress=False)
    graph = comparison.consensus(reference=np.int64(1))
    labels = graph.provenance["consensus"]["labels"]
    assert graph.provenance["consensus"]["reference"] == labels[1]
    assert FlowGraph.load(graph.save(tmp_path / "consensus.json")).edges == graph.edges
