"""The reward conformance battery behind ``gmr reward check NAME``.

Runs any reward, built-in or third-party, through the real ``RewardRunner`` on inputs that
break naive rewards (empty text, a megabyte, invalid Unicode, power towers, deep fractions,
chat-message input, a 512-sample GRPO-shaped batch) and lists every contract violation:
wrong length, non-float, NaN, a value outside ``output_range``, an exception, a timeout, a
batch over its time budget, a slow or inconsistent ``cache_key``.
"""

from __future__ import annotations

import math
import random
import time
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gamermath.errors import GmrError
from gamermath.rewards.completions import completion_text
from gamermath.rewards.module_hooks import module_function
from gamermath.rewards.options import resolve_options
from gamermath.rewards.runner import RewardRunner, SampleResult
from gamermath.specs import Reward

#: Wall-clock budget of the 512-sample batch, and of every other case.
BATCH_BUDGET_S = 60.0
CASE_BUDGET_S = 30.0
#: cache_key runs in the trainer's process: it must be cheap even on a megabyte.
CACHE_KEY_BUDGET_S = 0.5


@dataclass
class Case:
    """One battery entry: completions (text or chat messages) and the gold for each."""

    name: str
    completions: list[Any]
    golds: list[str]
    budget_s: float = CASE_BUDGET_S


@dataclass
class CaseReport:
    """What one case produced and what it violated."""

    name: str
    samples: int
    seconds: float
    violations: list[str] = field(default_factory=list)


def _nested_fraction(depth: int) -> str:
    return "\\frac{1}{" * depth + "2" + "}" * depth


def realistic_batch(size: int = 512, group: int = 8, seed: int = 0) -> tuple[list[str], list[str]]:
    """GRPO-shaped completions: groups of ``group`` answers to one problem, many repeated."""
    rng = random.Random(seed)
    completions: list[str] = []
    golds: list[str] = []
    for g in range(size // group):
        gold = rng.randint(1, 5000)
        for k in range(group):
            answer = gold if rng.random() < 0.5 else gold + rng.choice([-10, -1, 1, 2, 100])
            style = k % 4
            if style == 0:
                text = f"<think>{gold} minus nothing.</think>\nSo {answer}.\n#### {answer:,}"
            elif style == 1:
                text = f"Step 1: add. Step 2: multiply.\nThe final answer is $\\boxed{{{answer}}}$."
            elif style == 2:
                text = f"Step by step: {g} + {k} = {g + k}. The answer is {answer} apples."
            else:
                text = f"<think>hmm</think> I am not sure. Maybe {answer}, maybe {answer + 1}."
            completions.append(text)
            golds.append(f"She has {gold} in total.\n#### {gold:,}")
    return completions, golds


def battery() -> list[Case]:
    """The inputs every reward must survive."""
    invalid = b"\xff\xfe answer \xed\xa0\x80 is 4\x00 #### 4".decode("utf-8", "surrogateescape")
    towers = [
        "\\boxed{2^{2^{2^{2^{99}}}}}",
        "\\boxed{9^{9^{9^{9}}}}",
        "#### 10**10**10**10",
        "The answer is $10^{10^{10^{10}}}$",
        "\\boxed{9999999999^{9999999999}}",
        "\\boxed{(2^{99})!}",
    ]
    nested = [f"\\boxed{{{_nested_fraction(d)}}}" for d in (5, 20, 60)] + ["\\boxed{\\frac{1}{"]
    plain = [
        "<think>7 * 6 = 42</think>\n#### 42",
        "The answer is $\\boxed{42}$.",
        "I think it is 41.",
        "",
    ]
    batch, batch_golds = realistic_batch()
    return [
        Case("empty", ["", "", "   "], ["42", "", "42"]),
        Case("1 MB", ["step " * 200_000 + "\n#### 42", "{" * 1_000_000], ["42", "42"]),
        Case(
            "pathological 1 MB",  # quadratic regexes blow up on these (issue 13)
            ["#### " + " " * 1_000_000 + "x", "\\frac{" + " " * 1_000_000 + "x",
             "\\boxed{" * 140_000, "the answer is" + " " * 1_000_000 + "x"],
            ["42"] * 4,
        ),
        Case("invalid Unicode", [invalid, "\ud800\udfff #### 42", "\x00" * 100], ["4", "42", "42"]),
        Case("huge exponents", towers, ["42"] * (len(towers) - 1) + ["10^{10^{10^{10}}}"]),
        Case("nested fractions", nested, ["1/2"] * len(nested)),
        Case(
            "conversational",
            [[{"role": "assistant", "content": text}] for text in plain],
            ["42"] * len(plain),
        ),
        Case("plain", plain, ["42"] * len(plain)),
        Case("batch of 512", batch, batch_golds, budget_s=BATCH_BUDGET_S),
    ]


def _columns(reward: Reward, gold: str) -> dict[str, Any]:
    return {column: gold for column in reward.columns}


def _violations(reward: Reward, results: Sequence[SampleResult], n: int) -> list[str]:
    found: list[str] = []
    if len(results) != n:
        found.append(f"wrong length: {len(results)} results for {n} inputs")
    low, high = reward.output_range
    seen: set[str] = set()
    for i, result in enumerate(results):
        if result.status == "timeout":
            problem = f"time over budget: no result within {reward.timeout:g} s"
        elif result.status in ("oom", "cpu_limit"):
            problem = f"over a worker limit: {result.detail}"
        elif result.status == "error" and "not a float" in result.detail:
            problem = f"non-float: {result.detail}"
        elif result.status == "error" and "finite" in result.detail:
            problem = f"NaN or infinite: {result.detail}"
        elif result.status == "error":
            problem = f"exception: {result.detail}"
        elif not isinstance(result.reward, float) or math.isnan(result.reward):
            problem = f"non-float result {result.reward!r}"
        elif not low <= result.reward <= high:
            problem = f"value {result.reward:g} outside the declared range [{low:g}, {high:g}]"
        else:
            continue
        if problem not in seen:
            seen.add(problem)
            found.append(f"sample {i}: {problem}")
    return found


def _declaration_violations(reward: Reward) -> list[str]:
    found = []
    low, high = reward.output_range
    if not (math.isfinite(low) and math.isfinite(high) and low <= high):
        found.append(f"output_range {reward.output_range} is not a finite [low, high]")
    if not reward.timeout > 0:
        found.append(f"timeout {reward.timeout} must be positive")
    if not all(isinstance(c, str) for c in reward.columns):
        found.append("columns must be strings")
    return found


def _cache_key_violations(
    reward: Reward, options: Mapping[str, Any], cases: Sequence[Case], scored: Mapping[str, list]
) -> list[str]:
    if reward.cache_key is None:
        return []
    verdict = module_function(reward, "key_verdict")
    found: list[str] = []
    for case in cases:
        texts = [completion_text(c) for c in case.completions]
        keys = []
        for text, gold in zip(texts, case.golds, strict=True):
            started = time.perf_counter()
            try:
                key = reward.cache_key(text, _columns(reward, gold), options)
                hash(key)
            except Exception as exc:
                found.append(f"{case.name}: cache_key raised {type(exc).__name__}: {exc}")
                break
            took = time.perf_counter() - started
            if took > CACHE_KEY_BUDGET_S:
                found.append(
                    f"{case.name}: cache_key took {took:.2f} s (over {CACHE_KEY_BUDGET_S} s; it "
                    "runs in the trainer's process)"
                )
                break
            keys.append(key)
        results = scored.get(case.name, [])
        by_key: dict[Any, float] = {}
        for key, result in zip(keys, results, strict=False):
            if result.status != "ok":
                continue
            try:
                decided = verdict(key, options) if verdict is not None else None
            except Exception as exc:
                found.append(f"{case.name}: key_verdict raised {type(exc).__name__}: {exc}")
                break
            if decided is not None and float(decided) != result.reward:
                found.append(
                    f"{case.name}: key_verdict gives {decided:g} for {key!r:.80} where score "
                    f"gives {result.reward:g}"
                )
                break
            if key in by_key and by_key[key] != result.reward:
                found.append(
                    f"{case.name}: cache_key {key!r:.80} maps to two scores "
                    f"({by_key[key]:g} and {result.reward:g})"
                )
                break
            by_key[key] = result.reward
    return found


def run_check(
    reward: Reward,
    runner: RewardRunner,
    options: Mapping[str, Any] | None = None,
    progress: Any = None,
) -> list[CaseReport]:
    """Run the battery; one report per case plus ``declaration`` and ``cache_key`` entries."""
    resolved = resolve_options(reward, options)
    reports = [CaseReport("declaration", 0, 0.0, _declaration_violations(reward))]
    cases = battery()
    scored: dict[str, list[SampleResult]] = {}
    for case in cases:
        if progress is not None:
            progress(case.name)
        texts = [completion_text(c) for c in case.completions]
        rows = [_columns(reward, gold) for gold in case.golds]
        started = time.perf_counter()
        try:
            results = runner.results(reward, texts, rows, resolved, use_cache=False)
        except GmrError as exc:
            reports.append(CaseReport(case.name, len(texts), 0.0, [f"contract: {exc.message}"]))
            return reports
        seconds = time.perf_counter() - started
        scored[case.name] = results
        found = _violations(reward, results, len(texts))
        if seconds > case.budget_s:
            found.append(
                f"time over budget: {seconds:.1f} s for the case (budget {case.budget_s:g} s)"
            )
        reports.append(CaseReport(case.name, len(texts), seconds, found))
    conversational = [r.reward for r in scored.get("conversational", [])]
    plain = [r.reward for r in scored.get("plain", [])]
    if conversational != plain:
        report = next(r for r in reports if r.name == "conversational")
        report.violations.append(
            f"conversational input scored {conversational}, the same text as plain strings {plain}"
        )
    reports.append(
        CaseReport("cache_key", 0, 0.0, _cache_key_violations(reward, resolved, cases, scored))
    )
    return reports
