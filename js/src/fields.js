// Inputs bound to model traits, for the controls panel: each reflects its trait and writes it back
// (sliders debounced: `flush()` sends what a slider still holds, for when the view closes).

import { DEBOUNCE_MS, debounce } from "./debounce.js";
import { el } from "./dom.js";

export function labelled(text, input, cls = "") {
  return el("label", { class: `if-field ${cls}` }, [el("span", { text }), input]);
}

export function traitFields({ model, watch }) {
  const debounced = [];
  // `fn` now and on every change of the trait.
  const follow = (name, fn) => {
    watch(`change:${name}`, fn);
    fn();
  };
  const write = (name, value) => {
    model.set(name, value);
    model.save_changes();
  };
  const strategies = () => model.get("strategies") ?? [];

  return {
    follow,
    flush: () => debounced.forEach((send) => send.flush()),

    select(name, options) {
      const input = el("select", { "data-trait": name }, options.map(([v, t]) => el("option", { value: v, text: t })));
      input.addEventListener("change", () => write(name, input.value));
      follow(name, () => (input.value = model.get(name)));
      return input;
    },

    // The strategies come from Python (the `strategies` trait), each option titled with its description.
    strategyMenu() {
      const input = el("select", { "data-trait": "strategy" });
      input.addEventListener("change", () => write("strategy", input.value));
      follow("strategies", () => {
        input.replaceChildren(...strategies().map((s) => el("option", { value: s.name, text: s.name, title: s.description })));
        input.value = model.get("strategy");
      });
      follow("strategy", () => {
        input.value = model.get("strategy");
        input.title = strategies().find((s) => s.name === input.value)?.description ?? "";
      });
      return input;
    },

    /** A range input and its value; `preview(value)` hears each move at once, the trait only the last of a burst. */
    slider(name, min, max, step, preview) {
      const input = el("input", { type: "range", min, max, step, "data-trait": name });
      const shown = el("output");
      const send = debounce((v) => write(name, v), DEBOUNCE_MS);
      debounced.push(send);
      input.addEventListener("input", () => {
        const value = Number(input.value);
        shown.textContent = value.toPrecision(3);
        preview(value);
        send(value);
      });
      follow(name, () => {
        input.value = model.get(name);
        shown.textContent = Number(model.get(name)).toPrecision(3);
      });
      return { input, el: el("span", { class: "if-slider" }, [input, shown]) };
    },

    /** Written on Enter or when the field loses focus, not per keystroke: each value recomputes. */
    text(name, placeholder, nullable) {
      const input = el("input", { type: "text", placeholder, "data-trait": name, spellcheck: "false" });
      input.addEventListener("change", () => write(name, nullable && input.value === "" ? null : input.value));
      follow(name, () => (input.value = model.get(name) ?? ""));
      return input;
    },

    /** A whole number of at least 0, or null when empty. */
    count(name, placeholder) {
      const input = el("input", { type: "number", min: 0, step: 1, placeholder, "data-trait": name });
      input.addEventListener("change", () => write(name, input.value === "" ? null : Math.max(0, Math.round(+input.value))));
      follow(name, () => (input.value = model.get(name) ?? ""));
      return input;
    },
  };
}
