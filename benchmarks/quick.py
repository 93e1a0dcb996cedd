"""The regression guard: a few minutes of the core figures, compared with the committed ones (benchmarks/quick.json).

Each figure is a ratio against a baseline measured in the same run, or a peak memory (max RSS of its own
process); every figure more than 25% worse than the committed one is printed as a regression, and the exit
status is 1 when there is one. ``--update`` writes this run's figures as the new reference (after a reviewed
change that is meant to move them). Run it with ``make bench-quick`` before resolving an issue that touches the
engine, and put its output in the closing note. It is not a timed test: nothing in ``make test`` runs it.

Figures (each in its own process):

- ``ioi``: the full IOI graph (105 edges, Zero, smollm2-135m), the batched engine against the one-edge-per-pass
  reference loop (extrapolated from every fifth edge), and peak memory.
- ``widget``: the widget's exact graph after an alpha change (dampen 0.5 -> 0.25) against compute_flow alone.
- ``code``: the code case's first 160 tokens on gemma-3-270m, every line pair (Zero), against the loop
  extrapolated from a timed sample of pairs; peak memory at the default budget.
- ``anatomy``: the anatomy of S2 -> END (361 rows) against compute_flow of the whole IOI graph.
- ``prompt_set``: 12 IOI prompts, compute_flow_set against 12 compute_flow calls.
"""

from __future__ import annotations

import argparse
import json
import resource
import subprocess
import sys
import warnings
from pathlib import Path

from run import CODE, IOI, ioi_prompt_set, per_edge_seconds, timed, token_pairs

from infoflow_widget import Dampen, FlowEngine, LogitDiff, Split, Zero, compute_flow, load_model

REFERENCE = Path(__file__).with_name("quick.json")
TOLERANCE = 0.25
"""A figure this much worse than the committed one is a regression."""


def ioi() -> dict[str, float]:
    model = load_model("smollm2-135m", quiet=True)
    metric = LogitDiff(" Mary", " John")
    engine = FlowEngine(model, IOI, metric, Zero(), progress=False)
    pairs = token_pairs(engine.n)
    engine.effects(pairs[:3])  # warm-up: first calls pay for lazy set-up
    engine_s = min(timed(engine.effects, pairs)[0] for _ in range(2))
    loop_s = per_edge_seconds(model, IOI, metric, pairs[::5]) * len(pairs)
    return {"speed-up over the loop": loop_s / engine_s}


def widget() -> dict[str, float]:
    from infoflow_widget import InfoFlowWidget

    model = load_model("smollm2-135m", quiet=True)
    compute_flow(model, IOI, answer=" Mary", distractor=" John", progress=False)  # warm-up
    alone_s = min(
        timed(compute_flow, model, IOI, None, Dampen(0.25), answer=" Mary", distractor=" John", progress=False)[0]
        for _ in range(2)
    )
    view = InfoFlowWidget(model, IOI, answer=" Mary", distractor=" John", intervention="dampen", alpha=0.5)
    view.wait()
    recompute_s, _ = timed(lambda: (setattr(view, "alpha", 0.25), view.wait()))
    view.close()
    return {"recompute / compute_flow": recompute_s / alone_s}


def code() -> dict[str, float]:
    model = load_model("gemma-3-270m", quiet=True)
    ids = model.tokenizer(CODE.read_text(), add_special_tokens=False)["input_ids"][:160]
    prompt = model.tokenizer.decode(ids).rstrip("\n")
    metric = LogitDiff("bar", "foo")
    lines = Split((("\n",),), threshold=1e9)  # every line pair, no descent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no edge above the threshold": wanted here
        engine_s, graph = timed(compute_flow, model, prompt, metric, strategy=lines, progress=False)
    spans = [
        (list(range(graph.nodes[e.source].start, graph.nodes[e.source].end)),
         list(range(graph.nodes[e.target].start, graph.nodes[e.target].end)))
        for e in graph.edges[:: max(1, len(graph.edges) // 6)]
    ]  # fmt: skip
    loop_s = per_edge_seconds(model, prompt, metric, spans) * len(graph.edges)
    return {"speed-up over the loop": loop_s / engine_s}


def anatomy() -> dict[str, float]:
    model = load_model("smollm2-135m", quiet=True)
    metric = LogitDiff(" Mary", " John")
    engine = FlowEngine(model, IOI, metric, Zero(), progress=False)
    edge = ([9], [engine.n - 1])  # S2 -> END
    engine.anatomy(*edge)  # warm-up
    anatomy_s = min(timed(engine.anatomy, *edge)[0] for _ in range(2))
    graph_s = min(timed(compute_flow, model, IOI, metric, Zero(), progress=False)[0] for _ in range(2))
    return {"anatomy / compute_flow": anatomy_s / graph_s}


def prompt_set() -> dict[str, float]:
    from infoflow_widget import compute_flow_set

    model = load_model("smollm2-135m", quiet=True)
    prompts = ioi_prompt_set(model, 12)

    def separate() -> None:
        for r in prompts:
            compute_flow(model, r.prompt, answer=r.answer, distractor=r.distractor, progress=False)

    compute_flow(model, IOI, answer=" Mary", distractor=" John", progress=False)  # warm-up
    separate_s = min(timed(separate)[0] for _ in range(2))
    set_s = min(timed(compute_flow_set, model, prompts, Zero(), progress=False)[0] for _ in range(2))
    return {"speed-up over separate calls": separate_s / set_s}


FIGURES = {"ioi": ioi, "widget": widget, "code": code, "anatomy": anatomy, "prompt_set": prompt_set}
LOWER_IS_BETTER = ("/", "peak")
"""Figures whose name holds one of these get worse as they grow (time ratios, memory); speed-ups as they fall."""


def worse(name: str, now: float, then: float) -> bool:
    """Whether ``now`` is more than TOLERANCE worse than ``then``."""
    if any(mark in name for mark in LOWER_IS_BETTER):
        return now > then * (1 + TOLERANCE)
    return now < then * (1 - TOLERANCE)


def main() -> int:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--update", action="store_true", help="write this run's figures to benchmarks/quick.json")
    parser.add_argument("--child", choices=FIGURES, help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        found = FIGURES[args.child]()
        found["peak MiB"] = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(json.dumps(found))
        return 0
    figures = {}
    for name in FIGURES:
        done = subprocess.run([sys.executable, __file__, "--child", name], capture_output=True, text=True, check=True)
        figures[name] = json.loads(done.stdout.strip().splitlines()[-1])
    committed = json.loads(REFERENCE.read_text())["figures"] if REFERENCE.is_file() else {}
    regressions = 0
    print(f"{'figure':<44}{'now':>10}{'committed':>11}")
    for group, found in figures.items():
        for name, now in found.items():
            then = committed.get(group, {}).get(name)
            flag = then is not None and worse(name, now, then)
            regressions += flag
            shown = "" if then is None else f"{then:.2f}"
            print(f"{group + ': ' + name:<44}{now:>10.2f}{shown:>11}{'  WORSE by more than 25%' if flag else ''}")
    if args.update:
        REFERENCE.write_text(json.dumps({"tolerance": TOLERANCE, "figures": figures}, indent=2) + "\n")
        print(f"written: {REFERENCE}")
    print(f"{regressions} figure(s) more than 25% worse than benchmarks/quick.json")
    return 1 if regressions and not args.update else 0


if __name__ == "__main__":
    sys.exit(main())
