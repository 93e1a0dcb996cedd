"""Benchmarks, printed as ratios against a baseline measured in the same run.

1. Full IOI graph (105 edges, Zero, smollm2-135m): the batched engine against the one-edge-per-
   forward-pass reference loop, both run in full.
2. Scaling: full graphs of prompts of 16, 32, 64 and 128 tokens: seconds, forward passes, token
   positions computed against the minimum an exact full graph needs (sum over targets i of
   (i+1)(n-i)), and the loop's time estimated from a timed sample of single-edge passes.
3. Code completion (563 tokens, gemma-3-270m): the newline-split graph of every line pair, against
   the loop's time estimated from a timed sample of line pairs; AttributionThenExact(50): time and
   agreement of the estimates with the exact values.
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

Each section runs in its own process so that its peak memory (max RSS) is its own.
Run with `make bench`, or `.venv/bin/python benchmarks/run.py [--sections 1,2,3,4,5,6,7]`.
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

from infoflow_widget import AttributionThenExact, Dampen, FlowEngine, LogitDiff, Split, Zero, compute_flow, load_model
from infoflow_widget.reference import reference_effects

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
    print("3. Code completion, newline split, every line pair, Zero, gemma-3-270m")
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
    from infoflow_widget._openmp import release_idle_threads

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
    import infoflow_widget.batching as engine_module

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


SECTIONS = {
    "1": full_ioi_graph,
    "2": scaling,
    "3": code_completion,
    "4": widget_latency,
    "5": startup,
    "6": damage_cost,
    "7": auto_corrupt_cost,
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
