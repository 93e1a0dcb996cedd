// The controls: intervention, alpha, strategy, threshold, top k, answer, distractor, corrupted prompt. The menus list
// what Python sends (the `interventions` and `strategies` traits); a parameter's field shows when the chosen
// intervention takes it.
// In a saved page (no kernel) those that recompute are disabled, saying why, and show what the saved graph was
// computed with; top k and a threshold that filters in the browser stay live.

import { OFFLINE_TITLE } from "../context.js";
import { button, el } from "../dom.js";
import { labelled, traitFields } from "../fields.js";
import { maxAbsEffect } from "../geometry/edges.js";

/**
 * The parameters the chosen intervention takes, by name (with their defaults), from the `interventions` trait Python
 * sends (intervention_menu()): the alpha slider shows for one that takes `alpha`, the prompt box for `corrupted_prompt`.
 */
export function interventionParameters(model) {
  const entry = (model.get("interventions") ?? []).find((i) => i.name === model.get("intervention"));
  return entry?.parameters ?? {};
}

/** Whether the threshold of the current strategy filters in the browser (its graph holds every edge). */
export function filtersInBrowser(model) {
  const entry = (model.get("strategies") ?? []).find((s) => s.name === model.get("strategy"));
  return entry != null && !entry.prunes;
}

/**
 * The parameters a graph was computed with, from its provenance, as control values: intervention, alpha, corrupted
 * prompt, strategy, and threshold (meaningful to a search strategy only). Only those the provenance holds. A consensus
 * graph (provenance `consensus`: the interventions compared) reads as "consensus", with its Dampen's alpha and its
 * corrupted prompt.
 */
export function savedParameters(graph) {
  const p = graph?.provenance ?? {};
  const isObject = (v) => v !== null && typeof v === "object";
  const i = isObject(p.intervention) ? p.intervention : {};
  const saved = {};
  if (typeof i.kind === "string") saved.intervention = i.kind;
  if (Number.isFinite(i.alpha)) saved.alpha = i.alpha;
  if (typeof i.corrupted_prompt === "string") saved.corrupted_prompt = i.corrupted_prompt;
  if (isObject(p.consensus)) {
    const compared = (Array.isArray(p.consensus.interventions) ? p.consensus.interventions : []).filter(isObject);
    saved.intervention = "consensus";
    const alpha = compared.find((c) => Number.isFinite(c.alpha));
    const corrupted = compared.find((c) => typeof c.corrupted_prompt === "string");
    if (alpha) saved.alpha = alpha.alpha;
    if (corrupted) saved.corrupted_prompt = corrupted.corrupted_prompt;
  }
  if (typeof p.strategy?.name === "string") saved.strategy = p.strategy.name;
  if (Number.isFinite(p.threshold)) saved.threshold = p.threshold;
  return saved;
}

/** The title of the corrupted-prompt box's "auto" button. */
export const AUTO_TITLE =
  "auto: the mean over 4 generated corrupted prompts (the prompt's names and numbers replaced by others of the same token length)";

/** Disable a control that needs the kernel, saying why on it and on its label. */
function needsKernel(label) {
  label.classList.add("if-needs-kernel");
  label.title = OFFLINE_TITLE;
  for (const input of label.querySelectorAll("input, select, button")) {
    input.disabled = true;
    input.title = OFFLINE_TITLE;
  }
}

export function createControls(ctx) {
  const { model, view, redraw, offline } = ctx;
  if (offline) {
    // No kernel recomputes here: the controls show what the saved graph was computed with (the stand-in model of a
    // saved page is the page's own, so setting it sends nothing). A threshold only matters to a search strategy.
    const { threshold, ...saved } = savedParameters(model.get("graph"));
    for (const [name, value] of Object.entries(saved)) model.set(name, value);
    if (threshold != null && !filtersInBrowser(model)) model.set("threshold", threshold);
  }
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
  // Alpha shows only for an intervention that takes it (Dampen), but keeps its room (if-reserve): the controls after it never move. The corrupted
  // prompt comes last, so nothing moves aside for it; reserved, its wide box would leave an empty row.
  const alphaField = labelled("alpha", alpha.el, "if-alpha if-reserve");
  // "auto" in the box (typed, or put there by its button) asks Python for generated prompts: Corrupt.auto().
  const corruptedInput = fields.text("corrupted_prompt", "a prompt of the same token length, or auto", false);
  const autoButton = button("auto", AUTO_TITLE, () => {
    model.set("corrupted_prompt", "auto");
    model.save_changes();
  });
  autoButton.dataset.control = "corrupt-auto";
  const corruptedField = labelled(
    "corrupted prompt",
    el("span", { class: "if-corrupted-input" }, [corruptedInput, autoButton]),
    "if-wide if-corrupted",
  );
  const showParameters = () => {
    const takes = interventionParameters(model);
    alphaField.hidden = !("alpha" in takes);
    corruptedField.hidden = !("corrupted_prompt" in takes);
  };
  fields.follow("intervention", showParameters);
  // A prompt set's prompts carry their own answers and distractors.
  const set = () => (model.get("prompts") ?? []).length > 0;
  fields.follow("interventions", showParameters);
  // The threshold slider spans the effects of the graph on show.
  fields.follow("graph", () => {
    const max = maxAbsEffect(model.get("graph")?.edges ?? []) || 1;
    threshold.input.max = String(max);
    threshold.input.step = String(max / 200);
    threshold.input.value = model.get("threshold");
  });

  const interventionField = labelled("intervention", fields.menu("intervention", "interventions"));
  const strategyField = labelled("strategy", fields.menu("strategy", "strategies"));
  const thresholdField = labelled("threshold |effect| ≥", threshold.el);
  const answerField = labelled("answer", fields.text("answer", 'e.g. " Mary"', true), "if-short");
  const distractorField = labelled("distractor", fields.text("distractor", 'e.g. " John"', true), "if-short");
  fields.follow("prompts", () => {
    answerField.hidden = set();
    distractorField.hidden = set();
  });
  if (offline) {
    const kernelFields = [interventionField, alphaField, strategyField, answerField, distractorField, corruptedField];
    // A graph of every token edge filters by threshold in the page; a search strategy's threshold prunes: it recomputes.
    if (!filtersInBrowser(model)) kernelFields.push(thresholdField);
    kernelFields.forEach(needsKernel);
  }

  return {
    el: el("div", { class: "if-controls" }, [
      interventionField,
      alphaField,
      strategyField,
      thresholdField,
      labelled("top k", fields.count("top_k", "all")),
      answerField,
      distractorField,
      corruptedField,
    ]),
    destroy: fields.flush, // a value set just before the view closes still reaches the kernel
  };
}
