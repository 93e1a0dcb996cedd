// Which edges are drawn and how: ranking and filtering as FlowGraph does it, colour and width by effect.
// Pure: no DOM here.

import { colors, edge as scale } from "../style.json"; // shared with the Python static drawing (infoflow_widget/_style.py)

export const GREEN = colors.helps;
export const RED = colors.hurts;
export const GREY = colors.nan;

/**
 * Colour, stroke width and opacity of an edge: green helps, red hurts, both grow with |effect|.
 * An infinite effect is the strongest there is (it ranks first); NaN is grey and faint: neither helps nor hurts.
 */
export function edgeStyle(effect, maxAbs) {
  const t = Number.isNaN(effect) ? 0 : !Number.isFinite(effect) ? 1 : maxAbs > 0 ? Math.min(1, Math.abs(effect) / maxAbs) : 0;
  return {
    color: Number.isNaN(effect) ? GREY : effect >= 0 ? GREEN : RED,
    width: scale.minWidth + scale.widthRange * t,
    opacity: scale.minOpacity + scale.opacityRange * t,
  };
}

/** The largest finite |effect| of `edges` (0 for none): the scale of widths, opacities and the legend. */
export function maxAbsEffect(edges) {
  return edges.reduce((m, e) => (Number.isFinite(e.effect) ? Math.max(m, Math.abs(e.effect)) : m), 0);
}

function magnitude(edge) {
  // NaN ranks last, as in FlowGraph.ranked().
  return Number.isNaN(edge.effect) ? -1 : Math.abs(edge.effect);
}

// Edge indices by |effect|, per edges array: a long prompt has ~160k edges, and every redraw (zoom, wrap,
// top-k) would sort them again.
const rankings = new WeakMap();

function ranking(edges) {
  let order = rankings.get(edges);
  if (!order) {
    const magnitudes = Float64Array.from(edges, magnitude);
    order = Uint32Array.from(edges.keys()).sort((a, b) => magnitudes[b] - magnitudes[a] || a - b);
    rankings.set(edges, order);
  }
  return order;
}

function ranked(edges, order) {
  return Array.from(order, (index, i) => ({ ...edges[index], index, rank: i + 1 }));
}

/** The edges ranked by |effect|, largest first (ties keep their order), each with its `rank` (1-based) and `index`. */
export function rankEdges(edges) {
  return ranked(edges, ranking(edges));
}

/**
 * The edges FlowGraph.filter(threshold).top(topK) keeps, ranked (largest |effect| first).
 *
 * @param {object[]} edges the graph's edges
 * @param {number} threshold keep |effect| >= threshold
 * @param {number|null} topK keep this many of the strongest; null keeps all
 */
export function filterEdges(edges, threshold = 0, topK = null) {
  const order = ranking(edges);
  // Ranked by |effect|, the kept edges are a prefix. As compute_flow: a threshold of 0 filters nothing (NaN included).
  let count = order.length;
  if (threshold > 0) {
    count = 0;
    while (count < order.length && Math.abs(edges[order[count]].effect) >= threshold) count++;
  }
  if (topK != null) count = Math.min(count, Math.max(0, topK));
  return ranked(edges, order.subarray(0, count));
}
