// What arcs of a familiar shape usually mean, in the write-up's terms: notes for the legend and the tooltip.
// Pure: no DOM here.

import { flagNames, isFlagged } from "./flags.js";

export const STRONGEST = 5; // the strongest arcs on show that the notes look at

const isToken = (node) => node.end - node.start === 1;

/** Whether an edge leaves the first position (a token node at 0). */
export function fromFirstPosition(graph, edge) {
  const source = graph.nodes[edge.source];
  return source.start === 0 && isToken(source);
}

/** Whether an edge joins a token to the next one (j = i - 1). */
export function joinsNeighbours(graph, edge) {
  const source = graph.nodes[edge.source];
  const target = graph.nodes[edge.target];
  return isToken(source) && isToken(target) && target.start === source.start + 1;
}

const SINK_TEXT =
  "The strongest arcs leave position 0, the first token: often the attention sink. Cutting attention to it tends " +
  "to break the model rather than cut one route (what the write-up calls a “hemorrhage”)";
export const SINK_NOTE = `${SINK_TEXT}: cross-check with another intervention.`;
/** The sink note when drawn arcs are flagged "sink" (see flags.js): it points at them. */
export const SINK_FLAGS_NOTE = `${SINK_TEXT}: the arcs flagged “sink” (dotted outline) are the ones to doubt; hover one for why.`;
export const LOCAL_NOTE =
  "The strongest arcs join neighbouring tokens: usually local, previous-token mixing (previous-token heads), not a long-range route.";
export const FLAGS_NOTE =
  "Arcs with a dotted outline are flagged: they may show damage to the model rather than a route (an attention sink, " +
  "damage far above their effect, a sign that differs between interventions). Hover one for why; “hide flagged” takes them away.";

/**
 * Notes on how to read the strongest arcs on show: {kind: "sink"|"local"|"flags", text}. A shape is noted when the
 * strongest arc has it, or at least half of the STRONGEST strongest (finite effects only: NaN is no evidence).
 *
 * @param {object} graph the graph on show
 * @param {object[]} edges the edges drawn, ranked
 */
export function readingNotes(graph, edges) {
  const top = edges.filter((e) => Number.isFinite(e.effect)).slice(0, STRONGEST);
  const dominant = (test) =>
    top.length > 0 && (test(graph, top[0]) || 2 * top.filter((e) => test(graph, e)).length >= top.length);
  const notes = [];
  const sinkFlagged = edges.some((e) => flagNames(e).includes("sink"));
  if (dominant(fromFirstPosition)) notes.push({ kind: "sink", text: sinkFlagged ? SINK_FLAGS_NOTE : SINK_NOTE });
  if (dominant(joinsNeighbours)) notes.push({ kind: "local", text: LOCAL_NOTE });
  if (edges.some(isFlagged)) notes.push({ kind: "flags", text: FLAGS_NOTE });
  return notes;
}

/** A short note on one arc of such a shape, for its tooltip ("" for none; an arc flagged "sink" says so in its flags). */
export function arcNote(graph, edge) {
  if (fromFirstPosition(graph, edge) && edge.source !== edge.target && !flagNames(edge).includes("sink")) {
    return "from the first position: often the attention sink; a strong effect may mean the model broke (hemorrhage)";
  }
  if (joinsNeighbours(graph, edge)) return "neighbouring tokens: usually local, previous-token mixing";
  return "";
}
