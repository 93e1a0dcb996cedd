"""What the ``infoflow`` command makes of what it is given, run as a user runs it: ``--out`` is checked before the
model loads, ``--prompt-file`` is read exactly (less one final newline), and bad input (a prompt file that is not
UTF-8, a file as ``INFOFLOW_CACHE``, ``--layers 5-2``, an unreachable hub) is one line on stderr.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

import pytest
from conftest import infoflow_cli, one_line, unwritable

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.graph.flowgraph import FlowGraph

REPO = Path(__file__).resolve().parents[2]

# main() in a fresh interpreter: its status, whether torch was imported (bad input must not need it), stderr.
LIGHT_CLI = """
import json, sys
from infoflow_widget.cli import main
status = main({args!r})
print(json.dumps({{"status": status, "torch": "torch" in sys.modules}}))
"""


def light_cli(*args: str, env: dict[str, str] | None = None) -> tuple[int, bool, str]:
    done = subprocess.run(
        [sys.executable, "-c", LIGHT_CLI.format(args=list(args))],
        capture_output=True,
        text=True,
        timeout=300,
        env={**os.environ, **(env or {})},
    )
    result = json.loads(done.stdout.splitlines()[-1])
    return result["status"], result["torch"], done.stderr


# --- `infoflow graph --out` is checked before the model loads -----------------------------------------------------


@pytest.mark.parametrize(
    ("case", "message"),
    [("proc", "no file can be written in /proc"), ("folder", "is a folder"), ("parent-is-a-file", "is not a folder")],
)
def test_cli_checks_the_destination_before_loading_the_model(tmp_path, case, message):
    out = unwritable(tmp_path, case)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    status, torch_loaded, stderr = light_cli(
        "graph", "--prompt", "The cat sat on", "--model", "gpt-17", "--out", str(out)
    )
    assert (status, torch_loaded) == (2, False), stderr
    line = one_line(stderr)
    assert line.startswith(f"infoflow: error: Cannot save to {out}") and message in line
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_cli_accepts_upper_case_suffixes(tiny_model_folder, tmp_path):
    out = tmp_path / "g.JSON"
    done = infoflow_cli("graph", "--model", str(tiny_model_folder), "--prompt", "when mary and john", "--quiet",
                        "--device", "cpu", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert FlowGraph.load(out).tokens == ["when", "mary", "and", "john"]
    assert os.listdir(tmp_path) == ["g.JSON"]


# --- --prompt-file reads the prompt as written, less one final newline --------------------------------------------

PROMPT_FILES = [
    (b"a b\n", "a b"),
    (b"a b\r\n", "a b"),  # one final line ending of any kind
    (b"a b\r", "a b"),
    (b"a\r\nb\r\n", "a\r\nb"),  # line endings inside are kept as written
    (b"a\rb", "a\rb"),
    (b"a b\n\n", "a b\n"),  # only one final newline goes
    (b"a b", "a b"),
    (b"\xef\xbb\xbfa b\n", "a b"),  # a UTF-8 byte-order mark is not part of the prompt
]


@pytest.mark.parametrize(("content", "prompt"), PROMPT_FILES, ids=[repr(c)[2:-1] for c, _ in PROMPT_FILES])
def test_prompt_file_is_read_exactly_less_one_final_newline(tmp_path, content, prompt):
    from infoflow_widget.cli.options import read_prompt_file

    path = tmp_path / "prompt.txt"
    path.write_bytes(content)
    assert read_prompt_file(path) == prompt
    assert read_prompt_file(path, keep_final_newline=True) == content.removeprefix(b"\xef\xbb\xbf").decode()


def test_the_case_prompt_file_reads_as_the_case_prompt(code_case):
    from conftest import CASES

    from infoflow_widget.cli.options import read_prompt_file

    assert read_prompt_file(CASES / code_case["prompt_file"]) == code_case["prompt"]


def readme_commands() -> list[list[str]]:
    """The commands of the README's command-line section, continuation lines joined, comments dropped."""
    import shlex

    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Command line", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def test_the_readme_code_command_analyses_the_case_prompt(code_case):
    from infoflow_widget.cli import build_parser
    from infoflow_widget.cli.options import read_prompt_file

    (command,) = [c for c in readme_commands() if "--prompt-file" in c]
    args = build_parser().parse_args(command[1:])
    assert read_prompt_file(REPO / args.prompt_file, args.keep_final_newline) == code_case["prompt"]
    assert (args.model, args.answer, args.distractor) == ("gemma-3-270m", code_case["answer"], code_case["distractor"])


def test_help_says_what_happens_to_the_final_newline(capsys):
    from infoflow_widget.cli import main

    with pytest.raises(SystemExit):
        main(["graph", "--help"])
    text = " ".join(capsys.readouterr().out.split())
    assert "--keep-final-newline" in text and "final newline" in text


@pytest.mark.parametrize(
    ("extra", "prompt"),
    [
        ([], "when mary and john\r\nwent to the store"),
        (["--keep-final-newline"], "when mary and john\r\nwent to the store\r\n"),
    ],
)
def test_cli_prompt_file_on_a_tiny_model(tiny_model_folder, tmp_path, extra, prompt):
    path = tmp_path / "prompt.txt"
    path.write_bytes(b"when mary and john\r\nwent to the store\r\n")
    done = infoflow_cli("graph", "--model", str(tiny_model_folder), "--prompt-file", str(path), *extra, "--quiet",
                        "--device", "cpu", "--out", "-")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provenance"]["prompt"] == prompt


@pytest.mark.slow
def test_the_readme_code_command_reproduces_the_case_on_gemma(gemma, code_case):
    """The case's 563 tokens and clean metric (the file's final newline made them 564 tokens, metric 0.248)."""
    import warnings

    from conftest import CASES

    from infoflow_widget import FlowEngine, LogitDiff
    from infoflow_widget.cli.options import read_prompt_file

    prompt = read_prompt_file(CASES / code_case["prompt_file"])
    with warnings.catch_warnings():
        warnings.simplefilter("error")  # and 'bar' without a space raises no spacing warning
        engine = FlowEngine(gemma, prompt, LogitDiff(code_case["answer"], code_case["distractor"]), progress=False)
    assert engine.n == 563 and not engine.tokens[-1].endswith("\n")
    assert engine.clean_metric == pytest.approx(0.519, abs=0.02)


# --- bad input is refused in one line, before the model loads where it can be -------------------------------------


def test_a_prompt_file_that_is_not_utf8_is_bad_input(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("The café is".encode("latin-1"))
    status, torch_loaded, stderr = light_cli("graph", "--prompt-file", str(path), "--out", "-")
    assert (status, torch_loaded) == (2, False), stderr
    line = one_line(stderr)
    assert str(path) in line and "not UTF-8 text (byte 7 is 0xe9)" in line


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_an_infoflow_cache_that_is_not_a_folder_is_bad_input(tmp_path, monkeypatch, where):
    from infoflow_widget.engine.models import cache_dir

    (tmp_path / "plain.txt").write_text("a file")
    cache = tmp_path / "plain.txt" if where == "file" else tmp_path / "plain.txt" / "cache"
    monkeypatch.setenv("INFOFLOW_CACHE", str(cache))
    with pytest.raises(InfoFlowError, match=r"INFOFLOW_CACHE=.*plain\.txt is a file, not a folder"):
        cache_dir()
    status, torch_loaded, stderr = light_cli("graph", "--prompt", "x y", "--model", "smollm2-135m", "--out", "-")
    assert (status, torch_loaded) == (2, False), stderr
    assert "INFOFLOW_CACHE" in one_line(stderr)


def test_an_empty_layer_range_is_refused_before_loading():
    from infoflow_widget.cli.options import parse_layers

    with pytest.raises(InfoFlowError, match="5-2 is an empty range; did you mean 2-5?"):
        parse_layers("5-2")
    assert parse_layers("0,2,10-12") == [0, 2, 10, 11, 12] and parse_layers("3-3") == [3]
    status, torch_loaded, stderr = light_cli("graph", "--prompt", "x y", "--layers", "0,5-2", "--out", "-")
    assert (status, torch_loaded) == (2, False), stderr
    assert "did you mean 2-5?" in one_line(stderr)


@pytest.mark.parametrize("hub", ["refuses", "never-answers"])
def test_an_unreachable_hub_fails_in_seconds(tmp_path, hub):
    """huggingface_hub alone retried each file with back-off: 50 s to fail when refused, minutes when silent."""
    import socket

    with socket.socket() as silent:
        silent.bind(("127.0.0.1", 0))
        silent.listen(8)  # connections complete in the kernel's backlog, and no byte ever comes back
        endpoint = "http://127.0.0.1:9" if hub == "refuses" else f"http://127.0.0.1:{silent.getsockname()[1]}"
        env = {"HF_ENDPOINT": endpoint, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": ""}
        start = time.perf_counter()
        done = infoflow_cli("graph", "--model", "infoflow-test/not-cached", "--prompt", "x y", "--out", "-", env=env)
        elapsed = time.perf_counter() - start
    assert done.returncode == 2, done.stderr
    line = one_line(done.stderr)
    assert f"the Hugging Face hub at {endpoint} could not be reached in 3 s" in line
    assert "not in the local hub cache" in line and "use a bundled model: gemma-3-270m, smollm2-135m" in line
    assert elapsed < 20, f"{elapsed:.1f} s"


def test_an_unreachable_hub_still_loads_a_cached_hub_id(tiny_model_folder, tmp_path):
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--infoflow-test--tiny"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file in tiny_model_folder.iterdir():
        (snapshot / file.name).symlink_to(file)
    env = {"HF_ENDPOINT": "http://127.0.0.1:9", "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": ""}
    start = time.perf_counter()
    done = infoflow_cli("graph", "--model", "infoflow-test/tiny", "--prompt", "when mary and john", "--quiet",
                        "--device", "cpu", "--out", "-", env=env)  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provenance"]["model"] == "infoflow-test/tiny"
    assert time.perf_counter() - start < 60
