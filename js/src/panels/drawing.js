// The drawing: the graph on show as SVG in a scrolling canvas. Hover or keyboard focus highlights a token's
// arcs or describes an arc (on the hub, for the tooltip); a click or Enter pins a token (the `selected` trait)
// or activates an arc (on the hub, for the drill-down and the anatomy; with Shift, "arc:anatomy" for the anatomy
// alone). Wrapped rows follow the width of the output area.

import { el, SVG_NS } from "../dom.js";
import { formatMagnitude } from "../format.js";
import { drawFlow } from "../svg/flow.js";
import { highlightArcEnds, highlightToken } from "../svg/highlight.js";

const tokenOf = (target) => target.closest?.(".if-token");

/** What the drawing says when no edge of the graph reaches the noise floor. */
export function noiseNote(floor) {
  return `No edge changes the metric measurably (all |effect| < ${formatMagnitude(floor)})`;
}
const isArc = (target) => target.classList?.contains("if-arc");

export function createDrawing({ model, hub, redraw }) {
  const svg = document.createElementNS(SVG_NS, "svg");
  const canvas = el("div", { class: "if-canvas" }, [svg]);
  let hover = null; // the token under the pointer or focus: it outranks the pinned one while there
  const on = (type, fn) => svg.addEventListener(type, fn);

  const leaveArc = () => {
    hub.emit("arc:leave");
    highlightArcEnds(svg, null);
  };
  function enter(target, point) {
    const token = tokenOf(target);
    if (token) {
      hover = Number(token.dataset.pos);
      highlightToken(svg, hover);
    }
    if (isArc(target)) {
      hub.emit("arc:enter", target, point);
      highlightArcEnds(svg, target);
    }
  }
  function leave(target, next) {
    if (isArc(target)) leaveArc();
    if (tokenOf(target) && !tokenOf(next ?? svg)) {
      hover = null;
      highlightToken(svg, model.get("selected"));
    }
  }
  on("mouseover", (event) => enter(event.target, event));
  on("mousemove", (event) => isArc(event.target) && hub.emit("arc:move", event));
  on("mouseout", (event) => leave(event.target, event.relatedTarget));
  on("mouseleave", leaveArc);
  // Keyboard focus does what the pointer does; the tooltip sits by the focused element.
  on("focusin", (event) => {
    const box = event.target.getBoundingClientRect();
    enter(event.target, { clientX: box.left + box.width / 2, clientY: box.top });
  });
  on("focusout", (event) => leave(event.target, event.relatedTarget));
  on("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && (tokenOf(event.target) || isArc(event.target))) {
      event.preventDefault();
      event.target.dispatchEvent(new MouseEvent("click", { bubbles: true, shiftKey: event.shiftKey }));
    }
  });
  on("click", (event) => {
    const token = tokenOf(event.target);
    if (token) {
      const pos = Number(token.dataset.pos);
      model.set("selected", model.get("selected") === pos ? null : pos);
      model.save_changes();
    } else if (isArc(event.target)) {
      hub.emit(event.shiftKey ? "arc:anatomy" : "arc:activate", event.target);
    }
  });

  let lastWidth = 0;
  const resize =
    typeof ResizeObserver === "undefined"
      ? null
      : new ResizeObserver(() => {
          if (Math.abs(canvas.clientWidth - lastWidth) > 4) {
            lastWidth = canvas.clientWidth;
            redraw();
          }
        });
  resize?.observe(canvas);

  return {
    el: canvas,
    update({ graph, edges, maxAbs, zoom, wrap, selected, allNoise, noiseFloor }) {
      if (!graph) {
        svg.replaceChildren();
        return;
      }
      const wrapWidth = wrap && canvas.clientWidth > 0 ? canvas.clientWidth : null;
      drawFlow(svg, graph, { edges, maxAbs, zoom, wrapWidth, note: allNoise ? noiseNote(noiseFloor) : null });
      highlightToken(svg, hover ?? selected);
    },
    destroy: () => resize?.disconnect(),
  };
}
