"""The GRPO engine with real TRL trainers on the tiny model, run as users run it: ``gmr train``.

One full SFT + GRPO run checks every run-directory file; further runs are interrupted with
SIGKILL and SIGINT and resumed; a two-process torchrun run checks scale-out.
"""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import time
from pathlib import Path

import pytest

from gamermath.engine.heldout import score_completion
from gamermath.run_dir import RunDir, read_jsonl

REPO = Path(__file__).resolve().parents[1]
TINY = REPO / "recipes" / "tiny.toml"


def env() -> dict[str, str]:
    out = dict(os.environ)
    out.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    return out


def train_cmd(model: Path, run_dir: Path, *extra: str) -> list[str]:
    return [sys.executable, "-m", "gamermath", "train", str(TINY),
            "--set", f"model.source={model}", "--run-dir", str(run_dir), *extra]


def gmr_train(model: Path, run_dir: Path, *extra: str, timeout: int = 240):
    return subprocess.run(train_cmd(model, run_dir, *extra), capture_output=True, text=True,
                          env=env(), timeout=timeout, cwd=REPO)


@pytest.fixture(scope="module")
def full_run(tiny_model, tmp_path_factory):
    """One complete SFT + GRPO run of the tiny recipe."""
    run_dir = tmp_path_factory.mktemp("engine") / "run"
    done = gmr_train(tiny_model, run_dir)
    assert done.returncode == 0, done.stderr[-3000:]
    return run_dir, done


def test_run_directory_files(full_run):
    run_dir, done = full_run
    for name in ("recipe.toml", "environment.json", "metrics.jsonl", "completions.jsonl"):
        assert (run_dir / name).is_file(), name
    saved = (run_dir / "recipe.toml").read_text()
    assert "source = " in saved
    for trl_default in ("loss_type = ", "temperature = ", "scale_rewards = ", "weight_decay = "):
        assert trl_default in saved  # the full resolved form, TRL's own defaults included
    assert RunDir(run_dir).read_recipe().grpo.trl["beta"] == 0.04
    env_record = json.loads((run_dir / "environment.json").read_text())
    assert env_record["packages"]["trl"] and env_record["packages"]["peft"]
    assert env_record["model"]["attention"] == "eager"
    assert env_record["device"]["device"] == "cpu"
    assert any(p["package"] == "gamermath" for p in env_record["plugins"])
    assert (run_dir / "checkpoints" / "sft" / "final" / "complete.json").is_file()
    assert (run_dir / "checkpoints" / "grpo" / "checkpoint-2" / "trainer_state.json").is_file()
    assert (run_dir / "checkpoints" / "grpo" / "checkpoint-4" / "optimizer.pt").is_file()
    adapter = run_dir / "adapter"
    assert (adapter / "adapter_config.json").is_file()
    assert (adapter / "tokenizer_config.json").is_file()
    assert "adapter:" in done.stdout and "bare (n=4): accuracy" in done.stdout
    assert "SFT  (n=4)" in done.stdout and "GRPO (n=4)" in done.stdout


def test_metrics_rows(full_run):
    run_dir, _ = full_run
    rows = read_jsonl(run_dir / "metrics.jsonl")
    sft = [r for r in rows if r["stage"] == "sft" and "loss" in r and "event" not in r]
    grpo = [r for r in rows if r["stage"] == "grpo" and "reward" in r]
    assert [r["step"] for r in sft] == [1, 2]
    assert [r["step"] for r in grpo] == [1, 2, 3, 4]
    for r in sft:
        assert r["loss"] > 0 and r["step_time"] > 0 and r["peak_memory_mb"] > 10
    for r in grpo:
        assert 0.0 <= r["reward"] <= 1.5 and r["reward_std"] >= 0
        for label in ("exact-answer", "format"):
            assert 0.0 <= r[f"rewards/{label}/mean"] <= 1.0
            assert r[f"rewards/{label}/std"] >= 0
            assert r[f"reward_timeouts/{label}"] == 0 and r[f"reward_errors/{label}"] == 0
        assert 0 < r["completion_length"] <= 8
        assert r["kl"] is not None and r["kl"] >= 0  # beta = 0.04
        assert r["step_time"] > 0 and r["peak_memory_mb"] > 10
        assert isinstance(r["loss"], float) and isinstance(r["time"], float)
    # the digit regex gives the random model a learning signal: rewards are not all zero
    assert any(r["rewards/format/mean"] > 0 for r in grpo)
    held = [(r["stage"], r["step"]) for r in rows if "heldout/accuracy" in r]
    assert held == [("sft", 0), ("grpo", 0), ("grpo", 2), ("grpo", 4)]
    for r in rows:
        if "heldout/accuracy" in r:
            assert r["heldout/n"] == 4 and 0 <= r["heldout/accuracy"] <= 1
            assert 0 <= r["heldout/format_rate"] <= 1


def test_completions_rows(full_run):
    run_dir, _ = full_run
    rows = read_jsonl(run_dir / "completions.jsonl")
    assert {r["step"] for r in rows} == {1, 2, 3, 4}
    for r in rows:
        assert r["stage"] == "grpo" and r["prompt"].startswith("What is")
        assert isinstance(r["completion"], str) and r["answer"].isdigit()
        assert set(r["rewards"]) == {"exact-answer", "format"}
        total = r["rewards"]["exact-answer"] + 0.5 * r["rewards"]["format"]
        assert r["reward"] == pytest.approx(total)


def test_adapter_applies_to_base_model(full_run, tiny_model):
    """adapter/ on the base model is the trained model: same weights as the last checkpoint."""
    import torch
    from peft import PeftModel
    from safetensors.torch import load_file
    from transformers import AutoModelForCausalLM

    run_dir, _ = full_run
    final = load_file(run_dir / "adapter" / "adapter_model.safetensors")
    grpo_dir = run_dir / "checkpoints" / "grpo"
    last = load_file(grpo_dir / "checkpoint-4" / "adapter_model.safetensors")
    sft = load_file(run_dir / "checkpoints" / "sft" / "final" / "adapter_model.safetensors")
    assert final.keys() == last.keys() == sft.keys()
    assert all(torch.equal(final[k], last[k]) for k in final)
    assert any(not torch.equal(final[k], sft[k]) for k in final)  # GRPO trained the SFT adapter
    base = AutoModelForCausalLM.from_pretrained(tiny_model)
    model = PeftModel.from_pretrained(base, run_dir / "adapter")
    ids = torch.tensor([[1, 2, 3, 4]])
    assert model(ids).logits.shape[-1] == base.config.vocab_size


def test_bad_lora_target_fails_before_any_training(tiny_model, tmp_path):
    run_dir = tmp_path / "bad-target"
    done = gmr_train(tiny_model, run_dir, "--set", 'lora.target_modules=["q_prj", "v_proj"]')
    assert done.returncode == 2 and "Traceback" not in done.stderr
    line = done.stderr.strip().splitlines()[-1]
    assert str(TINY) in line and "[lora].target_modules: q_prj not found" in line
    assert "q_proj" in line  # the modules the model does have
    assert not run_dir.exists()  # a run that cannot start leaves nothing behind


def test_existing_run_needs_resume(full_run, tiny_model):
    run_dir, _ = full_run
    again = gmr_train(tiny_model, run_dir)
    assert again.returncode == 2 and "--resume" in again.stderr
    assert len(again.stderr.strip().splitlines()) == 1


def _wait_for(predicate, proc, timeout=180.0):
    start = time.monotonic()
    while time.monotonic() - start < timeout:
        if predicate():
            return True
        if proc.poll() is not None:
            return False
        time.sleep(0.05)
    return False


SLOW = ("--set", "grpo.steps=40", "--set", "grpo.max_completion_length=48",
        "--set", "eval.every=100", "--set", "eval.heldout=2")


def test_kill_9_then_resume_continues_at_the_checkpoint(tiny_model, tmp_path):
    run_dir = tmp_path / "killed"
    run = RunDir(run_dir)
    proc = subprocess.Popen(train_cmd(tiny_model, run_dir, *SLOW), env=env(), cwd=REPO,
                            stdout=subprocess.DEVNULL, stderr=subprocess.DEVNULL)
    try:
        assert _wait_for(lambda: run.newest_checkpoint("grpo") is not None
                         and run.newest_checkpoint("grpo").name != "checkpoint-2", proc), \
            "no second GRPO checkpoint appeared"
        proc.send_signal(signal.SIGKILL)
        proc.wait(timeout=30)
    finally:
        if proc.poll() is None:
            proc.kill()
    checkpoint = run.newest_checkpoint("grpo")
    saved_step = int(checkpoint.name.split("-")[1])
    assert 4 <= saved_step < 40
    changed = gmr_train(tiny_model, run_dir, *SLOW, "--set", "grpo.learning_rate=0.5",
                        "--resume")
    assert changed.returncode == 2 and "Traceback" not in changed.stderr
    refusal = changed.stderr.strip().splitlines()
    assert len(refusal) == 1 and "grpo.learning_rate: 0.001 -> 0.5" in refusal[0]
    assert "--force" in refusal[0]
    resumed = gmr_train(tiny_model, run_dir, *SLOW, "--resume")
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    first_line = next(line for line in resumed.stderr.splitlines() if line.startswith("grpo step"))
    assert first_line.startswith(f"grpo step {saved_step + 1}/40")
    rows = read_jsonl(run_dir / "metrics.jsonl")
    steps = [r["step"] for r in rows if r["stage"] == "grpo" and "reward" in r]
    assert steps == list(range(1, 41))  # nothing lost, nothing logged twice
    # the reward counters go on from where the checkpoint left them
    hits = [r["reward_cache_hits/exact-answer"] for r in rows
            if r["stage"] == "grpo" and "reward" in r]
    assert hits == sorted(hits) and hits[-1] > hits[saved_step - 1] > 0
    # same data order: the resumed run goes on through the epoch's permutation of 64
    # distinct problems instead of starting it again, so no prompt comes back in 40 steps
    prompts = {}
    for row in read_jsonl(run_dir / "completions.jsonl"):
        prompts.setdefault(row["step"], row["prompt"])
    assert sorted(prompts) == list(range(1, 41))
    assert len(set(prompts.values())) == 40
    state = json.loads((run_dir / "checkpoints" / "grpo" / "checkpoint-40" /
                        "trainer_state.json").read_text())
    assert state["global_step"] == 40
    assert (run_dir / "adapter" / "adapter_config.json").is_file()


def test_ctrl_c_saves_a_checkpoint_and_the_printed_command_resumes(tiny_model, tmp_path):
    run_dir = tmp_path / "interrupted"
    proc = subprocess.Popen(
        train_cmd(tiny_model, run_dir, *SLOW, "--set", "run.checkpoint_every=1000",
                  "--max-steps", "12"),
        env=env(), cwd=REPO, stdout=subprocess.PIPE, stderr=subprocess.PIPE, text=True,
    )
    metrics = run_dir / "metrics.jsonl"

    def grpo_started() -> bool:
        return any(r.get("stage") == "grpo" and "reward" in r for r in read_jsonl(metrics))

    try:
        assert _wait_for(grpo_started, proc), "GRPO never started"
        proc.send_signal(signal.SIGINT)
        out, err = proc.communicate(timeout=120)
    finally:
        if proc.poll() is None:
            proc.kill()
    assert proc.returncode == 130, err[-2000:]
    message = [line for line in err.splitlines() if line.startswith("gmr: interrupted")]
    assert len(message) == 1 and "--resume" in message[0]
    checkpoint = RunDir(run_dir).newest_checkpoint("grpo")
    assert checkpoint is not None  # saved although the interval (1000) was never reached
    logged = max(r["step"] for r in read_jsonl(metrics) if r.get("stage") == "grpo")
    assert int(checkpoint.name.split("-")[1]) == logged
    assert "Traceback" not in err
    # the printed command alone continues the same run: --set, --max-steps and the data
    # location live in the run's recipe.toml
    command = message[0].split("continue with: ", 1)[1].split()
    assert command[:3] == ["gmr", "train", "--resume"] and len(command) == 4
    resumed = subprocess.run([sys.executable, "-m", "gamermath", *command[1:]],
                             capture_output=True, text=True, env=env(), timeout=240, cwd=REPO)
    assert resumed.returncode == 0, resumed.stderr[-3000:]
    steps = [r["step"] for r in read_jsonl(metrics) if r["stage"] == "grpo" and "reward" in r]
    assert steps == list(range(1, 13))


def test_torchrun_two_cpu_processes(tiny_model, tmp_path):
    run_dir = tmp_path / "ddp"
    torchrun = Path(sys.executable).with_name("torchrun")
    cmd = [str(torchrun), "--nproc_per_node", "2", "--master_port", "29533", "-m", "gamermath",
           "train", str(TINY), "--set", f"model.source={tiny_model}", "--run-dir", str(run_dir),
           "--max-steps", "2"]
    done = subprocess.run(cmd, capture_output=True, text=True, env=env(), timeout=240, cwd=REPO)
    assert done.returncode == 0, done.stderr[-3000:]
    assert (run_dir / "adapter" / "adapter_config.json").is_file()
    record = json.loads((run_dir / "environment.json").read_text())
    assert record["world_size"] == 2
    grpo = [r for r in read_jsonl(run_dir / "metrics.jsonl")
            if r["stage"] == "grpo" and "reward" in r]
    assert [r["step"] for r in grpo] == [1, 2]


def test_heldout_scoring_uses_the_task_metric():
    assert score_completion("<think>3 + 4 = 7</think>\n#### 7", "7") == (True, True)
    assert score_completion("The answer is 7.", "7") == (True, False)
    assert score_completion("#### 8", "#### 1,080") == (False, True)
    assert score_completion("#### 1080", "#### 1,080") == (True, True)
