"""``[eval] metric``: held-out accuracy scored by a named reward, isolated like training rewards.

A held-out completion is correct where the metric reward gives it its maximum (the top of
its declared ``output_range``): ``exact-answer`` for GSM8K-style numbers,
``sympy-equivalence`` for MATH answers. The reward runs through a ``RewardRunner`` (worker
processes, timeouts), so a held-out answer that would make sympy grind cannot stall
training; a timed-out sample counts as wrong.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gamermath.engine.heldout import Metric
from gamermath.rewards.runner import RewardRunner


def reward_metric(runner: RewardRunner, name: str, options: Mapping[str, Any] | None = None
                  ) -> Metric:
    """A held-out metric: ``name``'s score equals its maximum, scored through ``runner``."""
    from gamermath import plugins
    from gamermath.rewards.options import resolve_options

    reward = plugins.get("reward", name)
    resolved = resolve_options(reward, options)
    best = float(reward.output_range[1])
    runner.prepare([reward])

    def metric(texts: list[str], rows: list[Mapping[str, Any]]) -> list[bool]:
        columns = [{c: row[c] for c in reward.columns} for row in rows]
        scores = runner.score(reward, texts, columns, resolved)
        return [score >= best for score in scores]

    metric.__name__ = f"metric_{name}"
    return metric
