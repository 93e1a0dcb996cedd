"""The anatomy panel of a selected edge, in Chromium, over a live widget.

The page renders the built front end over a stand-in model wired to a real :class:`InfoFlowWidget` in this
process (:class:`Bridge`), as a kernel's comm would: what the page saves goes to ``widget.set_state`` (an exception,
which ipywidgets would log, is kept in ``Bridge.refused``), and every synced trait the widget changes (from its
threads too) is queued and set in the page by :meth:`Bridge.pump`. So a click in the page measures in Python, and
the panel draws what Python measured. A tiny random Llama (3 layers of 4 heads) keeps it fast; the slow test draws
the IOI case on smollm2-135m and writes the screenshot ``test-artifacts/anatomy-smollm2.png``.
"""

from __future__ import annotations

import json
import queue
import struct
import time
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from .served import REPO

pytest.importorskip("playwright")
pytestmark = pytest.mark.browser

PROMPT = "when mary and john went to the store , john gave a book to"
SVG = "{http://www.w3.org/2000/svg}"

PAGE = """<!doctype html>
<html lang="en"><head><meta charset="utf-8"><style>body {{ margin: 16px; }} {css}</style></head>
<body><div id="infoflow"></div>
<script type="module">
const source = {esm};
const values = {state};
const handlers = new Map();
const dirty = new Set();
const emit = (event, ...args) => {{ for (const fn of [...(handlers.get(event) ?? [])]) fn(...args); }};
window.model = {{
  get: (name) => values[name],
  set(name, value) {{ values[name] = value; dirty.add(name); emit(`change:${{name}}`); }},
  save_changes() {{
    const changes = Object.fromEntries([...dirty].map((name) => [name, values[name]]));
    dirty.clear();
    window.kernelSet(changes);
  }},
  send(message) {{ window.kernelSend(message); }},
  on(event, fn) {{ if (!handlers.has(event)) handlers.set(event, new Set()); handlers.get(event).add(fn); }},
  off(event, fn) {{ handlers.get(event)?.delete(fn); }},
}};
// What the kernel sends: a trait's new value, without marking it to send back.
window.receive = (name, value) => {{ values[name] = value; emit(`change:${{name}}`); }};
const url = URL.createObjectURL(new Blob([source], {{ type: "text/javascript" }}));
(await import(url)).default.render({{ model: window.model, el: document.getElementById("infoflow") }});
window.rendered = true;
</script></body></html>"""


@pytest.fixture(scope="session")
def browser_context_args(browser_context_args):
    return {**browser_context_args, "viewport": {"width": 1300, "height": 1000}, "accept_downloads": True}


class Bridge:
    """A widget and a page drawing it, kept in sync as a kernel's comm keeps them."""

    def __init__(self, widget: Any, page: Any, path: Path) -> None:
        self.widget, self.page = widget, page
        self.changes: queue.Queue[tuple[str, Any]] = queue.Queue()
        self.refused: list[str] = []  # set_state failures (ipywidgets logs them)
        names = [n for n in widget.keys if not n.startswith("_") and n not in ("layout", "tabbable", "tooltip")]
        widget.observe(lambda change: self.changes.put((change["name"], change["new"])), names=names)
        page.expose_function("kernelSet", self._set)
        page.expose_function("kernelSend", lambda message: widget._handle_custom_msg(message, []))
        static = REPO / "infoflow_widget" / "static"
        state = {name: getattr(widget, name) for name in names}
        script = lambda value: json.dumps(value, default=str).replace("<", "\\u003c")  # noqa: E731
        css, esm = (static / "widget.css").read_text(), (static / "widget.js").read_text()
        path.write_text(PAGE.format(css=css, esm=script(esm), state=script(state)), encoding="utf-8")
        self.errors: list[str] = []
        page.on("pageerror", lambda err: self.errors.append(str(err)))
        page.goto(path.as_uri())
        page.wait_for_function("window.rendered === true")
        self.root = page.locator(".if-root")

    def _set(self, changes: dict[str, Any]) -> None:
        try:
            self.widget.set_state(changes)
        except Exception as err:  # noqa: BLE001 - as a comm handler: logged, the error trait tells the page
            self.refused.append(str(err))

    def pump(self) -> None:
        """Send the page every trait change queued so far, in order."""
        while True:
            try:
                name, value = self.changes.get_nowait()
            except queue.Empty:
                return
            self.page.evaluate("([name, value]) => window.receive(name, value)", [name, json.loads(json.dumps(value))])

    def until(self, condition: Any, timeout: float = 120, what: str = "the widget") -> None:
        """Pump until ``condition()`` holds."""
        deadline = time.monotonic() + timeout
        while True:
            self.pump()
            if condition():
                return
            assert time.monotonic() < deadline, f"timed out after {timeout} s waiting for {what}"
            self.page.wait_for_timeout(100)

    def anatomy_drawn(self) -> None:
        """Wait until Python measured the selected edge and the page drew it."""
        self.until(lambda: (self.widget.anatomy or {}).get("status") == "done", what="the anatomy")
        self.widget.wait(60)
        self.until(lambda: self.root.locator(".if-an-heatmap").count() == 1, what="the heatmap")


@pytest.fixture(scope="module")
def tiny():
    from conftest import make_tiny

    return make_tiny("llama")


@pytest.fixture
def live(tiny, page, tmp_path):
    from infoflow_widget import InfoFlowWidget

    widget = InfoFlowWidget(tiny, PROMPT, answer="mary", distractor="john", top_k=8)
    widget.wait(timeout=120)
    yield Bridge(widget, page, tmp_path / "live.html")
    widget.close()


def arc_of(bridge: Bridge, edge: Any):
    index = bridge.widget.graph_object.edges.index(edge)
    return bridge.root.locator(f".if-arc[data-index='{index}']")


def heads_text(anatomy: Any) -> list[str]:
    """The panel's list of the strongest heads, as the front end formats them ("L14.H3 +1.2")."""

    def short(value: float) -> str:
        text = "0" if value == 0 else (f"{value:.2g}" if abs(value) >= 1e-3 else f"{value:.1e}".replace("e-0", "e-"))
        return f"+{text}" if value > 0 else text

    return [f"L{layer}.H{head} {short(effect)}" for layer, head, effect in anatomy.top_heads(5)]


def test_click_and_enter_open_the_anatomy(live, artifacts):
    """A click on a token arc selects its edge in Python and draws layers x heads cells and the strongest heads;
    Enter on another arc moves the selection; × closes the panel."""
    graph = live.widget.graph_object
    first, second = graph.top(2).edges
    panel = live.root.locator(".if-anatomy")
    assert panel.is_hidden()
    tip = live.root.locator(".if-tooltip")
    arc_of(live, first).dispatch_event("mouseover", {"clientX": 300, "clientY": 150})
    assert "its anatomy" in tip.text_content()
    arc_of(live, first).dispatch_event("click")
    live.anatomy_drawn()
    assert live.widget.selected_edge == {"source": first.source, "target": first.target, "level": 0}
    anatomy = live.widget.anatomy_object
    assert anatomy is not None and (anatomy.sources, anatomy.targets) == ([first.source], [first.target])
    layers, heads = len(anatomy.layer_indices), len(anatomy.heads[0])
    assert live.root.locator(".if-an-heatmap rect").count() == layers * heads == 12
    assert live.root.locator(".if-an-top").all_text_contents() == heads_text(anatomy)
    assert live.root.locator(".if-an-lens[data-end='source'] .if-an-lens-token").count() == layers + 1  # and embed
    assert live.root.locator(".if-an-title").first.text_content().startswith(f"Anatomy of {first.source} ")
    assert live.root.locator(".if-arc.if-chosen").count() == 1
    assert "exact measurements" in panel.text_content()
    cell = live.root.locator(".if-an-heatmap rect[data-layer='1'][data-head='2'] title").text_content()
    assert cell.startswith("L1.H2: ") and "(exact" in cell, "hover for the number"
    assert float(cell.split()[1]) == pytest.approx(anatomy.heads[1][2], rel=1e-3, abs=1e-9)
    live.root.screenshot(path=artifacts / "anatomy-tiny.png")

    arc_of(live, second).focus()
    live.page.keyboard.press("Enter")
    live.until(lambda: live.widget.selected_edge == {"source": second.source, "target": second.target, "level": 0},
               what="the second edge selected")  # fmt: skip
    live.anatomy_drawn()
    assert live.widget.anatomy_object.targets == [second.target]
    assert live.root.locator(".if-an-top").all_text_contents() == heads_text(live.widget.anatomy_object)

    panel.locator(".if-anatomy-close").click()
    live.until(lambda: live.widget.selected_edge is None and panel.is_hidden(), what="the panel closed")
    assert live.widget.anatomy is None and live.refused == [] and live.errors == []


def test_export_carries_the_open_panel(live, tmp_path):
    edge = live.widget.graph_object.top(1).edges[0]
    page, root = live.page, live.root
    with page.expect_download() as download:
        root.locator("button", has_text="SVG").click()
    alone = ET.fromstring(Path(download.value.path()).read_text(encoding="utf-8"))
    arc_of(live, edge).dispatch_event("click")
    live.anatomy_drawn()
    with page.expect_download() as download:
        root.locator("button", has_text="SVG").click()
    both = ET.fromstring(Path(download.value.path()).read_text(encoding="utf-8"))
    parts = both.findall(f"{SVG}svg")
    assert len(parts) == 2 and "if-anatomy-svg" in parts[1].get("class")
    assert len(parts[1].findall(f".//{SVG}g[@class='if-an-heatmap']/{SVG}rect")) == 12
    assert float(both.get("height")) > float(alone.get("height")) + float(parts[1].get("height"))
    with page.expect_download() as download:
        root.locator("button", has_text="PNG").click()
    png = Path(download.value.path()).read_bytes()
    assert png.startswith(b"\x89PNG")
    width, height = struct.unpack(">II", png[16:24])
    assert height >= 2 * float(both.get("height")) - 2, "the PNG holds the drawing and the panel, at twice the size"
    assert root.locator(".if-error").text_content().strip() == "" and live.errors == []


def test_bad_selection_shows_in_the_error_box_and_a_new_graph_closes_the_panel(live):
    from infoflow_widget import InfoFlowError

    widget = live.widget
    with pytest.raises(InfoFlowError, match="not an edge of the graph on show"):
        widget.selected_edge = {"source": 5, "target": 1}  # a source after its target: no such edge
    live.until(lambda: "not an edge of the graph on show" in live.root.locator(".if-error").text_content(),
               what="the error box")  # fmt: skip
    assert widget.selected_edge is None and live.root.locator(".if-anatomy").is_hidden()
    with pytest.raises(InfoFlowError, match="selected_edge must be None or a dict"):
        widget.selected_edge = {"from": 1}

    edge = widget.graph_object.top(1).edges[0]
    widget.selected_edge = {"source": edge.source, "target": edge.target}  # from Python: the panel opens too
    live.anatomy_drawn()
    assert live.root.locator(".if-error").is_hidden()
    # From the page, an edge of no graph on show: said in the error box, the last selection sent back, its panel kept.
    live.page.evaluate("() => { model.set('selected_edge', {source: 0, target: 99, level: 0}); model.save_changes(); }")
    live.until(lambda: "not an edge of the graph on show" in live.root.locator(".if-error").text_content(),
               what="the error box")  # fmt: skip
    assert widget.selected_edge == {"source": edge.source, "target": edge.target}
    assert live.page.evaluate("model.get('selected_edge')") == widget.selected_edge
    assert live.root.locator(".if-an-heatmap rect").count() == 12 and widget.anatomy["status"] == "done"

    widget.intervention = "crop"
    widget.wait(60)
    live.until(lambda: live.root.locator(".if-anatomy").is_hidden(), what="the panel closed by a new graph")
    assert widget.selected_edge is None and widget.anatomy is None
    assert "crop" in live.root.locator(".if-header").text_content() and live.errors == []


def test_a_saved_page_keeps_working_with_an_anatomy_open(live, page, tmp_path):
    edge = live.widget.graph_object.top(1).edges[0]
    arc_of(live, edge).dispatch_event("click")
    live.anatomy_drawn()
    path = live.widget.save_html(tmp_path / "saved.html")
    errors: list[str] = []
    page.on("pageerror", lambda err: errors.append(str(err)))
    page.goto(path.as_uri())
    page.locator(".if-arc").first.wait_for(timeout=15_000)
    assert page.locator(".if-an-heatmap rect").count() == 12, "the saved state draws the panel"
    page.locator(".if-arc").nth(1).dispatch_event("click")  # no kernel: nothing to ask
    page.locator(".if-anatomy-close").click()
    assert page.locator(".if-anatomy").is_hidden() and errors == []


@pytest.mark.slow
def test_the_ioi_case_on_smollm2(smollm, ioi_case, page, artifacts, tmp_path):
    """The panel of IO -> END on smollm2-135m: 30 layers x 9 heads, within twice the time of the graph."""
    from infoflow_widget import InfoFlowWidget

    widget = InfoFlowWidget(smollm, ioi_case["prompt"], answer=ioi_case["answer"], distractor=ioi_case["distractor"],
                            top_k=10, preview_seconds=float("inf"))  # fmt: skip
    try:
        started = time.monotonic()
        graph = widget.wait(timeout=300)
        graph_seconds = time.monotonic() - started
        bridge = Bridge(widget, page, tmp_path / "ioi.html")
        mary = widget.tokens.index(ioi_case["answer"])
        edge = next(e for e in graph.edges if (e.source, e.target) == (mary, len(graph.tokens) - 1))
        started = time.monotonic()
        arc_of(bridge, edge).dispatch_event("click")
        bridge.anatomy_drawn()
        panel_seconds = time.monotonic() - started
        anatomy = widget.anatomy_object
        assert bridge.root.locator(".if-an-heatmap rect").count() == 30 * 9
        assert bridge.root.locator(".if-an-top").all_text_contents() == heads_text(anatomy)
        bridge.root.locator(".if-anatomy").scroll_into_view_if_needed()
        page.mouse.move(5, 5)
        bridge.root.screenshot(path=artifacts / "anatomy-smollm2.png")
        bridge.root.locator(".if-anatomy").screenshot(path=artifacts / "anatomy-smollm2-panel.png")
        print(f"graph {graph_seconds:.1f} s, panel {panel_seconds:.1f} s, anatomy stats {anatomy.stats}")
        assert panel_seconds <= 2 * graph_seconds + 2, (panel_seconds, graph_seconds)
        assert bridge.errors == []
    finally:
        widget.close()
