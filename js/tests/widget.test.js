// @vitest-environment jsdom
import { afterEach, describe, expect, it, vi } from "vitest";
import { DEBOUNCE_MS } from "../src/debounce.js";
import widget from "../src/widget.js";
import {
  estimatedGraph,
  flaggedGraph,
  fullGraph,
  mockModel,
  noiseGraph,
  STRATEGY_MENU,
  savedState,
  widgetState,
} from "./mock-model.js";

let host;
let cleanup;

function mount(state = widgetState()) {
  const model = mockModel(state);
  host = document.createElement("div");
  document.body.append(host);
  cleanup = widget.render({ model, el: host });
  return model;
}

const arcs = () => host.querySelectorAll(".if-arc");
const token = (i) => host.querySelector(`.if-token[data-pos="${i}"]`);
const control = (name) => host.querySelector(`[data-trait="${name}"]`);
const change = (name, value) => {
  control(name).value = value;
  control(name).dispatchEvent(new Event("change"));
};

afterEach(() => {
  cleanup?.();
  host?.remove();
  vi.useRealTimers();
});

describe("drawing", () => {
  it("draws the top-k arcs over a strip of every token, whitespace visible", () => {
    mount();
    expect(arcs().length).toBe(10);
    expect(host.querySelectorAll(".if-token").length).toBe(14);
    expect(token(1).querySelector("text").textContent).toBe("·Mary");
    expect(host.querySelector(".if-header").textContent).toContain("clean metric 3.210");
    expect(host.querySelector(".if-header").textContent).toContain("zero pattern");
    expect(host.querySelector(".if-legend").textContent).toContain("helps the metric");
  });

  it("filters by top-k and threshold in the browser, without writing to Python", () => {
    const model = mount();
    model.set("top_k", 3);
    expect(arcs().length).toBe(3);
    model.set("top_k", null);
    expect(arcs().length).toBe(104); // of 105: the self-edge of position 0 has effect 0, under the noise floor
    const strongest = Math.max(...fullGraph().edges.map((e) => Math.abs(e.effect)));
    model.set("threshold", strongest);
    expect(arcs().length).toBe(1);
  });

  it("previews the threshold at once for a full graph, and writes it once after the debounce", () => {
    vi.useFakeTimers();
    const model = mount();
    model.set("top_k", null);
    const slider = control("threshold");
    for (const v of ["0.1", "0.3", "0.5"]) {
      slider.value = v;
      slider.dispatchEvent(new Event("input"));
    }
    const shown = arcs().length;
    expect(shown).toBeLessThan(105);
    expect(model.saved).toBe(0);
    vi.advanceTimersByTime(DEBOUNCE_MS + 10);
    expect(model.saved).toBe(1);
    expect(model.get("threshold")).toBeCloseTo(Number(slider.value));
    expect(arcs().length).toBe(shown);
  });

  it("debounces alpha: a burst of slider moves is one write", () => {
    vi.useFakeTimers();
    const model = mount({ ...widgetState(), intervention: "dampen" });
    const slider = control("alpha");
    for (const v of ["0.6", "0.9", "1.3"]) {
      slider.value = v;
      slider.dispatchEvent(new Event("input"));
      vi.advanceTimersByTime(100);
    }
    expect(model.saved).toBe(0);
    vi.advanceTimersByTime(DEBOUNCE_MS);
    expect(model.saved).toBe(1);
    expect(model.get("alpha")).toBe(1.3);
  });

  it("redraws when Python sends a new graph", () => {
    const model = mount();
    const before = [...arcs()].map((a) => a.getAttribute("d")).join();
    const other = fullGraph();
    other.edges = other.edges.map((e) => ({ ...e, effect: -e.effect * (e.source + 1) }));
    model.set("graph", other);
    expect([...arcs()].map((a) => a.getAttribute("d")).join()).not.toBe(before);
  });
});

describe("strategies and estimates", () => {
  it("builds the strategy menu from the `strategies` trait, each option titled with its description", () => {
    const model = mount();
    const menu = control("strategy");
    expect([...menu.options].map((o) => o.value)).toEqual(STRATEGY_MENU.map((s) => s.name));
    expect(menu.querySelector("option[value='attribution']").title).toContain("First-order");
    expect(menu.title).toContain("Every pair");
    menu.value = "attribution-then-exact";
    menu.dispatchEvent(new Event("change"));
    expect(model.get("strategy")).toBe("attribution-then-exact");
    expect(menu.title).toContain("k strongest");
    model.set("strategies", [...STRATEGY_MENU, { name: "new-one", description: "added in Python", prunes: true }]);
    expect(menu.querySelector("option[value='new-one']")).not.toBe(null);
    expect(menu.value).toBe("attribution-then-exact");
  });

  it("previews the threshold in the browser for graphs of every edge, not for searches that prune", () => {
    const slider = () => control("threshold");
    const move = () => {
      slider().value = "0.5";
      slider().dispatchEvent(new Event("input"));
    };
    mount({ ...widgetState(estimatedGraph()), strategy: "attribution", top_k: null });
    move();
    expect(arcs().length).toBeLessThan(105);
    cleanup();
    host.remove();
    mount({ ...widgetState(), strategy: "backtrack", top_k: null });
    move();
    expect(arcs().length).toBe(104);
  });

  it("draws estimated edges dashed, says so in the legend, the tooltip and the header", () => {
    mount(widgetState(estimatedGraph()));
    expect([...arcs()].every((a) => a.getAttribute("stroke-dasharray"))).toBe(true);
    expect(host.querySelector(".if-legend").textContent).toContain("dashed: first-order estimate");
    expect(host.querySelector(".if-header").textContent).toContain("every edge is a first-order estimate");
    arcs()[0].dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(host.querySelector(".if-tooltip").textContent).toContain("estimate (first order");
  });

  it("draws verified edges solid, and shows the agreement of a partly estimated graph", () => {
    const model = mount({ ...widgetState(estimatedGraph(fullGraph(), 50)), top_k: null });
    const dashed = [...arcs()].filter((a) => a.hasAttribute("stroke-dasharray"));
    expect(dashed.length).toBe(54); // the 55 estimates less the one of effect 0 (noise)
    const header = host.querySelector(".if-header").textContent;
    expect(header).toContain("50 of 105 edges verified exactly");
    expect(header).toContain("correlation 0.931, top-10 overlap 8 of 10");
    const few = estimatedGraph(fullGraph(), 5);
    few.stats.agreement = { verified: 5, correlation: 0.5, top10_overlap: null }; // all 5 are the top 10
    model.set("graph", few);
    expect(host.querySelector(".if-header").textContent).toMatch(/on 5 verified: correlation 0.500$/);
    expect(host.querySelector(".if-header").textContent).not.toContain("overlap");
    few.stats.verification = { verified: 5, of: 105, stopped: "bound", at_risk: 3 };
    model.set("graph", { ...few });
    expect(host.querySelector(".if-header").textContent).toContain("top 10 not certain: 3 unverified estimates could");
    model.set("graph", { ...few, stats: { ...few.stats, verification: { ...few.stats.verification, at_risk: 0 } } });
    expect(host.querySelector(".if-header").textContent).toContain("top 10 settled");
    model.set("graph", fullGraph());
    expect([...arcs()].some((a) => a.hasAttribute("stroke-dasharray"))).toBe(false);
    expect(host.querySelector(".if-legend").textContent).not.toContain("dashed");
    expect(host.querySelector(".if-header .if-estimate").textContent).toBe(""); // its room is kept
    const solid = [...arcs()][0];
    solid.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(host.querySelector(".if-tooltip").textContent).toContain("exact (measured)");
  });

  it("keeps an estimate shown while the exact values compute undimmed, unlike a stale exact graph", () => {
    const estimate = estimatedGraph();
    estimate.provenance = { ...estimate.provenance, estimate: true };
    const model = mount(widgetState(estimate));
    const root = host.querySelector(".if-root");
    model.set("status", "estimate shown; computing exact values…");
    model.set("computing", true);
    expect(root.classList.contains("if-computing")).toBe(true);
    expect(root.classList.contains("if-preview")).toBe(true);
    model.set("graph", fullGraph()); // the exact graph arrives while a newer computation runs
    expect(root.classList.contains("if-preview")).toBe(false);
    model.set("computing", false);
    expect(root.classList.contains("if-computing")).toBe(false);
  });

  it("reads non-finite effects sent as strings and still draws", () => {
    const graph = fullGraph();
    graph.edges[0].effect = "NaN";
    graph.edges[1].effect = "Infinity";
    graph.clean_metric = "-Infinity";
    mount({ ...widgetState(graph), top_k: null });
    expect(arcs().length).toBe(105);
    expect(host.querySelector(".if-header").textContent).toContain("clean metric -Infinity");
    const infinite = [...arcs()].find((a) => a.dataset.rank === "1");
    infinite.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(host.querySelector(".if-tooltip").textContent).toContain("+Infinity");
  });
});

describe("interaction", () => {
  it("hovering a token highlights its arcs and dims the rest", () => {
    mount();
    const svg = host.querySelector("svg");
    token(13).dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(svg.classList.contains("if-focus")).toBe(true);
    const hot = host.querySelectorAll(".if-arc.if-hot");
    expect(hot.length).toBeGreaterThan(0);
    for (const arc of hot) expect([arc.dataset.source, arc.dataset.target]).toContain("13:14");
  });

  it("hovering an arc shows source, target, effect and rank", () => {
    mount();
    const arc = [...arcs()].find((a) => a.dataset.rank === "1");
    arc.dispatchEvent(new MouseEvent("mouseover", { bubbles: true, clientX: 10, clientY: 10 }));
    const tip = host.querySelector(".if-tooltip");
    expect(tip.hidden).toBe(false);
    expect(tip.textContent).toContain("rank1 of 105");
    const pos = Number(arc.dataset.source.split(":")[0]);
    expect(tip.textContent).toContain(`source${pos} ${fullGraph().tokens[pos].replace(/ /g, "·")}`);
    const ends = [...host.querySelectorAll(".if-token.if-end")].map(
      (t) => `${t.dataset.pos}:${Number(t.dataset.pos) + 1}`,
    );
    expect(ends.sort()).toEqual([...new Set([arc.dataset.source, arc.dataset.target])].sort());
    arc.dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));
    expect(host.querySelectorAll(".if-token.if-end").length).toBe(0);
  });

  it("hovering a span arc outlines every token of both spans", () => {
    const graph = fullGraph();
    graph.nodes = [
      { start: 0, end: 7, label: "0:7" },
      { start: 7, end: 14, label: "7:14" },
    ];
    graph.edges = [{ source: 0, target: 1, effect: 0.8, level: 0 }];
    mount(widgetState(graph));
    arcs()[0].dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(host.querySelectorAll(".if-token.if-end").length).toBe(14);
  });

  it("clicking a token pins it in the `selected` trait; clicking again unpins", () => {
    const model = mount();
    token(4).dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected")).toBe(4);
    expect(host.querySelector("svg").classList.contains("if-focus")).toBe(true);
    token(4).dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.get("selected")).toBe(null);
  });

  it("clicking a span arc asks Python to expand it and shows the answer, with a way back", () => {
    const graph = fullGraph();
    graph.nodes = [
      { start: 0, end: 7, label: "0:7" },
      { start: 7, end: 14, label: "7:14" },
    ];
    graph.edges = [
      { source: 0, target: 1, effect: 0.8, level: 0 },
      { source: 1, target: 1, effect: -0.2, level: 0 },
    ];
    const model = mount(widgetState(graph));
    expect(host.querySelectorAll(".if-bracket").length).toBe(2);
    expect(host.querySelector(".if-bracket text").textContent).toBe("0–6");
    const arc = [...arcs()].find((a) => a.dataset.source === "0:7");
    arc.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.sent).toEqual([{ type: "expand", source: 0, target: 1, level: 0, request: expect.any(String) }]);
    const { request } = model.sent[0];
    model.emit("msg:custom", { type: "expanded", level: 0, request: "another view:1", graph: fullGraph() });
    expect(host.querySelectorAll(".if-bracket").length).toBe(2); // not this view's request
    model.emit("msg:custom", { type: "expanded", level: 0, request, graph: fullGraph() });
    expect(host.querySelectorAll(".if-bracket").length).toBe(0);
    const back = [...host.querySelectorAll("button")].find((b) => b.textContent.includes("back"));
    expect(back.hidden).toBe(false);
    back.click();
    expect(host.querySelectorAll(".if-bracket").length).toBe(2);
  });
});

describe("review fixes", () => {
  const spanGraph = () => {
    const graph = fullGraph();
    graph.nodes = [
      { start: 0, end: 7, label: "0:7" },
      { start: 7, end: 14, label: "7:14" },
    ];
    graph.edges = [
      { source: 0, target: 1, effect: 0.8, level: 0 },
      { source: 1, target: 1, effect: -0.2, level: 0 },
    ];
    return graph;
  };

  it("draws only the answer to the latest click: a slower answer to an earlier one is dropped", () => {
    const model = mount(widgetState(spanGraph()));
    const [first, second] = [...arcs()];
    first.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    second.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    const [a, b] = model.sent.map((m) => m.request);
    expect(a).not.toBe(b);
    const inner = fullGraph();
    inner.provenance = { ...inner.provenance, expanded_from: { source: "first" } };
    model.emit("msg:custom", { type: "expanded", level: 0, request: a, graph: inner });
    expect(host.querySelector(".if-drill")).toBe(null);
    inner.provenance = { ...inner.provenance, expanded_from: { source: "second" } };
    model.emit("msg:custom", { type: "expanded", level: 0, request: b, graph: inner });
    expect(host.querySelector(".if-drill").textContent).toContain('"second"');
  });

  it("hides the tooltip when the arc under it is redrawn away", () => {
    const model = mount();
    arcs()[0].dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const tooltip = host.querySelector(".if-tooltip");
    expect(tooltip.hidden).toBe(false);
    model.set("graph", fullGraph());
    expect(tooltip.hidden).toBe(true);
  });

  it("reaches tokens and arcs from the keyboard: focus shows, Enter acts", () => {
    const model = mount();
    const arc = arcs()[0];
    expect(arc.getAttribute("tabindex")).toBe("0");
    expect(arc.getAttribute("aria-label")).toMatch(/^edge from \d+ \S+ to \d+ \S+, effect [+-]/);
    arc.dispatchEvent(new FocusEvent("focusin", { bubbles: true }));
    expect(host.querySelector(".if-tooltip").hidden).toBe(false);
    token(3).dispatchEvent(new KeyboardEvent("keydown", { key: "Enter", bubbles: true }));
    expect(model.get("selected")).toBe(3);
  });

  it("sends the last slider value when the view closes within the debounce", () => {
    vi.useFakeTimers();
    const model = mount({ ...widgetState(), intervention: "dampen" });
    const alpha = control("alpha");
    alpha.value = "1.5";
    alpha.dispatchEvent(new Event("input"));
    cleanup();
    cleanup = null;
    vi.advanceTimersByTime(DEBOUNCE_MS * 2);
    expect(model.get("alpha")).toBe(1.5);
  });
});

describe("status", () => {
  it("shows progress while computing and the error text", () => {
    const model = mount();
    model.set("computing", true);
    model.set("progress", 0.5);
    model.set("status", "full graph: 50 of 105 edges");
    expect(host.querySelector(".if-progress-fill").style.width).toBe("50%");
    expect(host.querySelector(".if-status-text").textContent).toContain("50 of 105");
    const error = host.querySelector(".if-error");
    expect(error.hidden).toBe(true);
    model.set("error", "The corrupted prompt is 12 tokens but the clean prompt is 14");
    expect(error.hidden).toBe(false);
    expect(error.textContent).toContain("12 tokens");
  });

  it("shows the corrupted-prompt box only for Corrupt, alpha only for Dampen", () => {
    const model = mount();
    const corrupted = control("corrupted_prompt").closest("label");
    const alpha = control("alpha").closest("label");
    expect(corrupted.hidden).toBe(true);
    model.set("intervention", "corrupt");
    expect(corrupted.hidden).toBe(false);
    expect(alpha.hidden).toBe(true);
    model.set("intervention", "dampen");
    expect(alpha.hidden).toBe(false);
  });

  it("removes every listener when the view goes away", () => {
    const model = mount();
    cleanup();
    cleanup = null;
    expect(model.listeners()).toBe(0);
  });
});

describe("wiring", () => {
  it("lays the panels out in order, the downloads at the right of the toolbar", () => {
    mount();
    const root = host.querySelector(".if-root");
    expect([...root.children].map((c) => c.className)).toEqual([
      "if-header",
      "if-controls",
      "if-prompts",
      "if-status",
      "if-error",
      "if-toolbar",
      "if-canvas",
      "",
      "if-anatomy",
      "if-tooltip",
    ]);
    expect(root.querySelector(".if-prompts").hidden).toBe(true); // the prompt stepper: only for a prompt set
    expect(root.children[7].firstChild.className).toBe("if-legend");
    const toolbar = [...host.querySelectorAll(".if-toolbar button")].map((b) => b.textContent);
    expect(toolbar).toEqual(["← back", "−", "+", "×", "SVG", "PNG", "JSON"]); // ×: the pin chip's (hidden until a pin)
  });

  it("waits for the first graph without a way back, then draws it", () => {
    const model = mount({ ...widgetState(), graph: null, computing: true });
    expect(host.querySelector(".if-header").textContent).toBe("Computing the first graph…");
    expect(host.querySelector("button[title='Back to the span graph']").hidden).toBe(true);
    expect(arcs().length).toBe(0);
    model.set("graph", fullGraph());
    model.set("computing", false);
    expect(arcs().length).toBe(10);
    expect(host.querySelector(".if-header").textContent).toContain("10 shown");
  });

  it("zooms and wraps from the toolbar, redrawing every panel", () => {
    mount();
    const width = () => Number(host.querySelector("svg").getAttribute("width"));
    const before = width();
    host.querySelector("button[title='Zoom in']").click();
    expect(width()).toBeGreaterThan(before);
    arcs()[0].dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    host.querySelector("button[title='Zoom out']").click();
    expect(width()).toBe(before);
    expect(host.querySelector(".if-tooltip").hidden).toBe(true);
  });
});

// Issue 16: what a first-time reader sees.
describe("noise is not evidence (issue 16, item 1)", () => {
  it("draws no arc when every effect is numerical noise, and says so in the drawing and the legend", () => {
    mount({ ...widgetState(noiseGraph()), top_k: null });
    expect(arcs().length).toBe(0);
    expect(host.querySelector(".if-drawing-note").textContent).toBe(
      "No edge changes the metric measurably (all |effect| < 3.2e-4)",
    );
    const legend = host.querySelector(".if-legend").textContent;
    expect(legend).toContain("not drawn: |effect| < 3.2e-4, numerical noise (105 edges)");
    expect(host.querySelector(".if-header").textContent).toContain("105 edges measured, 0 shown");
    // The note is part of the SVG, so SVG and PNG downloads carry it; the drawing is wide enough for it.
    const svg = host.querySelector(".if-canvas svg");
    expect(svg.contains(host.querySelector(".if-drawing-note"))).toBe(true);
    expect(Number(svg.getAttribute("width"))).toBeGreaterThan(7 * 60);
  });

  it("scales widths against the clean metric: small effects draw thin, faint arcs, whatever the largest", () => {
    const graph = fullGraph();
    graph.edges = graph.edges.map((e) => ({ ...e, effect: e.effect / 100 })); // |effect| <= 0.01 of a clean metric of 3.21
    mount(widgetState(graph));
    const widths = [...arcs()].map((a) => Number(a.getAttribute("stroke-width")));
    expect(Math.max(...widths)).toBeLessThan(0.8); // minWidth 0.75 + 4.75 x 0.3%
    expect(Math.max(...[...arcs()].map((a) => Number(a.getAttribute("stroke-opacity"))))).toBeLessThan(0.2);
    expect(host.querySelector(".if-legend").textContent).toContain(
      "|effect| relative to 3.21 (the clean metric's magnitude)",
    );
  });

  it("scales against the largest effect drawn when the clean metric is 0 (KL divergence)", () => {
    const graph = { ...fullGraph(), clean_metric: 0 };
    mount(widgetState(graph));
    const widths = [...arcs()].map((a) => Number(a.getAttribute("stroke-width")));
    expect(Math.max(...widths)).toBeCloseTo(5.5);
    expect(host.querySelector(".if-legend").textContent).toContain("(the largest |effect| drawn)");
  });

  it("follows the engine's noise floor", () => {
    const graph = noiseGraph();
    graph.stats = { ...graph.stats, noise_floor: 1e-7 };
    mount({ ...widgetState(graph), top_k: null });
    expect(arcs().length).toBe(105);
    expect(host.querySelector(".if-drawing-note")).toBe(null);
  });
});

describe("a saved page (issue 16, item 3)", () => {
  const kernelControls = ["intervention", "alpha", "strategy", "answer", "distractor", "corrupted_prompt"];
  const savedGraph = () => {
    const graph = fullGraph();
    graph.provenance = {
      ...graph.provenance,
      intervention: { kind: "dampen", alpha: 1 },
      intervention_text: "dampen: alpha = 1",
    };
    return graph;
  };

  it("disables the controls that need a kernel, saying why; top k and the threshold filter stay live", () => {
    const model = mount({ ...savedState(savedGraph()), alpha: 0, top_k: null });
    for (const name of kernelControls) {
      expect(control(name).disabled, name).toBe(true);
      expect(control(name).title).toBe("needs a running kernel: this is a saved page");
      expect(control(name).closest("label").title).toBe("needs a running kernel: this is a saved page");
    }
    expect([control("top_k").disabled, control("threshold").disabled]).toEqual([false, false]);
    change("top_k", "3");
    expect(arcs().length).toBe(3);
    expect(host.querySelector(".if-root").classList.contains("if-offline")).toBe(true);
    // The controls show what the saved graph was computed with, as the header does.
    expect(control("intervention").value).toBe("dampen");
    expect(control("alpha").value).toBe("1");
    expect(model.get("alpha")).toBe(1);
    expect(host.querySelector(".if-header").textContent).toContain("dampen: alpha = 1");
  });

  it("disables a threshold that prunes a search, showing the one the search ran with", () => {
    const graph = fullGraph();
    graph.provenance = { ...graph.provenance, strategy: { name: "backtrack" }, threshold: 0.1 };
    const model = mount({ ...savedState(graph), strategy: "full", threshold: 0.4 });
    expect(control("strategy").value).toBe("backtrack");
    expect(control("threshold").disabled).toBe(true);
    expect(model.get("threshold")).toBe(0.1);
  });

  it("tells a page saved before the _offline flag by its status line", () => {
    mount(savedState(fullGraph(), false));
    expect(control("alpha").disabled).toBe(true);
  });

  it("asks no kernel to drill into a span: the tooltip says why", () => {
    const graph = fullGraph();
    graph.nodes = [
      { start: 0, end: 7, label: "0:7" },
      { start: 7, end: 14, label: "7:14" },
    ];
    graph.edges = [{ source: 0, target: 1, effect: 0.8, level: 0 }];
    const model = mount(savedState(graph));
    arcs()[0].dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(host.querySelector(".if-hint").textContent).toBe(
      "measuring inside a span needs a running kernel: this is a saved page",
    );
    arcs()[0].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(model.sent).toEqual([]);
  });

  it("leaves the controls of a live widget enabled", () => {
    mount();
    for (const name of kernelControls) expect(control(name).disabled, name).toBe(false);
  });
});

describe("labels a reader can read (issue 16, item 4)", () => {
  it("names token ends by position and text, span ends by range, never by slice", () => {
    mount({ ...widgetState(), top_k: null });
    for (const arc of arcs()) {
      arc.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
      const text = host.querySelector(".if-tooltip").textContent;
      expect(text).not.toMatch(/\d+:\d+/);
      arc.dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));
    }
    const arc = [...arcs()].find((a) => a.dataset.source === "1:2");
    arc.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(host.querySelector(".if-tooltip").textContent).toContain("source1 ·Mary");
  });

  it("names span ends by their range and text, in the tooltip and the drill-down's header", () => {
    const graph = fullGraph();
    graph.nodes = [
      { start: 0, end: 7, label: "0:7" },
      { start: 7, end: 14, label: "7:14" },
    ];
    graph.edges = [{ source: 0, target: 1, effect: 0.8, level: 0 }];
    const model = mount(widgetState(graph));
    arcs()[0].dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const tip = host.querySelector(".if-tooltip").textContent;
    expect(tip).toContain("source0–6 ‘When·Mary·and·John·went·to·the’");
    expect(tip).toContain("target7–13 ‘·store,·John·gave·a·book·to’");
    arcs()[0].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    const inner = {
      ...fullGraph(),
      provenance: { ...fullGraph().provenance, expanded_from: { name: "span-pair", source: "0:7", target: "7:14" } },
    };
    model.emit("msg:custom", { type: "expanded", level: 0, request: model.sent[0].request, graph: inner });
    expect(host.querySelector(".if-drill").textContent).toBe(
      "inside span edge 0–6 ‘When·Mary·and·John·went·to·the’ → 7–13 ‘·store,·John·gave·a·book·to’",
    );
  });

  it("explains the whitespace marks of the strip in the legend", () => {
    mount(widgetState(fullGraph(["a", " b", "\n", "c"])));
    expect(host.querySelector(".if-marks").textContent).toBe("in tokens: · a space, ↵ a newline");
    cleanup();
    host.remove();
    mount(widgetState(fullGraph(["a", "b"])));
    expect(host.querySelector(".if-marks")).toBe(null);
  });

  it("says what strong arcs from the first position and between neighbours usually mean", () => {
    const graph = fullGraph();
    graph.edges = graph.edges.map((e) => ({
      ...e,
      effect: e.source === 0 && e.target > 0 ? 2 + e.target / 100 : e.effect / 10,
    }));
    mount(widgetState(graph));
    const note = host.querySelector(".if-note[data-kind='sink']");
    expect(note.textContent).toContain("attention sink");
    expect(note.textContent).toContain("hemorrhage");
    const fromFirst = [...arcs()].find((a) => a.dataset.source === "0:1" && a.dataset.target !== "0:1");
    fromFirst.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(host.querySelector(".if-arc-note").textContent).toContain("attention sink");
    cleanup();
    host.remove();

    const local = fullGraph();
    local.edges = local.edges.map((e) => ({
      ...e,
      effect: e.target === e.source + 1 ? 1 + e.source / 100 : e.effect / 10,
    }));
    mount(widgetState(local));
    expect(host.querySelector(".if-note[data-kind='local']").textContent).toContain("previous-token");
    expect(host.querySelector(".if-note[data-kind='sink']")).toBe(null);
  });

  it("lists an edge's trust flags in its tooltip, when it has some", () => {
    const graph = fullGraph();
    const strongest = graph.edges.reduce(
      (best, e, i) => (Math.abs(e.effect) > Math.abs(graph.edges[best].effect) ? i : best),
      0,
    );
    graph.edges[strongest].flags = ["sink-source", { name: "hemorrhage", detail: "the metric collapses" }];
    mount(widgetState(graph));
    const arc = [...arcs()].find((a) => a.dataset.rank === "1");
    arc.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const rows = [...host.querySelectorAll(".if-tooltip .if-flags")].map((row) => row.textContent);
    expect(rows).toEqual(["flagsink-source", "flaghemorrhage: the metric collapses"]); // one line per flag; unknown ones as they are
    expect(host.querySelector(".if-note[data-kind='flags']")).not.toBe(null);
    arc.dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));
    const other = [...arcs()].find((a) => a.dataset.rank === "2");
    other.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    expect(host.querySelector(".if-tooltip .if-flags")).toBe(null);
  });
});

describe("a pin belongs to its graph (issue 16, item 5)", () => {
  const chip = () => host.querySelector(".if-pin");

  it("shows a pinned token as a chip that unpins it", () => {
    const model = mount();
    expect(chip().hidden).toBe(true);
    token(4).dispatchEvent(new MouseEvent("click", { bubbles: true }));
    expect(chip().hidden).toBe(false);
    expect(chip().textContent).toBe("pinned: token 4 ·went×");
    chip().querySelector("button").click();
    expect(model.get("selected")).toBe(null);
    expect(chip().hidden).toBe(true);
    expect(host.querySelector("svg").classList.contains("if-focus")).toBe(false);
  });

  it("unpins when a new graph arrives, redrawing once", () => {
    const model = mount();
    token(4).dispatchEvent(new MouseEvent("click", { bubbles: true }));
    const saved = model.saved;
    const other = fullGraph();
    other.edges = other.edges.map((e) => ({ ...e, effect: -e.effect }));
    model.set("graph", other);
    expect(model.get("selected")).toBe(null);
    expect(model.saved).toBe(saved + 1);
    expect(chip().hidden).toBe(true);
    expect(host.querySelector("svg").classList.contains("if-focus")).toBe(false);
    expect(arcs().length).toBe(10);
  });

  it("unpins when a drill-down opens and when it closes", () => {
    const graph = fullGraph();
    graph.nodes = [
      { start: 0, end: 7, label: "0:7" },
      { start: 7, end: 14, label: "7:14" },
    ];
    graph.edges = [{ source: 0, target: 1, effect: 0.8, level: 0 }];
    const model = mount(widgetState(graph));
    token(2).dispatchEvent(new MouseEvent("click", { bubbles: true }));
    arcs()[0].dispatchEvent(new MouseEvent("click", { bubbles: true }));
    model.emit("msg:custom", { type: "expanded", level: 0, request: model.sent[0].request, graph: fullGraph() });
    expect(model.get("selected")).toBe(null);
    expect(arcs().length).toBe(10);
    expect([...arcs()].every((a) => !a.classList.contains("if-hot"))).toBe(true);
    token(5).dispatchEvent(new MouseEvent("click", { bubbles: true }));
    host.querySelector("button[title='Back to the span graph']").click();
    expect(model.get("selected")).toBe(null);
    expect(host.querySelectorAll(".if-bracket").length).toBe(2);
  });
});

describe("nothing shifts (issue 16, item 6)", () => {
  it("keeps the room of the alpha field and of the estimates line", () => {
    const model = mount();
    expect(control("alpha").closest("label").classList.contains("if-reserve")).toBe(true);
    const estimate = host.querySelector(".if-header .if-estimate");
    expect(estimate.textContent).toBe("");
    model.set("graph", estimatedGraph());
    expect(host.querySelector(".if-header .if-estimate").textContent).toContain("first-order estimate");
  });
});

describe("trust flags (issue 10)", () => {
  it("outlines flagged arcs, says why on hover, and hides them from the toolbar in a saved page, the count kept", () => {
    const model = mount(savedState(flaggedGraph()));
    const box = host.querySelector(".if-toolbar .if-hide-flagged");
    expect(box.hidden).toBe(false);
    expect(box.textContent).toBe(" hide flagged (2)");
    expect(host.querySelectorAll(".if-flag-outline").length).toBe(2);
    expect(host.querySelector(".if-legend .if-flagged")).not.toBe(null);
    const strongest = [...arcs()].find((a) => a.dataset.rank === "1");
    strongest.dispatchEvent(new MouseEvent("mouseover", { bubbles: true }));
    const reasons = [...host.querySelectorAll(".if-tooltip .if-flags")].map((row) => row.textContent);
    expect(reasons).toEqual([
      "flagsource is an attention sink (receives 45% of attention): cutting it tends to break the model — “hemorrhage”",
      "flagdamage 2.3 nats: far above edges of similar effect",
    ]);
    strongest.dispatchEvent(new MouseEvent("mouseout", { bubbles: true }));

    const input = box.querySelector("input");
    input.checked = true;
    input.dispatchEvent(new Event("change"));
    expect(arcs().length).toBe(8);
    expect(host.querySelectorAll(".if-flag-outline").length).toBe(0);
    expect(box.textContent).toBe(" hide flagged (2)");
    expect(host.querySelector(".if-legend").textContent).toContain("not drawn: 2 flagged arcs (hide flagged)");
    // The choice belongs to the view: it survives top-k and a new graph, and no trait carries it.
    model.set("top_k", 12);
    expect(arcs().length).toBe(9);
    expect(box.textContent).toBe(" hide flagged (3)");
    model.set("graph", fullGraph());
    expect(box.hidden).toBe(true);
    expect(arcs().length).toBe(12);
    expect(Object.keys(model).some((k) => /flag/i.test(k))).toBe(false);
  });
});
