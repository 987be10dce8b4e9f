"""What ``gmr eval`` evaluates: a model source, optionally with a trained PEFT adapter.

A training run directory (``recipe.toml`` with ``[model] source``, ``adapter/`` with the
final adapter) stands for its base model plus that adapter, whether it is named by
``--model`` or by ``--adapter``. A full fine-tuning run (``[lora] enabled = false``) keeps its
whole trained model in ``model/`` instead, and stands for that model alone.
"""

from __future__ import annotations

import json
from dataclasses import dataclass
from pathlib import Path

from gamermath.errors import GmrError
from gamermath.run_dir import RunDir


@dataclass(frozen=True)
class EvalTarget:
    """A model source for ``gamermath.models.load_model`` and an optional adapter folder."""

    source: str
    adapter: Path | None = None
    run_dir: Path | None = None

    @property
    def label(self) -> str:
        """``source`` or ``source + adapter`` for tables."""
        return f"{self.source} + {self.adapter}" if self.adapter else self.source


def is_run_dir(path: Path) -> bool:
    """True for a training run directory: ``recipe.toml`` beside an ``adapter/`` folder."""
    return (path / "recipe.toml").is_file() and (path / "adapter").is_dir()


def full_model_dir(path: Path) -> Path | None:
    """The ``model/`` folder of a full fine-tuning run directory, else None."""
    folder = path / "model"
    if (path / "recipe.toml").is_file() and (folder / "config.json").is_file():
        return folder
    return None


def run_dir_source(run_dir: Path) -> str:
    """The ``[model] source`` of a run directory's recipe (read as a typed ``Recipe``)."""
    return RunDir(run_dir).read_recipe().model.source


def _adapter_base(adapter: Path) -> str:
    config = json.loads((adapter / "adapter_config.json").read_text(encoding="utf-8"))
    base = config.get("base_model_name_or_path")
    if not base:
        raise GmrError(
            f"{adapter}/adapter_config.json names no base_model_name_or_path; pass --model"
        )
    return str(base)


def _adapter_folder(path: Path) -> tuple[Path, Path | None]:
    """``(adapter folder, run dir or None)`` for an adapter folder or a run directory."""
    if is_run_dir(path):
        folder = path / "adapter"
        if not (folder / "adapter_config.json").is_file():
            raise GmrError(f"{folder}: no adapter_config.json; did the run finish?")
        return folder, path
    if (path / "adapter_config.json").is_file():
        return path, None
    raise GmrError(
        f"--adapter {path}: neither a PEFT adapter folder (adapter_config.json) nor a run "
        "directory (recipe.toml + adapter/)"
    )


def resolve_target(model: str | None, adapter: str | Path | None) -> EvalTarget:
    """Turn ``--model`` / ``--adapter`` into a source and adapter (run dirs expanded)."""
    for named in (model, adapter):
        full = full_model_dir(Path(named)) if named and Path(named).is_dir() else None
        if full is not None:
            if model and adapter:
                raise GmrError(f"{named} is a full fine-tuning run (model/): name it alone")
            return EvalTarget(str(full), None, Path(named))
    if model and Path(model).is_dir() and is_run_dir(Path(model)):
        if adapter:
            raise GmrError(f"--model {model} is a run directory; drop --adapter or name the base")
        folder, run_dir = _adapter_folder(Path(model))
        return EvalTarget(run_dir_source(Path(model)), folder, run_dir)
    if adapter:
        folder, run_dir = _adapter_folder(Path(adapter))
        if model:
            source = model
        elif run_dir is not None:
            source = run_dir_source(run_dir)
        else:
            source = _adapter_base(folder)
        return EvalTarget(source, folder, run_dir)
    if not model:
        raise GmrError("name what to evaluate: --model SOURCE or --adapter RUN_DIR")
    return EvalTarget(model)
