// The tooltip of an arc: its ends, effect, rank and whether it is measured; beside the pointer, inside the widget.

import { shownGraph } from "../context.js";
import { el } from "../dom.js";
import { formatEffect, isEstimate, isSpanEdge, nodeText, visible } from "../format.js";

const OFFSET = 14; // px between the pointer and the tooltip

/** Where a `width` × `height` box goes beside the point (x, y) of a `bounds` box: flipped to the point's other side where it would be cut off. */
export function placeBeside(x, y, width, height, bounds) {
  const left = x + OFFSET + width > bounds.width ? x - OFFSET - width : x + OFFSET;
  const top = y + OFFSET + height > bounds.height ? y - OFFSET - height : y + OFFSET;
  return { left: Math.max(0, left), top: Math.max(0, top) };
}

export function createTooltip({ root, view, hub }) {
  const tip = el("div", { class: "if-tooltip" });
  const hide = () => (tip.hidden = true);
  hide();

  function move(point) {
    const box = root.getBoundingClientRect();
    const bounds = { width: root.clientWidth, height: root.clientHeight };
    const { left, top } = placeBeside(point.clientX - box.left, point.clientY - box.top, tip.offsetWidth, tip.offsetHeight, bounds);
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
  }
  function show(arc, point) {
    const graph = shownGraph(view);
    const edge = graph.edges[Number(arc.dataset.index)];
    const rows = [
      ["source", `${arc.dataset.source}  ${visible(nodeText(graph, edge.source))}`],
      ["target", `${arc.dataset.target}  ${visible(nodeText(graph, edge.target))}`],
      ["effect", formatEffect(edge.effect)],
      ["rank", `${arc.dataset.rank} of ${graph.edges.length}`],
      ["value", isEstimate(edge) ? "estimate (first order, not measured)" : "exact (measured)"],
    ];
    tip.replaceChildren(...rows.map(([k, v]) => el("div", {}, [el("span", { class: "if-key", text: k }), el("span", { text: v })])));
    if (isSpanEdge(graph, edge)) tip.append(el("div", { class: "if-hint", text: "click to measure the token edges inside" }));
    tip.hidden = false;
    move(point);
  }
  hub.on("arc:enter", show);
  hub.on("arc:move", move);
  hub.on("arc:leave", hide);
  return { el: tip, update: hide }; // a redraw takes the arc it describes away
}
