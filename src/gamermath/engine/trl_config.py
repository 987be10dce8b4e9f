"""A recipe's ``[sft]``/``[grpo]`` as TRL ``SFTConfig``/``GRPOConfig`` objects.

The recipe already holds every TRL field resolved (its value, gmr's default or TRL's), so
the config is that table plus what the engine manages: output folder, seed, checkpoint
interval, ``[run] max_steps``, the device-dependent choices (bf16 where the GPU has it,
``use_cpu`` without CUDA), and a continuous-batching cache sized for one generation batch
(``gamermath.engine.switches``). ``check_trl_configs`` first checks that every switch the
recipe turns on has its package, then builds both configs before anything trains, so a value
TRL rejects fails at once, not after the SFT stage.
"""

from __future__ import annotations

import tempfile
from typing import Any

from gamermath.engine.switches import (
    check_switch_packages,
    continuous_batching_config,
    uses_continuous_batching,
)
from gamermath.errors import GmrError
from gamermath.recipe import Recipe


def trainer_args(recipe: Recipe, stage: str, output_dir: str) -> dict[str, Any]:
    """Keyword arguments for the stage's TRL config."""
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
            from gamermath.planner import shape_from_recipe

            shape = shape_from_recipe(recipe)
            args["transformers_continuous_batching_config"] = continuous_batching_config(
                args.get("transformers_continuous_batching_config"), shape.generation_batch,
                shape.sequence_tokens)
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
    device-neutral (CPU, no mixed precision)."""
    import warnings

    check_switch_packages(recipe)
    stages = (["sft"] if recipe.sft_enabled else []) + ["grpo"]
    with tempfile.TemporaryDirectory(prefix="gmr-check-") as folder, \
            warnings.catch_warnings():
        # TRL's own deprecation notices (gradient_checkpointing...) are not the recipe's errors
        warnings.simplefilter("ignore", FutureWarning)
        warnings.simplefilter("ignore", DeprecationWarning)
        for stage in stages:
            args = trainer_args(recipe, stage, folder)
            args.update(use_cpu=True, bf16=False, fp16=False)
            make_config(recipe, stage, args)
