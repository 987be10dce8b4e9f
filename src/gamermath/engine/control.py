"""The random-reward control run (``[run] control = "random-reward"``).

A control run is the same recipe, but GRPO is paid random rewards: each reward term scores
every completion its minimum or its maximum with even odds, independently of what the
completion says (the Bernoulli(0.5) "random reward" of "Spurious Rewards: Rethinking
Training Signals in RLVR", Shao et al. 2025, arXiv 2506.10947). Whatever held-out gain
the control's GRPO stage shows comes from training itself (more steps on the task's
prompts, drift, the clipping bias that paper describes, noise), not from the reward's
signal; a real run's GRPO gain is read against it.

The real scores are still computed: ``completions.jsonl`` records them, and each step
logs their means as ``control/real/<label>/mean``, so the control's training completions
can be compared with the real run's.
"""

from __future__ import annotations

import random
from collections.abc import Callable, Sequence
from typing import Any

RewardFunc = Callable[..., list[float]]


def random_scores(rng: random.Random, count: int, low: float, high: float) -> list[float]:
    """``count`` scores, each ``low`` or ``high`` with even odds."""
    return [high if rng.random() < 0.5 else low for _ in range(count)]


def random_reward_funcs(
    funcs: Sequence[RewardFunc],
    labels: Sequence[str],
    ranges: Sequence[tuple[float, float]],
    seed: int,
) -> list[RewardFunc]:
    """Reward functions that score the real ones (for the logs) but return random rewards."""
    rng = random.Random(f"gmr-control:{seed}")

    def wrap(func: RewardFunc, label: str, low: float, high: float) -> RewardFunc:
        def control(prompts: Any = None, completions: Any = None, completion_ids: Any = None,
                    **kwargs: Any) -> list[float]:
            real = func(prompts=prompts, completions=completions, completion_ids=completion_ids,
                        **kwargs)
            scored = [float(v) for v in real if v is not None]
            log_metric = kwargs.get("log_metric")
            if log_metric is not None and scored:
                log_metric(f"control/real/{label}/mean", sum(scored) / len(scored))
            return random_scores(rng, len(real), low, high)

        control.__name__ = getattr(func, "__name__", label)
        control.__qualname__ = control.__name__
        return control

    return [wrap(f, label, float(lo), float(hi))
            for f, label, (lo, hi) in zip(funcs, labels, ranges, strict=True)]


def control_reward_funcs(recipe: Any, funcs: Sequence[RewardFunc]) -> list[RewardFunc]:
    """``funcs`` as the recipe's ``[run] control`` wants them (unchanged for ``none``)."""
    if recipe.run.control != "random-reward":
        return list(funcs)
    from gamermath import plugins

    terms = recipe.rewards
    ranges = [plugins.get("reward", t.name).output_range for t in terms]
    return random_reward_funcs(funcs, [t.label for t in terms], ranges, int(recipe.run.seed))
