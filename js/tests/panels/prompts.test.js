// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { formatShort, roleEffectText, setSummary } from "../../src/format.js";
import { createAnatomy } from "../../src/panels/anatomy.js";
import { createControls } from "../../src/panels/controls.js";
import { createDrill } from "../../src/panels/drill.js";
import { createHeader } from "../../src/panels/header.js";
import { createPrompts, promptOptions, stepIndex } from "../../src/panels/prompts.js";
import { createTooltip } from "../../src/panels/tooltip.js";
import { fullGraph, savedState, setState, widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());

describe("the prompt stepper", () => {
  it("lists the mean, then each prompt, and steps around", () => {
    expect(promptOptions(["a b", "c d"]).map((o) => [o.value, o.text])).toEqual([
      [-1, "mean over 2 prompts (role graph)"],
      [0, "prompt 1: a b"],
      [1, "prompt 2: c d"],
    ]);
    expect(promptOptions(["x".repeat(100)])[1].text.length).toBe("prompt 1: ".length + 64);
    expect([stepIndex(-1, 1, 3), stepIndex(2, 1, 3), stepIndex(-1, -1, 3), stepIndex(0, -1, 3)]).toEqual([
      0, -1, 2, -1,
    ]);
  });

  it("is hidden for one prompt", () => {
    mounted = mountPanel(createPrompts);
    expect(mounted.root.querySelector(".if-prompts").hidden).toBe(true);
  });

  it("writes prompt_index from the select and the buttons, and follows the trait", () => {
    mounted = mountPanel(createPrompts, setState());
    const box = mounted.root.querySelector(".if-prompts");
    const select = box.querySelector("select");
    expect(box.hidden).toBe(false);
    expect(select.options.length).toBe(3);
    expect(select.selectedOptions[0].textContent).toBe("mean over 2 prompts (role graph)");
    box.querySelector("[data-control='prompt-next']").click();
    expect(mounted.model.get("prompt_index")).toBe(0);
    expect(mounted.model.saved).toBe(1);
    select.value = "1";
    select.dispatchEvent(new Event("change"));
    expect(mounted.model.get("prompt_index")).toBe(1);
    box.querySelector("[data-control='prompt-next']").click();
    expect(mounted.model.get("prompt_index")).toBe(-1);
    box.querySelector("[data-control='prompt-prev']").click();
    expect(select.value).toBe("1");
    mounted.model.set("prompt_index", 0); // from Python
    expect(select.value).toBe("0");
  });

  it("is disabled in a saved page", () => {
    mounted = mountPanel(createPrompts, { ...savedState(), prompts: ["a", "b"], prompt_index: -1 });
    expect([...mounted.root.querySelectorAll(".if-prompts select, .if-prompts button")].every((c) => c.disabled)).toBe(
      true,
    );
  });
});

describe("a role graph's words", () => {
  it("gives the mean with its interval and sign consistency", () => {
    expect(roleEffectText({ effect: 1.234, low: 0.9, high: 1.5, sign_consistency: 0.94, n: 50 })).toBe(
      "mean +1.23 (95% CI +0.9..+1.5), same sign in 47/50 prompts",
    );
    expect(roleEffectText({ effect: -0.5, low: null, high: null, sign_consistency: 1, n: 1 })).toBe(
      "mean -0.5 (one prompt: no interval), same sign in 1/1 prompts",
    );
    expect(roleEffectText({ effect: 0.5 })).toBe(null);
    expect([formatShort(2.1e-4), formatShort(0), formatShort(-12.345)]).toEqual(["+2.1e-4", "0", "-12.3"]);
  });

  it("the tooltip of a role arc says mean, interval and sign consistency, and why a click opens nothing", () => {
    mounted = mountPanel(createTooltip, setState());
    const edge = mounted.ctx.view.graph.edges[5];
    const arc = document.createElementNS("http://www.w3.org/2000/svg", "path");
    Object.assign(arc.dataset, { index: 5, source: edge.source, target: edge.target, rank: 2 });
    mounted.ctx.hub.emit("arc:enter", arc, { clientX: 0, clientY: 0 });
    const tip = mounted.root.querySelector(".if-tooltip");
    expect(tip.textContent).toContain(`effect${roleEffectText(edge)}`);
    expect(tip.textContent).toContain("spread± 0.3 over the 2 prompts (standard deviation)");
    expect(tip.textContent).toMatch(/95% CI [-+][\d.]+\.\.[-+][\d.]+\), same sign in \d+\/2 prompts/);
    expect(tip.querySelector(".if-hint").textContent).toContain("need one prompt");
  });

  it("the header names the set and its template; one prompt of it says which", () => {
    mounted = mountPanel(createHeader, setState());
    expect(mounted.root.querySelector(".if-set").textContent).toBe(
      "role graph: mean over 2 prompts of template “When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to”",
    );
    expect(mounted.root.textContent).toContain("14 labels");
    const one = {
      ...fullGraph(),
      provenance: { ...fullGraph().provenance, prompt_of_set: { index: 1, prompts: 2, template: "t {IO}" } },
    };
    expect(setSummary(one)).toBe("prompt 2 of 2 of template “t {IO}”: its own graph");
    expect(setSummary(fullGraph())).toBe("");
  });

  it("a role arc's click neither opens an anatomy nor drills down; the answer fields hide", () => {
    mounted = mountPanel((ctx) => {
      const panels = [createAnatomy(ctx), createDrill(ctx), createControls(ctx)];
      return { el: panels[2].el, update: (f) => panels[0].update(f) };
    }, setState());
    const arc = document.createElementNS("http://www.w3.org/2000/svg", "path");
    arc.dataset.index = "3";
    mounted.ctx.hub.emit("arc:activate", arc);
    mounted.ctx.hub.emit("arc:anatomy", arc);
    expect(mounted.model.get("selected_edge")).toBe(undefined);
    expect(mounted.model.sent).toEqual([]);
    const field = (trait) => mounted.root.querySelector(`[data-trait='${trait}']`).closest(".if-field");
    expect(field("answer").hidden && field("distractor").hidden).toBe(true);
    expect(widgetState().prompts).toBe(undefined);
  });
});
