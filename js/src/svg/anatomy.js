// The anatomy of one edge as SVG, one row per layer: the layer × head heatmap on the arcs' green/red scale, the
// per-layer and window curves, the logit lens of both ends, and the heads carrying most of the effect. Every number
// is an exact measurement (FlowEngine.anatomy, FlowEngine.logit_lens); each cell, point and token tells its own in a
// <title> on hover. Pure: reads the data Python sends (the `anatomy` trait), touches nothing but the given <svg>.

import { svgEl } from "../dom.js";
import { formatEffect, formatMagnitude, spanName, visible } from "../format.js";
import { edgeStyle, GREY } from "../geometry/edges.js";

const ROW = 12; // px per layer row
const CELL = 14; // px per head column
const LABEL = 40; // px of the layer labels
const CHART = 84; // px of one curve
const GAP = 18; // px between columns
const LENS_TOKEN = 76; // px of a lens column's top tokens
const LENS_CHART = 52; // px of a lens column's metric curve
const TOKEN_CHARS = 10; // characters of a lens token shown (its <title> has all)
const HEAD_ROWS = 92; // px above the first layer row: title, cost, heads list, column headings
const CURVES = [
  ["layers", "this layer only", (l) => `layer ${l} only`],
  ["up_to", "layers 0..l", (l) => `layers 0..${l}`],
  ["from", "layers l..last", (l) => `layers ${l}..last`],
];

const num = (v) => (v == null ? NaN : Number(v));
const finiteMax = (values) => values.reduce((m, v) => (Number.isFinite(v) ? Math.max(m, Math.abs(v)) : m), 0);

/** An effect in two significant digits with its sign: "+1.2", "-0.034", "+3.4e-5". */
export function shortEffect(effect) {
  if (!Number.isFinite(effect)) return formatEffect(effect);
  const text =
    effect === 0 ? "0" : Math.abs(effect) >= 1e-3 ? String(Number(effect.toPrecision(2))) : effect.toExponential(1);
  return effect > 0 ? `+${text}` : text;
}

/** "L14.H3 +1.2": a head by its layer and index, and its effect. */
export function headText(layer, head, effect) {
  return `L${layer}.H${head} ${shortEffect(effect)}`;
}

/** The anatomy data with its numbers restored (NaN travels as "NaN", a lens metric that is not finite as null). */
export function readAnatomy(data) {
  const lens = (l) =>
    l && {
      ...l,
      layers: l.layers.map((row) => ({
        ...row,
        metric: num(row.metric),
        top: row.top.map((t) => ({ ...t, logit: num(t.logit), prob: num(t.prob) })),
      })),
    };
  return {
    ...data,
    effect: num(data.effect),
    clean_metric: num(data.clean_metric),
    noise_floor: num(data.noise_floor),
    layers: data.layers.map(num),
    heads: data.heads.map((row) => row.map(num)),
    windows: { up_to: data.windows.up_to.map(num), from: data.windows.from.map(num) },
    top_heads: data.top_heads.map(([layer, head, effect]) => [layer, head, num(effect)]),
    lens: { source: lens(data.lens?.source), target: lens(data.lens?.target) },
  };
}

/** The layers drawn as rows, in order: those measured and those the lens reads (-1: the embeddings). */
export function anatomyRows(data) {
  const lensLayers = [data.lens?.source, data.lens?.target].flatMap((l) => l?.layers.map((row) => row.layer) ?? []);
  return [...new Set([...data.layer_indices, ...lensLayers])].sort((a, b) => a - b);
}

/** A heatmap cell's colour and opacity: the arcs' (edgeStyle) against `scale`; null under the noise floor (blank, as such arcs are not drawn). */
export function cellStyle(effect, scale, floor = 0) {
  if (Math.abs(effect) < floor) return null;
  const { color, opacity } = edgeStyle(effect, scale);
  return { color, opacity };
}

/** The title of the panel: "Anatomy of 1 ·Mary → 13 ·to". */
export function anatomyTitle(data) {
  const end = (positions) => spanName(data, { start: Math.min(...positions), end: Math.max(...positions) + 1 });
  return `Anatomy of ${end(data.sources)} → ${end(data.targets)}`;
}

function text(parent, x, y, content, attrs = {}) {
  const node = svgEl("text", { x, y, ...attrs }, parent);
  node.textContent = content;
  return node;
}

function titled(node, content) {
  svgEl("title", {}, node).textContent = content;
  return node;
}

/**
 * A curve over the layer rows: a zero line, a line through the values, a dot per value titled with its number. A value
 * beyond ±scale is drawn at the edge as a hollow dot (its title keeps the number).
 */
function curve(parent, { x, width, rowY, values, scale, series, label, color = null, reference = null }) {
  const g = svgEl("g", { class: "if-an-curve", "data-series": series }, parent);
  const mid = x + width / 2;
  const at = (v) => mid + (scale > 0 ? (Math.max(-scale, Math.min(scale, v)) / scale) * (width / 2 - 3) : 0);
  const [top, bottom] = [rowY(values[0][0]) - ROW / 2, rowY(values.at(-1)[0]) + ROW / 2];
  svgEl("line", { class: "if-an-axis", x1: mid, x2: mid, y1: top, y2: bottom }, g);
  if (reference != null && Number.isFinite(reference)) {
    svgEl(
      "line",
      {
        class: "if-an-reference",
        x1: at(reference),
        x2: at(reference),
        y1: top,
        y2: bottom,
        "stroke-dasharray": "3 2",
      },
      g,
    );
  }
  const points = values.filter(([, v]) => Number.isFinite(v));
  svgEl(
    "polyline",
    { class: "if-an-line", fill: "none", points: points.map(([l, v]) => `${at(v)},${rowY(l)}`).join(" ") },
    g,
  );
  for (const [layer, v] of values) {
    const clipped = Math.abs(v) > scale;
    const dot = svgEl(
      "circle",
      {
        class: `if-an-point${clipped ? " if-an-clipped" : ""}`,
        cx: Number.isFinite(v) ? at(v) : mid,
        cy: rowY(layer),
        r: 2.4,
        "data-layer": layer,
      },
      g,
    );
    if (color) dot.setAttribute(clipped ? "stroke" : "fill", color(v));
    titled(dot, label(layer, v));
  }
}

/** The heatmap: one cell per (layer, head), the arcs' colours, kv groups parted by a gap. */
function heatmap(parent, data, { x, rowY, scale, floor }) {
  const g = svgEl("g", { class: "if-an-heatmap" }, parent);
  data.heads.forEach((row, k) => {
    const layer = data.layer_indices[k];
    row.forEach((effect, head) => {
      const style = cellStyle(effect, scale, floor);
      const cell = svgEl(
        "rect",
        {
          class: style ? "if-an-cell" : "if-an-cell if-an-blank",
          x: x + head * CELL,
          y: rowY(layer) - ROW / 2,
          width: CELL - 1,
          height: ROW - 1,
          "data-layer": layer,
          "data-head": head,
          ...(style ? { fill: style.color, "fill-opacity": style.opacity } : {}),
        },
        g,
      );
      const kv = data.kv_group > 1 ? `, key/value head ${Math.floor(head / data.kv_group)}` : "";
      titled(cell, `L${layer}.H${head}: ${formatEffect(effect)} (exact: the edge intervened in this head only${kv})`);
    });
  });
}

/** A lens column: each layer's top token (all its top tokens and the metric in the title), then the metric's curve. */
function lensColumn(parent, lens, { x, rowY, end }) {
  const g = svgEl("g", { class: "if-an-lens", "data-end": end }, parent);
  for (const row of lens.layers) {
    const top = row.top[0];
    const shown = top ? visible(top.token) : "";
    const cell = svgEl("g", { class: "if-an-lens-row", "data-layer": row.layer }, g); // its title stays out of the text
    const tops = row.top
      .map((t) => `${visible(t.token)} (logit ${t.logit.toFixed(2)}, p ${t.prob.toPrecision(2)})`)
      .join(", ");
    titled(
      cell,
      `${row.layer < 0 ? "embeddings" : `after layer ${row.layer}`} at ${lens.position} ${visible(lens.token)}: ${tops}; metric ${formatEffect(row.metric)}`,
    );
    text(cell, x, rowY(row.layer) + 4, shown.length > TOKEN_CHARS ? `${shown.slice(0, TOKEN_CHARS - 1)}…` : shown, {
      class: "if-an-lens-token",
      "fill-opacity": top ? 0.45 + 0.55 * top.prob : 1, // surer tokens darker
    });
  }
  const values = lens.layers.map((row) => [row.layer, row.metric]);
  // Scaled to the decoder layers: the embeddings' reading is often far off (clipped at the edge when it is).
  const scale = finiteMax(values.filter(([l]) => l >= 0).map(([, v]) => v)) || finiteMax(values.map(([, v]) => v));
  curve(g, {
    x: x + LENS_TOKEN,
    width: LENS_CHART,
    rowY,
    values,
    scale,
    series: `lens-${end}`,
    label: (l, v) =>
      `metric read ${l < 0 ? "from the embeddings" : `after layer ${l}`} at ${lens.position}: ${formatEffect(v)}`,
  });
  return scale;
}

/**
 * Draw the anatomy panel into `svg` (its children are replaced) and size it. `data`: the `anatomy` trait; while it
 * is measured (status "computing") or after a failure only the title (`title`, if given) and a line saying so.
 */
export function drawAnatomy(svg, raw, title = "Anatomy of the selected edge") {
  svg.replaceChildren();
  const data = raw.status === "done" ? readAnatomy(raw) : raw;
  if (data.status !== "done") {
    const line =
      data.status === "failed"
        ? "failed: the error box above says why"
        : "measuring… (progress in the status line above)";
    text(svg, 4, 16, title, { class: "if-an-title" });
    text(svg, 4, 34, line, { class: "if-an-muted" });
    return size(svg, 420, 44);
  }
  const rows = anatomyRows(data);
  const rowY = (layer) => HEAD_ROWS + ROW * rows.indexOf(layer) + ROW / 2;
  const heads = data.heads[0]?.length ?? 0;
  const headScale = finiteMax(data.heads.flat());
  const floor = Number.isFinite(data.noise_floor) ? data.noise_floor : 0;
  const series = { layers: data.layers, up_to: data.windows.up_to, from: data.windows.from };
  const curveScale = finiteMax([...Object.values(series).flat(), data.effect]);
  const sign = (v) => (Math.abs(v) < floor ? GREY : edgeStyle(v, curveScale).color); // grey: numerical noise

  const heading = text(svg, 4, 15, anatomyTitle(data), { class: "if-an-title" });
  svgEl("tspan", { class: "if-an-muted", dx: 12 }, heading).textContent =
    `effect ${formatEffect(data.effect)} (the edge in every layer)`;
  const stats = data.stats ?? {};
  const how = data.intervention_text ? ` (${data.intervention_text})` : "";
  const passes = `${stats.forward_passes} forward pass${stats.forward_passes === 1 ? "" : "es"}`;
  text(
    svg,
    4,
    32,
    `exact measurements, not estimates: the edge intervened${how} in one head, one layer or a window of layers ` +
      `at a time; ${stats.interventions} measurements in ${passes}, ${stats.seconds} s`,
    { class: "if-an-muted" },
  );
  // The strongest heads, in one line of tspans (they flow: no widths to guess).
  const list = text(svg, 4, 50, "heads carrying most of it:", { class: "if-an-muted" });
  for (const [layer, head, effect] of data.top_heads) {
    svgEl(
      "tspan",
      {
        class: "if-an-top",
        dx: 12,
        fill: edgeStyle(effect, 1).color,
        "data-layer": layer,
        "data-head": head,
        "data-effect": effect,
      },
      list,
    ).textContent = headText(layer, head, effect);
  }

  // Columns, left to right, on one row per layer.
  const heatX = LABEL + 6;
  let x = heatX + Math.max(heads * CELL, 84) + GAP;
  const headings = [[heatX, "layer × head"]];
  for (const layer of rows)
    text(svg, LABEL, rowY(layer) + 4, layer < 0 ? "embed" : String(layer), {
      class: "if-an-muted if-an-label",
      "text-anchor": "end",
    });
  for (let h = 0; h < heads; h++)
    text(svg, heatX + h * CELL + CELL / 2, HEAD_ROWS - 4, String(h), {
      class: "if-an-muted if-an-index",
      "text-anchor": "middle",
    });
  heatmap(svg, data, { x: heatX, rowY, scale: headScale, floor });
  for (const [key, heading, label] of CURVES) {
    const values = data.layer_indices.map((layer, k) => [layer, series[key][k]]);
    if (values.length)
      curve(svg, {
        x,
        width: CHART,
        rowY,
        values,
        scale: curveScale,
        series: key,
        color: sign,
        reference: data.effect,
        label: (l, v) => `${label(l)}: ${formatEffect(v)} (exact)`,
      });
    headings.push([x, heading]);
    x += CHART + GAP;
  }
  const lensScales = [];
  for (const end of ["source", "target"]) {
    const lens = data.lens[end];
    if (!lens) continue;
    lensScales.push(lensColumn(svg, lens, { x, rowY, end }));
    headings.push([x, `logit lens at ${lens.position} ${visible(lens.token).slice(0, 12)}`]);
    text(svg, x, HEAD_ROWS - 4, "top token", { class: "if-an-muted if-an-index" });
    text(svg, x + LENS_TOKEN, HEAD_ROWS - 4, "metric", { class: "if-an-muted if-an-index" });
    x += LENS_TOKEN + LENS_CHART + GAP;
  }
  for (const [hx, heading] of headings) text(svg, hx, HEAD_ROWS - 18, heading, { class: "if-an-heading" });

  const foot = HEAD_ROWS + rows.length * ROW + 16;
  const notes = [
    `cells and dots: green helps the metric, red hurts it (as arcs); cell opacity: |effect| relative to ${formatMagnitude(headScale)} (the largest head)` +
      (floor ? `; blank: under the noise floor ${formatMagnitude(floor)}` : ""),
    `curves: ±${formatMagnitude(curveScale)} across, dashed: the edge in every layer${floor ? ", grey dots: under the noise floor" : ""}` +
      (data.kv_group > 1 ? `; query heads share key/value heads in groups of ${data.kv_group}` : ""),
    `logit lens: the residual stream at each end after each layer, read through the final norm and the unembedding: its top token, ` +
      `and the metric on those logits (±${lensScales.map(formatMagnitude).join(" and ±")} across the decoder layers; hollow: beyond it)`,
  ];
  notes.forEach((note, i) => {
    text(svg, 4, foot + 15 * i, note, { class: "if-an-muted if-an-note" });
  });
  return size(svg, Math.max(x, 4 + 5.6 * Math.max(...notes.map((n) => n.length))), foot + 15 * notes.length);
}

function size(svg, width, height) {
  const [w, h] = [Math.ceil(width), Math.ceil(height)];
  svg.setAttribute("width", String(w));
  svg.setAttribute("height", String(h));
  svg.setAttribute("viewBox", `0 0 ${w} ${h}`);
  return { width: w, height: h };
}
