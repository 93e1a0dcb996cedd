// @vitest-environment jsdom
import { describe, expect, it } from "vitest";
import { edgeStyle, GREEN, RED } from "../src/geometry/edges.js";
import {
  anatomyRows,
  anatomyTitle,
  cellStyle,
  drawAnatomy,
  headText,
  readAnatomy,
  shortEffect,
} from "../src/svg/anatomy.js";
import { anatomyData } from "./mock-model.js";

const draw = (data = anatomyData()) => {
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  const size = drawAnatomy(svg, data);
  return { svg, size };
};

describe("anatomy text", () => {
  it("names a head by layer and index with its effect in two digits", () => {
    expect(headText(14, 3, 1.234)).toBe("L14.H3 +1.2");
    expect(headText(0, 7, -0.03412)).toBe("L0.H7 -0.034");
    expect(headText(2, 0, 3.4e-5)).toBe("L2.H0 +3.4e-5");
    expect([shortEffect(0), shortEffect(NaN), shortEffect(-Infinity)]).toEqual(["0", "NaN", "-Infinity"]);
  });

  it("titles the panel by the edge's ends, a span by its range", () => {
    expect(anatomyTitle(anatomyData())).toBe("Anatomy of 1 ·Mary → 13 ·to");
    expect(anatomyTitle({ ...anatomyData(), sources: [0, 1, 2] })).toBe("Anatomy of 0–2 ‘When·Mary·and’ → 13 ·to");
  });
});

describe("anatomy data", () => {
  it("restores NaN and a lens metric that was not finite", () => {
    const data = readAnatomy(anatomyData());
    expect(Number.isNaN(data.heads[1][3])).toBe(true);
    expect(Number.isNaN(data.lens.source.layers[1].metric)).toBe(true);
    expect(data.noise_floor).toBe(0.001);
  });

  it("draws one row per layer measured or read by the lens, the embeddings first", () => {
    expect(anatomyRows(anatomyData())).toEqual([-1, 0, 1, 2]);
    expect(anatomyRows({ ...anatomyData(), layer_indices: [1], lens: {} })).toEqual([1]);
  });

  it("colours cells as arcs are coloured, blank under the noise floor", () => {
    expect(cellStyle(0.6, 1.2)).toEqual({ color: GREEN, opacity: edgeStyle(0.6, 1.2).opacity });
    expect(cellStyle(-1.2, 1.2).color).toBe(RED);
    expect(cellStyle(0.0001, 1.2, 0.001)).toBe(null);
  });
});

describe("drawing the anatomy", () => {
  it("draws a layers × heads heatmap, each cell titled with its exact number", () => {
    const { svg } = draw();
    const cells = svg.querySelectorAll(".if-an-heatmap rect");
    expect(cells.length).toBe(12);
    const strongest = svg.querySelector("rect[data-layer='1'][data-head='0']");
    expect(strongest.getAttribute("fill")).toBe(GREEN);
    expect(strongest.querySelector("title").textContent).toBe(
      "L1.H0: +1.200 (exact: the edge intervened in this head only, key/value head 0)",
    );
    expect(svg.querySelector("rect[data-layer='2'][data-head='2']").getAttribute("fill")).toBe(RED);
    expect(svg.querySelector("rect[data-layer='0'][data-head='2']").classList.contains("if-an-blank")).toBe(true); // 1e-4 < floor
  });

  it("lists the heads carrying most of the effect, strongest first", () => {
    const { svg } = draw();
    expect([...svg.querySelectorAll(".if-an-top")].map((t) => t.textContent)).toEqual([
      "L1.H0 +1.2",
      "L2.H2 -0.9",
      "L1.H1 -0.4",
      "L0.H3 +0.3",
      "L0.H0 +0.1",
    ]);
  });

  it("draws the per-layer and window curves and the lens of both ends, one point per layer", () => {
    const { svg } = draw();
    for (const series of ["layers", "up_to", "from"]) {
      expect(svg.querySelectorAll(`[data-series='${series}'] .if-an-point`).length).toBe(3);
    }
    const upTo = svg.querySelector("[data-series='up_to'] .if-an-point[data-layer='1'] title");
    expect(upTo.textContent).toBe("layers 0..1: +1.300 (exact)");
    const target = svg.querySelectorAll("[data-end='target'] .if-an-lens-token");
    expect([...target].map((t) => t.textContent)).toEqual(Array(4).fill("·Mary"));
    expect(svg.querySelector("[data-end='target'] .if-an-lens-row[data-layer='-1'] > title").textContent).toBe(
      "embeddings at 13 ·to: ·Mary (logit 2.00, p 0.40), ·John (logit 2.00, p 0.20); metric -0.5000",
    );
    expect(svg.textContent).toContain(
      "exact measurements, not estimates: the edge intervened (zero pattern) in one head",
    );
    expect(svg.textContent).toContain("22 measurements in 2 forward passes, 0.1 s");
  });

  it("scales a lens curve to the decoder layers, the embeddings' reading clipped at the edge when beyond", () => {
    const data = anatomyData();
    data.lens.source.layers[0].metric = 50;
    const { svg } = draw(data);
    const points = svg.querySelectorAll("[data-series='lens-source'] .if-an-point");
    expect([...points].map((p) => p.classList.contains("if-an-clipped"))).toEqual([true, false, false, false]);
    expect(points[0].querySelector("title").textContent).toBe("metric read from the embeddings at 1: +50.00");
    expect(Number(points[0].getAttribute("cx"))).toBe(
      Math.max(...[...points].map((p) => Number(p.getAttribute("cx")))),
    );
  });

  it("says so while measuring, and after a failure", () => {
    const { svg, size } = draw({ edge: { source: 1, target: 13 }, status: "computing" });
    expect(svg.textContent).toContain("measuring…");
    expect(svg.getAttribute("height")).toBe(String(size.height));
    expect(draw({ edge: { source: 1, target: 13 }, status: "failed" }).svg.textContent).toContain(
      "the error box above says why",
    );
  });
});
