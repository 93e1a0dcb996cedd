// What the panels of one view share: the model, the view's root element, an event hub, and the view state
// (which graph is on show and how it is drawn). Panels never call each other: they share the view state and
// `redraw`, and announce what happens to them on the hub.

import { isFlagged } from "./flags.js";
import { readGraph } from "./format.js";
import { aboveNoise, anyAboveNoise, edgeScale, filterEdges, noiseFloor } from "./geometry/edges.js";

export const WRAP_FROM = 80; // prompts of more tokens start wrapped, so they need no sideways scrolling
export const OFFLINE_TITLE = "needs a running kernel: this is a saved page";

/**
 * Whether the model is a saved page's stand-in (no kernel behind it): the `_offline` flag the saved state carries,
 * or, in pages saved before it existed, the status line every saved page starts with.
 */
export function isOffline(model) {
  return model.get("_offline") === true || String(model.get("status") ?? "").startsWith("Saved page");
}

/** Unpin the pinned token (a pin belongs to the graph it was clicked on). Returns whether one was pinned. */
export function clearPin(model) {
  if (model.get("selected") == null) return false;
  model.set("selected", null);
  model.save_changes();
  return true;
}

/**
 * A small event hub. The events of this front end:
 * - "arc:enter" (arc, point), "arc:move" (point), "arc:leave" (): the pointer or keyboard focus on an arc
 * - "arc:activate" (arc): an arc clicked, or Enter on it (a span arc drills down, another opens its anatomy)
 * - "arc:anatomy" (arc): an arc Shift+clicked, or Shift+Enter on it (any arc opens its anatomy)
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
    offline: isOffline(model), // a saved page: controls that need the kernel are disabled
    // graph: the graph Python sent; drilled: the token graphs opened from its span edges, innermost last;
    // threshold: a slider value previewed in the browser before the kernel has it (null: the trait's).
    // hideFlagged: the toolbar's "hide flagged" box (a view's choice, not a trait: saved pages have it too).
    view: {
      graph: readGraph(model.get("graph")),
      drilled: [],
      zoom: 1,
      wrap: null,
      threshold: null,
      hideFlagged: false,
    },
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
 * kept by threshold and top-k (ranked) less those under the noise floor (and flagged ones while hidden), their scale, how deep the drill-down is,
 * and how it is drawn.
 * - maxAbs: the |effect| drawn widest (scale.value); scale.basis says what it is (see edgeScale)
 * - noiseFloor: |effect| under it is not drawn; belowNoise: how many edges threshold and top-k kept it hid;
 *   allNoise: no edge of the graph reaches it (the drawing says "No edge changes the metric measurably")
 * - flagged: how many of the edges kept and above the floor carry trust flags; hiddenFlagged: how many of those the
 *   "hide flagged" box took away (all of them while it is ticked, else 0)
 */
export function frameOf({ model, view }) {
  const graph = shownGraph(view);
  const common = { depth: view.drilled.length, zoom: view.zoom, selected: model.get("selected") };
  if (!graph?.tokens) {
    const scale = { value: 0, basis: "largest" };
    return {
      ...common,
      graph: null,
      edges: [],
      maxAbs: 0,
      scale,
      noiseFloor: 0,
      belowNoise: 0,
      allNoise: false,
      flagged: 0,
      hiddenFlagged: 0,
      wrap: view.wrap ?? false,
    };
  }
  const floor = noiseFloor(graph);
  const kept = filterEdges(graph.edges, view.threshold ?? model.get("threshold"), model.get("top_k"));
  const measurable = kept.filter((e) => aboveNoise(e, floor));
  const flagged = measurable.filter(isFlagged).length;
  const edges = view.hideFlagged ? measurable.filter((e) => !isFlagged(e)) : measurable;
  const scale = edgeScale(graph, edges);
  return {
    ...common,
    graph,
    edges,
    maxAbs: scale.value,
    scale,
    noiseFloor: floor,
    belowNoise: kept.length - measurable.length,
    flagged,
    hiddenFlagged: measurable.length - edges.length,
    allNoise: graph.edges.length > 0 && !anyAboveNoise(graph.edges, floor),
    wrap: view.wrap ?? graph.tokens.length >= WRAP_FROM,
  };
}
