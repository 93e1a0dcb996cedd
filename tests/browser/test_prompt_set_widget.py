"""A prompt set's widget, in Chromium, over a live widget.

``InfoFlowWidget(model, prompt_set)`` draws the set's role graph: role labels on the strip, arcs by mean effect,
tooltips with the 95% interval and the sign consistency; the prompt stepper switches to one prompt's own graph
without measuring again (``prompt_index``, synced both ways); the controls recompute the whole set; a set that
cannot be measured says why in the error box. The page is wired to the widget in this process as in
``test_anatomy_panel.py`` (:class:`Bridge`), on a tiny random Llama. The slow test takes a screenshot of ten IOI
prompts on smollm2-135m.
"""

from __future__ import annotations

import re
import time
from typing import Any

import pytest

from .test_anatomy_panel import Bridge

pytest.importorskip("playwright")
pytestmark = [
    pytest.mark.browser,
    pytest.mark.filterwarnings("error::pytest.PytestUnhandledThreadExceptionWarning"),
]

TEMPLATE = "when {IO} and {S} went to the store , {S} gave a book to"
NAMES = ["mary", "john", "felix", "sarah", "diego", "bob", "alice"]
TOP_K = 8


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1300, "height": 1000}}


@pytest.fixture(scope="module")
def tiny():
    from conftest import make_tiny

    return make_tiny("llama")


@pytest.fixture
def live(tiny, page, tmp_path):
    from infoflow_widget import InfoFlowWidget, PromptSet

    prompts = PromptSet.from_template(
        TEMPLATE, IO=NAMES, S=NAMES, answer="{IO}", distractor="{S}", n=5, seed=0, tokenizer=tiny.tokenizer
    )
    widget = InfoFlowWidget(tiny, prompts, top_k=TOP_K)
    widget.wait(timeout=120)
    bridge = Bridge(widget, page, tmp_path / "set.html")
    yield bridge
    widget.close()


def strip(bridge: Bridge) -> list[str]:
    """The token boxes' texts, in order (spaces shown as ·)."""
    return bridge.root.locator(".if-token text:first-of-type").all_text_contents()


def arcs(bridge: Bridge) -> set[tuple[str, str]]:
    """The drawn arcs' ends, as "start:end" slices."""
    return {
        (arc.get_attribute("data-source"), arc.get_attribute("data-target"))
        for arc in bridge.root.locator(".if-canvas .if-arc").all()
    }


def ends(graph: Any, k: int) -> set[tuple[str, str]]:
    """The ends of the k strongest edges of a flow graph, as the drawing names them."""
    return {(f"{e.source}:{e.source + 1}", f"{e.target}:{e.target + 1}") for e in graph.top(k).edges}


def test_the_role_graph_is_drawn_with_roles_intervals_and_sign_consistency(live, artifacts):
    widget, root = live.widget, live.root
    roles = widget.role_graph
    assert widget.prompts == list(roles.prompt_set.prompts) and widget.prompt_index == -1
    shown = strip(live)
    assert shown == roles.nodes and {"IO", "S1", "S2", "END"} <= set(shown), shown
    mean = roles.to_flow_graph()
    assert arcs(live) == ends(mean, TOP_K) and len(arcs(live)) == TOP_K
    header = root.locator(".if-header").text_content()
    assert f"role graph: mean over 5 prompts of template “{TEMPLATE}”" in header
    assert "logit difference of each prompt's answer and distractor" in header
    assert root.locator(".if-prompts select").input_value() == "-1"
    assert root.locator(".if-prompts select option").first.text_content() == "mean over 5 prompts (role graph)"

    strongest = roles.ranked()[0]
    index = roles.edges.index(strongest)
    arc = root.locator(f".if-arc[data-index='{index}']")
    arc.dispatch_event("mouseover", {"clientX": 300, "clientY": 150})
    tip = root.locator(".if-tooltip").text_content()
    same = round(strongest.sign_consistency * strongest.n)
    assert re.search(r"mean [-+][\d.e-]+ \(95% CI [-+][\d.e-]+\.\.[-+][\d.e-]+\), same sign in \d+/5 prompts", tip), tip
    assert f"same sign in {same}/5 prompts" in tip
    low, high = (float(x) for x in re.search(r"CI ([-+][\d.e-]+)\.\.([-+][\d.e-]+)\)", tip).groups())
    assert low == pytest.approx(strongest.low, rel=0.01, abs=1e-3)
    assert high == pytest.approx(strongest.high, rel=0.01, abs=1e-3)
    assert "need one prompt" in tip
    root.screenshot(path=artifacts / "prompt-set-tiny.png")

    arc.dispatch_event("click")  # no anatomy for a set: nothing is selected, nothing refused
    live.page.wait_for_timeout(200)
    live.pump()
    assert widget.selected_edge is None and root.locator(".if-anatomy").is_hidden()
    assert live.refused == [] and live.errors == [] and root.locator(".if-error").is_hidden()


def test_stepping_through_the_prompts_draws_each_prompts_own_graph(live):
    widget, root = live.widget, live.root
    roles = widget.role_graph
    passes = roles.stats["forward_passes"]
    root.locator(".if-prompts select").select_option("1")  # prompt 2
    live.until(lambda: widget.prompt_index == 1 and strip(live)[1] != "IO", what="prompt 2 drawn")
    second = roles.graphs[1]
    assert strip(live) == second.tokens and second.tokens[1] == roles.prompt_set.slots[1]["IO"]
    assert arcs(live) == ends(second, TOP_K)
    assert "prompt 2 of 5" in root.locator(".if-header").text_content()
    assert widget.role_graph is roles and roles.stats["forward_passes"] == passes, "switched without measuring"

    root.locator("[data-control='prompt-next']").click()
    live.until(lambda: widget.prompt_index == 2 and strip(live) == roles.graphs[2].tokens, what="prompt 3 drawn")
    widget.prompt_index = -1  # from Python: the page follows
    live.until(lambda: strip(live) == roles.nodes, what="the mean drawn again")
    assert root.locator(".if-prompts select").input_value() == "-1"
    assert live.refused == [] and live.errors == []


def test_alpha_recomputes_the_whole_set(live):
    widget, root = live.widget, live.root
    first = widget.role_graph
    widget.intervention = "dampen"
    widget.wait(120)
    live.until(lambda: "alpha = 0.5 " in root.locator(".if-header").text_content(), what="dampen 0.5 drawn")
    slider = root.locator("input[data-trait='alpha']")
    slider.evaluate("(input) => { input.value = '0.3'; input.dispatchEvent(new Event('input', { bubbles: true })); }")
    live.until(lambda: widget.alpha == pytest.approx(0.3), what="the slider's alpha in Python")
    widget.wait(120)
    live.until(lambda: "alpha = 0.3 " in root.locator(".if-header").text_content(), what="the new header")
    assert widget.role_graph is not first and widget.role_graph.n_prompts == 5
    assert "computed: role graph of 5 prompts" in root.locator(".if-status").text_content()
    assert strip(live) == widget.role_graph.nodes
    assert live.refused == [] and live.errors == [] and root.locator(".if-error").is_hidden()


def test_a_set_that_cannot_be_measured_says_why_in_the_error_box(tiny, page, tmp_path):
    from infoflow_widget import InfoFlowError, InfoFlowWidget, PromptSet

    bad = PromptSet(
        ["when mary and john went to the store , john gave a book to"] * 2, answers=["mary john", "mary"],
        distractors=["john", "john"],
    )  # fmt: skip
    widget = InfoFlowWidget(tiny, bad)
    try:
        with pytest.raises(InfoFlowError, match="not one"):
            widget.wait(60)
        bridge = Bridge(widget, page, tmp_path / "bad.html")
        box = bridge.root.locator(".if-error")
        assert box.is_visible() and "'mary john' is 2 tokens" in box.text_content()
        assert "Traceback" not in bridge.root.text_content()
        assert "failed" in bridge.root.locator(".if-status").text_content() and bridge.errors == []
    finally:
        widget.close()


@pytest.mark.slow
def test_ten_ioi_prompts_on_smollm2(smollm, page, tmp_path, artifacts):
    """A screenshot of ten IOI prompts' role graph on smollm2-135m, an arc's tooltip open."""
    from infoflow_widget import InfoFlowWidget, PromptSet, ioi_words

    words = ioi_words()
    prompts = PromptSet.from_template(
        "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to", IO=words["names"], S=words["names"],
        PLACE=words["places"], OBJECT=words["objects"], answer="{IO}", distractor="{S}", n=10,
        tokenizer=smollm.tokenizer,
    )  # fmt: skip
    widget = InfoFlowWidget(smollm, prompts, top_k=10)
    try:
        started = time.monotonic()
        roles = widget.wait(timeout=600)
        print(f"role graph of 10 prompts in {time.monotonic() - started:.1f} s: {roles.stats}")
        bridge = Bridge(widget, page, tmp_path / "ioi.html")
        edge = roles.edge("IO", "END")
        arc = bridge.root.locator(f".if-arc[data-index='{roles.edges.index(edge)}']")
        box = arc.bounding_box()
        arc.dispatch_event("mouseover", {"clientX": box["x"] + box["width"] / 2, "clientY": box["y"] + 4})
        assert "same sign in" in bridge.root.locator(".if-tooltip").text_content()
        bridge.root.screenshot(path="/tmp/prompt_set_widget.png")
        bridge.root.screenshot(path=artifacts / "prompt-set-smollm2.png")
        bridge.root.locator(".if-prompts select").select_option("1")
        bridge.until(lambda: "prompt 2 of 10" in bridge.root.locator(".if-header").text_content(), what="prompt 2")
        page.mouse.move(5, 5)
        bridge.root.screenshot(path=artifacts / "prompt-set-smollm2-prompt2.png")
        assert bridge.errors == []
    finally:
        widget.close()
