"""`infoflow anatomy`: one edge by layer, by head and by window, as JSON; the same numbers as FlowEngine.anatomy."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infoflow_widget import FlowEngine, LogitDiff, Zero, load_model
from infoflow_widget.cli import main
from infoflow_widget.cli.anatomy import parse_positions, resolve_positions
from infoflow_widget.core.errors import InfoFlowError

PROMPT = "when mary and john went to the store , john gave a book to"  # 14 tokens: S2 = 9, END = 13
N = 14
IOI = ["--prompt", PROMPT, "--answer", "mary", "--distractor", "john", "--device", "cpu", "--quiet"]


def anatomy_cli(capsys, folder, *args: str) -> tuple[int, str, str]:
    """``infoflow anatomy`` in-process on the tiny model folder: (status, stdout, stderr)."""
    status = main(["anatomy", "--model", str(folder), *IOI, *args])
    out, err = capsys.readouterr()
    return status, out, err


@pytest.fixture(scope="module")
def engine(tiny_model_folder):
    model = load_model(tiny_model_folder, device="cpu")
    return FlowEngine(model, PROMPT, LogitDiff("mary", "john"), Zero(), progress=False)


def assert_same_anatomy(data: dict, expected: dict) -> None:
    assert data["sources"] == expected["sources"] and data["targets"] == expected["targets"]
    assert data["clean_metric"] == pytest.approx(expected["clean_metric"], abs=1e-6)
    assert data["effect"] == pytest.approx(expected["effect"], abs=1e-6)
    assert data["layers"] == pytest.approx(expected["layers"], abs=1e-6)
    for row, expected_row in zip(data["heads"], expected["heads"], strict=True):
        assert row == pytest.approx(expected_row, abs=1e-6)
    for window in ("up_to", "from"):
        assert data["windows"][window] == pytest.approx(expected["windows"][window], abs=1e-6)


def test_json_on_stdout_equals_the_engine(capsys, tiny_model_folder, engine):
    status, out, err = anatomy_cli(capsys, tiny_model_folder, "--source", "9", "--target", "-1", "--out", "-")
    assert status == 0, err
    data = json.loads(out)  # stdout holds the JSON alone
    assert {"clean_metric", "layers", "heads", "windows", "stats", "sources", "targets", "tokens"} <= data.keys()
    layers, heads = engine.num_layers, engine.hf_model.config.num_attention_heads
    assert len(data["layers"]) == layers and [len(row) for row in data["heads"]] == [heads] * layers
    assert set(data["windows"]) == {"up_to", "from"} and all(len(w) == layers for w in data["windows"].values())
    assert data["stats"]["forward_passes"] >= 1 and data["stats"]["seconds"] >= 0
    assert data["sources"] == [9] and data["targets"] == [N - 1], "-1 is echoed as the position it names"
    assert data["provenance"]["intervention"] == {"kind": "zero"}
    assert_same_anatomy(data, engine.anatomy([9], [13]).to_dict())
    assert max(abs(v) for row in data["heads"] for v in row) > 0, "the test compares numbers that are not all zero"
    assert "lens" not in data


def test_spans_to_a_file_with_the_lens(capsys, tiny_model_folder, engine, tmp_path):
    out = tmp_path / "edge.JSON"
    status, stdout, err = anatomy_cli(
        capsys, tiny_model_folder, "--source", "1:4", "--target=-5:14", "--lens", "--layers", "0,2", "--out", str(out)
    )
    assert status == 0, err
    assert stdout == "" and err.startswith(f"infoflow: wrote {out} (effect ") and "forward passes" in err
    assert os.listdir(tmp_path) == ["edge.JSON"], "written through a temporary file, none left behind"
    data = json.loads(out.read_text())
    assert data["sources"] == [1, 2, 3] and data["targets"] == [9, 10, 11, 12, 13], "J0:J1 holds J0..J1-1"
    assert data["layer_indices"] == [0, 2]
    subset = FlowEngine(engine.model, PROMPT, engine.metric, Zero(), layers=[0, 2], progress=False)
    assert_same_anatomy(data, subset.anatomy([1, 2, 3], range(9, 14)).to_dict())
    assert set(data["lens"]) == {"source", "target"}
    assert data["lens"]["source"] == json.loads(json.dumps(engine.logit_lens(3).to_dict()))  # the span's last
    assert data["lens"]["target"] == json.loads(json.dumps(engine.logit_lens(13).to_dict()))


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "3", "--target", "20"], "--target 20 is out of range: this prompt has 14 tokens"),
        (["--source", "2", "--target", "-15"], "--target -15 is out of range"),
        (["--source", "2", "--target", "10:15"], "--target 10:15 is out of range"),
        (["--source", "13", "--target", "9"], "--source 13 comes after --target 9"),
        (["--source=-1", "--target", "9"], "--source -1 comes after --target 9"),
        (["--source", "10:12", "--target", "4:6"], "--source 10:12 comes after --target 4:6"),
        (["--source", "3:x", "--target", "9"], "--source '3:x' is not a token position"),
        (["--source", "3", "--target", "9-13"], "--target '9-13' is not a token position"),
        (["--source", "5:5", "--target", "9"], "--source '5:5' is an empty span"),
        (["--source", "12:-2", "--target", "13"], "--source 12:-2 is an empty span here (12:12)"),
        (["--source", "3", "--target", "9", "--layers", "0-5"], "this model has layers 0..2"),
    ],
)
def test_bad_input_exits_2_with_one_message_and_no_output(capsys, tiny_model_folder, tmp_path, args, message):
    out = tmp_path / "edge.json"
    status, stdout, err = anatomy_cli(capsys, tiny_model_folder, *args, "--out", str(out))
    assert status == 2 and stdout == ""
    assert err.startswith("infoflow: error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert os.listdir(tmp_path) == [], "nothing written, no temporary file left"


@pytest.mark.parametrize(
    "args",
    [
        ["--source", "3", "--target", "20"],  # out of range: needs the tokenizer, not the clean run
        ["--source=-1", "--target", "9"],  # reversed once -1 is resolved
    ],
)
def test_positions_fail_before_the_clean_run(capsys, tiny_model_folder, monkeypatch, args):
    import infoflow_widget.engine.engine as engine_module

    def no_engine(*_args, **_kwargs):
        raise AssertionError("the engine (and its clean run) started before the positions were checked")

    monkeypatch.setattr(engine_module, "FlowEngine", no_engine)
    status, _, err = anatomy_cli(capsys, tiny_model_folder, *args, "--out", "-")
    assert status == 2 and err.startswith("infoflow: error: --"), err


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--source", "x", "--target", "9"], "--source 'x' is not a token position"),
        (["--source", "13", "--target", "2:5"], "--source 13 comes after --target 2:5"),
        (["--source", "1", "--target", "9", "--out", "edge.csv"], "anatomy writes .json"),
    ],
)
def test_syntax_and_plain_reversal_fail_before_the_model_loads(capsys, args, message):
    # An unknown model would fail as it loads: these fail first.
    out = [] if "--out" in args else ["--out", "-"]
    status = main(["anatomy", "--model", "gpt-17", "--prompt", PROMPT, *args, *out])
    _, err = capsys.readouterr()
    assert status == 2 and message in err, err


@pytest.mark.parametrize(
    ("text", "n", "positions"),
    [
        ("0", 14, [0]),
        ("-1", 14, [13]),
        ("-14", 14, [0]),
        ("3:6", 14, [3, 4, 5]),
        ("12:14", 14, [12, 13]),
        ("-3:-1", 14, [11, 12]),
        ("0:-1", 14, list(range(13))),
        (" 2 : 4 ", 14, [2, 3]),
    ],
)
def test_positions_are_half_open_with_python_negatives(text, n, positions):
    assert resolve_positions(parse_positions(text, "--source"), n, "--source") == positions


@pytest.mark.parametrize("text", ["", "a", "1.5", "1:2:3", ":3", "3:", "4:2", "-1:-3", "1_0", "1:1_0"])
def test_bad_position_text(text):
    with pytest.raises(InfoFlowError, match="--source"):
        parse_positions(text, "--source")


def test_the_installed_command_writes_json_alone_on_stdout(tiny_model_folder):
    done = subprocess.run(
        [sys.executable, "-m", "infoflow_widget.cli", "anatomy", "--model", str(tiny_model_folder), *IOI]
        + ["--source", "3", "--target", "9", "--out", "-"],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, "OMP_NUM_THREADS": "1"},
    )
    assert done.returncode == 0, done.stderr
    data = json.loads(done.stdout)
    assert data["sources"] == [3] and data["targets"] == [9] and data["tokens"][9] == "john"
    bad = subprocess.run(
        [sys.executable, "-m", "infoflow_widget.cli", "anatomy", "--prompt", PROMPT]
        + ["--source", "9", "--target", "3", "--out", "-"],
        capture_output=True,
        text=True,
        timeout=300,
    )
    assert bad.returncode == 2 and bad.stdout == "" and "comes after" in bad.stderr


@pytest.mark.parametrize(
    "args",
    [["anatomy", "--help"], ["anatomy", "--prompt", PROMPT, "--source", "1:x", "--target", "9", "--out", "-"]],
)
def test_help_and_bad_positions_load_no_torch(args):
    probe = (
        "import json, sys\nfrom infoflow_widget.cli import main\n"
        f"try:\n    status = main({args!r})\nexcept SystemExit as exc:\n    status = exc.code\n"
        "print(json.dumps([status, 'torch' in sys.modules]))"
    )
    done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
    assert json.loads(done.stdout.splitlines()[-1]) == [0 if "--help" in args else 2, False], done.stderr
