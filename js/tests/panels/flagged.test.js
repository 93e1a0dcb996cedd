// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createFlagFilter } from "../../src/panels/flagged.js";
import { flaggedGraph, fullGraph, savedState, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());
const label = () => mounted.root.querySelector(".if-hide-flagged");
const box = () => label().querySelector("input");

describe("hide flagged (issue 10)", () => {
  it("is offered only when the graph has flagged edges, in the toolbar's start slot", () => {
    mounted = mountPanel(createFlagFilter);
    expect(mounted.panel.slot).toBe("toolbar-start");
    expect(label().hidden).toBe(true);
    mounted.unmount();
    mounted = mountPanel(createFlagFilter, widgetState(flaggedGraph(fullGraph(), { 40: ["damage"] }))); // none on show
    expect(label().hidden).toBe(false);
    expect(label().textContent).toBe(" hide flagged (0)");
    mounted.unmount();
    mounted = mountPanel(createFlagFilter, { ...widgetState(), graph: null });
    expect(label().hidden).toBe(true);
  });

  it("counts the flagged arcs on show and hides them in the view, not in a trait; a saved page has it too", () => {
    mounted = mountPanel(createFlagFilter, savedState(flaggedGraph()));
    expect(label().hidden).toBe(false);
    expect(label().textContent).toBe(" hide flagged (2)");
    expect(box().checked).toBe(false);
    box().checked = true;
    box().dispatchEvent(new Event("change"));
    expect(mounted.ctx.view.hideFlagged).toBe(true);
    expect(mounted.redraws).toBe(1);
    expect(label().textContent).toBe(" hide flagged (2)");
    expect(mounted.model.saved).toBe(0);
    mounted.model.set("top_k", 12);
    mounted.ctx.redraw();
    expect(label().textContent).toBe(" hide flagged (3)");
    box().checked = false;
    box().dispatchEvent(new Event("change"));
    expect(mounted.ctx.view.hideFlagged).toBe(false);
  });
});
