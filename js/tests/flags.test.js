import { describe, expect, it } from "vitest";
import {
  FLAG_COLOR,
  flaggedOpacity,
  flagNames,
  flagOutline,
  flagReasons,
  hasFlags,
  isFlagged,
  isInconsistent,
  sinkShare,
  trustRows,
} from "../src/flags.js";
import style from "../src/style.json";

const graph = (stats = {}) => ({
  tokens: ["<s>", "a", "b"],
  nodes: [0, 1, 2].map((i) => ({ start: i, end: i + 1 })),
  edges: [],
  stats,
});

describe("trust flags (issue 10)", () => {
  it("reads an edge's flags: absent or empty is not flagged", () => {
    expect(isFlagged({})).toBe(false);
    expect(isFlagged({ flags: [] })).toBe(false);
    expect(isFlagged({ flags: ["damage"] })).toBe(true);
    expect(flagNames({ flags: ["sink", { name: "damage" }] })).toEqual(["sink", "damage"]);
    expect(isInconsistent({ flags: ["sink", "inconsistent"] })).toBe(true);
    expect(isInconsistent({ flags: ["sink"] })).toBe(false);
    expect(hasFlags({ edges: [{ flags: [] }, { flags: ["sink"] }] })).toBe(true);
    expect(hasFlags({ edges: [{ flags: [] }, {}] })).toBe(false);
    expect(hasFlags(null)).toBe(false);
  });

  it("draws a flagged arc's outline wider than the arc, dotted, in the flag colour; fades inconsistent arcs", () => {
    expect(flagOutline(2)).toEqual({
      color: FLAG_COLOR,
      width: 2 + style.flags.extraWidth,
      dash: "1.5 2.5",
      opacity: style.flags.opacity,
    });
    expect(flagOutline(2, 4).width).toBe((2 + style.flags.extraWidth) * 2);
    expect(flagOutline(2, 4).dash).toBe("6 10");
    expect(flaggedOpacity(0.8, { flags: ["inconsistent"] })).toBeCloseTo(0.8 * style.flags.fade);
    expect(flaggedOpacity(0.8, { flags: ["sink"] })).toBe(0.8);
    expect(flaggedOpacity(0.8, {})).toBe(0.8);
  });

  it("finds a sink's share of attention however stats.sinks holds it", () => {
    const engine = { positions: [0, 3], share: [0.58, 0.3], strongest_other: [5, 0.09], excess: 0.2 }; // trust.sink_stats
    expect(sinkShare(graph({ sinks: engine }), 0)).toBe(0.58);
    expect(sinkShare(graph({ sinks: engine }), 2, 5)).toBe(0.3); // a span source holding a sink
    expect(sinkShare(graph({ sinks: engine }), 1, 3)).toBe(null);
    expect(sinkShare(graph({ sinks: { positions: [0] } }), 0)).toBe(null);
    expect(sinkShare(graph({ sinks: [{ position: 0, share: 0.45 }] }), 0)).toBe(0.45);
    expect(sinkShare(graph({ sinks: [{ position: 0, share: 45 }] }), 0)).toBe(0.45); // a percent
    expect(sinkShare(graph({ sinks: { 0: 0.3 } }), 0)).toBe(0.3);
    expect(sinkShare(graph({ sinks: { 0: { share: 0.2 } } }), 0)).toBe(0.2);
    expect(sinkShare(graph({ sinks: [0, 5] }), 0)).toBe(null); // positions only
    expect(sinkShare(graph({ sinks: [{ position: 1, share: 0.4 }] }), 0)).toBe(null);
    expect(sinkShare(graph({ sinks: "odd" }), 0)).toBe(null);
    expect(sinkShare(graph(), 0)).toBe(null);
  });

  it("says why, in words, one reason per flag", () => {
    const g = graph({ sinks: [{ position: 0, share: 0.45 }] });
    const edge = { source: 0, target: 2, effect: 1, flags: ["sink", "damage", "inconsistent", "novel"], damage: 2.3 };
    expect(flagReasons(g, edge)).toEqual([
      "source is an attention sink (receives 45% of attention): cutting it tends to break the model — “hemorrhage”",
      "damage 2.3 nats: far above edges of similar effect",
      "sign differs between interventions",
      "novel",
    ]);
    expect(flagReasons(graph(), { source: 0, target: 1, flags: ["sink", "damage"] })).toEqual([
      "source is an attention sink: cutting it tends to break the model — “hemorrhage”",
      "damage: far above edges of similar effect",
    ]);
    expect(flagReasons(g, { source: 1, target: 2 })).toEqual([]);
    const span = {
      ...graph({ sinks: { positions: [0], share: [0.581] } }),
      nodes: [
        { start: 0, end: 2 },
        { start: 2, end: 3 },
      ],
    };
    expect(flagReasons(span, { source: 0, target: 1, flags: ["sink"] })[0]).toContain("(receives 58% of attention)");
  });

  it("gives the damage and the spread over corrupted samples when the edge has them", () => {
    expect(trustRows({ damage: 2.345, effect_std: 0.3141 })).toEqual([
      ["damage", "2.35 nats (KL of the next-token distribution)"],
      ["spread", "± 0.314 over corrupted samples"],
    ]);
    expect(trustRows({ damage: "Infinity" })).toEqual([
      ["damage", "Infinity nats (KL of the next-token distribution)"],
    ]);
    expect(trustRows({})).toEqual([]);
  });
});
