"""What a first-time reader sees, in Chromium: no noise drawn as evidence, saved pages that say which
controls need a kernel, labels in words, notes on what familiar arcs mean, a pin that goes with its graph.

Pages come from the public API: ``InfoFlowWidget.save_html`` (a tiny random Llama; Dampen with alpha = 1 changes
nothing: every effect is float noise) and ``FlowGraph.save`` to ``.html`` (a graph written by hand, with a real
tokenizer's spaces). Where the test must play the kernel (a new graph arriving, a drill-down answered), it renders
the same built front end over a stand-in model it can reach (:func:`kernel_page`). Screenshots go to
``test-artifacts/meaning-*.png``.
"""

from __future__ import annotations

import json
import re
from pathlib import Path

import pytest

from .served import REPO

pytest.importorskip("playwright")
pytestmark = pytest.mark.browser

PROMPT = "when mary and john went to the store , john gave a book to"
OFFLINE_TITLE = "needs a running kernel: this is a saved page"
KERNEL_CONTROLS = ["intervention", "alpha", "strategy", "answer", "distractor", "corrupted_prompt"]
SLICE = re.compile(r"\d+:\d+")  # "1:2": how Python labels nodes; never shown to a reader


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1200, "height": 900}, "accept_downloads": True}


@pytest.fixture(scope="module")
def tiny():
    from conftest import make_tiny

    return make_tiny("llama")


def computed(model, **options):
    """A widget on the tiny model, its first graph computed."""
    from infoflow_widget import InfoFlowWidget

    widget = InfoFlowWidget(model, PROMPT, answer="mary", distractor="john", **options)
    widget.wait(timeout=120)
    return widget


@pytest.fixture(scope="module")
def dampen_nothing(tiny, tmp_path_factory):
    """Dampen with alpha = 1 changes no attention: every effect is numerical noise (here exactly 0)."""
    widget = computed(tiny, intervention="dampen", alpha=1.0, top_k=None)
    path = widget.save_html(tmp_path_factory.mktemp("noise") / "noise.html")
    yield widget, path
    widget.close()


@pytest.fixture(scope="module")
def zero(tiny, tmp_path_factory):
    widget = computed(tiny, intervention="zero", top_k=8)
    path = widget.save_html(tmp_path_factory.mktemp("zero") / "zero.html")
    yield widget, path
    widget.close()


def open_page(page, path: Path) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(path.as_uri())
    page.locator(".if-token").first.wait_for(timeout=15_000)
    return errors


def test_noise_draws_no_arc_and_says_so(dampen_nothing, page, artifacts):
    """The alpha = 1 case draws no arc at all, the drawing and the legend say why, the SVG download too."""
    widget, path = dampen_nothing
    graph = widget.wait()
    assert len(graph.edges) == 105 and max(abs(e.effect) for e in graph.edges) < 1e-4
    errors = open_page(page, path)
    root = page.locator(".if-root")
    assert root.locator(".if-arc").count() == 0
    note = root.locator(".if-canvas svg .if-drawing-note")
    assert re.fullmatch(r"No edge changes the metric measurably \(all \|effect\| < [0-9.e+-]+\)", note.text_content())
    assert "not drawn: |effect| <" in root.locator(".if-legend").text_content()
    assert "105 edges measured, 0 shown" in root.locator(".if-header").text_content()
    # The note lies inside the drawing (not cut off), above the strip.
    note_box, svg_box = note.bounding_box(), root.locator(".if-canvas svg").bounding_box()
    assert note_box["x"] + note_box["width"] <= svg_box["x"] + svg_box["width"] + 1
    root.screenshot(path=artifacts / "meaning-noise.png")

    with page.expect_download() as download:
        root.locator("button", has_text="SVG").click()
    svg = Path(download.value.path()).read_text(encoding="utf-8")
    assert "No edge changes the metric measurably" in svg and 'class="if-arc"' not in svg
    assert errors == []


def test_saved_page_disables_what_needs_a_kernel(dampen_nothing, zero, page, artifacts):
    """Recomputing controls are disabled with a reason; top k and the threshold filter stay live."""
    _, path = zero
    errors = open_page(page, path)
    root = page.locator(".if-root")
    assert "if-offline" in root.get_attribute("class")
    for name in KERNEL_CONTROLS:
        control = root.locator(f"[data-trait='{name}']")
        assert control.is_disabled(), name
        assert control.get_attribute("title") == OFFLINE_TITLE
    for name in ("top_k", "threshold"):  # a full graph filters in the page
        assert root.locator(f"[data-trait='{name}']").is_enabled(), name
    assert root.locator(".if-arc").count() == 8
    root.locator("input[data-trait='top_k']").fill("3")
    root.locator("input[data-trait='top_k']").dispatch_event("change")
    assert root.locator(".if-arc").count() == 3
    root.screenshot(path=artifacts / "meaning-saved-controls.png")

    # A page of Dampen: alpha shows the saved graph's 1, as the header does (its provenance), and cannot move.
    page.goto(dampen_nothing[1].as_uri())
    page.locator(".if-token").first.wait_for()
    alpha = root.locator("input[data-trait='alpha']")
    assert alpha.is_disabled() and float(alpha.input_value()) == 1.0
    assert "alpha = 1 " in root.locator(".if-header").text_content()
    assert root.locator(".if-alpha output").text_content() == "1.00"
    assert errors == []


def test_tooltips_name_tokens_in_words(zero, page, artifacts):
    """A token edge's tooltip names its ends by position and text, never by slice."""
    widget, path = zero
    tokens = widget.wait().tokens
    open_page(page, path)
    root = page.locator(".if-root")
    arcs = root.locator(".if-arc")
    for i in range(arcs.count()):
        arc = arcs.nth(i)
        arc.dispatch_event("mouseover", {"clientX": 400, "clientY": 200})
        text = root.locator(".if-tooltip").text_content()
        assert not SLICE.search(text), text
        source = int(arc.get_attribute("data-source").split(":")[0])
        assert f"source{source} {tokens[source]}" in text
        assert not SLICE.search(arc.get_attribute("aria-label"))
        if i == 0:
            root.screenshot(path=artifacts / "meaning-tooltip.png")
        arc.dispatch_event("mouseout")


def test_legend_explains_marks_and_the_first_position(page, artifacts, tmp_path):
    """The legend explains the strip's whitespace marks; strongest arcs from position 0 get the sink note."""
    from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node

    tokens = ["The", " Eiffel", " Tower", " is", " located", " in", " the", " city", " of"]
    nodes = [Node(i, i + 1) for i in range(len(tokens))]
    # The first position sends the strongest effects, as an attention sink knocked out does.
    edges = [Edge(j, i, (2.0 if j == 0 and i > 0 else 0.1) * (1 + (i * j) % 3) * (-1) ** (i + j))
             for i in range(len(tokens)) for j in range(i + 1)]  # fmt: skip
    provenance = {"metric": "logit(' Paris') - logit(' London')", "intervention_text": "zero pattern",
                  "intervention": {"kind": "zero"}, "strategy": {"name": "full"}}  # fmt: skip
    graph = FlowGraph(
        tokens, nodes, edges, 5.0, provenance, {"forward_passes": 1, "interventions": len(edges), "seconds": 0.1}
    )
    path = graph.save(tmp_path / "sink.html")
    errors = open_page(page, path)
    root = page.locator(".if-root").first
    assert root.locator(".if-marks").text_content() == "in tokens: · a space"
    sink = root.locator(".if-note[data-kind='sink']")
    assert "attention sink" in sink.text_content() and "hemorrhage" in sink.text_content()
    strongest = root.locator(".if-arc[data-rank='1']")
    strongest.dispatch_event("mouseover", {"clientX": 300, "clientY": 150})
    tip = root.locator(".if-tooltip").text_content()
    assert "source0 The" in tip and "attention sink" in tip and not SLICE.search(tip)
    root.screenshot(path=artifacts / "meaning-sink-note.png")
    assert errors == []


# The built front end over a stand-in model the test can reach (window.model): the test plays the kernel.
KERNEL_PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><style>body {{ margin: 16px; }} {css}</style></head>
<body><div id="infoflow"></div>
<script type="module">
const source = {esm};
const values = {state};
const handlers = new Map();
window.sent = [];
window.model = {{
  get: (name) => values[name],
  set(name, value) {{ values[name] = value; window.model.emit(`change:${{name}}`); }},
  save_changes() {{}},
  send(message) {{ window.sent.push(message); }},
  on(event, fn) {{ if (!handlers.has(event)) handlers.set(event, new Set()); handlers.get(event).add(fn); }},
  off(event, fn) {{ handlers.get(event)?.delete(fn); }},
  emit(event, ...args) {{ for (const fn of [...(handlers.get(event) ?? [])]) fn(...args); }},
}};
const url = URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }}));
(await import(url)).default.render({{ model: window.model, el: document.getElementById("infoflow") }});
</script></body></html>"""


def kernel_page(widget, path: Path) -> Path:
    """A page of ``widget``'s state whose model the test drives as a kernel would (no ``_offline``: a live view)."""
    static = REPO / "infoflow_widget" / "static"
    state = {name: value for name, value in widget.get_state().items() if not name.startswith("_")}
    script = lambda value: json.dumps(value, default=str).replace("<", "\\u003c")  # noqa: E731
    page = KERNEL_PAGE.format(css=(static / "widget.css").read_text(), esm=script((static / "widget.js").read_text()),
                              state=script(state))  # fmt: skip
    path.write_text(page, encoding="utf-8")
    return path


def test_a_pin_goes_with_its_graph(zero, tiny, page, artifacts, tmp_path):
    """A pin shows as a removable chip, and a new graph or a drill-down clears it."""
    widget, saved = zero
    # In a saved page: pin, see the chip, remove it.
    open_page(page, saved)
    root = page.locator(".if-root")
    chip = root.locator(".if-pin")
    assert chip.is_hidden()
    root.locator(".if-token[data-pos='3']").click()
    assert chip.is_visible() and chip.locator(".if-pin-label").text_content() == "pinned: token 3 john"
    assert root.locator("svg.if-focus").count() == 1
    page.mouse.move(5, 5)
    root.screenshot(path=artifacts / "meaning-pin-chip.png")
    chip.locator("button").click()
    assert chip.is_hidden() and root.locator("svg.if-focus").count() == 0

    # Live: a new graph arrives while a token is pinned (the test sends what the kernel would).
    other, search = computed(tiny, intervention="crop", top_k=8), computed(tiny, strategy="bisect", top_k=8)
    crop_graph, span_graph = other.graph, search.graph
    other.close()
    search.close()
    errors = open_page(page, kernel_page(widget, tmp_path / "live.html"))
    root.locator(".if-token[data-pos='3']").click()
    page.mouse.move(5, 5)  # a hovered token is highlighted whatever is pinned
    assert page.evaluate("model.get('selected')") == 3 and root.locator("svg.if-focus").count() == 1
    page.evaluate("graph => model.set('graph', graph)", crop_graph)
    assert page.evaluate("model.get('selected')") is None
    assert chip.is_hidden() and root.locator("svg.if-focus").count() == 0
    assert "crop" in root.locator(".if-header").text_content()
    root.screenshot(path=artifacts / "meaning-pin-cleared.png")

    # A drill-down answered while a token is pinned.
    page.evaluate("graph => model.set('graph', graph)", span_graph)
    span_index = page.evaluate(
        "() => [...document.querySelectorAll('.if-arc')].findIndex(a => {"
        " const [s, e] = a.dataset.source.split(':'), [t, f] = a.dataset.target.split(':');"
        " return e - s > 1 || f - t > 1; })"
    )
    assert span_index >= 0, "bisect drew a span arc"
    root.locator(".if-token[data-pos='2']").click()
    assert chip.is_visible()
    root.locator(".if-arc").nth(span_index).dispatch_event("click")
    request = page.evaluate("window.sent.at(-1)")
    assert request["type"] == "expand"
    page.evaluate(
        "([request, graph]) => model.emit('msg:custom', {type: 'expanded', level: 0, request: request.request, graph})",
        [request, widget.graph],
    )
    assert root.locator("button", has_text="back").is_visible()
    assert page.evaluate("model.get('selected')") is None and chip.is_hidden()
    assert errors == []


def test_controls_keep_their_places(zero, page, artifacts, tmp_path):
    """The alpha field and the estimates line keep their room: nothing below them moves when they appear."""
    widget, _ = zero
    open_page(page, kernel_page(widget, tmp_path / "live.html"))
    root = page.locator(".if-root")
    place = lambda selector: root.locator(selector).bounding_box()  # noqa: E731
    before = {s: place(s) for s in ("[data-trait='strategy']", ".if-toolbar", ".if-canvas")}
    assert root.locator(".if-alpha").is_hidden()
    page.evaluate("model.set('intervention', 'dampen')")
    assert root.locator(".if-alpha").is_visible()
    estimate = {**widget.graph, "edges": [{**e, "exact": False} for e in widget.graph["edges"]]}
    page.evaluate("graph => model.set('graph', graph)", estimate)
    assert "first-order estimate" in root.locator(".if-estimate").text_content()
    after = {s: place(s) for s in before}
    for selector in before:
        assert after[selector]["x"] == before[selector]["x"] and after[selector]["y"] == before[selector]["y"], selector
    root.screenshot(path=artifacts / "meaning-reserved-room.png")


@pytest.mark.slow
def test_float_noise_on_a_real_prompt_draws_no_arc_on_smollm2(smollm, page, artifacts, tmp_path):
    """The noise case on a real model: 'The Eiffel Tower is located in the city of', ' Paris' vs ' London', Dampen
    with alpha = 1: float32 noise of about 1e-6 on every edge, which the widget once drew as 55 thick arcs."""
    from infoflow_widget import InfoFlowWidget

    widget = InfoFlowWidget(smollm, "The Eiffel Tower is located in the city of", answer=" Paris", distractor=" London",
                            intervention="dampen", alpha=1.0, top_k=None)  # fmt: skip
    try:
        graph = widget.wait(timeout=300)
        path = widget.save_html(tmp_path / "eiffel.html")
    finally:
        widget.close()
    assert max(abs(e.effect) for e in graph.edges) < 1e-4 * max(1.0, abs(graph.clean_metric))
    errors = open_page(page, path)
    root = page.locator(".if-root")
    assert root.locator(".if-arc").count() == 0
    assert root.locator(".if-drawing-note").text_content().startswith("No edge changes the metric measurably")
    assert "in tokens: · a space" in root.locator(".if-legend").text_content()
    root.screenshot(path=artifacts / "meaning-eiffel-noise.png")
    assert errors == []


@pytest.mark.slow
def test_control_characters_export_as_well_formed_svg_and_png(smollm, page, artifacts, tmp_path):
    """A prompt with ESC, NUL and BEL (pasted ANSI colours) draws, and its SVG download is
    well-formed XML (the characters shown by their codes, <0x1B>) and its PNG download succeeds."""
    import xml.etree.ElementTree as ET

    from infoflow_widget import InfoFlowWidget

    widget = InfoFlowWidget(smollm, "Mary\x1b[31m\x00\x07 told", answer=" the", distractor=" a", strategy="attribution")
    try:
        widget.wait(timeout=300)
        path = widget.save_html(tmp_path / "controls.html")
    finally:
        widget.close()
    errors = open_page(page, path)
    root = page.locator(".if-root")
    assert root.locator(".if-arc").count() > 0
    assert "<0x1B>" in root.locator(".if-canvas").first.text_content()
    with page.expect_download() as download:
        root.locator("button", has_text="SVG").click()
    svg = Path(download.value.path()).read_text(encoding="utf-8")
    ET.fromstring(svg)  # raises on a character XML cannot hold
    assert "&lt;0x1B&gt;" in svg and "\x1b" not in svg and "\x00" not in svg
    with page.expect_download() as download:
        root.locator("button", has_text="PNG").click()
    assert Path(download.value.path()).read_bytes().startswith(b"\x89PNG")
    assert root.locator(".if-error").text_content().strip() == ""
    root.screenshot(path=artifacts / "controls-export.png")
    assert errors == []
