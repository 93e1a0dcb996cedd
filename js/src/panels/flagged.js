// The "hide flagged (N)" box in the toolbar: shown when the graph on show has flagged edges (see flags.js), it hides
// their arcs in the browser (the view's `hideFlagged`, not a trait: saved pages have it too). N counts the flagged
// arcs that threshold, top-k and the noise floor leave: those it hides.

import { el } from "../dom.js";
import { hasFlags } from "../flags.js";

export function createFlagFilter({ view, redraw }) {
  const box = el("input", { type: "checkbox", "data-control": "hide-flagged" });
  const text = el("span");
  const label = el(
    "label",
    { class: "if-check if-hide-flagged", title: "Hide arcs flagged as possible damage rather than a route" },
    [box, text],
  );
  label.hidden = true;
  box.addEventListener("change", () => {
    view.hideFlagged = box.checked;
    redraw();
  });
  return {
    slot: "toolbar-start",
    el: label,
    update({ graph, flagged }) {
      label.hidden = !hasFlags(graph);
      box.checked = view.hideFlagged;
      text.textContent = ` hide flagged (${flagged})`;
    },
  };
}
