// The anywidget front end: header, controls, status, the arc diagram, legend and exports.

import { buildControls, filtersInBrowser } from "./controls.js";
import { downloadJson, downloadPng, downloadSvg } from "./export.js";
import { estimateSummary, formatEffect, isEstimate, nodeText, readGraph, visible } from "./format.js";
import { GREEN, RED } from "./layout.js";
import { dashes, drawFlow, highlightArcEnds, highlightToken } from "./render.js";
import "./widget.css";

const ZOOMS = [0.35, 0.5, 0.65, 0.8, 1, 1.25, 1.5, 2];
const WRAP_FROM = 80; // prompts of more tokens start wrapped, so they need no sideways scrolling

function el(tag, cls, text) {
  const node = document.createElement(tag);
  if (cls) node.className = cls;
  if (text != null) node.textContent = text;
  return node;
}

function button(text, title, onClick) {
  const b = el("button", "if-button", text);
  b.type = "button";
  b.title = title;
  b.addEventListener("click", onClick);
  return b;
}

function legend(maxAbs, estimated) {
  const sample = (color, width, opacity, dash = "none") =>
    `<svg width="34" height="12"><path d="M2,10 C2,1 32,1 32,10" fill="none" stroke="${color}" ` +
    `stroke-width="${width}" stroke-opacity="${opacity}" stroke-dasharray="${dash}"/></svg>`;
  const box = el("div", "if-legend");
  box.innerHTML =
    `<span>${sample(GREEN, 3, 0.9)} helps the metric (effect &gt; 0)</span>` +
    `<span>${sample(RED, 3, 0.9)} hurts it (effect &lt; 0)</span>` +
    `<span>${sample("currentColor", 1, 0.5)}${sample("currentColor", 5.5, 0.95)} width and opacity: |effect| up to ` +
    `${maxAbs ? maxAbs.toPrecision(3) : "–"}</span>` +
    `<span>arcs run source → target (arrowhead)</span>` +
    (estimated ? `<span>${sample("currentColor", 2, 0.8, dashes())} dashed: first-order estimate, not measured</span>` : "");
  return box;
}

function render({ model, el: host }) {
  const root = el("div", "if-root");
  const header = el("div", "if-header");
  const status = el("div", "if-status");
  const bar = el("div", "if-progress");
  const barFill = el("div", "if-progress-fill");
  const statusText = el("span", "if-status-text");
  const errorBox = el("div", "if-error");
  const toolbar = el("div", "if-toolbar");
  const canvas = el("div", "if-canvas");
  const svg = document.createElementNS("http://www.w3.org/2000/svg", "svg");
  const legendSlot = el("div");
  const tooltip = el("div", "if-tooltip");
  bar.append(barFill);
  status.append(bar, statusText);
  canvas.append(svg);

  const view = { zoom: 1, wrap: null, threshold: null, hover: null };
  const drilled = []; // token graphs opened from span edges, innermost last
  let drawn = { edges: [], maxAbs: 0 };
  let graphOnShow = readGraph(model.get("graph"));

  const shownGraph = () => drilled[drilled.length - 1] ?? graphOnShow;

  function redraw() {
    hideTooltip(); // the arc it describes is about to go
    const graph = shownGraph();
    if (!graph || !graph.tokens) {
      svg.replaceChildren();
      legendSlot.replaceChildren();
      header.textContent = model.get("computing") ? "Computing the first graph…" : "";
      return;
    }
    const wrap = view.wrap ?? graph.tokens.length >= WRAP_FROM;
    drawn = drawFlow(svg, graph, {
      threshold: view.threshold ?? model.get("threshold"),
      topK: model.get("top_k"),
      zoom: view.zoom,
      wrapWidth: wrap && canvas.clientWidth > 0 ? canvas.clientWidth : null,
    });
    wrapBox.checked = wrap;
    back.hidden = drilled.length === 0;
    renderHeader(graph);
    legendSlot.replaceChildren(legend(drawn.maxAbs, graph.edges.some(isEstimate)));
    highlightToken(svg, view.hover ?? model.get("selected"));
  }

  function renderHeader(graph) {
    const p = graph.provenance ?? {};
    const s = graph.stats ?? {};
    header.replaceChildren();
    const what = el("div", "if-what");
    what.append(el("b", null, p.metric ?? "metric"), " under ", el("span", null, p.intervention_text ?? ""));
    const facts = el("div", "if-facts");
    facts.append(
      el("span", null, `clean metric ${formatEffect(graph.clean_metric).replace(/^\+/, "")}`),
      el("span", null, `${graph.tokens.length} tokens · ${graph.edges.length} edges measured, ${drawn.edges.length} shown`),
      el("span", null, s.forward_passes != null ? `${s.forward_passes} forward passes, ${s.seconds} s` : ""),
    );
    const estimates = estimateSummary(graph);
    if (estimates) facts.append(el("span", "if-estimate", estimates));
    if (drilled.length) {
      const from = p.expanded_from ?? {};
      facts.append(el("span", "if-drill", `inside span edge ${JSON.stringify(from.source ?? "")} → ${JSON.stringify(from.target ?? "")}`));
    }
    header.append(what, facts);
  }

  function renderStatus() {
    const computing = model.get("computing");
    root.classList.toggle("if-computing", computing);
    // An estimate on show while the exact values compute is meant to be read: it is not dimmed.
    root.classList.toggle("if-preview", computing && graphOnShow?.provenance?.estimate === true);
    barFill.style.width = `${Math.round(100 * (computing ? model.get("progress") : 0))}%`;
    statusText.textContent = model.get("status");
    const error = model.get("error");
    errorBox.textContent = error;
    errorBox.hidden = !error;
  }

  function setZoom(step) {
    const i = ZOOMS.findIndex((z) => z >= view.zoom);
    view.zoom = ZOOMS[Math.max(0, Math.min(ZOOMS.length - 1, (i < 0 ? ZOOMS.length - 1 : i) + step))];
    redraw();
  }

  const wrapBox = el("input");
  wrapBox.type = "checkbox";
  wrapBox.addEventListener("change", () => {
    view.wrap = wrapBox.checked;
    redraw();
  });
  const wrapLabel = el("label", "if-check");
  wrapLabel.append(wrapBox, " wrap");
  const back = button("← back", "Back to the span graph", () => {
    drilled.pop();
    redraw();
  });
  toolbar.append(
    back,
    button("−", "Zoom out", () => setZoom(-1)),
    button("+", "Zoom in", () => setZoom(1)),
    wrapLabel,
    el("span", "if-spacer"),
    button("SVG", "Download the drawing as SVG", () => downloadSvg(svg)),
    button("PNG", "Download the drawing as PNG", () => downloadPng(svg, undefined, undefined, showExportError)),
    button("JSON", "Download the graph on show as JSON", () => downloadJson(shownGraph())),
  );

  const controls = buildControls(model, (name, value) => {
    // A graph of every token edge filters in the browser at once; search strategies recompute, after the debounce.
    if (name === "threshold" && filtersInBrowser(model)) {
      view.threshold = value;
      redraw();
    }
  });

  function showExportError(message) {
    errorBox.textContent = `PNG export: ${message}`;
    errorBox.hidden = false;
  }

  // --- pointer and keyboard: hover or focus highlights, click or Enter pins a token or opens a span edge ----
  const tokenOf = (target) => target.closest?.(".if-token");
  const isArc = (target) => target.classList?.contains("if-arc");
  function enter(target, point) {
    const token = tokenOf(target);
    if (token) {
      view.hover = Number(token.dataset.pos);
      highlightToken(svg, view.hover);
    }
    if (isArc(target)) {
      showTooltip(target, point);
      highlightArcEnds(svg, target);
    }
  }
  function leave(target, next) {
    if (isArc(target)) hideTooltip();
    if (tokenOf(target) && !tokenOf(next ?? svg)) {
      view.hover = null;
      highlightToken(svg, model.get("selected"));
    }
  }
  svg.addEventListener("mouseover", (event) => enter(event.target, event));
  svg.addEventListener("mousemove", (event) => {
    if (isArc(event.target)) moveTooltip(event);
  });
  svg.addEventListener("mouseout", (event) => leave(event.target, event.relatedTarget));
  svg.addEventListener("mouseleave", hideTooltip);
  // Keyboard focus does what the pointer does; the tooltip sits by the focused element.
  svg.addEventListener("focusin", (event) => {
    const box = event.target.getBoundingClientRect();
    enter(event.target, { clientX: box.left + box.width / 2, clientY: box.top });
  });
  svg.addEventListener("focusout", (event) => leave(event.target, event.relatedTarget));
  svg.addEventListener("keydown", (event) => {
    if ((event.key === "Enter" || event.key === " ") && (tokenOf(event.target) || isArc(event.target))) {
      event.preventDefault();
      event.target.dispatchEvent(new MouseEvent("click", { bubbles: true }));
    }
  });
  const viewId = Math.random().toString(36).slice(2);
  let requests = 0;
  let pending = null; // the expansion this view asked for last: only its answer is drawn
  svg.addEventListener("click", (event) => {
    const token = tokenOf(event.target);
    if (token) {
      const pos = Number(token.dataset.pos);
      model.set("selected", model.get("selected") === pos ? null : pos);
      model.save_changes();
    } else if (event.target.classList.contains("if-arc")) {
      const edge = shownGraph().edges[Number(event.target.dataset.index)];
      const graph = shownGraph();
      const span = (i) => graph.nodes[i].end - graph.nodes[i].start > 1;
      if (span(edge.source) || span(edge.target)) {
        pending = `${viewId}:${++requests}`;
        model.send({ type: "expand", source: edge.source, target: edge.target, level: drilled.length, request: pending });
      }
    }
  });

  function showTooltip(arc, event) {
    const graph = shownGraph();
    const edge = graph.edges[Number(arc.dataset.index)];
    const [source, target] = [edge.source, edge.target];
    const rows = [
      ["source", `${arc.dataset.source}  ${visible(nodeText(graph, source))}`],
      ["target", `${arc.dataset.target}  ${visible(nodeText(graph, target))}`],
      ["effect", formatEffect(edge.effect)],
      ["rank", `${arc.dataset.rank} of ${graph.edges.length}`],
      ["value", isEstimate(edge) ? "estimate (first order, not measured)" : "exact (measured)"],
    ];
    tooltip.replaceChildren(...rows.map(([k, v]) => {
      const row = el("div");
      row.append(el("span", "if-key", k), el("span", null, v));
      return row;
    }));
    const spans = graph.nodes[source].end - graph.nodes[source].start > 1 || graph.nodes[target].end - graph.nodes[target].start > 1;
    if (spans) tooltip.append(el("div", "if-hint", "click to measure the token edges inside"));
    tooltip.hidden = false;
    moveTooltip(event);
  }

  // Beside the pointer, flipped to its other side where the widget would cut it off.
  function moveTooltip(point) {
    const box = root.getBoundingClientRect();
    const [x, y] = [point.clientX - box.left, point.clientY - box.top];
    const [w, h] = [tooltip.offsetWidth, tooltip.offsetHeight];
    const left = x + 14 + w > root.clientWidth ? x - 14 - w : x + 14;
    const top = y + 14 + h > root.clientHeight ? y - 14 - h : y + 14;
    tooltip.style.left = `${Math.max(0, left)}px`;
    tooltip.style.top = `${Math.max(0, top)}px`;
  }
  function hideTooltip() {
    tooltip.hidden = true;
    highlightArcEnds(svg, null);
  }
  tooltip.hidden = true;

  // --- model events --------------------------------------------------------------------------------
  const onGraph = () => {
    graphOnShow = readGraph(model.get("graph"));
    drilled.length = 0;
    pending = null; // an expansion still on its way belongs to the graph that was on show
    redraw();
    renderStatus();
  };
  const onThreshold = () => {
    view.threshold = null;
    redraw();
  };
  const onMessage = (msg) => {
    // Every view of the model hears every answer: only the one that asked, for its latest click, draws it.
    if (msg?.type === "expanded" && msg.request === pending && msg.level === drilled.length) {
      pending = null;
      drilled.push(readGraph(msg.graph));
      redraw();
    }
  };
  const handlers = [
    ["change:graph", onGraph],
    ["change:threshold", onThreshold],
    ["change:top_k", redraw],
    ["change:selected", redraw],
    ["change:status", renderStatus],
    ["change:progress", renderStatus],
    ["change:computing", renderStatus],
    ["change:error", renderStatus],
    ["msg:custom", onMessage],
  ];
  for (const [event, fn] of handlers) model.on(event, fn);

  // Wrapped rows follow the width of the output area.
  let lastWidth = 0;
  const resize = typeof ResizeObserver === "undefined" ? null : new ResizeObserver(() => {
    if (Math.abs(canvas.clientWidth - lastWidth) > 4) {
      lastWidth = canvas.clientWidth;
      redraw();
    }
  });
  resize?.observe(canvas);

  root.append(header, controls.el, status, errorBox, toolbar, canvas, legendSlot, tooltip);
  host.append(root);
  renderStatus();
  redraw();

  return () => {
    for (const [event, fn] of handlers) model.off(event, fn);
    controls.dispose();
    resize?.disconnect();
  };
}

export default { render };
