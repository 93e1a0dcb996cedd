// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEBOUNCE_MS } from "../../src/debounce.js";
import { INTERVENTIONS, createControls, filtersInBrowser } from "../../src/panels/controls.js";
import { mountPanel } from "../panel-harness.js";
import { STRATEGY_MENU, fullGraph, mockModel, widgetState } from "../mock-model.js";

let mounted;
afterEach(() => {
  mounted?.unmount();
  mounted = null;
  vi.useRealTimers();
});
const control = (name) => mounted.root.querySelector(`[data-trait="${name}"]`);
const change = (name, value) => {
  control(name).value = value;
  control(name).dispatchEvent(new Event("change"));
};

describe("controls", () => {
  it("filters in the browser for strategies that keep every edge", () => {
    const model = (strategy) => mockModel({ strategy, strategies: STRATEGY_MENU });
    expect(["full", "backtrack", "split", "attribution", "attribution-then-exact"].map((s) => filtersInBrowser(model(s))))
      .toEqual([true, false, false, true, true]);
    expect(filtersInBrowser(model("unknown"))).toBe(false);
  });

  it("lists the interventions", () => {
    mounted = mountPanel(createControls);
    expect([...control("intervention").options].map((o) => o.value)).toEqual(INTERVENTIONS.map(([v]) => v));
    change("intervention", "crop");
    expect(mounted.model.get("intervention")).toBe("crop");
  });

  it("writes top k as a whole number of at least 0, or null when empty", () => {
    mounted = mountPanel(createControls);
    const written = [];
    for (const v of ["2.6", "-3", ""]) {
      change("top_k", v);
      written.push(mounted.model.get("top_k"));
    }
    expect(written).toEqual([3, 0, null]);
    expect(control("top_k").value).toBe("");
  });

  it("writes an empty answer as null, an empty corrupted prompt as text", () => {
    mounted = mountPanel(createControls);
    change("answer", "");
    change("corrupted_prompt", "");
    expect([mounted.model.get("answer"), mounted.model.get("corrupted_prompt")]).toEqual([null, ""]);
  });

  it("spans the threshold slider over the effects of the graph on show", () => {
    const graph = fullGraph();
    graph.edges[0].effect = "Infinity"; // as Python sends it: not a scale
    mounted = mountPanel(createControls, { ...widgetState(graph), threshold: 0.2 });
    const largest = Math.max(...fullGraph().edges.slice(1).map((e) => Math.abs(e.effect)));
    expect(Number(control("threshold").max)).toBeCloseTo(largest);
    expect(Number(control("threshold").step)).toBeCloseTo(largest / 200);
    expect(Number(control("threshold").value)).toBeCloseTo(0.2, 2);
  });

  it("previews a threshold in the view at once, only where it filters in the browser", () => {
    const move = () => {
      control("threshold").value = "0.5";
      control("threshold").dispatchEvent(new Event("input"));
    };
    mounted = mountPanel(createControls);
    move();
    expect([mounted.ctx.view.threshold, mounted.redraws]).toEqual([0.5, 1]);
    mounted.unmount();
    mounted = mountPanel(createControls, { ...widgetState(), strategy: "backtrack" });
    move();
    expect([mounted.ctx.view.threshold, mounted.redraws]).toEqual([null, 0]);
  });

  it("sends what a slider holds when destroyed, once", () => {
    vi.useFakeTimers();
    mounted = mountPanel(createControls, { ...widgetState(), intervention: "dampen" });
    control("alpha").value = "1.2";
    control("alpha").dispatchEvent(new Event("input"));
    expect(mounted.root.querySelector(".if-alpha output").textContent).toBe("1.20");
    mounted.unmount();
    vi.advanceTimersByTime(2 * DEBOUNCE_MS);
    expect([mounted.model.get("alpha"), mounted.model.saved]).toEqual([1.2, 1]);
    mounted = null;
  });
});
