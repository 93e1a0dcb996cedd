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
  if (!Number.isFinite(effect)) return String(effect);
  const text = Math.abs(effect) >= 1e-3 || effect === 0 ? effect.toPrecision(4) : effect.toExponential(2);
  return effect > 0 ? `+${text}` : text;
}

/** The text of node `index` of a graph: its tokens joined. */
export function nodeText(graph, index) {
  const node = graph.nodes[index];
  return graph.tokens.slice(node.start, node.end).join("");
}
