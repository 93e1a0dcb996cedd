"""Peak resident memory of one planned measurement, run as its own process by test_memory_budget.py.

Usage: ``python memory_probe.py MODEL TOKENS BUDGET PATH``; prints one JSON line with the resident memory after the
model and the clean run (``baseline``) and the peak during PATH (``peak``), in bytes. The high-water mark is
reset after the clean run (Linux ``/proc/self/clear_refs``), so what the model's load peaked at does not hide it.
PATH: ``rows`` (token edges, several full passes), ``anatomy`` (head-masked rows), ``estimate`` (integrated-gradient
path points), ``stacked`` (rows of two Corrupt engines in one pass: prompt sets and AutoCorrupt samples).
"""

from __future__ import annotations

import json
import resource
import sys
from pathlib import Path

sys.path.insert(0, str(Path(__file__).resolve().parents[1]))


def tiny_long_model(tokens: int):
    """A tiny random Llama with a context long enough for ``tokens``, and two prompts of that many random words."""
    from conftest import make_tiny_long

    model, prompts = make_tiny_long(tokens)
    return model, prompts, ("w1", "w2")


def code_case_model(tokens: int):
    """gemma-3-270m and the first ``tokens`` tokens of the code case (two cuts of it, for stacked rows)."""
    from infoflow_widget import load_model

    model = load_model("gemma-3-270m", quiet=True)
    text = (Path(__file__).resolve().parents[2] / "cases" / "code_completion_prompt.py").read_text()
    ids = model.tokenizer(text, add_special_tokens=False)["input_ids"]
    prompts = [model.tokenizer.decode(ids[: tokens - 1]), model.tokenizer.decode(ids[1:tokens])]
    return model, prompts, ("bar", "foo")


def main(name: str, tokens: int, budget: int, path: str) -> dict:
    from infoflow_widget import Corrupt, FlowEngine, LogitDiff, Zero
    from infoflow_widget.engine.batching import Rows, measure

    model, prompts, (answer, distractor) = (tiny_long_model if name == "tiny" else code_case_model)(tokens)
    metric = LogitDiff(answer, distractor)
    intervention = Corrupt(prompts[1]) if path == "stacked" else Zero()
    engine = FlowEngine(model, prompts[0], metric, intervention, memory_budget=budget, progress=False)
    other = FlowEngine(model, prompts[1], metric, Corrupt(prompts[0]), memory_budget=budget, progress=False)
    Path("/proc/self/clear_refs").write_text("5")  # the high-water mark restarts at what is resident now
    baseline = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    n, rows = engine.n, engine.batch_size
    if path == "rows":  # three full passes starting at position 1, then the late ones
        engine.effects([([0], [1 + k % (n - 1)]) for k in range(3 * rows)])
    elif path == "anatomy":
        engine.anatomy(0, 1)
    elif path == "estimate":
        engine.estimate(steps=4)
    elif path == "stacked":
        groups = [([0], [1 + k % (n - 1)]) for k in range(2 * rows)]
        measure([Rows(engine, groups), Rows(other, groups)], engine, "stacked", False, None)
    peak = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss * 1024
    return {"baseline": baseline, "peak": peak, "rows": rows, "passes": engine.forward_passes, "n": n}


if __name__ == "__main__":
    print(json.dumps(main(sys.argv[1], int(sys.argv[2]), int(sys.argv[3]), sys.argv[4])))
