"""Adversarial input (issue 15): one section per item of the issue, each test named ``test_item<N>_...``.

Sections so far: item 2 (``FlowGraph.save`` and :func:`check_destination`), item 4 (``FlowGraph.load``),
item 7 (killed weight conversions), item 9 (token display), item 1 (control characters in exports), and the CLI
items at the end: item 2 (``--out`` checked before the model loads), item 3 (``--prompt-file`` read exactly) and
item 8 (non-UTF-8 prompt files, a file as ``INFOFLOW_CACHE``, ``--layers 5-2``, an unreachable hub, answer spacing).
"""

from __future__ import annotations

import importlib.util
import json
import math
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from infoflow_widget.core.errors import InfoFlowError
from infoflow_widget.graph.flowgraph import Edge, FlowGraph, Node


def small_graph() -> FlowGraph:
    """4 tokens, one node each, three edges: the graph every item below tampers with."""
    return FlowGraph(
        tokens=["The", " cat", " sat", "."],
        nodes=[Node(i, i + 1) for i in range(4)],
        edges=[Edge(0, 1, 0.5), Edge(1, 3, -0.25, exact=False), Edge(2, 3, 0.125, level=1)],
        clean_metric=1.5,
        provenance={"model": "tiny", "intervention": {"kind": "zero"}},
        stats={"forward_passes": 3},
    )


# --- Item 2: FlowGraph.save checks its destination first --------------------------------------------------------


def unwritable(tmp_path: Path, case: str) -> Path:
    if case == "proc":
        return Path("/proc/x.json")  # no file can be created there, not even by root
    if case == "folder":
        (tmp_path / "x.json").mkdir()
        (tmp_path / "x.json" / "keep.txt").write_text("kept")
        return tmp_path / "x.json"
    if case == "missing-folder":
        return tmp_path / "no-such-folder" / "x.json"
    (tmp_path / "plain.txt").write_text("a file, not a folder")
    return tmp_path / "plain.txt" / "x.json"


@pytest.mark.parametrize(
    ("case", "message"),
    [
        ("proc", "no file can be written in /proc"),
        ("folder", "is a folder"),
        ("missing-folder", "does not exist"),
        ("parent-is-a-file", "is not a folder"),
    ],
)
def test_item2_save_to_an_unwritable_destination_is_an_infoflow_error(tmp_path, case, message):
    from infoflow_widget.core.files import check_destination
    from infoflow_widget.graph.flowgraph import save_suffixes

    path = unwritable(tmp_path, case)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    for attempt in (lambda p: check_destination(p, save_suffixes()), small_graph().save):
        with pytest.raises(InfoFlowError, match=message):
            attempt(path)
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before, "nothing written, nothing left"


def test_item2_destination_is_checked_before_the_graph_is_rendered(tmp_path):
    """A graph that cannot be written as JSON (a NaN effect) to a bad place: the place is what the error names."""
    graph = small_graph()
    graph.edges.append(Edge(0, 0, math.nan))
    with pytest.raises(InfoFlowError, match="does not exist"):
        graph.save(tmp_path / "missing" / "g.json")


@pytest.mark.parametrize("name", ["g.JSON", "g.Csv", "g.HTML"])
def test_item2_suffixes_are_case_insensitive(tmp_path, name):
    from infoflow_widget.core.files import check_destination
    from infoflow_widget.graph.flowgraph import save_suffixes

    path = tmp_path / name
    assert check_destination(path, save_suffixes()) == path
    assert os.listdir(tmp_path) == [], "the check leaves no probe file"
    assert small_graph().save(path) == path
    assert os.listdir(tmp_path) == [name]
    if name == "g.JSON":
        assert FlowGraph.load(path) == small_graph()


def test_item2_unknown_suffix_lists_the_known_ones(tmp_path):
    from infoflow_widget.core.files import check_destination
    from infoflow_widget.graph.flowgraph import save_suffixes

    for name in ("g.parquet", "graph", "g.json.bak"):
        with pytest.raises(InfoFlowError, match=r"\.json, \.csv, \.html"):
            check_destination(tmp_path / name, save_suffixes())


# --- Item 4: FlowGraph.load validates every field ---------------------------------------------------------------


def tampered(change) -> dict:
    d = small_graph().to_dict()
    change(d)
    return d


def _set(path: str, value):
    """A change that sets the field at a dotted path such as ``edges.0.exact`` (list items by index)."""

    def change(d):
        *parents, last = path.split(".")
        for part in parents:
            d = d[int(part)] if isinstance(d, list) else d[part]
        d[int(last) if isinstance(d, list) else last] = value

    return change


def nested(depth: int):
    value: object = 1
    for _ in range(depth):
        value = {"x": value}
    return value


BAD_FIELDS = [
    # (field to set, value, what the message must say)
    ("nodes.0.start", -1, r"nodes\[0\]\.start must be a whole number >= 0; got -1"),
    ("nodes.1.end", 0, r"nodes\[1\] is the span 1:0"),  # inverted
    ("nodes.2.end", 2, r"nodes\[2\] is the span 2:2"),  # empty
    ("nodes.3.end", 9, r"nodes\[3\] is the span 3:9, .*<= 4"),  # past the tokens
    ("nodes.0.end", 1.5, r"nodes\[0\]\.end must be a whole number"),  # fractional
    ("nodes.0", [0, 1], r"nodes\[0\] must be an object"),
    ("edges.0.source", 0.5, r"edges\[0\]\.source must be a whole number >= 0; got 0\.5"),
    ("edges.0.target", True, r"edges\[0\]\.target must be a whole number"),
    ("edges.1.target", 4, r"edges\[1\]\.target must be a node index below 4 \(there are 4 nodes\)"),
    ("edges.0.exact", "false", r'edges\[0\]\.exact must be true or false; got "false"'),
    ("edges.0.exact", 0, r"edges\[0\]\.exact must be true or false; got 0"),
    ("edges.2.effect", "abc", r'edges\[2\]\.effect must be a number .*; got "abc"'),
    ("edges.2.effect", None, r"edges\[2\]\.effect must be a number .*; got null"),
    ("edges.2.effect", "0.5", r"edges\[2\]\.effect must be a number"),  # numbers are not strings
    ("edges.2.effect", 10**400, r"edges\[2\]\.effect must be a number within the range of a float"),
    ("edges.1.level", -1, r"edges\[1\]\.level must be a whole number"),
    ("edges.1.level", "1", r"edges\[1\]\.level must be a whole number"),
    ("edges.0.damage", "big", r'edges\[0\]\.damage must be a number .*; got "big"'),
    ("edges.0.effect_std", True, r"edges\[0\]\.effect_std must be a number"),
    ("edges.0.flags", "sink", r'edges\[0\]\.flags must be a list of names such as \["sink"\]; got "sink"'),
    ("edges.0.flags", ["sink", 3], r"edges\[0\]\.flags\[1\] must be a non-empty string; got 3"),
    ("tokens", "The cat sat.", r'tokens must be a list; got "The cat sat\."'),
    ("tokens.1", 5, r"tokens\[1\] must be a string; got 5"),
    ("nodes", {"0": {"start": 0, "end": 1}}, r"nodes must be a list"),
    ("clean_metric", "high", r'clean_metric must be a number .*; got "high"'),
    ("provenance", "zero", r"provenance must be an object"),
    ("stats", nested(100), r"stats\.x\.x.* is nested more than 32 levels deep"),
]


@pytest.mark.parametrize(("field", "value", "message"), BAD_FIELDS, ids=[f"{f}={v!r}"[:40] for f, v, _ in BAD_FIELDS])
def test_item4_a_bad_field_is_named(tmp_path, field, value, message):
    d = tampered(_set(field, value))
    with pytest.raises(InfoFlowError, match=message):
        FlowGraph.from_dict(d)
    if value != 10**400:  # an int of 401 digits is valid JSON too, but keep the file small
        path = tmp_path / "g.json"
        path.write_text(json.dumps(d), encoding="utf-8")
        with pytest.raises(InfoFlowError, match=message):
            FlowGraph.load(path)


@pytest.mark.parametrize(
    ("content", "message"),
    [
        (b'{"format": "infoflow-graph/1", "tokens": ["caf\xe9"]}', r"not UTF-8 text \(byte 46 is 0xe9\)"),
        (b"[" * 100_000 + b"]" * 100_000, "nested too deeply"),
        (b'{"clean_metric": ' + b"9" * 5000 + b"}", "not a saved graph"),  # more digits than int() reads
        (b"{not json", "not valid JSON"),
        (b'"a string"', "A saved FlowGraph is a dict"),
    ],
    ids=["latin-1", "deeply-nested", "huge-int", "not-json", "not-an-object"],
)
def test_item4_unreadable_files_are_infoflow_errors(tmp_path, content, message):
    path = tmp_path / "g.json"
    path.write_bytes(content)
    with pytest.raises(InfoFlowError, match=message):
        FlowGraph.load(path)
    with pytest.raises(InfoFlowError, match="Cannot read"):
        FlowGraph.load(tmp_path / "missing.json")


def test_item4_nan_and_infinity_as_the_json_exports_write_them_load(tmp_path):
    """The widget's JSON download writes non-finite numbers as the strings "NaN", "Infinity", "-Infinity"."""
    d = small_graph().to_dict()
    d["clean_metric"] = "NaN"
    d["edges"][0]["effect"], d["edges"][1]["effect"], d["edges"][2]["effect"] = "Infinity", "-Infinity", "NaN"
    path = tmp_path / "download.json"
    path.write_text(json.dumps(d), encoding="utf-8")
    loaded = FlowGraph.load(path)
    assert math.isnan(loaded.clean_metric)
    assert [e.effect for e in loaded.edges][:2] == [math.inf, -math.inf] and math.isnan(loaded.edges[2].effect)
    assert loaded.edges[1].exact is False and loaded.edges[2].level == 1
    # Python's own json writes bare NaN / Infinity: those are numbers and load too.
    path.write_text(json.dumps({**small_graph().to_dict(), "clean_metric": math.inf}), encoding="utf-8")
    assert FlowGraph.load(path).clean_metric == math.inf


def test_item4_a_valid_graph_still_round_trips_and_extra_keys_are_ignored(tmp_path):
    d = small_graph().to_dict()
    d["edges"][0]["note"] = "added by hand"
    assert FlowGraph.from_dict(d) == small_graph()
    path = tmp_path / "g.json"
    path.write_bytes(b"\xef\xbb\xbf" + small_graph().to_json().encode())  # a UTF-8 byte-order mark
    assert FlowGraph.load(path) == small_graph()


# --- Item 7: a killed weight conversion leaves no partial folder --------------------------------------------------

# A conversion that stops half-way: it writes part of its output, says so, and waits to be killed.
SLOW_CONVERSION = """
import sys, time
from infoflow_widget.engine.models import _cached_conversion

def half_done(workdir):
    (workdir / "weights.part").write_bytes(b"x" * 100_000)
    print("converting", flush=True)
    time.sleep(600)

_cached_conversion(sys.argv[1], half_done)
"""


def ready_cache(tmp_path: Path, key: str) -> None:
    """A finished conversion of ``key`` in the cache at ``tmp_path``, so loading it converts nothing."""
    from infoflow_widget.engine.models import _write_manifest

    folder = tmp_path / "models" / key
    folder.mkdir(parents=True)
    (folder / "config.json").write_text("{}")
    _write_manifest(folder)


def hidden_folders(tmp_path: Path) -> list[str]:
    return sorted(p.name for p in (tmp_path / "models").iterdir() if p.name.startswith(".") and p.is_dir())


def test_item7_a_killed_conversion_is_cleaned_at_the_next_load_a_live_one_is_kept(tmp_path, monkeypatch):
    from infoflow_widget.engine.models import _cached_conversion

    monkeypatch.setenv("INFOFLOW_CACHE", str(tmp_path))
    ready_cache(tmp_path, "ready-1")

    def never(_workdir):
        raise AssertionError("the ready model must load from the cache")

    child = subprocess.Popen(
        [sys.executable, "-c", SLOW_CONVERSION, "killed-1"],
        env={**os.environ, "INFOFLOW_CACHE": str(tmp_path)},
        stdout=subprocess.PIPE,
        stderr=subprocess.DEVNULL,
        text=True,
    )
    try:
        assert child.stdout.readline().strip() == "converting"
        live = hidden_folders(tmp_path)
        assert live, "the conversion works in a hidden partial folder"
        assert _cached_conversion("ready-1", never) == tmp_path / "models" / "ready-1"
        assert hidden_folders(tmp_path) == live, "a folder a live process is converting into is kept"
    finally:
        child.send_signal(signal.SIGKILL)
        child.wait(timeout=60)
    assert hidden_folders(tmp_path) == live, "SIGKILL leaves the partial folder behind"
    assert _cached_conversion("ready-1", never) == tmp_path / "models" / "ready-1"
    assert hidden_folders(tmp_path) == [], "the next load removes the killed conversion's folder"
    assert sorted(p.name for p in (tmp_path / "models").iterdir()) == ["ready-1"]


def test_item7_old_style_partial_folders_go_once_abandoned(tmp_path, monkeypatch):
    """Earlier versions converted into tempfile folders (``.{key}-xxxxxxxx``, no lock): removed once an hour old."""
    from infoflow_widget.engine.models import _cached_conversion

    monkeypatch.setenv("INFOFLOW_CACHE", str(tmp_path))
    ready_cache(tmp_path, "ready-1")
    old, recent = tmp_path / "models" / ".smollm2-135m-0.1.2-ab12cd34", tmp_path / "models" / ".ready-1-ef56gh78"
    for folder in (old, recent):
        (folder / "model").mkdir(parents=True)
        (folder / "model" / "model.safetensors").write_bytes(b"x" * 1000)
    hours_ago = time.time() - 2 * 3600
    os.utime(old, (hours_ago, hours_ago))
    _cached_conversion("ready-1", lambda _workdir: None)
    assert hidden_folders(tmp_path) == [recent.name]


# --- Item 9: tokens that hold part of a character show their bytes -----------------------------------------------

EMOJI_CJK = "Hi 😀 there 日本語 猫"


def byte_level_tokenizer():
    """A byte-level BPE tokenizer with no merges, built offline: every byte of a character is a token of its own."""
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    from infoflow_widget.text.display import _byte_level_alphabet

    vocab = {c: i for i, c in enumerate(sorted(_byte_level_alphabet(), key=_byte_level_alphabet().get))}
    backend = Tokenizer(models.BPE(vocab, merges=[]))
    backend.pre_tokenizer = pre_tokenizers.ByteLevel(add_prefix_space=False)
    backend.decoder = decoders.ByteLevel()
    return PreTrainedTokenizerFast(tokenizer_object=backend)


def test_item9_split_characters_show_their_bytes_on_a_byte_level_tokenizer():
    from infoflow_widget.text.display import token_texts

    tokenizer = byte_level_tokenizer()
    ids = tokenizer("a 😀é")["input_ids"]
    assert [tokenizer.decode([i]) for i in ids].count("\ufffd") == 6, "the unfixed decoding shows U+FFFD"
    assert token_texts(tokenizer, ids) == ["a", " ", "<0xF0>", "<0x9F>", "<0x98>", "<0x80>", "<0xC3>", "<0xA9>"]
    plain = tokenizer("When Mary, 3 < 4")["input_ids"]
    assert token_texts(tokenizer, plain) == [tokenizer.decode([i]) for i in plain]


def bundled_tokenizer(name: str):
    """The tokenizer of a bundled model, from its converted folder in the cache (converted first if need be)."""
    from transformers import AutoTokenizer

    from infoflow_widget.engine.models import BUNDLED_MODELS, cache_dir

    if importlib.util.find_spec(BUNDLED_MODELS[name].package) is None:
        pytest.skip(f"{name} is not installed")
    folders = list((cache_dir() / "models").glob(f"{name}-*/manifest.json"))
    if not folders:
        from infoflow_widget import load_model

        return load_model(name).tokenizer
    return AutoTokenizer.from_pretrained(folders[0].parent)


@pytest.mark.slow
def test_item9_smollm2_byte_level_bpe():
    from infoflow_widget.text.display import token_texts

    tokenizer = bundled_tokenizer("smollm2-135m")
    tokens = token_texts(tokenizer, tokenizer(EMOJI_CJK)["input_ids"])
    assert not any("\ufffd" in t for t in tokens)
    assert tokens == [
        "Hi", " <0xF0><0x9F><0x98>", "<0x80>", " there",
        " <0xE6>", "<0x97>", "<0xA5>", "本", "<0xE8>", "<0xAA>", "<0x9E>", " <0xE7>", "<0x8C>", "<0xAB>",
    ]  # fmt: skip
    # A character inside one token stays as it is, U+FFFD itself included; plain text is decoded as before.
    for prompt in ("When Mary and John went to the store, John gave a book to", "é \ufffd 本"):
        ids = tokenizer(prompt)["input_ids"]
        assert token_texts(tokenizer, ids) == [tokenizer.decode([i]) for i in ids]


@pytest.mark.slow
def test_item9_gemma_byte_fallback():
    from infoflow_widget.text.display import token_texts

    tokenizer = bundled_tokenizer("gemma-3-270m")
    tokens = token_texts(tokenizer, tokenizer("𓀀 🫠 " + EMOJI_CJK)["input_ids"])
    assert not any("\ufffd" in t for t in tokens)
    assert tokens[:7] == ["<bos>", "<0xF0>", "<0x93>", "<0x80>", "<0x80>", " ", "🫠"]
    assert " 日本" in tokens, "characters in Gemma's vocabulary stay whole"
    ids = tokenizer("When Mary and John went to the store")["input_ids"]
    assert token_texts(tokenizer, ids) == [tokenizer.decode([i]) for i in ids]


@pytest.mark.slow
def test_item9_graph_tokens_show_bytes_everywhere(smollm, tmp_path):
    """The engine decodes through token_texts, so graph.tokens (widget, pages, pandas, CLI JSON) shows bytes."""
    from infoflow_widget import FlowEngine, Logit

    engine = FlowEngine(smollm, "I love 😀 and", Logit(" cats"), progress=False)
    assert " <0xF0><0x9F><0x98>" in engine.tokens and "<0x80>" in engine.tokens
    graph = engine.graph()
    assert graph.tokens == engine.tokens
    texts = set(graph.to_pandas()["source_text"])
    assert "<0x80>" in texts and not any("\ufffd" in t for t in texts)
    assert FlowGraph.load(graph.save(tmp_path / "g.json")).tokens == engine.tokens


# --- Item 1: characters XML cannot hold (ESC, NUL, BEL) in every export -----------------------------------------
# The SVG and PNG downloads are checked in Chromium: tests/widget/test_drawing_meaning.py
# (test_control_characters_export_as_well_formed_svg_and_png).


def control_graph() -> FlowGraph:
    tokens = ["Mary", "\x1b", "[", "31", "m", "\x00", "\x07", " told"]
    return FlowGraph(
        tokens=tokens,
        nodes=[Node(i, i + 1) for i in range(len(tokens))],
        edges=[Edge(1, 7, 0.5), Edge(5, 6, -0.25), Edge(0, 7, 0.125)],
        clean_metric=1.0,
        provenance={"model": "tiny", "prompt": "".join(tokens), "intervention": {"kind": "zero"}},
        stats={},
    )


def test_item1_the_static_drawing_is_well_formed_xml_with_control_pictures():
    import xml.etree.ElementTree as ET

    from infoflow_widget.widget.drawing import static_html

    page = static_html(control_graph())
    ET.fromstring(page)  # raises on a character XML cannot hold
    assert all(code in page for code in ("&lt;0x1B&gt;", "&lt;0x00&gt;", "&lt;0x07&gt;"))
    assert not any(c in page for c in "\x1b\x00\x07")
    assert "a control character" in page  # the legend says what <0x1B> stands for


def test_item1_saved_pages_hold_no_raw_control_character_outside_their_data(tmp_path):
    from infoflow_widget.text.display import visible, xml_safe

    assert visible("\x1b[31m\x00\x07\r\x7f") == "<0x1B>[31m<0x00><0x07><0x0D><0x7F>"
    assert xml_safe("a\x1bb\ud800") == "a<0x1B>b\ufffd"
    path = control_graph().save(tmp_path / "g.html")
    text = path.read_text(encoding="utf-8")
    assert not any(c in text for c in "\x1b\x00\x07")  # the tokens travel as JSON escapes (\u001b) in the state
    assert "\\u001b" in text


# --- CLI items (2, 3, 8): run as a user runs them --------------------------------------------------------------

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


def infoflow_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    return subprocess.run(
        [sys.executable, "-m", "infoflow_widget.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def one_line(stderr: str) -> str:
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]


# --- Item 2 (CLI): `infoflow graph --out` is checked before the model loads -------------------------------------


@pytest.mark.parametrize(
    ("case", "message"),
    [("proc", "no file can be written in /proc"), ("folder", "is a folder"), ("parent-is-a-file", "is not a folder")],
)
def test_item2_cli_checks_the_destination_before_loading_the_model(tmp_path, case, message):
    out = unwritable(tmp_path, case)
    before = sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*"))
    status, torch_loaded, stderr = light_cli(
        "graph", "--prompt", "The cat sat on", "--model", "gpt-17", "--out", str(out)
    )
    assert (status, torch_loaded) == (2, False), stderr
    line = one_line(stderr)
    assert line.startswith(f"infoflow: error: Cannot save to {out}") and message in line
    assert sorted(p.relative_to(tmp_path) for p in tmp_path.rglob("*")) == before


def test_item2_cli_accepts_upper_case_suffixes(tiny_model_folder, tmp_path):
    out = tmp_path / "g.JSON"
    done = infoflow_cli("graph", "--model", str(tiny_model_folder), "--prompt", "when mary and john", "--quiet",
                        "--device", "cpu", "--out", str(out))  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert FlowGraph.load(out).tokens == ["when", "mary", "and", "john"]
    assert os.listdir(tmp_path) == ["g.JSON"]


# --- Item 3: --prompt-file reads the prompt as written, less one final newline ----------------------------------

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
def test_item3_prompt_file_is_read_exactly_less_one_final_newline(tmp_path, content, prompt):
    from infoflow_widget.cli.options import read_prompt_file

    path = tmp_path / "prompt.txt"
    path.write_bytes(content)
    assert read_prompt_file(path) == prompt
    assert read_prompt_file(path, keep_final_newline=True) == content.removeprefix(b"\xef\xbb\xbf").decode()


def test_item3_the_case_prompt_file_reads_as_the_case_prompt(code_case):
    from conftest import CASES

    from infoflow_widget.cli.options import read_prompt_file

    assert read_prompt_file(CASES / code_case["prompt_file"]) == code_case["prompt"]


def readme_commands() -> list[list[str]]:
    """The commands of the README's command-line section, continuation lines joined, comments dropped."""
    import shlex

    section = (REPO / "README.md").read_text(encoding="utf-8").split("## Command line", 1)[1]
    block = section.split("```bash", 1)[1].split("```", 1)[0].replace("\\\n", " ")
    return [shlex.split(line, comments=True) for line in block.splitlines() if line.strip()]


def test_item3_the_readme_code_command_analyses_the_case_prompt(code_case):
    from infoflow_widget.cli import build_parser
    from infoflow_widget.cli.options import read_prompt_file

    (command,) = [c for c in readme_commands() if "--prompt-file" in c]
    args = build_parser().parse_args(command[1:])
    assert read_prompt_file(REPO / args.prompt_file, args.keep_final_newline) == code_case["prompt"]
    assert (args.model, args.answer, args.distractor) == ("gemma-3-270m", code_case["answer"], code_case["distractor"])


def test_item3_help_says_what_happens_to_the_final_newline(capsys):
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
def test_item3_cli_prompt_file_on_a_tiny_model(tiny_model_folder, tmp_path, extra, prompt):
    path = tmp_path / "prompt.txt"
    path.write_bytes(b"when mary and john\r\nwent to the store\r\n")
    done = infoflow_cli("graph", "--model", str(tiny_model_folder), "--prompt-file", str(path), *extra, "--quiet",
                        "--device", "cpu", "--out", "-")  # fmt: skip
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["provenance"]["prompt"] == prompt


@pytest.mark.slow
def test_item3_the_readme_code_command_reproduces_the_case_on_gemma(gemma, code_case):
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


# --- Item 8: smaller CLI edges ------------------------------------------------------------------------------------


def test_item8_a_prompt_file_that_is_not_utf8_is_bad_input(tmp_path):
    path = tmp_path / "latin1.txt"
    path.write_bytes("The café is".encode("latin-1"))
    status, torch_loaded, stderr = light_cli("graph", "--prompt-file", str(path), "--out", "-")
    assert (status, torch_loaded) == (2, False), stderr
    line = one_line(stderr)
    assert str(path) in line and "not UTF-8 text (byte 7 is 0xe9)" in line


@pytest.mark.parametrize("where", ["file", "under-a-file"])
def test_item8_infoflow_cache_that_is_not_a_folder(tmp_path, monkeypatch, where):
    from infoflow_widget.engine.models import cache_dir

    (tmp_path / "plain.txt").write_text("a file")
    cache = tmp_path / "plain.txt" if where == "file" else tmp_path / "plain.txt" / "cache"
    monkeypatch.setenv("INFOFLOW_CACHE", str(cache))
    with pytest.raises(InfoFlowError, match=r"INFOFLOW_CACHE=.*plain\.txt is a file, not a folder"):
        cache_dir()
    status, torch_loaded, stderr = light_cli("graph", "--prompt", "x y", "--model", "smollm2-135m", "--out", "-")
    assert (status, torch_loaded) == (2, False), stderr
    assert "INFOFLOW_CACHE" in one_line(stderr)


def test_item8_an_empty_layer_range_is_refused_before_loading():
    from infoflow_widget.cli.options import parse_layers

    with pytest.raises(InfoFlowError, match="5-2 is an empty range; did you mean 2-5?"):
        parse_layers("5-2")
    assert parse_layers("0,2,10-12") == [0, 2, 10, 11, 12] and parse_layers("3-3") == [3]
    status, torch_loaded, stderr = light_cli("graph", "--prompt", "x y", "--layers", "0,5-2", "--out", "-")
    assert (status, torch_loaded) == (2, False), stderr
    assert "did you mean 2-5?" in one_line(stderr)


@pytest.mark.parametrize("hub", ["refuses", "never-answers"])
def test_item8_an_unreachable_hub_fails_in_seconds(tmp_path, hub):
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


def test_item8_an_unreachable_hub_still_loads_a_cached_hub_id(tiny_model_folder, tmp_path):
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


@pytest.fixture(scope="module")
def spacing_model(tmp_path_factory):
    """A tiny random Llama whose tokenizer tells 'mary' from ' mary' (Metaspace, as SentencePiece models do).

    Returns its folder, a prompt, and a word's two spellings: the one the clean run scores more than
    SPACING_MARGIN logits lower first.
    """
    import torch
    from conftest import WORDS
    from tokenizers import Tokenizer, decoders, models, pre_tokenizers
    from transformers import AutoModelForCausalLM, LlamaConfig, PreTrainedTokenizerFast

    from infoflow_widget.engine.metrics import SPACING_MARGIN

    vocab = {w: i for i, w in enumerate([*WORDS, *(f"▁{w}" for w in WORDS), "[UNK]"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Metaspace(prepend_scheme="never")
    backend.decoder = decoders.Metaspace(prepend_scheme="never")
    tokenizer = PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")
    config = LlamaConfig(
        vocab_size=len(vocab), hidden_size=32, intermediate_size=64, num_hidden_layers=2, num_attention_heads=4,
        num_key_value_heads=2, max_position_embeddings=64, tie_word_embeddings=False,
        bos_token_id=None, eos_token_id=None, pad_token_id=None,
    )  # fmt: skip
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config)
    with torch.no_grad():
        model.lm_head.weight.mul_(50.0)  # logits far apart: one spelling of a word clearly preferred
    folder = tmp_path_factory.mktemp("tiny-spacing")
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    prompt = "when mary and john went to the store"
    with torch.no_grad():
        logits = model(tokenizer(prompt, return_tensors="pt")["input_ids"]).logits[0, -1]

    def logit(text: str) -> float:
        return float(logits[tokenizer(text, add_special_tokens=False)["input_ids"][0]])

    for word in WORDS:
        low, high = sorted((word, f" {word}"), key=logit)
        if logit(high) - logit(low) > SPACING_MARGIN + 1:
            return folder, prompt, low, high
    raise AssertionError("no word whose spellings the tiny model tells apart")


def test_item8_a_token_string_of_the_unlikely_spacing_warns(spacing_model):
    import warnings

    from infoflow_widget import FlowEngine, Logit, load_model

    folder, prompt, low, high = spacing_model
    model = load_model(str(folder), device="cpu")
    with pytest.warns(UserWarning, match="clean run scores it .* logits higher") as caught:
        FlowEngine(model, prompt, Logit(low), progress=False)
    (message,) = [str(w.message) for w in caught]
    assert repr(low) in message and repr(high) in message
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlowEngine(model, prompt, Logit(high), progress=False)


def test_item8_the_cli_shows_the_spacing_warning_as_one_line(spacing_model):
    folder, prompt, low, high = spacing_model
    done = infoflow_cli("graph", "--model", str(folder), "--prompt", prompt, "--answer", low, "--quiet",
                        "--device", "cpu", "--out", "-")  # fmt: skip
    assert done.returncode == 0, done.stderr
    line = one_line(done.stderr)
    assert line.startswith("infoflow: warning: The target") and repr(high) in line
    assert json.loads(done.stdout)["edges"], "the graph is computed all the same"


@pytest.mark.slow
def test_item8_mary_without_its_space_warns_on_smollm2(smollm, ioi_case):
    import warnings

    from infoflow_widget import FlowEngine, LogitDiff

    with pytest.warns(UserWarning, match="The answer 'Mary' may be missing its leading space: ' Mary'"):
        FlowEngine(smollm, ioi_case["prompt"], LogitDiff("Mary", ioi_case["distractor"]), progress=False)
    with warnings.catch_warnings():
        warnings.simplefilter("error")
        FlowEngine(smollm, ioi_case["prompt"], LogitDiff(ioi_case["answer"], ioi_case["distractor"]), progress=False)


# --- Items 5 and 6: the widget checks every trait change and clears a stale failure --------------------------------

WIDGET_PROMPT = "when mary and john went to the store , john gave a book to"


@pytest.fixture(scope="module")
def tiny_widget():
    pytest.importorskip("anywidget")
    from conftest import make_tiny

    from infoflow_widget.widget.widget import InfoFlowWidget

    widget = InfoFlowWidget(make_tiny("llama"), WIDGET_PROMPT, answer="mary", distractor="john")
    widget.wait(timeout=60)
    yield widget
    widget.close()


@pytest.mark.parametrize(
    ("name", "value", "message"),
    [
        ("top_k", -5, "top_k must be a whole number >= 0"),
        ("threshold", -1.0, "threshold must be a finite number >= 0"),
        ("threshold", math.nan, "threshold must be a finite number >= 0"),
        ("threshold", math.inf, "threshold must be a finite number >= 0"),
    ],
)
def test_item5_trait_changes_are_checked_like_the_constructor(tiny_widget, name, value, message):
    shown, before = tiny_widget.graph_object, getattr(tiny_widget, name)
    with pytest.raises(InfoFlowError, match=message):
        setattr(tiny_widget, name, value)
    assert getattr(tiny_widget, name) == before, "the trait keeps its last good value"
    assert message in tiny_widget.error, "the error shows in the widget too"
    assert tiny_widget.graph_object is shown
    setattr(tiny_widget, name, before)  # a valid setting again: the failure is gone
    tiny_widget.error = ""


def test_item6_undoing_a_failed_change_clears_the_failed_status(tiny_widget):
    shown = tiny_widget.graph_object
    tiny_widget.set_state({"strategy": "sideways"})  # as the browser would send it
    with pytest.raises(InfoFlowError):
        tiny_widget.wait(timeout=60)
    assert tiny_widget.status.startswith("failed")
    tiny_widget.set_state({"strategy": "full"})  # undone: the graph on show is this setting's
    tiny_widget.wait(timeout=60)
    assert tiny_widget.graph_object is shown
    assert tiny_widget.error == ""
    assert not tiny_widget.status.startswith("failed"), tiny_widget.status
    assert "shown again" in tiny_widget.status
