"""Golden cases for answer extraction and the ``exact-answer`` reward, incl. real GSM8K golds."""

from __future__ import annotations

import json

import pytest

from gamermath import plugins
from gamermath.builtin.exact_answer import score
from gamermath.rewards.answers import extract_final_number, numbers_equal
from gamermath.rewards.runner import RewardRunner

DEFAULT = {"last_number_fallback": False}
FALLBACK = {"last_number_fallback": True}

# (completion, gold, expected reward) with the default options (no last-number fallback).
GOLDEN = [
    ("Natalia sold 48/2 = 24 clips in May.\n#### 72", "#### 72", 1.0),
    ("#### 72", "72", 1.0),
    ("so the total is\n#### 1,080", "... #### 1,080", 1.0),
    ("#### 1080", "#### 1,080", 1.0),
    ("#### $1,080.", "1080", 1.0),
    ("#### 1,080 dollars", "1080", 1.0),
    ("#### 18.00", "#### 18", 1.0),
    ("#### 18.0", "18", 1.0),
    ("#### 18.5", "18", 0.0),
    ("#### 50%", "#### 50", 1.0),
    ("#### \u22125", "#### -5", 1.0),
    ("#### -$5", "-5", 1.0),
    ("#### $-5.50", "-5.5", 1.0),
    ("#### 5", "-5", 0.0),
    ("#### 7 apples", "7", 1.0),
    ("#### 12 hours.", "#### 12", 1.0),
    ("#### The final answer is 72", "72", 1.0),
    ("\n#### The final answer is 1,200", "#### 1,200", 1.0),
    ("#### 3/4", "0.75", 1.0),
    ("#### 0.75", "3/4", 1.0),
    ("first #### 10 then corrected #### 12", "12", 1.0),
    ("first #### 10 then corrected #### 12", "10", 0.0),
    ("The answer is $\\boxed{72}$.", "#### 72", 1.0),
    ("\\boxed{1{,}080}", "1,080", 1.0),
    ("\\boxed{\\$18.00}", "18", 1.0),
    ("\\boxed{18 \\text{ dollars}}", "18", 1.0),
    ("\\boxed{\\frac{3}{4}}", "0.75", 1.0),
    ("\\boxed{50\\%}", "50", 1.0),
    ("\\boxed{7} and later \\boxed{8}", "8", 1.0),
    ("\\fbox{9}", "9", 1.0),
    ("The answer is 42.", "42", 1.0),
    ("So the answer is: $1,234", "1234", 1.0),
    ("The final answer is \u2212 3", "-3", 0.0),  # a detached minus is not a sign
    ("THE ANSWER IS 9 eggs", "9", 1.0),
    ("I computed 3 + 4 = 7.", "7", 0.0),  # no marker: no reward without the fallback
    ("", "7", 0.0),
    ("#### ", "7", 0.0),
    ("#### seven", "7", 0.0),
    ("####42", "42", 1.0),
    ("#### 1,000,000", "#### 1,000,000", 1.0),
    ("#### 0.5", "#### .5", 1.0),
    ("#### 100", "#### 10", 0.0),
    ("#### 2", "12", 0.0),
    ("\\boxed{}", "0", 0.0),
]


@pytest.mark.parametrize(("completion", "gold", "expected"), GOLDEN)
def test_exact_answer_golden(completion, gold, expected):
    assert score(completion, {"answer": gold}, DEFAULT) == expected


def test_golden_set_is_large_enough():
    assert len(GOLDEN) >= 40


@pytest.mark.parametrize(
    ("text", "fallback", "expected"),
    [
        ("I computed 3 + 4 = 7.", False, None),
        ("I computed 3 + 4 = 7.", True, "7"),
        ("Total: 12-4 = 8", True, "8"),
        ("it is 12 - 4", True, "4"),
        ("#### 1,080", False, "1080"),
        ("#### 18.00", False, "18"),
        ("#### 1/3", False, "1/3"),
        ("\\boxed{\\dfrac{1}{2}}", False, "0.5"),
        ("no digits at all", True, None),
        ("9" * 5000, True, None),  # beyond MAX_DIGITS: not a number
    ],
)
def test_extract_final_number(text, fallback, expected):
    assert extract_final_number(text, last_number_fallback=fallback) == expected


def test_last_number_fallback_option_changes_the_reward():
    text = "Adding them gives 3 + 4 = 7"
    assert score(text, {"answer": "7"}, DEFAULT) == 0.0
    assert score(text, {"answer": "7"}, FALLBACK) == 1.0


@pytest.mark.parametrize(
    ("pred", "gold", "equal"),
    [
        ("18.00", "#### 18", True),
        ("$1,080.", "She earns ... #### 1,080", True),
        ("1080", "1,080", True),
        ("-3", "#### -3", True),
        ("3", "#### -3", False),
        (None, "3", False),
        ("3", "no number", False),
    ],
)
def test_numbers_equal(pred, gold, equal):
    assert numbers_equal(pred, gold) is equal


def test_real_gsm8k_golds_with_commas(data_dir):
    rows = [json.loads(line) for line in (data_dir / "gsm8k" / "test.jsonl").open()]
    with_commas = [r["answer"] for r in rows if "," in r["answer"].rsplit("####", 1)[1]]
    assert len(with_commas) >= 10
    for gold in with_commas:
        final = gold.rsplit("####", 1)[1].strip()  # e.g. "1,080"
        plain = final.replace(",", "")
        assert score(f"Working...\n#### {final}", {"answer": gold}, DEFAULT) == 1.0
        assert score(f"The answer is ${plain}.", {"answer": gold}, DEFAULT) == 1.0
        assert score(f"\\boxed{{{plain}}}", {"answer": gold}, DEFAULT) == 1.0
        assert score(f"#### {int(plain) + 1}", {"answer": gold}, DEFAULT) == 0.0
    # the gold's own solution text scores 1 against itself for every test row
    assert all(score(r["answer"], {"answer": r["answer"]}, DEFAULT) == 1.0 for r in rows)


def test_golden_cases_through_the_runner_match_direct_calls():
    reward = plugins.get("reward", "exact-answer")
    completions = [c for c, _, _ in GOLDEN]
    columns = [{"answer": g} for _, g, _ in GOLDEN]
    with RewardRunner(workers=2) as runner:
        assert runner.score(reward, completions, columns) == [e for _, _, e in GOLDEN]
