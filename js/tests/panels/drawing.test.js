// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { FLAG_COLOR } from "../../src/flags.js";
import { createDrawing, noiseNote } from "../../src/panels/drawing.js";
import style from "../../src/style.json";
import { flaggedGraph, noiseGraph, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());
const token = (i) => mounted.root.querySelector(`.if-token[data-pos="${i}"]`);
const arcs = () => [...mounted.root.querySelectorAll(".if-arc")];
const heard = (event) => {
  const log = [];
  mounted.ctx.hub.on(event, (...args) => log.push(args));
  return log;
};

describe("drawing", () => {
  it("draws the frame's edges, and nothing before the first graph", () => {
    mounted = mountPanel(createDrawing);
    expect(arcs().length).toBe(10);
    mounted.ctx.view.graph = null;
    mounted.ctx.redraw();
    expect(mounted.root.querySelector("svg").childElementCount).toBe(0);
  });

  it("wraps rows to the canvas's width when the frame says so", () => {
    mounted = mountPanel(createDrawing);
    const rowsOf = () =>
      new Set([...mounted.root.querySelectorAll(".if-token rect")].map((r) => r.getAttribute("y"))).size;
    expect(rowsOf()).toBe(1);
    Object.defineProperty(mounted.panel.el, "clientWidth", { value: 200 });
    mounted.ctx.view.wrap = true;
    mounted.ctx.redraw();
    expect(rowsOf()).toBeGreaterThan(1);
  });

  it("announces an arc under the pointer on the hub and outlines its ends until the pointer leaves", () => {
    mounted = mountPanel(createDrawing);
    const [enter, move, leave] = [heard("arc:enter"), heard("arc:move"), heard("arc:leave")];
    const arc = arcs()[0];
    arc.dispatchEvent(new MouseEvent("mouseover", { bubbles: true, clientX: 5, clientY: 6 }));
    expect(enter[0][0]).toBe(arc);
    expect(enter[0][1].clientX).toBe(5);
    expect(mounted.root.querySelectorAll(".if-token.if-end").length).toBeGreaterThan(0);
    arc.dispatchEvent(new MouseEvent("mousemove", { bubbles: true, clientX: 7 }));
    expect(move[0][0].clientX).toBe(7);
    mounted.root.querySelector("svg").dispatchEvent(new MouseEvent("mouseleave"));
    expect(leave.length).toBe(1);
    expect(mounted.root.querySelectorAll(".if-token.if-end").length).toBe(0);
  });

  it("keeps the hovered token highlighted over a redraw, then falls back to the pinned one", () => {
    mounted = mountPanel(createDrawing, { ...widgetState(), selected: 5 });
    expect(token(5).classList.contains("if-hot")).toBe(true);
    token(3).dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    mounted.ctx.redraw();
    expect(token(3).classList.contains("if-hot")).toBe(true);
    expect(token(5).classList.contains("if-hot")).toBe(false);
    token(3).dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));
    expect(token(5).classList.contains("if-hot")).toBe(true);
  });

  it("pins a token on click and activates an arc on Space, as on Enter", () => {
    mounted = mountPanel(createDrawing);
    const activated = heard("arc:activate");
    token(2).dispatchEvent(new KeyboardEvent("keydown", { key: " ", bubbles: true }));
    expect(mounted.model.get("selected")).toBe(2);
    expect(mounted.model.saved).toBe(1);
    const arc = arcs()[0];
    arc.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(activated).toEqual([[arc]]);
    arc.dispatchEvent(new KeyboardEvent("keydown", { key: "a", bubbles: true }));
    expect(activated.length).toBe(1);
  });

  it("asks for any arc's anatomy on Shift+click or Shift+Enter (a span arc's plain click drills down)", () => {
    mounted = mountPanel(createDrawing);
    const [activated, anatomy] = [heard("arc:activate"), heard("arc:anatomy")];
    const arc = arcs()[0];
    arc.dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", shiftKey: true, bubbles: true }));
    arc.dispatchEvent(new MouseEvent("click", { shiftKey: true, bubbles: true }));
    expect([activated.length, anatomy]).toEqual([0, [[arc], [arc]]]);
  });

  it("labels tokens and arcs for screen readers, and lets Tab reach them", () => {
    mounted = mountPanel(createDrawing);
    expect(token(1).getAttribute("aria-label")).toBe("token 1 ·Mary");
    expect(token(1).querySelector("title").textContent).toBe("token 1 ·Mary");
    expect(arcs()[0].getAttribute("aria-label")).not.toMatch(/\d+:\d+/);
    for (const node of [token(1), arcs()[0]]) {
      expect(node.getAttribute("tabindex")).toBe("0");
      expect(node.getAttribute("role")).toBe("button");
    }
  });

  it("writes over an empty drawing why it is empty, only when no edge is measurable", () => {
    expect(noiseNote(3.21e-4)).toBe("No edge changes the metric measurably (all |effect| < 3.2e-4)");
    mounted = mountPanel(createDrawing, widgetState(noiseGraph()));
    expect(arcs().length).toBe(0);
    expect(mounted.root.querySelector(".if-drawing-note").textContent).toBe(noiseNote(3.21e-4));
    expect(mounted.root.querySelectorAll(".if-token").length).toBe(14); // the strip stays
    mounted.model.set("top_k", 0); // filtered away, not noise: no note
    mounted.ctx.view.graph = widgetState().graph;
    mounted.ctx.redraw();
    expect(mounted.root.querySelector(".if-drawing-note")).toBe(null);
  });

  it("draws a dotted outline under each flagged arc, its arrowhead kept, and fades inconsistent arcs (issue 10)", () => {
    mounted = mountPanel(createDrawing, widgetState(flaggedGraph()));
    const outlines = [...mounted.root.querySelectorAll(".if-flag-outline")];
    const flagged = arcs().filter((a) => a.dataset.flags);
    expect(flagged.map((a) => [a.dataset.rank, a.dataset.flags])).toEqual([
      ["3", "inconsistent"],
      ["1", "sink damage"],
    ]);
    expect(outlines.length).toBe(2);
    for (const arc of flagged) {
      const outline = arc.previousElementSibling; // right under its arc
      expect(outline.classList.contains("if-flag-outline")).toBe(true);
      expect(outline.getAttribute("d")).toBe(arc.getAttribute("d"));
      expect(outline.getAttribute("stroke")).toBe(FLAG_COLOR);
      expect(outline.getAttribute("stroke-dasharray")).toBe("1.5 2.5");
      expect(Number(outline.getAttribute("stroke-width"))).toBe(
        Number(arc.getAttribute("stroke-width")) + style.flags.extraWidth,
      );
      expect(outline.getAttribute("pointer-events")).toBe("none"); // hovering reaches the arc
      // Masked where its arc lies, so the dots show only beside the arc, which keeps its colour.
      const mask = mounted.root.querySelector(`mask${outline.getAttribute("mask").slice(4, -1)}`);
      expect(mask.querySelector("path").getAttribute("d")).toBe(arc.getAttribute("d"));
      expect(mask.querySelector("path").getAttribute("stroke-width")).toBe(arc.getAttribute("stroke-width"));
      expect(mask.querySelector("rect").getAttribute("fill")).toBe("white");
      expect(outline.hasAttribute("marker-end")).toBe(false);
      expect(arc.getAttribute("marker-end")).toMatch(/^url\(#/);
      expect(arc.getAttribute("aria-label")).toContain(`flagged: ${arc.dataset.flags.replace(" ", ", ")}`);
      expect(arc.hasAttribute("stroke-dasharray")).toBe(false); // dashes stay the mark of estimates
    }
    const [inconsistent, strongest] = flagged;
    const plain = arcs().find((a) => a.dataset.rank === "2");
    expect(Number(inconsistent.getAttribute("stroke-opacity"))).toBeLessThan(
      0.5 * Number(plain.getAttribute("stroke-opacity")),
    );
    expect(Number(strongest.getAttribute("stroke-opacity"))).toBeGreaterThanOrEqual(
      Number(plain.getAttribute("stroke-opacity")),
    ); // not faded
    // A token's highlight takes the outlines along with their arcs.
    token(0).dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const hot = outlines.filter((o) => o.classList.contains("if-hot"));
    expect(hot.map((o) => o.dataset.source)).toEqual(
      outlines.filter((o) => o.dataset.source === "0:1" || o.dataset.target === "0:1").map((o) => o.dataset.source),
    );
  });

  it("draws no outline without flags, and none for the arcs hidden by `hideFlagged`", () => {
    mounted = mountPanel(createDrawing);
    expect(mounted.root.querySelectorAll(".if-flag-outline").length).toBe(0);
    mounted.unmount();
    mounted = mountPanel(createDrawing, widgetState(flaggedGraph()));
    mounted.ctx.view.hideFlagged = true;
    mounted.ctx.redraw();
    expect(mounted.root.querySelectorAll(".if-flag-outline").length).toBe(0);
    expect(arcs().length).toBe(8);
  });
});
