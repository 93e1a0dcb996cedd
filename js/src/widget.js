// The anywidget front end: `render` wires the panels of a view to its model.
//
// A panel is made by `createX(ctx)` (ctx: see context.js: the model, the view's root, an event hub, the view
// state, `watch` for model events, `redraw`) and returns `{el?, slot?, slots?, update?(frame), destroy?()}`:
// - el: its element, appended to the root in the order of PANELS (or into the slot named `slot`);
// - slots: elements it offers other panels to add to, by name (the toolbar offers "toolbar" and "toolbar-start");
// - update(frame): called on every redraw with what is on show (see frameOf in context.js);
// - destroy(): called when the view goes away (model listeners taken with ctx.watch go by themselves).
// A new panel is one file in panels/ and one line below.

import { clearPin, createContext, frameOf } from "./context.js";
import { readGraph } from "./format.js";
import { createAnatomy } from "./panels/anatomy.js";
import { createControls } from "./panels/controls.js";
import { createDrawing } from "./panels/drawing.js";
import { createDrill } from "./panels/drill.js";
import { createError } from "./panels/error.js";
import { createExports } from "./panels/exports.js";
import { createFlagFilter } from "./panels/flagged.js";
import { createHeader } from "./panels/header.js";
import { createLegend } from "./panels/legend.js";
import { createPin } from "./panels/pin.js";
import { createPrompts } from "./panels/prompts.js";
import { createStatus } from "./panels/status.js";
import { createToolbar } from "./panels/toolbar.js";
import { createTooltip } from "./panels/tooltip.js";
import "./widget.css";

const PANELS = [
  createHeader,
  createControls,
  createPrompts,
  createStatus,
  createError,
  createToolbar,
  createFlagFilter,
  createPin,
  createExports,
  createDrawing,
  createDrill,
  createLegend,
  createAnatomy,
  createTooltip,
];

function render({ model, el: host }) {
  const root = document.createElement("div");
  root.className = "if-root";
  const panels = [];
  const ctx = createContext(model, root, () => {
    const frame = frameOf(ctx);
    for (const panel of panels) panel.update?.(frame);
  });
  root.classList.toggle("if-offline", ctx.offline); // a saved page: no kernel behind the controls
  const slots = {};
  for (const create of PANELS) {
    const panel = create(ctx);
    if (panel.el) (slots[panel.slot] ?? root).append(panel.el);
    Object.assign(slots, panel.slots);
    panels.push(panel);
  }

  // What is on show follows the model: a new graph closes any drill-down and unpins the pinned token (a pin belongs to
  // the graph it was clicked on), a threshold from the kernel ends a preview.
  ctx.watch("change:graph", () => {
    ctx.view.graph = readGraph(model.get("graph"));
    ctx.view.drilled.length = 0;
    if (!clearPin(model)) ctx.redraw(); // unpinning redraws (change:selected)
  });
  ctx.watch("change:threshold", () => {
    ctx.view.threshold = null;
    ctx.redraw();
  });
  ctx.watch("change:top_k", ctx.redraw);
  ctx.watch("change:selected", ctx.redraw);

  host.append(root);
  ctx.redraw();
  return () => {
    ctx.destroy();
    for (const panel of panels) panel.destroy?.();
  };
}

export default { render };
