"""The GRPO trainer class a recipe asks for: TRL's ``GRPOTrainer`` plus gmr's options.

``[grpo] zero_variance`` (``gamermath.engine.zero_variance``) and ``[run]
generation_threads`` (``gamermath.engine.threads``) each add a small subclass layer; a
recipe that sets neither trains with TRL's class itself.
"""

from __future__ import annotations

from typing import Any


def grpo_trainer_class(recipe: Any, base: type) -> tuple[type, dict[str, Any]]:
    """The trainer class for ``recipe`` built on ``base`` and the extra arguments it takes."""
    from gamermath.engine.threads import generation_threads_class
    from gamermath.engine.zero_variance import filtered_trainer_class

    cls, extra = base, {}
    threads = recipe.run.generation_threads
    if threads is not None:
        cls = generation_threads_class(cls, int(threads))
    if recipe.grpo.zero_variance != "keep":
        cls = filtered_trainer_class(cls)
        extra = {"zero_variance": recipe.grpo.zero_variance,
                 "resample_rounds": int(recipe.grpo.resample_rounds)}
    return cls, extra
