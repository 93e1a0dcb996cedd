// Downloads, at the right of the toolbar: the drawing (with the anatomy panel when open) as SVG or PNG, the graph
// on show as JSON.

import { shownGraph } from "../context.js";
import { button, el } from "../dom.js";
import { downloadJson, downloadPng, downloadSvg } from "../export.js";

export function createExports({ root, view, hub }) {
  // The drawing, and below it the anatomy panel while it is open: they download together.
  const drawing = () => [
    root.querySelector(".if-canvas svg"),
    ...root.querySelectorAll(".if-anatomy:not([hidden]) .if-anatomy-svg"),
  ];
  const pngFailed = (message) => hub.emit("error", `PNG export: ${message}`);
  return {
    slot: "toolbar",
    el: el("span", { class: "if-exports" }, [
      button("SVG", "Download the drawing as SVG", () => downloadSvg(drawing())),
      button("PNG", "Download the drawing as PNG", () => downloadPng(drawing(), undefined, undefined, pngFailed)),
      button("JSON", "Download the graph on show as JSON", () => downloadJson(shownGraph(view))),
    ]),
  };
}
