// Draws a graph as SVG: token strip, arcs above it, span brackets below it.

import { svgEl } from "../dom.js";
import { flaggedOpacity, flagNames, flagOutline } from "../flags.js";
import { formatEffect, isEstimate, nodeName } from "../format.js";
import { arcBandsByRow, arcPath } from "../geometry/arcs.js";
import { edgeStyle } from "../geometry/edges.js";
import { BRACKET_ROW, bracketRows, layoutStrip, MARGIN, nodeAnchor } from "../geometry/strip.js";
import { drawBrackets, drawTokens, INDEX_ROW } from "./strip.js";

const LANES = 5; // parallel lanes of arcs between wrapped rows (they fit the gutter)
const LANE = 3; // px between lanes at zoom 1
let instances = 0; // marker ids must be unique in a page that shows several widgets
const NOTE_SIZE = 13; // px of the note written over an empty drawing, at zoom 1
const NOTE_CHAR = 7; // px per character of that note, generously (the drawing widens to hold it)

/** The dash pattern of estimated edges (also drawn in the legend). */
export function dashes(zoom = 1) {
  return `${5 * zoom} ${3 * zoom}`;
}

/**
 * Draw `graph` into `svg` (its children are replaced).
 *
 * @param {SVGSVGElement} svg
 * @param {object} graph a FlowGraph.to_dict()
 * @param {{edges: object[], maxAbs: number, zoom: number, wrapWidth: number|null, note?: string|null}} view the
 *   edges to draw, ranked (see filterEdges); the |effect| drawn widest (see edgeScale); a note written above the
 *   strip (say, why no arc is drawn): part of the drawing, so SVG and PNG downloads carry it
 */
export function drawFlow(svg, graph, { edges, maxAbs, zoom, wrapWidth, note = null }) {
  svg.replaceChildren();
  const brackets = bracketRows(graph.nodes);
  const bracketDepth = brackets.size ? Math.max(...brackets.values()) + 1 : 0;
  const belowBand = (INDEX_ROW + bracketDepth * BRACKET_ROW + 6) * zoom;

  // Rows and x positions do not depend on the arc band, so a first pass gives the anchors that size it.
  const options = { zoom, wrapWidth, belowBand };
  const first = layoutStrip(graph.tokens, { ...options, arcBand: 0 });
  const pairs = edges.map((e) => [
    nodeAnchor(first.boxes, graph.nodes[e.source]),
    nodeAnchor(first.boxes, graph.nodes[e.target]),
  ]);
  const layout = layoutStrip(graph.tokens, { ...options, arcBand: arcBandsByRow(pairs, first.rows, zoom) });
  const width = Math.ceil(Math.max(layout.width, note ? (2 * MARGIN + NOTE_CHAR * note.length) * zoom : 0));
  const height = Math.ceil(layout.height);
  svg.setAttribute("width", String(width));
  svg.setAttribute("height", String(height));
  svg.setAttribute("viewBox", `0 0 ${width} ${height}`);

  const id = `infoflow-${++instances}`;
  const defs = svgEl("defs", {}, svg);
  for (const [sign, color] of [
    ["pos", edgeStyle(1, 1).color],
    ["neg", edgeStyle(-1, 1).color],
    ["nan", edgeStyle(NaN, 1).color],
  ]) {
    const marker = svgEl(
      "marker",
      {
        id: `${id}-${sign}`,
        viewBox: "0 0 10 10",
        refX: 9,
        refY: 5,
        markerWidth: 7 * zoom,
        markerHeight: 7 * zoom,
        markerUnits: "userSpaceOnUse",
        orient: "auto",
      },
      defs,
    );
    svgEl("path", { d: "M0,0 L10,5 L0,10 z", fill: color }, marker);
  }

  if (note) {
    // In the first row's arc band, which is there even without arcs (see arcBandFor).
    svgEl(
      "text",
      { class: "if-drawing-note", x: MARGIN * zoom, y: 20 * zoom, "font-size": NOTE_SIZE * zoom },
      svg,
    ).textContent = note;
  }
  drawTokens(svg, graph.tokens, layout.boxes, zoom);
  drawBrackets(svg, graph.nodes, layout.boxes, brackets, zoom);
  const arcs = svgEl("g", { class: "if-arcs" }, svg);
  // Arcs between wrapped rows run along the top of the arc bands (above the rows' own arcs) and down the gutter.
  const between = layout.gutterX != null;
  // The weakest first, so the strongest arcs lie on top.
  let crossing = 0;
  for (const edge of [...edges].reverse()) {
    const source = graph.nodes[edge.source];
    const target = graph.nodes[edge.target];
    // Arcs between rows take one of a few lanes, so that those sharing a gutter or a target stay apart.
    const lane = between && layout.boxes[source.start].row !== layout.boxes[target.start].row ? crossing++ % LANES : 0;
    const route = between && {
      gutterX: layout.gutterX + (lane - (LANES - 1) / 2) * LANE * zoom,
      inset: (4 + lane * LANE) * zoom,
    };
    const style = edgeStyle(edge.effect, maxAbs);
    const d = arcPath(nodeAnchor(layout.boxes, source), nodeAnchor(layout.boxes, target), zoom, route);
    const ends = {
      "data-index": edge.index,
      "data-source": `${source.start}:${source.end}`,
      "data-target": `${target.start}:${target.end}`,
    };
    const flags = flagNames(edge);
    if (flags.length)
      drawOutline(defs, arcs, {
        id: `${id}-flag-${edge.index}`,
        d,
        width: style.width,
        zoom,
        size: [width, height],
        ends,
      });
    svgEl(
      "path",
      {
        class: "if-arc",
        d,
        stroke: style.color,
        "stroke-width": style.width * zoom ** 0.5,
        "stroke-opacity": flaggedOpacity(style.opacity, edge), // inconsistent arcs are faded
        fill: "none",
        "marker-end": `url(#${id}-${Number.isNaN(edge.effect) ? "nan" : edge.effect >= 0 ? "pos" : "neg"})`,
        // Focusable: Tab reaches each arc, Enter opens a span edge or a token edge's anatomy (Shift+Enter: any edge's
        // anatomy; see panels/drawing.js and panels/anatomy.js), screen readers read the label.
        tabindex: 0,
        role: "button",
        "aria-label":
          `edge from ${nodeName(graph, edge.source)} to ${nodeName(graph, edge.target)}, effect ${formatEffect(edge.effect)}, rank ${edge.rank}` +
          (flags.length ? `, flagged: ${flags.join(", ")}` : ""),
        // First-order estimates are dashed, so they never pass for measured effects.
        ...(isEstimate(edge) ? { "stroke-dasharray": dashes(zoom), "data-estimate": "" } : {}),
        ...(flags.length ? { "data-flags": flags.join(" ") } : {}),
        // data-source / data-target: the ends as "start:end" slices, for code (highlights, tests); people read aria-label and the tooltip.
        ...ends,
        "data-rank": edge.rank,
      },
      arcs,
    );
  }
}

/**
 * A flagged arc's dotted outline (may be damage rather than a route), drawn into `arcs` before the arc: a wider dotted
 * stroke of the same path in the flag colour, masked where the arc itself lies, so that it shows only along the arc's
 * sides and the arc keeps its colour (and its arrowhead) however faint it is. The mask goes into `defs` as `id`.
 */
function drawOutline(defs, arcs, { id, d, width, zoom, size: [w, h], ends }) {
  const outline = flagOutline(width, zoom);
  const mask = svgEl("mask", { id, maskUnits: "userSpaceOnUse", x: 0, y: 0, width: w, height: h }, defs);
  svgEl("rect", { width: w, height: h, fill: "white" }, mask);
  svgEl("path", { d, fill: "none", stroke: "black", "stroke-width": width * zoom ** 0.5 }, mask);
  svgEl(
    "path",
    {
      class: "if-flag-outline",
      d,
      stroke: outline.color,
      "stroke-width": outline.width,
      "stroke-opacity": outline.opacity,
      "stroke-dasharray": outline.dash,
      fill: "none",
      mask: `url(#${id})`,
      "pointer-events": "none",
      ...ends,
    },
    arcs,
  );
}
