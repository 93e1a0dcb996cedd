// The legend: colour is the sign of an effect, width and opacity its magnitude; dashes mark estimates.

import { el } from "../dom.js";
import { isEstimate } from "../format.js";
import { GREEN, RED } from "../geometry/edges.js";
import { dashes } from "../svg/flow.js";

/** The legend of a drawing whose widest arc is |effect| `maxAbs`; `estimated` adds the dashed line. */
export function legend(maxAbs, estimated) {
  const sample = (color, width, opacity, dash = "none") =>
    `<svg width="34" height="12"><path d="M2,10 C2,1 32,1 32,10" fill="none" stroke="${color}" ` +
    `stroke-width="${width}" stroke-opacity="${opacity}" stroke-dasharray="${dash}"/></svg>`;
  const box = el("div", { class: "if-legend" });
  box.innerHTML =
    `<span>${sample(GREEN, 3, 0.9)} helps the metric (effect &gt; 0)</span>` +
    `<span>${sample(RED, 3, 0.9)} hurts it (effect &lt; 0)</span>` +
    `<span>${sample("currentColor", 1, 0.5)}${sample("currentColor", 5.5, 0.95)} width and opacity: |effect| up to ` +
    `${maxAbs ? maxAbs.toPrecision(3) : "–"}</span>` +
    `<span>arcs run source → target (arrowhead)</span>` +
    (estimated ? `<span>${sample("currentColor", 2, 0.8, dashes())} dashed: first-order estimate, not measured</span>` : "");
  return box;
}

export function createLegend() {
  const slot = el("div");
  return {
    el: slot,
    update({ graph, maxAbs }) {
      slot.replaceChildren(...(graph ? [legend(maxAbs, graph.edges.some(isEstimate))] : []));
    },
  };
}
