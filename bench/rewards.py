"""Reward throughput: gmr's runner against TRL's ``trl.rewards.accuracy_reward``.

Builds realistic GRPO batches from the local GSM8K and MATH-500 test sets: groups of 8
completions per problem, each reusing the reference solution's reasoning and ending in a right
or wrong final answer in the styles policies produce (``#### 1,080``, ``\\boxed{}``, think tags,
the paper's ``#### The final answer is N``), with answers repeated inside a group. Both sides
score the same completions in batches of 64 in this process, one after the other:

- TRL: ``accuracy_reward(completions, solution)`` in the main thread (its own signal timeouts
  on), golds given as ``$<answer>$`` so that math-verify parses them;
- gmr: ``RewardRunner(workers=N)`` with ``exact-answer`` for GSM8K rows and
  ``sympy-equivalence`` for MATH rows (isolated workers, timeouts, parent-side cache).

Two rounds on different problems: *cold* (TRL in a fresh process, gmr starting its worker
pool) and *warm* (both sides after round 1). Prints both times, the ratio and the verdict
agreement (a *lost* verdict is a sample TRL
rewards and gmr does not). Usage::

    python bench/rewards.py --data-dir ../shared/data [--gsm8k 150 --math 125 --workers 2]
"""

from __future__ import annotations

import argparse
import json
import os
import platform
import random
import re
import sys
import time
from pathlib import Path

GROUP = 8
BATCH = 64


def wrong_number(gold: int, rng: random.Random) -> int:
    return gold + rng.choice([-10, -2, -1, 1, 1, 2, 5, gold or 3])


def gsm8k_groups(rows: list[dict], rng: random.Random) -> list[tuple[str, str, str]]:
    """(completion, gmr gold, TRL gold) triples, 8 per problem."""
    out = []
    for row in rows:
        reasoning, final = row["answer"].rsplit("####", 1)
        reasoning = re.sub(r"<<[^>]*>>", "", reasoning).strip()
        gold = int(final.strip().replace(",", ""))
        answers = [gold, gold, wrong_number(gold, rng)]  # a few distinct answers per group
        for k in range(GROUP):
            answer = rng.choice(answers)
            style = k % 4
            if style == 0:
                text = f"{reasoning}\n#### {answer:,}"
            elif style == 1:
                text = f"{reasoning}\nThe final answer is $\\boxed{{{answer}}}$."
            elif style == 2:
                text = f"<think>{reasoning}</think>\n#### {answer}"
            else:
                text = f"{reasoning}\n#### The final answer is {answer}"
            out.append((text, row["answer"], f"${gold}$"))
    return out


def _strip_boxed(solution: str) -> str:
    return solution.replace("\\boxed", "")


def math_groups(rows: list[dict], rng: random.Random) -> list[tuple[str, str, str]]:
    """(completion, gmr gold, TRL gold) triples, 8 per problem."""
    out = []
    for row in rows:
        answer = row["answer"].strip()
        reasoning = _strip_boxed(row["solution"]).strip()[-1500:]
        equivalent = answer.replace("\\frac", "\\dfrac") if "\\frac" in answer else answer
        number = re.fullmatch(r"-?\d+", answer)
        wrong = str(int(answer) + 1) if number else f"2\\cdot\\left({answer}\\right)+1"
        finals = [answer, answer, equivalent, wrong]
        for _ in range(GROUP):
            final = rng.choice(finals)
            text = f"{reasoning}\n\nThe final answer is $\\boxed{{{final}}}$."
            out.append((text, answer, f"${answer}$"))
    return out


def load(data_dir: Path, n_gsm8k: int, n_math: int, seed: int, offset: int = 0):
    """GSM8K- and MATH-style samples from problems ``offset*n .. (offset+1)*n``."""
    rng = random.Random(seed + offset)
    gsm = [json.loads(x) for x in (data_dir / "gsm8k" / "test.jsonl").open()]
    math = [json.loads(x) for x in (data_dir / "math500" / "test.jsonl").open()]
    gsm = gsm[offset * n_gsm8k : (offset + 1) * n_gsm8k]
    math = math[offset * n_math : (offset + 1) * n_math]
    return gsm8k_groups(gsm, rng), math_groups(math, rng)


def batches(items: list, size: int = BATCH):
    for start in range(0, len(items), size):
        yield items[start : start + size]


def run_trl(samples: list[tuple[str, str, str]]) -> tuple[list, float]:
    """TRL's verdicts and seconds, batch by batch, in this process's main thread."""
    from trl.rewards import accuracy_reward

    verdicts: list = []
    started = time.perf_counter()
    for chunk in batches(samples):
        completions = [[{"role": "assistant", "content": c}] for c, _, _ in chunk]
        verdicts.extend(accuracy_reward(completions, [t for _, _, t in chunk]))
    return verdicts, time.perf_counter() - started


def run_gmr(runner, gsm, math) -> tuple[list, list, float, dict]:
    """gmr's verdicts and seconds through ``runner`` (exact-answer / sympy-equivalence)."""
    from gamermath import plugins

    exact = plugins.get("reward", "exact-answer")
    sympy = plugins.get("reward", "sympy-equivalence")
    runner.cache.clear()
    runner.counters.clear()
    verdicts: dict[str, list] = {"gsm": [], "math": []}
    started = time.perf_counter()
    for key, reward, samples in (("gsm", exact, gsm), ("math", sympy, math)):
        for chunk in batches(samples):
            texts = [c for c, _, _ in chunk]
            golds = [{"answer": g} for _, g, _ in chunk]
            verdicts[key].extend(runner.score(reward, texts, golds))
    seconds = time.perf_counter() - started
    counters = {k: dict(v) for k, v in runner.counters.items()}
    return verdicts["gsm"], verdicts["math"], seconds, counters


def agreement(trl: list, ours: list) -> dict[str, int]:
    counts = {"both 1": 0, "both 0": 0, "lost (TRL 1, gmr 0)": 0, "gained (TRL 0, gmr 1)": 0,
              "TRL skipped (None)": 0}
    for t, o in zip(trl, ours, strict=True):
        if t is None:
            counts["TRL skipped (None)"] += 1
        elif t == 1.0 and o == 1.0:
            counts["both 1"] += 1
        elif t == 0.0 and o == 0.0:
            counts["both 0"] += 1
        elif t == 1.0:
            counts["lost (TRL 1, gmr 0)"] += 1
        else:
            counts["gained (TRL 0, gmr 1)"] += 1
    return counts


def compare(label: str, runner, gsm, math) -> tuple[list[int], float]:
    """Time both sides on the same samples; print times, ratio and verdicts; return the
    lost verdicts and the ratio."""
    samples = gsm + math
    trl_verdicts, trl_seconds = run_trl(samples)
    ours_gsm, ours_math, seconds, counters = run_gmr(runner, gsm, math)
    ours = ours_gsm + ours_math
    print(f"[{label}] {len(samples)} completions ({len(gsm)} GSM8K-style, {len(math)} MATH-style)")
    print(f"  TRL accuracy_reward : {trl_seconds:6.2f} s ({len(samples) / trl_seconds:6.0f}/s)")
    print(f"  gmr runner          : {seconds:6.2f} s ({len(samples) / seconds:6.0f}/s)")
    print(f"  ratio TRL / gmr     : {trl_seconds / seconds:.1f}x")
    print(f"  gmr counters        : {counters}")
    for name, trl_part, ours_part in (
        ("GSM8K", trl_verdicts[: len(gsm)], ours_gsm),
        ("MATH", trl_verdicts[len(gsm) :], ours_math),
    ):
        print(f"  verdicts {name:5s}      : {agreement(trl_part, ours_part)}")
    pairs = enumerate(zip(trl_verdicts, ours, strict=True))
    lost = [i for i, (t, o) in pairs if t == 1.0 and o != 1.0]
    for i in lost[:5]:
        print(f"  lost #{i}: gold {samples[i][1][-40:]!r} completion ...{samples[i][0][-120:]!r}")
    return lost, trl_seconds / seconds


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    default_data = Path(__file__).resolve().parents[2] / "shared" / "data"
    parser.add_argument("--data-dir", type=Path,
                        default=Path(os.environ.get("GMR_DATA_DIR", default_data)))
    parser.add_argument("--gsm8k", type=int, default=150, help="GSM8K problems per round (x8)")
    parser.add_argument("--math", type=int, default=125, help="MATH-500 problems per round (x8)")
    parser.add_argument("--workers", type=int, default=2)
    parser.add_argument("--seed", type=int, default=0)
    args = parser.parse_args(argv)
    if not (args.data_dir / "gsm8k" / "test.jsonl").is_file():
        print(f"no GSM8K test set under {args.data_dir}; pass --data-dir", file=sys.stderr)
        return 2
    from gamermath.rewards.runner import RewardRunner

    print(f"{os.cpu_count()} CPUs visible, {args.workers} gmr workers, groups of {GROUP}, "
          f"batches of {BATCH}; {platform.platform()}")
    with RewardRunner(workers=args.workers) as runner:
        # Round 1, cold: a fresh process for TRL, a fresh worker pool (its start included).
        lost, _ = compare(
            "cold", runner, *load(args.data_dir, args.gsm8k, args.math, args.seed, 0)
        )
        # Round 2, warm: other problems, after both sides have run round 1 (as in training,
        # where the parser caches of TRL's process and of gmr's workers are warm).
        warm_lost, warm = compare(
            "warm", runner, *load(args.data_dir, args.gsm8k, args.math, args.seed, 1)
        )
    lost += warm_lost
    print(f"verdict: {'no verdict lost' if not lost else f'{len(lost)} verdicts lost'}")
    print(f"RESULT warm ratio TRL accuracy_reward / gmr = {warm:.2f}x "
          f"(goal >= 2.9x on a quiet machine), verdicts lost = {len(lost)}")
    return 0


if __name__ == "__main__":
    sys.exit(main())
