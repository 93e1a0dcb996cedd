"""`infoflow set`: the role graph of a prompt set as JSON, the same numbers as compute_flow_set; bad input."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from infoflow_widget import Dampen, RoleGraph, Zero, load_model
from infoflow_widget.analysis.flowset import compute_flow_set
from infoflow_widget.cli import build_parser, main
from infoflow_widget.cli.prompt_set import SET_SLOT_WORDS, set_template
from infoflow_widget.text.promptset import PromptSet, ioi_words

TEMPLATE = "when {IO} and {S} went to the store , {S} gave a book to"  # 14 words of the tiny vocabulary
NAMES = ["mary", "john", "felix", "sarah", "diego", "bob", "alice"]
EDGE_KEYS = {"source", "target", "mean", "std", "low", "high", "sign_consistency", "n"}


@pytest.fixture(scope="module")
def slots(tmp_path_factory):
    path = tmp_path_factory.mktemp("slots") / "slots.json"
    path.write_text(json.dumps({"IO": NAMES, "S": NAMES}))
    return path


@pytest.fixture(scope="module")
def model(tiny_model_folder):
    return load_model(tiny_model_folder, device="cpu")


def set_cli(capsys, folder, *args: str) -> tuple[int, str, str]:
    """``infoflow set`` in-process on the tiny model folder: (status, stdout, stderr)."""
    status = main(["set", "--model", str(folder), "--device", "cpu", "--quiet", *args])
    out, err = capsys.readouterr()
    return status, out, err


def template_args(slots, *extra: str) -> list[str]:
    return ["--template", TEMPLATE, "--slots", str(slots), "--answer", "{IO}", "--distractor", "{S}", *extra]


def assert_same_role_graph(data: dict, expected: RoleGraph) -> None:
    assert data["nodes"] == expected.nodes and data["n_prompts"] == expected.n_prompts
    assert [(e["source"], e["target"]) for e in data["edges"]] == [(e.source, e.target) for e in expected.edges]
    for saved, edge in zip(data["edges"], expected.edges, strict=True):
        assert saved.keys() >= EDGE_KEYS
        for key in ("mean", "std", "low", "high", "sign_consistency"):
            assert saved[key] == pytest.approx(getattr(edge, key), abs=1e-6), (edge.name, key)
        assert saved["n"] == edge.n and saved["values"] == pytest.approx(list(edge.values), abs=1e-6)
    assert data["clean_metrics"] == pytest.approx(expected.clean_metrics, abs=1e-6)


def test_json_on_stdout_equals_compute_flow_set(capsys, tiny_model_folder, model, slots):
    status, out, err = set_cli(
        capsys, tiny_model_folder, *template_args(slots, "--n", "6", "--seed", "1", "--out", "-")
    )
    assert status == 0, err
    data = json.loads(out)  # stdout holds the JSON alone
    prompt_set = PromptSet.from_template(
        TEMPLATE, answer="{IO}", distractor="{S}", n=6, seed=1, tokenizer=model, IO=NAMES, S=NAMES
    )
    expected = compute_flow_set(model, prompt_set, Zero(), progress=False)
    assert data["roles"] == ["IO", "S1", "S1+1", "S2", "END"] == prompt_set.role_names
    assert set(data["roles"]) <= set(data["nodes"]) and data["nodes"][:3] == ["when", "IO", "and"]
    assert_same_role_graph(data, expected)
    assert max(abs(e["mean"]) for e in data["edges"]) > 1e-3, "the test compares numbers that are not all zero"
    assert [p["prompt"] for p in data["prompts"]] == list(prompt_set.prompts)
    assert data["prompts"][0]["roles"] == prompt_set[0].roles
    assert data["stats"]["prompts"] == 6 and data["stats"]["forward_passes"] >= 7
    provenance = data["provenance"]
    assert provenance["intervention"] == {"kind": "zero"} and provenance["executor"] == "local"
    assert provenance["prompt_set"]["template"] == TEMPLATE and provenance["prompt_set"]["seed"] == 1
    assert provenance["prompt_set"]["dropped"] == []
    loaded = RoleGraph.from_dict(data)  # the CLI's JSON is a saved RoleGraph (roles and prompts added)
    assert [e.mean for e in loaded.edges] == pytest.approx([e.mean for e in expected.edges], abs=1e-6)


def test_files_a_jsonl_set_and_an_intervention_with_parameters(capsys, tiny_model_folder, model, slots, tmp_path):
    args = template_args(slots, "--n", "4", "--intervention", "dampen", "--alpha", "0.5", "--layers", "0,2")
    out = tmp_path / "roles.JSON"
    status, stdout, err = set_cli(capsys, tiny_model_folder, *args, "--out", str(out))
    assert status == 0, err
    assert stdout == "" and err.startswith(f"infoflow: wrote {out} (4 prompts, ") and "same sign in" in err
    assert os.listdir(tmp_path) == ["roles.JSON"], "written through a temporary file, none left behind"
    data = json.loads(out.read_text())
    assert data["provenance"]["intervention"] == {"kind": "dampen", "alpha": 0.5}
    assert data["provenance"]["layers"] == [0, 2]
    prompt_set = PromptSet.from_template(
        TEMPLATE, answer="{IO}", distractor="{S}", n=4, seed=0, tokenizer=model, IO=NAMES, S=NAMES
    )
    expected = compute_flow_set(model, prompt_set, Dampen(0.5), layers=[0, 2], progress=False)
    assert_same_role_graph(data, expected)

    # The same prompts from a JSONL file (roles as the template gave them): the same role graph.
    jsonl = prompt_set.to_jsonl(tmp_path / "prompts.jsonl")
    args = ["--prompts", str(jsonl), "--intervention", "dampen", "--alpha", "0.5", "--layers", "0,2"]
    status, stdout, err = set_cli(capsys, tiny_model_folder, *args, "--out", "-")
    assert status == 0, err
    from_file = json.loads(stdout)
    assert from_file["roles"] == data["roles"] and from_file["provenance"]["prompt_set"]["source"] == str(jsonl)
    assert_same_role_graph(from_file, expected)

    csv = tmp_path / "roles.csv"
    status, _, err = set_cli(capsys, tiny_model_folder, *template_args(slots, "--n", "2", "--out", str(csv)))
    assert status == 0, err
    assert csv.read_text().startswith("source,target,mean,abs_mean,std,low,high,sign_consistency,n")


def test_auto_corrupt_takes_the_seed_of_the_draw(capsys, tiny_model_folder, slots):
    args = template_args(slots, "--n", "2", "--seed", "3", "--intervention", "corrupt", "--corrupted", "auto")
    status, out, err = set_cli(capsys, tiny_model_folder, *args, "--samples", "2", "--out", "-")
    assert status == 0, err
    data = json.loads(out)
    assert data["provenance"]["intervention"] == {"kind": "corrupt", "corrupted_prompt": "auto", "n": 2, "seed": 3}
    assert data["provenance"]["prompt_set"]["seed"] == 3


def test_default_slot_values_are_the_bundled_ioi_words():
    template = "When {IO} and {S} went to the {PLACE}, {S} gave a {OBJECT} to {NAME}"
    args = build_parser().parse_args(["set", "--template", template, "--answer", "{IO}", "--out", "-"])
    values = set_template(args)["slot_values"]
    words = ioi_words()
    assert values == {slot: list(words[SET_SLOT_WORDS[slot]]) for slot in ("IO", "S", "PLACE", "OBJECT", "NAME")}
    assert set_template(args)["n"] == 100 and set_template(args)["seed"] == 0


def test_a_slots_file_overrides_the_defaults_for_its_slots(tmp_path):
    path = tmp_path / "slots.json"
    path.write_text(json.dumps({"S": ["Anna", "Tom"], "ANIMAL": ["cat", "dog"]}))
    args = build_parser().parse_args(
        ["set", "--template", "{IO} saw {S} with a {ANIMAL}", "--slots", str(path), "--answer", "{IO}", "--out", "-"]
    )
    values = set_template(args)["slot_values"]
    assert values == {"S": ["Anna", "Tom"], "ANIMAL": ["cat", "dog"], "IO": list(ioi_words()["names"])}


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--template", "when {IO} and {X} went to", "--answer", "{IO}"], "slot(s) X have no values: give them"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--slots", "FILE:slots_empty"], "IO needs a non-empty list"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--slots", "FILE:slots_list"], "must hold a JSON object"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--slots", "FILE:slots_bad"], "is not valid JSON"),
        (
            ["--template", TEMPLATE, "--answer", "{IO}", "--slots", "FILE:slots_extra"],
            "which the template does not use",
        ),
        (["--template", TEMPLATE, "--answer", "{Q}"], "neither one slot of the template ({IO}, {S})"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--distractor", "{IO}"], "must differ"),
        (["--template", TEMPLATE], "--template needs --answer"),
        (["--template", "when {IO and", "--answer", "{IO}"], "unbalanced braces"),
        (["--template", "when mary and", "--answer", " mary"], "has no slot"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--n", "0"], "--n must be a whole number of prompts from 1"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--n", "1000000000"], "from 1 to 100,000; got 1000000000"),
        (["--prompts", "FILE:jsonl", "--answer", " mary"], "--answer applies only to --template"),
        (["--prompts", "FILE:jsonl", "--seed", "2"], "--seed applies only to --template"),
        (["--prompts", "FILE:missing"], "missing.jsonl"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--strategy", "full", "--threshold", "1"], "search strategies"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--workers", "3"], "apply only to --executor ray"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--executor", "ray", "--dtype", "float16"], "Ray workers load"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--samples", "2"], "--samples applies only to --corrupted auto"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--alpha", "0.5"], "--alpha applies only to --intervention"),
        (["--template", TEMPLATE, "--answer", "{IO}", "--layers", "5-2"], "is an empty range"),
    ],
)
def test_bad_input_fails_before_the_model_loads(capsys, tmp_path, monkeypatch, args, message):
    inputs = tmp_path / "inputs"
    inputs.mkdir()
    files = {
        "slots_empty": ('{"IO": [], "S": ["mary"]}', "slots.json"),
        "slots_list": ('["mary", "john"]', "slots.json"),
        "slots_bad": ('{"IO": ["mary"', "slots.json"),
        "slots_extra": ('{"PET": ["cat"]}', "slots.json"),
        "jsonl": ('{"prompt": "when mary and john went to", "answer": "mary"}\n', "prompts.jsonl"),
    }
    for key, (text, name) in files.items():
        (inputs / key).mkdir()
        (inputs / key / name).write_text(text)
    paths = {key: inputs / key / name for key, (_, name) in files.items()} | {"missing": inputs / "missing.jsonl"}
    args = [str(paths[a[5:]]) if a.startswith("FILE:") else a for a in args]

    def no_model(*_args, **_kwargs):
        raise AssertionError("the model loaded before the arguments were checked")

    monkeypatch.setattr("infoflow_widget.cli.prompt_set.load_cli_model", no_model)
    out = tmp_path / "roles.json"
    status = main(["set", "--model", "gpt-17", *args, "--out", str(out)])
    stdout, err = capsys.readouterr()
    assert status == 2 and stdout == ""
    assert err.startswith("infoflow: error: ") and message in err and "Traceback" not in err
    assert len(err.strip().splitlines()) == 1, err
    assert sorted(os.listdir(tmp_path)) == ["inputs"], "nothing written, no temporary file left"


@pytest.mark.parametrize(
    ("values", "extra", "message"),
    [
        ({"IO": ["mary john", "felix sarah"], "S": NAMES}, [], "No value of IO is one token"),
        ({"IO": NAMES, "S": NAMES}, ["--answer", "mary john"], "is not one token for this tokenizer"),
        ({"IO": ["mary"], "S": ["mary"]}, [], "has distinct values for its distinct slots"),
    ],
)
def test_values_the_tokenizer_rejects_fail_before_any_forward_pass(
    capsys, tiny_model_folder, tmp_path, monkeypatch, values, extra, message
):
    import infoflow_widget.engine.engine as engine_module

    def no_engine(*_args, **_kwargs):
        raise AssertionError("an engine (and its clean run) started before the prompt set was checked")

    monkeypatch.setattr(engine_module, "FlowEngine", no_engine)
    path = tmp_path / "slots.json"
    path.write_text(json.dumps(values))
    out = tmp_path / "roles.json"
    answer = [] if extra else ["--answer", "{IO}"]
    status, stdout, err = set_cli(
        capsys, tiny_model_folder, "--template", TEMPLATE, "--slots", str(path), *answer, *extra, "--out", str(out)
    )
    assert status == 2 and stdout == "" and message in err, err
    assert sorted(os.listdir(tmp_path)) == ["slots.json"]


@pytest.mark.parametrize(
    "args",
    [
        ["set", "--answer", "{IO}", "--out", "-"],  # neither --template nor --prompts
        ["set", "--template", TEMPLATE, "--prompts", "p.jsonl", "--answer", "{IO}", "--out", "-"],  # both
    ],
)
def test_exactly_one_source_of_prompts(capsys, args):
    with pytest.raises(SystemExit) as exc:
        main(args)
    assert exc.value.code == 2
    assert "--template" in capsys.readouterr().err


def test_bad_input_and_help_load_no_torch(tmp_path):
    out = tmp_path / "roles.json"
    for args, status in (
        (["set", "--help"], 0),
        (["set", "--template", "when {IO} and {X} went", "--answer", "{IO}", "--out", str(out)], 2),
    ):
        probe = (
            "import json, sys\nfrom infoflow_widget.cli import main\n"
            f"try:\n    status = main({args!r})\nexcept SystemExit as exc:\n    status = exc.code\n"
            "print(json.dumps([status, 'torch' in sys.modules]))"
        )
        done = subprocess.run([sys.executable, "-c", probe], capture_output=True, text=True, timeout=120)
        assert json.loads(done.stdout.splitlines()[-1]) == [status, False], done.stderr
    assert not out.exists()


@pytest.mark.slow  # Ray's start-up: 1-2 minutes on the shared 2-core machine
def test_ray_from_the_cli_equals_the_local_run(capsys, tiny_model_folder, slots, monkeypatch):
    pytest.importorskip("ray")
    monkeypatch.chdir(tiny_model_folder.parent)  # a relative --model folder reaches the workers as an absolute path
    args = template_args(slots, "--n", "4", "--out", "-")
    status, local, err = set_cli(capsys, tiny_model_folder.name, *args)
    assert status == 0, err
    status = main(["set", "--model", tiny_model_folder.name, "--quiet", *args, "--executor", "ray", "--workers", "2"])
    distributed, err = capsys.readouterr()
    assert status == 0, err
    local, distributed = json.loads(local), json.loads(distributed)
    assert distributed["provenance"]["executor"] == "ray" and distributed["provenance"]["workers"] == 2
    assert distributed["prompts"] == local["prompts"] and distributed["nodes"] == local["nodes"]
    assert [e["mean"] for e in distributed["edges"]] == pytest.approx([e["mean"] for e in local["edges"]], abs=1e-5)
