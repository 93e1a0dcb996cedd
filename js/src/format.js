// Text shown for tokens, effects and the graph's provenance.

/** A token with its whitespace made visible: spaces "·", newlines "↵", tabs "⇥". */
export function visible(text) {
  return String(text).replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "⇥");
}

/** A token cut to `max` characters for its box; the tooltip keeps the whole text. */
export function boxLabel(text, max) {
  const shown = visible(text);
  return shown.length > max ? shown.slice(0, max - 1) + "…" : shown;
}

/** An effect with its sign and four significant digits. */
export function formatEffect(effect) {
  if (!Number.isFinite(effect)) return effect > 0 ? "+Infinity" : String(effect);
  const text = Math.abs(effect) >= 1e-3 || effect === 0 ? effect.toPrecision(4) : effect.toExponential(2);
  return effect > 0 ? `+${text}` : text;
}

/** The text of node `index` of a graph: its tokens joined. */
export function nodeText(graph, index) {
  const node = graph.nodes[index];
  return graph.tokens.slice(node.start, node.end).join("");
}

/** Whether either end of `edge` is a span (a node over more than one token): clicking it measures the token edges inside. */
export function isSpanEdge(graph, edge) {
  const span = (i) => graph.nodes[i].end - graph.nodes[i].start > 1;
  return span(edge.source) || span(edge.target);
}

/**
 * A graph as received from Python, with numbers restored: non-finite effects and metrics travel as the
 * strings "NaN", "Infinity" and "-Infinity" (JSON has no such numbers), and `Number()` reads them back.
 */
export function readGraph(graph) {
  if (!graph || !graph.edges) return graph;
  return {
    ...graph,
    clean_metric: Number(graph.clean_metric),
    edges: graph.edges.map((e) => ({ ...e, effect: Number(e.effect) })),
  };
}

/** Whether an edge is a first-order estimate (graphs from before estimates existed are exact). */
export function isEstimate(edge) {
  return edge.exact === false;
}

/** The header's line on estimates: how much of the graph is estimated, and the agreement stats if any. */
export function estimateSummary(graph) {
  const estimated = graph.edges.filter(isEstimate).length;
  if (estimated === 0) return "";
  const total = graph.edges.length;
  const parts = [
    estimated === total
      ? "estimate: every edge is a first-order estimate (dashed)"
      : `partly estimated: ${total - estimated} of ${total} edges verified exactly, ${estimated} first-order estimates (dashed)`,
  ];
  const agreement = graph.stats?.agreement;
  if (agreement?.verified) {
    const r = agreement.correlation == null ? "–" : Number(agreement.correlation).toFixed(3);
    const overlap = agreement.top10_overlap == null ? "" : `, top-10 overlap ${agreement.top10_overlap} of 10`;
    parts.push(`estimate vs exact on ${agreement.verified} verified: correlation ${r}${overlap}`);
  }
  return parts.join(" · ");
}
