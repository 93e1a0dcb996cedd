// Downloads of the drawing (SVG, PNG) and of the graph (JSON), all made in the browser.

import { SVG_NS } from "./dom.js";
import { xmlSafe } from "./format.js";

// Presentation properties the stylesheet sets; an exported SVG carries them inline, since it leaves the page.
const STYLED = [
  "fill",
  "stroke",
  "stroke-width",
  "stroke-opacity",
  "opacity",
  "font-family",
  "font-size",
  "font-weight",
];

/** A copy of `svg` with the computed styles of its elements inlined (an exported SVG leaves the page's stylesheet). */
function inlined(svg) {
  const copy = svg.cloneNode(true);
  const source = svg.querySelectorAll("*");
  copy.querySelectorAll("*").forEach((node, i) => {
    const computed = getComputedStyle(source[i]);
    const style = STYLED.map((p) => `${p}:${computed.getPropertyValue(p)}`).filter((s) => !s.endsWith(":"));
    node.setAttribute("style", style.join(";"));
  });
  return copy;
}

/** The width and height of an SVG on the page, in px. */
export function svgSize(svg) {
  const side = (name) => svg[name]?.baseVal?.value ?? Number(svg.getAttribute(name) ?? 0);
  return { width: side("width"), height: side("height") };
}

export const STACK_GAP = 12; // px between the SVGs exported together (the drawing, the anatomy panel)

/**
 * The SVG (or SVGs, stacked top to bottom: the drawing, then the anatomy panel when it is open) as standalone text:
 * computed styles inlined, theme background painted.
 */
export function svgText(svgs) {
  const list = Array.isArray(svgs) ? svgs : [svgs];
  let copy;
  if (list.length === 1) {
    copy = inlined(list[0]);
  } else {
    const { width, height } = stackSize(list);
    copy = document.createElementNS(SVG_NS, "svg");
    for (const [k, v] of Object.entries({ width, height, viewBox: `0 0 ${width} ${height}` }))
      copy.setAttribute(k, String(v));
    let y = 0;
    for (const svg of list) {
      const part = inlined(svg);
      part.setAttribute("x", "0");
      part.setAttribute("y", String(y));
      copy.appendChild(part);
      y += svgSize(svg).height + STACK_GAP;
    }
  }
  copy.setAttribute("xmlns", SVG_NS);
  const background =
    getComputedStyle(list[0].closest(".if-root") ?? list[0])
      .getPropertyValue("--if-bg")
      .trim() || "#ffffff";
  const rect = document.createElementNS(SVG_NS, "rect");
  rect.setAttribute("width", "100%");
  rect.setAttribute("height", "100%");
  rect.setAttribute("fill", background);
  copy.insertBefore(rect, copy.firstChild);
  return xmlSafe(new XMLSerializer().serializeToString(copy)); // a prompt's ESC or NUL would make it ill-formed
}

/** The size of `svgs` stacked top to bottom, STACK_GAP apart. */
export function stackSize(svgs) {
  const sizes = svgs.map(svgSize);
  return {
    width: Math.ceil(Math.max(0, ...sizes.map((s) => s.width))),
    height: Math.ceil(sizes.reduce((sum, s) => sum + s.height, 0) + STACK_GAP * Math.max(0, svgs.length - 1)),
  };
}

function download(blob, filename) {
  const url = URL.createObjectURL(blob);
  const a = document.createElement("a");
  a.href = url;
  a.download = filename;
  document.body.appendChild(a);
  a.click();
  a.remove();
  setTimeout(() => URL.revokeObjectURL(url), 1000);
}

/** Download the SVG, or several stacked (see svgText). */
export function downloadSvg(svgs, filename = "infoflow.svg") {
  download(new Blob([svgText(svgs)], { type: "image/svg+xml" }), filename);
}

/** Browsers refuse canvases past about 32k pixels a side (less in some): PNGs stay within this. */
export const MAX_CANVAS_SIDE = 16384;

/**
 * A PNG at up to twice the on-screen resolution (less for drawings too large for a canvas), drawn
 * from the SVG (or SVGs, stacked as svgText stacks them) through a canvas. `onError(message)` hears of a failure, which is otherwise silent.
 */
export function downloadPng(svgs, filename = "infoflow.png", scale = 2, onError = () => {}) {
  const { width, height } =
    Array.isArray(svgs) && svgs.length > 1 ? stackSize(svgs) : svgSize(Array.isArray(svgs) ? svgs[0] : svgs);
  const factor = Math.min(scale, MAX_CANVAS_SIDE / Math.max(width, height, 1));
  const image = new Image();
  const url = URL.createObjectURL(new Blob([svgText(svgs)], { type: "image/svg+xml" }));
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = Math.ceil(width * factor);
    canvas.height = Math.ceil(height * factor);
    const context = canvas.getContext("2d");
    context.scale(factor, factor);
    context.drawImage(image, 0, 0);
    URL.revokeObjectURL(url);
    canvas.toBlob(
      (blob) => (blob ? download(blob, filename) : onError("the browser could not draw the PNG: try SVG")),
      "image/png",
    );
  };
  image.onerror = () => {
    URL.revokeObjectURL(url);
    onError("the drawing could not be turned into a PNG: try SVG");
  };
  image.src = url;
}

/** JSON as FlowGraph.load reads it: NaN and infinities as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers). */
export function graphJson(graph) {
  return JSON.stringify(
    graph,
    (_key, value) => (typeof value === "number" && !Number.isFinite(value) ? String(value) : value),
    1,
  );
}

export function downloadJson(graph, filename = "infoflow-graph.json") {
  download(new Blob([graphJson(graph)], { type: "application/json" }), filename);
}
