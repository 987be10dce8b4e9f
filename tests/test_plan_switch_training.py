"""The CPU-capable switches in real ``gmr train`` runs of the tiny recipe.

Each run is a subprocess whose transformers methods are wrapped to record their arguments
(the real methods still run): continuous batching must generate every rollout through
``generate_batch`` with gmr's sized cache, and checkpointing options must survive TRL's
re-enabling after each generation (without gmr's fix TRL 1.16 stops with "Unexpected keyword
arguments: every_n_layers").
"""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "recipes" / "tiny.toml"

RECORDER = r"""
import json, os, sys
from transformers import PreTrainedModel
from transformers.generation.continuous_batching.continuous_api import ContinuousMixin

calls = {"generate_batch": [], "set_checkpointing": []}
out = os.environ["GMR_TEST_RECORD"]

def save():
    with open(out, "w") as handle:
        json.dump(calls, handle)

real_batch = ContinuousMixin.generate_batch
def generate_batch(self, inputs, *args, **kwargs):
    result = real_batch(self, inputs, *args, **kwargs)
    config = kwargs.get("continuous_batching_config")
    calls["generate_batch"].append({
        "prompts": len(inputs), "outputs": len(result),
        "tokens": [len(o.generated_tokens) for o in result.values()],
        "num_blocks": getattr(config, "num_blocks", None),
        "max_requests_per_batch": getattr(config, "max_requests_per_batch", None)})
    save()
    return result
ContinuousMixin.generate_batch = generate_batch

real_set = PreTrainedModel._set_gradient_checkpointing
def set_checkpointing(self, enable=True, gradient_checkpointing_func=None, every_n_layers=1):
    calls["set_checkpointing"].append({"enable": enable, "every_n_layers": every_n_layers})
    save()
    kwargs = {} if gradient_checkpointing_func is None else {
        "gradient_checkpointing_func": gradient_checkpointing_func}
    return real_set(self, enable=enable, every_n_layers=every_n_layers, **kwargs)
PreTrainedModel._set_gradient_checkpointing = set_checkpointing

from gamermath.cli import main
sys.argv = ["gmr"] + sys.argv[1:]
main()
"""


def train_recording(tiny_model: Path, tmp_path: Path, *sets: str) -> tuple[dict, Path]:
    run_dir = tmp_path / "run"
    record = tmp_path / "calls.json"
    args = ["train", str(TINY), "--set", f"model.source={tiny_model}", "--set",
            "sft.enabled=false", "--set", "eval.heldout=0", "--run-dir", str(run_dir)]
    for item in sets:
        args += ["--set", item]
    import os

    env = {**os.environ, "GMR_TEST_RECORD": str(record)}
    proc = subprocess.run([sys.executable, "-c", RECORDER, *args], capture_output=True,
                          text=True, timeout=300, env=env)
    assert proc.returncode == 0, proc.stderr[-3000:]
    return json.loads(record.read_text()), run_dir


def test_continuous_batching_generates_every_rollout_on_a_cpu(tiny_model, tmp_path):
    calls, run_dir = train_recording(tiny_model, tmp_path, "grpo.preset=paged")
    batches = calls["generate_batch"]
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()]
    steps = [r for r in rows if r.get("stage") == "grpo" and "loss" in r]
    assert len(steps) == 4 and len(batches) == 4  # one continuous batch per GRPO step
    from gamermath.recipe import load_recipe
    from gamermath.recipe.shape import shape_from_recipe

    shape = shape_from_recipe(load_recipe(run_dir / "recipe.toml", check_plugins=False))
    pages = -(-shape.sequence_tokens // 256)
    for batch in batches:
        # 4 completions per step (batch 4 x accumulation 1), each at most 8 new tokens
        assert batch["prompts"] == batch["outputs"] == 4
        assert all(1 <= n <= 8 for n in batch["tokens"])
        # gmr's sizing: one generation batch, not half of this machine's free RAM
        assert batch["max_requests_per_batch"] == 4
        assert batch["num_blocks"] == 4 * pages
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    assert "use_transformers_continuous_batching = true  # preset paged" in (
        run_dir / "recipe.toml").read_text()


def test_every_n_layers_survives_trl_re_enabling_checkpointing(tiny_model, tmp_path):
    calls, run_dir = train_recording(
        tiny_model, tmp_path, "grpo.gradient_checkpointing=true",
        "grpo.gradient_checkpointing_kwargs={every_n_layers=2}")
    enabled = [c for c in calls["set_checkpointing"] if c["enable"]]
    # enabled when training starts and again after each of the 4 generations
    assert len(enabled) >= 5
    assert all(c["every_n_layers"] == 2 for c in enabled)
    assert (run_dir / "adapter" / "adapter_config.json").is_file()


def test_offload_survives_the_re_enabling_too(tiny_model):
    """The wrapper moves ``offload`` out of the kwargs TRL passes (CPU: checked, not run)."""
    import torch
    from transformers import AutoModelForCausalLM

    from gamermath.engine.switches import keep_checkpointing_options

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    as_trl_does = {"offload": True, "every_n_layers": 2, "use_reentrant": False}
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=dict(as_trl_does))
    layers = model.model.layers
    # unwrapped: transformers forwards offload to torch's checkpoint, which rejects it
    assert layers[0]._gradient_checkpointing_func.keywords.get("offload") is True
    keep_checkpointing_options(model)
    model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=dict(as_trl_does))
    func = layers[0]._gradient_checkpointing_func
    assert func.keywords == {"use_reentrant": False}
    assert func.func is not torch.utils.checkpoint.checkpoint  # the offloading wrapper
    assert [layer.gradient_checkpointing for layer in layers] == [True, False]
