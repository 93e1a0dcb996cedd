// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createTooltip, effectText, placeBeside } from "../../src/panels/tooltip.js";
import { fullGraph, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());

const arcFor = (index, source, target, rank = 1) => {
  const arc = document.createElementNS("http://www.w3.org/2000/svg", "path");
  Object.assign(arc.dataset, { index, source, target, rank });
  return arc;
};

describe("placing the tooltip", () => {
  const bounds = { width: 400, height: 300 };
  it("sits below right of the point where it fits", () => {
    expect(placeBeside(100, 100, 120, 60, bounds)).toEqual({ left: 114, top: 114 });
  });
  it("flips to the left and above near the right and bottom edges, so the widget does not cut it off", () => {
    expect(placeBeside(350, 280, 120, 60, bounds)).toEqual({ left: 216, top: 206 });
  });
  it("never leaves the widget at the top or left", () => {
    expect(placeBeside(20, 20, 500, 400, bounds)).toEqual({ left: 0, top: 0 });
  });
});

describe("tooltip", () => {
  it("describes the arc it is shown for, and hides on a redraw", () => {
    mounted = mountPanel(createTooltip);
    const tip = mounted.root.querySelector(".if-tooltip");
    expect(tip.hidden).toBe(true);
    const edge = mounted.ctx.view.graph.edges[5];
    mounted.ctx.hub.emit(
      "arc:enter",
      arcFor(5, `${edge.source}:${edge.source + 1}`, `${edge.target}:${edge.target + 1}`, 7),
      { clientX: 0, clientY: 0 },
    );
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toContain("rank7 of 105");
    expect(tip.textContent).toContain("exact (measured)");
    expect(tip.querySelector(".if-hint").textContent).toBe(
      "click (or Enter): its anatomy by layer and head, and the logit lens",
    );
    mounted.ctx.redraw();
    expect(tip.hidden).toBe(true);
  });

  it("offers to measure inside a span edge, and hides when the arc is left", () => {
    const graph = fullGraph();
    graph.nodes = [
      { start: 0, end: 7, label: "0:7" },
      { start: 7, end: 14, label: "7:14" },
    ];
    graph.edges = [{ source: 0, target: 1, effect: 0.8, level: 0 }];
    mounted = mountPanel(createTooltip, widgetState(graph));
    mounted.ctx.hub.emit("arc:enter", arcFor(0, "0:7", "7:14"), { clientX: 0, clientY: 0 });
    const tip = mounted.root.querySelector(".if-tooltip");
    expect(tip.textContent).toContain("When·Mary·and·John·went·to·the");
    expect(tip.querySelector(".if-hint").textContent).toBe(
      "click to measure the token edges inside; Shift+click: its anatomy",
    );
    mounted.ctx.hub.emit("arc:leave");
    expect(tip.hidden).toBe(true);
  });
});

describe("tooltip words (issue 16)", () => {
  const enter = (index, source, target) =>
    mounted.ctx.hub.emit("arc:enter", arcFor(index, source, target), { clientX: 0, clientY: 0 });

  it("gives the effect's share of the clean metric where that has a size", () => {
    expect(effectText(0.5, 3.21)).toBe("+0.5000  (16% of |clean metric|)");
    expect(effectText(-1e-3, 3.21)).toBe("-0.001000  (0.03% of |clean metric|)");
    expect(effectText(0.5, 0)).toBe("+0.5000");
    expect(effectText(Infinity, 3)).toBe("+Infinity");
  });

  it("names a token end by position and text: no slice notation", () => {
    mounted = mountPanel(createTooltip);
    const index = mounted.ctx.view.graph.edges.findIndex((e) => e.source === 1 && e.target === 2);
    enter(index, "1:2", "2:3");
    const tip = mounted.root.querySelector(".if-tooltip");
    expect(tip.textContent).toContain("source1 ·Mary");
    expect(tip.textContent).toContain("target2 ·and");
    expect(tip.textContent).not.toMatch(/\d:\d/);
    expect(tip.querySelector(".if-arc-note").textContent).toContain("previous-token");
  });

  it("lists the edge's flags when it has some", () => {
    const graph = fullGraph();
    graph.edges[5].flags = ["sink"];
    mounted = mountPanel(createTooltip, widgetState(graph));
    enter(5, "x", "y");
    expect(mounted.root.querySelector(".if-flags").textContent).toBe(
      "flagsource is an attention sink: cutting it tends to break the model — “hemorrhage”",
    );
    enter(6, "x", "y");
    expect(mounted.root.querySelector(".if-flags")).toBe(null);
  });

  it("says why an edge is flagged, one line per flag, with its damage and spread (issue 10)", () => {
    const graph = fullGraph();
    graph.stats = { ...graph.stats, sinks: [{ position: 0, share: 0.45 }] };
    const index = graph.edges.findIndex((e) => e.source === 0 && e.target === 3);
    Object.assign(graph.edges[index], { flags: ["sink", "damage", "inconsistent"], damage: 2.3, effect_std: 0.31 });
    graph.edges[7].damage = 0.01;
    mounted = mountPanel(createTooltip, widgetState(graph));
    enter(index, "0:1", "3:4");
    const rows = [...mounted.root.querySelectorAll(".if-tooltip > div")].map((row) => row.textContent);
    expect(rows).toContain("damage2.3 nats (KL of the next-token distribution)");
    expect(rows).toContain("spread± 0.31 over corrupted samples");
    expect([...mounted.root.querySelectorAll(".if-flags")].map((row) => row.textContent)).toEqual([
      "flagsource is an attention sink (receives 45% of attention): cutting it tends to break the model — “hemorrhage”",
      "flagdamage 2.3 nats: far above edges of similar effect",
      "flagsign differs between interventions",
    ]);
    // The numbers show without flags too; nothing of them when absent.
    enter(7, "x", "y");
    expect(mounted.root.querySelector(".if-tooltip").textContent).toContain("damage0.01 nats");
    expect(mounted.root.querySelector(".if-flags")).toBe(null);
    expect(mounted.root.querySelector(".if-tooltip").textContent).not.toContain("spread");
  });

  it("says in a saved page that measuring inside a span needs a kernel", () => {
    const graph = fullGraph();
    graph.nodes = [
      { start: 0, end: 7, label: "0:7" },
      { start: 7, end: 14, label: "7:14" },
    ];
    graph.edges = [{ source: 0, target: 1, effect: 0.8, level: 0 }];
    mounted = mountPanel(createTooltip, { ...widgetState(graph), _offline: true });
    enter(0, "0:7", "7:14");
    expect(mounted.root.querySelector(".if-hint").textContent).toBe(
      "measuring inside a span needs a running kernel: this is a saved page",
    );
  });
});
