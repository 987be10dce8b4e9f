"""GRPO-stage options on real ``gmr train`` runs of the tiny recipe (GRPO alone, 4 steps).

``[grpo] zero_variance`` (skip, resample) and ``[run] control = "random-reward"``.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

from gamermath.run_dir import read_jsonl

REPO = Path(__file__).resolve().parents[1]


def tiny_grpo(model: Path, run_dir: Path, *sets: str) -> list[dict]:
    """The GRPO step rows of a tiny-recipe run with SFT off and extra ``--set`` items."""
    env = dict(os.environ, HF_HUB_OFFLINE="1", TRANSFORMERS_OFFLINE="1", OMP_NUM_THREADS="1",
               TOKENIZERS_PARALLELISM="false")
    items = [arg for item in ("sft.enabled=false", *sets) for arg in ("--set", item)]
    done = subprocess.run(
        [sys.executable, "-m", "gamermath", "train", str(REPO / "recipes" / "tiny.toml"),
         "--set", f"model.source={model}", "--run-dir", str(run_dir), *items],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    return [r for r in read_jsonl(run_dir / "metrics.jsonl")
            if r["stage"] == "grpo" and "reward" in r]


def test_skip_leaves_out_groups_without_signal(tiny_model, tmp_path):
    rows = tiny_grpo(tiny_model, tmp_path / "skip", "grpo.zero_variance=skip")
    assert [r["step"] for r in rows] == [1, 2, 3, 4]
    for r in rows:  # one prompt per step: it is either trained on or left out
        assert r["zero_variance/groups"] + r["zero_variance/kept_groups"] == 1
        assert r["zero_variance/rounds"] == 1
        assert (r["zero_variance/groups"] == 1) == (r["frac_reward_zero_std"] == 1)


def test_resample_draws_fresh_prompts_up_to_its_rounds(tiny_model, tmp_path):
    # a random model never answers right: with the format term weighted 0 every group scores
    # the same, so each step resamples twice, finds nothing, and trains on one group
    rows = tiny_grpo(tiny_model, tmp_path / "resample", "grpo.zero_variance=resample",
                     "grpo.resample_rounds=2", "rewards.format.weight=0")
    assert len(rows) == 4
    for r in rows:
        assert r["zero_variance/rounds"] == 3 and r["zero_variance/kept_groups"] == 0
        assert r["frac_reward_zero_std"] == 1


def test_random_reward_control_pays_noise_and_logs_the_real_scores(tiny_model, tmp_path):
    run_dir = tmp_path / "control"
    rows = tiny_grpo(tiny_model, run_dir, "run.control=random-reward")
    paid = [r["rewards/exact-answer/mean"] for r in rows]
    real = [r["control/real/exact-answer/mean"] for r in rows]
    assert real == [0.0] * 4  # a random model is never right...
    assert any(p > 0 for p in paid)  # ...yet the control pays it half the time
    for r in rows:
        assert r["rewards/exact-answer/mean"] in {0.0, 0.25, 0.5, 0.75, 1.0}
        assert 0.0 <= r["control/real/format/mean"] <= 1.0
    recorded = read_jsonl(run_dir / "completions.jsonl")
    assert recorded and all(r["rewards"]["exact-answer"] == 0.0 for r in recorded)  # real scores
    assert 'control = "random-reward"' in (run_dir / "recipe.toml").read_text()
