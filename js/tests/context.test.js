import { describe, expect, it, vi } from "vitest";
import { WRAP_FROM, createContext, createHub, frameOf, shownGraph } from "../src/context.js";
import { fullGraph, mockModel, widgetState } from "./mock-model.js";

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

  it("keeps the edges of threshold and top-k, ranked, with their scale", () => {
    const ctx = context();
    const frame = frameOf(ctx);
    expect(frame.edges.length).toBe(10);
    expect(frame.edges.map((e) => e.rank)).toEqual([1, 2, 3, 4, 5, 6, 7, 8, 9, 10]);
    expect(frame.maxAbs).toBe(Math.abs(frame.edges[0].effect));
    ctx.model.set("top_k", null);
    ctx.model.set("threshold", frame.maxAbs);
    expect(frameOf(ctx).edges.length).toBe(1);
  });

  it("prefers a threshold previewed in the browser to the trait", () => {
    const ctx = context({ ...widgetState(), top_k: null });
    ctx.view.threshold = 10;
    expect(frameOf(ctx).edges.length).toBe(0);
    ctx.view.threshold = null;
    expect(frameOf(ctx).edges.length).toBe(105);
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
  });
});
