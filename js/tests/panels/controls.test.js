// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEBOUNCE_MS } from "../../src/debounce.js";
import {
  AUTO_TITLE,
  createControls,
  filtersInBrowser,
  interventionParameters,
  savedParameters,
} from "../../src/panels/controls.js";
import { fullGraph, INTERVENTION_MENU, mockModel, STRATEGY_MENU, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

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
    expect(
      ["full", "backtrack", "split", "attribution", "attribution-then-exact"].map((s) => filtersInBrowser(model(s))),
    ).toEqual([true, false, false, true, true]);
    expect(filtersInBrowser(model("unknown"))).toBe(false);
  });

  it("lists the interventions Python sends, each titled with its description", () => {
    mounted = mountPanel(createControls);
    const options = [...control("intervention").options];
    expect(options.map((o) => o.value)).toEqual(INTERVENTION_MENU.map((i) => i.name));
    expect(options.map((o) => o.title)).toEqual(INTERVENTION_MENU.map((i) => i.description));
    change("intervention", "crop");
    expect([mounted.model.get("intervention"), control("intervention").title]).toEqual([
      "crop",
      INTERVENTION_MENU[2].description,
    ]);
  });

  it("shows a parameter's field when the chosen intervention takes it, whatever its name", () => {
    const menu = [...INTERVENTION_MENU, { name: "scale", description: "Scale by alpha.", parameters: { alpha: 1 } }];
    mounted = mountPanel(createControls, { ...widgetState(), interventions: menu });
    const [alpha, corrupted] = [".if-alpha", ".if-corrupted"].map((cls) => mounted.root.querySelector(cls));
    const shown = () => [!alpha.hidden, !corrupted.hidden];
    expect(shown()).toEqual([false, false]);
    for (const [name, expected] of [
      ["scale", [true, false]],
      ["corrupt", [false, true]],
      ["dampen", [true, false]],
      ["crop", [false, false]],
    ]) {
      change("intervention", name);
      expect(shown()).toEqual(expected);
    }
    expect(interventionParameters(mounted.model)).toEqual({});
    mounted.model.set("interventions", [{ name: "crop", description: "", parameters: { alpha: 0 } }]); // a new menu
    expect(shown()).toEqual([true, false]);
  });

  it("keeps a value the menu lacks, and an empty menu, selectable", () => {
    mounted = mountPanel(createControls, { ...widgetState(), interventions: undefined, intervention: "dampen" });
    expect([...control("intervention").options].map((o) => o.value)).toEqual(["dampen"]);
    expect(control("intervention").value).toBe("dampen");
    mounted.model.set("interventions", INTERVENTION_MENU);
    expect(control("intervention").options.length).toBe(4);
    expect(mounted.root.querySelector(".if-alpha").hidden).toBe(false);
  });

  it("lists the strategies Python sends", () => {
    mounted = mountPanel(createControls);
    expect([...control("strategy").options].map((o) => o.value)).toEqual(STRATEGY_MENU.map((s) => s.name));
    change("strategy", "backtrack");
    expect([mounted.model.get("strategy"), control("strategy").title]).toEqual([
      "backtrack",
      STRATEGY_MENU[1].description,
    ]);
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

  it("puts auto in the corrupted-prompt box with its button: generated prompts (Corrupt.auto)", () => {
    mounted = mountPanel(createControls, { ...widgetState(), intervention: "corrupt" });
    const auto = mounted.root.querySelector('[data-control="corrupt-auto"]');
    expect(auto.closest(".if-corrupted")).not.toBe(null);
    expect(auto.title).toBe(AUTO_TITLE);
    auto.click();
    expect([mounted.model.get("corrupted_prompt"), control("corrupted_prompt").value]).toEqual(["auto", "auto"]);
  });

  it("spans the threshold slider over the effects of the graph on show", () => {
    const graph = fullGraph();
    graph.edges[0].effect = "Infinity"; // as Python sends it: not a scale
    mounted = mountPanel(createControls, { ...widgetState(graph), threshold: 0.2 });
    const largest = Math.max(
      ...fullGraph()
        .edges.slice(1)
        .map((e) => Math.abs(e.effect)),
    );
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

describe("controls in a saved page (issue 16)", () => {
  const saved = (graph = fullGraph(), extra = {}) => ({ ...widgetState(graph), _offline: true, ...extra });

  it("reads the parameters a graph was computed with from its provenance", () => {
    const graph = fullGraph();
    graph.provenance = {
      ...graph.provenance,
      intervention: { kind: "dampen", alpha: 1 },
      strategy: { name: "bisect", max_depth: 3 },
      threshold: 0.2,
    };
    expect(savedParameters(graph)).toEqual({ intervention: "dampen", alpha: 1, strategy: "bisect", threshold: 0.2 });
    graph.provenance.intervention = { kind: "corrupt", corrupted_prompt: "x y" };
    expect(savedParameters(graph)).toMatchObject({ intervention: "corrupt", corrupted_prompt: "x y" });
    graph.provenance.intervention = { kind: "corrupt", corrupted_prompt: "auto", n: 4, seed: 0 }; // Corrupt.auto()
    expect(savedParameters(graph)).toMatchObject({ intervention: "corrupt", corrupted_prompt: "auto" });
    expect(savedParameters({ provenance: {} })).toEqual({});
    expect(savedParameters(null)).toEqual({});
  });

  it("reads a consensus graph as the consensus entry, with its Dampen's alpha and its corrupted prompt", () => {
    const graph = fullGraph();
    const compared = [{ kind: "zero" }, { kind: "dampen", alpha: 0.3 }, { kind: "knockout" }];
    graph.provenance = { ...graph.provenance, intervention: { kind: "zero" }, consensus: { interventions: compared } };
    expect(savedParameters(graph)).toMatchObject({ intervention: "consensus", alpha: 0.3 });
    expect(savedParameters(graph)).not.toHaveProperty("corrupted_prompt");
    graph.provenance.consensus.interventions = [...compared, { kind: "corrupt", corrupted_prompt: "x y" }];
    expect(savedParameters(graph)).toMatchObject({ intervention: "consensus", alpha: 0.3, corrupted_prompt: "x y" });
    graph.provenance.consensus = { interventions: "not a list" };
    expect(savedParameters(graph)).toMatchObject({ intervention: "consensus" });
  });

  it("disables what recomputes, titled why, and keeps top k and a browser threshold live", () => {
    mounted = mountPanel(createControls, saved());
    const disabled = [...mounted.root.querySelectorAll("input, select")]
      .filter((i) => i.disabled)
      .map((i) => i.dataset.trait);
    expect(disabled.sort()).toEqual(["alpha", "answer", "corrupted_prompt", "distractor", "intervention", "strategy"]);
    expect(mounted.root.querySelector('[data-control="corrupt-auto"]').disabled).toBe(true);
    for (const label of mounted.root.querySelectorAll(".if-needs-kernel"))
      expect(label.title).toBe("needs a running kernel: this is a saved page");
    change("top_k", "4");
    expect(mounted.model.get("top_k")).toBe(4);
    control("threshold").value = "0.5";
    control("threshold").dispatchEvent(new Event("input"));
    expect(mounted.ctx.view.threshold).toBe(0.5);
  });

  it("shows the saved graph's parameters, not traits that moved after it was computed", () => {
    const graph = fullGraph();
    graph.provenance = { ...graph.provenance, intervention: { kind: "dampen", alpha: 1 } };
    mounted = mountPanel(createControls, saved(graph, { intervention: "zero", alpha: 0 }));
    expect(control("intervention").value).toBe("dampen");
    expect(Number(control("alpha").value)).toBe(1);
    expect(mounted.root.querySelector(".if-alpha output").textContent).toBe("1.00");
    expect(mounted.root.querySelector(".if-alpha").hidden).toBe(false);
  });

  it("keeps the room of alpha while it is hidden; the corrupted prompt, last, needs none", () => {
    mounted = mountPanel(createControls);
    const [alpha, corrupted] = [".if-alpha", ".if-corrupted"].map((cls) => mounted.root.querySelector(cls));
    expect([alpha.hidden, alpha.classList.contains("if-reserve")]).toEqual([true, true]);
    expect([corrupted.hidden, corrupted.classList.contains("if-reserve")]).toEqual([true, false]);
    expect(mounted.root.querySelector(".if-controls").lastElementChild).toBe(corrupted);
  });
});
