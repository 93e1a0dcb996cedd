// The header: what is measured under which intervention (the graph's own provenance, never a control's value: in a
// saved page the controls cannot recompute), the clean metric, counts, cost, estimates, drill-down. The estimates
// line keeps its room when empty, so the controls below never move when an estimate comes and goes.

import { el } from "../dom.js";
import { estimateSummary, formatEffect, labelName, setSummary } from "../format.js";

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
        el("b", { text: p.metric ?? "metric" }),
        " under ",
        el("span", { text: p.intervention_text ?? "" }),
      ]);
      const facts = el("div", { class: "if-facts" }, [
        el("span", { text: `clean metric ${formatEffect(graph.clean_metric).replace(/^\+/, "")}` }),
        el("span", {
          text: `${graph.tokens.length} ${p.role_graph ? "labels" : "tokens"} · ${graph.edges.length} edges measured, ${edges.length} shown`,
        }),
        el("span", { text: s.forward_passes != null ? `${s.forward_passes} forward passes, ${s.seconds} s` : "" }),
      ]);
      if (depth) {
        const from = p.expanded_from ?? {};
        facts.append(
          el("span", {
            class: "if-drill",
            text: `inside span edge ${labelName(graph, from.source)} → ${labelName(graph, from.target)}`,
          }),
        );
      }
      const set = setSummary(graph);
      header.replaceChildren(
        ...(set ? [el("div", { class: "if-set", text: set })] : []),
        what,
        facts,
        el("div", { class: "if-estimate", text: estimateSummary(graph) }),
      );
    },
  };
}
