// Pure geometry of the arc diagram: no DOM here, so every number is unit-tested.
//
// Tokens sit in boxes on a strip (one row that scrolls, or rows wrapped to a width). Arcs rise
// above the strip from a source node to a target node, span brackets hang below it.

export const GREEN = "#1a9850";
export const RED = "#d73027";

export const CHAR_WIDTH = 7.2; // px per character of the 12px monospace token font
export const MAX_CHARS = 14; // longer tokens are cut in their box
export const BOX_PAD = 8;
export const MIN_BOX = 18;
export const GAP = 2;
export const BOX_HEIGHT = 22;
export const MARGIN = 12;
export const MAX_ARC = 220; // tallest arc control height at zoom 1
export const BRACKET_ROW = 20;

/**
 * Positions of the token boxes.
 *
 * @param {string[]} tokens the prompt's tokens
 * @param {object} options
 * @param {number} [options.zoom=1] scale of every length
 * @param {number|null} [options.wrapWidth=null] wrap rows at this width (px); null keeps one scrolling row
 * @param {number} [options.arcBand] room above each row for its arcs (px, already zoomed)
 * @param {number} [options.belowBand=0] room below each row for span brackets (px, already zoomed)
 * @returns {{boxes: {x:number,y:number,width:number,height:number,row:number}[], rows:number, width:number, height:number, rowHeight:number}}
 */
export function layoutStrip(tokens, { zoom = 1, wrapWidth = null, arcBand = 60, belowBand = 0 } = {}) {
  const margin = MARGIN * zoom;
  const gap = GAP * zoom;
  const height = BOX_HEIGHT * zoom;
  const rowHeight = arcBand + height + belowBand;
  const boxes = [];
  let x = margin;
  let row = 0;
  let right = margin;
  for (const token of tokens) {
    // Whitespace glyphs ("·", "↵") take one character each, like the characters they stand for.
    const chars = Math.min([...String(token)].length, MAX_CHARS);
    const width = Math.max(MIN_BOX, chars * CHAR_WIDTH + BOX_PAD) * zoom;
    // A row wraps before the box that would cross the width, unless the row is still empty.
    if (wrapWidth != null && x > margin && x + width > wrapWidth - margin) {
      row += 1;
      x = margin;
    }
    boxes.push({ x, y: row * rowHeight + arcBand, width, height, row });
    right = Math.max(right, x + width);
    x += width + gap;
  }
  const rows = tokens.length ? row + 1 : 0;
  return { boxes, rows, width: right + margin, height: rows * rowHeight, rowHeight };
}

/** Where arcs attach to a node: the centre of its span's first row, on top of the boxes. */
export function nodeAnchor(boxes, node) {
  const first = boxes[node.start];
  let last = first;
  for (let i = node.start; i < node.end && boxes[i].row === first.row; i++) last = boxes[i];
  return { x: (first.x + last.x + last.width) / 2, y: first.y, row: first.row };
}

/** Control height of the arc between two anchors: grows with their distance, capped. */
export function arcHeight(dx, zoom = 1) {
  return Math.min(MAX_ARC * zoom, (14 + 0.42 * Math.abs(dx)) * zoom ** 0.5);
}

/** The room an arc of control height `h` needs above the strip (a cubic peaks at 3/4 of it). */
export function arcPeak(h) {
  return 0.75 * h;
}

/**
 * SVG path of the arc from `source` to `target` anchors: a cubic that leaves the source upwards and
 * lands on the target from above, so an arrowhead at its end points down into the target.
 */
export function arcPath(source, target, zoom = 1) {
  if (source.x === target.x && source.y === target.y) return loopPath(source, zoom);
  const h = arcHeight(target.x - source.x, zoom);
  const y1 = source.y - h;
  const y2 = target.y - h;
  return `M${r(source.x)},${r(source.y)} C${r(source.x)},${r(y1)} ${r(target.x)},${r(y2)} ${r(target.x)},${r(target.y)}`;
}

/** A self-edge: a small loop standing on the node. */
export function loopPath(anchor, zoom = 1) {
  const w = 4 * zoom;
  const h = 22 * zoom;
  const { x, y } = anchor;
  return `M${r(x - w)},${r(y)} C${r(x - 3 * w)},${r(y - h)} ${r(x + 3 * w)},${r(y - h)} ${r(x + w)},${r(y)}`;
}

/** The arc band above each row: room for the tallest arc, or a loop. */
export function arcBandFor(anchorsPairs, zoom = 1) {
  let peak = 24 * zoom; // loops and the arrowheads fit
  for (const [s, t] of anchorsPairs) {
    if (s.row === t.row) peak = Math.max(peak, arcPeak(arcHeight(t.x - s.x, zoom)));
  }
  return peak + 10 * zoom;
}

/**
 * Bracket rows of the span nodes (nodes over more than one token): a span is drawn one row below
 * every span that contains it, so nested spans never overlap.
 *
 * @returns {Map<number, number>} node index -> bracket row (0 = just under the tokens)
 */
export function bracketRows(nodes) {
  const spans = nodes.map((n, i) => ({ ...n, i })).filter((n) => n.end - n.start > 1);
  const rows = new Map();
  for (const s of spans) {
    const depth = spans.filter(
      (o) => o.i !== s.i && o.start <= s.start && o.end >= s.end && (o.end - o.start > s.end - s.start || o.i < s.i),
    ).length;
    rows.set(s.i, depth);
  }
  return rows;
}

/** The pieces of a span bracket, one per strip row it covers: {row, x1, x2}. */
export function spanSegments(boxes, node) {
  const segments = [];
  for (let i = node.start; i < node.end; i++) {
    const b = boxes[i];
    const last = segments[segments.length - 1];
    if (last && last.row === b.row) last.x2 = b.x + b.width;
    else segments.push({ row: b.row, x1: b.x, x2: b.x + b.width, y: b.y + b.height });
  }
  return segments;
}

/** Colour, stroke width and opacity of an edge: green helps, red hurts, both grow with |effect|. */
export function edgeStyle(effect, maxAbs) {
  const t = maxAbs > 0 && Number.isFinite(effect) ? Math.min(1, Math.abs(effect) / maxAbs) : 0;
  return {
    color: effect >= 0 ? GREEN : RED,
    width: 0.75 + 4.75 * t,
    opacity: 0.18 + 0.77 * t,
  };
}

function magnitude(edge) {
  // NaN ranks last, as in FlowGraph.ranked().
  return Number.isNaN(edge.effect) ? -1 : Math.abs(edge.effect);
}

/** The edges ranked by |effect|, largest first (ties keep their order), each with its `rank` (1-based) and `index`. */
export function rankEdges(edges) {
  return edges
    .map((e, index) => ({ ...e, index }))
    .sort((a, b) => magnitude(b) - magnitude(a) || a.index - b.index)
    .map((e, i) => ({ ...e, rank: i + 1 }));
}

/**
 * The edges FlowGraph.filter(threshold).top(topK) keeps, ranked (largest |effect| first).
 *
 * @param {object[]} edges the graph's edges
 * @param {number} threshold keep |effect| >= threshold
 * @param {number|null} topK keep this many of the strongest; null keeps all
 */
export function filterEdges(edges, threshold = 0, topK = null) {
  // As compute_flow: a threshold of 0 filters nothing (NaN effects included).
  const ranked = rankEdges(edges);
  const kept = threshold > 0 ? ranked.filter((e) => Math.abs(e.effect) >= threshold) : ranked;
  return topK == null ? kept : kept.slice(0, Math.max(0, topK));
}

function r(v) {
  return Math.round(v * 10) / 10;
}
