"""Reward terms as TRL reward functions, all scored through one ``RewardRunner``.

TRL calls each reward function as ``fn(prompts=..., completions=..., completion_ids=...,
**dataset_columns, trainer_state=..., log_extra=..., log_metric=...)`` and combines the
returned lists with ``GRPOConfig.reward_weights``. ``make_reward_funcs`` returns one function
per term (``__name__`` = the term's label, so TRL logs ``rewards/<label>/mean``) and the
weights to pass.

A sample on which a term with ``timeout_policy = "skip"`` timed out is reported as ``None``
by *every* term: TRL 1.16 then treats the completion as unscorable (left out of its group's
baseline, advantage 0), so a hard answer whose check timed out is neither rewarded nor
punished. (A ``None`` from one term alone would only drop that term from a ``nansum``,
which with fallback 0 is the same as scoring 0.)

``RewardCountersCallback`` adds the runner's counters to every log line and guards the run:
one warning per reward when its failure rate over a step exceeds ``warn_rate``, and a stop
with a one-line ``GmrError`` when a reward failed on every sample for ``stop_after_steps``
steps in a row (for a reward scored under ``timeout_policy = "skip"``, timeouts count as
failures: every sample unscorable means a step with no learning signal). TRL's multi-line
"All reward functions returned None" dump becomes one line, said once.
``counters_from_logs`` reads the counters back from a logged row, so a resumed run
continues its counts (``RewardRunner(initial_counters=...)``).
"""

from __future__ import annotations

import logging
import warnings
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gamermath.errors import GmrError
from gamermath.rewards.completions import completion_text
from gamermath.rewards.runner import COUNTERS, RewardRunner
from gamermath.rewards.terms import RewardTerm, apply_gate, gate_threshold, resolve_rewards
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
) -> tuple[list[Callable[..., list[float | None]]], list[float]]:
    """TRL reward functions for ``terms`` and the matching ``reward_weights``.

    A gated term returns 0.0 on samples where its gate term does not pass; the gate's
    scores come from the same runner, so they are cache hits when TRL already scored it.
    Samples where a ``timeout_policy = "skip"`` term timed out are ``None`` in every term.
    """
    rewards = resolve_rewards(terms)
    runner.prepare(list(rewards.values()))
    by_label = {t.label: t for t in terms}
    skip_terms = [t for t in terms if t.timeout_policy == "skip"]
    runner.skip_on_timeout.update(rewards[t.label].name for t in skip_terms)
    if skip_terms:
        _replace_trl_unscorable_dump()
    # The batch TRL is scoring now, and the results of its skip terms (timeouts are not
    # cached, so each term of the batch reuses them instead of timing out again).
    batch: dict[str, Any] = {"texts": None, "columns": None, "results": {}, "skipped": set()}

    def results(term: RewardTerm, texts: list[str], columns: Mapping[str, Any]) -> list:
        if term.label in batch["results"]:
            return batch["results"][term.label]
        reward = rewards[term.label]
        rows = column_rows(term.label, reward, len(texts), columns)
        return runner.results(reward, texts, rows, term.options)

    def skipped(texts: list[str], columns: Mapping[str, Any]) -> set[int]:
        """Indices of this batch where a skip term timed out (skip terms scored once)."""
        if not skip_terms:
            return set()
        mine = {k: v for k, v in columns.items() if k not in _TRL_EXTRAS}
        if batch["texts"] != texts or batch["columns"] != mine:
            batch.update(texts=None, columns=None, results={}, skipped=set())
            scored = {t.label: results(t, texts, columns) for t in skip_terms}
            batch.update(texts=list(texts), columns=mine, results=scored)
            batch["skipped"] = {
                i for found in scored.values() for i, r in enumerate(found)
                if r.status == "timeout"
            }
        return batch["skipped"]

    def values(term: RewardTerm, texts: list[str], columns: Mapping[str, Any]) -> list[float]:
        return [r.reward for r in results(term, texts, columns)]

    def build(term: RewardTerm) -> Callable[..., list[float | None]]:
        def reward_func(
            prompts: Any = None, completions: Any = None, completion_ids: Any = None, **kwargs: Any
        ) -> list[float | None]:
            texts = [completion_text(c) for c in (completions or [])]
            skip = skipped(texts, kwargs)
            scores: list[float | None] = list(values(term, texts, kwargs))
            if term.gate is not None:
                gate_term = by_label[term.gate]
                gate_values = values(gate_term, texts, kwargs)
                threshold = gate_threshold(term, rewards[gate_term.label])
                scores = apply_gate(scores, gate_values, threshold)
            return [None if i in skip else v for i, v in enumerate(scores)]

        reward_func.__name__ = term.label
        reward_func.__qualname__ = term.label
        return reward_func

    return [build(t) for t in terms], [float(t.weight) for t in terms]


#: Log key prefix of each runner counter: ``reward_<prefix>/<reward name>``.
LOG_PREFIX = {
    "calls": "reward_calls",
    "timeouts": "reward_timeouts",
    "errors": "reward_errors",
    "oom": "reward_oom",
    "cpu_limit": "reward_cpu_limit",
    "cache_hits": "reward_cache_hits",
}


def counter_logs(runner: RewardRunner) -> dict[str, float]:
    """``reward_calls/<name>``, ``reward_timeouts/<name>``, ``reward_errors/<name>``,
    ``reward_oom/<name>``, ``reward_cpu_limit/<name>``, ``reward_cache_hits/<name>``."""
    logs: dict[str, float] = {}
    for name, counts in sorted(runner.counters.items()):
        for counter in COUNTERS:
            logs[f"{LOG_PREFIX[counter]}/{name}"] = float(counts.get(counter, 0))
    return logs


def counters_from_logs(row: Mapping[str, Any]) -> dict[str, dict[str, int]]:
    """The runner counters in a logged row (e.g. the last metrics.jsonl row of a run), in the
    form ``RewardRunner(initial_counters=...)`` and ``RewardRunner.restore_counters`` take."""
    by_prefix = {prefix: counter for counter, prefix in LOG_PREFIX.items()}
    counters: dict[str, dict[str, int]] = {}
    for key, value in row.items():
        prefix, sep, name = str(key).partition("/")
        if sep and prefix in by_prefix and isinstance(value, (int, float)):
            counters.setdefault(name, {})[by_prefix[prefix]] = int(value)
    return counters


class RewardHealthWarning(UserWarning):
    """A reward failed on more than half of a step's samples."""


def _callback_base() -> type:
    from transformers import TrainerCallback

    return TrainerCallback


class RewardCountersCallback(_callback_base()):  # type: ignore[misc]
    """Logs the runner's counters and stops a run whose reward is broken.

    ``on_log``: adds the cumulative counters to the ``logs`` dict and to the latest
    ``state.log_history`` entry (callbacks see ``logs`` in list order: pass this one before
    callbacks that write logs out).

    ``on_step_end``: compares the counters with the previous step's. A reward whose failures
    (errors, timeouts, memory and CPU limits) exceed ``warn_rate`` of the step's samples gets
    one warning line (a ``RewardHealthWarning``), once per reward per run. A reward that
    failed (errors, memory or CPU limits; timeouts only under ``timeout_policy = "skip"``)
    on every sample of ``stop_after_steps`` consecutive steps that scored it sets
    ``control.should_training_stop``; the error is kept in ``failure`` and, with
    ``raise_on_stop``, raised as a ``GmrError`` from ``on_train_end`` (after the trainer's
    own end-of-training work), so ``trainer.train()`` ends with a one-line error.
    """

    def __init__(
        self,
        runner: RewardRunner,
        stop_after_steps: int = 3,
        warn_rate: float = 0.5,
        raise_on_stop: bool = True,
    ) -> None:
        if isinstance(stop_after_steps, bool) or not isinstance(stop_after_steps, int) or (
            stop_after_steps < 1
        ):
            raise GmrError(
                f"stop_after_steps must be a whole number >= 1, not {stop_after_steps!r}"
            )
        self.runner = runner
        self.stop_after_steps = stop_after_steps
        self.warn_rate = float(warn_rate)
        self.raise_on_stop = raise_on_stop
        self.failure: GmrError | None = None
        self.warned: set[str] = set()
        self._streaks: dict[str, int] = {}
        self._last = self._snapshot()

    def _snapshot(self) -> dict[str, dict[str, int]]:
        return {name: dict(counts) for name, counts in self.runner.counters.items()}

    def on_train_begin(self, args, state, control, **kwargs):
        self._last = self._snapshot()  # counters restored for a resumed run are history
        return control

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step if state is not None else None
        if self.check(step) is not None:
            control.should_training_stop = True
        return control

    def check(self, step: int | None = None) -> GmrError | None:
        """Compare the counters with the last check: warn, count streaks, and return the
        error to stop with (also kept in ``failure``) once a reward is broken."""
        now = self._snapshot()
        for name, counts in sorted(now.items()):
            before = self._last.get(name, {})
            delta = {k: counts.get(k, 0) - before.get(k, 0) for k in COUNTERS}
            calls = delta["calls"]
            if calls <= 0:
                continue  # this step did not score this reward (e.g. a reused generation)
            broken = delta["errors"] + delta["oom"] + delta["cpu_limit"]
            failed = broken + delta["timeouts"]
            at = f" at step {step}" if step is not None else ""
            if failed > self.warn_rate * calls and name not in self.warned:
                self.warned.add(name)
                warnings.warn(
                    f"reward '{name}' failed on {failed} of {calls} samples{at} "
                    f"({_breakdown(delta)}{_last_detail(self.runner, name)}); failed samples "
                    "score the fallback",
                    RewardHealthWarning,
                    stacklevel=2,
                )
            # under timeout_policy "skip" a timed-out sample is unscorable: a failure too
            skipping = name in self.runner.skip_on_timeout
            lost = broken + (delta["timeouts"] if skipping else 0)
            self._streaks[name] = self._streaks.get(name, 0) + 1 if lost >= calls else 0
            if self._streaks[name] >= self.stop_after_steps and self.failure is None:
                if skipping and delta["timeouts"]:
                    why = ("a term scoring it has timeout_policy \"skip\", so every sample was "
                           "unscorable and the policy got no learning signal; training stopped: "
                           "raise the reward's timeout, make it faster, or use "
                           "timeout_policy \"fallback\"")
                else:
                    why = "training stopped: fix the reward or its options"
                self.failure = GmrError(
                    f"reward '{name}' failed on every sample for {self._streaks[name]} steps in a "
                    f"row{at} ({_breakdown(delta)}{_last_detail(self.runner, name)}); {why}"
                )
        self._last = now
        return self.failure

    def raise_if_failed(self) -> None:
        """Raise the stop error, if the guard stopped the run."""
        if self.failure is not None:
            raise self.failure

    def on_train_end(self, args, state, control, **kwargs):
        if self.raise_on_stop:
            self.raise_if_failed()
        return control

    def on_log(self, args, state, control, logs=None, **kwargs):
        counters = counter_logs(self.runner)
        if logs is not None:
            logs.update(counters)
        if state is not None and state.log_history:
            state.log_history[-1].update(counters)
        return control


#: TRL's GRPO trainer logs this, then the unscorable row's every column, over many lines.
_TRL_UNSCORABLE = "All reward functions returned None"


class _OneLineUnscorable(logging.Filter):
    """Turns TRL's multi-line "All reward functions returned None" dump into one line, said
    once per training run (the counters ``reward_timeouts/<name>`` keep the running count)."""

    def __init__(self) -> None:
        super().__init__()
        self.said = False

    def filter(self, record: logging.LogRecord) -> bool:
        if _TRL_UNSCORABLE not in str(record.msg):
            return True
        if self.said:
            return False
        self.said = True
        record.msg = ("some completions were unscorable: a reward term with timeout_policy "
                      "\"skip\" timed out on them, so they get advantage 0 (counted in "
                      "reward_timeouts/<reward>; said once)")
        record.args = ()
        return True


def _replace_trl_unscorable_dump() -> None:
    """Install a fresh ``_OneLineUnscorable`` on TRL's GRPO trainer logger (one per run)."""
    logger = logging.getLogger("trl.trainer.grpo_trainer")
    for old in [f for f in logger.filters if isinstance(f, _OneLineUnscorable)]:
        logger.removeFilter(old)
    logger.addFilter(_OneLineUnscorable())


def _breakdown(delta: Mapping[str, int]) -> str:
    parts = [(delta["errors"], "errors"), (delta["timeouts"], "timeouts"),
             (delta["oom"], "over the memory limit"), (delta["cpu_limit"], "over the CPU limit")]
    return ", ".join(f"{n} {what}" for n, what in parts if n) or "none failed"


def _last_detail(runner: RewardRunner, name: str) -> str:
    detail = runner.last_failure.get(name, "")
    return f"; last: {detail[:200]}" if detail else ""


__all__ = [
    "RewardCountersCallback",
    "RewardHealthWarning",
    "completion_text",
    "counter_logs",
    "counters_from_logs",
    "make_reward_funcs",
]
