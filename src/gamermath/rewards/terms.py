"""Reward terms: which rewards a recipe combines, with what weight, options and gate.

A term is one line of a recipe's reward mix. ``gate`` names another term (by label): the
gated term scores 0 on a sample unless the gate term *passes* on that sample, i.e. its raw
score (before weights) is ``>= gate_threshold``; the threshold defaults to the gate reward's
``output_range`` maximum (full marks). Example: correctness counts only when the format is
right (``gate = "format"``).

The term's type is ``gamermath.recipe.schema.RewardSpec`` (``RewardTerm`` here), and the
label and gate rules are the recipe's (``reward_mix_problems``), so ``gmr recipe check``
and training reject the same mixes.

``timeout_policy`` says what TRL receives for a sample whose reward timed out: ``"fallback"``
(default) the runner's fallback score, ``"skip"`` ``None``. TRL 1.16's GRPOTrainer turns
``None`` into NaN: the term then adds nothing to that sample's weighted sum (``nansum``) and
is left out of the term's logged mean; a sample where every term is ``None`` is left out of
its group's baseline and gets advantage 0. Either way the timeout is counted.
"""

from __future__ import annotations

from collections.abc import Sequence

from gamermath.errors import GmrError
from gamermath.recipe.schema import TIMEOUT_POLICIES, RewardSpec, reward_mix_problems
from gamermath.specs import Reward

#: The one reward-term type: a recipe's ``[[rewards]]`` table, or built directly.
RewardTerm = RewardSpec

__all__ = ["TIMEOUT_POLICIES", "RewardTerm", "apply_gate", "gate_threshold", "resolve_rewards"]


def resolve_rewards(terms: Sequence[RewardTerm]) -> dict[str, Reward]:
    """Each term's installed ``Reward`` by label, after the recipe's own label and gate checks
    (``reward_mix_problems``) and each term's option checks."""
    from gamermath import plugins
    from gamermath.rewards.options import validate_options

    for index, key, problem in reward_mix_problems(terms):
        raise GmrError(f"reward term '{terms[index].label}': {key} {problem}")
    rewards: dict[str, Reward] = {}
    for term in terms:
        reward = plugins.get("reward", term.name)
        validate_options(reward, term.options)  # bad keys and values fail before training
        rewards[term.label] = reward
    return rewards


def gate_threshold(term: RewardTerm, gate_reward: Reward) -> float:
    """The raw score at or above which the gate passes (default: the gate reward's maximum)."""
    if term.gate_threshold is not None:
        return float(term.gate_threshold)
    return float(gate_reward.output_range[1])


def apply_gate(scores: Sequence[float], gate_scores: Sequence[float],
               threshold: float) -> list[float]:
    """A gated term's scores: unchanged where the gate's raw score reaches ``threshold``,
    else 0."""
    return [v if g >= threshold else 0.0 for v, g in zip(scores, gate_scores, strict=True)]
