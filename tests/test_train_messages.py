"""What ``gmr train`` tells its user, in one real run of the tiny model (a subprocess).

The run's reward (exact answers from a random model) is 0 on every completion, so the
no-signal warning must appear once; the run still completes.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]

RECIPE = """
[model]
source = "{model}"
dtype = "float32"
attention = "eager"

[lora]
r = 4
alpha = 8
target_modules = ["q_proj", "v_proj"]

[data]
dataset = "arith"
template = "plain"
limit = 32
options = {{ train_size = 100, test_size = 20 }}

[[rewards]]
name = "exact-answer"

[sft]
limit = 8
epochs = 1
batch_size = 4
max_length = 64

[grpo]
generations = 4
batch_size = 4
max_completion_length = 6
steps = 3

[eval]
heldout = 6
every = 2
max_new_tokens = 6
batch_size = 4

[run]
seed = 0
reward_workers = 1
"""


def test_train_says_where_what_and_next_and_warns_without_signal(tiny_model, tmp_path):
    recipe = tmp_path / "silent.toml"
    recipe.write_text(RECIPE.format(model=tiny_model))
    run_dir = tmp_path / "run"
    env = dict(os.environ, OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    done = subprocess.run(
        [sys.executable, "-m", "gamermath", "train", str(recipe), "--run-dir", str(run_dir)],
        capture_output=True, text=True, env=env, timeout=300, cwd=REPO,
    )
    assert done.returncode == 0, done.stderr[-3000:]
    err = done.stderr.splitlines()
    # the first lines: the run directory, then the stages in order
    assert err[0] == f"gmr train: run directory {run_dir}"
    stages = [line.strip() for line in err[1:7]]
    assert stages == [
        "1. load the model and check the recipe",
        "2. held-out accuracy of the bare model (6 problems)",
        "3. SFT warm-up (2 steps)",
        "4. held-out accuracy (6 problems)",
        "5. GRPO (3 steps, 1 prompts x 4 completions a step), held-out accuracy every 2 "
        "steps and at the end",
        "6. save the adapter",
    ]
    text = done.stderr
    # model load and pre-flight checks say what they do
    assert f"loading {tiny_model} (float32" in text
    assert "model loaded in " in text and "checks passed: 32 training prompts, 6 held-out" in text
    # every held-out evaluation announces itself and its result
    for label in ("held-out (sft step 0)", "held-out (grpo step 0)", "held-out (grpo step 2)",
                  "held-out (grpo step 3)"):
        assert f"{label}: 6 problems, greedy" in text, label
        assert f"{label}: accuracy " in text, label
    # the reward is 0 everywhere: warned once, with what to try
    assert text.count("warning: no signal: the reward was 0 on every completion for the first "
                      "3 GRPO steps") == 1
    for remedy in ("[grpo] generations", "SFT warm-up", "format reward", "temperature",
                   "easier dataset"):
        assert remedy in text, remedy
    # the end says how to look at the result
    assert f"gmr report {run_dir}" in done.stdout
    assert f"gmr eval --harness gsm8k --model {tiny_model} --adapter {run_dir}" in done.stdout
    assert f"gmr card {run_dir}" in done.stdout
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
