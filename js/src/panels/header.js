// The header: what is measured under which intervention, the clean metric, counts, cost, estimates, drill-down.

import { el } from "../dom.js";
import { estimateSummary, formatEffect } from "../format.js";

export function createHeader({ model }) {
  const header = el("div", { class: "if-header" });
  return {
    el: header,
    update({ graph, edges, depth }) {
      if (!graph) {
        header.textContent = model.get("computing") ? "Computing the first graph…" : "";
        return;
      }
      const p = graph.provenance ?? {};
      const s = graph.stats ?? {};
      const what = el("div", { class: "if-what" }, [
        el("b", { text: p.metric ?? "metric" }), " under ", el("span", { text: p.intervention_text ?? "" }),
      ]);
      const facts = el("div", { class: "if-facts" }, [
        el("span", { text: `clean metric ${formatEffect(graph.clean_metric).replace(/^\+/, "")}` }),
        el("span", { text: `${graph.tokens.length} tokens · ${graph.edges.length} edges measured, ${edges.length} shown` }),
        el("span", { text: s.forward_passes != null ? `${s.forward_passes} forward passes, ${s.seconds} s` : "" }),
      ]);
      const estimates = estimateSummary(graph);
      if (estimates) facts.append(el("span", { class: "if-estimate", text: estimates }));
      if (depth) {
        const from = p.expanded_from ?? {};
        facts.append(el("span", { class: "if-drill", text: `inside span edge ${JSON.stringify(from.source ?? "")} → ${JSON.stringify(from.target ?? "")}` }));
      }
      header.replaceChildren(what, facts);
    },
  };
}
