"""The widget's auto-Corrupt: "auto" in the corrupted-prompt box is Corrupt.auto(); what it kept shows in the status."""

from __future__ import annotations

import pytest

pytest.importorskip("anywidget")

from infoflow_widget import Corrupt, FlowGraph, Node  # noqa: E402
from infoflow_widget.widget.computation import _summary  # noqa: E402
from infoflow_widget.widget.requests import Request  # noqa: E402
from infoflow_widget.widget.widget import InfoFlowWidget  # noqa: E402

pytestmark = pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning")

PROMPT = "when mary and john went to the store , john gave a book to"


@pytest.fixture(scope="module")
def tiny():
    from conftest import make_tiny

    return make_tiny("llama")


def test_auto_in_the_box_computes_the_mean_over_generated_prompts(tiny):
    widget = InfoFlowWidget(
        tiny, PROMPT, answer="mary", distractor="john", intervention="corrupt", corrupted_prompt="auto"
    )
    graph = widget.wait(timeout=60)
    assert graph.provenance["intervention"] == {"kind": "corrupt", "corrupted_prompt": "auto", "n": 4, "seed": 0}
    assert len(graph.provenance["corruption"]["prompts"]) == 4
    assert all(e.effect_std is not None for e in graph.edges)
    assert widget.status.startswith("computed: 105 edges") and widget.error == ""
    assert widget.graph["provenance"]["intervention"]["corrupted_prompt"] == "auto"
    widget.corrupted_prompt = "when felix and sarah went to the store , diego gave a book to"
    assert widget.wait(timeout=60).provenance["intervention"]["kind"] == "corrupt"
    widget.corrupted_prompt = "AUTO"  # typed in any case
    assert widget.wait(timeout=60).provenance["corruption"]["prompts"] == graph.provenance["corruption"]["prompts"]


def test_the_request_builds_corrupt_auto_and_a_consensus_includes_it():
    class Traits:
        intervention, alpha, corrupted_prompt, strategy, threshold = "corrupt", 0.5, "auto", "full", 0.0
        answer, distractor = "mary", "john"

    request = Request.of(Traits())
    assert request.build_intervention() == Corrupt.auto()
    assert request.alone(Corrupt.auto()) == request, "the consensus caches it under the request that asks for it"
    Traits.intervention = "consensus"
    assert Corrupt.auto() in Request.of(Traits()).build_interventions()


def test_the_status_names_the_positions_the_prompts_kept():
    kept = {"positions": [1, 2, 3], "text": " Xzavier", "kind": "name", "reason": "3 tokens here"}
    corruption = {"prompts": ["a", "b"], "unreplaceable": [kept], "notes": ["only 1 distinct corrupted prompt(s)"]}
    graph = FlowGraph(["a", "b"], [Node(0, 1), Node(1, 2)], [], 1.0, {"corruption": corruption}, {"forward_passes": 3})
    assert _summary(graph, "computed") == (
        "computed: 0 edges, 3 forward passes in ? s; kept positions 1, 2, 3 ' Xzavier' (name): 3 tokens here; "
        "only 1 distinct corrupted prompt(s)"
    )
    assert _summary(graph, "cached").endswith("shown without recomputing; kept positions 1, 2, 3 ' Xzavier' (name): "
                                              "3 tokens here; only 1 distinct corrupted prompt(s)")  # fmt: skip
