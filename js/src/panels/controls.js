// The controls: intervention, alpha, strategy, threshold, top k, answer, distractor, corrupted prompt.

import { el } from "../dom.js";
import { labelled, traitFields } from "../fields.js";
import { maxAbsEffect } from "../geometry/edges.js";

export const INTERVENTIONS = [
  ["zero", "Zero: pattern set to 0"],
  ["dampen", "Dampen: pattern × alpha"],
  ["crop", "Crop: keys up to j removed"],
  ["corrupt", "Corrupt: patch from a prompt"],
];

/** Whether the threshold of the current strategy filters in the browser (its graph holds every edge). */
export function filtersInBrowser(model) {
  const entry = (model.get("strategies") ?? []).find((s) => s.name === model.get("strategy"));
  return entry != null && !entry.prunes;
}

export function createControls(ctx) {
  const { model, view, redraw } = ctx;
  const fields = traitFields(ctx);
  // A graph of every token edge filters in the browser at once; search strategies recompute, after the debounce.
  const previewThreshold = (value) => {
    if (filtersInBrowser(model)) {
      view.threshold = value;
      redraw();
    }
  };
  const alpha = fields.slider("alpha", 0, 2, 0.05, () => {});
  const threshold = fields.slider("threshold", 0, 1, 0.001, previewThreshold);
  const alphaField = labelled("alpha", alpha.el, "if-alpha");
  const corruptedField = labelled("corrupted prompt", fields.text("corrupted_prompt", "a prompt of the same token length", false), "if-wide if-corrupted");
  fields.follow("intervention", () => {
    alphaField.hidden = model.get("intervention") !== "dampen";
    corruptedField.hidden = model.get("intervention") !== "corrupt";
  });
  // The threshold slider spans the effects of the graph on show.
  fields.follow("graph", () => {
    const max = maxAbsEffect(model.get("graph")?.edges ?? []) || 1;
    threshold.input.max = String(max);
    threshold.input.step = String(max / 200);
    threshold.input.value = model.get("threshold");
  });

  return {
    el: el("div", { class: "if-controls" }, [
      labelled("intervention", fields.select("intervention", INTERVENTIONS)),
      alphaField,
      labelled("strategy", fields.strategyMenu()),
      labelled("threshold |effect| ≥", threshold.el),
      labelled("top k", fields.count("top_k", "all")),
      labelled("answer", fields.text("answer", 'e.g. " Mary"', true), "if-short"),
      labelled("distractor", fields.text("distractor", 'e.g. " John"', true), "if-short"),
      corruptedField,
    ]),
    destroy: fields.flush, // a value set just before the view closes still reaches the kernel
  };
}
