// Controls bound to model traits: each reflects its trait and writes it back (sliders debounced).

export const INTERVENTIONS = [
  ["zero", "Zero: pattern set to 0"],
  ["dampen", "Dampen: pattern × alpha"],
  ["crop", "Crop: keys up to j removed"],
  ["corrupt", "Corrupt: patch from a prompt"],
];

export const DEBOUNCE_MS = 300;

/** `fn` called once `ms` after the last of a burst of calls; `.flush()` runs a pending call now. */
export function debounce(fn, ms) {
  let timer = null;
  let args = null;
  const run = () => {
    timer = null;
    fn(...args);
  };
  const wrapped = (...a) => {
    args = a;
    clearTimeout(timer);
    timer = setTimeout(run, ms);
  };
  wrapped.flush = () => timer && (clearTimeout(timer), run());
  wrapped.cancel = () => {
    clearTimeout(timer);
    timer = null;
  };
  return wrapped;
}

function el(tag, attrs = {}, children = []) {
  const node = document.createElement(tag);
  for (const [k, v] of Object.entries(attrs)) {
    if (k === "text") node.textContent = v;
    else node.setAttribute(k, v);
  }
  node.append(...children);
  return node;
}

function labelled(text, input, cls = "") {
  return el("label", { class: `if-field ${cls}` }, [el("span", { text }), input]);
}

/** Whether the threshold of the current strategy filters in the browser (its graph holds every edge). */
export function filtersInBrowser(model) {
  const entry = (model.get("strategies") ?? []).find((s) => s.name === model.get("strategy"));
  return entry != null && !entry.prunes;
}

/**
 * Build the control panel for `model`.
 *
 * @param {object} model the anywidget model
 * @param {(name: string, value: any) => void} preview called at once while a slider moves, before the debounced write
 * @returns {{el: HTMLElement, dispose: () => void}}
 */
export function buildControls(model, preview) {
  const listeners = [];
  const watch = (name, fn) => {
    model.on(`change:${name}`, fn);
    listeners.push([`change:${name}`, fn]);
    fn();
  };
  const write = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };
  const debounced = [];

  const select = (name, options) => {
    const input = el("select", { "data-trait": name }, options.map(([v, t]) => el("option", { value: v, text: t })));
    input.addEventListener("change", () => write(name, input.value));
    watch(name, () => (input.value = model.get(name)));
    return input;
  };

  // The strategies come from Python (the `strategies` trait), each option titled with its description.
  const strategyMenu = () => {
    const input = el("select", { "data-trait": "strategy" });
    input.addEventListener("change", () => write("strategy", input.value));
    watch("strategies", () => {
      const options = (model.get("strategies") ?? []).map((s) => el("option", { value: s.name, text: s.name, title: s.description }));
      input.replaceChildren(...options);
      input.value = model.get("strategy");
    });
    watch("strategy", () => {
      input.value = model.get("strategy");
      input.title = (model.get("strategies") ?? []).find((s) => s.name === input.value)?.description ?? "";
    });
    return input;
  };

  const slider = (name, min, max, step) => {
    const input = el("input", { type: "range", min, max, step, "data-trait": name });
    const shown = el("output");
    const send = debounce((v) => write(name, v), DEBOUNCE_MS);
    debounced.push(send);
    input.addEventListener("input", () => {
      const value = Number(input.value);
      shown.textContent = value.toPrecision(3);
      preview(name, value);
      send(value);
    });
    watch(name, () => {
      input.value = model.get(name);
      shown.textContent = Number(model.get(name)).toPrecision(3);
    });
    return { input, el: el("span", { class: "if-slider" }, [input, shown]) };
  };

  const text = (name, placeholder, nullable) => {
    const input = el("input", { type: "text", placeholder, "data-trait": name, spellcheck: "false" });
    // Written on Enter or when the field loses focus, not per keystroke: each value recomputes.
    input.addEventListener("change", () => write(name, nullable && input.value === "" ? null : input.value));
    watch(name, () => (input.value = model.get(name) ?? ""));
    return input;
  };

  const topK = el("input", { type: "number", min: 0, step: 1, placeholder: "all", "data-trait": "top_k" });
  topK.addEventListener("change", () => write("top_k", topK.value === "" ? null : Math.max(0, Math.round(+topK.value))));
  watch("top_k", () => (topK.value = model.get("top_k") ?? ""));

  const alpha = slider("alpha", 0, 2, 0.05);
  const threshold = slider("threshold", 0, 1, 0.001);
  const corrupted = text("corrupted_prompt", "a prompt of the same token length", false);
  const alphaField = labelled("alpha", alpha.el, "if-alpha");
  const corruptedField = labelled("corrupted prompt", corrupted, "if-wide if-corrupted");
  watch("intervention", () => {
    alphaField.hidden = model.get("intervention") !== "dampen";
    corruptedField.hidden = model.get("intervention") !== "corrupt";
  });
  // The threshold slider spans the effects of the graph on show.
  watch("graph", () => {
    const edges = model.get("graph")?.edges ?? [];
    const max = edges.reduce((m, e) => (Number.isFinite(e.effect) ? Math.max(m, Math.abs(e.effect)) : m), 0) || 1;
    threshold.input.max = String(max);
    threshold.input.step = String(max / 200);
    threshold.input.value = model.get("threshold");
  });

  const panel = el("div", { class: "if-controls" }, [
    labelled("intervention", select("intervention", INTERVENTIONS)),
    alphaField,
    labelled("strategy", strategyMenu()),
    labelled("threshold |effect| ≥", threshold.el),
    labelled("top k", topK),
    labelled("answer", text("answer", 'e.g. " Mary"', true), "if-short"),
    labelled("distractor", text("distractor", 'e.g. " John"', true), "if-short"),
    corruptedField,
  ]);
  return {
    el: panel,
    dispose() {
      for (const [event, fn] of listeners) model.off(event, fn);
      for (const d of debounced) d.flush(); // a value set just before the view closes still reaches the kernel
    },
  };
}
