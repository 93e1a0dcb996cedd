// @vitest-environment jsdom
import { afterEach, beforeEach, describe, expect, it, vi } from "vitest";
import { graphJson } from "../../src/export.js";
import { createExports } from "../../src/panels/exports.js";
import { fullGraph } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
let blobs;
beforeEach(() => {
  blobs = [];
  URL.createObjectURL = vi.fn((blob) => {
    blobs.push(blob);
    return "blob:test";
  });
  URL.revokeObjectURL = vi.fn();
  vi.spyOn(HTMLAnchorElement.prototype, "click").mockImplementation(() => {});
});
afterEach(() => {
  mounted?.unmount();
  vi.restoreAllMocks();
  vi.unstubAllGlobals();
});
const read = (blob) =>
  new Promise((resolve) => {
    const reader = new FileReader();
    reader.onload = () => resolve(reader.result);
    reader.readAsText(blob);
  });
const press = (text) => [...mounted.root.querySelectorAll("button")].find((b) => b.textContent === text).click();

describe("exports", () => {
  it("goes into the toolbar slot", () => {
    mounted = mountPanel(createExports);
    expect(mounted.panel.slot).toBe("toolbar");
    expect([...mounted.panel.el.querySelectorAll("button")].map((b) => b.title)).toEqual([
      "Download the drawing as SVG",
      "Download the drawing as PNG",
      "Download the graph on show as JSON",
    ]);
  });

  it("downloads the graph on show (the drill-down's, inside one) as JSON", async () => {
    mounted = mountPanel(createExports);
    const inner = fullGraph(["a", "b"]);
    mounted.ctx.view.drilled.push(inner);
    press("JSON");
    expect(blobs[0].type).toBe("application/json");
    expect(await read(blobs[0])).toBe(graphJson(inner));
  });

  it("downloads the drawing of the widget as SVG", async () => {
    mounted = mountPanel(createExports);
    const canvas = document.createElement("div");
    canvas.className = "if-canvas";
    canvas.innerHTML = '<svg width="10" height="10"><path class="if-arc" d="M0,0"/></svg>';
    mounted.root.append(canvas);
    press("SVG");
    expect(blobs[0].type).toBe("image/svg+xml");
    expect(await read(blobs[0])).toContain('class="if-arc"');
  });

  it("downloads the anatomy panel with the drawing while it is open, stacked below it", async () => {
    mounted = mountPanel(createExports);
    mounted.root.insertAdjacentHTML(
      "beforeend",
      '<div class="if-canvas"><svg width="300" height="100"><path class="if-arc" d="M0,0"/></svg></div>' +
        '<section class="if-anatomy"><svg class="if-anatomy-svg" width="500" height="200"><rect class="if-an-cell"/></svg></section>',
    );
    press("SVG");
    const text = await read(blobs[0]);
    expect(text).toMatch(/^<svg[^>]* width="500" height="312"/);
    expect(text).toContain('class="if-arc"');
    expect(text).toMatch(/<svg[^>]*class="if-anatomy-svg"[^>]* y="112"/);
    mounted.root.querySelector(".if-anatomy").hidden = true;
    press("SVG");
    expect(await read(blobs[1])).not.toContain("if-anatomy-svg");
  });

  it("announces a failed PNG on the hub, for the error box", () => {
    vi.stubGlobal(
      "Image",
      class {
        set src(_url) {
          this.onerror();
        }
      },
    );
    mounted = mountPanel(createExports);
    mounted.root.insertAdjacentHTML("beforeend", '<div class="if-canvas"><svg width="10" height="10"></svg></div>');
    const size = { baseVal: { value: 10 } }; // jsdom has no SVG lengths
    Object.defineProperties(mounted.root.querySelector("svg"), { width: { value: size }, height: { value: size } });
    const errors = [];
    mounted.ctx.hub.on("error", (message) => errors.push(message));
    press("PNG");
    expect(errors).toEqual(["PNG export: the drawing could not be turned into a PNG: try SVG"]);
  });
});
