"""Benchmarks, printed as ratios against a baseline measured in the same run.

1. The full 105-edge IOI graph (Zero, smollm2-135m): the batched engine against the
   one-edge-per-forward-pass reference loop.

Run with `make bench` (or `.venv/bin/python benchmarks/run.py`).
"""

from __future__ import annotations

import platform
import time

import torch

from infoflow_widget import FlowEngine, LogitDiff, Zero, load_model
from infoflow_widget.reference import reference_effects

IOI = "When Mary and John went to the store, John gave a book to"


def timed(fn):
    start = time.perf_counter()
    result = fn()
    return time.perf_counter() - start, result


def full_ioi_graph(model) -> dict[str, float]:
    metric = LogitDiff(" Mary", " John")
    engine = FlowEngine(model, IOI, metric, Zero(), progress=False)
    pairs = [([j], [i]) for i in range(engine.n) for j in range(i + 1)]
    reference_effects(model, IOI, metric, Zero(), pairs[:3])  # warm-up: first calls pay for lazy set-up
    engine.effects(pairs[:3])
    passes_before = engine.forward_passes
    engine_s, batched = timed(lambda: engine.effects(pairs))
    loop_s, (_, looped) = timed(lambda: reference_effects(model, IOI, metric, Zero(), pairs))
    single = FlowEngine(model, IOI, metric, Zero(), batch_size=1, progress=False)
    single_s, _ = timed(lambda: single.effects(pairs))
    return {
        "edges": len(pairs),
        "engine_s": engine_s,
        "engine_passes": engine.forward_passes - passes_before,
        "loop_s": loop_s,
        "loop_passes": len(pairs) + 1,
        "speedup": loop_s / engine_s,
        "single_s": single_s,
        "max_abs_diff": max(abs(a - b) for a, b in zip(batched, looped)),
    }


def main() -> None:
    print(
        f"machine: {platform.processor() or platform.machine()}, {torch.get_num_threads()} torch threads, "
        f"torch {torch.__version__}"
    )
    model = load_model("smollm2-135m")
    r = full_ioi_graph(model)
    print("\n1. Full IOI graph, Zero, smollm2-135m (fp32, CPU)")
    print(f"   {'path':<28}{'seconds':>9}{'passes':>8}")
    print(f"   {'one edge per pass (loop)':<28}{r['loop_s']:>9.2f}{r['loop_passes']:>8}")
    print(f"   {'engine, batch size 1':<28}{r['single_s']:>9.2f}{r['edges']:>8}")
    print(f"   {'batched engine':<28}{r['engine_s']:>9.2f}{r['engine_passes']:>8}")
    print(
        f"   speed-up: {r['speedup']:.1f}x over the loop ({r['single_s'] / r['engine_s']:.1f}x over batch size 1) "
        f"on {r['edges']} edges; max |difference| {r['max_abs_diff']:.1e}"
    )


if __name__ == "__main__":
    main()
