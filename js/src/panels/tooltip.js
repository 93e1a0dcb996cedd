// The tooltip of an arc: its ends, effect, rank, whether it is measured, why it is flagged (one line per trust
// flag, with its damage and spread), and what a click does; beside the pointer, inside the widget.

import { OFFLINE_TITLE, shownGraph } from "../context.js";
import { el } from "../dom.js";
import { flagReasons, trustRows } from "../flags.js";
import { formatEffect, isEstimate, isSetGraph, isSpanEdge, nodeName, roleEffectText } from "../format.js";
import { arcNote } from "../reading.js";

const OFFSET = 14; // px between the pointer and the tooltip

/** Where a `width` × `height` box goes beside the point (x, y) of a `bounds` box: flipped to the point's other side where it would be cut off. */
export function placeBeside(x, y, width, height, bounds) {
  const left = x + OFFSET + width > bounds.width ? x - OFFSET - width : x + OFFSET;
  const top = y + OFFSET + height > bounds.height ? y - OFFSET - height : y + OFFSET;
  return { left: Math.max(0, left), top: Math.max(0, top) };
}

/** The effect, and its share of the clean metric where that has a size. */
export function effectText(effect, cleanMetric) {
  const clean = Math.abs(cleanMetric);
  if (!Number.isFinite(effect) || !Number.isFinite(clean) || clean === 0) return formatEffect(effect);
  const share = (100 * Math.abs(effect)) / clean;
  return `${formatEffect(effect)}  (${share >= 1 ? share.toFixed(0) : share.toPrecision(1)}% of |clean metric|)`;
}

/** Why a prompt set's arcs open nothing on a click. */
export const SET_HINT =
  "anatomy and drill-down need one prompt: open it alone, InfoFlowWidget(model, prompt, answer=…)";

/** What a click on an arc does: drill into a span edge, or open a token edge's anatomy (none in a saved page, none for a prompt set). */
export function arcHint(span, offline, set = false) {
  if (set) return SET_HINT;
  if (offline) return span ? `measuring inside a span ${OFFLINE_TITLE}` : null;
  return span
    ? "click to measure the token edges inside; Shift+click: its anatomy"
    : "click (or Enter): its anatomy by layer and head, and the logit lens";
}

export function createTooltip({ root, view, hub, offline }) {
  const tip = el("div", { class: "if-tooltip" });
  const hide = () => (tip.hidden = true);
  hide();

  function move(point) {
    const box = root.getBoundingClientRect();
    const bounds = { width: root.clientWidth, height: root.clientHeight };
    const { left, top } = placeBeside(
      point.clientX - box.left,
      point.clientY - box.top,
      tip.offsetWidth,
      tip.offsetHeight,
      bounds,
    );
    tip.style.left = `${left}px`;
    tip.style.top = `${top}px`;
  }
  function show(arc, point) {
    const graph = shownGraph(view);
    const edge = graph.edges[Number(arc.dataset.index)];
    const rows = [
      ["source", nodeName(graph, edge.source)],
      ["target", nodeName(graph, edge.target)],
      roleEffectText(edge) ? ["effect", roleEffectText(edge)] : ["effect", effectText(edge.effect, graph.clean_metric)],
      ["rank", `${arc.dataset.rank} of ${graph.edges.length}`],
      ["value", isEstimate(edge) ? "estimate (first order, not measured)" : "exact (measured)"],
    ];
    rows.push(...trustRows(edge), ...flagReasons(graph, edge).map((reason) => ["flag", reason]));
    tip.replaceChildren(
      ...rows.map(([k, v]) =>
        el("div", k === "flag" ? { class: "if-flags" } : {}, [
          el("span", { class: "if-key", text: k }),
          el("span", { text: v }),
        ]),
      ),
    );
    const note = arcNote(graph, edge);
    if (note) tip.append(el("div", { class: "if-arc-note", text: note }));
    const hint = arcHint(isSpanEdge(graph, edge), offline, isSetGraph(graph));
    if (hint) tip.append(el("div", { class: "if-hint", text: hint }));
    tip.hidden = false;
    move(point);
  }
  hub.on("arc:enter", show);
  hub.on("arc:move", move);
  hub.on("arc:leave", hide);
  return { el: tip, update: hide }; // a redraw takes the arc it describes away
}
