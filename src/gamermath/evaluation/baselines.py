"""Published baselines beside our scores, ranked only under the same protocol.

``evals/baselines.toml`` lists published scores with the protocol each was measured
under and, when one exists, the gamermath task that runs that protocol. A baseline whose
``task`` is the task we ran is "same protocol": our score, theirs and the difference are
shown, with our standard error. Any other baseline of the same benchmark is shown as
"different protocol: ..." with no difference and no ranking.
"""

from __future__ import annotations

import sys
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib


@dataclass(frozen=True)
class Baseline:
    """One published score."""

    model: str
    benchmark: str
    score: float
    shots: int
    protocol: str
    source: str
    task: str = ""
    note: str = ""


@dataclass(frozen=True)
class Comparison:
    """Our score on one task beside one baseline of the same benchmark."""

    task: str
    ours: float | None
    ours_stderr: float | None
    baseline: Baseline
    same_protocol: bool

    @property
    def delta(self) -> float | None:
        """Ours minus theirs in points, only under the same protocol."""
        if not self.same_protocol or self.ours is None:
            return None
        return self.ours - self.baseline.score

    @property
    def verdict(self) -> str:
        """``above``/``below``/``within 2 stderr`` (same protocol) or the other protocol."""
        if not self.same_protocol:
            return f"different protocol: {self.baseline.protocol}"
        if self.delta is None:
            return "no score"
        margin = 2 * (self.ours_stderr or 0.0)
        if abs(self.delta) <= margin:
            return "same protocol: within 2 stderr"
        return "same protocol: " + ("above" if self.delta > 0 else "below")


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


def compare(
    results: dict[str, Any], path: Path | None = None
) -> list[Comparison]:
    """Every baseline of each evaluated task's benchmark, in file order, task by task."""
    tasks, baselines = load_baselines(path)
    found = []
    for task, entry in results["tasks"].items():
        info = tasks.get(task)
        if info is None:
            continue
        metric = entry["metrics"].get(info["metric"], {})
        value, stderr = metric.get("value"), metric.get("stderr")
        ours = None if value is None else 100 * value
        ours_err = None if stderr is None else 100 * stderr
        for base in baselines:
            if base.benchmark == info["benchmark"]:
                found.append(Comparison(task, ours, ours_err, base, base.task == task))
    return found


COMPARE_HEADER = ("task", "ours %", "baseline", "their %", "Δ", "comparison")


def comparison_rows(comparisons: list[Comparison]) -> list[tuple[str, ...]]:
    """Rows for a table: the difference is filled in only under the same protocol."""
    rows = []
    for c in comparisons:
        note = f" ({c.baseline.note})" if c.baseline.note and c.same_protocol else ""
        rows.append(
            (
                c.task,
                "-" if c.ours is None else f"{c.ours:.2f} ± {c.ours_stderr or 0.0:.2f}",
                c.baseline.model,
                f"{c.baseline.score:.2f} ({c.baseline.shots}-shot)",
                "" if c.delta is None else f"{c.delta:+.2f}",
                c.verdict + note,
            )
        )
    return rows
