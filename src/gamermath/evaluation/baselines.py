"""Published baselines beside our scores, ranked only when like is compared with like.

``evals/baselines.toml`` lists published scores with the protocol each was measured under
and, when one exists, the gamermath task that runs that protocol. Every baseline of the
benchmark a task measures is listed; one is *ranked* against our score (difference, its
95% interval, "above"/"below"/"indistinguishable") only when all of these hold, and
otherwise the first that fails is given as the reason:

1. its ``task`` is the task we ran (same prompt, exemplars and answer extraction);
2. we ran as many shots as it did;
3. we decoded as it did (greedy, unless the baseline says otherwise);
4. our generation cap equals its cap (when the baseline states one);
5. we scored at least ``MIN_RANK_N`` questions.

The interval is Newcombe's for a difference of two proportions, from our Wilson interval
and, when the baseline publishes its n, its own (see ``gamermath.evaluation.intervals``):
a score of 0% or 100% on a handful of questions never gets a confident verdict.
"""

from __future__ import annotations

import tomllib
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.evaluation.intervals import difference, wilson

#: Fewer questions than this are never ranked: at 100 the 95% interval of a 50% score is
#: already about ±10 points, wider than most differences worth reporting.
MIN_RANK_N = 100


@dataclass(frozen=True)
class Baseline:
    """One published score (percent) and the protocol it was measured under."""

    model: str
    benchmark: str
    score: float
    shots: int
    protocol: str
    source: str
    task: str = ""
    note: str = ""
    n: int = 0
    max_gen_toks: int = 0
    decoding: str = "greedy"


@dataclass(frozen=True)
class Comparison:
    """Our score on one task beside one baseline of the same benchmark.

    ``ours`` and ``ours_stderr`` are percentages; ``reason`` says why the pair is not
    ranked (None when it is); ``interval`` is the 95% interval of ours minus theirs, in
    points, when ranked.
    """

    task: str
    ours: float | None
    ours_stderr: float | None
    baseline: Baseline
    same_protocol: bool
    run: dict[str, Any]
    reason: str | None = None
    interval: tuple[float, float] | None = None
    metric: str = ""

    @property
    def ranked(self) -> bool:
        """True when the two scores were measured alike (see the module docstring)."""
        return self.reason is None

    @property
    def delta(self) -> float | None:
        """Ours minus theirs in points, only when ranked."""
        if not self.ranked or self.ours is None:
            return None
        return self.ours - self.baseline.score

    @property
    def limited(self) -> bool:
        """True when our run covered only part of the test set."""
        n, total = self.run.get("n") or 0, self.run.get("n_total") or 0
        return bool(self.run.get("limit")) or (total > 0 and n < total)

    @property
    def verdict(self) -> str:
        """``above``/``below``/``indistinguishable`` with the interval, or why not ranked."""
        if self.reason is not None:
            return f"not ranked: {self.reason}"
        low, high = self.interval or (0.0, 0.0)
        if low > 0:
            word = "above"
        elif high < 0:
            word = "below"
        else:
            word = "indistinguishable"
        text = f"{word} (95% CI of the difference {low:+.1f} to {high:+.1f})"
        if self.limited:
            text += f"; limited run: {self.run.get('n')} of {self.run.get('n_total')} questions"
        return text


def default_baselines_path() -> Path:
    """``baselines.toml`` of the installed ``gamermath.evals`` package."""
    from gamermath.builtin.eval_tasks import evals_dir

    return evals_dir() / "baselines.toml"


def load_baselines(path: Path | None = None) -> tuple[dict[str, dict[str, str]], list[Baseline]]:
    """``(task -> {benchmark, metric}, baselines)`` from a baselines TOML file."""
    path = path or default_baselines_path()
    try:
        doc: dict[str, Any] = tomllib.loads(path.read_text(encoding="utf-8"))
    except (OSError, tomllib.TOMLDecodeError) as exc:
        raise GmrError(f"{path}: cannot read baselines: {exc}") from None
    tasks = {name: dict(value) for name, value in (doc.get("tasks") or {}).items()}
    baselines = []
    for i, row in enumerate(doc.get("baseline") or []):
        try:
            baselines.append(Baseline(**row))
        except TypeError as exc:
            raise GmrError(f"{path}: [[baseline]] #{i + 1}: {exc}") from None
    return tasks, baselines


def _unranked_reason(base: Baseline, task: str, run: dict[str, Any],
                     ours: float | None) -> str | None:
    """Why ``base`` cannot be ranked against our run of ``task`` (None when it can)."""
    if base.task != task:
        return f"different protocol: {base.protocol}"
    shots = run.get("num_fewshot")
    if shots != base.shots:
        return f"shots differ: we ran {shots}-shot, the baseline is {base.shots}-shot"
    decoding = run.get("decoding")
    if decoding != base.decoding:
        return f"decoding differs: ours {decoding or 'not recorded'}, theirs {base.decoding}"
    cap = run.get("max_gen_toks")
    if base.max_gen_toks and cap != base.max_gen_toks:
        return (f"generation cap differs: ours {cap or 'not recorded'} tokens, "
                f"theirs {base.max_gen_toks}")
    if ours is None:
        return "no score for the task's headline metric"
    n = int(run.get("n") or 0)
    if n < MIN_RANK_N:
        return f"too few questions: n={n} (ranking needs at least {MIN_RANK_N})"
    return None


def headline_metric(entry: dict[str, Any], metric: str) -> str:
    """The key of our score to set beside ``metric`` (``name,filter``) of a baseline.

    A greedy run has ``metric`` itself; a sampled run (``--samples K``) has no such key, and
    its ``name_avg@K,filter`` (the share of the K answers that were right: an unbiased
    pass@1) is shown instead.
    """
    metrics = entry.get("metrics", {})
    if metric in metrics:
        return metric
    name, _, filt = metric.partition(",")
    for key in metrics:
        base, _, key_filter = key.partition(",")
        if key_filter == filt and base.startswith(f"{name}_avg@"):
            return key
    return metric


def compare(results: dict[str, Any], path: Path | None = None) -> list[Comparison]:
    """Every baseline of each evaluated task's benchmark, in file order, task by task."""
    tasks, baselines = load_baselines(path)
    found = []
    for task, entry in results["tasks"].items():
        info = tasks.get(task)
        if info is None:
            continue
        key = headline_metric(entry, info["metric"])
        metric = entry.get("metrics", {}).get(key, {})
        value, stderr = metric.get("value"), metric.get("stderr")
        ours = None if value is None else 100 * value
        ours_err = None if stderr is None else 100 * stderr
        for base in baselines:
            if base.benchmark != info["benchmark"]:
                continue
            reason = _unranked_reason(base, task, entry, ours)
            interval = None
            if reason is None and value is not None:
                low, high = difference(value, int(entry["n"]), base.score / 100,
                                       base.n or None)
                interval = (100 * low, 100 * high)
            found.append(Comparison(task, ours, ours_err, base, base.task == task, entry,
                                    reason, interval, key))
    return found


def limited_warnings(comparisons: list[Comparison]) -> list[str]:
    """One warning per task whose limited run is listed beside baselines."""
    seen: dict[str, str] = {}
    for c in comparisons:
        if c.limited and c.task not in seen:
            seen[c.task] = (
                f"warning: {c.task} ran on {c.run.get('n')} of {c.run.get('n_total')} "
                f"questions (--limit {c.run.get('limit')}): a limited run beside baselines "
                "scored on whole test sets"
            )
    return list(seen.values())


def unmatched_notes(results: dict[str, Any], comparisons: list[Comparison],
                    path: Path | None = None) -> list[str]:
    """One line per evaluated task that no published baseline is listed for."""
    tasks, _ = load_baselines(path)
    compared = {c.task for c in comparisons}
    notes = []
    for task in results.get("tasks", {}):
        if task in compared:
            continue
        info = tasks.get(task)
        what = (f"no published baseline of the {info['benchmark']} benchmark"
                if info else "no benchmark entry for this task")
        notes.append(f"{task}: {what} in {path or 'evals/baselines.toml'}: "
                     "nothing to compare or rank against")
    return notes


COMPARE_HEADER = ("task", "who", "score % [95% CI]", "setup", "Δ", "comparison")


def _our_setup(run: dict[str, Any]) -> str:
    n, total = run.get("n"), run.get("n_total")
    size = f"n={n}" + (f" of {total}" if total and n != total else "")
    cap = run.get("max_gen_toks")
    parts = [size, f"{run.get('num_fewshot')}-shot", f"cap {cap if cap else '-'}",
             run.get("decoding") or "decoding not recorded",
             f"limit {run.get('limit')}" if run.get("limit") else "no limit"]
    return ", ".join(str(p) for p in parts)


def _ours(c: Comparison) -> str:
    if c.ours is None:
        return "-"
    ci = c.run.get("metrics", {}).get(c.metric, {}).get("ci")
    low, high = ci or wilson(c.ours / 100, int(c.run.get("n") or 0))
    return f"{c.ours:.2f} [{100 * low:.1f}, {100 * high:.1f}]"


def _our_protocol(c: Comparison) -> str:
    """The task's protocol line, and how this run departed from it when it sampled."""
    text = f"our protocol: {c.run.get('protocol') or 'lm-eval built-in'}"
    decoding = str(c.run.get("decoding") or "")
    if decoding.startswith("sampled"):
        text += (f"; this run decoded by sampling instead ({decoding}), score: "
                 f"{c.metric.partition(',')[0]} (share of the answers right, a pass@1 estimate)")
    return text


def _their_setup(base: Baseline) -> str:
    facts = [f"n={base.n}" if base.n else "n not stated", f"{base.shots}-shot"]
    if base.max_gen_toks:
        facts.append(f"cap {base.max_gen_toks}")
    facts.append(base.decoding)
    return ", ".join(facts)


def comparison_rows(comparisons: list[Comparison]) -> list[tuple[str, ...]]:
    """Table rows: per task first our run (score, interval, n, shots, cap, decoding, limit,
    protocol), then each baseline with the verdict or the reason it is not ranked."""
    rows: list[tuple[str, ...]] = []
    seen: set[str] = set()
    for c in comparisons:
        if c.task not in seen:
            seen.add(c.task)
            rows.append((c.task, "ours", _ours(c), _our_setup(c.run), "", _our_protocol(c)))
        note = f"; note: {c.baseline.note}" if c.baseline.note else ""
        rows.append((
            c.task,
            c.baseline.model,
            f"{c.baseline.score:.2f}",
            _their_setup(c.baseline),
            "" if c.delta is None else f"{c.delta:+.2f}",
            c.verdict + note,
        ))
    return rows
