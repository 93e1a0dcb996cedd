"""Prompt sets on SmolLM2-135M and Gemma 3 270M: the IOI circuit's edges into END, over 50 prompts.

Two templates of different word order, filled with the bundled IOI words (``ioi_words()``), 50 prompts each:

- ``ioi``: the write-up's sentence, "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to";
- ``argument``: the subject first and a sentence between the mentions, "Then, {S} and {IO} had a long argument.
  Afterwards {S} said to".

The claims: IO -> END and S2 -> END help the prediction (positive mean effect), S1 -> END hurts it (negative), under
Zero on both models and templates, and under Corrupt.auto(n=2) (each prompt corrupted on its own) on the first
template. Each edge's sign consistency is reported (printed: run with ``-s``). Measured when this was written
(mean, 95% interval, sign consistency; 50 prompts, seed 0):

============  ========  ==========  ========================  ========================  =========================
model         template  interv.     IO -> END                 S2 -> END                 S1 -> END
============  ========  ==========  ========================  ========================  =========================
SmolLM2-135M  ioi       Zero        +5.45 [+5.03, +5.87] 1.0  +3.68 [+3.37, +3.99] 1.0  -3.33 [-3.60, -3.05] 1.0
SmolLM2-135M  argument  Zero        +6.17 [+5.77, +6.57] 1.0  +7.01 [+6.69, +7.34] 1.0  -3.24 [-3.41, -3.07] 1.0
SmolLM2-135M  ioi       auto(n=2)   +5.90 [+5.48, +6.32] 1.0  +1.90 [+1.71, +2.09] 1.0  -3.00 [-3.26, -2.75] 1.0
Gemma 3 270M  ioi       Zero        +6.28 [+5.83, +6.73] 1.0  +5.24 [+4.91, +5.56] 1.0  -3.48 [-3.79, -3.16] 1.0
Gemma 3 270M  argument  Zero        +6.79 [+6.49, +7.09] 1.0  +4.44 [+4.26, +4.63] 1.0  -5.26 [-5.45, -5.07] 1.0
Gemma 3 270M  ioi       auto(n=2)   +5.96 [+5.66, +6.25] 1.0  +3.69 [+3.49, +3.88] 1.0  -4.29 [-4.59, -3.99] 1.0
============  ========  ==========  ========================  ========================  =========================

Every claim holds in every one of the 50 prompts, so the tests also require each interval to exclude 0 and a sign
consistency of at least 0.9 (a margin below the measured 1.0, for other torch builds).

Only the edges into the last position are measured (:class:`IntoEnd`): each edge is one intervention, the same row
whichever other edges share its forward pass, so its effect is the one the full graph gives (the full graphs of
both templates on SmolLM2 gave these means to 4 decimals), at a fraction of the cost. The exactness test below
runs full graphs: every per-prompt effect of a set equals ``compute_flow`` on that prompt alone.
"""

from __future__ import annotations

from dataclasses import dataclass
from typing import ClassVar

import pytest

from infoflow_widget import Corrupt, PromptSet, Zero, compute_flow, compute_flow_set, ioi_words
from infoflow_widget.search.strategies import Full

pytestmark = pytest.mark.slow

TEMPLATES = {
    "ioi": "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to",
    "argument": "Then, {S} and {IO} had a long argument. Afterwards {S} said to",
}
EXPECTED = {("IO", "END"): +1, ("S2", "END"): +1, ("S1", "END"): -1}
"""The IOI circuit's edges into END and the sign of their mean effect (write-up section 2.1)."""
N = 50


@dataclass(frozen=True)
class IntoEnd(Full):
    """Every token edge into the last position (n edges): Full's rows for that target, nothing else."""

    name: ClassVar[str] = "into-end"

    def groups(self, engine):
        return [([j], [engine.n - 1]) for j in range(engine.n)]


@pytest.fixture(scope="module", params=["smollm", "gemma"])
def model(request):
    return request.getfixturevalue(request.param)


def ioi_set(model, template: str, n: int = N) -> PromptSet:
    words = ioi_words()
    slots = {"IO": words["names"], "S": words["names"], "PLACE": words["places"], "OBJECT": words["objects"]}
    used = {slot: values for slot, values in slots.items() if "{" + slot + "}" in template}
    return PromptSet.from_template(template, answer="{IO}", distractor="{S}", n=n, seed=0, tokenizer=model, **used)


def check_claims(model, role_graph, label: str) -> None:
    """Assert the signs of EXPECTED with their intervals and sign consistency, and print the figures."""
    name = getattr(model._module, "infoflow_name", "model")
    assert role_graph.n_prompts == N and len(role_graph.prompt_set.dropped) == 0
    for (source, target), sign in EXPECTED.items():
        edge = role_graph.edge(source, target)
        print(
            f"{name} {label}: {edge.name} mean {edge.mean:+.3f} [{edge.low:+.3f}, {edge.high:+.3f}], "
            f"sign consistency {edge.sign_consistency:.2f} of {edge.n}"
        )
        assert edge.n == N
        assert 0.0 <= edge.sign_consistency <= 1.0
        assert edge.mean * sign > 0, f"{name} {label}: {edge.name} has mean {edge.mean:+.3f}"
        assert min(edge.low * sign, edge.high * sign) > 0, f"{name} {label}: {edge.name}'s interval holds 0"
        assert edge.sign_consistency >= 0.9, f"{name} {label}: {edge.name} {edge.sign_consistency:.2f}"


@pytest.mark.parametrize("template", TEMPLATES)
def test_zero_role_edges_into_end(model, template):
    prompts = ioi_set(model, TEMPLATES[template])
    role_graph = compute_flow_set(model, prompts, Zero(), strategy=IntoEnd(), progress=False)
    assert min(role_graph.clean_metrics) > 0, "the model prefers the indirect object in every prompt"
    check_claims(model, role_graph, f"{template} Zero")


def test_auto_corrupt_role_edges_into_end(model):
    prompts = ioi_set(model, TEMPLATES["ioi"])
    role_graph = compute_flow_set(model, prompts, Corrupt.auto(n=2, seed=0), strategy=IntoEnd(), progress=False)
    corruption = role_graph.graphs[0].provenance["corruption"]
    assert len(corruption["prompts"]) == 2 and prompts[0].prompt not in corruption["prompts"]
    check_claims(model, role_graph, "ioi Corrupt.auto(n=2)")


def test_every_prompt_of_a_set_equals_compute_flow_alone(smollm):
    prompts = ioi_set(smollm, TEMPLATES["ioi"], n=4)
    role_graph = compute_flow_set(smollm, prompts, Zero(), progress=False)
    for record, joint in zip(prompts, role_graph.graphs, strict=True):
        alone = compute_flow(smollm, record.prompt, answer=record.answer, distractor=record.distractor, progress=False)
        assert [(e.source, e.target) for e in joint.edges] == [(e.source, e.target) for e in alone.edges]
        assert len(joint.edges) == len(joint.tokens) * (len(joint.tokens) + 1) // 2
        assert [e.effect for e in joint.edges] == pytest.approx([e.effect for e in alone.edges], abs=1e-4)
        assert joint.clean_metric == pytest.approx(alone.clean_metric, abs=1e-4)
    # Four prompts of one length share forward passes: fewer than four graphs' own.
    assert role_graph.stats["forward_passes"] < 4 * alone.stats["forward_passes"]
