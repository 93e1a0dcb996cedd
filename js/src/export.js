// Downloads of the drawing (SVG, PNG) and of the graph (JSON), all made in the browser.

import { xmlSafe } from "./format.js";

// Presentation properties the stylesheet sets; an exported SVG carries them inline, since it leaves the page.
const STYLED = ["fill", "stroke", "stroke-width", "stroke-opacity", "opacity", "font-family", "font-size", "font-weight"];

/** The SVG as standalone text: computed styles inlined, theme background painted. */
export function svgText(svg) {
  const copy = svg.cloneNode(true);
  const source = svg.querySelectorAll("*");
  copy.querySelectorAll("*").forEach((node, i) => {
    const computed = getComputedStyle(source[i]);
    const style = STYLED.map((p) => `${p}:${computed.getPropertyValue(p)}`).filter((s) => !s.endsWith(":"));
    node.setAttribute("style", style.join(";"));
  });
  copy.setAttribute("xmlns", "http://www.w3.org/2000/svg");
  const background = getComputedStyle(svg.closest(".if-root") ?? svg).getPropertyValue("--if-bg").trim() || "#ffffff";
  const rect = document.createElementNS("http://www.w3.org/2000/svg", "rect");
  rect.setAttribute("width", "100%");
  rect.setAttribute("height", "100%");
  rect.setAttribute("fill", background);
  copy.insertBefore(rect, copy.firstChild);
  return xmlSafe(new XMLSerializer().serializeToString(copy)); // a prompt's ESC or NUL would make it ill-formed
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

export function downloadSvg(svg, filename = "infoflow.svg") {
  download(new Blob([svgText(svg)], { type: "image/svg+xml" }), filename);
}

/** Browsers refuse canvases past about 32k pixels a side (less in some): PNGs stay within this. */
export const MAX_CANVAS_SIDE = 16384;

/**
 * A PNG at up to twice the on-screen resolution (less for drawings too large for a canvas), drawn
 * from the SVG through a canvas. `onError(message)` hears of a failure, which is otherwise silent.
 */
export function downloadPng(svg, filename = "infoflow.png", scale = 2, onError = () => {}) {
  const width = svg.width.baseVal.value;
  const height = svg.height.baseVal.value;
  const factor = Math.min(scale, MAX_CANVAS_SIDE / Math.max(width, height, 1));
  const image = new Image();
  const url = URL.createObjectURL(new Blob([svgText(svg)], { type: "image/svg+xml" }));
  image.onload = () => {
    const canvas = document.createElement("canvas");
    canvas.width = Math.ceil(width * factor);
    canvas.height = Math.ceil(height * factor);
    const context = canvas.getContext("2d");
    context.scale(factor, factor);
    context.drawImage(image, 0, 0);
    URL.revokeObjectURL(url);
    canvas.toBlob((blob) => (blob ? download(blob, filename) : onError("the browser could not draw the PNG: try SVG")), "image/png");
  };
  image.onerror = () => {
    URL.revokeObjectURL(url);
    onError("the drawing could not be turned into a PNG: try SVG");
  };
  image.src = url;
}

/** JSON as FlowGraph.load reads it: NaN and infinities as the strings "NaN", "Infinity", "-Infinity" (JSON has no such numbers). */
export function graphJson(graph) {
  return JSON.stringify(graph, (_key, value) => (typeof value === "number" && !Number.isFinite(value) ? String(value) : value), 1);
}

export function downloadJson(graph, filename = "infoflow-graph.json") {
  download(new Blob([graphJson(graph)], { type: "application/json" }), filename);
}
