// The prompt stepper of a prompt set's widget: the mean over the set (the role graph, roles on the strip) or one
// prompt's own graph (its real tokens), chosen by the `prompt_index` trait (-1: the mean), which Python draws without
// measuring again. Shown only when the widget shows a set (the `prompts` trait is not empty); a saved page has no
// kernel to switch with, so there it is disabled.

import { OFFLINE_TITLE } from "../context.js";
import { button, el } from "../dom.js";

const SHOWN = 64; // characters of a prompt in its option

/** The stepper's options: the mean first, then each prompt by number and text. */
export function promptOptions(prompts) {
  const cut = (text) => (text.length > SHOWN ? `${text.slice(0, SHOWN - 1)}…` : text);
  return [
    { value: -1, text: `mean over ${prompts.length} prompts (role graph)` },
    ...prompts.map((text, k) => ({ value: k, text: `prompt ${k + 1}: ${cut(text)}` })),
  ];
}

/** The index `step` away from `index` (-1: the mean) over the mean and `count` prompts, wrapping around. */
export function stepIndex(index, step, count) {
  const span = count + 1;
  return ((((index + 1 + step) % span) + span) % span) - 1;
}

export function createPrompts({ model, watch, offline }) {
  const count = () => (model.get("prompts") ?? []).length;
  const go = (index) => {
    model.set("prompt_index", index);
    model.save_changes();
  };
  const select = el("select", {
    "data-trait": "prompt_index",
    "aria-label": "the graph on show: the mean over the prompts, or one prompt",
  });
  select.addEventListener("change", () => go(Number(select.value)));
  const prev = button("‹", "Previous prompt (before the first: the mean)", () =>
    go(stepIndex(model.get("prompt_index") ?? -1, -1, count())),
  );
  const next = button("›", "Next prompt (after the last: the mean)", () =>
    go(stepIndex(model.get("prompt_index") ?? -1, 1, count())),
  );
  prev.dataset.control = "prompt-prev";
  next.dataset.control = "prompt-next";
  const box = el("div", { class: "if-prompts" }, [el("span", { class: "if-key", text: "show" }), prev, select, next]);
  const choose = () => (select.value = String(model.get("prompt_index") ?? -1));
  const fill = () => {
    const prompts = model.get("prompts") ?? [];
    box.hidden = prompts.length === 0;
    select.replaceChildren(
      ...promptOptions(prompts).map((o) => el("option", { value: String(o.value), text: o.text })),
    );
    choose();
  };
  watch("change:prompts", fill);
  watch("change:prompt_index", choose);
  fill();
  if (offline) {
    for (const control of [prev, select, next]) {
      control.disabled = true;
      control.title = OFFLINE_TITLE;
    }
  }
  return { el: box };
}
