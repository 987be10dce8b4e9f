"""What ``gmr train`` tells its user before, during and after a run (plain lines on stderr).

- ``plan_lines``: where the run directory is and the stages the run will go through;
- ``say``: one progress line (model load, pre-flight checks) on the run's console;
- ``next_lines``: how to look at a finished run (``gmr report``, ``gmr eval --adapter``).
"""

from __future__ import annotations

import math
from pathlib import Path
from typing import TYPE_CHECKING, Any

if TYPE_CHECKING:
    from gamermath.recipe import Recipe


def say(console: Any, text: str) -> None:
    """One plain line on ``console`` (a rich console; nothing when there is none)."""
    if console is not None:
        console.print(text, highlight=False, markup=False, soft_wrap=True)


def _steps(trl: dict[str, Any], max_steps: int | None) -> int | None:
    steps = trl.get("max_steps")
    planned = int(steps) if steps is not None and int(steps) > 0 else None
    if max_steps is not None:
        return min(planned, max_steps) if planned else max_steps
    return planned


def _sft_stage(recipe: Recipe) -> str:
    trl = dict(recipe.sft.trl)
    steps = _steps(trl, recipe.run.max_steps)
    if steps is None and recipe.sft.limit:
        per_step = int(trl.get("per_device_train_batch_size") or 8) * int(
            trl.get("gradient_accumulation_steps") or 1)
        epochs = float(trl.get("num_train_epochs") or 1)
        steps = math.ceil(recipe.sft.limit / per_step) * math.ceil(epochs)
    return f"SFT warm-up ({steps} steps)" if steps else "SFT warm-up"


def plan_lines(recipe: Recipe, resume: bool = False) -> list[str]:
    """The first lines of ``gmr train``: the run directory, then the stages in order."""
    trl = dict(recipe.grpo.trl)
    steps = _steps(trl, recipe.run.max_steps)
    if recipe.grpo.stop_at_step is not None:
        steps = min(steps, recipe.grpo.stop_at_step) if steps else recipe.grpo.stop_at_step
    generated = trl.get("generation_batch_size") or int(
        trl.get("per_device_train_batch_size") or 0) * int(
        trl.get("steps_per_generation") or trl.get("gradient_accumulation_steps") or 1)
    prompts = int(generated) // max(int(trl.get("num_generations") or 1), 1)
    grpo = (f"GRPO ({steps} steps" if steps else "GRPO (") + (
        f"{', ' if steps else ''}{prompts} prompts x {trl.get('num_generations')} completions"
        f" a step)")
    stages = ["load the model and check the recipe"]
    held = recipe.eval.heldout
    if recipe.sft_enabled:
        if held:
            stages.append(f"held-out accuracy of the bare model ({held} problems)")
        stages.append(_sft_stage(recipe))
    if held:
        stages.append(f"held-out accuracy ({held} problems)")
    stages.append(grpo + (f", held-out accuracy every {recipe.eval.every} steps and at the end"
                          if held else ""))
    stages.append("save the adapter")
    verb = "continuing" if resume else "run directory"
    lines = [f"gmr train: {verb} {recipe.run.output_dir}"]
    lines += [f"  {i}. {stage}" for i, stage in enumerate(stages, 1)]
    return lines


def next_lines(run_dir: Path, recipe: Recipe) -> list[str]:
    """How to look at a finished run: its report, an lm-eval run of it, its model card."""
    evaluate = (f"--model {recipe.model.source} --adapter {run_dir}" if recipe.lora.enabled
                else f"--model {run_dir}")
    return [
        "next:",
        f"  gmr report {run_dir}                        # curves, held-out table, completions",
        f"  gmr eval --harness gsm8k {evaluate} --compare   # a benchmark score",
        f"  gmr card {run_dir}                          # a model card (README.md) of the run",
    ]
