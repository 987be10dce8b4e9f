"""Read what a run directory holds, tolerating runs that are still going or were interrupted."""

from __future__ import annotations

import json
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.recipe import Recipe
from gamermath.run_dir import RunDir


@dataclass
class RunData:
    """Everything a report shows about one run; missing files leave fields empty."""

    path: Path
    recipe: Recipe | None = None
    #: why the run's recipe.toml could not be read as a recipe (empty when it could)
    recipe_problem: str = ""
    environment: dict[str, Any] = field(default_factory=dict)
    metrics: list[dict[str, Any]] = field(default_factory=list)
    completions: list[dict[str, Any]] = field(default_factory=list)
    eval_results: dict[str, Any] = field(default_factory=dict)
    skipped_lines: int = 0
    finished: bool = False

    @property
    def name(self) -> str:
        return self.path.name

    def series(self, key: str, stage: str | None = None) -> tuple[list[float], list[float]]:
        """``(steps, values)`` of one metric, rows lacking it or non-numeric skipped."""
        steps, values = [], []
        for row in self.metrics:
            if stage and row.get("stage", stage) != stage:
                continue
            value = row.get(key)
            if isinstance(value, bool) or not isinstance(value, (int, float)):
                continue
            step = row.get("step")
            steps.append(float(step) if isinstance(step, (int, float)) else float(len(steps)))
            values.append(float(value))
        return steps, values

    def keys(self) -> set[str]:
        return {key for row in self.metrics for key in row}

    def stages(self) -> list[str]:
        seen: list[str] = []
        for row in self.metrics:
            stage = row.get("stage")
            if isinstance(stage, str) and stage not in seen:
                seen.append(stage)
        return seen

    def alarms(self) -> list[dict[str, Any]]:
        return [row for row in self.metrics if row.get("alarm/reward_hacking") is True]


def _read_jsonl(path: Path) -> tuple[list[dict[str, Any]], int]:
    """Rows of a JSON-lines file; a truncated or corrupt line is skipped and counted."""
    rows: list[dict[str, Any]] = []
    bad = 0
    if not path.is_file():
        return rows, bad
    with path.open(encoding="utf-8", errors="replace") as handle:
        for line in handle:
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError:
                bad += 1
                continue
            if isinstance(row, dict):
                rows.append(row)
            else:
                bad += 1
    return rows, bad


def _read_json(path: Path) -> dict[str, Any]:
    if not path.is_file():
        return {}
    try:
        data = json.loads(path.read_text(encoding="utf-8"))
    except (json.JSONDecodeError, UnicodeDecodeError):
        return {}
    return data if isinstance(data, dict) else {}


def load_run(path: str | Path) -> RunData:
    """Load a run directory written by ``gmr train`` (and ``gmr eval``)."""
    path = Path(path)
    if not path.is_dir():
        raise GmrError(f"run directory {path} does not exist")
    files = RunDir(path)
    run = RunData(path=path)
    if files.recipe.is_file():
        try:
            run.recipe = files.read_recipe()
        except GmrError as exc:  # an older or edited run: report the rest
            run.recipe_problem = exc.format_message()
    run.environment = _read_json(files.environment)
    run.metrics, bad_metrics = _read_jsonl(files.metrics)
    run.completions, bad_completions = _read_jsonl(files.completions)
    run.skipped_lines = bad_metrics + bad_completions
    run.eval_results = _read_json(files.eval / "results.json")
    run.finished = files.adapter.is_dir()
    if not (run.metrics or run.completions or run.eval_results or files.recipe.is_file()):
        raise GmrError(
            f"{path} is not a run directory (no metrics.jsonl, completions.jsonl, recipe.toml "
            "or eval/results.json)"
        )
    return run
