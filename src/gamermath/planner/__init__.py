"""The memory planner: will a recipe fit in a card's memory, and what to change if not.

One module per concept, each below the next:

- ``hardware``: GPU cards by name, the CUDA context;
- ``architecture``: a model's shape without its weights (built-in table, config.json, the
  hub cache);
- ``prompts``: prompt lengths measured on the recipe's own data and template;
- ``memory``: the arithmetic, phase by phase (its docstring derives every term);
- ``advice``: changes and one-GPU switches re-estimated, and the verdict for a card.

The training shape itself (every value derived from a recipe) is
``gamermath.recipe.shape``, shared with the engine; the engine never imports the planner.
"""

from __future__ import annotations

from pathlib import Path

from gamermath.errors import GmrError
from gamermath.planner.advice import (
    README_BEGIN,
    README_END,
    TIGHT_FRACTION,
    Suggestion,
    Verdict,
    ranked_switches,
    suggestions,
    switch_options,
    switches_markdown,
    verdict,
)
from gamermath.planner.architecture import (
    KNOWN_ARCHITECTURES,
    Architecture,
    LinearLayer,
    architecture_from_config,
    resolve_architecture,
)
from gamermath.planner.hardware import CUDA_CONTEXT_BYTES, GIB, GPU_CARDS, GpuCard, find_card, gib
from gamermath.planner.memory import (
    ALLOCATOR_SLACK,
    Estimate,
    activation_bytes_per_token_layer,
    estimate,
    vllm_need,
    vllm_share_needed,
    weight_bytes,
)
from gamermath.planner.prompts import PromptLengths, measure_prompts
from gamermath.recipe.schema import Recipe
from gamermath.recipe.shape import (
    ASSUMED_QUESTION_TOKENS,
    ASSUMED_TOKENS_PER_SHOT,
    TrainingShape,
    shape_from_recipe,
)


def plan(recipe: Recipe, stage: str = "grpo", card_bytes: int | None = None,
         prompt_tokens: int | None = None) -> Estimate:
    """Estimate the memory of a loaded recipe's GRPO (or SFT) stage (on a card of
    ``card_bytes``, which vLLM's share and a paged cache depend on).

    The GRPO prompt length is ``[grpo].max_prompt_length`` when set, else ``prompt_tokens``,
    else measured on the recipe's own prompts (``prompts.measure_prompts``), else, when its
    data cannot be read offline, assumed; a note says which.
    """
    arch = resolve_architecture(recipe.model.source, recipe.model.cache_dir)
    note = None
    source = "--prompt-tokens"
    if stage == "grpo" and not recipe.grpo.max_prompt_length and prompt_tokens is None:
        try:
            lengths = measure_prompts(recipe)
            prompt_tokens, source = lengths.longest, lengths.method
            note = f"prompt length: {lengths.describe()}"
        except GmrError as exc:
            note = (f"prompt length assumed ({ASSUMED_QUESTION_TOKENS} tokens + "
                    f"{ASSUMED_TOKENS_PER_SHOT} per few-shot example): the recipe's prompts "
                    f"could not be rendered ({exc.format_message()})")
    shape = shape_from_recipe(recipe, stage, prompt_tokens, source)
    est = estimate(arch, shape, card_bytes)
    if note:
        est.notes.insert(0, note)
    return est


def plan_recipe(
    path: str | Path, stage: str = "grpo", overrides: tuple[str, ...] = (),
    card_bytes: int | None = None, prompt_tokens: int | None = None,
) -> Estimate:
    """Estimate the memory of a recipe file's (or shipped recipe's) GRPO (or SFT) stage,
    ``--set`` overrides applied."""
    from gamermath.recipe import load_recipe

    recipe = load_recipe(path, overrides=tuple(overrides), check_plugins=False)
    return plan(recipe, stage, card_bytes, prompt_tokens)


__all__ = [
    "ALLOCATOR_SLACK",
    "CUDA_CONTEXT_BYTES",
    "GIB",
    "GPU_CARDS",
    "KNOWN_ARCHITECTURES",
    "TIGHT_FRACTION",
    "Architecture",
    "Estimate",
    "GmrError",
    "GpuCard",
    "LinearLayer",
    "README_BEGIN",
    "README_END",
    "PromptLengths",
    "Suggestion",
    "TrainingShape",
    "Verdict",
    "activation_bytes_per_token_layer",
    "architecture_from_config",
    "estimate",
    "find_card",
    "gib",
    "measure_prompts",
    "plan",
    "plan_recipe",
    "ranked_switches",
    "resolve_architecture",
    "shape_from_recipe",
    "suggestions",
    "switch_options",
    "switches_markdown",
    "verdict",
    "vllm_need",
    "vllm_share_needed",
    "weight_bytes",
]
