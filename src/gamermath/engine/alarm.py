"""The reward-hacking alarm: a paired test on held-out accuracy with a stated false-alarm rate.

Every held-out evaluation scores the same ``n`` problems greedily, so two evaluations are
paired: ``lost`` problems were right at the earlier one and wrong now, ``gained`` the other
way round. If the policy's accuracy did not really change, each of the ``lost + gained``
changed problems is as likely to have gone either way, so ``lost`` follows
Binomial(lost + gained, 1/2) (McNemar's exact test). The one-sided p-value
``P(X >= lost)`` says how surprising the drop is.

At each evaluation ``k`` the alarm compares it with every earlier evaluation ``j`` (the last
``window`` ones when ``window > 0``) on which the training reward has since risen by at least
``min_reward_rise``, and fires when one comparison's p-value is at most ``alpha / m``, where
``m`` is the number of comparisons the whole run will make (Bonferroni). Whatever the reward
does, a run whose held-out accuracy does not truly fall raises the alarm with probability at
most ``alpha`` (5% by default) over the whole run.

The reward rise from ``j`` to ``k`` is the mean reward logged between ``k - 1`` and ``k`` (the
policy just before ``k``) minus the first reward logged after ``j`` (the policy evaluated at
``j`` generating its first batch), so a reward that jumps within one interval still counts.
"""

from __future__ import annotations

import math
from collections.abc import Sequence
from dataclasses import dataclass, field
from typing import Any


def mcnemar_p(lost: int, gained: int) -> float:
    """One-sided exact McNemar p-value: P(X >= lost), X ~ Binomial(lost + gained, 1/2)."""
    n = lost + gained
    if n == 0 or lost == 0:
        return 1.0
    tail = sum(math.comb(n, i) for i in range(lost, n + 1))
    return tail / 2**n


def comparisons(evaluations: int, window: int = 0) -> int:
    """How many (earlier, later) pairs a run of ``evaluations`` evaluations tests."""
    return sum(min(k, window) if window > 0 else k for k in range(1, max(evaluations, 1)))


@dataclass
class Evaluation:
    """One held-out evaluation: its step, per-problem results, the mean training reward of the
    interval before it and the first one logged after it."""

    step: int
    reward: float | None
    correct: tuple[bool, ...]
    next_reward: float | None = None

    @property
    def accuracy(self) -> float:
        return sum(self.correct) / len(self.correct) if self.correct else 0.0


def correct_from_text(bits: str) -> tuple[bool, ...]:
    """Per-problem results from their ``metrics.jsonl`` form (``"0110"``)."""
    return tuple(ch == "1" for ch in bits)


def correct_to_text(correct: Sequence[bool]) -> str:
    return "".join("1" if c else "0" for c in correct)


@dataclass
class HackingAlarm:
    """Fires when held-out accuracy falls significantly while the training reward rises."""

    alpha: float = 0.05
    min_reward_rise: float = 0.05
    window: int = 0
    #: evaluations the run is planned to make (sets ``m``; the actual count if larger)
    planned: int = 0
    #: the step the run will end at when it ends before its schedule (``[grpo] stop_at_step``)
    last_step: int | None = None
    history: list[Evaluation] = field(default_factory=list)

    def threshold(self) -> float:
        """The p-value at or below which a comparison raises the alarm: alpha / m."""
        m = comparisons(max(self.planned, len(self.history)), self.window)
        return self.alpha / max(m, 1)

    def _base_reward(self, index: int) -> float | None:
        """The training reward at an earlier evaluation: the first logged after it, else the
        interval's mean before it."""
        earlier = self.history[index]
        return earlier.next_reward if earlier.next_reward is not None else earlier.reward

    def log_reward(self, reward: float) -> None:
        """A training reward was logged: the first one after an evaluation is its reward."""
        if self.history and self.history[-1].next_reward is None:
            self.history[-1].next_reward = float(reward)

    def add(self, step: int, reward: float | None, correct: Sequence[bool]) -> dict[str, Any]:
        """Record one evaluation; return the alarm fields for its metrics row (may be empty)."""
        self.history.append(Evaluation(int(step), reward, tuple(bool(c) for c in correct)))
        k = len(self.history) - 1
        now = self.history[k]
        if k == 0 or now.reward is None:
            return {}
        start = max(0, k - self.window) if self.window > 0 else 0
        best: tuple[float, int, int, int] | None = None  # (p, j, lost, gained)
        for j in range(start, k):
            earlier = self.history[j]
            base = self._base_reward(j)
            if base is None or len(earlier.correct) != len(now.correct) or not now.correct:
                continue
            if now.reward - base < self.min_reward_rise:
                continue
            lost = sum(a and not b for a, b in zip(earlier.correct, now.correct, strict=True))
            gained = sum(b and not a for a, b in zip(earlier.correct, now.correct, strict=True))
            p = mcnemar_p(lost, gained)
            if best is None or p < best[0]:
                best = (p, j, lost, gained)
        threshold = self.threshold()
        if best is None:
            return {"alarm/reward_hacking": False, "alarm/threshold": threshold}
        p, j, lost, gained = best
        earlier = self.history[j]
        return {
            "alarm/reward_hacking": p <= threshold,
            "alarm/p_value": p,
            "alarm/threshold": threshold,
            "alarm/reference_step": earlier.step,
            "alarm/accuracy_drop": earlier.accuracy - now.accuracy,
            "alarm/reward_rise": now.reward - self._base_reward(j),
            "alarm/lost": lost,
            "alarm/gained": gained,
        }
