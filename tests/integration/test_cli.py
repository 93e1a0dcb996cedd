"""The `infoflow` command, run as a user runs it: a subprocess on the bundled default model."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

import pytest

pytestmark = pytest.mark.slow
PROMPT = "When Mary and John went to the store, John gave a book to"
IOI = ["--prompt", PROMPT, "--answer", " Mary", "--distractor", " John"]
# `infoflow graph` on the IOI case, written before the package moved into its layers (tests/data/PROVENANCE.md):
# refactors must leave what users get unchanged.
COMMITTED = Path(__file__).resolve().parents[1] / "data" / "cli_graph_ioi.json"


def infoflow(*args: str) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infoflow_widget.cli", *args], capture_output=True, text=True, timeout=600
    )


def test_json_to_stdout_has_the_documented_keys(ioi_case):
    done = infoflow("graph", *IOI, "--out", "-")
    assert done.returncode == 0, done.stderr
    graph = json.loads(done.stdout)  # stdout holds the JSON alone: bars and logs went to stderr
    assert {"tokens", "clean_metric", "nodes", "edges", "stats"} <= graph.keys()
    assert graph["tokens"][:3] == ["When", " Mary", " and"]
    expected = ioi_case["expected_with_zero_pattern_on_smollm2_135m"]
    assert graph["clean_metric"] == pytest.approx(expected["clean_metric_approx"], abs=0.05)
    assert all(node.keys() >= {"start", "end"} for node in graph["nodes"])
    n = len(graph["tokens"])
    assert len(graph["edges"]) == n * (n + 1) // 2
    assert all(0 <= e["source"] <= e["target"] < len(graph["nodes"]) for e in graph["edges"])
    assert graph["stats"]["forward_passes"] >= 2 and graph["stats"]["seconds"] > 0
    committed = json.loads(COMMITTED.read_text(encoding="utf-8"))
    for data in (graph, committed):
        del data["stats"]["seconds"]  # the one figure of the machine, not of the graph
    assert_same_json(graph, committed)


def assert_same_json(got: object, want: object, where: str = "") -> None:
    """Equal JSON: the same keys, lists, strings and flags; floats to 1e-6 (BLAS may sum in another order)."""
    if isinstance(want, dict):
        assert isinstance(got, dict) and got.keys() == want.keys(), where
        for key in want:
            assert_same_json(got[key], want[key], f"{where}.{key}")
    elif isinstance(want, list):
        assert isinstance(got, list) and len(got) == len(want), where
        for i, (g, w) in enumerate(zip(got, want)):
            assert_same_json(g, w, f"{where}[{i}]")
    elif isinstance(want, float):
        assert got == pytest.approx(want, abs=1e-6), where
    else:
        assert got == want and type(got) is type(want), where


def test_html_csv_and_json_files(tmp_path):
    args = [
        "graph",
        *IOI,
        "--intervention",
        "dampen",
        "--alpha",
        "0.5",
        "--layers",
        "0-5",
        "--threshold",
        "0.01",
        "--quiet",
    ]
    for suffix in (".html", ".csv", ".json"):
        out = tmp_path / f"graph{suffix}"
        done = infoflow(*args, "--out", str(out))
        assert done.returncode == 0, done.stderr
        assert out.stat().st_size > 0
    assert "<svg" in (tmp_path / "graph.html").read_text()
    assert (tmp_path / "graph.csv").read_text().startswith("source,target")
    graph = json.loads((tmp_path / "graph.json").read_text())
    assert graph["provenance"]["layers"] == [0, 1, 2, 3, 4, 5]
    assert graph["provenance"]["intervention"] == {"kind": "dampen", "alpha": 0.5}
    assert all(abs(e["effect"]) >= 0.01 for e in graph["edges"])


def test_corrupt_from_the_cli():
    done = infoflow(
        "graph",
        *IOI,
        "--intervention",
        "corrupt",
        "--corrupted",
        "When Felix and Sarah went to the store, Diego gave a book to",
        "--out",
        "-",
    )
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provenance"]["intervention"]["kind"] == "corrupt"


def test_auto_corrupt_from_the_cli_names_what_it_kept():
    prompt = "When Xzavier and Mary went to the store, Mary gave a book to"
    done = infoflow(
        "graph", "--prompt", prompt, "--answer", " Mary", "--intervention", "corrupt", "--corrupted", "auto",
        "--samples", "2", "--seed", "1", "--quiet", "--out", "-",
    )  # fmt: skip
    assert done.returncode == 0, done.stderr
    graph = json.loads(done.stdout)
    assert graph["provenance"]["intervention"] == {"kind": "corrupt", "corrupted_prompt": "auto", "n": 2, "seed": 1}
    assert len(graph["provenance"]["corruption"]["prompts"]) == 2
    assert all("effect_std" in e for e in graph["edges"])
    assert "infoflow: note: kept positions 1, 2, 3 ' Xzavier' (name)" in done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["graph", "--bogus"], "infoflow graph: error: the following arguments are required: --out (infoflow graph"),
        (["graph", "--out", "-", "--prompt", "a b", "--bogus"], "error: unrecognized arguments: --bogus (infoflow"),
        (["graph", "--strategy", "fast"], "argument --strategy: invalid choice: 'fast'"),
        (["grpah"], "infoflow: error: argument command: invalid choice: 'grpah'"),
    ],
)
def test_a_misused_option_is_one_line_and_a_pointer_to_help(args, message):
    done = infoflow(*args)
    assert done.returncode == 2 and message in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1 and "usage:" not in done.stderr, done.stderr


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--prompt", PROMPT, "--samples", "3", "--model", "gpt-17"], "--samples applies only to --corrupted auto"),
        (
            ["--prompt", PROMPT, "--intervention", "corrupt", "--corrupted", "x", "--seed", "1", "--model", "gpt-17"],
            "--seed applies only to --corrupted auto",
        ),
        (
            ["--prompt", PROMPT, "--intervention", "corrupt", "--corrupted", "auto", "--samples", "0", "--model", "x"],
            "--samples must be at least 1",
        ),
        (
            ["--prompt", "To the, a", "--intervention", "corrupt", "--corrupted", "auto"],
            "No token of this prompt can be replaced",
        ),
        (["--prompt", ""], "prompt is empty"),
        (["--prompt", PROMPT, "--model", "gpt-17"], "Bundled models: gemma-3-270m, smollm2-135m"),
        (["--prompt", PROMPT, "--answer", " Maryanne", "--distractor", " John"], "not one"),
        (
            ["--prompt", PROMPT, "--intervention", "corrupt", "--corrupted", "When Mary went"],
            "must tokenize to the same length",
        ),
        (["--prompt", PROMPT, "--intervention", "dampen", "--alpha", "-1"], "alpha >= 0"),
        (["--prompt", PROMPT, "--intervention", "dampen", "--alpha", "nan"], "alpha >= 0"),
        (["--prompt", PROMPT, "--layers", "0-40"], "this model has layers 0..29"),
        (["--prompt", PROMPT, "--layers", "zero"], "not a layer list"),
        (["--prompt", "word " * 9000], "longer than the model's context of 8192"),
        (["--prompt", PROMPT, "--alpha", "0.5"], "--alpha applies only to --intervention dampen"),
        (["--prompt", PROMPT, "--strategy", "backtrack", "--threshold", "-1"], "--threshold must be a finite number"),
        (["--prompt", PROMPT, "--strategy", "bisect", "--threshold", "nan"], "--threshold must be a finite number"),
        (["--prompt", PROMPT, "--strategy", "attribution"], "every estimate would be zero"),
        (["--prompt", PROMPT, "--batch-size", "0", "--model", "gpt-17"], "--batch-size must be at least 1"),
        (["--prompt", " ", "--model", "gpt-17"], "prompt is empty"),
    ],
)
def test_bad_input_prints_one_message_and_exits_non_zero(tmp_path, args, message):
    out = tmp_path / "graph.json"
    done = infoflow("graph", *args, "--out", str(out))
    assert done.returncode == 2
    assert message in done.stderr
    assert "Traceback" not in done.stderr
    assert not out.exists()


def test_a_missing_output_folder_fails_before_loading(tmp_path):
    done = infoflow("graph", "--prompt", PROMPT, "--model", "gpt-17", "--out", str(tmp_path / "nope" / "g.json"))
    assert done.returncode == 2 and "does not exist" in done.stderr, "checked before the unknown model is"


def test_unknown_output_suffix_fails_before_loading():
    done = infoflow("graph", "--prompt", PROMPT, "--out", "graph.png")
    assert done.returncode == 2 and ".json, .csv, .html" in done.stderr


def test_search_strategy_from_the_cli():
    done = infoflow(
        "graph",
        *IOI,
        "--strategy",
        "backtrack",
        "--threshold",
        "2",
        "--quiet",
        "--out",
        "-",
    )
    assert done.returncode == 0, done.stderr
    graph = json.loads(done.stdout)
    assert graph["provenance"]["strategy"] == {"name": "backtrack", "threshold": 2.0}
    assert graph["stats"]["interventions"] < graph["stats"]["full_interventions"] == 105
    assert {e["target"] for e in graph["edges"]} >= {13}


def test_attribution_then_exact_from_the_cli():
    done = infoflow("graph", *IOI, "--strategy", "attribution-then-exact", "--verify", "10", "--quiet", "--out", "-")
    assert done.returncode == 0, done.stderr
    graph = json.loads(done.stdout)
    assert sum(e["exact"] for e in graph["edges"]) == 10 and len(graph["edges"]) == 105
    assert graph["provenance"]["estimate"] is True and graph["stats"]["agreement"]["verified"] == 10
    filtered = infoflow("graph", *IOI, "--strategy", "attribution", "--threshold", "0.5", "--quiet", "--out", "-")
    edges = json.loads(filtered.stdout)["edges"]
    assert 0 < len(edges) < 105 and all(abs(e["effect"]) >= 0.5 for e in edges), "attribution filters by --threshold"
    misuse = infoflow("graph", *IOI, "--verify", "10", "--out", "-")
    assert misuse.returncode == 2 and "--verify applies only" in misuse.stderr


def test_models_lists_bundled_models():
    done = infoflow("models")
    assert done.returncode == 0
    assert "smollm2-135m (default)" in done.stdout and "gemma-3-270m" in done.stdout
