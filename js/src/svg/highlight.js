// Highlights on a drawn graph: the arcs of a token, the tokens at the ends of an arc.

/** Whether position `pos` lies in the span "start:end". */
function inSpan(span, pos) {
  const [start, end] = span.split(":").map(Number);
  return pos >= start && pos < end;
}

/**
 * Highlight the arcs into and out of token `pos` and dim the rest; null clears.
 *
 * @returns {number} how many arcs are highlighted
 */
export function highlightToken(svg, pos) {
  svg.classList.toggle("if-focus", pos != null);
  let hot = 0;
  // A flagged arc's dotted outline (see flow.js) fades and lights up with its arc.
  for (const arc of svg.querySelectorAll(".if-arc, .if-flag-outline")) {
    const on = pos != null && (inSpan(arc.dataset.source, pos) || inSpan(arc.dataset.target, pos));
    arc.classList.toggle("if-hot", on);
    if (arc.classList.contains("if-arc")) hot += on;
  }
  for (const token of svg.querySelectorAll(".if-token")) {
    token.classList.toggle("if-hot", pos != null && Number(token.dataset.pos) === pos);
  }
  return hot;
}

/**
 * Outline the tokens at both ends of `arc` (every token of a span end), so that its ends can be found
 * in a long or wrapped prompt; null clears.
 */
export function highlightArcEnds(svg, arc) {
  for (const token of svg.querySelectorAll(".if-token")) {
    const pos = Number(token.dataset.pos);
    token.classList.toggle(
      "if-end",
      arc != null && (inSpan(arc.dataset.source, pos) || inSpan(arc.dataset.target, pos)),
    );
  }
}
