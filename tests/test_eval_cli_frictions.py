"""What a new user meets around ``gmr eval``: an offline run without data fails in one line
before any model loads, an unknown task is one line without lm-eval's indexing noise,
``--threads`` is the count torch evaluates with, a sampled run's score is set beside the
baselines, and a task no baseline is listed for says so."""

from __future__ import annotations

import json
import os
import subprocess
import sys
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def make_data_dir(root: Path, n_test: int = 2) -> Path:
    """GSM8K and MATH-500 files in their original formats, a few rows each."""
    def write(path: Path, rows: list[dict]) -> None:
        path.parent.mkdir(parents=True, exist_ok=True)
        path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")

    def row(a: int) -> dict:
        return {"question": f"What is {a} + {a}?", "answer": f"{a} + {a} = {2 * a}\n#### {2 * a}"}

    write(root / "gsm8k" / "train.jsonl", [row(a) for a in range(1, 11)])
    write(root / "gsm8k" / "test.jsonl", [row(a) for a in range(20, 20 + n_test)])
    write(root / "math500" / "test.jsonl", [
        {"problem": f"What is ${a} + {a}$?", "solution": f"$\\boxed{{{2 * a}}}$",
         "answer": str(2 * a), "subject": "Prealgebra", "level": 1,
         "unique_id": f"test/prealgebra/{a}.json"} for a in range(1, 1 + n_test)])
    return root


def _gmr(*args: str, cwd: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    environ = {k: v for k, v in os.environ.items() if k != "GMR_DATA_DIR"}
    environ.update(env)
    return subprocess.run([str(BIN / "gmr"), *args], capture_output=True, text=True,
                          env=environ, cwd=cwd, timeout=600)


def test_offline_eval_without_data_is_one_line_before_the_model_loads(tiny_model, tmp_path):
    """HF_HUB_OFFLINE=1, no --data-dir, no GMR_DATA_DIR: the data check fails first. The
    model's weights are garbage, so an error about the data proves the model was not
    loaded yet."""
    broken = tmp_path / "broken-model"
    broken.mkdir()
    for item in tiny_model.iterdir():
        (broken / item.name).write_bytes(item.read_bytes())
    for weights in broken.glob("*.safetensors"):
        weights.write_bytes(b"not a safetensors file")
    start = time.perf_counter()
    proc = _gmr("eval", "--harness", "gsm8k", "--model", str(broken), "--limit", "2",
                cwd=tmp_path, HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1")
    elapsed = time.perf_counter() - start
    assert proc.returncode == 2, proc.stderr[-2000:]
    errors = [line for line in proc.stderr.splitlines() if line.startswith("Error:")]
    assert len(errors) == 1 and "Traceback" not in proc.stderr
    assert "eval task 'gsm8k'" in errors[0]
    assert "--data-dir" in errors[0] and "GMR_DATA_DIR" in errors[0]
    assert len(proc.stderr.strip().splitlines()) <= 2  # "evaluating ..." and the error
    assert elapsed < 120  # no hub retries (about 25 s each without the offline flag)


def test_missing_file_in_the_data_dir_names_it(tiny_model, tmp_path):
    data = tmp_path / "data"
    (data / "gsm8k").mkdir(parents=True)
    proc = _gmr("eval", "--harness", "gsm8k", "--model", str(tiny_model),
                "--data-dir", str(data), cwd=tmp_path)
    assert proc.returncode == 2
    assert f"{data / 'gsm8k' / 'train.jsonl'} not found" in proc.stderr
    assert "Traceback" not in proc.stderr


def test_unknown_task_is_one_line_without_lm_eval_noise(tiny_model, tmp_path):
    proc = _gmr("eval", "--harness", "no_such_task", "--model", str(tiny_model), cwd=tmp_path)
    assert proc.returncode == 2
    assert "unknown lm-eval task 'no_such_task'" in proc.stderr
    assert "overrides existing task" not in proc.stderr
    assert len(proc.stderr.strip().splitlines()) <= 2


def test_threads_is_the_count_torch_evaluates_with(tiny_model, tmp_path):
    """``run_harness(threads=1)``: every forward pass of the model runs on one thread, and
    the caller's count is restored afterwards."""
    import torch
    from transformers import AutoModelForCausalLM, AutoTokenizer

    from gamermath.evaluation import resolve_target, run_harness

    data = make_data_dir(tmp_path / "data", n_test=2)
    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    seen: list[int] = []
    model.register_forward_hook(lambda *_: seen.append(torch.get_num_threads()))
    before = torch.get_num_threads()
    want = 1 if before != 1 else 2
    run_harness(resolve_target(str(tiny_model), None), ["gsm8k"], num_fewshot=0, limit=1,
                max_gen_toks=2, data_dir=data, threads=want,
                model_and_tokenizer=(model, tokenizer))
    assert seen and set(seen) == {want}
    assert torch.get_num_threads() == before


def test_threads_must_be_positive(tiny_model):
    proc = _gmr("eval", "--harness", "gsm8k", "--model", str(tiny_model), "--threads", "0")
    assert proc.returncode == 2 and "--threads" in proc.stderr


def test_sampled_compare_shows_our_score_and_a_task_without_baselines_says_so(
        tiny_model, tmp_path):
    """``--samples 2 --compare``: our row carries the avg@2 score with its interval and says
    the run sampled; math500_minerva, which no published baseline matches, gets a line."""
    data = make_data_dir(tmp_path / "data", n_test=2)
    proc = _gmr("eval", "--harness", "gsm8k,math500_minerva", "--model", str(tiny_model),
                "--num-fewshot", "0", "--limit", "2", "--max-gen-toks", "2", "--samples", "2",
                "--data-dir", str(data), "--compare", "--output", str(tmp_path / "out"),
                cwd=tmp_path)
    assert proc.returncode == 0, proc.stderr[-3000:]
    rows = [line.split("\t") for line in proc.stdout.splitlines()]
    ours = next(r for r in rows if r[:2] == ["gsm8k", "ours"])
    assert ours[2] != "-" and ours[2].endswith("]")  # "0.00 [0.0, 65.8]"-like
    assert "sampled: 2 samples per question" in ours[3]
    assert "decoded by sampling instead" in ours[5] and "exact_match_avg@2" in ours[5]
    assert "math500_minerva: no published baseline of the math500 benchmark" in proc.stderr
    # no --threads on a CPU: one thread (bench/eval_threads.py), said and recorded
    assert "(hf, 1 CPU thread)" in proc.stderr
    settings = json.loads((tmp_path / "out" / "results.json").read_text())["settings"]
    assert settings["threads"] == 1
    written = (tmp_path / "out" / "results.md").read_text()
    assert "math500_minerva: no published baseline" in written
