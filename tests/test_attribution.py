"""Gain attribution: held-out counts, the format / correctness split, the train summary."""

from __future__ import annotations

import pytest

from gamermath.engine.attribution import (
    Point,
    attribute,
    heldout_counts,
    stage_attributions,
    stage_points,
    summary_lines,
)


def row(stage: str, step: int, n: int, correct: int, formatted: int, both: int) -> dict:
    """A metrics.jsonl held-out row as the engine writes it."""
    scores = ([(True, True)] * both + [(True, False)] * (correct - both)
              + [(False, True)] * (formatted - both))
    scores += [(False, False)] * (n - len(scores))
    return {"stage": stage, "step": step, **heldout_counts(scores)}


def test_heldout_counts_rates_and_accuracy_among_formatted():
    counts = heldout_counts([(True, True), (True, False), (False, True), (False, True),
                             (False, False)])
    assert counts["heldout/n"] == 5
    assert counts["heldout/n_correct"] == 2 and counts["heldout/accuracy"] == pytest.approx(0.4)
    assert counts["heldout/n_formatted"] == 3 and counts["heldout/format_rate"] == 0.6
    assert counts["heldout/n_correct_formatted"] == 1
    assert counts["heldout/accuracy_formatted"] == pytest.approx(1 / 3)
    none = heldout_counts([(False, False), (True, False)])
    assert none["heldout/accuracy_formatted"] is None and none["heldout/format_rate"] == 0.0
    assert heldout_counts([])["heldout/accuracy"] == 0.0


def test_split_is_the_midpoint_rule_and_sums_to_the_gain():
    # 50% formatted, 40% of those right -> all formatted, 60% right: +40 points
    start = Point.from_row(row("grpo", 0, 100, 20, 50, 20))
    end = Point.from_row(row("grpo", 30, 100, 60, 100, 60))
    part = attribute("GRPO", start, end)
    assert part.gain == pytest.approx(0.40)
    assert part.format == pytest.approx(0.5 * (0.4 + 0.6) / 2)  # 0.25
    assert part.correctness == pytest.approx(0.2 * (0.5 + 1.0) / 2)  # 0.15
    assert part.unformatted == pytest.approx(0.0)
    assert part.format + part.correctness + part.unformatted == pytest.approx(part.gain)


def test_pure_correctness_and_pure_format_gains():
    same_format = attribute("GRPO", Point("grpo", 0, 200, 90, 200, 90),
                            Point("grpo", 40, 200, 120, 200, 120))
    assert same_format.format == 0.0 and same_format.correctness == pytest.approx(0.15)
    same_skill = attribute("GRPO", Point("grpo", 0, 100, 25, 50, 25),
                           Point("grpo", 40, 100, 50, 100, 50))
    assert same_skill.correctness == 0.0 and same_skill.format == pytest.approx(0.25)


def test_from_no_formatted_answers_the_whole_gain_is_format_repair():
    bare = Point("sft", 0, 100, 0, 0, 0)
    sft = Point("grpo", 0, 100, 45, 100, 45)
    part = attribute("SFT", bare, sft)
    assert part.format == pytest.approx(0.45) and part.correctness == 0.0
    assert attribute("x", bare, bare).gain == 0.0


def test_right_answers_without_the_answer_line_are_their_own_part():
    # 10 problems: 4 formatted (3 right) and 2 right without the line -> all formatted, 7 right
    start = Point("grpo", 0, 10, 5, 4, 3)
    end = Point("grpo", 30, 10, 7, 10, 7)
    part = attribute("GRPO", start, end)
    assert part.unformatted == pytest.approx(-0.2)
    assert part.format == pytest.approx(0.6 * (0.75 + 0.7) / 2)
    assert part.correctness == pytest.approx(-0.05 * (0.4 + 1.0) / 2)
    assert part.format + part.correctness + part.unformatted == pytest.approx(0.2)
    assert start.accuracy_unformatted == pytest.approx(2 / 6)


def test_stage_points_bare_sft_grpo_and_without_sft():
    rows = [row("sft", 0, 100, 0, 0, 0), {"stage": "sft", "step": 5, "loss": 1.0},
            row("grpo", 0, 100, 45, 100, 45), row("grpo", 10, 100, 50, 100, 50),
            row("grpo", 30, 100, 61, 99, 61)]
    named = stage_points(rows)
    assert [(name, p.stage, p.step) for name, p in named] == [
        ("bare", "sft", 0), ("SFT", "grpo", 0), ("GRPO", "grpo", 30)]
    sft, grpo = stage_attributions(rows)
    assert (sft.name, grpo.name) == ("SFT", "GRPO")
    assert sft.gain == pytest.approx(0.45) and grpo.gain == pytest.approx(0.16)
    no_sft = [row("grpo", 0, 50, 5, 10, 5), row("grpo", 20, 50, 15, 40, 15)]
    assert [name for name, _ in stage_points(no_sft)] == ["bare", "GRPO"]
    assert stage_points([]) == [] and stage_attributions(rows[:1]) == []


def test_rows_from_before_attribution_was_logged():
    old = {"stage": "grpo", "step": 10, "heldout/accuracy": 0.5, "heldout/format_rate": 0.75,
           "heldout/n": 48}
    point = Point.from_row(old)
    assert (point.n, point.correct, point.formatted, point.correct_formatted) == (48, 24, 36, 24)


def test_summary_lines_bare_sft_grpo_with_n_and_the_split():
    rows = [row("sft", 0, 200, 0, 0, 0), row("grpo", 0, 200, 90, 200, 90),
            row("grpo", 40, 200, 124, 200, 124)]
    bare, sft, grpo = summary_lines(rows)
    assert bare.startswith("bare") and "(n=200)" in bare and "accuracy   0.0%" in bare
    assert "n/a" in bare
    assert sft.startswith("SFT ") and "accuracy  45.0%" in sft and "format 100.0%" in sft
    assert "+45.0 points: format +45.0, correctness +0.0" in sft
    assert grpo.startswith("GRPO") and "accuracy  62.0%" in grpo
    assert "+17.0 points: format +0.0, correctness +17.0" in grpo
