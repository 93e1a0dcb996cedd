"""A process that ends while a widget computes ends cleanly: its computation is cancelled and joined first.

Left running, the daemon thread is still inside torch when the interpreter finalises, and the process
aborts ("terminate called without an active exception", exit status 134; a kernel dies with SIGABRT).
"""

from __future__ import annotations

import os
import subprocess
import sys
import time
from pathlib import Path

import pytest

pytest.importorskip("anywidget")

TESTS = Path(__file__).resolve().parents[1]
PROMPT = " ".join(["when mary and john went to the store , john gave a book to"] * 3)  # 42 tokens: 903 edges

# Creates a widget, moves alpha (a new computation starts) and ends at once. The model is random but not
# tiny: its batches spend their time in torch's kernels, where an abandoned thread aborts the exit (five
# runs of five aborted before the fix); a tiny model's mostly wait for the interpreter, and often do not.
SCRIPT = f"""
import sys
sys.path.insert(0, {str(TESTS)!r})
import torch
from transformers import AutoModelForCausalLM, LlamaConfig
from conftest import WORDS, word_tokenizer
from infoflow_widget import InfoFlowWidget, wrap_model

torch.manual_seed(0)
config = LlamaConfig(vocab_size=len(WORDS) + 1, hidden_size=256, intermediate_size=1024, num_hidden_layers=4,
                     num_attention_heads=8, num_key_value_heads=4, max_position_embeddings=128,
                     bos_token_id=None, eos_token_id=None, pad_token_id=None)
model = wrap_model(AutoModelForCausalLM.from_config(config), word_tokenizer(), name="small-llama")
widget = InfoFlowWidget(model, {PROMPT!r}, answer="mary", distractor="john", intervention="dampen")
widget.alpha = 1.5
print("computing", widget.computing, flush=True)
"""


def test_a_script_that_ends_while_the_widget_computes_exits_cleanly():
    env = {**os.environ, "OMP_NUM_THREADS": "1"}
    result = subprocess.run([sys.executable, "-c", SCRIPT], capture_output=True, text=True, timeout=300, env=env)
    assert "computing True" in result.stdout, "the script ended while the widget computed"
    assert "terminate called" not in result.stderr
    assert result.returncode == 0, result.stderr[-2000:]


def test_a_kernel_shut_down_while_the_widget_computes_exits_cleanly():
    """ipykernel's shutdown (and restart) ends the process normally, which runs the exit handlers."""
    jupyter_client = pytest.importorskip("jupyter_client")
    pytest.importorskip("ipykernel")
    manager = jupyter_client.KernelManager(kernel_name="python3")
    manager.start_kernel(env={**os.environ, "OMP_NUM_THREADS": "1"})
    client = manager.client()
    client.start_channels()
    try:
        client.wait_for_ready(timeout=120)
        outputs = []
        reply = client.execute_interactive(
            SCRIPT, timeout=240, output_hook=lambda msg: outputs.append(msg["content"].get("text", ""))
        )
        assert reply["content"]["status"] == "ok", reply["content"]
        assert "computing True" in "".join(outputs)
        process = manager.provisioner.process
        client.shutdown()
        deadline = time.monotonic() + 60
        while process.poll() is None and time.monotonic() < deadline:
            time.sleep(0.1)
        assert process.poll() == 0, f"the kernel ended with {process.poll()} (-6: aborted)"
    finally:
        client.stop_channels()
        if manager.is_alive():
            manager.shutdown_kernel(now=True)
        manager.cleanup_resources()


def test_close_stops_the_computation_and_nothing_starts_after_it():
    sys.path.insert(0, str(TESTS))
    from conftest import make_tiny

    import infoflow_widget.engine.engine as engine_module
    from infoflow_widget import InfoFlowWidget

    previous, engine_module.MAX_BATCH = engine_module.MAX_BATCH, 1  # many small passes: it is still running
    try:
        widget = InfoFlowWidget(make_tiny("llama"), PROMPT, answer="mary", distractor="john", intervention="dampen")
        widget.alpha = 1.5
        assert widget.computing
        widget.close()
        assert widget._computation.busy() == [], "cancelled and joined"
        widget.alpha = 0.7
        assert widget._computation.busy() == [], "a closed widget computes nothing"
    finally:
        engine_module.MAX_BATCH = previous
