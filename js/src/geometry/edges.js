// Which edges are drawn and how: ranking and filtering as FlowGraph does it, colour and width by effect.
// Pure: no DOM here.

import { colors, noise, edge as scale } from "../style.json"; // shared with the Python static drawing (infoflow_widget/core/style.py)

export const GREEN = colors.helps;
export const RED = colors.hurts;
export const GREY = colors.nan;
export const NOISE_RELATIVE = noise.relative; // the noise floor relative to max(1, |clean metric|), without stats.noise_floor

/**
 * The |effect| below which an edge's effect is numerical noise: the graph's `stats.noise_floor` (the engine's,
 * for the model's dtype) when it has one, else NOISE_RELATIVE × max(1, |clean metric|). Such edges are not drawn.
 */
export function noiseFloor(graph) {
  const given = graph?.stats?.noise_floor;
  if (given != null && Number.isFinite(Number(given)) && Number(given) >= 0) return Number(given);
  const clean = Math.abs(Number(graph?.clean_metric));
  return NOISE_RELATIVE * Math.max(1, Number.isFinite(clean) ? clean : 1);
}

/** Whether an edge's effect is measurable: |effect| at least the noise floor. NaN stays (drawn grey: a broken measurement shows). */
export function aboveNoise(edge, floor) {
  return !(Math.abs(edge.effect) < floor);
}

/** Whether any of `edges` is above the noise floor (its strongest is: NaN ranks last, infinities first). */
export function anyAboveNoise(edges, floor) {
  const order = ranking(edges);
  return order.length > 0 && aboveNoise(edges[order[0]], floor);
}

/**
 * The |effect| drawn widest (`value`), and what it is (`basis`): the clean metric's magnitude, so that a graph of
 * tiny effects draws thin arcs, unless an effect on show is larger ("largest"); the largest on show when the clean
 * metric is 0 (the KL divergence) or not finite. Widths, opacities and the legend use it.
 *
 * @param {object} graph the graph on show
 * @param {object[]} edges the edges drawn
 * @returns {{value: number, basis: "clean"|"largest"}}
 */
export function edgeScale(graph, edges) {
  const largest = maxAbsEffect(edges);
  const clean = Math.abs(Number(graph?.clean_metric));
  return Number.isFinite(clean) && clean > 0 && clean >= largest
    ? { value: clean, basis: "clean" }
    : { value: largest, basis: "largest" };
}

/**
 * Colour, stroke width and opacity of an edge: green helps, red hurts, both grow with |effect|.
 * An infinite effect is the strongest there is (it ranks first); NaN is grey and faint: neither helps nor hurts.
 */
export function edgeStyle(effect, maxAbs) {
  const t = Number.isNaN(effect)
    ? 0
    : !Number.isFinite(effect)
      ? 1
      : maxAbs > 0
        ? Math.min(1, Math.abs(effect) / maxAbs)
        : 0;
  return {
    color: Number.isNaN(effect) ? GREY : effect >= 0 ? GREEN : RED,
    width: scale.minWidth + scale.widthRange * t,
    opacity: scale.minOpacity + scale.opacityRange * t,
  };
}

/** The largest finite |effect| of `edges` (0 for none). */
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
