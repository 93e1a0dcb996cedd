// Drill-down: an activated span arc asks the kernel for the token edges inside it ("expand"); the answer
// ("expanded") opens on top of the graph on show, unpinning the pinned token. No element of its own: the toolbar's
// back button closes it. (Shift+click on a span arc opens its anatomy instead: panels/anatomy.js.) A saved page has no kernel to ask: there a click does nothing (the tooltip says why).

import { clearPin, shownGraph } from "../context.js";
import { isSetGraph, isSpanEdge, readGraph } from "../format.js";

export function createDrill({ model, view, hub, watch, redraw, offline }) {
  const viewId = Math.random().toString(36).slice(2);
  let requests = 0;
  let pending = null; // the expansion this view asked for last: only its answer is drawn

  hub.on("arc:activate", (arc) => {
    const edge = shownGraph(view).edges[Number(arc.dataset.index)];
    if (!offline && !isSetGraph(shownGraph(view)) && isSpanEdge(shownGraph(view), edge)) {
      pending = `${viewId}:${++requests}`;
      model.send({
        type: "expand",
        source: edge.source,
        target: edge.target,
        level: view.drilled.length,
        request: pending,
      });
    }
  });
  // An expansion still on its way belongs to the graph that was on show.
  watch("change:graph", () => (pending = null));
  watch("msg:custom", (msg) => {
    // Every view of the model hears every answer: only the one that asked, for its latest click, draws it.
    if (msg?.type === "expanded" && msg.request === pending && msg.level === view.drilled.length) {
      pending = null;
      view.drilled.push(readGraph(msg.graph));
      if (!clearPin(model)) redraw(); // unpinning redraws (change:selected)
    }
  });
  return {};
}
