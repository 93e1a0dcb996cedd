// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createToolbar, nextZoom, ZOOMS } from "../../src/panels/toolbar.js";
import { fullGraph, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());
const byTitle = (title) => mounted.root.querySelector(`button[title='${title}']`);

describe("zoom", () => {
  it("steps through the zoom stops and stops at either end", () => {
    expect(nextZoom(1, 1)).toBe(1.25);
    expect(nextZoom(1, -1)).toBe(0.8);
    expect(nextZoom(ZOOMS[0], -1)).toBe(ZOOMS[0]);
    expect(nextZoom(ZOOMS.at(-1), 1)).toBe(ZOOMS.at(-1));
    expect(nextZoom(0.9, 0)).toBe(1); // off the list: the next stop up
    expect(nextZoom(5, -1)).toBe(1.5);
  });

  it("zooms the view from its buttons", () => {
    mounted = mountPanel(createToolbar);
    byTitle("Zoom in").click();
    byTitle("Zoom in").click();
    expect(mounted.ctx.view.zoom).toBe(1.5);
    byTitle("Zoom out").click();
    expect(mounted.ctx.view.zoom).toBe(1.25);
  });
});

describe("toolbar", () => {
  it("offers the back button only inside a drill-down, even before the first graph", () => {
    mounted = mountPanel(createToolbar, { ...widgetState(), graph: null });
    const back = byTitle("Back to the span graph");
    expect(back.hidden).toBe(true);
    mounted.unmount();
    mounted = mountPanel(createToolbar);
    mounted.ctx.view.drilled.push(fullGraph());
    mounted.ctx.redraw();
    expect(byTitle("Back to the span graph").hidden).toBe(false);
    byTitle("Back to the span graph").click();
    expect(mounted.ctx.view.drilled.length).toBe(0);
    expect(byTitle("Back to the span graph").hidden).toBe(true);
  });

  it("reflects and sets the wrapping", () => {
    mounted = mountPanel(createToolbar);
    const box = mounted.root.querySelector(".if-check input");
    expect(box.checked).toBe(false);
    box.checked = true;
    box.dispatchEvent(new Event("change"));
    expect(mounted.ctx.view.wrap).toBe(true);
    expect(box.checked).toBe(true);
  });

  it("offers itself as the `toolbar` slot", () => {
    mounted = mountPanel(createToolbar);
    expect(mounted.panel.slots.toolbar).toBe(mounted.panel.el);
  });
});

describe("toolbar and the pin (issue 16)", () => {
  it("offers a start slot after its own controls, before the spacer", () => {
    mounted = mountPanel(createToolbar);
    const start = mounted.panel.slots["toolbar-start"];
    expect(start.nextElementSibling.className).toBe("if-spacer");
    expect(start.previousElementSibling.className).toBe("if-check");
  });

  it("unpins when stepping back out of a drill-down", () => {
    mounted = mountPanel(createToolbar, { ...widgetState(), selected: 2 });
    mounted.ctx.view.drilled.push(fullGraph());
    mounted.ctx.redraw();
    byTitle("Back to the span graph").click();
    expect([mounted.ctx.view.drilled.length, mounted.model.get("selected")]).toEqual([0, null]);
  });
});
