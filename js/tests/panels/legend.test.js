// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { FADED_TEXT, FLAG_COLOR, FLAGGED_TEXT } from "../../src/flags.js";
import { createLegend, legend, marksIn, notesBox, scaleText } from "../../src/panels/legend.js";
import { estimatedGraph, flaggedGraph, fullGraph, noiseGraph, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());
const text = (shown) => legend(shown).textContent;

describe("legend", () => {
  it("says what the widest arc stands for: the clean metric's magnitude or the largest effect drawn", () => {
    expect(scaleText({ value: 3.21, basis: "clean" })).toBe(
      "width and opacity: |effect| relative to 3.21 (the clean metric's magnitude)",
    );
    expect(scaleText({ value: 0.123456, basis: "largest" })).toBe(
      "width and opacity: |effect| relative to 0.123 (the largest |effect| drawn)",
    );
    expect(scaleText({ value: 0, basis: "largest" })).toBe("width and opacity: |effect| (no arc drawn)");
    expect(text({ scale: { value: 3.21, basis: "clean" } })).toContain("relative to 3.21");
  });

  it("says what is not drawn as numerical noise, and how much", () => {
    const scale = { value: 1, basis: "clean" };
    expect(text({ scale, noiseFloor: 3.21e-4, belowNoise: 2 })).toContain(
      "not drawn: |effect| < 3.2e-4, numerical noise (2 edges)",
    );
    expect(text({ scale, noiseFloor: 3.21e-4, belowNoise: 1 })).toContain("(1 edge)");
    expect(text({ scale, noiseFloor: 3.21e-4, allNoise: true })).toContain(
      "not drawn: |effect| < 3.2e-4, numerical noise",
    );
    expect(text({ scale, noiseFloor: 3.21e-4 })).not.toContain("not drawn");
  });

  it("explains dashes only when estimates are drawn", () => {
    const scale = { value: 1, basis: "clean" };
    expect(text({ scale, estimated: true })).toContain("dashed: first-order estimate");
    expect(text({ scale })).not.toContain("dashed");
    mounted = mountPanel(createLegend, widgetState(estimatedGraph()));
    expect(mounted.root.querySelector(".if-legend").textContent).toContain("dashed");
  });

  it("explains the whitespace marks that occur in the tokens", () => {
    expect(marksIn(["a", " b", "c\n", "\td"])).toEqual([
      ["·", "a space"],
      ["↵", "a newline"],
      ["⇥", "a tab"],
    ]);
    expect(marksIn(["a", "b"])).toEqual([]);
    expect(text({ marks: [["·", "a space"]] })).toContain("in tokens: · a space");
    mounted = mountPanel(createLegend);
    expect(mounted.root.querySelector(".if-marks").textContent).toBe("in tokens: · a space");
  });

  it("draws the notes on the strongest arcs under the legend", () => {
    expect(notesBox([])).toBe(null);
    const box = notesBox([{ kind: "sink", text: "a note" }]);
    expect(box.querySelector(".if-note[data-kind='sink']").textContent).toBe("a note");
  });

  it("follows the frame: a graph of noise says so", () => {
    mounted = mountPanel(createLegend, { ...widgetState(noiseGraph()), top_k: null });
    expect(mounted.root.querySelector(".if-noise").textContent).toBe(
      "not drawn: |effect| < 3.2e-4, numerical noise (105 edges)",
    );
    expect(mounted.root.querySelector(".if-scale").textContent).toContain("(no arc drawn)");
    mounted.ctx.view.graph = fullGraph();
    mounted.ctx.redraw();
    expect(mounted.root.querySelector(".if-noise").textContent).toContain("(1 edge)"); // the self-edge of effect 0
    mounted.model.set("top_k", 10);
    mounted.ctx.redraw();
    expect(mounted.root.querySelector(".if-noise")).toBe(null);
  });

  it("is empty before the first graph", () => {
    mounted = mountPanel(createLegend, { ...widgetState(), graph: null });
    expect(mounted.root.querySelector(".if-legend")).toBe(null);
  });

  it("explains the dotted outline of flagged arcs, and fading, only when such arcs are drawn (issue 10)", () => {
    const scale = { value: 1, basis: "clean" };
    expect(FLAGGED_TEXT).toBe("flagged: may be damage rather than a route (hover for why)");
    expect(text({ scale })).not.toContain("flagged");
    const box = legend({ scale, flagged: true, inconsistent: true });
    expect(box.querySelector(".if-flagged").textContent).toBe(` ${FLAGGED_TEXT}`);
    expect(box.querySelector(".if-flagged path[stroke-dasharray='1.5 2.5']").getAttribute("stroke")).toBe(FLAG_COLOR);
    expect(box.querySelector(".if-faded").textContent).toBe(` ${FADED_TEXT}`);
    expect(legend({ scale, flagged: true }).querySelector(".if-faded")).toBe(null);
    expect(text({ scale, hiddenFlagged: 2 })).toContain("not drawn: 2 flagged arcs (hide flagged)");

    mounted = mountPanel(createLegend, widgetState(flaggedGraph()));
    const legendBox = () => mounted.root.querySelector(".if-legend");
    expect(legendBox().querySelector(".if-flagged")).not.toBe(null);
    expect(legendBox().querySelector(".if-faded")).not.toBe(null);
    expect(mounted.root.querySelector(".if-note[data-kind='flags']").textContent).toContain("dotted outline");
    mounted.ctx.view.hideFlagged = true;
    mounted.ctx.redraw();
    expect(legendBox().querySelector(".if-flagged")).toBe(null);
    expect(legendBox().textContent).toContain("not drawn: 2 flagged arcs (hide flagged)");
    expect(mounted.root.querySelector(".if-note[data-kind='flags']")).toBe(null);
  });
});
