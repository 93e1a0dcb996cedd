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

  return {
    follow,
    flush: () => {
      for (const send of debounced) send.flush();
    },

    /**
     * A select of the trait `name` whose options come from Python: the list trait `items` of {name, description}
     * (`strategies`, `interventions`), each option titled with its description. A value the list lacks (a saved page
     * of another version) still shows, as its name.
     */
    menu(name, items) {
      const input = el("select", { "data-trait": name });
      const entries = () => model.get(items) ?? [];
      input.addEventListener("change", () => write(name, input.value));
      const fill = () => {
        const listed = entries();
        const value = model.get(name);
        const extra = value != null && !listed.some((e) => e.name === value) ? [{ name: value, description: "" }] : [];
        input.replaceChildren(
          ...[...listed, ...extra].map((e) => el("option", { value: e.name, text: e.name, title: e.description })),
        );
        input.value = value;
        input.title = listed.find((e) => e.name === value)?.description ?? "";
      };
      follow(items, fill);
      watch(`change:${name}`, fill);
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
      input.addEventListener("change", () =>
        write(name, input.value === "" ? null : Math.max(0, Math.round(+input.value))),
      );
      follow(name, () => (input.value = model.get(name) ?? ""));
      return input;
    },
  };
}
