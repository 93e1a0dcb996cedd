"""Shared fixtures: tiny random models of five architectures, the bundled real models, and the case files.

Also the helpers more than one module needs: places a graph cannot be saved to, and the ``infoflow`` command run
as a user runs it.
"""

from __future__ import annotations

import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
import torch

# The write-up's cases, kept in the repository (cases/PROVENANCE.md): every test reads them from here.
CASES = Path(__file__).resolve().parents[1] / "cases"
WORDS = "when mary and john went to the store , gave a book felix sarah diego bob alice".split()
ARCHITECTURES = ["gpt2", "gpt_neox", "llama", "qwen2", "gemma3"]


def word_tokenizer(words: list[str] = WORDS):
    """A whitespace word-level tokenizer over ``words`` (WORDS by default), built offline."""
    from tokenizers import Tokenizer, models, pre_tokenizers
    from transformers import PreTrainedTokenizerFast

    vocab = {w: i for i, w in enumerate([*words, "[UNK]"])}
    backend = Tokenizer(models.WordLevel(vocab, unk_token="[UNK]"))
    backend.pre_tokenizer = pre_tokenizers.Whitespace()
    return PreTrainedTokenizerFast(tokenizer_object=backend, unk_token="[UNK]")


def tiny_config(arch: str, vocab: int = len(WORDS) + 1):
    """A small random config; Gemma 3 gets a sliding window of 4, soft-capping and grouped-query attention.

    Transformers' Gemma 3 keeps ``attn_logit_softcapping`` without applying it; ``"gemma2"`` (not in
    ARCHITECTURES, for the tests that need it) soft-caps its attention scores.
    """
    from transformers import Gemma2Config, Gemma3TextConfig, GPT2Config, GPTNeoXConfig, LlamaConfig, Qwen2Config

    common = dict(vocab_size=vocab, bos_token_id=None, eos_token_id=None, pad_token_id=None)
    if arch == "gpt2":
        return GPT2Config(n_embd=32, n_layer=3, n_head=4, n_positions=64, **common)
    # The shared shape of the decoder configs; each architecture adds what it has of its own.
    decoder = dict(
        hidden_size=32,
        intermediate_size=64,
        num_hidden_layers=3,
        num_attention_heads=4,
        max_position_embeddings=64,
        **common,
    )
    if arch == "gpt_neox":
        return GPTNeoXConfig(**decoder)
    if arch == "llama":
        return LlamaConfig(num_key_value_heads=2, **decoder)
    if arch == "qwen2":
        return Qwen2Config(num_key_value_heads=2, **decoder)
    if arch == "gemma2":
        return Gemma2Config(
            num_key_value_heads=1,
            head_dim=8,
            sliding_window=4,
            attn_logit_softcapping=2.0,  # tight, so that capping changes what a knockout does
            query_pre_attn_scalar=8,
            **decoder,
        )
    return Gemma3TextConfig(
        num_key_value_heads=1,
        head_dim=8,
        sliding_window=4,
        layer_types=["sliding_attention", "full_attention", "sliding_attention"],
        attn_logit_softcapping=5.0,
        query_pre_attn_scalar=8,
        **decoder,
    )


def make_tiny(arch: str, attn_implementation: str = "sdpa", words: list[str] = WORDS):
    """A tiny random model, loaded with transformers' default SDPA attention like a user's model.

    ``words``: the vocabulary of its word tokenizer (WORDS by default), plus "[UNK]".
    """
    from transformers import AutoModelForCausalLM

    from infoflow_widget import wrap_model

    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(tiny_config(arch, len(words) + 1), attn_implementation=attn_implementation)
    with torch.no_grad():  # random init is near-uniform attention; sharpen it so edges differ
        for name, param in model.named_parameters():
            if "q_proj" in name or "k_proj" in name or "c_attn" in name or "query_key_value" in name:
                param.mul_(4.0)
    return wrap_model(model, word_tokenizer(words), name=f"tiny-{arch}")


def make_tiny_long(tokens: int):
    """A tiny random Llama whose context holds ``tokens``, its 200-word tokenizer, and two prompts of that many words.

    For long prompts without a bundled model's cost: the memory planner's tests and the long-prompt browser test.
    """
    import random

    from transformers import AutoModelForCausalLM, LlamaConfig

    from infoflow_widget import wrap_model

    words = [f"w{k}" for k in range(200)]
    config = LlamaConfig(vocab_size=201, hidden_size=64, intermediate_size=128, num_hidden_layers=4,
                         num_attention_heads=4, num_key_value_heads=2, max_position_embeddings=tokens + 8)  # fmt: skip
    torch.manual_seed(0)
    model = wrap_model(AutoModelForCausalLM.from_config(config), word_tokenizer(words), name="tiny-long")
    rng = random.Random(0)
    prompts = [" ".join(rng.choice(words) for _ in range(tokens)) for _ in range(2)]
    return model, prompts


@pytest.fixture(scope="session", params=ARCHITECTURES)
def tiny_model(request):
    return make_tiny(request.param)


@pytest.fixture(scope="session")
def tiny_model_folder(tmp_path_factory):
    """A tiny random Llama and its word tokenizer saved to a folder, for ``load_model(folder)`` and the CLI."""
    from transformers import AutoModelForCausalLM

    folder = tmp_path_factory.mktemp("tiny-llama")
    torch.manual_seed(0)
    AutoModelForCausalLM.from_config(tiny_config("llama")).save_pretrained(folder)
    word_tokenizer().save_pretrained(folder)
    return folder


def bundled_tokenizer(name: str):
    """The tokenizer of a bundled model, from its converted folder (the model converts once when the cache is empty).

    Skips the test when the model's package is not installed.
    """
    import importlib.metadata
    import importlib.util

    from infoflow_widget.engine.models import BUNDLED_MODELS, cache_dir

    bundled = BUNDLED_MODELS[name]
    if importlib.util.find_spec(bundled.package) is None:
        pytest.skip(f"{name} is not installed ({bundled.install})")
    folder = cache_dir() / "models" / f"{name}-{importlib.metadata.version(bundled.distribution)}"
    if (folder / "tokenizer.json").is_file():
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(folder)
    from infoflow_widget import load_model

    return load_model(name).tokenizer  # converts the GGUF once, into that folder


@pytest.fixture(scope="session")
def smollm():
    from infoflow_widget import load_model

    return load_model("smollm2-135m")


@pytest.fixture(scope="session")
def gemma():
    from infoflow_widget import load_model

    return load_model("gemma-3-270m")


@pytest.fixture(scope="session")
def ioi_case() -> dict:
    """The IOI case of cases/ioi.json: prompt, answer, distractor, corrupted prompt, expected edges."""
    return json.loads((CASES / "ioi.json").read_text())["cases"][0]


@pytest.fixture(scope="session")
def code_case() -> dict:
    """The code-completion case of cases/code_completion.json, with its prompt read (trailing newline removed)."""
    case = json.loads((CASES / "code_completion.json").read_text())
    return {**case, "prompt": (CASES / case["prompt_file"]).read_text().rstrip("\n")}


def unwritable(tmp_path: Path, case: str) -> Path:
    """A destination no graph can be saved to, made under ``tmp_path``: ``case`` says why (the parametrize ids)."""
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


def infoflow_cli(*args: str, env: dict[str, str] | None = None) -> subprocess.CompletedProcess[str]:
    """``python -m infoflow_widget.cli ARGS`` in a fresh interpreter, ``env`` added to this one's."""
    return subprocess.run(
        [sys.executable, "-m", "infoflow_widget.cli", *args],
        capture_output=True,
        text=True,
        timeout=600,
        env={**os.environ, "OMP_NUM_THREADS": "1", **(env or {})},
    )


def one_line(stderr: str) -> str:
    """The one line a command wrote to stderr (a failure when it wrote more or none)."""
    lines = stderr.strip().splitlines()
    assert len(lines) == 1, stderr
    return lines[0]
