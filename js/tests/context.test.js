import { describe, expect, it, vi } from "vitest";
import { clearPin, createContext, createHub, frameOf, isOffline, shownGraph, WRAP_FROM } from "../src/context.js";
import { flaggedGraph, fullGraph, mockModel, noiseGraph, widgetState } from "./mock-model.js";

describe("hub", () => {
  it("calls each handler of an event with its arguments, until it is taken off or the hub cleared", () => {
    const hub = createHub();
    const a = vi.fn();
    const b = vi.fn();
    const off = hub.on("x", a);
    hub.on("x", b);
    hub.emit("x", 1, 2);
    expect(a).toHaveBeenCalledWith(1, 2);
    off();
    hub.emit("x");
    expect(a).toHaveBeenCalledTimes(1);
    expect(b).toHaveBeenCalledTimes(2);
    hub.clear();
    hub.emit("x");
    expect(b).toHaveBeenCalledTimes(2);
    hub.emit("nobody listens");
  });
});

describe("context", () => {
  it("takes every model listener of `watch` off when destroyed, and clears the hub", () => {
    const model = mockModel(widgetState());
    const ctx = createContext(model, null, () => {});
    const heard = vi.fn();
    ctx.watch("change:alpha", heard);
    ctx.hub.on("error", heard);
    model.set("alpha", 1);
    expect(heard).toHaveBeenCalledTimes(1);
    ctx.destroy();
    expect(model.listeners()).toBe(0);
    ctx.hub.emit("error", "late");
    expect(heard).toHaveBeenCalledTimes(1);
  });

  it("reads non-finite effects of the first graph", () => {
    const graph = fullGraph();
    graph.edges[0].effect = "NaN";
    const ctx = createContext(mockModel(widgetState(graph)), null, () => {});
    expect(Number.isNaN(ctx.view.graph.edges[0].effect)).toBe(true);
  });
});

describe("frameOf", () => {
  const context = (state = widgetState()) => createContext(mockModel(state), null, () => {});

  it("keeps the edges of threshold and top-k, ranked, scaled against the clean metric", () => {
    const ctx = context();
    const frame = frameOf(ctx);
    expect(frame.edges.length).toBe(10);
    expect(frame.edges.map((e) => e.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    // Every effect is under the clean metric's 3.21: that is the width scale.
    expect(frame.scale).toEqual({ value: 3.21, basis: "clean" });
    expect(frame.maxAbs).toBe(3.21);
    ctx.model.set("top_k", null);
    ctx.model.set("threshold", Math.abs(frame.edges[0].effect));
    expect(frameOf(ctx).edges.length).toBe(1);
  });

  it("prefers a threshold previewed in the browser to the trait", () => {
    const ctx = context({ ...widgetState(), top_k: null });
    ctx.view.threshold = 10;
    expect(frameOf(ctx).edges.length).toBe(0);
    ctx.view.threshold = null;
    expect(frameOf(ctx).edges.length).toBe(104); // of 105: the self-edge of position 0 has effect 0, noise
  });

  it("shows the innermost drill-down, and says how deep it is", () => {
    const ctx = context();
    const inner = fullGraph(["a", "b"]);
    ctx.view.drilled.push(inner);
    const frame = frameOf(ctx);
    expect(frame.graph).toBe(inner);
    expect(shownGraph(ctx.view)).toBe(inner);
    expect(frame.depth).toBe(1);
  });

  it(`wraps prompts of ${WRAP_FROM} tokens or more unless the wrap box says otherwise`, () => {
    const long = fullGraph(Array.from({ length: WRAP_FROM }, (_, i) => `t${i}`));
    expect(frameOf(context(widgetState(long))).wrap).toBe(true);
    expect(frameOf(context()).wrap).toBe(false);
    const ctx = context();
    ctx.view.wrap = true;
    expect(frameOf(ctx).wrap).toBe(true);
  });

  it("has no graph and no edges before the first graph", () => {
    const frame = frameOf(context({ ...widgetState(), graph: null, selected: 3 }));
    expect(frame).toMatchObject({ graph: null, edges: [], maxAbs: 0, depth: 0, selected: 3 });
    expect(frame).toMatchObject({ flagged: 0, hiddenFlagged: 0 });
  });

  it("counts the flagged edges on show, and leaves them out while `hideFlagged` is set, ranks kept (issue 10)", () => {
    const ctx = context(widgetState(flaggedGraph()));
    expect(ctx.view.hideFlagged).toBe(false);
    const frame = frameOf(ctx);
    expect(frame.edges.length).toBe(10);
    expect(frame).toMatchObject({ flagged: 2, hiddenFlagged: 0 }); // ranks 1 and 3; rank 12 is beyond top-k 10
    ctx.view.hideFlagged = true;
    const hidden = frameOf(ctx);
    expect(hidden.edges.map((e) => e.rank)).toEqual([2, 4, 5, 6, 7, 8, 9, 10]);
    expect(hidden).toMatchObject({ flagged: 2, hiddenFlagged: 2 });
    ctx.model.set("top_k", 12);
    expect(frameOf(ctx)).toMatchObject({ flagged: 3, hiddenFlagged: 3 });
    expect(frameOf(ctx).edges.length).toBe(9);
  });
});

describe("noise", () => {
  const context = (graph, extra = {}) =>
    createContext(mockModel({ ...widgetState(graph), top_k: null, ...extra }), null, () => {});

  it("draws no edge under the noise floor, and says when no edge reaches it", () => {
    const frame = frameOf(context(noiseGraph()));
    expect(frame.edges).toEqual([]);
    expect(frame.allNoise).toBe(true);
    expect(frame.noiseFloor).toBeCloseTo(3.21e-4);
    expect(frame.belowNoise).toBe(105);
  });

  it("uses the engine's stats.noise_floor when the graph has one", () => {
    const graph = noiseGraph();
    graph.stats = { ...graph.stats, noise_floor: 1e-6 };
    const frame = frameOf(context(graph));
    expect(frame.noiseFloor).toBe(1e-6);
    expect(frame.allNoise).toBe(false);
    expect(frame.edges.every((e) => Math.abs(e.effect) >= 1e-6)).toBe(true);
    expect(frame.edges.length + frame.belowNoise).toBe(105);
  });

  it("counts only the edges the filters kept among those hidden as noise", () => {
    const graph = fullGraph();
    graph.edges[3].effect = 1e-5;
    const frame = frameOf(context(graph, { top_k: 10 }));
    expect([frame.edges.length, frame.belowNoise, frame.allNoise]).toEqual([10, 0, false]);
    const all = frameOf(context(graph));
    expect([all.edges.length, all.belowNoise]).toEqual([103, 2]);
  });

  it("keeps NaN and infinite effects: they are not noise", () => {
    const graph = noiseGraph();
    graph.edges[0].effect = NaN;
    graph.edges[1].effect = -Infinity;
    const frame = frameOf(context(graph));
    expect(frame.edges.map((e) => e.effect)).toEqual([-Infinity, NaN]);
    expect(frame.allNoise).toBe(false);
  });
});

describe("offline and pins", () => {
  it("tells a saved page's stand-in model by its _offline flag, or the status every saved page starts with", () => {
    expect(isOffline(mockModel(widgetState()))).toBe(false);
    expect(isOffline(mockModel({ ...widgetState(), _offline: true }))).toBe(true);
    expect(
      isOffline(
        mockModel({
          ...widgetState(),
          status: "Saved page: filtering works here; recomputing needs the live widget in a notebook.",
        }),
      ),
    ).toBe(true);
    expect(createContext(mockModel({ ...widgetState(), _offline: true }), null, () => {}).offline).toBe(true);
  });

  it("unpins the pinned token, writing to the kernel only when one was pinned", () => {
    const model = mockModel({ ...widgetState(), selected: 4 });
    expect(clearPin(model)).toBe(true);
    expect([model.get("selected"), model.saved]).toEqual([null, 1]);
    expect(clearPin(model)).toBe(false);
    expect(model.saved).toBe(1);
  });
});
