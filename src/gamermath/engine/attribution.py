"""Gain attribution: how much of a stage's held-out gain is format repair, how much correctness.

Every held-out point records, besides accuracy and format rate, the accuracy among the
answers that carry the answer line (``heldout/accuracy_formatted``) and the counts behind
them. Accuracy is then ``f * c + (1 - f) * d``: ``f`` the format rate, ``c`` the accuracy
among formatted answers, ``d`` among the others (a right number without the answer line,
e.g. "the answer is 7"). Between two points the change of the first product is split with
the two-factor Shapley (midpoint) rule, which is exact:

    delta(f * c) = delta(f) * mean(c) + delta(c) * mean(f)

``format`` is the first term (more answers written in the expected form, at the stage's
average correctness), ``correctness`` the second (formatted answers more often right, at
its average format rate), ``unformatted`` is ``delta((1 - f) * d)``; the three sum to the
accuracy change. Where a point has no formatted answers, ``c`` is undefined there and is
taken equal to the other point's, so a gain from 0% format is counted as format repair
(all of it, as long as the correctness of formatted answers cannot be compared).
"""

from __future__ import annotations

from collections.abc import Iterable, Mapping, Sequence
from dataclasses import dataclass
from typing import Any

#: A point's stage label in summaries, by its place in a run.
POINT_NAMES = ("bare", "SFT", "GRPO")


def heldout_counts(scores: Iterable[tuple[bool, bool]]) -> dict[str, Any]:
    """The metrics row of one held-out point from ``(correct, formatted)`` per problem."""
    n = correct = formatted = correct_formatted = 0
    for ok, fmt in scores:
        n += 1
        correct += bool(ok)
        formatted += bool(fmt)
        correct_formatted += bool(ok and fmt)
    return {
        "heldout/accuracy": correct / n if n else 0.0,
        "heldout/format_rate": formatted / n if n else 0.0,
        "heldout/accuracy_formatted": correct_formatted / formatted if formatted else None,
        "heldout/n": n,
        "heldout/n_correct": correct,
        "heldout/n_formatted": formatted,
        "heldout/n_correct_formatted": correct_formatted,
    }


@dataclass(frozen=True)
class Point:
    """One held-out evaluation: counts out of ``n`` problems."""

    stage: str
    step: int
    n: int
    correct: int
    formatted: int
    correct_formatted: int

    @property
    def accuracy(self) -> float:
        return self.correct / self.n if self.n else 0.0

    @property
    def format_rate(self) -> float:
        return self.formatted / self.n if self.n else 0.0

    @property
    def accuracy_formatted(self) -> float | None:
        """Accuracy among formatted answers; ``None`` when there are none."""
        return self.correct_formatted / self.formatted if self.formatted else None

    @property
    def accuracy_unformatted(self) -> float | None:
        other = self.n - self.formatted
        return (self.correct - self.correct_formatted) / other if other else None

    @classmethod
    def from_row(cls, row: Mapping[str, Any]) -> Point:
        """A point from a ``metrics.jsonl`` held-out row (older rows: counts from the rates)."""
        n = int(row.get("heldout/n") or 0)

        def count(key: str, rate: str) -> int:
            value = row.get(key)
            if isinstance(value, (int, float)) and not isinstance(value, bool):
                return int(value)
            return round(float(row.get(rate) or 0.0) * n)

        correct = count("heldout/n_correct", "heldout/accuracy")
        formatted = count("heldout/n_formatted", "heldout/format_rate")
        if "heldout/n_correct_formatted" in row:
            both = int(row["heldout/n_correct_formatted"])
        else:  # a run from before attribution was logged: assume right answers were formatted
            both = min(correct, formatted)
        return cls(str(row.get("stage", "")), int(row.get("step") or 0), n, correct, formatted,
                   both)


@dataclass(frozen=True)
class Attribution:
    """The accuracy change between two points, split into its three parts (fractions)."""

    name: str
    start: Point
    end: Point
    format: float
    correctness: float
    unformatted: float

    @property
    def gain(self) -> float:
        return self.end.accuracy - self.start.accuracy


def attribute(name: str, start: Point, end: Point) -> Attribution:
    """Split ``end.accuracy - start.accuracy`` into format repair, correctness and the rest."""
    f0, f1 = start.format_rate, end.format_rate
    c0, c1 = start.accuracy_formatted, end.accuracy_formatted
    if c0 is None and c1 is None:
        c0 = c1 = 0.0
    elif c0 is None:
        c0 = c1
    elif c1 is None:
        c1 = c0
    assert c0 is not None and c1 is not None
    format_part = (f1 - f0) * (c0 + c1) / 2
    correctness_part = (c1 - c0) * (f0 + f1) / 2

    def unformatted_share(point: Point) -> float:
        return (point.correct - point.correct_formatted) / point.n if point.n else 0.0

    rest = unformatted_share(end) - unformatted_share(start)
    return Attribution(name, start, end, format_part, correctness_part, rest)


def heldout_points(rows: Iterable[Mapping[str, Any]]) -> list[Point]:
    """Every held-out point of a run's metrics rows, in order."""
    return [Point.from_row(r) for r in rows if "heldout/accuracy" in r]


def stage_points(rows: Iterable[Mapping[str, Any]]) -> list[tuple[str, Point]]:
    """``[("bare", p), ("SFT", p), ("GRPO", p)]``: the bare model, after SFT, after GRPO.

    The bare model is the first point (SFT's step 0, or GRPO's without SFT), after SFT is
    GRPO's step 0 when SFT ran, after GRPO the last GRPO point. Missing points are left out.
    """
    points = heldout_points(rows)
    if not points:
        return []
    grpo = [p for p in points if p.stage == "grpo"]
    sft_ran = any(p.stage == "sft" for p in points)
    out = [("bare", points[0])]
    if sft_ran and grpo and grpo[0].step == 0:
        out.append(("SFT", grpo[0]))
    if grpo and grpo[-1] is not out[-1][1]:
        out.append(("GRPO", grpo[-1]))
    return out


def stage_attributions(rows: Iterable[Mapping[str, Any]]) -> list[Attribution]:
    """One attribution per stage that has a point before and after it."""
    named = stage_points(rows)
    return [attribute(name, before, after)
            for (_, before), (name, after) in zip(named, named[1:], strict=False)]


def points_text(point: Point) -> str:
    """``accuracy 45.5%  format 100.0%  formatted-correct 45.5%`` for one point."""
    among = point.accuracy_formatted
    return (f"accuracy {point.accuracy:6.1%}  format {point.format_rate:6.1%}  "
            f"right when formatted {'   n/a' if among is None else f'{among:6.1%}'}")


def summary_lines(rows: Sequence[Mapping[str, Any]]) -> list[str]:
    """The end-of-training summary: one line per point, bare -> SFT -> GRPO, with n."""
    named = stage_points(rows)
    gains = {a.name: a for a in stage_attributions(rows)}
    lines = []
    width = max((len(name) for name, _ in named), default=0)
    for name, point in named:
        line = f"{name:<{width}} (n={point.n}): {points_text(point)}"
        gain = gains.get(name)
        if gain is not None:
            line += (f"  [{100 * gain.gain:+.1f} points: format {100 * gain.format:+.1f}, "
                     f"correctness {100 * gain.correctness:+.1f}")
            if abs(gain.unformatted) >= 0.0005:
                line += f", unformatted {100 * gain.unformatted:+.1f}"
            line += "]"
        lines.append(line)
    return lines
