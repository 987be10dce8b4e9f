"""Reward terms as TRL reward functions, all scored through one ``RewardRunner``.

TRL calls each reward function as ``fn(prompts=..., completions=..., completion_ids=...,
**dataset_columns, trainer_state=..., log_extra=..., log_metric=...)`` and combines the
returned lists with ``GRPOConfig.reward_weights``. ``make_reward_funcs`` returns one function
per term (``__name__`` = the term's label, so TRL logs ``rewards/<label>/mean``) and the
weights to pass; ``RewardCountersCallback`` adds the runner's timeout/error/cache counters to
every log line.
"""

from __future__ import annotations

from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gamermath.errors import GmrError
from gamermath.rewards.completions import completion_text
from gamermath.rewards.runner import RewardRunner
from gamermath.rewards.terms import RewardTerm, gate_threshold, resolve_rewards
from gamermath.specs import Reward


def column_rows(
    label: str, reward: Reward, n: int, columns: Mapping[str, Any]
) -> list[dict[str, Any]]:
    """Per-sample dicts of the columns a reward declares, from TRL's column lists."""
    for column in reward.columns:
        if column not in columns:
            offered = sorted(k for k in columns if k not in _TRL_EXTRAS)
            raise GmrError(
                f"reward term '{label}' (reward '{reward.name}') needs dataset column "
                f"'{column}', which the training data lacks (columns: {', '.join(offered)})"
            )
        if len(columns[column]) != n:
            raise GmrError(
                f"reward term '{label}': column '{column}' has {len(columns[column])} values "
                f"for {n} completions"
            )
    return [{c: columns[c][i] for c in reward.columns} for i in range(n)]


_TRL_EXTRAS = {"trainer_state", "log_extra", "log_metric", "environments", "completion_ids"}


def make_reward_funcs(
    terms: Sequence[RewardTerm], runner: RewardRunner
) -> tuple[list[Callable[..., list[float]]], list[float]]:
    """TRL reward functions for ``terms`` and the matching ``reward_weights``.

    A gated term returns 0.0 on samples where its gate term does not pass; the gate's
    scores come from the same runner, so they are cache hits when TRL already scored it.
    """
    rewards = resolve_rewards(terms)
    runner.prepare(list(rewards.values()))
    by_label = {t.label: t for t in terms}

    def scores(term: RewardTerm, texts: list[str], columns: Mapping[str, Any]) -> list[float]:
        reward = rewards[term.label]
        rows = column_rows(term.label, reward, len(texts), columns)
        return runner.score(reward, texts, rows, term.options)

    def build(term: RewardTerm) -> Callable[..., list[float]]:
        def reward_func(
            prompts: Any = None, completions: Any = None, completion_ids: Any = None, **kwargs: Any
        ) -> list[float]:
            texts = [completion_text(c) for c in (completions or [])]
            values = scores(term, texts, kwargs)
            if term.gate is None:
                return values
            gate_term = by_label[term.gate]
            gate_values = scores(gate_term, texts, kwargs)
            threshold = gate_threshold(term, rewards[gate_term.label])
            return [v if g >= threshold else 0.0 for v, g in zip(values, gate_values, strict=True)]

        reward_func.__name__ = term.label
        reward_func.__qualname__ = term.label
        return reward_func

    return [build(t) for t in terms], [float(t.weight) for t in terms]


def counter_logs(runner: RewardRunner) -> dict[str, float]:
    """``reward_timeouts/<name>``, ``reward_errors/<name>``, ``reward_cache_hits/<name>``."""
    logs: dict[str, float] = {}
    for name, counts in sorted(runner.counters.items()):
        logs[f"reward_timeouts/{name}"] = float(counts["timeouts"])
        logs[f"reward_errors/{name}"] = float(counts["errors"])
        logs[f"reward_cache_hits/{name}"] = float(counts["cache_hits"])
    return logs


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class RewardCountersCallback(_callback_base()):  # type: ignore[misc]
    """Adds the runner's cumulative counters to every ``on_log`` call's ``logs`` dict.

    The counters also go into the ``state.log_history`` entry of that log. Callbacks see
    ``logs`` in list order, so pass this one before callbacks that write logs out.
    """

    def __init__(self, runner: RewardRunner) -> None:
        self.runner = runner

    def on_log(self, args, state, control, logs=None, **kwargs):
        counters = counter_logs(self.runner)
        if logs is not None:
            logs.update(counters)
        if state is not None and state.log_history:
            state.log_history[-1].update(counters)
        return control

__all__ = ["RewardCountersCallback", "completion_text", "counter_logs", "make_reward_funcs"]
