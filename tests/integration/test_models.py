"""Loading: bundled models by short name, the conversion cache, folders, .gguf files and bad names."""

from __future__ import annotations

import os
import shutil
import subprocess
import sys

import pytest

from infoflow_widget import BUNDLED_MODELS, InfoFlowError, UnsupportedModelError, load_model
from infoflow_widget.engine.models import cache_dir

pytestmark = pytest.mark.slow


def test_bundled_smollm_is_llama_with_eager_attention(smollm):
    hf = smollm._module
    assert hf.config.model_type == "llama"
    assert hf.config._attn_implementation == "eager"
    assert hf.config.num_hidden_layers == 30
    assert hf.infoflow_name == "smollm2-135m"


def test_cached_conversion_is_reused(smollm):
    folders = list((cache_dir() / "models").glob("smollm2-135m-*"))
    assert len(folders) == 1
    manifest = folders[0] / "manifest.json"
    stamp = manifest.stat().st_mtime_ns
    load_model("smollm2-135m")
    assert manifest.stat().st_mtime_ns == stamp, "a second load must not convert again"


def test_corrupt_cache_is_rebuilt_not_loaded(smollm, tmp_path, monkeypatch):
    source = next((cache_dir() / "models").glob("smollm2-135m-*"))
    monkeypatch.setenv("INFOFLOW_CACHE", str(tmp_path))
    copy = tmp_path / "models" / source.name
    shutil.copytree(source, copy)
    weights = copy / "model.safetensors"
    with weights.open("r+b") as f:  # a partial download / interrupted write
        f.truncate(weights.stat().st_size // 2)
    with pytest.warns(UserWarning, match="incomplete or corrupt"):
        model = load_model("smollm2-135m")
    assert weights.stat().st_size == (source / "model.safetensors").stat().st_size
    assert not [p for p in (tmp_path / "models").iterdir() if p.name.startswith(".")], "no temporary folder left"
    ids = model.tokenizer("When Mary", return_tensors="pt")["input_ids"]
    assert model._module(ids).logits.isfinite().all()


def test_local_folder_and_gguf_file(smollm, tmp_path, monkeypatch):
    folder = next((cache_dir() / "models").glob("smollm2-135m-*"))
    from_folder = load_model(folder)
    assert from_folder._module.config.model_type == "llama"
    assert from_folder._module.infoflow_name == str(folder)
    monkeypatch.setenv("INFOFLOW_CACHE", str(tmp_path))
    gguf = BUNDLED_MODELS["smollm2-135m"].gguf_path(tmp_path)
    from_gguf = load_model(gguf)
    assert next((tmp_path / "models").glob("SmolLM2-135M-Instruct.Q4_1-*/manifest.json"))
    ids = smollm.tokenizer("When Mary and John", return_tensors="pt")["input_ids"]
    assert (from_gguf._module(ids).logits - smollm._module(ids).logits).abs().max() < 1e-4


def test_hub_id_from_the_local_hub_cache(smollm, tmp_path):
    """A hub id loads offline when its files are in the Hugging Face cache (laid out here by hand)."""
    revision = "0123456789abcdef0123456789abcdef01234567"
    repo = tmp_path / "models--infoflow-test--smollm2"
    (repo / "refs").mkdir(parents=True)
    (repo / "refs" / "main").write_text(revision)
    snapshot = repo / "snapshots" / revision
    snapshot.mkdir(parents=True)
    for file in next((cache_dir() / "models").glob("smollm2-135m-*")).iterdir():
        (snapshot / file.name).symlink_to(file)
    # huggingface_hub reads its cache location at import, so load in a fresh interpreter.
    env = {**os.environ, "HF_HUB_CACHE": str(tmp_path), "HF_HUB_OFFLINE": "1"}
    code = (
        "from infoflow_widget import load_model; m = load_model('infoflow-test/smollm2')._module; "
        "print(m.config.model_type, m.infoflow_name)"
    )
    done = subprocess.run([sys.executable, "-c", code], env=env, capture_output=True, text=True, timeout=300)
    assert done.returncode == 0, done.stderr
    assert done.stdout.split() == ["llama", "infoflow-test/smollm2"]


def test_unknown_name_lists_bundled_models():
    with pytest.raises(UnsupportedModelError, match="smollm2-135m, gemma-3-270m|gemma-3-270m, smollm2-135m"):
        load_model("not-a-model")


@pytest.mark.parametrize(
    ("device", "message"),
    [("gpu", "Unknown device 'gpu'"), ("cuda:0", "not available on this machine"), ("mps", "not available")],
)
def test_a_device_this_machine_lacks_fails_before_loading(device, message):
    import torch

    if device.startswith("cuda") and torch.cuda.is_available() or device == "mps" and torch.backends.mps.is_available():
        pytest.skip(f"this machine has {device}")
    with pytest.raises(InfoFlowError, match=message):
        load_model("no-such-model", device=device)  # the device is checked before the name is looked up


def test_unreachable_hub_id_says_what_to_do(monkeypatch):
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    with pytest.raises(UnsupportedModelError, match="bundled model"):
        load_model("nobody-here/no-such-model")


def test_bundled_gemma_is_gemma3_and_solves_ioi(gemma):
    from infoflow_widget import FlowEngine, LogitDiff

    hf = gemma._module
    assert hf.config.model_type.startswith("gemma3")
    assert hf.config.sliding_window == 512
    engine = FlowEngine(
        gemma, "When Mary and John went to the store, John gave a book to", LogitDiff(" Mary", " John"), progress=False
    )
    assert engine.tokens[0] == "<bos>"
    assert engine.clean_metric > 0


@pytest.mark.parametrize("bars_before", [True, False])
def test_a_quiet_load_writes_no_bar_and_restores_the_bars(tiny_model_folder, capfd, bars_before):
    """``load_model(..., quiet=True)`` (the widget loading by name, the CLI's --quiet): no "Loading weights" bar."""
    from huggingface_hub import utils as hub_utils
    from transformers.utils import logging as transformers_logging

    before = (transformers_logging.is_progress_bar_enabled(), hub_utils.are_progress_bars_disabled())
    if not bars_before:
        transformers_logging.disable_progress_bar()
    try:
        capfd.readouterr()
        model = load_model(tiny_model_folder, quiet=True)
        assert "Loading weights" not in capfd.readouterr().err
        assert model.config.model_type == "llama"
        assert transformers_logging.is_progress_bar_enabled() is bars_before
        assert hub_utils.are_progress_bars_disabled() is (not bars_before)
    finally:
        (transformers_logging.enable_progress_bar if before[0] else transformers_logging.disable_progress_bar)()
        (hub_utils.disable_progress_bars if before[1] else hub_utils.enable_progress_bars)()
