"""Golden cases for ``sympy-equivalence``: math-verify's verdicts, our exact-number guard,
the pre-parse guard against expressions that make sympy run for minutes, and real MATH-500."""

from __future__ import annotations

import json
import time

import pytest

from gamermath import plugins
from gamermath.builtin.sympy_equivalence import cache_key, score, unsafe_reason
from gamermath.rewards.runner import RewardRunner

GUARD_ON = {"exact_numbers": True}
GUARD_OFF = {"exact_numbers": False}

# (completion, gold, expected reward) with the default options.
GOLDEN = [
    ("\\boxed{\\frac{1}{2}}", "\\frac12", 1.0),
    ("\\boxed{0.5}", "\\frac{1}{2}", 1.0),
    ("\\boxed{\\dfrac{14}{3}}", "\\frac{14}{3}", 1.0),
    ("\\boxed{\\tfrac{14}{3}}", "\\frac{14}{3}", 1.0),
    ("\\boxed{14/3}", "\\frac{14}{3}", 1.0),
    ("\\boxed{4.67}", "\\frac{14}{3}", 0.0),
    ("\\boxed{\\sqrt{2}/2}", "\\frac{\\sqrt2}{2}", 1.0),
    ("\\boxed{\\frac{1}{\\sqrt{2}}}", "\\frac{\\sqrt{2}}{2}", 1.0),
    ("\\boxed{2\\sqrt{3}}", "\\sqrt{12}", 1.0),
    ("\\boxed{x^2+2x+1}", "(x+1)^2", 1.0),
    ("\\boxed{x^2+1}", "(x+1)^2", 0.0),
    ("\\boxed{(3,\\frac{\\pi}{2})}", "\\left( 3, \\frac{\\pi}{2} \\right)", 1.0),
    ("\\boxed{(\\frac{\\pi}{2}, 3)}", "\\left( 3, \\frac{\\pi}{2} \\right)", 0.0),
    ("\\boxed{[1,2)}", "[1,2)", 1.0),
    ("\\boxed{(1,2)}", "[1,2)", 0.0),
    ("\\boxed{p-q}", "p - q", 1.0),
    ("\\boxed{q-p}", "p - q", 0.0),
    ("\\boxed{\\text{Evelyn}}", "\\text{Evelyn}", 1.0),
    ("\\boxed{\\text{(C)}}", "\\text{(C)}", 1.0),
    ("\\boxed{50\\%}", "0.5", 1.0),
    ("\\boxed{\\pi}", "\\pi", 1.0),
    ("\\boxed{3.14}", "\\pi", 0.0),
    ("\\boxed{90^\\circ}", "90^\\circ", 1.0),
    ("\\boxed{-\\frac{3}{4}}", "-\\frac34", 1.0),
    ("\\boxed{\\frac{3}{4}}", "-\\frac34", 0.0),
    ("\\boxed{2^{100}}", "2^{100}", 1.0),
    ("\\boxed{1267650600228229401496703205376}", "2^{100}", 1.0),
    ("\\boxed{2^{99}}", "2^{100}", 0.0),
    ("The final answer is $\\frac{14}{3}$.", "\\frac{14}{3}", 1.0),
    ("No boxed answer here, just 14/3 somewhere.", "\\frac{14}{3}", 0.0),
    ("so she pays\n#### 1,080", "#### 1,080", 1.0),
    ("\\boxed{1080}", "1,080", 1.0),
    ("\\boxed{1,080}", "#### 1,080", 1.0),
    ("#### 18.00", "18", 1.0),
    ("#### 17", "18", 0.0),
    ("first \\boxed{3} then \\boxed{4}", "4", 1.0),
    ("first \\boxed{3} then \\boxed{4}", "3", 0.0),
    ("", "3", 0.0),
    ("\\boxed{}", "3", 0.0),
    ("\\boxed{2}", "3", 0.0),
    # math-verify's false positives on exact numbers, corrected by the exact guard
    ("\\boxed{\\frac{1}{2^{99}}}", "\\frac{1}{2^{98}}", 0.0),
    ("\\boxed{10^{-30}}", "0", 0.0),
    ("\\boxed{\\frac{3}{10^{40}}}", "\\frac{1}{10^{40}}", 0.0),
    ("\\boxed{1000000001}", "1000000000", 0.0),
    ("\\boxed{0.333333}", "\\frac13", 1.0),
    ("\\boxed{0.33}", "\\frac13", 0.0),
    # expressions that make sympy run for minutes score 0 at once
    ("\\boxed{2^{2^{2^{2^{99}}}}}", "42", 0.0),
    ("\\boxed{9^{9^{9^{9}}}}", "42", 0.0),
    ("#### 10**10**10**10", "42", 0.0),
    ("The answer is $10^{10^{10^{10}}}$", "42", 0.0),
    ("\\boxed{9999999999^{9999999999}}", "1", 0.0),
    ("\\boxed{" + "\\frac{1}{" * 40 + "2" + "}" * 40 + "}", "2", 0.0),
]


@pytest.mark.parametrize(("completion", "gold", "expected"), GOLDEN)
def test_sympy_equivalence_golden(completion, gold, expected):
    assert score(completion, {"answer": gold}, GUARD_ON) == expected


def test_golden_set_is_large_enough():
    assert len(GOLDEN) >= 40


@pytest.mark.parametrize(
    ("completion", "gold"),
    [
        ("\\boxed{\\frac{1}{2^{99}}}", "\\frac{1}{2^{98}}"),
        ("\\boxed{\\frac{1}{2^{60}}}", "\\frac{1}{2^{61}}"),
        ("\\boxed{\\frac{3}{10^{40}}}", "\\frac{1}{10^{40}}"),
    ],
)
def test_the_guard_fixes_a_real_math_verify_false_positive(completion, gold):
    assert score(completion, {"answer": gold}, GUARD_OFF) == 1.0  # math-verify alone
    assert score(completion, {"answer": gold}, GUARD_ON) == 0.0


def test_power_towers_fail_fast():
    started = time.perf_counter()
    for text in ("2^{2^{2^{99}}}", "9^{9^{9^{9}}}", "10**10**10", "2^{10^6}", "(2^{99})!"):
        assert unsafe_reason(text) is not None
        assert score(f"\\boxed{{{text}}}", {"answer": "1"}, GUARD_ON) == 0.0
    assert time.perf_counter() - started < 5
    for text in ("e^{x^2}", "2^{2^{n}}", "x^{100}", "2^{1000}", "\\frac{(n+1)!}{2}"):
        assert unsafe_reason(text) is None


def test_cache_key_equal_for_equal_extracted_answers():
    a = cache_key("long reasoning A ... \\boxed{42}", {"answer": "42"}, GUARD_ON)
    b = cache_key("other reasoning B ... \\boxed{42}", {"answer": "42"}, GUARD_ON)
    c = cache_key("other reasoning B ... \\boxed{41}", {"answer": "42"}, GUARD_ON)
    assert a == b != c


def test_real_math500_answers_verify_against_themselves(data_dir):
    rows = [json.loads(line) for line in (data_dir / "math500" / "test.jsonl").open()][:80]
    reward = plugins.get("reward", "sympy-equivalence")
    completions = [f"Solution.\nThe final answer is $\\boxed{{{r['answer']}}}$." for r in rows]
    wrong = [f"Solution.\n\\boxed{{{r['answer']}+1}}" for r in rows]
    columns = [{"answer": r["answer"]} for r in rows]
    with RewardRunner(workers=2) as runner:
        right = runner.results(reward, completions, columns)
        off = runner.score(reward, wrong, columns)
    assert all(r.status == "ok" for r in right)
    assert sum(r.reward for r in right) >= 0.95 * len(rows)
    assert sum(off) <= 0.1 * len(rows)


@pytest.mark.parametrize(
    ("latex", "expected"),
    [
        ("\\frac{14}{3}", "14/3"),
        ("\\frac65", "6/5"),
        ("\\frac 59", "5/9"),
        ("-\\dfrac{3}{4}", "-3/4"),
        ("3\\sqrt{13}", "3*sqrt(13)"),
        ("2\\pi", "2*pi"),
        ("x^23", "3*x**2"),
        ("(a+5)(b+2)", "(a + 5)*(b + 2)"),
        ("2\\cdot\\left(3\\sqrt{13}\\right)+1", "1 + 6*sqrt(13)"),
        ("\\frac{1}{2^{99}}", "1/633825300114114700748351602688"),
    ],
)
def test_latex_subset_translates_simple_answers(latex, expected):
    from gamermath.rewards.latex_subset import to_sympy

    assert str(to_sympy(latex)) == expected


@pytest.mark.parametrize(
    "latex",
    ["1,080", "(1, 2)", "6+9i", "e^x", "\\cot x", "xy", "f(x)", "52_8", "90^\\circ",
     "50\\%", "\\text{A}", "\\sqrt[3]{2}", "x = 3", "\\begin{pmatrix} 1 \\end{pmatrix}"],
)
def test_latex_subset_leaves_everything_else_to_math_verify(latex):
    from gamermath.rewards.latex_subset import to_sympy

    assert to_sympy(latex) is None


@pytest.mark.parametrize(
    ("completion", "gold", "expected"),
    [
        ("\\boxed{10080}", "10,\\!080", 1.0),
        ("\\boxed{\\$32,348}", "\\$32,\\!348", 1.0),
        ("\\boxed{\\frac{6}{5}}", "\\frac65", 1.0),
        ("\\boxed{1.2}", "\\frac65", 1.0),
        ("\\boxed{x^2+2x+1}", "(x+1)^2", 1.0),  # equal at the probes: math-verify confirms
        ("\\boxed{x^2+2x}", "(x+1)^2", 0.0),  # differs at a probe: no parser needed
    ],
)
def test_fast_paths_agree_with_the_full_check(completion, gold, expected):
    assert score(completion, {"answer": gold}, GUARD_ON) == expected
    assert score(completion, {"answer": gold}, GUARD_OFF) == expected
