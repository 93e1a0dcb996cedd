// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createAnatomy, selectionOf } from "../../src/panels/anatomy.js";
import { anatomyData, arc, fullGraph, spanGraph, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());

const panel = () => mounted.root.querySelector(".if-anatomy");

describe("anatomy panel", () => {
  it("selects the edge of an arc between tokens on click or Enter (arc:activate)", () => {
    mounted = mountPanel(createAnatomy, widgetState(spanGraph()));
    mounted.ctx.hub.emit("arc:activate", arc(1));
    expect([mounted.model.get("selected_edge"), mounted.model.saved]).toEqual([{ source: 2, target: 2, level: 0 }, 1]);
    mounted.ctx.hub.emit("arc:activate", arc(1)); // the same edge again: nothing new to ask
    expect(mounted.model.saved).toBe(1);
  });

  it("leaves a span arc's click to the drill-down, and selects it on Shift (arc:anatomy)", () => {
    mounted = mountPanel(createAnatomy, widgetState(spanGraph()));
    mounted.ctx.hub.emit("arc:activate", arc(0));
    expect(mounted.model.get("selected_edge")).toBe(undefined);
    mounted.ctx.hub.emit("arc:anatomy", arc(0));
    expect(mounted.model.get("selected_edge")).toEqual({ source: 0, target: 1, level: 0 });
  });

  it("names the drill-down level of an arc inside one", () => {
    expect(selectionOf(fullGraph(), 3, 1)).toEqual({ source: 0, target: 2, level: 1 });
    expect(selectionOf(fullGraph(), 999, 0)).toBe(null);
  });

  it("selects nothing in a saved page: there is no kernel to measure", () => {
    mounted = mountPanel(createAnatomy, { ...widgetState(), _offline: true });
    mounted.ctx.hub.emit("arc:activate", arc(3));
    expect(mounted.model.sent.length + mounted.model.saved).toBe(0);
  });

  it("shows the kernel's anatomy below the drawing while an edge is selected, and × or Escape closes it", () => {
    mounted = mountPanel(createAnatomy, widgetState());
    expect(panel().hidden).toBe(true);
    mounted.model.set("selected_edge", { source: 1, target: 13, level: 0 });
    mounted.model.set("anatomy", { edge: { source: 1, target: 13, level: 0 }, status: "computing" });
    expect([panel().hidden, panel().textContent.includes("measuring")]).toEqual([false, true]);
    expect(panel().querySelector(".if-an-title").textContent).toBe("Anatomy of 1 ·Mary → 13 ·to");
    mounted.model.set("anatomy", anatomyData());
    expect(panel().querySelectorAll(".if-an-heatmap rect").length).toBe(12);
    panel().querySelector(".if-anatomy-close").click();
    expect([mounted.model.get("selected_edge"), panel().hidden]).toEqual([null, true]);
    mounted.model.set("selected_edge", { source: 1, target: 13, level: 0 });
    panel().dispatchEvent(new KeyboardEvent("keydown", { key: "Escape", bubbles: true }));
    expect(mounted.model.get("selected_edge")).toBe(null);
  });

  it("marks the selected edge's arc in the drawing", () => {
    mounted = mountPanel(createAnatomy, { ...widgetState(), selected_edge: { source: 1, target: 13, level: 0 } });
    const canvas = document.createElement("div");
    canvas.className = "if-canvas";
    const index = fullGraph().edges.findIndex((e) => e.source === 1 && e.target === 13);
    canvas.innerHTML = `<svg><path class="if-arc" data-index="${index}"/><path class="if-arc" data-index="0"/></svg>`;
    mounted.root.append(canvas);
    mounted.ctx.redraw();
    expect([...canvas.querySelectorAll(".if-arc")].map((a) => a.classList.contains("if-chosen"))).toEqual([
      true,
      false,
    ]);
  });

  it("closes when the view backs out of the drill-down its edge was selected in", () => {
    mounted = mountPanel(createAnatomy, widgetState());
    mounted.ctx.view.drilled.push(fullGraph());
    mounted.ctx.redraw();
    mounted.model.set("selected_edge", { source: 0, target: 0, level: 1 });
    mounted.ctx.view.drilled.pop();
    mounted.ctx.redraw();
    expect(mounted.model.get("selected_edge")).toBe(null);
  });
});
