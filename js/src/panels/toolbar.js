// The toolbar: back out of a drill-down, zoom, wrap. It holds the slots other panels add to: "toolbar-start" after
// its own controls (the pin chip), "toolbar" at its right end (the downloads).

import { clearPin } from "../context.js";
import { button, el } from "../dom.js";

export const ZOOMS = [0.35, 0.5, 0.65, 0.8, 1, 1.25, 1.5, 2];

/** The zoom `step` stops from `zoom` (an off-list zoom first snaps to the next stop up), within the list. */
export function nextZoom(zoom, step) {
  const i = ZOOMS.findIndex((z) => z >= zoom);
  return ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, (i < 0 ? ZOOMS.length - 1 : i) + step))];
}

export function createToolbar({ model, view, redraw }) {
  const zoom = (step) => {
    view.zoom = nextZoom(view.zoom, step);
    redraw();
  };
  const wrapBox = el("input", { type: "checkbox" });
  wrapBox.addEventListener("change", () => {
    view.wrap = wrapBox.checked;
    redraw();
  });
  const back = button("← back", "Back to the span graph", () => {
    view.drilled.pop();
    if (!clearPin(model)) redraw(); // a pin belongs to the graph it was clicked on; unpinning redraws
  });
  back.hidden = true;
  const start = el("span", { class: "if-toolbar-start" });
  const bar = el("div", { class: "if-toolbar" }, [
    back,
    button("−", "Zoom out", () => zoom(-1)),
    button("+", "Zoom in", () => zoom(1)),
    el("label", { class: "if-check" }, [wrapBox, " wrap"]),
    start,
    el("span", { class: "if-spacer" }),
  ]);
  return {
    el: bar,
    slots: { toolbar: bar, "toolbar-start": start },
    update({ graph, wrap, depth }) {
      if (graph) wrapBox.checked = wrap;
      back.hidden = depth === 0;
    },
  };
}
