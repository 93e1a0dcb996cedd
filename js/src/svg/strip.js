// The token strip in SVG: one focusable box per token, and span brackets below the boxes.

import { svgEl } from "../dom.js";
import { boxLabel, nodeRange, visible } from "../format.js";
import { BRACKET_ROW, MAX_CHARS, spanSegments } from "../geometry/strip.js";

export const INDEX_ROW = 12; // the position numbers under the boxes

export function drawTokens(svg, tokens, boxes, zoom) {
  const group = svgEl("g", { class: "if-tokens" }, svg);
  tokens.forEach((token, i) => {
    const b = boxes[i];
    const g = svgEl(
      "g",
      { class: "if-token", "data-pos": i, tabindex: 0, role: "button", "aria-label": `token ${i} ${visible(token)}` },
      group,
    );
    svgEl("rect", { x: b.x, y: b.y, width: b.width, height: b.height, rx: 3 * zoom }, g);
    const label = svgEl(
      "text",
      {
        x: b.x + b.width / 2,
        y: b.y + b.height / 2,
        "font-size": 12 * zoom,
        "text-anchor": "middle",
        "dominant-baseline": "central",
      },
      g,
    );
    label.textContent = boxLabel(token, MAX_CHARS);
    const index = svgEl(
      "text",
      {
        class: "if-index",
        x: b.x + b.width / 2,
        y: b.y + b.height + 9 * zoom,
        "font-size": 8.5 * zoom,
        "text-anchor": "middle",
      },
      g,
    );
    index.textContent = String(i);
    svgEl("title", {}, g).textContent = `token ${i} ${visible(token)}`;
  });
}

export function drawBrackets(svg, nodes, boxes, rows, zoom) {
  const group = svgEl("g", { class: "if-brackets" }, svg);
  for (const [i, depth] of rows) {
    const node = nodes[i];
    spanSegments(boxes, node).forEach((seg, k) => {
      const y = seg.y + (INDEX_ROW + 4 + depth * BRACKET_ROW) * zoom;
      const tick = 4 * zoom;
      const g = svgEl("g", { class: "if-bracket", "data-node": i }, group);
      svgEl("path", { d: `M${seg.x1 + 1},${y} v${tick} H${seg.x2 - 1} v${-tick}`, fill: "none" }, g);
      if (k === 0) {
        const label = svgEl(
          "text",
          {
            x: (seg.x1 + seg.x2) / 2,
            y: y + tick + 9 * zoom,
            "font-size": 9 * zoom,
            "text-anchor": "middle",
          },
          g,
        );
        label.textContent = nodeRange(node); // positions as the strip numbers them, both ends included
      }
    });
  }
}
