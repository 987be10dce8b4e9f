"""The run directory: one folder per run, the layout every gmr command reads and writes.

``gmr train`` writes it, ``gmr eval --model RUN_DIR`` and ``gmr report`` read it, all
through ``RunDir``:

::

    RUN_DIR/recipe.toml          the fully resolved recipe (TRL's defaults included)
    RUN_DIR/environment.json     package versions, device, attention, dtype, plugins
    RUN_DIR/metrics.jsonl        one JSON object per logged step (and per held-out evaluation)
    RUN_DIR/completions.jsonl    sampled completions with each reward's score
    RUN_DIR/checkpoints/sft/checkpoint-N, checkpoints/grpo/checkpoint-N
    RUN_DIR/checkpoints/sft/final   the SFT adapter, written when the SFT stage completes
    RUN_DIR/adapter/             the final PEFT adapter (applies to the base model) + tokenizer
    RUN_DIR/eval/                written by ``gmr eval``
"""

from __future__ import annotations

import json
import math
import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

STAGES = ("sft", "grpo")
_CHECKPOINT = re.compile(r"^checkpoint-(\d+)$")


def _clean(value: Any) -> Any:
    """JSON-safe: NaN/inf become null, tensors and numpy scalars plain numbers."""
    if hasattr(value, "item") and callable(value.item):
        try:
            value = value.item()
        except (ValueError, RuntimeError):
            return str(value)
    if isinstance(value, float) and not math.isfinite(value):
        return None
    if isinstance(value, Mapping):
        return {str(k): _clean(v) for k, v in value.items()}
    if isinstance(value, (list, tuple)):
        return [_clean(v) for v in value]
    return value


class RunDir:
    """Paths and writers of one run directory."""

    def __init__(self, root: str | Path) -> None:
        self.root = Path(root)

    @property
    def recipe(self) -> Path:
        return self.root / "recipe.toml"

    @property
    def environment(self) -> Path:
        return self.root / "environment.json"

    @property
    def metrics(self) -> Path:
        return self.root / "metrics.jsonl"

    @property
    def completions(self) -> Path:
        return self.root / "completions.jsonl"

    @property
    def adapter(self) -> Path:
        return self.root / "adapter"

    @property
    def eval(self) -> Path:
        return self.root / "eval"

    def checkpoints(self, stage: str) -> Path:
        """Where TRL writes ``checkpoint-N`` folders for ``stage``."""
        return self.root / "checkpoints" / stage

    def stage_final(self, stage: str) -> Path:
        """The adapter a completed stage leaves behind (its marker is ``complete.json``)."""
        return self.checkpoints(stage) / "final"

    def stage_complete(self, stage: str) -> bool:
        return (self.stage_final(stage) / "complete.json").is_file()

    def mark_complete(self, stage: str, step: int) -> None:
        (self.stage_final(stage) / "complete.json").write_text(
            json.dumps({"stage": stage, "step": step}) + "\n", encoding="utf-8"
        )

    def newest_checkpoint(self, stage: str) -> Path | None:
        """The highest-numbered complete ``checkpoint-N`` of a stage (has trainer_state.json)."""
        folder = self.checkpoints(stage)
        if not folder.is_dir():
            return None
        found = []
        for child in folder.iterdir():
            match = _CHECKPOINT.match(child.name)
            if match and (child / "trainer_state.json").is_file():
                found.append((int(match.group(1)), child))
        return max(found)[1] if found else None

    def read_recipe(self, check_plugins: bool = False):
        """The run's ``recipe.toml`` as a validated ``Recipe`` (one line naming it if bad)."""
        from gamermath.errors import GmrError
        from gamermath.recipe import load_recipe

        if not self.recipe.is_file():
            raise GmrError(f"{self.root} holds no run (no recipe.toml)")
        return load_recipe(self.recipe, check_plugins=check_plugins)

    def metrics_rows(self) -> list[dict[str, Any]]:
        """``metrics.jsonl`` rows (a truncated last line is skipped)."""
        return read_jsonl(self.metrics)

    def completion_rows(self) -> list[dict[str, Any]]:
        return read_jsonl(self.completions)

    def exists(self) -> bool:
        """Whether a run was started here (its recipe was written)."""
        return self.recipe.is_file()

    def prepare(self) -> None:
        self.root.mkdir(parents=True, exist_ok=True)

    def write_json(self, path: Path, data: Mapping[str, Any]) -> None:
        path.write_text(json.dumps(_clean(data), indent=2, sort_keys=True) + "\n", "utf-8")

    def append(self, path: Path, row: Mapping[str, Any]) -> None:
        """Append one JSON line and flush it, so a killed run keeps every line written."""
        with open(path, "a", encoding="utf-8") as handle:
            handle.write(json.dumps(_clean(row), ensure_ascii=False) + "\n")
            handle.flush()

    def truncate_after(self, stage: str, step: int) -> None:
        """Drop metrics/completions rows of ``stage`` past ``step`` (a resume replays them)."""
        order = {name: i for i, name in enumerate(STAGES)}
        for path in (self.metrics, self.completions):
            if not path.is_file():
                continue
            kept = []
            for line in path.read_text(encoding="utf-8").splitlines():
                try:
                    row = json.loads(line)
                except json.JSONDecodeError:
                    continue  # a line cut short by kill -9
                row_stage = order.get(row.get("stage"), 0)
                if row_stage > order[stage] or (
                    row_stage == order[stage] and int(row.get("step", 0)) > step
                ):
                    continue
                kept.append(line)
            path.write_text("".join(f"{line}\n" for line in kept), encoding="utf-8")


def read_jsonl(path: str | Path) -> list[dict[str, Any]]:
    """Rows of a JSON-lines file (a truncated last line is skipped)."""
    rows = []
    path = Path(path)
    if not path.is_file():
        return rows
    for line in path.read_text(encoding="utf-8").splitlines():
        try:
            rows.append(json.loads(line))
        except json.JSONDecodeError:
            continue
    return rows
