// The error box: the kernel's `error` trait (say, a corrupted prompt of another length), or a failure in the
// browser announced on the hub ("error", a PNG export). The kernel's next word replaces the latter.

import { el } from "../dom.js";

export function createError({ model, hub, watch }) {
  const box = el("div", { class: "if-error" });
  const show = (message) => {
    box.textContent = message;
    box.hidden = !message;
  };
  const fromKernel = () => show(model.get("error"));
  for (const trait of ["graph", "status", "progress", "computing", "error"]) watch(`change:${trait}`, fromKernel);
  hub.on("error", show);
  fromKernel();
  return { el: box };
}
