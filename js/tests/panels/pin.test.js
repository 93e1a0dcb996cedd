// @vitest-environment jsdom
import { afterEach, describe, expect, it } from "vitest";
import { createPin } from "../../src/panels/pin.js";
import { widgetState } from "../mock-model.js";
import { mountPanel } from "../panel-harness.js";

let mounted;
afterEach(() => mounted?.unmount());
const chip = () => mounted.root.querySelector(".if-pin");

describe("pin chip (issue 16)", () => {
  it("goes into the toolbar's start slot, hidden while nothing is pinned", () => {
    mounted = mountPanel(createPin);
    expect(mounted.panel.slot).toBe("toolbar-start");
    expect(chip().hidden).toBe(true);
  });

  it("names the pinned token by position and text, and unpins it from its button", () => {
    mounted = mountPanel(createPin, { ...widgetState(), selected: 9 });
    expect(chip().hidden).toBe(false);
    expect(chip().querySelector(".if-pin-label").textContent).toBe("pinned: token 9 ·John");
    const remove = chip().querySelector("button");
    expect(remove.title).toBe("Unpin: show every arc again");
    remove.click();
    expect([mounted.model.get("selected"), mounted.model.saved]).toEqual([null, 1]);
    mounted.ctx.redraw();
    expect(chip().hidden).toBe(true);
  });

  it("hides for a position the graph on show does not have, and before the first graph", () => {
    mounted = mountPanel(createPin, { ...widgetState(), selected: 40 });
    expect(chip().hidden).toBe(true);
    mounted.unmount();
    mounted = mountPanel(createPin, { ...widgetState(), graph: null, selected: 2 });
    expect(chip().hidden).toBe(true);
  });
});
