// Draws a graph as SVG: token strip, arcs above it, span brackets below it.

import { boxLabel, formatEffect, isEstimate, visible } from "./format.js";
import {
  BRACKET_ROW,
  MAX_CHARS,
  arcBandsByRow,
  arcPath,
  bracketRows,
  edgeStyle,
  filterEdges,
  layoutStrip,
  nodeAnchor,
  spanSegments,
} from "./layout.js";

const SVG = "http://www.w3.org/2000/svg";
const INDEX_ROW = 12; // the position numbers under the boxes
const LANES = 5; // parallel lanes of arcs between wrapped rows (they fit the gutter)
const LANE = 3; // px between lanes at zoom 1
let instances = 0; // marker ids must be unique in a page that shows several widgets

/** An SVG element with attributes. */
export function svgEl(tag, attrs = {}, parent = null) {
  const el = document.createElementNS(SVG, tag);
  for (const [k, v] of Object.entries(attrs)) el.setAttribute(k, String(v));
  if (parent) parent.appendChild(el);
  return el;
}

/**
 * Draw `graph` into `svg` (its children are replaced).
 *
 * @param {SVGSVGElement} svg
 * @param {object} graph a FlowGraph.to_dict()
 * @param {{threshold:number, topK:number|null, zoom:number, wrapWidth:number|null}} view
 * @returns {{edges: object[], maxAbs: number}} the drawn edges (ranked) and the scale's maximum |effect|
 */
export function drawFlow(svg, graph, view) {
  svg.replaceChildren();
  const { zoom } = view;
  const edges = filterEdges(graph.edges, view.threshold, view.topK);
  const maxAbs = edges.reduce((m, e) => (Number.isFinite(e.effect) ? Math.max(m, Math.abs(e.effect)) : m), 0);
  const brackets = bracketRows(graph.nodes);
  const bracketDepth = brackets.size ? Math.max(...brackets.values()) + 1 : 0;
  const belowBand = (INDEX_ROW + bracketDepth * BRACKET_ROW + 6) * zoom;

  // Rows and x positions do not depend on the arc band, so a first pass gives the anchors that size it.
  const options = { zoom, wrapWidth: view.wrapWidth, belowBand };
  const first = layoutStrip(graph.tokens, { ...options, arcBand: 0 });
  const pairs = edges.map((e) => [
    nodeAnchor(first.boxes, graph.nodes[e.source]),
    nodeAnchor(first.boxes, graph.nodes[e.target]),
  ]);
  const layout = layoutStrip(graph.tokens, { ...options, arcBand: arcBandsByRow(pairs, first.rows, zoom) });
  svg.setAttribute("width", String(Math.ceil(layout.width)));
  svg.setAttribute("height", String(Math.ceil(layout.height)));
  svg.setAttribute("viewBox", `0 0 ${Math.ceil(layout.width)} ${Math.ceil(layout.height)}`);

  const id = `infoflow-${++instances}`;
  const defs = svgEl("defs", {}, svg);
  for (const [sign, color] of [["pos", edgeStyle(1, 1).color], ["neg", edgeStyle(-1, 1).color], ["nan", edgeStyle(NaN, 1).color]]) {
    const marker = svgEl("marker", {
      id: `${id}-${sign}`, viewBox: "0 0 10 10", refX: 9, refY: 5,
      markerWidth: 7 * zoom, markerHeight: 7 * zoom, markerUnits: "userSpaceOnUse", orient: "auto",
    }, defs);
    svgEl("path", { d: "M0,0 L10,5 L0,10 z", fill: color }, marker);
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
    const lane = between && layout.boxes[source.start].row !== layout.boxes[target.start].row ? (crossing++ % LANES) : 0;
    const route = between && { gutterX: layout.gutterX + (lane - (LANES - 1) / 2) * LANE * zoom, inset: (4 + lane * LANE) * zoom };
    const style = edgeStyle(edge.effect, maxAbs);
    svgEl("path", {
      class: "if-arc",
      d: arcPath(nodeAnchor(layout.boxes, source), nodeAnchor(layout.boxes, target), zoom, route),
      stroke: style.color,
      "stroke-width": style.width * zoom ** 0.5,
      "stroke-opacity": style.opacity,
      fill: "none",
      "marker-end": `url(#${id}-${Number.isNaN(edge.effect) ? "nan" : edge.effect >= 0 ? "pos" : "neg"})`,
      // Focusable: Tab reaches each arc, Enter opens a span edge (see widget.js), screen readers read the label.
      tabindex: 0,
      role: "button",
      "aria-label": `edge ${source.start}:${source.end} to ${target.start}:${target.end}, effect ${formatEffect(edge.effect)}, rank ${edge.rank}`,
      // First-order estimates are dashed, so they never pass for measured effects.
      ...(isEstimate(edge) ? { "stroke-dasharray": dashes(zoom), "data-estimate": "" } : {}),
      "data-index": edge.index,
      "data-rank": edge.rank,
      "data-source": `${source.start}:${source.end}`,
      "data-target": `${target.start}:${target.end}`,
    }, arcs);
  }
  return { edges, maxAbs };
}

/** The dash pattern of estimated edges (also drawn in the legend). */
export function dashes(zoom = 1) {
  return `${5 * zoom} ${3 * zoom}`;
}

function drawTokens(svg, tokens, boxes, zoom) {
  const group = svgEl("g", { class: "if-tokens" }, svg);
  tokens.forEach((token, i) => {
    const b = boxes[i];
    const g = svgEl("g", { class: "if-token", "data-pos": i, tabindex: 0, role: "button", "aria-label": `token ${i}: ${visible(token)}` }, group);
    svgEl("rect", { x: b.x, y: b.y, width: b.width, height: b.height, rx: 3 * zoom }, g);
    const label = svgEl("text", {
      x: b.x + b.width / 2, y: b.y + b.height / 2, "font-size": 12 * zoom,
      "text-anchor": "middle", "dominant-baseline": "central",
    }, g);
    label.textContent = boxLabel(token, MAX_CHARS);
    const index = svgEl("text", {
      class: "if-index", x: b.x + b.width / 2, y: b.y + b.height + 9 * zoom, "font-size": 8.5 * zoom,
      "text-anchor": "middle",
    }, g);
    index.textContent = String(i);
    svgEl("title", {}, g).textContent = `${i}: ${visible(token)}`;
  });
}

function drawBrackets(svg, nodes, boxes, rows, zoom) {
  const group = svgEl("g", { class: "if-brackets" }, svg);
  for (const [i, depth] of rows) {
    const node = nodes[i];
    spanSegments(boxes, node).forEach((seg, k) => {
      const y = seg.y + (INDEX_ROW + 4 + depth * BRACKET_ROW) * zoom;
      const tick = 4 * zoom;
      const g = svgEl("g", { class: "if-bracket", "data-node": i }, group);
      svgEl("path", { d: `M${seg.x1 + 1},${y} v${tick} H${seg.x2 - 1} v${-tick}`, fill: "none" }, g);
      if (k === 0) {
        const label = svgEl("text", {
          x: (seg.x1 + seg.x2) / 2, y: y + tick + 9 * zoom, "font-size": 9 * zoom, "text-anchor": "middle",
        }, g);
        label.textContent = `${node.start}:${node.end}`;
      }
    });
  }
}

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
  for (const arc of svg.querySelectorAll(".if-arc")) {
    const on = pos != null && (inSpan(arc.dataset.source, pos) || inSpan(arc.dataset.target, pos));
    arc.classList.toggle("if-hot", on);
    hot += on;
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
    token.classList.toggle("if-end", arc != null && (inSpan(arc.dataset.source, pos) || inSpan(arc.dataset.target, pos)));
  }
}
