"""Benchmarks, printed as ratios against a baseline measured in the same run.

1. Full IOI graph (105 edges, Zero, smollm2-135m): the batched engine against the one-edge-per-
   forward-pass reference loop, both run in full.
2. Scaling: full graphs of prompts of 16, 32, 64 and 128 tokens: seconds, forward passes, token
   positions computed against the minimum an exact full graph needs (sum over targets i of
   (i+1)(n-i)), and the loop's time estimated from a timed sample of single-edge passes.
3. Code completion (563 tokens, gemma-3-270m): the newline-split graph of every line pair, against
   the loop's time estimated from a timed sample of line pairs (whose values it also compares with the
   reference), the strongest lines into the last one; AttributionThenExact(50): time and agreement of the
   estimates with the exact values.
4. Widget recomputation on the IOI prompt after an alpha change: time until the attribution
   estimate is shown and until the exact graph replaces it, against a cold compute_flow run; and
   one graph computed on the main thread, in a thread, and in a thread after the main thread's
   OpenMP pool is released (infoflow_widget/_openmp.py).
5. Start-up: wall seconds, best of 3, of fresh processes: `import infoflow_widget`, `infoflow --help`,
   `infoflow models`, a bad-input error, and the CLI's time to its first result (the IOI graph).
6. Damage: the full IOI graph with every edge's damage (KL of the next-token distribution, from the
   logits its effect already reads) against the same graph with the damage computation stubbed out:
   forward passes and seconds, best of 3, in alternation.
7. Auto-Corrupt: the full IOI graph under Corrupt.auto(n=4) against one Corrupt graph (the plan's first
   prompt), each on an engine derived from one clean run (its corrupted prompts' runs included), and the
   attribution estimate of each: seconds (best of 3, in alternation), forward passes, positions, ratio.
8. Edge anatomy: the anatomy of S2 -> END on the IOI prompt (smollm2-135m, Zero: 30 layers + 270 (layer, head)
   + 60 windows + the edge, 361 rows) by the batched engine, against the same engine with one row per forward
   pass (prefix reuse kept) and the plain-PyTorch reference loop (one row per full pass, extrapolated from a timed
   sample); then what the widget's panel computes for a clicked edge (the anatomy and the logit lens at its source
   and its target, on a ready engine) against compute_flow of the whole graph. Best of 3, in alternation.
9. Prompt sets: 100 IOI prompts from the template "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to"
   (smollm2-135m, Zero, full graphs): compute_flow_set, whose prompts share forward passes, against 100 separate
   compute_flow calls (best of 2, in alternation), and compute_flow_set(executor="ray") on two local Ray workers
   (each loads the model; Ray's own start-up timed apart).
10. Integrated gradients: estimates at 1, 2, 4, 8 and 16 points of the intervention's path against the exact
   graph of the same engine, with the time of each: Spearman correlation, top-10 overlap, the edges to verify
   (strongest estimates first) to hold the exact top 10, and what AttributionThenExact(k="auto") verifies; on the
   IOI case and a second IOI prompt (smollm2-135m), the IOI case on gemma-3-270m and the code prompt's 903 line
   pairs on gemma-3-270m (a line pair's estimate: the sum of its token edges'), all under Zero, and the IOI case
   under Corrupt on both models.

11. Long prompt: cases/long_code.json (about 2,300 tokens, gemma-3-270m, Zero, default memory budget):
   AttributionThenExact(k="auto") (integrated gradients in segments of layers), and Split.code()'s first level,
   estimated from a timed sample of block pairs and the positions its plan computes.

12. Faithfulness: on the IOI case (smollm2-135m), the default curve (ks 1, 2, 3, 5, 10 and MIB's fractions, with
   necessity and 8 random kept sets per k) against the full graph it evaluates, both timed (best of 3, in
   alternation), under Zero and Corrupt.auto(4); then estimators judged by their circuits: CPR and CMD of the
   rankings of the exact graph, Attribution() and AttributionThenExact(k="auto") under Zero and Corrupt.auto(4), on
   the IOI case and a second IOI prompt on both bundled models, and the code prompt's exact line graph (Zero,
   gemma-3-270m).

Each section runs in its own process so that its peak memory (max RSS) is its own.
Run with `make bench`, or `.venv/bin/python benchmarks/run.py [--sections 1,2,3,4,5,6,7,8,9,10,11,12]`.
"""

from __future__ import annotations

import argparse
import json
import platform
import resource
import subprocess
import sys
import threading
import time
import warnings
from pathlib import Path
from typing import Any

import torch

from infoflow_widget import (
    Attribution,
    AttributionThenExact,
    Corrupt,
    Dampen,
    FlowEngine,
    LogitDiff,
    Node,
    Split,
    Zero,
    compute_flow,
    faithfulness,
    load_model,
)
from infoflow_widget.engine.reference import reference_effects

IOI = "When Mary and John went to the store, John gave a book to"
CASES = Path(__file__).resolve().parents[1] / "cases"  # the write-up's cases, kept in the repository
CODE = CASES / "code_completion_prompt.py"


def timed(fn, *args, **kwargs):
    start = time.perf_counter()
    result = fn(*args, **kwargs)
    return time.perf_counter() - start, result


def token_pairs(n: int) -> list[tuple[list[int], list[int]]]:
    return [([j], [i]) for i in range(n) for j in range(i + 1)]


def minimum_positions(n: int) -> int:
    return sum((i + 1) * (n - i) for i in range(n))


def per_edge_seconds(model, prompt, metric, sample) -> float:
    """Seconds per edge of the one-edge-per-pass loop, from a timed sample: its set-up and clean pass subtracted."""
    reference_effects(model, prompt, metric, Zero(), sample[:1])  # warm-up: first calls pay for lazy set-up
    overhead_s, _ = timed(reference_effects, model, prompt, metric, Zero(), [])
    sample_s, _ = timed(reference_effects, model, prompt, metric, Zero(), sample)
    return max(sample_s - overhead_s, 0.0) / len(sample)


def full_ioi_graph() -> None:
    model = load_model("smollm2-135m")
    metric = LogitDiff(" Mary", " John")
    engine = FlowEngine(model, IOI, metric, Zero(), progress=False)
    pairs = token_pairs(engine.n)
    reference_effects(model, IOI, metric, Zero(), pairs[:3])  # warm-up: first calls pay for lazy set-up
    engine.effects(pairs[:3])
    passes = engine.forward_passes
    engine_s, batched = timed(engine.effects, pairs)
    loop_s, (_, looped) = timed(lambda: reference_effects(model, IOI, metric, Zero(), pairs))
    single = FlowEngine(model, IOI, metric, Zero(), batch_size=1, progress=False)
    single_s, _ = timed(lambda: single.effects(pairs))
    print("1. Full IOI graph, Zero, smollm2-135m (fp32)")
    print(f"   {'path':<28}{'seconds':>9}{'passes':>8}")
    print(f"   {'one edge per pass (loop)':<28}{loop_s:>9.2f}{len(pairs) + 1:>8}")
    print(f"   {'engine, batch size 1':<28}{single_s:>9.2f}{single.forward_passes - 1:>8}")
    print(f"   {'batched engine':<28}{engine_s:>9.2f}{engine.forward_passes - passes:>8}")
    diff = max(abs(a - b) for a, b in zip(batched, looped))
    if diff > 1e-4:
        raise SystemExit(f"the engine differs from the one-edge-per-pass loop by {diff:.1e}: fix that before timing it")
    print(
        f"   speed-up: {loop_s / engine_s:.1f}x over the loop ({single_s / engine_s:.1f}x over batch size 1); "
        f"max |difference| {diff:.1e}"
    )


def scaling() -> None:
    model = load_model("smollm2-135m")
    words = (IOI + " ") * 20
    print("2. Scaling: full graphs, Zero, KL metric, smollm2-135m")
    print(
        f"   {'tokens':>6}{'edges':>7}{'seconds':>9}{'passes':>8}{'positions':>11}{'minimum':>9}"
        f"{'x min':>7}{'loop (est.)':>13}{'speed-up':>10}"
    )
    for n in (16, 32, 64, 128):
        ids = model.tokenizer(words)["input_ids"][:n]
        prompt = model.tokenizer.decode(ids)
        engine = FlowEngine(model, prompt, None, Zero(), progress=False)
        pairs = token_pairs(engine.n)
        sample = pairs[:: max(1, len(pairs) // 8)][:8]
        loop_s = per_edge_seconds(model, prompt, None, sample) * len(pairs)
        passes, positions = engine.forward_passes, engine.positions
        seconds, _ = timed(engine.effects, pairs)
        computed = engine.positions - positions
        print(
            f"   {engine.n:>6}{len(pairs):>7}{seconds:>9.1f}{engine.forward_passes - passes:>8}{computed:>11}"
            f"{minimum_positions(engine.n):>9}{computed / minimum_positions(engine.n):>7.2f}{loop_s:>12.0f}s"
            f"{loop_s / seconds:>9.1f}x"
        )


def code_completion() -> None:
    model = load_model("gemma-3-270m")
    prompt = CODE.read_text().rstrip("\n")
    metric = LogitDiff("bar", "foo")
    lines = Split((("\n",),), threshold=1e9)  # every line pair, no descent
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no edge above the threshold": wanted here
        seconds, graph = timed(lambda: compute_flow(model, prompt, metric, strategy=lines, progress=False))
    spans = [
        (
            range(graph.nodes[e.source].start, graph.nodes[e.source].end),
            range(graph.nodes[e.target].start, graph.nodes[e.target].end),
        )
        for e in graph.edges[::150]
    ]
    loop_s = per_edge_seconds(model, prompt, metric, spans) * len(graph.edges)
    _, reference = reference_effects(model, prompt, metric, Zero(), spans)
    diff = max(abs(e.effect - r) for e, r in zip(graph.edges[::150], reference))
    last = len(graph.nodes) - 1
    into_last = sorted((e for e in graph.edges if e.target == last), key=lambda e: -abs(e.effect))
    text = ["".join(graph.tokens[n.start : n.end]).removeprefix("<bos>") for n in graph.nodes]
    print("3. Code completion, newline split, every line pair, Zero, gemma-3-270m")
    strongest = ", ".join(f"{text[e.source].strip()[:12]!r} {e.effect:+.2f}" for e in into_last[:3])
    print(
        f"   max |difference| from the reference on {len(spans)} sampled pairs: {diff:.1e}; "
        f"into the last line: {strongest}"
    )
    print(f"   {len(graph.tokens)} tokens, {len(graph.nodes)} lines, {len(graph.edges)} group interventions")
    print(
        f"   engine: {seconds:.0f} s in {graph.stats['forward_passes']} passes; one pair per pass (estimated from "
        f"{len(spans)} timed pairs): {loop_s:.0f} s; speed-up {loop_s / seconds:.1f}x"
    )
    seconds, checked = timed(compute_flow, model, prompt, metric, strategy=AttributionThenExact(k=50), progress=False)
    print(
        f"   AttributionThenExact(50): {seconds:.1f} s, {checked.stats['forward_passes']} passes; "
        f"agreement on the 50 verified edges: {checked.stats['agreement']}"
    )


def widget_latency() -> None:
    from infoflow_widget import InfoFlowWidget

    model = load_model("smollm2-135m")
    compute_flow(model, IOI, answer=" Mary", distractor=" John", progress=False)  # warm-up: lazy set-up
    cold_s, _ = timed(
        compute_flow, model, IOI, intervention=Dampen(0.25), answer=" Mary", distractor=" John", progress=False
    )
    print("4. Widget, IOI prompt, smollm2-135m, Full strategy, dampen: alpha 0.5 -> value")
    print(f"   baseline: compute_flow alone (clean run included) {cold_s:.2f} s")
    thread_costs(model)
    for preview_seconds, how in (
        (1.0, "default: estimate only when the last full graph took > 1 s"),
        (0.0, "estimate always first"),
    ):
        widget = InfoFlowWidget(
            model,
            IOI,
            answer=" Mary",
            distractor=" John",
            intervention="dampen",
            alpha=0.5,
            preview_seconds=preview_seconds,
        )
        widget.wait()
        print(f"   widget, {how}:")
        for alpha in (0.25, 1.5, 0.25):
            start = time.perf_counter()
            widget.alpha = alpha
            estimate_s = None
            while widget.computing:
                if estimate_s is None and widget.graph.get("provenance", {}).get("estimate"):
                    estimate_s = time.perf_counter() - start
                time.sleep(0.002)
            exact = widget.wait()
            exact_s = time.perf_counter() - start
            if widget.status.startswith("cached"):
                print(f"     alpha {alpha}: cached, on show after {exact_s * 1000:.1f} ms")
                continue
            shown = "no estimate" if estimate_s is None else f"estimate after {estimate_s:.2f} s"
            print(
                f"     alpha {alpha}: {shown}, exact graph after {exact_s:.2f} s "
                f"= {exact_s / cold_s:.2f}x compute_flow alone ({len(exact.edges)} edges)"
            )


def thread_costs(model) -> None:
    """One Dampen graph on an engine whose clean run is done: main thread, thread, thread after release."""
    from infoflow_widget.core.openmp import release_idle_threads

    base = FlowEngine(model, IOI, LogitDiff(" Mary", " John"), progress=False)
    seconds = {}

    def measure(where: str) -> None:
        seconds[where] = timed(base.with_intervention(Dampen(0.25)).graph)[0]

    measure("main thread")
    for where, release in (("thread", False), ("thread, main pool released", True)):
        measure("main thread")  # the main thread's OpenMP pool is busy again
        if release:
            release_idle_threads()
        worker = threading.Thread(target=measure, args=(where,))
        worker.start()
        worker.join()
    main_s = seconds["main thread"]
    print(
        "   one graph on a ready engine: " + ", ".join(f"{k} {v:.2f} s ({v / main_s:.2f}x)" for k, v in seconds.items())
    )


def startup() -> None:
    """Fresh processes, start to exit: what a user waits for before the first line of output."""
    script = Path(sys.executable).with_name("infoflow")  # the installed command, as a user runs it
    cli = [str(script)] if script.exists() else [sys.executable, "-m", "infoflow_widget.cli"]
    ioi = ["--prompt", IOI, "--answer", " Mary", "--distractor", " John", "--quiet", "--out", "-"]
    rows = [
        ("python -c pass (the interpreter alone)", [sys.executable, "-c", "pass"], 0),
        ("import infoflow_widget", [sys.executable, "-c", "import infoflow_widget"], 0),
        ("import torch, transformers, nnsight", [sys.executable, "-c", "import torch, transformers, nnsight"], 0),
        ("infoflow --help", [*cli, "--help"], 0),
        ("infoflow models", [*cli, "models"], 0),
        ('infoflow graph --prompt "" (bad input)', [*cli, "graph", "--prompt", "", "--out", "-"], 2),
        ("infoflow graph, IOI, JSON on stdout", [*cli, "graph", *ioi], 0),
    ]
    print("5. Start-up: wall seconds of a fresh process, start to exit, best of 3")
    for label, command, status in rows:
        runs = []
        for _ in range(3):
            seconds, done = timed(subprocess.run, command, capture_output=True, text=True)
            if done.returncode != status:
                raise SystemExit(f"{label}: exit status {done.returncode}, expected {status}\n{done.stderr}")
            runs.append((seconds, done.stdout))
        seconds, stdout = min(runs)
        note = ""
        if label.startswith("infoflow graph, IOI"):
            note = f"  (of which the graph {json.loads(stdout)['stats']['seconds']:.2f} s)"
        print(f"   {label:<44}{seconds:>6.2f}{note}")


def damage_cost() -> None:
    import infoflow_widget.engine.batching as engine_module

    model = load_model("smollm2-135m")
    base = FlowEngine(model, IOI, LogitDiff(" Mary", " John"), Zero(), progress=False)
    base.with_intervention(Zero()).graph()  # warm-up
    computed = engine_module.kl_damage

    def stub(logits, clean_logp, rows=16):
        return [0.0] * len(logits)

    found: dict[str, list[tuple[float, int]]] = {"without damage (stubbed)": [], "with damage": []}
    for _ in range(3):
        for label, damage in zip(found, (stub, computed)):
            engine_module.kl_damage = damage
            seconds, graph = timed(base.with_intervention(Zero()).graph)
            found[label].append((seconds, graph.stats["forward_passes"]))
    engine_module.kl_damage = computed
    print("6. Damage on every exact edge: full IOI graph, Zero, smollm2-135m (fp32), best of 3")
    print(f"   {'graph':<28}{'seconds':>9}{'passes':>8}")
    for label, runs in found.items():
        print(f"   {label:<28}{min(s for s, _ in runs):>9.2f}{runs[0][1]:>8}")
    flagged = [e for e in graph.edges if e.flags]
    print(f"   {len(flagged)} of {len(graph.edges)} edges flagged; sinks {graph.stats['sinks']['positions']}")


def auto_corrupt_cost() -> None:
    from infoflow_widget import Attribution, Corrupt

    model = load_model("smollm2-135m")
    base = FlowEngine(model, IOI, LogitDiff(" Mary", " John"), Zero(), progress=False)
    auto = Corrupt.auto(n=4, seed=0)
    first = base.with_intervention(auto).samples[0].intervention  # the plan's first prompt
    base.with_intervention(first).graph()  # warm-up
    rows = {"Corrupt (one prompt)": first, "Corrupt.auto(n=4)": auto}
    found: dict[str, list[tuple[float, Any]]] = {label: [] for label in rows}
    estimates: dict[str, list[float]] = {label: [] for label in rows}
    for _ in range(3):
        for label, intervention in rows.items():
            found[label].append(timed(lambda iv=intervention: base.with_intervention(iv).graph()))
            estimates[label].append(timed(lambda iv=intervention: base.with_intervention(iv).graph(Attribution()))[0])
    print(
        "7. Auto-Corrupt: full IOI graph (105 edges), smollm2-135m (fp32), best of 3, corrupted prompts' runs included"
    )
    print(f"   {'graph':<24}{'seconds':>9}{'passes':>8}{'positions':>11}{'estimate s':>12}")
    best = {label: min(s for s, _ in runs) for label, runs in found.items()}
    for label, runs in found.items():
        graph = runs[0][1]
        passes, positions = graph.stats["forward_passes"], graph.stats["positions"]
        print(f"   {label:<24}{best[label]:>9.2f}{passes:>8}{positions:>11}{min(estimates[label]):>12.2f}")
    one, four = best["Corrupt (one prompt)"], best["Corrupt.auto(n=4)"]
    print(f"   auto-Corrupt / one Corrupt graph: {four / one:.2f}x (4 samples: 4x would be 4 graphs run apart)")
    print(f"   estimates: {min(estimates['Corrupt.auto(n=4)']) / min(estimates['Corrupt (one prompt)']):.2f}x")


def anatomy_cost() -> None:
    model = load_model("smollm2-135m", quiet=True)
    metric = LogitDiff(" Mary", " John")
    engine = FlowEngine(model, IOI, metric, Zero(), progress=False)
    single = FlowEngine(model, IOI, metric, Zero(), batch_size=1, progress=False)
    edge = ([9], [engine.n - 1])  # S2 -> END
    engine.anatomy(*edge)  # warm-up: first calls pay for lazy set-up
    runs: dict[str, list[tuple[float, Any]]] = {"batched": [], "one row per pass": []}
    for _ in range(3):
        for label, on in (("batched", engine), ("one row per pass", single)):
            runs[label].append(timed(on.anatomy, *edge))
    batched, looped = runs["batched"][0][1], runs["one row per pass"][0][1]
    diff = max(abs(a - b) for a, b in zip(flat_anatomy(batched), flat_anatomy(looped)))
    if diff > 1e-4:
        raise SystemExit(f"the batched anatomy differs from one row per pass by {diff:.1e}: fix that before timing it")
    rows = batched.stats["interventions"]
    best = {label: min(s for s, _ in found) for label, found in runs.items()}
    reference_s, reference_diff = reference_row_seconds(model, metric, edge, batched)
    print(f"8. Edge anatomy: S2 -> END, IOI, Zero, smollm2-135m (fp32): {rows} rows, best of 3")
    print(f"   {'path':<52}{'seconds':>9}{'passes':>8}")
    print(f"   {'reference loop, one row per full pass (est.)':<52}{reference_s * rows:>9.2f}{rows:>8}")
    for label, found in runs.items():
        passes = found[0][1].stats["forward_passes"]
        print(f"   {'engine, ' + label + ' (prefix reuse)':<52}{best[label]:>9.2f}{passes:>8}")
    print(
        f"   speed-up: {best['one row per pass'] / best['batched']:.1f}x over one row per pass, "
        f"{reference_s * rows / best['batched']:.1f}x over the reference loop; max |difference| {diff:.1e} "
        f"(reference sample {reference_diff:.1e})"
    )
    graph_runs, panel_runs = [], []
    for _ in range(3):
        graph_runs.append(timed(compute_flow, model, IOI, metric, Zero(), progress=False)[0])
        panel_runs.append(timed(panel, engine, *edge)[0])
    print(
        f"   widget panel (anatomy + logit lens at source and target, ready engine) {min(panel_runs):.2f} s; "
        f"compute_flow, whole graph, clean run included {min(graph_runs):.2f} s: "
        f"{min(panel_runs) / min(graph_runs):.2f}x"
    )


def flat_anatomy(anatomy) -> list[float]:
    """Every number of an anatomy, in one list."""
    heads = [value for row in anatomy.heads for value in row]
    return [anatomy.effect, *anatomy.layers, *heads, *anatomy.up_to, *anatomy.from_layer]


def panel(engine, sources, targets) -> None:
    """What the widget's panel computes for a clicked edge."""
    engine.anatomy(sources, targets)
    engine.logit_lens(sources[-1])
    engine.logit_lens(targets[-1])


def reference_row_seconds(model, metric, edge, anatomy, per_kind: int = 4) -> tuple[float, float]:
    """Seconds per anatomy row of the plain reference loop (one full pass each), from a timed sample of every kind.

    Its set-up and clean pass are subtracted, as in per_edge_seconds; also the sample's largest difference from
    the anatomy.
    """
    count, heads = len(anatomy.layers), len(anatomy.heads[0])
    picks = [count * k // per_kind for k in range(per_kind)]
    sample = [
        *[([layer], None, anatomy.layers[layer]) for layer in picks],
        *[([layer], [layer % heads], anatomy.heads[layer][layer % heads]) for layer in picks],
        *[(list(range(layer + 1)), None, anatomy.up_to[layer]) for layer in picks],
        *[(list(range(layer, count)), None, anatomy.from_layer[layer]) for layer in picks],
    ]

    def run(rows):
        return [reference_effects(model, IOI, metric, Zero(), [edge], layers, heads)[1][0] for layers, heads, _ in rows]

    run(sample[:1])  # warm-up
    overhead_s, _ = timed(reference_effects, model, IOI, metric, Zero(), [])
    sample_s, found = timed(run, sample)
    diff = max(abs(value - expected) for value, (_, _, expected) in zip(found, sample))
    return max(sample_s - len(sample) * overhead_s, 0.0) / len(sample), diff


def ioi_prompt_set(model, n: int):
    """``n`` IOI prompts of the template "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to" (seed 0)."""
    from infoflow_widget import PromptSet, ioi_words

    words = ioi_words()
    return PromptSet.from_template(
        "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to", answer="{IO}", distractor="{S}", n=n,
        seed=0, tokenizer=model, IO=words["names"], S=words["names"], PLACE=words["places"], OBJECT=words["objects"],
    )  # fmt: skip


def prompt_set_cost() -> None:
    """100 IOI prompts, full graphs: compute_flow_set against 100 compute_flow calls, and on two Ray workers."""
    from infoflow_widget import compute_flow_set

    model = load_model("smollm2-135m", quiet=True)
    prompts = ioi_prompt_set(model, 100)

    def separate():
        return [
            compute_flow(model, r.prompt, answer=r.answer, distractor=r.distractor, intervention=Zero(), progress=False)
            for r in prompts
        ]

    def joint():
        return compute_flow_set(model, prompts, Zero(), progress=False)

    compute_flow(model, IOI, answer=" Mary", distractor=" John", progress=False)  # warm-up
    runs: dict[str, list[tuple[float, Any]]] = {"separate": [], "set": []}
    for _ in range(2):
        runs["separate"].append(timed(separate))
        runs["set"].append(timed(joint))
    alone, role_graph = runs["separate"][0][1], runs["set"][0][1]
    diff = max(abs(a.effect - b.effect) for g, h in zip(alone, role_graph.graphs) for a, b in zip(g.edges, h.edges))
    if diff > 1e-4:
        raise SystemExit(f"the set's effects differ from compute_flow alone by {diff:.1e}: fix that before timing it")
    best = {label: min(s for s, _ in found) for label, found in runs.items()}
    edges = sum(len(g.edges) for g in alone)
    print(f"9. Prompt sets: 100 IOI prompts ({len(prompts.labels[0])} tokens), full graphs ({edges} edges), Zero, "
          "smollm2-135m (fp32), best of 2")  # fmt: skip
    print(f"   {'path':<44}{'seconds':>9}{'passes':>8}")
    print(f"   {'100 separate compute_flow calls':<44}{best['separate']:>9.2f}"
          f"{sum(g.stats['forward_passes'] for g in alone):>8}")  # fmt: skip
    print(f"   {'compute_flow_set (prompts batched together)':<44}{best['set']:>9.2f}"
          f"{role_graph.stats['forward_passes']:>8}")  # fmt: skip
    print(f"   speed-up: {best['separate'] / best['set']:.2f}x; max |difference| {diff:.1e}")
    try:
        import ray
    except ImportError:
        print("   Ray is not installed: executor='ray' not measured")
        return
    start_s, _ = timed(ray.init, include_dashboard=False, log_to_driver=False, configure_logging=False)
    try:
        ray_s, distributed = timed(
            compute_flow_set, "smollm2-135m", prompts, Zero(), executor="ray", workers=2, progress=False
        )
    finally:
        ray.shutdown()
    diff = max(abs(a.mean - b.mean) for a, b in zip(role_graph.edges, distributed.edges))
    print(
        f"   executor='ray', 2 local workers (1 CPU each; each loads the model): {ray_s:.2f} s "
        f"({best['set'] / ray_s:.2f}x the local set), after ray.init {start_s:.2f} s; max |difference| {diff:.1e}"
    )


IG_STEPS = (1, 2, 4, 8, 16)
"""The points on the integration path compared in section 10 (1: the plain first-order estimate)."""

SECOND_IOI = ("Then, Anna and Tom had a long argument. Afterwards Tom said to", " Anna", " Tom")
"""The second IOI template of tests/acceptance/test_auto_corrupt_ioi.py: prompt, answer, distractor."""


def integrated_gradients() -> None:
    """Estimates at 1 to 16 path points against the exact graph of the same engine, on six cases."""
    from infoflow_widget import Corrupt

    ioi = json.loads((CASES / "ioi.json").read_text())["cases"][0]
    ioi_metric = LogitDiff(ioi["answer"], ioi["distractor"])
    code = (CODE.read_text().rstrip("\n"), LogitDiff("bar", "foo"))
    cases = [
        ("IOI, smollm2-135m, Zero", "smollm2-135m", ioi["prompt"], ioi_metric, Zero(), False),
        ("second IOI, smollm2-135m, Zero", "smollm2-135m", SECOND_IOI[0], LogitDiff(*SECOND_IOI[1:]), Zero(), False),
        ("IOI, gemma-3-270m, Zero", "gemma-3-270m", ioi["prompt"], ioi_metric, Zero(), False),
        ("code, line pairs, gemma-3-270m, Zero", "gemma-3-270m", *code, Zero(), True),
        ("IOI, smollm2-135m, Corrupt", "smollm2-135m", ioi["prompt"], ioi_metric, Corrupt(ioi["corrupted"]), False),
        ("IOI, gemma-3-270m, Corrupt", "gemma-3-270m", ioi["prompt"], ioi_metric, Corrupt(ioi["corrupted"]), False),
    ]
    print("10. Integrated-gradient estimates against the exact graph of the same engine (fp32)")
    print("    needed: edges verified, strongest estimates first, until the exact top 10 is among them;")
    print("    auto: edges AttributionThenExact(k='auto') verifies (from the exact values above: no extra pass)")
    models: dict[str, Any] = {}
    for label, name, prompt, metric, intervention, lines in cases:
        model = models.setdefault(name, load_model(name, quiet=True))
        # The line graph keeps 4 rows to a pass (about 6 GB on 563 tokens): the machine is shared.
        budget = {"memory_budget": 2**28} if lines else {}
        engine = FlowEngine(model, prompt, metric, intervention, progress=False, **budget)
        groups = line_pairs(engine) if lines else token_pairs(engine.n)
        engine.with_intervention(intervention).estimate(2)  # warm-up: first calls pay for lazy set-up
        exact_s, exact = timed(engine.effects, groups)
        print(f"   {label}: {len(groups)} edges, exact graph {exact_s:.1f} s")
        print(f"   {'k':>4}{'seconds':>9}{'x exact':>9}{'Spearman':>10}{'top-10 overlap':>16}{'needed':>8}{'auto':>12}")
        for steps in IG_STEPS:
            seconds, estimate = timed(engine.estimate, steps)
            values = [float(estimate[list(t)][:, list(s)].sum()) for s, t in groups]  # a group's: its edges' sum
            risk = [float(engine.attention_mass[list(t)][:, list(s)].sum()) for s, t in groups]
            print(f"   {steps:>4}{seconds:>9.2f}{seconds / exact_s:>9.3f}{agreement_row(values, exact, risk)}")


def line_pairs(engine: FlowEngine) -> list[tuple[list[int], list[int]]]:
    """Every pair of newline-split lines, source not after target: the groups of section 3's line graph."""
    from infoflow_widget.graph.flowgraph import Node
    from infoflow_widget.search.spans import cut_positions, pairs_within, partition

    lines = partition(Node(0, engine.n), cut_positions(engine.tokens, ("\n",)))
    return [(list(range(s.start, s.end)), list(range(t.start, t.end))) for s, t in pairs_within(lines)]


def agreement_row(values: list[float], exact: list[float], risk: list[float]) -> str:
    """Spearman, top-10 overlap, edges needed to hold the exact top 10, and what k='auto' verifies (risk: the mass)."""
    from infoflow_widget.graph.flowgraph import strongest
    from infoflow_widget.search.strategies import verify_in_rounds

    top = strongest(exact, 10)
    order = strongest(values)
    rank = {k: r + 1 for r, k in enumerate(order)}
    found, report = verify_in_rounds(values, lambda ks: [exact[k] for k in ks], risk=risk)
    auto = f"{report['verified']} {'holds' if set(top) <= set(found) else f'{len(set(top) & set(found))}/10'}"
    auto += f" r{report['at_risk']}"
    overlap = len(set(order[:10]) & set(top))
    return f"{spearman(values, exact):>10.3f}{overlap:>16}{max(rank[k] for k in top):>8}{auto:>12}"


def spearman(a: list[float], b: list[float]) -> float:
    """Spearman's rank correlation (ties get their mean rank)."""

    def ranks(x: list[float]) -> torch.Tensor:
        values = torch.tensor(x, dtype=torch.float64)
        order = values.argsort()
        ranked = torch.empty_like(values)
        ranked[order] = torch.arange(len(x), dtype=torch.float64)
        unique, inverse = values.unique(return_inverse=True)
        sums = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, ranked)
        counts = torch.zeros(len(unique), dtype=torch.float64).index_add_(0, inverse, torch.ones_like(ranked))
        return (sums / counts)[inverse]

    return float(torch.corrcoef(torch.stack([ranks(a), ranks(b)]))[0, 1])


def long_case_prompt() -> tuple[str, LogitDiff]:
    """The long code case of cases/long_code.json: its prompt (the source cut where it says) and metric."""
    case = json.loads((CASES / "long_code.json").read_text())
    text = (CASES / case["source_file"]).read_text()
    return text[: text.rindex(case["cut_after_last"]) + len(case["cut_after_last"])], LogitDiff(
        case["answer"], case["distractor"]
    )


def long_prompt() -> None:
    """About 2,300 tokens on gemma-3-270m at the default budget: adaptive verification, and Split.code()'s cost."""
    from infoflow_widget.engine.planning import plan_batches
    from infoflow_widget.search.spans import cut_positions, partition

    model = load_model("gemma-3-270m", quiet=True)
    prompt, metric = long_case_prompt()
    start = time.perf_counter()
    engine = FlowEngine(model, prompt, metric, Zero(), progress=False)
    clean_s = time.perf_counter() - start
    seconds, graph = timed(engine.graph, AttributionThenExact(k="auto"))
    report = graph.stats["verification"]
    print(f"11. Long prompt: cases/long_code.json, {engine.n} tokens, gemma-3-270m, Zero, default memory budget")
    print(f"   clean run {clean_s:.1f} s; rows per pass at position 0: {engine.batch_size}")
    print(
        f"   AttributionThenExact(k='auto'): {seconds:.0f} s, {graph.stats['forward_passes']} passes "
        f"({graph.stats['gradient_segments']} segments of layers per gradient pass); verified {report['verified']} "
        f"of {report['of']} token edges in {report['rounds']} rounds, {report['at_risk']} unverified could still "
        f"enter the top 10"
    )
    top = sorted(graph.edges, key=lambda e: -abs(e.effect))[:5]
    shown = ", ".join(f"{graph.tokens[e.source]!r}->{graph.tokens[e.target]!r} {e.effect:+.2f}" for e in top)
    print(f"   strongest: {shown}")
    blocks = partition(Node(0, engine.n), cut_positions(engine.tokens, ("\n\n",)))
    pairs = [
        (list(range(s.start, s.end)), list(range(t.start, t.end)))
        for k, t in enumerate(blocks)
        for s in blocks[: k + 1]
    ]
    sample = pairs[:: max(1, len(pairs) // 12)]
    positions = engine.positions
    sample_s, _ = timed(engine.effects, sample)
    per_position = sample_s / (engine.positions - positions)
    starts = sorted(min(targets) for _, targets in pairs)
    planned = sum((b - a) * (engine.n - starts[a]) for a, b in plan_batches(starts, engine.n, engine.rows_per_pass))
    print(
        f"   Split.code(), its first level alone ({len(blocks)} blocks, {len(pairs)} block pairs): "
        f"{per_position * planned / 60:.0f} min (est. from {len(sample)} timed pairs, {planned:,} planned positions)"
    )


IOI_SECOND = ("When Tom and Kate went to the park, Kate gave a ball to", " Tom", " Kate")


ESTIMATORS = (("exact", None), ("attribution", Attribution()), ("then-exact auto", AttributionThenExact(k="auto")))


def estimator_row(engine: FlowEngine, label: str, strategy: Any) -> str:
    """CPR and CMD of the circuits a strategy's graph ranks, under the engine's own intervention."""
    seconds, graph = timed(engine.graph, strategy)
    curve = faithfulness(engine, graph, random=0, necessity=False)
    return f"{label} CPR {curve.cpr:.3f} CMD {curve.cmd:.3f} top10 {curve.at(10):.2f} ({seconds:.1f} s)"


def faithfulness_cost() -> None:
    """The default curve against the graph it evaluates; estimators' circuits by CPR and CMD."""
    model = load_model("smollm2-135m", quiet=True)
    metric = LogitDiff(" Mary", " John")
    print("12. Faithfulness (default curve: necessity and 8 random kept sets per k)")
    for intervention in (Zero(), Corrupt.auto(n=4, seed=0)):
        engine = FlowEngine(model, IOI, metric, intervention, progress=False)
        graph_s, curve_s = [], []
        for _ in range(3):
            seconds, graph = timed(engine.graph)
            graph_s.append(seconds)
            seconds, curve = timed(faithfulness, engine, graph)
            curve_s.append(seconds)
        print(
            f"   IOI, smollm2-135m, {intervention.describe()[:40]}: graph {min(graph_s):.2f} s "
            f"({graph.stats['forward_passes']} passes), curve {min(curve_s):.2f} s ({curve.stats['forward_passes']} "
            f"passes, {curve.stats['rows']} rows): ratio {min(curve_s) / min(graph_s):.2f}; {curve}"
        )
    cases = [(IOI, " Mary", " John"), IOI_SECOND]
    for name in ("smollm2-135m", "gemma-3-270m"):
        model = load_model(name, quiet=True)
        for prompt, answer, distractor in cases:
            for intervention in (Zero(), Corrupt.auto(n=4, seed=0)):
                engine = FlowEngine(model, prompt, LogitDiff(answer, distractor), intervention, progress=False)
                row = [estimator_row(engine, label, strategy) for label, strategy in ESTIMATORS]
                kind = intervention.describe().split(":")[0]
                print(f"   {name}, {prompt[:22]!r}, {kind}: " + "; ".join(row))
    gemma = load_model("gemma-3-270m", quiet=True)
    engine = FlowEngine(gemma, CODE.read_text().rstrip("\n"), LogitDiff("bar", "foo"), Zero(), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("ignore")  # "no edge above the threshold": every line pair, no descent, wanted here
        seconds, lines = timed(engine.graph, Split((("\n",),), threshold=1e9))
    curve_seconds, curve = timed(faithfulness, engine, lines, random=2)
    print(
        f"   code case line graph (gemma-3-270m, Zero, {len(lines.edges)} line pairs): graph {seconds:.0f} s, curve "
        f"{curve_seconds:.0f} s ({curve.stats['forward_passes']} passes, {curve.stats['rows']} rows); {curve}"
    )
    print(curve.to_pandas().round(3).to_string(index=False))


SECTIONS = {
    "1": full_ioi_graph,
    "2": scaling,
    "3": code_completion,
    "4": widget_latency,
    "5": startup,
    "6": damage_cost,
    "7": auto_corrupt_cost,
    "8": anatomy_cost,
    "9": prompt_set_cost,
    "10": integrated_gradients,
    "11": long_prompt,
    "12": faithfulness_cost,
}


def main() -> None:
    parser = argparse.ArgumentParser()
    parser.add_argument("--sections", default=",".join(SECTIONS))
    parser.add_argument("--child", help=argparse.SUPPRESS)
    args = parser.parse_args()
    if args.child:
        SECTIONS[args.child]()
        peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss / 1024
        print(f"   peak memory (max RSS of the process): {peak:.0f} MiB\n", flush=True)
        return
    print(
        f"machine: {platform.machine()}, {torch.get_num_threads()} torch threads, torch {torch.__version__}\n",
        flush=True,
    )
    for section in args.sections.split(","):
        subprocess.run([sys.executable, __file__, "--child", section], check=True)


if __name__ == "__main__":
    main()
