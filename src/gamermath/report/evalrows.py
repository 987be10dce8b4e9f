"""Eval scores of runs beside published baselines, as rows for the report's table and plot.

Baselines and the protocol rule come from ``gamermath.evaluation.baselines``: every
published score of the benchmark a task measures is shown; ``comparison`` says whether it
was measured under the task's own protocol ("same protocol") or not ("different
protocol"), and ``verdict`` whether it is ranked against the run (only when shots,
decoding, generation cap and enough questions match too) or why not.
"""

from __future__ import annotations

from collections.abc import Sequence
from typing import Any

from gamermath.report.rundata import RunData

PREFERRED_METRICS = ("exact_match,strict-match", "exact_match,flexible-extract",
                     "exact_match,none", "exact_match", "acc,none", "acc")


def primary_metric(metrics: dict[str, Any]) -> tuple[str, float, float | None] | None:
    """``(name, value, stderr)`` of the headline metric of one task (values in 0..1)."""
    if not isinstance(metrics, dict) or not metrics:
        return None
    names = [m for m in PREFERRED_METRICS if m in metrics] + sorted(metrics)
    for name in names:
        entry = metrics[name]
        value = entry.get("value") if isinstance(entry, dict) else entry
        if isinstance(value, (int, float)) and not isinstance(value, bool):
            stderr = entry.get("stderr") if isinstance(entry, dict) else None
            return name, float(value), stderr if isinstance(stderr, (int, float)) else None
    return None


def _task_metrics() -> dict[str, str]:
    """task -> headline metric, from evals/baselines.toml's [tasks] table."""
    try:
        from gamermath.evaluation.baselines import load_baselines

        tasks, _ = load_baselines()
    except Exception:  # no baselines file or an older install: fall back to preferences
        return {}
    return {task: str(info.get("metric", "")) for task, info in tasks.items()}


def _comparisons(results: dict[str, Any]) -> list[Any]:
    try:
        from gamermath.evaluation.baselines import compare

        return compare(results)
    except Exception:  # unreadable baselines: the report still shows the run's scores
        return []


def _run_verdict(info: dict[str, Any]) -> str:
    """``limited run: n of N questions`` and whether so few can be ranked at all."""
    from gamermath.evaluation.baselines import MIN_RANK_N

    n, total = int(info.get("n") or 0), int(info.get("n_total") or 0)
    parts = []
    if info.get("limit") or (total and n < total):
        parts.append(f"limited run: {n} of {total or '?'} questions")
    if n < MIN_RANK_N:
        parts.append(f"not ranked: n={n} (ranking needs at least {MIN_RANK_N})")
    return "; ".join(parts)


def eval_rows(runs: Sequence[RunData]) -> list[dict[str, Any]]:
    """Per run and task: the run's score, then every published baseline of that benchmark.

    Scores are percentages. ``comparison`` says "same protocol" or "different protocol: ...".
    """
    metrics_of = _task_metrics()
    rows: list[dict[str, Any]] = []
    for run in runs:
        tasks = run.eval_results.get("tasks") or {}
        if not isinstance(tasks, dict):
            continue
        comparisons = _comparisons({"tasks": {
            t: i for t, i in tasks.items() if isinstance(i, dict) and "metrics" in i}})
        for task, info in tasks.items():
            if not isinstance(info, dict):
                continue
            metrics = info.get("metrics") or {}
            wanted = metrics_of.get(task)
            if wanted and wanted not in metrics:  # a sampled run: its avg@K, as --compare
                from gamermath.evaluation.baselines import headline_metric

                wanted = headline_metric(info, wanted)
            found = primary_metric({wanted: metrics[wanted]} if wanted in metrics else metrics)
            if found is None:
                continue
            metric, value, stderr = found
            ci = (metrics.get(metric) or {}).get("ci") if isinstance(metrics.get(metric),
                                                                      dict) else None
            rows.append({
                "kind": "run", "who": run.name, "task": task,
                "protocol": str(info.get("protocol", "?")), "shots": info.get("num_fewshot"),
                "n": info.get("n"), "n_total": info.get("n_total"), "metric": metric,
                "percent": 100 * value,
                "stderr": None if stderr is None else 100 * stderr,
                "ci": None if not ci else (100 * ci[0], 100 * ci[1]),
                "comparison": "", "verdict": _run_verdict(info),
                "source": str(run.eval_results.get("model", "")),
            })
            for c in comparisons:
                if c.task != task:
                    continue
                base = c.baseline
                rows.append({
                    "kind": "baseline", "who": base.model, "task": task,
                    "protocol": base.protocol, "shots": base.shots, "n": base.n or None,
                    "metric": "published", "percent": float(base.score), "stderr": None,
                    "comparison": ("same protocol" if c.same_protocol
                                   else "different protocol"),
                    "verdict": c.verdict,
                    "source": base.source,
                })
    return rows
