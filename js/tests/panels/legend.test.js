// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createLegend, legend } from "../../src/panels/legend.js";
import { mountPanel } from "../panel-harness.js";
import { estimatedGraph, widgetState } from "../mock-model.js";

let mounted;
afterEach(() => mounted?.unmount());

describe("legend", () => {
  it("gives the scale of the widest arc, or a dash without arcs", () => {
    expect(legend(0.123456, false).textContent).toContain("|effect| up to 0.123");
    expect(legend(0, false).textContent).toContain("|effect| up to –");
  });

  it("explains dashes only when estimates are drawn", () => {
    expect(legend(1, true).textContent).toContain("dashed: first-order estimate");
    expect(legend(1, false).textContent).not.toContain("dashed");
    mounted = mountPanel(createLegend, widgetState(estimatedGraph()));
    expect(mounted.root.querySelector(".if-legend").textContent).toContain("dashed");
  });

  it("is empty before the first graph", () => {
    mounted = mountPanel(createLegend, { ...widgetState(), graph: null });
    expect(mounted.root.querySelector(".if-legend")).toBe(null);
  });
});
