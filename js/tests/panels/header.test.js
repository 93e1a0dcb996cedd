// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createHeader } from "../../src/panels/header.js";
import { fullGraph, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());

describe("header", () => {
  it("says what is measured, under what, and how many edges are shown of those measured", () => {
    mounted = mountPanel(createHeader);
    const text = mounted.root.querySelector(".if-header").textContent;
    expect(text).toContain("logit(' Mary') - logit(' John') under zero pattern");
    expect(text).toContain("14 tokens · 105 edges measured, 10 shown");
    expect(text).toContain("2 forward passes, 0.5 s");
    expect(mounted.root.querySelector(".if-drill")).toBe(null);
  });

  it("before the first graph, says whether it is computing", () => {
    mounted = mountPanel(createHeader, { ...widgetState(), graph: null, computing: true });
    expect(mounted.root.textContent).toBe("Computing the first graph…");
    mounted.model.set("computing", false);
    mounted.ctx.redraw();
    expect(mounted.root.textContent).toBe("");
  });

  it("names the span edge a drill-down opened", () => {
    mounted = mountPanel(createHeader);
    const inner = fullGraph();
    inner.provenance = { ...inner.provenance, expanded_from: { source: "0:7", target: "7:14" } };
    mounted.ctx.view.drilled.push(inner);
    mounted.ctx.redraw();
    expect(mounted.root.querySelector(".if-drill").textContent).toBe(
      "inside span edge 0–6 ‘When·Mary·and·John·went·to·the’ → 7–13 ‘·store,·John·gave·a·book·to’",
    );
    inner.provenance.expanded_from = { source: "a label", target: "99:120" }; // not positions of this prompt: as given
    mounted.ctx.redraw();
    expect(mounted.root.querySelector(".if-drill").textContent).toBe('inside span edge "a label" → "99:120"');
  });

  it("reads the intervention from the graph's provenance, not from a control", () => {
    const graph = fullGraph();
    graph.provenance = { ...graph.provenance, intervention_text: "dampen: alpha = 1" };
    mounted = mountPanel(createHeader, { ...widgetState(graph), intervention: "zero", alpha: 0 });
    expect(mounted.root.querySelector(".if-what").textContent).toContain("under dampen: alpha = 1");
  });

  it("keeps the room of the estimates line when there are none", () => {
    mounted = mountPanel(createHeader);
    expect(mounted.root.querySelector(".if-estimate").textContent).toBe("");
  });
});
