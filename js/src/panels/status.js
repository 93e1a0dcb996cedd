// The status line: a progress bar while the kernel computes, and its status text. It also marks the root
// `.if-computing` (the stale drawing dims), `.if-preview` (an estimate on show is meant to be read: not dimmed) and
// `.if-measuring` (a selected edge's anatomy computes: the bar shows, the drawing on show stays as it is).

import { el } from "../dom.js";

export function createStatus({ model, root, watch }) {
  const fill = el("div", { class: "if-progress-fill" });
  const text = el("span", { class: "if-status-text" });
  const line = el("div", { class: "if-status" }, [el("div", { class: "if-progress" }, [fill]), text]);
  const show = () => {
    const computing = model.get("computing");
    root.classList.toggle("if-computing", computing);
    root.classList.toggle("if-preview", computing && model.get("graph")?.provenance?.estimate === true);
    const measuring = model.get("anatomy")?.status === "computing";
    root.classList.toggle("if-measuring", measuring);
    fill.style.width = `${Math.round(100 * (computing || measuring ? model.get("progress") : 0))}%`;
    text.textContent = model.get("status");
  };
  for (const trait of ["graph", "status", "progress", "computing", "anatomy"]) watch(`change:${trait}`, show);
  show();
  return { el: line };
}
