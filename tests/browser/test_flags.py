"""Trust flags in the widget, in Chromium, on a saved page (:meth:`FlowGraph.save` to ``.html``).

The graph is written by hand: its strongest arcs leave the first position (an attention sink), and edges carry
``sink``, ``damage`` and ``inconsistent`` flags with their damage and spread, as the engine and a consensus graph
set them. Flagged arcs must have a dotted outline (inconsistent ones faded), the tooltip must say why, the toolbar's
"hide flagged (N)" box must hide them with the right count, and the legend must explain the outline. Screenshots go
to ``test-artifacts/flags.png`` (light) and ``test-artifacts/flags-dark.png`` (JupyterLab's dark theme variables).
"""

from __future__ import annotations

import xml.etree.ElementTree as ET
from pathlib import Path

import pytest

pytest.importorskip("playwright")
pytestmark = pytest.mark.browser

FLAGGED_TEXT = "flagged: may be damage rather than a route (hover for why)"
FADED_TEXT = "faded: sign differs between interventions"
TOP_K = 10  # what FlowGraph.save draws by default
SVG = "{http://www.w3.org/2000/svg}"

# JupyterLab's dark theme, as far as the widget reads it (see widget.css).
DARK = """.if-root { --jp-layout-color0: #111111; --jp-layout-color1: #212121; --jp-layout-color2: #424242;
  --jp-ui-font-color0: rgba(255,255,255,1); --jp-ui-font-color2: rgba(255,255,255,0.54); --jp-border-color2: #424242; }
body { background: #111111 !important; }"""


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1200, "height": 900}, "accept_downloads": True}


def flagged_graph():
    """The Eiffel prompt, every token pair; the first position sends the strongest effects and is flagged a sink."""
    from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node

    tokens = ["<s>", "The", " Eiffel", " Tower", " is", " located", " in", " the", " city", " of"]
    nodes = [Node(i, i + 1) for i in range(len(tokens))]
    edges = []
    for i in range(len(tokens)):
        for j in range(i + 1):
            size = (2.0 if i in (4, 7, 9) else 0.05) if j == 0 and i > 0 else 0.1 * (1 + (i * j) % 5)
            effect = size * (-1) ** (i + j) / (1 + 0.1 * i)
            flags: tuple[str, ...] = ()
            if j == 0 and i > 0:  # every edge from the sink
                flags = ("sink", "damage") if i == 9 else ("sink",)
            elif (j, i) == (1, 4):
                flags = ("damage",)
            elif (j, i) in ((4, 6), (2, 7), (3, 8)):  # ranks 7, 9 and 12
                flags = ("inconsistent",)
            extra = {"damage": 2.3 if "damage" in flags else 0.02 * abs(effect), "effect_std": 0.31 if i == 9 else None}
            edges.append(Edge(j, i, effect, flags=flags, **extra))
    provenance = {"metric": "logit(' Paris') - logit(' London')", "intervention_text": "zero pattern",
                  "intervention": {"kind": "zero"}, "strategy": {"name": "full"}}  # fmt: skip
    stats = {"forward_passes": 2, "interventions": len(edges), "seconds": 0.1,
             "sinks": {"positions": [0], "share": [0.58], "strongest_other": [7, 0.09], "excess": 0.2}}  # fmt: skip
    return FlowGraph(tokens, nodes, edges, 5.0, provenance, stats)


@pytest.fixture(scope="module")
def saved(tmp_path_factory):
    graph = flagged_graph()
    return graph, graph.save(tmp_path_factory.mktemp("flags") / "flags.html")


def open_page(page, path: Path) -> list[str]:
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(path.as_uri())
    page.locator(".if-token").first.wait_for(timeout=15_000)
    return errors


def hover(root, arc):
    arc.dispatch_event("mouseover", {"clientX": 560, "clientY": 215})  # the tooltip lands right of the arcs
    return root.locator(".if-tooltip").text_content()


def flagged_among(graph, k: int) -> int:
    return sum(1 for e in graph.top(k).edges if e.flags)


def test_flagged_arcs_outlined_explained_and_hidden(saved, page, artifacts):
    graph, path = saved
    errors = open_page(page, path)
    root = page.locator(".if-root").first
    arcs, outlines = root.locator(".if-arc"), root.locator(".if-flag-outline")
    n = flagged_among(graph, TOP_K)
    assert 3 <= n < TOP_K and flagged_among(graph, 20) > n

    # Each flagged arc lies on its own dotted outline: same path, wider, dotted, no arrowhead; the arc keeps its own.
    assert arcs.count() == TOP_K and outlines.count() == n
    pairs = page.evaluate(
        """() => [...document.querySelectorAll('.if-arc[data-flags]')].map(arc => {
             const under = arc.previousElementSibling;
             return { flags: arc.dataset.flags, outline: under.classList.contains('if-flag-outline'),
                      same: under.getAttribute('d') === arc.getAttribute('d'),
                      wider: Number(under.getAttribute('stroke-width')) > Number(arc.getAttribute('stroke-width')),
                      dotted: under.getAttribute('stroke-dasharray'), marker: under.getAttribute('marker-end'),
                      arrow: arc.getAttribute('marker-end'),
                      opacity: Number(getComputedStyle(arc).strokeOpacity) }; })"""
    )
    assert len(pairs) == n
    for p in pairs:
        assert p["outline"] and p["same"] and p["wider"] and p["dotted"] and p["marker"] is None, p
        assert p["arrow"].startswith("url(#"), p
    inconsistent = [p["opacity"] for p in pairs if "inconsistent" in p["flags"]]
    others = page.evaluate(
        "() => [...document.querySelectorAll('.if-arc:not([data-flags])')]"
        ".map(a => Number(getComputedStyle(a).strokeOpacity))"
    )
    assert inconsistent and max(inconsistent) < min(others), "inconsistent arcs are faded"

    # The tooltip says why, one line per flag, with the damage and the spread.
    tip = hover(root, root.locator(".if-arc[data-flags='sink damage']"))
    assert "source is an attention sink (receives 58% of attention): cutting it tends to break the model" in tip
    assert "hemorrhage" in tip and "damage 2.3 nats: far above edges of similar effect" in tip
    assert "± 0.31 over corrupted samples" in tip and "2.3 nats (KL of the next-token distribution)" in tip
    assert root.locator(".if-tooltip .if-flags").count() == 2
    root.locator(".if-arc[data-flags='sink damage']").dispatch_event("mouseout")
    inconsistent_arc = root.locator(".if-arc[data-flags='inconsistent']").first
    assert "sign differs between interventions" in hover(root, inconsistent_arc)
    inconsistent_arc.dispatch_event("mouseout")

    # The legend explains the outline; the notes point at the flags.
    legend = root.locator(".if-legend")
    assert legend.locator(".if-flagged").text_content().strip() == FLAGGED_TEXT
    assert legend.locator(".if-flagged svg path[stroke-dasharray='1.5 2.5']").count() == 1  # the dotted outline
    assert "dotted outline" in root.locator(".if-note[data-kind='flags']").text_content()
    assert "flagged “sink”" in root.locator(".if-note[data-kind='sink']").text_content()
    tip_arc = root.locator(".if-arc[data-flags='sink damage']")
    hover(root, tip_arc)
    root.screenshot(path=artifacts / "flags.png")
    tip_arc.dispatch_event("mouseout")

    # The SVG download keeps the outlines and their masks, well-formed.
    with page.expect_download() as download:
        root.locator("button", has_text="SVG").click()
    svg = ET.fromstring(Path(download.value.path()).read_text(encoding="utf-8"))
    outlines_saved = [el for el in svg.iter(f"{SVG}path") if el.get("class") == "if-flag-outline"]
    assert len(outlines_saved) == n and len(list(svg.iter(f"{SVG}mask"))) == n

    # "hide flagged (N)" hides exactly the flagged arcs, in the page (no kernel), and counts them.
    box = root.locator(".if-toolbar .if-hide-flagged")
    assert box.is_visible() and box.text_content().strip() == f"hide flagged ({n})"
    box.locator("input").check()
    assert arcs.count() == TOP_K - n and outlines.count() == 0
    assert root.locator(".if-arc[data-flags]").count() == 0
    assert f"not drawn: {n} flagged arcs (hide flagged)" in legend.text_content()
    assert legend.locator(".if-flagged").count() == 0
    root.screenshot(path=artifacts / "flags-hidden.png")
    top_k = root.locator("input[data-trait='top_k']")
    top_k.fill("20")
    top_k.dispatch_event("change")
    m = flagged_among(graph, 20)
    assert box.text_content().strip() == f"hide flagged ({m})" and arcs.count() == 20 - m
    box.locator("input").uncheck()
    assert arcs.count() == 20 and outlines.count() == m
    assert errors == []


def test_flags_in_the_dark_theme(saved, page, artifacts):
    """The outline takes the theme's text colour: light on JupyterLab's dark background."""
    _, path = saved
    open_page(page, path)
    page.add_style_tag(content=DARK)
    root = page.locator(".if-root").first
    background = page.evaluate("() => getComputedStyle(document.querySelector('.if-root')).backgroundColor")
    assert background == "rgb(17, 17, 17)"
    stroke = page.evaluate("() => getComputedStyle(document.querySelector('.if-flag-outline')).stroke")
    assert stroke == "rgb(255, 255, 255)"  # the theme's text colour (style.json's flags.color is currentColor)
    hover(root, root.locator(".if-arc[data-flags='sink damage']"))
    root.screenshot(path=artifacts / "flags-dark.png")


def test_a_graph_without_flags_offers_no_box(page, tmp_path):
    from dataclasses import replace

    graph = flagged_graph()
    plain = replace(graph, edges=[replace(e, flags=()) for e in graph.edges])
    open_page(page, plain.save(tmp_path / "plain.html"))
    root = page.locator(".if-root").first
    assert root.locator(".if-hide-flagged").is_hidden()
    assert root.locator(".if-flag-outline").count() == 0 and root.locator(".if-legend .if-flagged").count() == 0
