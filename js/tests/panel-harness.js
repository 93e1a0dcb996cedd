// One panel alone in a root, wired as `render` wires it: a context over a mock model, `redraw` updating the
// panel (`redraws` counts the redraws after the first).

import { createContext, frameOf } from "../src/context.js";
import { mockModel, widgetState } from "./mock-model.js";

export function mountPanel(create, state = widgetState()) {
  const model = mockModel(state);
  const root = document.createElement("div");
  root.className = "if-root";
  document.body.append(root);
  let panel = null;
  const mounted = { model, root, redraws: 0 };
  const ctx = createContext(model, root, () => {
    mounted.redraws += 1;
    panel?.update?.(frameOf(ctx));
  });
  panel = create(ctx);
  if (panel.el) root.append(panel.el);
  ctx.redraw();
  mounted.redraws = 0;
  const unmount = () => {
    ctx.destroy();
    panel.destroy?.();
    root.remove();
  };
  return Object.assign(mounted, { ctx, panel, unmount });
}
