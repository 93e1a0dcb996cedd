// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createError } from "../../src/panels/error.js";
import { createStatus } from "../../src/panels/status.js";
import { estimatedGraph, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());

describe("status", () => {
  it("fills the bar only while computing", () => {
    mounted = mountPanel(createStatus, { ...widgetState(), progress: 0.42 });
    const fill = mounted.root.querySelector(".if-progress-fill");
    expect(fill.style.width).toBe("0%");
    mounted.model.set("computing", true);
    expect(fill.style.width).toBe("42%");
    expect(mounted.root.classList.contains("if-computing")).toBe(true);
  });

  it("fills the bar while a selected edge's anatomy computes, without dimming the drawing", () => {
    mounted = mountPanel(createStatus, { ...widgetState(), progress: 0.3 });
    mounted.model.set("anatomy", { edge: { source: 1, target: 13 }, status: "computing" });
    const fill = mounted.root.querySelector(".if-progress-fill");
    expect([
      fill.style.width,
      mounted.root.classList.contains("if-measuring"),
      mounted.root.classList.contains("if-computing"),
    ]).toEqual(["30%", true, false]);
    mounted.model.set("anatomy", { edge: { source: 1, target: 13 }, status: "failed" });
    expect([fill.style.width, mounted.root.classList.contains("if-measuring")]).toEqual(["0%", false]);
  });

  it("marks an estimate on show while computing as a preview, not an exact graph", () => {
    const estimate = estimatedGraph();
    estimate.provenance = { ...estimate.provenance, estimate: true };
    mounted = mountPanel(createStatus, { ...widgetState(estimate), computing: true });
    expect(mounted.root.classList.contains("if-preview")).toBe(true);
    mounted.model.set("computing", false);
    expect(mounted.root.classList.contains("if-preview")).toBe(false);
  });
});

describe("error box", () => {
  it("shows the kernel's error, and hides when it is cleared", () => {
    mounted = mountPanel(createError, { ...widgetState(), error: "bad prompt" });
    const box = mounted.root.querySelector(".if-error");
    expect([box.hidden, box.textContent]).toEqual([false, "bad prompt"]);
    mounted.model.set("error", "");
    expect(box.hidden).toBe(true);
  });

  it("shows a failure in the browser until the kernel's next word", () => {
    mounted = mountPanel(createError);
    const box = mounted.root.querySelector(".if-error");
    mounted.ctx.hub.emit("error", "PNG export: too large");
    expect([box.hidden, box.textContent]).toEqual([false, "PNG export: too large"]);
    mounted.model.set("status", "computing");
    expect(box.hidden).toBe(true);
  });
});
