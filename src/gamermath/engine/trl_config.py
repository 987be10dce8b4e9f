"""A recipe's ``[sft]``/``[grpo]`` as TRL ``SFTConfig``/``GRPOConfig`` objects.

The recipe already holds every TRL field resolved (its value, gmr's default or TRL's), so
the config is that table plus what the engine manages: output folder, seed, checkpoint
interval, ``[run] max_steps``, the device-dependent choices (bf16 where the GPU has it,
``use_cpu`` without CUDA), and a continuous-batching cache sized for one generation batch
(``gamermath.recipe.shape``). ``check_trl_configs`` first checks that every switch the
recipe turns on has its package, then builds both configs before anything trains, so a value
TRL rejects fails at once, not after the SFT stage (``gmr recipe check`` runs the same check,
remembering the configs TRL accepted so the next check of the same values is instant).
"""

from __future__ import annotations

import hashlib
import json
import tempfile
from pathlib import Path
from typing import Any

from gamermath.engine.switches import check_switch_packages
from gamermath.errors import GmrError
from gamermath.recipe import Recipe
from gamermath.recipe.shape import (
    continuous_batching_config,
    shape_from_recipe,
    uses_continuous_batching,
)


def recipe_args(recipe: Recipe, stage: str, output_dir: str) -> dict[str, Any]:
    """The stage's TRL config arguments that come from the recipe alone (no device)."""
    args = dict(getattr(recipe, stage).trl)
    args.update(
        output_dir=output_dir,
        seed=int(recipe.run.seed),
        save_strategy="steps",
        save_steps=int(recipe.run.checkpoint_every),
        disable_tqdm=True,
    )
    if recipe.run.max_steps is not None:
        args["max_steps"] = int(recipe.run.max_steps)
    if stage == "grpo":
        args["reward_weights"] = [float(r.weight) for r in recipe.rewards]
        if uses_continuous_batching(args):
            shape = shape_from_recipe(recipe)
            args["transformers_continuous_batching_config"] = continuous_batching_config(
                args.get("transformers_continuous_batching_config"), shape.generation_batch,
                shape.sequence_tokens)
    return args


def trainer_args(recipe: Recipe, stage: str, output_dir: str) -> dict[str, Any]:
    """Keyword arguments for the stage's TRL config: the recipe's, then the device's."""
    args = recipe_args(recipe, stage, output_dir)
    import torch

    cuda = torch.cuda.is_available()
    if args.get("bf16") is None and not args.get("fp16"):  # TRL's automatic bf16 fails on CPU
        args["bf16"] = bool(cuda and torch.cuda.is_bf16_supported())
    if not cuda:
        # without it, torchrun CPU processes would each train alone instead of gloo DDP
        args["use_cpu"] = True
    return args


def config_class(stage: str):
    from trl import GRPOConfig, SFTConfig

    return {"grpo": GRPOConfig, "sft": SFTConfig}[stage]


def make_config(recipe: Recipe, stage: str, args: dict[str, Any]):
    """A TRL config; its own validation errors become one line naming the recipe section."""
    try:
        return config_class(stage)(**args)
    except (ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise GmrError(f"{recipe.path}: [{stage}] {detail}") from None


def check_trl_configs(recipe: Recipe) -> None:
    """Check the switches' packages, then build every stage's TRL config once,
    device-neutral (CPU, no mixed precision).

    Building a config imports torch and TRL (seconds); a config TRL accepted is remembered
    under ``$GMR_CACHE_DIR/trl-checked/`` by its arguments and the installed TRL and
    transformers versions, so checking the same values again is instant and checks as much.
    """
    import warnings

    check_switch_packages(recipe)
    stages = (["sft"] if recipe.sft_enabled else []) + ["grpo"]
    todo = []
    for stage in stages:
        args = recipe_args(recipe, stage, CHECK_OUTPUT_DIR)
        args.update(use_cpu=True, bf16=False, fp16=False)
        marker = _accepted_marker(stage, args)
        if marker is None or not marker.is_file():
            todo.append((stage, args, marker))
    if not todo:
        return
    with tempfile.TemporaryDirectory(prefix="gmr-check-") as folder, \
            warnings.catch_warnings():
        # TRL's own deprecation notices (gradient_checkpointing...) are not the recipe's errors
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        for stage, args, marker in todo:
            make_config(recipe, stage, {**args, "output_dir": folder})
            _remember(marker)


#: the output folder a checked config is keyed by (the check builds it in a temporary one)
CHECK_OUTPUT_DIR = "gmr-check"


def _accepted_marker(stage: str, args: dict[str, Any]) -> Path | None:
    """The file that records that TRL accepted ``args`` for ``stage`` (None: no cache)."""
    from gamermath.models import default_cache_dir
    from gamermath.recipe.trl_fields import CLASSES, stamp

    try:
        text = json.dumps({"stage": stage, "args": args}, sort_keys=True, default=repr)
    except (TypeError, ValueError):
        return None
    digest = hashlib.sha256(text.encode("utf-8")).hexdigest()
    return default_cache_dir() / "trl-checked" / stamp(CLASSES[stage]) / digest


def _remember(marker: Path | None) -> None:
    if marker is None:
        return
    try:
        marker.parent.mkdir(parents=True, exist_ok=True)
        marker.touch()
    except OSError:  # a read-only cache: build the config again next time
        pass
