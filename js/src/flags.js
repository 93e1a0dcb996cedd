// Trust flags of edges: which arcs may show damage rather than a route, how they are drawn and why, in words.
// An edge's `flags` lists "sink" (its source is an attention sink), "damage" (its damage, KL(clean || intervened)
// of the next-token distribution, is far above that of edges of similar |effect|) and "inconsistent" (its sign
// differs between interventions); other names are shown as they are. Pure: no DOM here.

import { flagText, formatMagnitude } from "./format.js";
import { flags as look } from "./style.json"; // shared with the Python static drawing (infoflow_widget/widget/drawing.py)

export const FLAG_COLOR = look.color;
export const FLAGGED_TEXT = "flagged: may be damage rather than a route (hover for why)";
export const FADED_TEXT = "faded: sign differs between interventions";

/** The name of one flag: a string, or an object's name (see flagText). */
export function flagName(flag) {
  return typeof flag === "string"
    ? flag
    : String(flag?.name ?? flag?.kind ?? flag?.code ?? flag?.flag ?? flagText(flag));
}

/** The flag names of an edge (empty when nothing is suspect). */
export function flagNames(edge) {
  return Array.isArray(edge?.flags) ? edge.flags.map(flagName) : [];
}

export const isFlagged = (edge) => Array.isArray(edge?.flags) && edge.flags.length > 0;
export const isInconsistent = (edge) => flagNames(edge).includes("inconsistent");

/** Whether any edge of the graph is flagged (the toolbar then offers to hide them). */
export function hasFlags(graph) {
  return Boolean(graph?.edges?.some(isFlagged));
}

/** The dotted outline under a flagged arc of stroke width `width` (before zoom): its stroke, width, dashes, opacity. */
export function flagOutline(width, zoom = 1) {
  return {
    color: look.color,
    width: (width + look.extraWidth) * zoom ** 0.5,
    dash: `${look.dash * zoom} ${look.gap * zoom}`,
    opacity: look.opacity,
  };
}

/** An arc's opacity given its flags: inconsistent arcs are faded. */
export function flaggedOpacity(opacity, edge) {
  return isInconsistent(edge) ? opacity * look.fade : opacity;
}

/**
 * The sinks of `stats.sinks` as [position, share] pairs (share null when not given), however it holds them: as the
 * engine writes it, {positions: [0], share: [0.58], ...}; or a list of {position, share} (or bare positions); or a
 * dict position -> share (or -> {share}).
 */
export function sinkList(graph) {
  const sinks = graph?.stats?.sinks;
  const shareOf = (entry) => (entry != null && typeof entry === "object" ? (entry.share ?? entry.attention) : entry);
  if (Array.isArray(sinks))
    return sinks.map((s) =>
      s != null && typeof s === "object" ? [Number(s.position ?? s.pos), shareOf(s)] : [Number(s), null],
    );
  if (Array.isArray(sinks?.positions)) {
    const shares = Array.isArray(sinks.share) ? sinks.share : Array.isArray(sinks.shares) ? sinks.shares : [];
    return sinks.positions.map((p, i) => [Number(p), shares[i] ?? null]);
  }
  if (sinks == null || typeof sinks !== "object") return [];
  return Object.entries(sinks)
    .filter(([key]) => /^\d+$/.test(key))
    .map(([key, entry]) => [Number(key), shareOf(entry)]);
}

/** The share of attention received by the sink in positions `start` to `end` (exclusive); null when unknown. Shares above 1 are percents. */
export function sinkShare(graph, start, end = start + 1) {
  const found = sinkList(graph).find(([p]) => p >= start && p < end);
  const share = found?.[1] == null ? NaN : Number(found[1]);
  return Number.isFinite(share) ? (share > 1 ? share / 100 : share) : null;
}

const percent = (share) => `${share >= 0.01 ? (100 * share).toFixed(0) : (100 * share).toPrecision(1)}%`;

/** Why an edge is flagged: one line per flag, in words. */
export function flagReasons(graph, edge) {
  const damage = Number(edge.damage);
  return (Array.isArray(edge?.flags) ? edge.flags : []).map((flag) => {
    const name = flagName(flag);
    if (name === "sink") {
      const source = graph.nodes?.[edge.source] ?? {};
      const share = sinkShare(graph, source.start, source.end);
      const receives = share == null ? "" : ` (receives ${percent(share)} of attention)`;
      return `source is an attention sink${receives}: cutting it tends to break the model — “hemorrhage”`;
    }
    if (name === "damage") {
      const size = edge.damage != null && Number.isFinite(damage) ? ` ${formatMagnitude(damage)} nats` : "";
      return `damage${size}: far above edges of similar effect`;
    }
    if (name === "inconsistent") return "sign differs between interventions";
    return flagText(flag);
  });
}

/** The numbers that go with the flags, when the edge has them: [key, text] rows for the tooltip. */
export function trustRows(edge) {
  const rows = [];
  const damage = Number(edge.damage);
  if (edge.damage != null && !Number.isNaN(damage))
    rows.push(["damage", `${formatMagnitude(damage)} nats (KL of the next-token distribution)`]);
  const std = Number(edge.effect_std);
  // A role edge's (it has a prompt count n) is the standard deviation over the prompts of a set.
  const over = edge.n != null ? `the ${edge.n} prompts (standard deviation)` : "corrupted samples";
  if (edge.effect_std != null && !Number.isNaN(std)) rows.push(["spread", `± ${formatMagnitude(std)} over ${over}`]);
  return rows;
}
