// What arcs of a familiar shape usually mean, in the write-up's terms: notes for the legend and the tooltip.
// Pure: no DOM here.

import { edgeFlags } from "./format.js";

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

export const SINK_NOTE =
  "The strongest arcs leave position 0, the first token: often the attention sink. Cutting attention to it tends " +
  "to break the model rather than cut one route (what the write-up calls a “hemorrhage”): cross-check with another intervention.";
export const LOCAL_NOTE =
  "The strongest arcs join neighbouring tokens: usually local, previous-token mixing (previous-token heads), not a long-range route.";
export const FLAGS_NOTE = "Some arcs carry trust flags: hover an arc to read them.";

/**
 * Notes on how to read the strongest arcs on show: {kind: "sink"|"local"|"flags", text}. A shape is noted when the
 * strongest arc has it, or at least half of the STRONGEST strongest (finite effects only: NaN is no evidence).
 *
 * @param {object} graph the graph on show
 * @param {object[]} edges the edges drawn, ranked
 */
export function readingNotes(graph, edges) {
  const top = edges.filter((e) => Number.isFinite(e.effect)).slice(0, STRONGEST);
  const dominant = (test) => top.length > 0 && (test(graph, top[0]) || 2 * top.filter((e) => test(graph, e)).length >= top.length);
  const notes = [];
  if (dominant(fromFirstPosition)) notes.push({ kind: "sink", text: SINK_NOTE });
  if (dominant(joinsNeighbours)) notes.push({ kind: "local", text: LOCAL_NOTE });
  if (edges.some((e) => edgeFlags(e).length > 0)) notes.push({ kind: "flags", text: FLAGS_NOTE });
  return notes;
}

/** A short note on one arc of such a shape, for its tooltip ("" for none). */
export function arcNote(graph, edge) {
  if (fromFirstPosition(graph, edge) && edge.source !== edge.target) {
    return "from the first position: often the attention sink; a strong effect may mean the model broke (hemorrhage)";
  }
  if (joinsNeighbours(graph, edge)) return "neighbouring tokens: usually local, previous-token mixing";
  return "";
}
