"""Tests for the template plugin: the scoring itself and its registration through gmr."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest
from gmr_reward_template import repetition_fraction, score

OPTIONS = {"n": 4, "min_words": 8}


def test_no_repeats_scores_zero():
    text = "Natalia sold 48 clips in April and 24 in May so 72 in total"
    assert score(text, {}, OPTIONS) == 0.0


def test_a_loop_approaches_minus_one():
    loop = "so the answer is " * 50
    value = score(loop, {}, OPTIONS)
    assert -1.0 <= value < -0.95


def test_partial_repetition_is_the_repeated_fraction():
    # 12 words, 9 four-grams; the second copy of "a b c d e f" repeats 3 of them.
    text = "a b c d e f a b c d e f"
    assert repetition_fraction(text, 4) == pytest.approx(3 / 9)
    assert score(text, {}, OPTIONS) == pytest.approx(-3 / 9)


def test_short_completions_are_not_penalised():
    assert score("yes yes yes yes", {}, OPTIONS) == 0.0


def test_registered_through_gmr_entry_points():
    """The installed plugin shows up in `gmr rewards list` with its package and version."""
    out = subprocess.run(
        [sys.executable, "-m", "gamermath", "rewards", "list"],
        capture_output=True,
        text=True,
        check=True,
        env=dict(os.environ, COLUMNS="200"),
    ).stdout
    assert "repetition-penalty" in out
    assert "gmr-reward-template 0.1.0" in out


def test_gmr_reward_check_passes():
    """The conformance battery that gmr runs on any reward finds no violation here."""
    proc = subprocess.run(
        [sys.executable, "-m", "gamermath", "reward", "check", "repetition-penalty"],
        capture_output=True,
        text=True,
    )
    assert proc.returncode == 0, proc.stdout + proc.stderr
