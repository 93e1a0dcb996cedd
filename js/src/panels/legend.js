// The legend: colour is the sign of an effect, width and opacity its magnitude against a stated scale; what is not
// drawn (numerical noise); dashes mark estimates; a dotted outline marks flagged arcs (faded: inconsistent); the
// whitespace marks of the strip; notes on the strongest arcs.

import { el } from "../dom.js";
import { FADED_TEXT, FLAGGED_TEXT, flaggedOpacity, flagOutline, isFlagged, isInconsistent } from "../flags.js";
import { CONTROL, formatMagnitude, isEstimate } from "../format.js";
import { GREEN, RED } from "../geometry/edges.js";
import { readingNotes } from "../reading.js";
import { dashes } from "../svg/flow.js";

const MARKS = [
  [/ /, "·", "a space"],
  [/\n/, "↵", "a newline"],
  [/\t/, "⇥", "a tab"],
  [new RegExp(`${CONTROL.source}|<0x[0-9A-F]{2}>`), "<0x1B>", "a control character or a byte, by its code"],
];

/** The marks the strip shows for `tokens`: [mark, meaning] of those that occur. */
export function marksIn(tokens) {
  return MARKS.filter(([char]) => tokens.some((t) => char.test(String(t)))).map(([, mark, meaning]) => [mark, meaning]);
}

/** What the widest arc stands for: "|effect| relative to 3.21 (|clean metric|)". */
export function scaleText(scale) {
  if (!scale?.value) return "width and opacity: |effect| (no arc drawn)";
  const basis = scale.basis === "clean" ? "the clean metric's magnitude" : "the largest |effect| drawn";
  return `width and opacity: |effect| relative to ${formatMagnitude(scale.value)} (${basis})`;
}

/**
 * The legend of a drawing.
 *
 * @param {object} shown what is drawn: scale (see edgeScale), estimated (dashed arcs in the graph), noiseFloor,
 *   belowNoise (edges the filters kept that the floor hid), allNoise, marks (see marksIn), flagged / inconsistent
 *   (flagged arcs, inconsistent ones, drawn), hiddenFlagged (flagged arcs the "hide flagged" box hid)
 */
export function legend({
  scale,
  estimated = false,
  noiseFloor = 0,
  belowNoise = 0,
  allNoise = false,
  marks = [],
  ...trust
}) {
  const path = (color, width, opacity, dash = "none", extra = "") =>
    `<path d="M2,10 C2,1 32,1 32,10" fill="none" stroke="${color}" stroke-width="${width}" stroke-opacity="${opacity}" stroke-dasharray="${dash}"${extra}/>`;
  const sample = (...look) => `<svg width="34" height="12">${path(...look)}</svg>`;
  const outline = flagOutline(2);
  const item = (svg, text, cls = "") => {
    const span = el("span", cls ? { class: cls } : {});
    span.innerHTML = svg;
    span.append(text);
    return span;
  };
  const items = [
    item(sample(GREEN, 3, 0.9), " helps the metric (effect > 0)"),
    item(sample(RED, 3, 0.9), " hurts it (effect < 0)"),
    item(sample("currentColor", 1, 0.5) + sample("currentColor", 5.5, 0.95), ` ${scaleText(scale)}`, "if-scale"),
  ];
  if (belowNoise > 0 || allNoise) {
    const count = belowNoise > 0 ? ` (${belowNoise} edge${belowNoise === 1 ? "" : "s"})` : "";
    items.push(
      el("span", {
        class: "if-noise",
        text: `not drawn: |effect| < ${formatMagnitude(noiseFloor)}, numerical noise${count}`,
      }),
    );
  }
  items.push(el("span", { text: "arcs run source → target (arrowhead)" }));
  if (estimated)
    items.push(item(sample("currentColor", 2, 0.8, dashes()), " dashed: first-order estimate, not measured"));
  // The outline shows only beside the arc (the drawing masks it where the arc lies; here the background covers it).
  const flaggedSample = (opacity) =>
    `<svg width="34" height="14">${path(outline.color, outline.width, outline.opacity, outline.dash)}` +
    `${path("#ffffff", 2, 1, "none", ' style="stroke: var(--if-bg)"')}${path("currentColor", 2, opacity)}</svg>`;
  if (trust.flagged) items.push(item(flaggedSample(0.8), ` ${FLAGGED_TEXT}`, "if-flagged"));
  if (trust.inconsistent)
    items.push(item(flaggedSample(flaggedOpacity(0.8, { flags: ["inconsistent"] })), ` ${FADED_TEXT}`, "if-faded"));
  if (trust.hiddenFlagged)
    items.push(
      el("span", {
        class: "if-noise",
        text: `not drawn: ${trust.hiddenFlagged} flagged arc${trust.hiddenFlagged === 1 ? "" : "s"} (hide flagged)`,
      }),
    );
  if (marks.length) {
    items.push(
      el("span", {
        class: "if-marks",
        text: `in tokens: ${marks.map(([mark, meaning]) => `${mark} ${meaning}`).join(", ")}`,
      }),
    );
  }
  return el("div", { class: "if-legend" }, items);
}

/** The notes on how to read the strongest arcs (see readingNotes), under the legend; null for none. */
export function notesBox(notes) {
  return notes.length
    ? el(
        "div",
        { class: "if-notes" },
        notes.map((n) => el("div", { class: "if-note", "data-kind": n.kind, text: n.text })),
      )
    : null;
}

export function createLegend() {
  const slot = el("div");
  return {
    el: slot,
    update({ graph, edges, scale, noiseFloor, belowNoise, allNoise, hiddenFlagged }) {
      if (!graph) {
        slot.replaceChildren();
        return;
      }
      const shown = {
        scale: edges.length ? scale : null, // nothing drawn: no width to explain
        noiseFloor,
        belowNoise,
        allNoise,
        estimated: graph.edges.some(isEstimate),
        marks: marksIn(graph.tokens),
        flagged: edges.some(isFlagged),
        inconsistent: edges.some(isInconsistent),
        hiddenFlagged,
      };
      const notes = notesBox(readingNotes(graph, edges));
      slot.replaceChildren(legend(shown), ...(notes ? [notes] : []));
    },
  };
}
