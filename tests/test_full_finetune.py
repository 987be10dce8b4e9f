"""Full fine-tuning (``[lora] enabled = false``): SFT then GRPO train every weight of the tiny
model through ``gmr train``; the saved model reloads with ``from_pretrained`` and gives the
trained logits; an interrupted run resumes from its checkpoint to the same end."""

from __future__ import annotations

import json
import shutil
import subprocess
import sys
from pathlib import Path

import pytest

from gamermath.run_dir import read_jsonl

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "recipes" / "tiny.toml"
ENV_KEYS = dict(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
                OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")


def gmr(*args: str) -> subprocess.CompletedProcess:
    import os

    return subprocess.run([sys.executable, "-m", "gamermath", *args], capture_output=True,
                          text=True, env={**os.environ, **ENV_KEYS}, timeout=300, cwd=REPO)


def weights(folder: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(folder / "model.safetensors")


@pytest.fixture(scope="module")
def full_ft_run(tiny_model, tmp_path_factory):
    run_dir = tmp_path_factory.mktemp("full-ft") / "run"
    done = gmr("train", str(TINY), "--set", f"model.source={tiny_model}", "--set",
               "lora.enabled=false", "--set", "eval.heldout=0", "--run-dir", str(run_dir))
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir


def test_every_weight_trains_and_the_saved_model_reloads(full_ft_run, tiny_model):
    import torch
    from transformers import AutoModelForCausalLM

    run_dir = full_ft_run
    assert not (run_dir / "adapter").exists()
    final, base = weights(run_dir / "model"), weights(tiny_model)
    sft = weights(run_dir / "checkpoints" / "sft" / "final")
    assert final.keys() == base.keys() == sft.keys()  # whole models, no adapter weights
    # SFT moved every attention and MLP matrix, GRPO moved them again
    matrices = [k for k in base if k.endswith("proj.weight")]
    assert matrices and all(not torch.equal(sft[k], base[k]) for k in matrices)
    assert any(not torch.equal(final[k], sft[k]) for k in matrices)
    last = weights(run_dir / "checkpoints" / "grpo" / "checkpoint-4")
    assert all(torch.equal(final[k], last[k]) for k in final)
    reloaded = AutoModelForCausalLM.from_pretrained(run_dir / "model")
    trained = AutoModelForCausalLM.from_pretrained(run_dir / "checkpoints" / "grpo" /
                                                   "checkpoint-4")
    untrained = AutoModelForCausalLM.from_pretrained(tiny_model)
    ids = torch.tensor([[1, 2, 3, 4, 5]])
    with torch.no_grad():
        logits = reloaded(ids).logits
        assert torch.equal(logits, trained(ids).logits)
        assert not torch.allclose(logits, untrained(ids).logits)
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["lora"] == {"enabled": False}
    assert env["scoring"]["kl_reference"].startswith("the SFT model: a frozen copy TRL loads")


def test_an_interrupted_full_fine_tuning_run_resumes_to_the_same_end(full_ft_run, tmp_path):
    """The run as if stopped after GRPO step 2: resumed, it trains steps 3-4 once."""
    import torch

    copy = tmp_path / "stopped"
    shutil.copytree(full_ft_run, copy)
    shutil.rmtree(copy / "model")
    shutil.rmtree(copy / "checkpoints" / "grpo" / "checkpoint-4")
    resumed = gmr("train", "--resume", str(copy))
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = [r["step"] for r in read_jsonl(copy / "metrics.jsonl")
             if r["stage"] == "grpo" and "reward" in r]
    assert steps == [1, 2, 3, 4]  # nothing lost, nothing logged twice
    state = json.loads((copy / "checkpoints" / "grpo" / "checkpoint-4" /
                        "trainer_state.json").read_text())
    assert state["global_step"] == 4
    again, first = weights(copy / "model"), weights(full_ft_run / "model")
    assert all(torch.allclose(again[k], first[k], atol=1e-5) for k in first)
    complete = gmr("train", "--resume", str(copy))
    assert complete.returncode == 2 and "nothing to resume" in complete.stderr
