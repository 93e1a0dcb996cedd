// Pure geometry of the arcs: they rise above the strip from a source node to a target node (see strip.js
// for the anchors they attach to). No DOM here: every number is unit-tested.

import { arcs } from "../style.json"; // shared with the Python static drawing (infoflow_widget/core/style.py)

export const MAX_ARC = arcs.maxArc; // tallest arc control height at zoom 1
const CORNER = 6; // radius of the bends of an arc between rows

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

function r(v) {
  return Math.round(v * 10) / 10;
}
