// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createDrill } from "../../src/panels/drill.js";
import { arc, fullGraph, spanGraph, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());

describe("drill-down", () => {
  it("asks for the token edges of a span arc, each request its own", () => {
    mounted = mountPanel(createDrill, widgetState(spanGraph()));
    mounted.ctx.hub.emit("arc:activate", arc(0));
    mounted.ctx.hub.emit("arc:activate", arc(0));
    const [a, b] = mounted.model.sent;
    expect(a).toEqual({ type: "expand", source: 0, target: 1, level: 0, request: expect.any(String) });
    expect(a.request).not.toBe(b.request);
  });

  it("asks nothing for an arc between single tokens", () => {
    mounted = mountPanel(createDrill, widgetState(spanGraph()));
    mounted.ctx.hub.emit("arc:activate", arc(1));
    expect(mounted.model.sent).toEqual([]);
  });

  it("opens only the answer to its latest request, of the depth on show, on the graph that asked", () => {
    mounted = mountPanel(createDrill, widgetState(spanGraph()));
    const { ctx, model } = mounted;
    ctx.hub.emit("arc:activate", arc(0));
    const { request } = model.sent[0];
    model.emit("msg:custom", { type: "expanded", level: 1, request, graph: fullGraph() });
    model.emit("msg:custom", { type: "expanded", level: 0, request: "another view:1", graph: fullGraph() });
    expect(ctx.view.drilled.length).toBe(0);
    model.set("graph", spanGraph()); // a new graph: the answer on its way belongs to the old one
    model.emit("msg:custom", { type: "expanded", level: 0, request, graph: fullGraph() });
    expect(ctx.view.drilled.length).toBe(0);
    expect(mounted.redraws).toBe(0);
    ctx.hub.emit("arc:activate", arc(0));
    model.emit("msg:custom", {
      type: "expanded",
      level: 0,
      request: model.sent[1].request,
      graph: { ...fullGraph(), clean_metric: "NaN" },
    });
    expect(ctx.view.drilled.length).toBe(1);
    expect(Number.isNaN(ctx.view.drilled[0].clean_metric)).toBe(true); // read as every graph from Python
    expect(mounted.redraws).toBe(1);
  });
});

describe("drill-down and the pin (issue 16)", () => {
  it("unpins the pinned token when a drill-down opens", () => {
    mounted = mountPanel(createDrill, { ...widgetState(spanGraph()), selected: 3 });
    const { ctx, model } = mounted;
    ctx.hub.emit("arc:activate", arc(0));
    model.emit("msg:custom", { type: "expanded", level: 0, request: model.sent[0].request, graph: fullGraph() });
    expect([ctx.view.drilled.length, model.get("selected"), model.saved]).toEqual([1, null, 1]);
  });

  it("asks nothing in a saved page: there is no kernel to answer", () => {
    mounted = mountPanel(createDrill, { ...widgetState(spanGraph()), _offline: true });
    mounted.ctx.hub.emit("arc:activate", arc(0));
    expect(mounted.model.sent).toEqual([]);
  });
});
