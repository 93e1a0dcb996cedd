import { describe, expect, it } from "vitest";
import { rankEdges } from "../src/geometry/edges.js";
import {
  arcNote,
  FLAGS_NOTE,
  fromFirstPosition,
  joinsNeighbours,
  LOCAL_NOTE,
  readingNotes,
  SINK_FLAGS_NOTE,
  SINK_NOTE,
} from "../src/reading.js";

const tokens = ["<s>", "The", " cat", " sat", " on"];
const graph = (edges, nodes = tokens.map((_, i) => ({ start: i, end: i + 1 }))) => ({ tokens, nodes, edges });
const ranked = (g) => rankEdges(g.edges);

describe("reading the strongest arcs (issue 16)", () => {
  it("tells arcs from the first position and between neighbours", () => {
    const g = graph([]);
    expect(fromFirstPosition(g, { source: 0, target: 3 })).toBe(true);
    expect(fromFirstPosition(g, { source: 1, target: 3 })).toBe(false);
    expect(joinsNeighbours(g, { source: 2, target: 3 })).toBe(true);
    expect(joinsNeighbours(g, { source: 3, target: 3 })).toBe(false);
    expect(joinsNeighbours(g, { source: 1, target: 3 })).toBe(false);
    const spans = graph(
      [],
      [
        { start: 0, end: 2 },
        { start: 2, end: 3 },
        { start: 3, end: 5 },
      ],
    );
    expect(fromFirstPosition(spans, { source: 0, target: 1 })).toBe(false); // a span holds more than the sink
    expect(joinsNeighbours(spans, { source: 1, target: 2 })).toBe(false);
  });

  it("notes the attention sink when the strongest arc leaves position 0", () => {
    const g = graph([
      { source: 0, target: 4, effect: 3 },
      { source: 1, target: 4, effect: 2 },
      { source: 2, target: 4, effect: 1.5 },
      { source: 1, target: 3, effect: 1 },
    ]);
    expect(readingNotes(g, ranked(g))).toEqual([{ kind: "sink", text: SINK_NOTE }]);
    expect(SINK_NOTE).toContain("hemorrhage");
  });

  it("notes local mixing when half of the strongest join neighbours, though the strongest does not", () => {
    const g = graph([
      { source: 1, target: 4, effect: 3 },
      { source: 2, target: 3, effect: 2 },
      { source: 3, target: 4, effect: -1.5 },
      { source: 0, target: 2, effect: 0.1 },
    ]);
    expect(readingNotes(g, ranked(g))).toEqual([{ kind: "local", text: LOCAL_NOTE }]);
  });

  it("says nothing of long-range arcs, of NaN, or of nothing drawn", () => {
    const g = graph([
      { source: 1, target: 4, effect: 3 },
      { source: 1, target: 3, effect: 2 },
      { source: 0, target: 1, effect: NaN },
    ]);
    expect(readingNotes(g, ranked(g))).toEqual([]);
    expect(readingNotes(g, [])).toEqual([]);
  });

  it("points to the trust flags when a drawn arc has some", () => {
    const g = graph([{ source: 1, target: 4, effect: 3, flags: ["sink"] }]);
    expect(readingNotes(g, ranked(g))).toEqual([{ kind: "flags", text: FLAGS_NOTE }]);
  });

  it("points the sink note at the arcs flagged sink, when there are some (issue 10)", () => {
    const edges = [
      { source: 0, target: 4, effect: 3, flags: ["sink"] },
      { source: 0, target: 3, effect: 2, flags: [] },
    ];
    const g = graph(edges);
    expect(readingNotes(g, ranked(g))).toEqual([
      { kind: "sink", text: SINK_FLAGS_NOTE },
      { kind: "flags", text: FLAGS_NOTE },
    ]);
    expect(SINK_FLAGS_NOTE).toContain("hemorrhage");
    expect(SINK_FLAGS_NOTE).toContain("flagged “sink” (dotted outline)");
    const damaged = graph(edges.map((e) => ({ ...e, flags: e.flags.length ? ["damage"] : [] })));
    expect(readingNotes(damaged, ranked(damaged))).toEqual([
      { kind: "sink", text: SINK_NOTE },
      { kind: "flags", text: FLAGS_NOTE },
    ]);
    expect(FLAGS_NOTE).toContain("dotted outline");
    // An arc flagged "sink" says why in its flags: no second, vaguer note in its tooltip.
    expect(arcNote(g, edges[0])).toBe("");
    expect(arcNote(g, edges[1])).toContain("attention sink");
  });

  it("gives an arc of such a shape a note for its tooltip", () => {
    const g = graph([]);
    expect(arcNote(g, { source: 0, target: 3 })).toContain("attention sink");
    expect(arcNote(g, { source: 0, target: 0 })).toBe("");
    expect(arcNote(g, { source: 2, target: 3 })).toContain("previous-token");
    expect(arcNote(g, { source: 1, target: 3 })).toBe("");
  });
});
