// The anatomy panel, below the drawing: where the selected edge's effect is carried, by layer and by head, and the
// logit lens of both its ends (drawn by svg/anatomy.js from the `anatomy` trait the kernel measures; the SVG and PNG
// downloads carry it). A click on an arc between tokens, or Enter on it, selects that edge (the `selected_edge`
// trait); a click on a span arc still drills down (drill.js), so Shift+click or Shift+Enter selects any arc, a span
// arc as the group edge of its spans. × or Escape closes the panel; a new graph from the kernel closes it too.

import { shownGraph } from "../context.js";
import { el, svgEl } from "../dom.js";
import { isSetGraph, isSpanEdge, nodeName } from "../format.js";
import { drawAnatomy } from "../svg/anatomy.js";

/** The `selected_edge` value of an arc of the graph on show (`level`: how deep the drill-down is). */
export function selectionOf(graph, index, level) {
  const edge = graph?.edges[Number(index)];
  return edge ? { source: edge.source, target: edge.target, level } : null;
}

/** Whether `selection` names edge `edge` of drill-down `level`. */
const names = (selection, edge, level) =>
  selection != null &&
  selection.source === edge.source &&
  selection.target === edge.target &&
  (selection.level ?? 0) === level;

export function createAnatomy({ model, root, view, hub, watch, offline }) {
  const svg = svgEl("svg", { class: "if-anatomy-svg", role: "img", "aria-label": "anatomy of the selected edge" });
  const close = el("button", {
    class: "if-anatomy-close",
    type: "button",
    title: "Close the anatomy (Escape)",
    "aria-label": "close the anatomy",
    text: "×",
  });
  const panel = el("section", { class: "if-anatomy", "aria-label": "anatomy of the selected edge" }, [
    close,
    el("div", { class: "if-anatomy-scroll" }, [svg]),
  ]);
  panel.hidden = true;
  let depth = 0;

  const select = (selection) => {
    model.set("selected_edge", selection);
    model.save_changes();
  };
  const closePanel = () => model.get("selected_edge") != null && select(null);
  close.addEventListener("click", closePanel);
  panel.addEventListener("keydown", (event) => event.key === "Escape" && closePanel());

  const open = (arc, anyArc) => {
    const graph = shownGraph(view);
    const edge = graph?.edges[Number(arc.dataset.index)];
    if (offline || !edge || isSetGraph(graph) || (!anyArc && isSpanEdge(graph, edge))) return; // a span arc's click drills down; a set has no one run to measure
    if (!names(model.get("selected_edge"), edge, view.drilled.length))
      select(selectionOf(graph, arc.dataset.index, view.drilled.length));
  };
  hub.on("arc:activate", (arc) => open(arc, false));
  hub.on("arc:anatomy", (arc) => open(arc, true));

  /** Mark the selected edge's arc in the drawing (it is redrawn on every frame). */
  function mark() {
    const selection = model.get("selected_edge");
    const graph = shownGraph(view);
    for (const arc of root.querySelectorAll(".if-canvas .if-arc")) {
      arc.classList.toggle(
        "if-chosen",
        graph != null && names(selection, graph.edges[Number(arc.dataset.index)], view.drilled.length),
      );
    }
  }
  function show() {
    const data = model.get("anatomy");
    const wasHidden = panel.hidden;
    panel.hidden = !data || model.get("selected_edge") == null;
    if (panel.hidden) return svg.replaceChildren();
    const { source, target, level = 0 } = model.get("selected_edge");
    const graph = level === 0 ? view.graph : view.drilled[level - 1];
    const named =
      graph?.nodes[source] && graph.nodes[target]
        ? `Anatomy of ${nodeName(graph, source)} → ${nodeName(graph, target)}`
        : undefined;
    const { width, height } = drawAnatomy(svg, data, named);
    // The drawn text decides the width (the builder only estimates it): downloads keep all of it.
    const box = typeof svg.getBBox === "function" ? svg.getBBox() : null;
    const fitted = Math.ceil(Math.max(width, box && box.width > 0 ? box.x + box.width + 6 : 0));
    svg.setAttribute("width", String(fitted));
    svg.setAttribute("viewBox", `0 0 ${fitted} ${height}`);
    if (wasHidden) panel.scrollIntoView?.({ block: "nearest" });
  }
  watch("change:anatomy", show);
  watch("change:selected_edge", () => {
    show();
    mark();
  });
  show();
  return {
    el: panel,
    update(frame) {
      // Back out of the drill-down an edge was selected in: that edge is no longer on show.
      if (frame.depth < depth && (model.get("selected_edge")?.level ?? 0) > frame.depth) closePanel();
      depth = frame.depth;
      mark();
    },
  };
}
