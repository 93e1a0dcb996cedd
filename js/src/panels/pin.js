// The pin chip: while a token is pinned (the `selected` trait, set by a click on it), the toolbar says which, with a
// button that unpins it. A new graph, a drill-down or a step back unpins (see widget.js, drill.js, toolbar.js).

import { clearPin } from "../context.js";
import { el } from "../dom.js";
import { visible } from "../format.js";

export function createPin({ model }) {
  const label = el("span", { class: "if-pin-label" });
  const remove = el("button", {
    class: "if-pin-remove",
    type: "button",
    title: "Unpin: show every arc again",
    "aria-label": "unpin",
    text: "×",
  });
  remove.addEventListener("click", () => clearPin(model));
  const chip = el("span", { class: "if-pin", role: "status" }, [label, remove]);
  chip.hidden = true;
  return {
    slot: "toolbar-start",
    el: chip,
    update({ graph, selected }) {
      const pinned = graph != null && selected != null && selected >= 0 && selected < graph.tokens.length;
      chip.hidden = !pinned;
      label.textContent = pinned ? `pinned: token ${selected} ${visible(graph.tokens[selected])}` : "";
    },
  };
}
