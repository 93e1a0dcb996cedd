// Pure geometry of the arc diagram: no DOM here, so every number is unit-tested.
//
// Tokens sit in boxes on a strip (one row that scrolls, or rows wrapped to a width). Arcs rise
// above the strip from a source node to a target node, span brackets hang below it.

export const GREEN = "#1a9850";
export const RED = "#d73027";
export const GREY = "#8a8a8a";

export const CHAR_WIDTH = 7.2; // px per character of the 12px monospace token font
export const MAX_CHARS = 14; // longer tokens are cut in their box
export const BOX_PAD = 8;
export const MIN_BOX = 18;
export const GAP = 2;
export const BOX_HEIGHT = 22;
export const MARGIN = 12;
export const MAX_ARC = 220; // tallest arc control height at zoom 1
export const BRACKET_ROW = 20;
export const GUTTER = 18; // channel right of wrapped rows that arcs between rows run down
const CORNER = 6; // radius of the bends of an arc between rows

/**
 * Positions of the token boxes.
 *
 * @param {string[]} tokens the prompt's tokens
 * @param {object} options
 * @param {number} [options.zoom=1] scale of every length
 * @param {number|null} [options.wrapWidth=null] wrap rows at this width (px); null keeps one scrolling row
 * @param {number|number[]} [options.arcBand] room above each row for its arcs (px, already zoomed): one
 *   for all rows, or one per row (rows without arcs then stay low)
 * @param {number} [options.belowBand=0] room below each row for span brackets (px, already zoomed)
 * @returns {{boxes: {x:number,y:number,width:number,height:number,row:number,band:number}[], rows:number,
 *   width:number, height:number, gutterX:number|null}} band: the arc band above the box's row; gutterX: the
 *   channel of arcs between rows (wrapped only)
 */
export function layoutStrip(tokens, { zoom = 1, wrapWidth = null, arcBand = 60, belowBand = 0 } = {}) {
  const margin = MARGIN * zoom;
  const gap = GAP * zoom;
  const height = BOX_HEIGHT * zoom;
  const bandOf = (row) => (Array.isArray(arcBand) ? arcBand[row] : arcBand);
  const gutter = wrapWidth == null ? 0 : GUTTER * zoom;
  const boxes = [];
  let x = margin;
  let row = 0;
  let right = margin;
  for (const token of tokens) {
    // Whitespace glyphs ("·", "↵") take one character each, like the characters they stand for.
    const chars = Math.min([...String(token)].length, MAX_CHARS);
    const width = Math.max(MIN_BOX, chars * CHAR_WIDTH + BOX_PAD) * zoom;
    // A row wraps before the box that would cross the width, unless the row is still empty.
    if (wrapWidth != null && x > margin && x + width > wrapWidth - margin - gutter) {
      row += 1;
      x = margin;
    }
    boxes.push({ x, width, height, row });
    right = Math.max(right, x + width);
    x += width + gap;
  }
  const rows = tokens.length ? row + 1 : 0;
  // Each row's top: the rows above it, each its arc band, boxes and the room below.
  const tops = [0];
  for (let k = 0; k < rows; k++) tops.push(tops[k] + bandOf(k) + height + belowBand);
  for (const box of boxes) Object.assign(box, { band: bandOf(box.row), y: tops[box.row] + bandOf(box.row) });
  const gutterX = wrapWidth == null ? null : right + gutter / 2;
  return { boxes, rows, width: right + gutter + margin, height: tops[rows], gutterX };
}

/** Where arcs attach to a node: the centre of its span's first row, on top of the boxes (with that row's arc band). */
export function nodeAnchor(boxes, node) {
  const first = boxes[node.start];
  let last = first;
  for (let i = node.start; i < node.end && boxes[i].row === first.row; i++) last = boxes[i];
  return { x: (first.x + last.x + last.width) / 2, y: first.y, row: first.row, band: first.band };
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
 *
 * @param {{gutterX:number, inset:number}|null} [between] how arcs between wrapped rows are routed (see rowCrossingPath)
 */
export function arcPath(source, target, zoom = 1, between = null) {
  if (source.x === target.x && source.y === target.y) return loopPath(source, zoom);
  if (between && source.row !== target.row) return rowCrossingPath(source, target, between, zoom);
  const h = arcHeight(target.x - source.x, zoom);
  const y1 = source.y - h;
  const y2 = target.y - h;
  return `M${r(source.x)},${r(source.y)} C${r(source.x)},${r(y1)} ${r(target.x)},${r(y2)} ${r(target.x)},${r(target.y)}`;
}

/**
 * An arc between wrapped rows, routed around the text rather than across it: up from the source to
 * the top of its row's arc band (above that row's arcs), right to the gutter, down the gutter, left
 * along the top of the target row's band, and down onto the target. Rounded bends.
 *
 * @param {{x:number, y:number, band:number}} source anchor, with the arc band above its row
 * @param {{x:number, y:number, band:number}} target anchor
 * @param {{gutterX:number, inset:number}} between the gutter's x, and how far below a band's top the runs lie
 */
export function rowCrossingPath(source, target, { gutterX, inset }, zoom = 1) {
  const c = CORNER * zoom;
  const top1 = source.y - source.band + inset;
  const top2 = target.y - target.band + inset;
  const g = gutterX;
  return (
    `M${r(source.x)},${r(source.y)} V${r(top1 + c)} Q${r(source.x)},${r(top1)} ${r(source.x + c)},${r(top1)} ` +
    `H${r(g - c)} Q${r(g)},${r(top1)} ${r(g)},${r(top1 + c)} V${r(top2 - c)} Q${r(g)},${r(top2)} ${r(g - c)},${r(top2)} ` +
    `H${r(target.x + c)} Q${r(target.x)},${r(top2)} ${r(target.x)},${r(top2 + c)} V${r(target.y)}`
  );
}

/** A self-edge: a small loop standing on the node. */
export function loopPath(anchor, zoom = 1) {
  const w = 4 * zoom;
  const h = 22 * zoom;
  const { x, y } = anchor;
  return `M${r(x - w)},${r(y)} C${r(x - 3 * w)},${r(y - h)} ${r(x + 3 * w)},${r(y - h)} ${r(x + w)},${r(y)}`;
}

/** The arc band above a row: room for the tallest arc among `anchorsPairs` on one row, or a loop. */
export function arcBandFor(anchorsPairs, zoom = 1) {
  let peak = 24 * zoom; // loops and the arrowheads fit
  for (const [s, t] of anchorsPairs) {
    if (s.row === t.row) peak = Math.max(peak, arcPeak(arcHeight(t.x - s.x, zoom)));
  }
  return peak + 10 * zoom;
}

/** The arc band of each of `rows` rows, from the arcs that start and end on it (see arcBandFor). */
export function arcBandsByRow(anchorsPairs, rows, zoom = 1) {
  const byRow = Array.from({ length: rows }, () => []);
  for (const [s, t] of anchorsPairs) if (s.row === t.row) byRow[s.row].push([s, t]);
  return byRow.map((pairs) => arcBandFor(pairs, zoom));
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

/**
 * Colour, stroke width and opacity of an edge: green helps, red hurts, both grow with |effect|.
 * An infinite effect is the strongest there is (it ranks first); NaN is grey and faint: neither helps nor hurts.
 */
export function edgeStyle(effect, maxAbs) {
  const t = Number.isNaN(effect) ? 0 : !Number.isFinite(effect) ? 1 : maxAbs > 0 ? Math.min(1, Math.abs(effect) / maxAbs) : 0;
  return {
    color: Number.isNaN(effect) ? GREY : effect >= 0 ? GREEN : RED,
    width: 0.75 + 4.75 * t,
    opacity: 0.18 + 0.77 * t,
  };
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

function r(v) {
  return Math.round(v * 10) / 10;
}
