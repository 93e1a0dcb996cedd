// Pure geometry of the token strip: boxes in one scrolling row or rows wrapped to a width, the anchors
// arcs attach to, and the span brackets that hang below the boxes. No DOM here: every number is unit-tested.

import { visible } from "../format.js";
import { strip } from "../style.json"; // shared with the Python static drawing (infoflow_widget/core/style.py)

export const CHAR_WIDTH = strip.charWidth; // px per character of the 12px monospace token font
export const MAX_CHARS = strip.maxChars; // longer tokens are cut in their box
export const BOX_PAD = strip.boxPad;
export const MIN_BOX = strip.minBox;
export const GAP = strip.gap;
export const BOX_HEIGHT = strip.boxHeight;
export const MARGIN = strip.margin;
export const BRACKET_ROW = strip.bracketRow;
export const GUTTER = strip.gutter; // channel right of wrapped rows that arcs between rows run down

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
    const chars = Math.min([...visible(token)].length, MAX_CHARS); // as the box shows it: "<0x1B>" for ESC
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
