"""Reward terms: which rewards a recipe combines, with what weight, options and gate.

A term is one line of a recipe's reward mix. ``gate`` names another term (by label): the
gated term scores 0 on a sample unless the gate term *passes* on that sample, i.e. its raw
score (before weights) is ``>= gate_threshold``; the threshold defaults to the gate reward's
``output_range`` maximum (full marks). Example: correctness counts only when the format is
right (``gate = "format"``).

``timeout_policy`` says what TRL receives for a sample whose reward timed out: ``"fallback"``
(default) the runner's fallback score, ``"skip"`` ``None``. TRL 1.16's GRPOTrainer turns
``None`` into NaN: the term then adds nothing to that sample's weighted sum (``nansum``) and
is left out of the term's logged mean; a sample where every term is ``None`` is left out of
its group's baseline and gets advantage 0. Either way the timeout is counted.
"""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gamermath.errors import GmrError
from gamermath.specs import Reward

#: What a term reports to TRL for a timed-out sample.
TIMEOUT_POLICIES = ("fallback", "skip")


@dataclass(frozen=True)
class RewardTerm:
    """One weighted reward in a mix; ``label`` (default: ``name``) must be unique in the mix."""

    name: str
    weight: float = 1.0
    options: Mapping[str, Any] = field(default_factory=dict)
    gate: str | None = None
    gate_threshold: float | None = None
    label: str = ""
    timeout_policy: str = "fallback"

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)
        if self.timeout_policy not in TIMEOUT_POLICIES:
            raise GmrError(
                f"reward term '{self.label}': timeout_policy must be one of "
                f"{', '.join(TIMEOUT_POLICIES)}, not {self.timeout_policy!r}"
            )


def resolve_rewards(terms: Sequence[RewardTerm]) -> dict[str, Reward]:
    """Each term's installed ``Reward`` by label, after checking labels and gates."""
    from gamermath import plugins
    from gamermath.rewards.options import validate_options

    labels = [t.label for t in terms]
    duplicates = sorted({label for label in labels if labels.count(label) > 1})
    if duplicates:
        raise GmrError(
            f"reward label '{duplicates[0]}' is used by two terms; give each term a unique label"
        )
    rewards: dict[str, Reward] = {}
    for term in terms:
        reward = plugins.get("reward", term.name)
        validate_options(reward, term.options)  # bad keys and values fail before training
        rewards[term.label] = reward
    by_label = {t.label: t for t in terms}
    for term in terms:
        if term.gate is None:
            continue
        if term.gate not in by_label:
            raise GmrError(
                f"reward term '{term.label}' is gated on '{term.gate}', which is not a term "
                f"label (labels: {', '.join(labels)})"
            )
        if by_label[term.gate].gate is not None:
            raise GmrError(
                f"reward term '{term.label}' is gated on '{term.gate}', which is gated itself; "
                "gates may not be chained"
            )
    return rewards


def gate_threshold(term: RewardTerm, gate_reward: Reward) -> float:
    """The raw score at or above which the gate passes (default: the gate reward's maximum)."""
    if term.gate_threshold is not None:
        return float(term.gate_threshold)
    return float(gate_reward.output_range[1])


def combine(
    terms: Sequence[RewardTerm], raw: Mapping[str, Sequence[float]], rewards: Mapping[str, Reward]
) -> list[float]:
    """The weighted, gated total per sample from each term's raw scores (by label)."""
    n = len(next(iter(raw.values()))) if raw else 0
    totals = [0.0] * n
    by_label = {t.label: t for t in terms}
    for term in terms:
        values = gated_scores(term, raw, rewards, by_label)
        for i, value in enumerate(values):
            totals[i] += term.weight * value
    return totals


def gated_scores(
    term: RewardTerm,
    raw: Mapping[str, Sequence[float]],
    rewards: Mapping[str, Reward],
    by_label: Mapping[str, RewardTerm],
) -> list[float]:
    """A term's raw scores with the gate applied (0 where its gate fails)."""
    values = list(raw[term.label])
    if term.gate is None:
        return values
    threshold = gate_threshold(term, rewards[by_label[term.gate].label])
    gate_values = raw[term.gate]
    return [v if g >= threshold else 0.0 for v, g in zip(values, gate_values, strict=True)]
