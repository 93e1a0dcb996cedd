// Text shown for tokens, effects and the graph's provenance.

/** Control characters other than newline and tab: invisible on screen, and XML cannot hold most of them. */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's purpose.
export const CONTROL = /[\x00-\x08\x0b-\x1f\x7f]/g;

/** A control character by its code, as the bytes of a split character are shown: ESC "<0x1B>", NUL "<0x00>". */
function picture(c) {
  return `<0x${c.charCodeAt(0).toString(16).toUpperCase().padStart(2, "0")}>`;
}

/** A token with its whitespace made visible: spaces "·", newlines "↵", tabs "⇥", control characters by code ("<0x1B>"). */
export function visible(text) {
  return String(text).replace(/ /g, "·").replace(/\n/g, "↵").replace(/\t/g, "⇥").replace(CONTROL, picture);
}

/** The control characters XML 1.0 cannot hold (all but tab, newline and carriage return). */
// biome-ignore lint/suspicious/noControlCharactersInRegex: matching control characters is this pattern's purpose.
const XML_CONTROL = /[\x00-\x08\x0b\x0c\x0e-\x1f]/g;

/** `text` with every character XML 1.0 cannot hold replaced: control characters by their codes, others by "\ufffd". */
export function xmlSafe(text) {
  return String(text)
    .replace(XML_CONTROL, picture)
    .replace(/[\ud800-\udbff](?![\udc00-\udfff])|(?<![\ud800-\udbff])[\udc00-\udfff]|[\ufffe\uffff]/g, "\ufffd");
}

/** A token cut to `max` characters for its box; the tooltip keeps the whole text. */
export function boxLabel(text, max) {
  const shown = visible(text);
  return shown.length > max ? `${shown.slice(0, max - 1)}…` : shown;
}

/** An effect with its sign and four significant digits. */
export function formatEffect(effect) {
  if (!Number.isFinite(effect)) return effect > 0 ? "+Infinity" : String(effect);
  const text = Math.abs(effect) >= 1e-3 || effect === 0 ? effect.toPrecision(4) : effect.toExponential(2);
  return effect > 0 ? `+${text}` : text;
}

/** The text of node `index` of a graph: its tokens joined. */
export function nodeText(graph, index) {
  const node = graph.nodes[index];
  return graph.tokens.slice(node.start, node.end).join("");
}

/** The positions of a node as the strip numbers them: "3" for a token, "3–7" for a span (both ends included). */
export function nodeRange(node) {
  return node.end - node.start > 1 ? `${node.start}–${node.end - 1}` : String(node.start);
}

const SPAN_TEXT = 48; // characters of a span's text in its name

/**
 * Node `index` named as a reader finds it on the strip: a token by its position and text ("3 ·went"), a span by
 * its range and quoted text ("3–6 ‘·went·to·the·store’"), whitespace visible.
 */
export function nodeName(graph, index) {
  return spanName(graph, graph.nodes[index]);
}

/** Positions `start` to `end` (exclusive) of a graph's tokens named as nodeName names a node. */
export function spanName(graph, { start, end }) {
  const text = visible(graph.tokens.slice(start, end).join(""));
  if (end - start <= 1) return `${start} ${text}`;
  return `${nodeRange({ start, end })} ‘${text.length > SPAN_TEXT ? `${text.slice(0, SPAN_TEXT - 1)}…` : text}’`;
}

/** A node label as Python writes it ("7:14", a slice) named for a reader (see spanName); other labels as they are. */
export function labelName(graph, label) {
  const slice = /^(\d+):(\d+)$/.exec(String(label));
  if (!slice || !graph?.tokens) return JSON.stringify(label ?? "");
  const [start, end] = [Number(slice[1]), Number(slice[2])];
  return end > start && end <= graph.tokens.length ? spanName(graph, { start, end }) : JSON.stringify(label);
}

/** A non-negative magnitude (a scale, a noise floor) in two or three significant digits: "3.21", "3.2e-4". */
export function formatMagnitude(x) {
  if (!Number.isFinite(x)) return String(x);
  return x >= 1e-3 || x === 0 ? String(Number(x.toPrecision(3))) : x.toExponential(1); // as drawing.format_magnitude
}

/** The text of one of an edge's trust flags: a string, or an object with a name (and a detail). */
export function flagText(flag) {
  if (typeof flag === "string") return flag;
  if (flag == null || typeof flag !== "object") return String(flag);
  const name = flag.name ?? flag.kind ?? flag.code ?? flag.flag;
  const detail = flag.detail ?? flag.text ?? flag.message ?? flag.description;
  if (name == null) return detail ?? JSON.stringify(flag);
  return detail ? `${name}: ${detail}` : String(name);
}

/** The trust flags of an edge (empty when it has none). */
export function edgeFlags(edge) {
  return Array.isArray(edge?.flags) ? edge.flags.map(flagText) : [];
}

/** Whether either end of `edge` is a span (a node over more than one token): clicking it measures the token edges inside. */
export function isSpanEdge(graph, edge) {
  const span = (i) => graph.nodes[i].end - graph.nodes[i].start > 1;
  return span(edge.source) || span(edge.target);
}

/**
 * A graph as received from Python, with numbers restored: non-finite effects and metrics travel as the
 * strings "NaN", "Infinity" and "-Infinity" (JSON has no such numbers), and `Number()` reads them back.
 */
export function readGraph(graph) {
  if (!graph?.edges) return graph;
  return {
    ...graph,
    clean_metric: Number(graph.clean_metric),
    edges: graph.edges.map((e) => ({ ...e, effect: Number(e.effect) })),
  };
}

/** Whether a graph is a prompt set's: its role graph's mean, or one prompt of the set (anatomy and drill-down need one prompt). */
export function isSetGraph(graph) {
  const p = graph?.provenance ?? {};
  return p.role_graph != null || p.prompt_of_set != null;
}

/** The header's line on a prompt set's graph ("" for a graph of one prompt). */
export function setSummary(graph) {
  const p = graph?.provenance ?? {};
  const template = p.role_graph?.template ?? p.prompt_of_set?.template ?? p.prompt_set?.template;
  const of = template ? ` of template “${template}”` : "";
  if (p.role_graph) return `role graph: mean over ${p.role_graph.prompts} prompts${of}`;
  if (p.prompt_of_set) return `prompt ${p.prompt_of_set.index + 1} of ${p.prompt_of_set.prompts}${of}: its own graph`;
  return "";
}

/** A number with its sign and three significant digits, short: "+1.23", "-0.9", "+2.1e-4". */
export function formatShort(x) {
  if (!Number.isFinite(x)) return String(x);
  const text = Math.abs(x) >= 1e-3 || x === 0 ? String(Number(x.toPrecision(3))) : x.toExponential(1);
  return x > 0 ? `+${text}` : text;
}

/**
 * A role edge's mean over the prompts with its 95% interval and sign consistency:
 * "mean +1.23 (95% CI +0.9..+1.5), same sign in 47/50 prompts"; null for an edge of one prompt's graph.
 */
export function roleEffectText(edge) {
  if (edge?.n == null || edge.sign_consistency == null) return null;
  const n = Number(edge.n);
  const interval =
    edge.low != null && edge.high != null
      ? ` (95% CI ${formatShort(Number(edge.low))}..${formatShort(Number(edge.high))})`
      : " (one prompt: no interval)";
  const same = Math.round(Number(edge.sign_consistency) * n);
  return `mean ${formatShort(Number(edge.effect))}${interval}, same sign in ${same}/${n} prompts`;
}

/** Whether an edge is a first-order estimate (graphs from before estimates existed are exact). */
export function isEstimate(edge) {
  return edge.exact === false;
}

/** The header's line on estimates: how much of the graph is estimated, and the agreement stats if any. */
export function estimateSummary(graph) {
  const estimated = graph.edges.filter(isEstimate).length;
  if (estimated === 0) return "";
  const total = graph.edges.length;
  const parts = [
    estimated === total
      ? "estimate: every edge is a first-order estimate (dashed)"
      : `partly estimated: ${total - estimated} of ${total} edges verified exactly, ${estimated} first-order estimates (dashed)`,
  ];
  const agreement = graph.stats?.agreement;
  if (agreement?.verified) {
    const r = agreement.correlation == null ? "–" : Number(agreement.correlation).toFixed(3);
    const overlap = agreement.top10_overlap == null ? "" : `, top-10 overlap ${agreement.top10_overlap} of 10`;
    parts.push(`estimate vs exact on ${agreement.verified} verified: correlation ${r}${overlap}`);
  }
  const settled = verificationSummary(graph.stats?.verification);
  if (settled) parts.push(settled);
  return parts.join(" · ");
}

/** What adaptive verification (`k="auto"`) can say of the top 10: settled, or how many estimates could still enter. */
export function verificationSummary(report) {
  if (report?.at_risk == null) return "";
  if (report.at_risk === 0) return "top 10 settled: no unverified estimate could enter it";
  const many = report.at_risk === 1 ? "1 unverified estimate" : `${report.at_risk} unverified estimates`;
  return `top 10 not certain: ${many} could still enter it (widest error band seen); verify more to settle it`;
}
