"""bench/gpu_paper_recipe.py: runnable in one command; its CPU smoke mode runs the same path."""

from __future__ import annotations

import json
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
SCRIPT = REPO / "bench" / "gpu_paper_recipe.py"


def test_help_works_without_a_gpu():
    proc = subprocess.run([sys.executable, str(SCRIPT), "--help"], capture_output=True,
                          text=True, timeout=60)
    assert proc.returncode == 0 and "--cpu-smoke" in proc.stdout


def test_without_cuda_the_gpu_run_refuses_in_one_line(tmp_path):
    import torch

    if torch.cuda.is_available():
        return
    proc = subprocess.run([sys.executable, str(SCRIPT), "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=120)
    assert proc.returncode == 2 and "no CUDA GPU" in proc.stderr


def test_cpu_smoke_runs_gmr_train_and_plain_trl_with_fixed_lengths(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--cpu-smoke", "--output", str(tmp_path)],
                          capture_output=True, text=True, timeout=600)
    assert proc.returncode == 0, proc.stderr[-3000:]
    result = json.loads((tmp_path / "gpu_paper_recipe.json").read_text())
    trl, gmr, plan = result["trl"], result["gmr"], result["planner"]
    # every completion has exactly max_completion_length tokens, on both sides
    assert trl["mean_completion_length"] == trl["completion_tokens"] == 8
    assert gmr["mean_completion_length"] == 8, gmr
    assert trl["step_time_s"] > 0 and gmr["step_time_s"] > 0 and trl["tokens_per_s"] > 0
    assert "step time gmr / TRL" in result["ratios"]
    assert plan["peak_tensors_mb"] > 0
    variants = result["variants"]
    # every switch is listed; on a CPU those that need CUDA are skipped, the rest run
    assert set(variants) == {"plain", "no-checkpointing", "offload", "liger", "paged", "4-bit",
                             "vllm-awake", "vllm-sleep", "lean", "lean-vllm"}
    for name in ("offload", "liger", "4-bit", "vllm-awake", "vllm-sleep", "lean", "lean-vllm"):
        assert variants[name] == {"skipped": "needs CUDA"}
    assert "same as plain" in variants["no-checkpointing"]["skipped"]
    paged = variants["paged"]
    assert paged["steps"] == 2 and paged["step_time_s"] > 0 and paged["tokens_per_s"] > 0
    assert "grpo.preset=paged" in paged["sets"]
    assert paged["planner"]["peak_tensors_mb"] > 0
    # the planner saw the switch: a paged cache instead of generate's KV cache
    assert any(k.startswith("generation: paged KV cache") for k in paged["planner"][
        "components_mb"])
    table = (tmp_path / "gpu_paper_recipe.md").read_text()
    assert "| gmr plain |" in table and "| plain TRL + PEFT |" in table
    assert "| gmr vllm-sleep | not run: needs CUDA |" in table
    assert "- `vllm-sleep`" not in table and "- `paged`: `grpo.preset=paged`" in table


def test_an_unknown_variant_is_refused_in_one_line(tmp_path):
    proc = subprocess.run([sys.executable, str(SCRIPT), "--cpu-smoke", "--variants", "plain,vlm",
                           "--output", str(tmp_path)], capture_output=True, text=True, timeout=60)
    assert proc.returncode == 2 and "unknown variant(s) vlm" in proc.stderr
