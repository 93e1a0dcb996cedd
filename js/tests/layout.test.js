import { describe, expect, it } from "vitest";
import {
  boxLabel,
  edgeFlags,
  flagText,
  formatEffect,
  formatMagnitude,
  isSpanEdge,
  labelName,
  nodeName,
  nodeRange,
  visible,
  xmlSafe,
} from "../src/format.js";
import { arcBandFor, arcBandsByRow, arcHeight, arcPath, loopPath, rowCrossingPath } from "../src/geometry/arcs.js";
import {
  aboveNoise,
  anyAboveNoise,
  edgeScale,
  edgeStyle,
  filterEdges,
  GREEN,
  maxAbsEffect,
  NOISE_RELATIVE,
  noiseFloor,
  RED,
  rankEdges,
} from "../src/geometry/edges.js";
import { bracketRows, layoutStrip, MARGIN, nodeAnchor, spanSegments } from "../src/geometry/strip.js";

const numbers = (path) => path.match(/-?\d+(\.\d+)?/g).map(Number);

describe("token display", () => {
  it("shows control characters by their codes, which XML can hold", () => {
    expect(visible("Mary\x1b[31m\x00\x07\r\x7f")).toBe("Mary<0x1B>[31m<0x00><0x07><0x0D><0x7F>");
    expect(xmlSafe('<t a="\x1b">\x00\x07\n\t\r</t>')).toBe('<t a="<0x1B>"><0x00><0x07>\n\t\r</t>');
    expect(xmlSafe("a\ud800b\ud83d\ude00")).toBe("a\ufffdb\ud83d\ude00"); // a lone surrogate goes, a pair stays
  });

  it("makes whitespace visible", () => {
    expect(visible(" Mary\n\tx")).toBe("·Mary↵⇥x");
  });
  it("cuts long tokens with an ellipsis", () => {
    expect(boxLabel("abcdefghijklmnopqrstuvwxyz", 6)).toBe("abcde…");
    expect(boxLabel(" to", 6)).toBe("·to");
  });
  it("tells span edges from token edges", () => {
    const graph = {
      nodes: [
        { start: 0, end: 1 },
        { start: 1, end: 3 },
        { start: 3, end: 4 },
      ],
    };
    expect(isSpanEdge(graph, { source: 0, target: 2 })).toBe(false);
    expect(isSpanEdge(graph, { source: 1, target: 2 })).toBe(true);
    expect(isSpanEdge(graph, { source: 0, target: 1 })).toBe(true);
  });
  it("formats effects with their sign", () => {
    expect(formatEffect(1.23456)).toBe("+1.235");
    expect(formatEffect(-0.5)).toBe("-0.5000");
    expect(formatEffect(0.00001234)).toBe("+1.23e-5");
  });
});

describe("layoutStrip", () => {
  const tokens = ["When", " Mary", " and", " John", "\n", " went"];

  it("puts boxes left to right on one row without wrapping", () => {
    const { boxes, rows } = layoutStrip(tokens, { arcBand: 50 });
    expect(rows).toBe(1);
    expect(boxes[0].x).toBe(MARGIN);
    for (let i = 1; i < boxes.length; i++) {
      expect(boxes[i].x).toBeGreaterThan(boxes[i - 1].x + boxes[i - 1].width);
      expect(boxes[i].y).toBe(50);
    }
  });

  it("sizes boxes by characters, with a minimum for whitespace tokens", () => {
    const { boxes } = layoutStrip(tokens);
    expect(boxes[1].width).toBeGreaterThan(boxes[2].width); // " Mary" is longer than " and"
    expect(boxes[4].width).toBeGreaterThan(10); // the newline still gets a clickable box
  });

  it("wraps rows at the given width and keeps every box inside it", () => {
    const many = Array.from({ length: 200 }, (_, i) => ` tok${i}`);
    const { boxes, rows, width } = layoutStrip(many, { wrapWidth: 600, arcBand: 40, belowBand: 20 });
    expect(rows).toBeGreaterThan(5);
    expect(width).toBeLessThanOrEqual(600);
    for (const b of boxes) expect(b.x + b.width).toBeLessThanOrEqual(600 - MARGIN);
    const rowHeight = 40 + 22 + 20;
    for (const b of boxes) expect(b.y).toBe(b.row * rowHeight + 40);
    for (const b of boxes) expect(b.band).toBe(40);
    // rows never go back
    for (let i = 1; i < boxes.length; i++) expect(boxes[i].row).toBeGreaterThanOrEqual(boxes[i - 1].row);
  });

  it("scales with zoom", () => {
    const one = layoutStrip(tokens, { zoom: 1 });
    const half = layoutStrip(tokens, { zoom: 0.5 });
    expect(half.width).toBeCloseTo(one.width / 2, 5);
  });

  it("keeps the 563-token code prompt within reach when zoomed out and wrapped", () => {
    const code = Array.from({ length: 563 }, (_, i) => (i % 9 === 0 ? "\n" : ` x${i}`));
    const wrapped = layoutStrip(code, { zoom: 0.5, wrapWidth: 900, arcBand: 40 });
    expect(wrapped.width).toBeLessThanOrEqual(900);
    expect(wrapped.rows).toBeLessThan(40);
  });
});

describe("arc geometry", () => {
  const { boxes } = layoutStrip(["a", "b", "c", "d", "e", "f", "g", "h"], { arcBand: 100 });
  const a = nodeAnchor(boxes, { start: 1, end: 2 });
  const b = nodeAnchor(boxes, { start: 6, end: 7 });

  it("anchors a node at the centre of its span on top of the boxes", () => {
    expect(a.x).toBeCloseTo(boxes[1].x + boxes[1].width / 2);
    expect(a.y).toBe(100);
    const span = nodeAnchor(boxes, { start: 2, end: 5 });
    expect(span.x).toBeCloseTo((boxes[2].x + boxes[4].x + boxes[4].width) / 2);
  });

  it("runs from the source to the target, rising above the strip", () => {
    const [x0, y0, cx1, cy1, cx2, cy2, x1, y1] = numbers(arcPath(a, b));
    expect([x0, y0]).toEqual([Math.round(a.x * 10) / 10, 100]);
    expect([x1, y1]).toEqual([Math.round(b.x * 10) / 10, 100]);
    // vertical tangents at both ends: it leaves the source upwards and lands on the target from above
    expect(cx1).toBe(x0);
    expect(cx2).toBe(x1);
    expect(cy1).toBeLessThan(y0);
    expect(cy2).toBeLessThan(y1);
  });

  it("makes farther arcs taller, up to a cap", () => {
    expect(arcHeight(200)).toBeGreaterThan(arcHeight(50));
    expect(arcHeight(1e6)).toBe(arcHeight(2e6));
    const band = arcBandFor([[a, b]]);
    expect(band).toBeGreaterThan(0.75 * arcHeight(b.x - a.x));
  });

  it("draws self-edges as a small loop on the token", () => {
    expect(arcPath(a, a)).toBe(loopPath(a));
    const [x0, y0, , cy, , , x1, y1] = numbers(loopPath(a));
    expect(y0).toBe(100);
    expect(y1).toBe(100);
    expect(cy).toBeLessThan(100);
    expect(x0).toBeLessThan(a.x);
    expect(x1).toBeGreaterThan(a.x);
  });

  it("connects rows when a prompt wraps: the target end lies on its own row", () => {
    const wrapped = layoutStrip(
      Array.from({ length: 40 }, () => " word"),
      { wrapWidth: 300, arcBand: 60 },
    );
    const s = nodeAnchor(wrapped.boxes, { start: 0, end: 1 });
    const t = nodeAnchor(wrapped.boxes, { start: 39, end: 40 });
    expect(t.row).toBeGreaterThan(s.row);
    const p = numbers(arcPath(s, t));
    expect(p[7]).toBe(t.y);
  });

  it("routes arcs between wrapped rows around the text: above the rows and down the gutter", () => {
    const wrapped = layoutStrip(
      Array.from({ length: 40 }, () => " word"),
      { wrapWidth: 300, arcBand: 60 },
    );
    for (const b of wrapped.boxes) expect(b.x + b.width).toBeLessThan(wrapped.gutterX);
    expect(wrapped.width).toBeLessThanOrEqual(300);
    const s = nodeAnchor(wrapped.boxes, { start: 2, end: 3 });
    const t = nodeAnchor(wrapped.boxes, { start: 39, end: 40 });
    const lift = 56;
    const between = { gutterX: wrapped.gutterX, inset: 60 - lift };
    const path = arcPath(s, t, 1, between);
    expect(path).toBe(rowCrossingPath(s, t, between));
    const gutter = Math.round(wrapped.gutterX * 10) / 10;
    expect(path).toContain(`Q${gutter},`); // it bends into the gutter
    for (const [, x] of path.matchAll(/H(-?[\d.]+)/g)) expect(Number(x)).toBeLessThan(gutter);
    expect(path.startsWith(`M${Math.round(s.x * 10) / 10},${s.y}`)).toBe(true);
    expect(path.endsWith(`V${t.y}`)).toBe(true);
    // Its horizontal runs lie in the arc bands, above the boxes of the source row and of the target row.
    expect([...path.matchAll(/H/g)].length).toBe(2);
    expect(path).toContain(`${s.y - lift}`);
    expect(path).toContain(`${t.y - lift}`);
    expect(s.y - lift).toBeGreaterThan(s.y - 60); // within the band above the source row
    // Arcs on one row keep their cubic.
    const same = nodeAnchor(wrapped.boxes, { start: 0, end: 1 });
    expect(arcPath(same, s, 1, between)).toBe(arcPath(same, s));
  });

  it("gives each wrapped row the arc band its own arcs need", () => {
    const wrapped = layoutStrip(
      Array.from({ length: 40 }, () => " word"),
      { wrapWidth: 300, arcBand: 0 },
    );
    const s = nodeAnchor(wrapped.boxes, { start: 0, end: 1 });
    const t = nodeAnchor(wrapped.boxes, { start: 4, end: 5 });
    const bands = arcBandsByRow([[s, t]], wrapped.rows);
    expect(bands[0]).toBe(arcBandFor([[s, t]]));
    expect(bands[1]).toBe(arcBandFor([]));
    expect(bands[1]).toBeLessThan(bands[0]);
    const laid = layoutStrip(
      Array.from({ length: 40 }, () => " word"),
      { wrapWidth: 300, arcBand: bands },
    );
    const row1 = laid.boxes.find((b) => b.row === 1);
    const row2 = laid.boxes.find((b) => b.row === 2);
    expect(row1.band).toBe(bands[1]);
    expect(row2.y - row1.y).toBe(bands[2] + 22);
    expect(laid.height).toBe(bands.reduce((a, b) => a + b, 0) + 22 * laid.rows);
  });

  it("reserves no gutter when the strip scrolls", () => {
    expect(layoutStrip(["a", "b"]).gutterX).toBe(null);
  });
});

describe("span brackets", () => {
  it("stacks nested spans below the spans that hold them", () => {
    const nodes = [
      { start: 0, end: 8 },
      { start: 0, end: 4 },
      { start: 4, end: 8 },
      { start: 0, end: 2 },
      { start: 3, end: 4 },
    ];
    const rows = bracketRows(nodes);
    expect(rows.get(0)).toBe(0);
    expect(rows.get(1)).toBe(1);
    expect(rows.get(2)).toBe(1);
    expect(rows.get(3)).toBe(2);
    expect(rows.has(4)).toBe(false); // single tokens get no bracket
  });

  it("splits a bracket at row breaks", () => {
    const { boxes } = layoutStrip(
      Array.from({ length: 30 }, () => " word"),
      { wrapWidth: 300 },
    );
    const segments = spanSegments(boxes, { start: 0, end: 30 });
    expect(segments.length).toBe(boxes[29].row + 1);
    expect(segments[0].x1).toBe(boxes[0].x);
  });
});

describe("colour and width scale", () => {
  it("is green for positive effects and red for negative", () => {
    expect(edgeStyle(0.3, 1).color).toBe(GREEN);
    expect(edgeStyle(-0.3, 1).color).toBe(RED);
  });
  it("grows width and opacity with |effect|", () => {
    const weak = edgeStyle(-0.1, 2);
    const strong = edgeStyle(-2, 2);
    expect(strong.width).toBeGreaterThan(weak.width);
    expect(strong.opacity).toBeGreaterThan(weak.opacity);
    expect(strong.opacity).toBeLessThanOrEqual(1);
    expect(edgeStyle(1, 0).width).toBeGreaterThan(0);
  });
  it("draws an infinite effect as the strongest and NaN grey and faint", () => {
    expect(edgeStyle(Infinity, 1)).toEqual({ ...edgeStyle(1, 1) });
    expect(edgeStyle(-Infinity, 1)).toEqual({ ...edgeStyle(-1, 1) });
    const nan = edgeStyle(NaN, 1);
    expect([nan.color === GREEN, nan.color === RED]).toEqual([false, false]);
    expect(nan.width).toBe(edgeStyle(0, 1).width);
  });
});

describe("style.json, shared with the Python static drawing", () => {
  it("gives the colours, the edge scale and the strip's sizes", async () => {
    const style = (await import("../src/style.json")).default;
    expect([GREEN, RED, edgeStyle(NaN, 1).color]).toEqual([style.colors.helps, style.colors.hurts, style.colors.nan]);
    expect(edgeStyle(0, 1)).toMatchObject({ width: style.edge.minWidth, opacity: style.edge.minOpacity });
    expect(edgeStyle(1, 1).width).toBeCloseTo(style.edge.minWidth + style.edge.widthRange);
    expect(MARGIN).toBe(style.strip.margin);
    expect(arcHeight(1e6)).toBe(style.arcs.maxArc);
    expect(NOISE_RELATIVE).toBe(style.noise.relative);
  });
});

describe("the noise floor (issue 16)", () => {
  it("is the engine's stats.noise_floor when the graph has one", () => {
    expect(noiseFloor({ clean_metric: 3, stats: { noise_floor: 2e-3 } })).toBe(2e-3);
    expect(noiseFloor({ clean_metric: 3, stats: { noise_floor: 0 } })).toBe(0);
  });
  it("else 1e-4 (style.json) of the clean metric's magnitude, at least 1e-4", () => {
    expect(NOISE_RELATIVE).toBe(1e-4);
    expect(noiseFloor({ clean_metric: -5.93, stats: {} })).toBeCloseTo(5.93e-4);
    expect(noiseFloor({ clean_metric: 0.2 })).toBe(1e-4);
    expect(noiseFloor({ clean_metric: 0 })).toBe(1e-4); // KL divergence
    expect(noiseFloor({ clean_metric: Infinity })).toBe(1e-4);
    expect(noiseFloor({ clean_metric: 1, stats: { noise_floor: "not a number" } })).toBe(1e-4);
  });
  it("keeps effects at or above it, infinite and NaN ones too, drops smaller ones", () => {
    const floor = 1e-4;
    expect([1e-4, -2e-4, Infinity, NaN, 9.9e-5, -1.9e-6, 0].map((effect) => aboveNoise({ effect }, floor))).toEqual([
      true,
      true,
      true,
      true,
      false,
      false,
      false,
    ]);
    expect(anyAboveNoise([{ effect: 1e-6 }, { effect: -5e-5 }], floor)).toBe(false);
    expect(anyAboveNoise([{ effect: 1e-6 }, { effect: -5e-3 }], floor)).toBe(true);
    expect(anyAboveNoise([], floor)).toBe(false);
  });
});

describe("the width scale (issue 16)", () => {
  it("is the clean metric's magnitude while every effect drawn is smaller", () => {
    expect(edgeScale({ clean_metric: -3 }, [{ effect: 1.9e-6 }, { effect: -0.5 }])).toEqual({
      value: 3,
      basis: "clean",
    });
    expect(edgeScale({ clean_metric: 3 }, [])).toEqual({ value: 3, basis: "clean" });
  });
  it("is the largest effect drawn when that is larger, or when the clean metric is 0 or not finite", () => {
    expect(edgeScale({ clean_metric: 3 }, [{ effect: -7 }, { effect: Infinity }])).toEqual({
      value: 7,
      basis: "largest",
    });
    expect(edgeScale({ clean_metric: 0 }, [{ effect: 0.02 }])).toEqual({ value: 0.02, basis: "largest" });
    expect(edgeScale({ clean_metric: NaN }, [{ effect: 0.02 }])).toEqual({ value: 0.02, basis: "largest" });
  });
  it("draws an effect of 1e-6 on a clean metric of 3 as thin and faint as an arc can be", () => {
    const { value } = edgeScale({ clean_metric: 3 }, [{ effect: 1.9e-6 }]);
    expect(edgeStyle(1.9e-6, value).width).toBeCloseTo(edgeStyle(0, 1).width, 4);
    expect(edgeStyle(1.9e-6, value).opacity).toBeCloseTo(edgeStyle(0, 1).opacity, 4);
  });
});

describe("names a reader can read (issue 16)", () => {
  const graph = {
    tokens: ["When", " Mary", " and", "\n", " went"],
    nodes: [
      { start: 0, end: 1 },
      { start: 1, end: 4 },
      { start: 3, end: 4 },
      { start: 0, end: 5 },
    ],
  };
  it("names a token by position and text, a span by its range (both ends included) and quoted text", () => {
    expect(nodeName(graph, 0)).toBe("0 When");
    expect(nodeName(graph, 2)).toBe("3 ↵");
    expect(nodeName(graph, 1)).toBe("1–3 ‘·Mary·and↵’");
    expect(nodeRange({ start: 1, end: 4 })).toBe("1–3");
    expect(nodeRange({ start: 3, end: 4 })).toBe("3");
  });
  it("cuts a long span's text", () => {
    const long = { tokens: Array.from({ length: 40 }, () => " ab"), nodes: [{ start: 0, end: 40 }] };
    expect(nodeName(long, 0)).toMatch(/^0–39 ‘(·ab){15}·a…’$/);
  });
  it("reads Python's slice labels as positions, other labels as they are", () => {
    expect(labelName(graph, "1:4")).toBe("1–3 ‘·Mary·and↵’");
    expect(labelName(graph, "4:5")).toBe("4 ·went");
    expect(labelName(graph, "4:9")).toBe('"4:9"');
    expect(labelName(graph, "line 2")).toBe('"line 2"');
    expect(labelName(graph, undefined)).toBe('""');
  });
  it("writes magnitudes in a few digits", () => {
    expect([3.21e-4, 1e-4, 3.21, 0.123456, 0, 1234.5].map(formatMagnitude)).toEqual([
      "3.2e-4",
      "1.0e-4",
      "3.21",
      "0.123",
      "0",
      "1230",
    ]);
  });
  it("reads trust flags as strings or named objects", () => {
    expect(flagText("sink")).toBe("sink");
    expect(flagText({ name: "hemorrhage", detail: "metric collapses" })).toBe("hemorrhage: metric collapses");
    expect(flagText({ kind: "local" })).toBe("local");
    expect(flagText({ message: "just a message" })).toBe("just a message");
    expect(edgeFlags({ flags: ["a", { name: "b" }] })).toEqual(["a", "b"]);
    expect(edgeFlags({})).toEqual([]);
    expect(edgeFlags({ flags: [] })).toEqual([]);
  });
});

describe("the scale of the drawn edges", () => {
  it("is the largest finite |effect|, 0 for none", () => {
    expect(
      maxAbsEffect([{ effect: -0.7 }, { effect: 0.2 }, { effect: NaN }, { effect: Infinity }, { effect: "Infinity" }]),
    ).toBe(0.7);
    expect(maxAbsEffect([])).toBe(0);
  });
});

describe("filtering, as FlowGraph.filter(threshold).top(k)", () => {
  const edges = [
    { source: 0, target: 1, effect: 0.5 },
    { source: 0, target: 2, effect: -2 },
    { source: 1, target: 2, effect: NaN },
    { source: 2, target: 2, effect: 0.5 },
    { source: 1, target: 1, effect: 0.01 },
  ];

  it("ranks by |effect|, ties in their order, NaN last", () => {
    expect(rankEdges(edges).map((e) => e.index)).toEqual([1, 0, 3, 4, 2]);
    expect(rankEdges(edges).map((e) => e.rank)).toEqual([1, 2, 3, 4, 5]);
  });
  it("keeps |effect| >= threshold, then the k strongest", () => {
    expect(filterEdges(edges, 0.5).map((e) => e.index)).toEqual([1, 0, 3]);
    expect(filterEdges(edges, 0, 2).map((e) => e.index)).toEqual([1, 0]);
    expect(filterEdges(edges, 0.6, 10).map((e) => e.index)).toEqual([1]);
    expect(filterEdges(edges, 0, 0)).toEqual([]);
    expect(filterEdges(edges, 0, null).length).toBe(5);
  });
});

describe("JSON export", () => {
  it("writes NaN and infinities as the strings FlowGraph.load reads, not as null", async () => {
    const { graphJson } = await import("../src/export.js");
    const text = graphJson({
      clean_metric: Infinity,
      edges: [{ effect: NaN }, { effect: -Infinity }, { effect: 0.5 }],
    });
    const back = JSON.parse(text);
    expect(back.clean_metric).toBe("Infinity");
    expect(back.edges.map((e) => e.effect)).toEqual(["NaN", "-Infinity", 0.5]);
  });
});
