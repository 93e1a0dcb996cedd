"""The Python static drawing (infoflow_widget.widget.drawing) draws what the front end draws: same boxes, arcs, styles.

The front end's own drawFlow runs in Node on jsdom (bundled from js/src by esbuild), the Python port on
the same graphs; every token box, bracket and arc must match: one drawing, two places it can run.
"""

from __future__ import annotations

import json
import math
import os
import shutil
import subprocess
import xml.etree.ElementTree as ET
from pathlib import Path
from typing import Any

import pytest

from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node
from infoflow_widget.widget.drawing import (
    FADED_TEXT,
    FLAGGED_TEXT,
    draw_svg,
    format_effect,
    format_magnitude,
    frame,
    noise_note,
    scale_text,
    static_html,
    to_precision,
)
from infoflow_widget.widget.requests import json_safe

ROOT = Path(__file__).resolve().parents[2]
JS = ROOT / "js"
ESBUILD = JS / "node_modules" / ".bin" / "esbuild"
SVG = "{http://www.w3.org/2000/svg}"

NEEDS = "needs node and js/node_modules (npm --prefix js ci)"
TOOLS_MISSING = shutil.which("node") is None or not ESBUILD.exists() or not (JS / "node_modules" / "jsdom").is_dir()
# CI (.ci/run: `make test` installs js/node_modules first) must run this test: there a missing tool is a failure.
IN_CI = os.environ.get("CI", "").strip().lower() not in ("", "0", "false", "no")

# Reads a request {cases: [{graph, threshold, topK}], numbers} on stdin; draws each graph as a view of the widget
# does (frameOf picks the edges and their scale, drawFlow draws them), and prints what was drawn.
ENTRY = """
import { createRequire } from "module";
import { frameOf } from "@src/context.js";
import { formatEffect, formatMagnitude, readGraph } from "@src/format.js";
import { FADED_TEXT, FLAGGED_TEXT } from "@src/flags.js";
import { noiseNote } from "@src/panels/drawing.js";
import { scaleText } from "@src/panels/legend.js";
import { drawFlow } from "@src/svg/flow.js";
const require = createRequire(process.env.JS_PACKAGE);
const { JSDOM } = require("jsdom");
const { window } = new JSDOM("<!doctype html><body></body>");
Object.assign(globalThis, { document: window.document, window });
const input = JSON.parse(require("fs").readFileSync(0, "utf8"));
const ARC_ATTRIBUTES = ["d", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray", "data-index",
  "data-rank", "data-source", "data-target", "data-flags"];
const OUTLINE_ATTRIBUTES = ["d", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray", "fill",
  "pointer-events", "data-index", "data-source", "data-target"];
const out = [];
for (const { graph, threshold, topK } of input.cases) {
  const traits = { threshold, top_k: topK, selected: null };
  const view = { graph: readGraph(graph), drilled: [], zoom: 1, wrap: false, threshold: null };
  const frame = frameOf({ model: { get: (name) => traits[name] }, view });
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  const note = frame.allNoise ? noiseNote(frame.noiseFloor) : null;
  drawFlow(svg, view.graph, { edges: frame.edges, maxAbs: frame.maxAbs, zoom: 1, wrapWidth: null, note });
  const attrs = (el, names) => Object.fromEntries(names.map((n) => [n, el.getAttribute(n)]));
  const text = (el) => [el.textContent, el.getAttribute("x"), el.getAttribute("y")];
  out.push({
    frame: { maxAbs: frame.maxAbs, basis: frame.scale.basis, noiseFloor: frame.noiseFloor, belowNoise: frame.belowNoise,
             allNoise: frame.allNoise, flagged: frame.flagged, scaleText: scaleText(frame.scale), note },
    svg: attrs(svg, ["width", "height", "viewBox"]),
    rects: [...svg.querySelectorAll(".if-token rect")].map((el) => attrs(el, ["x", "y", "width", "height"])),
    labels: [...svg.querySelectorAll(".if-token text")].map(text),
    brackets: [...svg.querySelectorAll(".if-bracket path")].map((el) => el.getAttribute("d")),
    bracketLabels: [...svg.querySelectorAll(".if-bracket text")].map(text),
    arcs: [...svg.querySelectorAll(".if-arc")].map((el) => attrs(el, ARC_ATTRIBUTES)),
    // Each arc with what lies right under it: its flag outline, or another arc.
    layers: [...svg.querySelectorAll(".if-arcs > *")].map((el) => el.getAttribute("class")),
    outlines: [...svg.querySelectorAll(".if-flag-outline")].map((el) => attrs(el, OUTLINE_ATTRIBUTES)),
    // The mask of each outline (where its arc lies), by the edge index its id ends with.
    masks: [...svg.querySelectorAll("mask")].map((el) => [el.id.split("-flag-")[1], el.getAttribute("width"),
      el.getAttribute("height"), el.querySelector("path").getAttribute("d"),
      el.querySelector("path").getAttribute("stroke-width"),
      [...svg.querySelectorAll(`[mask="url(#${el.id})"]`)].map((o) => o.dataset.index)]),
  });
}
out.push({
  formatted: input.numbers.map(formatEffect),
  precision: input.numbers.map((x) => x.toPrecision(3)),
  magnitude: input.numbers.map((x) => formatMagnitude(Math.abs(x))),
  texts: [FLAGGED_TEXT, FADED_TEXT],
});
console.log(JSON.stringify(out));
"""


def graph(
    effects: list[float],
    exact: list[bool] | None = None,
    clean: float = -0.5,
    flags: dict[int, tuple[str, ...]] | None = None,
    **stats: Any,
) -> FlowGraph:
    tokens = ["The", " quick", "\n", "\t", "<b>", " supercalifragilistic", "", "é", " x", " Mary", " John", "."]
    nodes = [Node(i, i + 1) for i in range(len(tokens))] + [Node(0, 4), Node(1, 3), Node(4, 12), Node(5, 9)]
    pairs = [(0, 1), (1, 3), (2, 2), (12, 4), (3, 11), (13, 14), (0, 11), (5, 9), (14, 15), (6, 6), (9, 10), (4, 5)]
    exact = exact or [True] * len(pairs)
    flags = flags or {}
    edges = [
        Edge(s, t, e, exact=x, flags=flags.get(i, ()), damage=2.3 if i in flags else None)
        for i, ((s, t), e, x) in enumerate(zip(pairs, effects, exact, strict=True))
    ]
    return FlowGraph(tokens, nodes, edges, clean, {"metric": "m", "intervention_text": "zero"}, dict(stats))


# Trust flags by edge index: a dotted outline under each, inconsistent arcs faded; one estimate among them.
FLAGS = {0: ("sink",), 1: ("damage",), 6: ("sink", "damage", "inconsistent"), 8: ("inconsistent",), 3: ("damage",)}
SINKS = {"positions": [0], "share": [0.58], "strongest_other": [9, 0.09], "excess": 0.2}


EFFECTS = [0.5, -0.75, 0.25, 0.1, -0.05, 0.3, -0.9, 0.02, 0.6, -0.01, 1e-4, 0.45]
CASES = [
    (graph(EFFECTS), 0.0, 10),
    (graph(EFFECTS), 0.2, None),
    (graph([math.nan, math.inf, -math.inf, 0.1, -0.05, 0.3, 0.3, 0.0, -0.6, 2.5, 1e-7, 0.45]), 0.0, None),
    (graph(EFFECTS, [True, False] * 6), 0.0, 4),
    (graph(EFFECTS, clean=3.0), 0.0, None),  # widths against the clean metric
    (graph(EFFECTS, clean=0.0, noise_floor=0.02), 0.0, None),  # the engine's noise floor hides three edges
    (graph([1e-6] * 12), 0.0, 3),  # all noise: no arc, and a note
    (graph(EFFECTS, flags=FLAGS, sinks=SINKS), 0.0, None),  # flagged arcs: outlines, inconsistent ones faded
    (graph(EFFECTS, [True, False] * 6, clean=3.0, flags=FLAGS), 0.0, 6),  # flagged, estimated, under top-k
]
NUMBERS = [0.5, -0.75, 1e-4, -2.5e-7, 123456.0, 0.0, 12.3456, 9.99951, -0.000999, 1e21, 1.5e-3]


def python_drawing(g: FlowGraph, threshold: float, top_k: int | None) -> dict:
    shown = frame(g, threshold, top_k)
    note = noise_note(shown["noise_floor"]) if shown["all_noise"] else None
    root = ET.fromstring(draw_svg(g, shown["edges"], shown["max_abs"], note, shown["ranks"]))
    attrs = lambda el, names: {n: el.get(n) for n in names}  # noqa: E731
    tokens = [el for el in root.iter(f"{SVG}g") if el.get("class") == "if-token"]
    brackets = [el for el in root.iter(f"{SVG}g") if el.get("class") == "if-bracket"]
    arc_attrs = ["d", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray"]
    arc_attrs += ["data-index", "data-rank", "data-source", "data-target", "data-flags"]
    outline_attrs = ["d", "stroke", "stroke-width", "stroke-opacity", "stroke-dasharray", "fill", "pointer-events"]
    outline_attrs += ["data-index", "data-source", "data-target"]
    arcs = next(el for el in root.iter(f"{SVG}g") if el.get("class") == "if-arcs")
    drawn_note = next((el.text for el in root.iter(f"{SVG}text") if el.get("class") == "if-drawing-note"), None)
    assert drawn_note == note
    return {
        "frame": {
            "maxAbs": shown["max_abs"],
            "basis": shown["basis"],
            "noiseFloor": shown["noise_floor"],
            "belowNoise": shown["below_noise"],
            "allNoise": shown["all_noise"],
            "flagged": shown["flagged"],
            "scaleText": scale_text(shown["max_abs"], shown["basis"]),
            "note": note,
        },
        "svg": attrs(root, ["width", "height", "viewBox"]),
        "rects": [attrs(el.find(f"{SVG}rect"), ["x", "y", "width", "height"]) for el in tokens],
        "labels": [[t.text or "", t.get("x"), t.get("y")] for el in tokens for t in el.findall(f"{SVG}text")],
        "brackets": [el.find(f"{SVG}path").get("d") for el in brackets],
        "bracketLabels": [[t.text, t.get("x"), t.get("y")] for el in brackets for t in el.findall(f"{SVG}text")],
        "arcs": [attrs(el, arc_attrs) for el in root.iter(f"{SVG}path") if el.get("class") == "if-arc"],
        "layers": [el.get("class") for el in arcs],
        "outlines": [attrs(el, outline_attrs) for el in arcs if el.get("class") == "if-flag-outline"],
        "masks": [
            [
                el.get("id").split("-flag-")[1],
                el.get("width"),
                el.get("height"),
                el.find(f"{SVG}path").get("d"),
                el.find(f"{SVG}path").get("stroke-width"),
                [o.get("data-index") for o in arcs if o.get("mask") == f"url(#{el.get('id')})"],
            ]
            for el in root.iter(f"{SVG}mask")
        ],
    }


@pytest.fixture(scope="module")
def front_end(tmp_path_factory):
    if TOOLS_MISSING:
        if IN_CI:
            pytest.fail(f"CI={os.environ['CI']} and the parity test {NEEDS}", pytrace=False)
        pytest.skip(NEEDS)
    folder = tmp_path_factory.mktemp("parity")
    (folder / "entry.mjs").write_text(ENTRY, encoding="utf-8")
    bundle = folder / "draw.mjs"
    subprocess.run(
        [str(ESBUILD), str(folder / "entry.mjs"), "--bundle", "--format=esm", "--platform=node", f"--outfile={bundle}",
         f"--alias:@src={JS / 'src'}", "--external:jsdom", "--log-level=warning"],
        check=True, cwd=JS,
    )  # fmt: skip
    request = {
        "cases": [{"graph": json_safe(g.to_dict()), "threshold": t, "topK": k} for g, t, k in CASES],
        "numbers": NUMBERS,
    }
    result = subprocess.run(
        ["node", str(bundle)], input=json.dumps(request), capture_output=True, text=True, check=True,
        env={**os.environ, "JS_PACKAGE": str(JS / "package.json")},
    )  # fmt: skip
    return json.loads(result.stdout)


@pytest.mark.parametrize("case", range(len(CASES)))
def test_the_python_drawing_matches_the_front_end(front_end, case):
    g, threshold, top_k = CASES[case]
    python, js = python_drawing(g, threshold, top_k), front_end[case]
    assert js["arcs"] or js["frame"]["allNoise"], "the front end drew arcs"
    parts = ("frame", "svg", "rects", "labels", "brackets", "bracketLabels", "arcs", "layers", "outlines", "masks")
    for part in parts:
        assert python[part] == js[part], part


def test_numbers_read_as_in_the_front_end(front_end):
    numbers = front_end[-1]
    assert [format_effect(x) for x in NUMBERS] == numbers["formatted"]
    assert [to_precision(x, 3) for x in NUMBERS] == numbers["precision"]
    assert [format_magnitude(abs(x)) for x in NUMBERS] == numbers["magnitude"]


def test_flagged_arcs_are_outlined_and_explained_in_both(front_end):
    """The flag cases draw outlines (one per flagged arc drawn), fade inconsistent arcs, and the legend
    words are the front end's; the static drawing's legend and arc titles say why."""
    flagged = CASES.index(next(c for c in CASES if c[0].edges[6].flags))
    js = front_end[flagged]
    assert len(js["outlines"]) == len(js["masks"]) == js["frame"]["flagged"] == 5
    assert all(mask[-1] == [mask[0]] for mask in js["masks"])  # each outline masked by its own arc
    assert sorted(a["data-flags"] for a in js["arcs"] if a["data-flags"]) == [
        "damage", "damage", "inconsistent", "sink", "sink damage inconsistent",
    ]  # fmt: skip
    faded = next(a for a in js["arcs"] if a["data-index"] == "6")
    assert float(faded["stroke-opacity"]) < 0.5
    assert front_end[-1]["texts"] == [FLAGGED_TEXT, FADED_TEXT]

    g = CASES[flagged][0]
    page = static_html(g)
    assert FLAGGED_TEXT in page and FADED_TEXT in page
    assert "source is an attention sink (receives 58% of attention)" in page
    assert "damage 2.3 nats: far above edges of similar effect" in page
    assert FLAGGED_TEXT not in static_html(CASES[0][0])
