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
    table = (tmp_path / "gpu_paper_recipe.md").read_text()
    assert "| gmr train |" in table and "| plain TRL + PEFT |" in table
