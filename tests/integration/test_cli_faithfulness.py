"""`infoflow faithfulness`, run as a user runs it: a subprocess on a tiny model saved to a folder."""

from __future__ import annotations

import json

import pytest
from conftest import infoflow_cli, one_line

from infoflow_widget import Dampen, FlowEngine, LogitDiff, load_model
from infoflow_widget.analysis.faithfulness import faithfulness
from infoflow_widget.graph.faithfulness import Faithfulness

PROMPT = "when mary and john went to the store , john gave a book to"
ARGS = ["--prompt", PROMPT, "--answer", "mary", "--distractor", "john", "--quiet", "--device", "cpu"]


def test_json_on_stdout_equals_the_python_api(tiny_model_folder):
    done = infoflow_cli("faithfulness", "--model", str(tiny_model_folder), *ARGS, "--ks", "1,3,5", "--random", "2",
                        "--ablation", "dampen", "--ablation-alpha", "0.5", "--out", "-")  # fmt: skip
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert {"clean_metric", "baseline", "curve", "necessity", "random", "cpr", "cmd", "stats"} <= data.keys()
    assert [p["k"] for p in data["curve"]] == [0, 1, 3, 5] and [r["k"] for r in data["random"]] == [1, 3, 5]
    assert all(len(pair) == 2 and all(isinstance(end, int) for end in pair) for pair in data["curve"][1]["kept"])
    engine = FlowEngine(load_model(str(tiny_model_folder)), PROMPT, LogitDiff("mary", "john"), progress=False)
    expected = faithfulness(engine, engine.graph(), ks=[1, 3, 5], ablation=Dampen(0.5), random=2)
    got = Faithfulness.from_dict(data)
    assert [p.metric for p in got.curve] == pytest.approx([p.metric for p in expected.curve], abs=1e-5)
    assert [r.mean for r in got.random] == pytest.approx([r.mean for r in expected.random], abs=1e-5)
    assert "faithfulness k=1:" in done.stderr and "CPR" in done.stderr


def test_csv_file(tiny_model_folder, tmp_path):
    out = tmp_path / "f.csv"
    done = infoflow_cli("faithfulness", "--model", str(tiny_model_folder), *ARGS, "--ks", "2", "--random", "0",
                        "--no-necessity", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert out.read_text().splitlines()[0] == "k,fraction,metric,faithfulness,necessity,random_mean,random_std"


@pytest.mark.parametrize(
    ("extra", "message"),
    [
        (["--ks", "0,2"], "each k must be at least 1"),
        (["--ks", "two"], "expected whole numbers"),
        (["--ablation-alpha", "0.5"], "need --ablation"),
        (["--ablation", "zero", "--ablation-alpha", "0.5"], "alpha"),
        (["--ablation", "corrupt", "--ablation-samples", "3"], "--ablation-samples applies only"),
        (["--random", "-1"], "--random must be a whole number"),
        (["--out", "f.html"], "use one of the suffixes .json, .csv"),
    ],
)
def test_bad_input_is_one_line_before_the_model_loads(extra, message):
    out = [] if "--out" in extra else ["--out", "-"]
    done = infoflow_cli("faithfulness", "--model", "/nonexistent/model", *ARGS, *extra, *out)
    assert done.returncode == 2
    assert message in one_line(done.stderr)


def test_ks_above_the_graphs_edges_fail_before_the_curve(tiny_model_folder):
    done = infoflow_cli("faithfulness", "--model", str(tiny_model_folder), *ARGS, "--ks", "1000", "--out", "-")
    assert done.returncode == 2
    assert "ks must be whole numbers from 1 to 105" in one_line(done.stderr)
