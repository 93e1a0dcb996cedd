// A stand-in for the anywidget model: traits in a map, change events, and a log of what was sent.

export function mockModel(state) {
  const values = { ...state };
  const handlers = new Map();
  const model = {
    saved: 0,
    sent: [],
    get: (name) => values[name],
    set(name, value) {
      values[name] = value;
      model.emit(`change:${name}`);
    },
    save_changes() {
      model.saved += 1;
    },
    send(content) {
      model.sent.push(content);
    },
    on(event, fn) {
      if (!handlers.has(event)) handlers.set(event, new Set());
      handlers.get(event).add(fn);
    },
    off(event, fn) {
      handlers.get(event)?.delete(fn);
    },
    emit(event, ...args) {
      for (const fn of handlers.get(event) ?? []) fn(...args);
    },
    listeners: () => [...handlers.values()].reduce((n, s) => n + s.size, 0),
  };
  return model;
}

export const IOI_TOKENS = [
  "When",
  " Mary",
  " and",
  " John",
  " went",
  " to",
  " the",
  " store",
  ",",
  " John",
  " gave",
  " a",
  " book",
  " to",
];

/** A full token graph over `tokens` whose effects are deterministic and of both signs. */
export function fullGraph(tokens = IOI_TOKENS) {
  const nodes = tokens.map((_, i) => ({ start: i, end: i + 1, label: `${i}:${i + 1}` }));
  const edges = [];
  for (let i = 0; i < tokens.length; i++) {
    for (let j = 0; j <= i; j++)
      edges.push({ source: j, target: i, effect: Math.sin(7 * i + 3 * j) / (1 + i - j), level: 0 });
  }
  return {
    format: "infoflow-graph/1",
    tokens,
    clean_metric: 3.21,
    nodes,
    edges,
    stats: { forward_passes: 2, interventions: edges.length, seconds: 0.5 },
    provenance: {
      metric: "logit(' Mary') - logit(' John')",
      intervention_text: "zero pattern",
      strategy: { name: "full" },
    },
  };
}

/** The `strategies` trait as Python sends it (names, descriptions, whether the threshold prunes a search). */
export const STRATEGY_MENU = [
  { name: "full", description: "Every pair of token positions j <= i, self-edges included.", prunes: false },
  { name: "backtrack", description: "Token edges, searched backwards from the last position.", prunes: true },
  { name: "split", description: "Span edges between parts of a delimiter hierarchy.", prunes: true },
  { name: "attribution", description: "First-order estimates of every token edge: not exact.", prunes: false },
  { name: "attribution-then-exact", description: "Estimates, then exact values for the k strongest.", prunes: false },
];

/** The `interventions` trait as Python sends it (intervention_menu(): names, descriptions, parameters with defaults). */
export const INTERVENTION_MENU = [
  {
    name: "zero",
    description: "Zero pattern: A[i, j] = 0 after the softmax, without renormalising the row.",
    parameters: {},
  },
  { name: "dampen", description: "Dampening: A[i, j] *= alpha after the softmax.", parameters: { alpha: 0.5 } },
  { name: "crop", description: "Crop: query i sees only keys j+1..i.", parameters: {} },
  {
    name: "corrupt",
    description: "Corruption (path patching): query i sees key j and value j of the corrupted prompt.",
    parameters: { corrupted_prompt: "" },
  },
];

/** `graph` with its edges estimated (all, or all but the `verified` strongest), as Attribution strategies return it. */
export function estimatedGraph(graph = fullGraph(), verified = 0) {
  const order = graph.edges.map((e, i) => [Math.abs(e.effect), i]).sort((a, b) => b[0] - a[0]);
  const exact = new Set(order.slice(0, verified).map(([, i]) => i));
  const stats = verified
    ? { ...graph.stats, agreement: { verified, correlation: 0.9312, top10_overlap: 8 } }
    : graph.stats;
  return { ...graph, stats, edges: graph.edges.map((e, i) => ({ ...e, exact: exact.has(i) })) };
}

export function widgetState(graph = fullGraph()) {
  return {
    tokens: graph.tokens,
    graph,
    intervention: "zero",
    alpha: 0.5,
    corrupted_prompt: "",
    strategy: "full",
    strategies: STRATEGY_MENU,
    interventions: INTERVENTION_MENU,
    threshold: 0,
    top_k: 10,
    answer: " Mary",
    distractor: " John",
    status: "done",
    progress: 1,
    computing: false,
    error: "",
    selected: null,
  };
}

/** The noise case: dampen alpha = 1 changes nothing, and float32 leaves effects of at most `size` of both signs. */
export function noiseGraph(graph = fullGraph(), size = 1.9e-6) {
  return {
    ...graph,
    edges: graph.edges.map((e, i) => ({ ...e, effect: ((i % 2 ? 1 : -1) * size * ((i % 7) + 1)) / 7 })),
  };
}

/** The state of a page saved by save_html: the saved status line, and the `_offline` flag (unless `flag` is false). */
export function savedState(graph = fullGraph(), flag = true) {
  const state = {
    ...widgetState(graph),
    status: "Saved page: filtering works here; recomputing needs the live widget in a notebook.",
  };
  return flag ? { ...state, _offline: true } : state;
}

/**
 * `graph` with trust flags (issue 10) on some edges, by rank of |effect| (1 = strongest): `flags` maps a rank to its
 * flags. By default the strongest is flagged sink and damage (damage 2.3 nats), the third inconsistent, the twelfth
 * (under top-k 10) damage; stats.sinks gives the source of the sink-flagged edge 45% of attention.
 */
export function flaggedGraph(
  graph = fullGraph(),
  flags = { 1: ["sink", "damage"], 3: ["inconsistent"], 12: ["damage"] },
) {
  const order = graph.edges
    .map((e, i) => [Math.abs(e.effect), i])
    .sort((a, b) => b[0] - a[0] || a[1] - b[1])
    .map(([, i]) => i);
  const edges = graph.edges.map((e) => ({ ...e, flags: [] }));
  for (const [rank, names] of Object.entries(flags))
    Object.assign(edges[order[rank - 1]], { flags: names, damage: 2.3 });
  const sink = edges.find((e) => e.flags.includes("sink"));
  const positions = sink ? [graph.nodes[sink.source].start] : []; // as trust.sink_stats writes stats.sinks
  const sinks = { positions, share: positions.map(() => 0.45), strongest_other: null, excess: 0.2 };
  return { ...graph, edges, stats: { ...graph.stats, sinks } };
}

/**
 * The `anatomy` trait as Python sends it for edge 1 → 13 of the IOI graph (anatomy_data): 3 layers of 4 heads in
 * kv groups of 2, the per-layer and window effects, the five strongest heads, and the logit lens of both ends.
 */
export function anatomyData() {
  const heads = [
    [0.1, -0.02, 0.0001, 0.3],
    [1.2, -0.4, 0.05, "NaN"],
    [0.0, 0.02, -0.9, 0.01],
  ];
  const lens = (position, token) => ({
    position,
    token,
    metric_name: "logit(' Mary') - logit(' John')",
    exact: true,
    layers: [-1, 0, 1, 2].map((layer) => ({
      layer,
      label: layer < 0 ? "embed" : String(layer),
      metric: layer === 0 ? null : 0.5 * layer,
      top: [
        { token: " Mary", logit: 3 + layer, prob: 0.4 },
        { token: " John", logit: 2, prob: 0.2 },
      ],
    })),
  });
  return {
    status: "done",
    edge: { source: 1, target: 13, level: 0 },
    sources: [1],
    targets: [13],
    tokens: IOI_TOKENS,
    clean_metric: 3.21,
    effect: 1.5,
    layer_indices: [0, 1, 2],
    layers: [0.4, 0.9, -0.8],
    heads,
    windows: { up_to: [0.4, 1.3, 1.5], from: [1.5, 1.1, -0.8] },
    kv_group: 2,
    provenance: { metric: "logit(' Mary') - logit(' John')", intervention: { kind: "zero" } },
    stats: { forward_passes: 2, interventions: 22, seconds: 0.1 },
    top_heads: [
      [1, 0, 1.2],
      [2, 2, -0.9],
      [1, 1, -0.4],
      [0, 3, 0.3],
      [0, 0, 0.1],
    ],
    lens: { source: lens(1, " Mary"), target: lens(13, " to") },
    intervention_text: "zero pattern",
    noise_floor: 0.001,
  };
}

export const ROLE_LABELS = [
  "When",
  "IO",
  " and",
  "S1",
  "S1+1",
  " to",
  " the",
  " store",
  ",",
  "S2",
  " gave",
  " a",
  " book",
  "END",
];

/** A prompt set's role graph as Python draws its mean (drawn_graph): labels as tokens, edges with interval and sign consistency. */
export function roleGraph(prompts = 50) {
  const graph = fullGraph(ROLE_LABELS);
  const edges = graph.edges.map((e, i) => ({
    ...e,
    effect_std: 0.3,
    low: e.effect - 0.2,
    high: e.effect + 0.25,
    sign_consistency: ((i % 5) + 45) / 50,
    n: prompts,
  }));
  const template = "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to";
  const provenance = {
    ...graph.provenance,
    metric: "logit difference of each prompt's answer and distractor",
    role_graph: { prompts, template },
  };
  return { ...graph, edges, provenance };
}

/** The state of a prompt set's widget showing its mean. */
export function setState(
  prompts = [
    "When Mary and John went to the store, John gave a book to",
    "When Anna and Tom went to the park, Tom gave a ball to",
  ],
) {
  return { ...widgetState(roleGraph(prompts.length)), prompts, prompt_index: -1, answer: null, distractor: null };
}

// A graph of two spans (0:7, 7:14) and a token node inside the second, for the panels that act on span arcs.
export function spanGraph() {
  const graph = fullGraph();
  graph.nodes = [
    { start: 0, end: 7, label: "0:7" },
    { start: 7, end: 14, label: "7:14" },
    { start: 13, end: 14, label: "13:14" },
  ];
  graph.edges = [
    { source: 0, target: 1, effect: 0.8, level: 0 },
    { source: 2, target: 2, effect: 0.1, level: 0 },
  ];
  return graph;
}

// The arc element a click event names: the drawing keeps the edge's index in its dataset.
export const arc = (index) => ({ dataset: { index: String(index) } });
