"""Trust flags on the write-up's IOI case (cases/ioi.json) with SmolLM2-135M: hemorrhage flagged, the circuit not.

What must hold: "When -> Mary" is flagged under Zero; IO -> END, S2 -> END and S1 -> S2 are not
flagged and keep their sign under Zero, Dampen(0.5), Knockout and auto-Corrupt.
"""

from __future__ import annotations

import pytest

from infoflow_widget import Corrupt, Dampen, FlowEngine, Knockout, LogitDiff, Zero

pytestmark = pytest.mark.slow

INTERVENTIONS = {"zero": Zero(), "dampen": Dampen(0.5), "knockout": Knockout(), "auto-corrupt": Corrupt.auto(4, 0)}
CIRCUIT = [("IO", "END"), ("S2", "END"), ("S1", "S2")]


def roles(tokens: list[str], case: dict) -> dict[str, int]:
    """The IOI roles located in the tokenization, and the prompt's first word ("When")."""
    answer, subject = case["answer"], case["distractor"]
    s1 = tokens.index(subject)
    return {
        "When": tokens.index("When"),
        "IO": tokens.index(answer),
        "S1": s1,
        "S2": tokens.index(subject, s1 + 1),
        "END": len(tokens) - 1,
    }


@pytest.fixture(scope="module")
def graphs(smollm, ioi_case):
    """The full IOI graph under each intervention, from one clean run."""
    metric = LogitDiff(ioi_case["answer"], ioi_case["distractor"])
    base = FlowEngine(smollm, ioi_case["prompt"], metric, Zero(), progress=False)
    return {name: base.with_intervention(iv).graph() for name, iv in INTERVENTIONS.items()}


def edge(graph, role, source, target):
    found = [e for e in graph.edges if (e.source, e.target) == (role[source], role[target])]
    assert len(found) == 1
    return found[0]


def test_when_to_mary_is_flagged_under_zero(graphs, ioi_case):
    zero = graphs["zero"]
    role = roles(zero.tokens, ioi_case)
    hemorrhage = edge(zero, role, "When", "IO")
    assert zero.ranked()[0] == hemorrhage, "the strongest edge of the Zero graph"
    assert "sink" in hemorrhage.flags
    assert zero.stats["sinks"]["positions"] == [role["When"]], "the first token is SmolLM2's attention sink"


@pytest.mark.parametrize("name", INTERVENTIONS)
@pytest.mark.parametrize(("source", "target"), CIRCUIT, ids=[f"{s}->{t}" for s, t in CIRCUIT])
def test_the_circuit_is_not_flagged_and_keeps_its_sign(graphs, ioi_case, name, source, target):
    graph = graphs[name]
    e = edge(graph, roles(graph.tokens, ioi_case), source, target)
    assert e.flags == (), f"{source} -> {target} under {name}: {e}"
    assert e.effect > graph.stats["noise_floor"], f"{source} -> {target} under {name} helps the prediction: {e}"
    assert e.damage is not None and e.damage > 0


def test_every_exact_edge_has_damage_and_gave_to_end_is_flagged_under_zero(graphs, ioi_case):
    """The write-up suspects " gave" -> END of hemorrhage: under Zero its damage is 10x what its effect explains."""
    zero = graphs["zero"]
    assert all(e.damage is not None for g in graphs.values() for e in g.edges)
    role = roles(zero.tokens, ioi_case)
    role["gave"] = role["S2"] + 1
    assert zero.tokens[role["gave"]] == " gave"
    assert "damage" in edge(zero, role, "gave", "END").flags


@pytest.mark.parametrize("name", ["zero", "knockout"])
def test_hemorrhage_edges_stay_strong_under_knockout(graphs, ioi_case, name):
    """Knockout moves the sink's weight to the other keys instead of dropping it, but cutting the sink out of a row
    still breaks that row: When -> Mary stays the strongest edge and When -> and among the ten strongest."""
    graph = graphs[name]
    role = roles(graph.tokens, ioi_case)
    role["and"] = role["IO"] + 1
    ranked = graph.ranked()
    mary, and_ = edge(graph, role, "When", "IO"), edge(graph, role, "When", "and")
    assert ranked.index(mary) == 0 and ranked.index(and_) < 10
    assert mary.effect > 0 and and_.effect > 0 and "sink" in mary.flags and "sink" in and_.flags


@pytest.mark.parametrize("model_name", ["smollm", "gemma"])
@pytest.mark.parametrize("case_name", ["ioi_case", "code_case"])
def test_the_first_token_is_the_only_sink(request, model_name, case_name):
    """trust.SINK_EXCESS's calibration: SmolLM2's first token and Gemma's <bos>, on the short and the long case."""
    from infoflow_widget.graph.trust import sink_stats

    model, case = request.getfixturevalue(model_name), request.getfixturevalue(case_name)
    engine = FlowEngine(model, case["prompt"], None, Zero(), progress=False)
    sinks = sink_stats(engine.sink_shares)
    assert sinks["positions"] == [0], sinks
    assert sinks["share"][0] > 0.25 and sinks["strongest_other"][1] < 0.1
