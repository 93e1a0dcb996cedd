// What the panels of one view share: the model, the view's root element, an event hub, and the view state
// (which graph is on show and how it is drawn). Panels never call each other: they share the view state and
// `redraw`, and announce what happens to them on the hub.

import { readGraph } from "./format.js";
import { filterEdges, maxAbsEffect } from "./geometry/edges.js";

export const WRAP_FROM = 80; // prompts of more tokens start wrapped, so they need no sideways scrolling

/**
 * A small event hub. The events of this front end:
 * - "arc:enter" (arc, point), "arc:move" (point), "arc:leave" (): the pointer or keyboard focus on an arc
 * - "arc:activate" (arc): an arc clicked, or Enter on it
 * - "error" (message): a failure in the browser (say, a PNG export) for the error box
 */
export function createHub() {
  const handlers = new Map();
  return {
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(fn);
      return () => handlers.get(event)?.delete(fn);
    },
    emit(event, ...args) {
      for (const fn of [...(handlers.get(event) ?? [])]) fn(...args);
    },
    clear: () => handlers.clear(),
  };
}

/**
 * The context of one view.
 *
 * @param {object} model the anywidget model
 * @param {HTMLElement} root the view's root element (`.if-root`)
 * @param {() => void} redraw recomputes the frame and hands it to every panel's update
 */
export function createContext(model, root, redraw) {
  const listeners = [];
  const hub = createHub();
  return {
    model,
    root,
    hub,
    // graph: the graph Python sent; drilled: the token graphs opened from its span edges, innermost last;
    // threshold: a slider value previewed in the browser before the kernel has it (null: the trait's).
    view: { graph: readGraph(model.get("graph")), drilled: [], zoom: 1, wrap: null, threshold: null },
    redraw,
    /** `model.on(event, fn)`, undone when the view goes away. */
    watch(event, fn) {
      model.on(event, fn);
      listeners.push([event, fn]);
    },
    destroy() {
      for (const [event, fn] of listeners) model.off(event, fn);
      listeners.length = 0;
      hub.clear();
    },
  };
}

/** The graph on show: the innermost drill-down, else the graph Python sent. */
export function shownGraph(view) {
  return view.drilled[view.drilled.length - 1] ?? view.graph;
}

/**
 * What a redraw shows, handed to every panel's `update`: the graph on show (null until there is one), the edges
 * kept by threshold and top-k (ranked), their scale, how deep the drill-down is, and how it is drawn.
 */
export function frameOf({ model, view }) {
  const graph = shownGraph(view);
  const common = { depth: view.drilled.length, zoom: view.zoom, selected: model.get("selected") };
  if (!graph || !graph.tokens) return { ...common, graph: null, edges: [], maxAbs: 0, wrap: view.wrap ?? false };
  const edges = filterEdges(graph.edges, view.threshold ?? model.get("threshold"), model.get("top_k"));
  return { ...common, graph, edges, maxAbs: maxAbsEffect(edges), wrap: view.wrap ?? graph.tokens.length >= WRAP_FROM };
}
