"""``sympy-equivalence`` against Math-Verify's own test cases (``math_verify_suite.jsonl``,
harvested from huggingface/Math-Verify's tests at the commit its header names), written as
a policy writes a final answer, beside plain math-verify on the same completions."""

from __future__ import annotations

import json

import pytest

from gamermath.builtin import sympy_equivalence
from gamermath.rewards.audit.suite import (
    STYLES,
    SUITE,
    agreement,
    load_suite,
    plain_math_verify,
    reproduce,
)

#: The goal: agreement in each style on the default-option cases (235 of 242 reached).
FLOOR = 0.97
OPTIONS = {"exact_numbers": True}


def test_the_suite_names_its_origin_and_licence():
    header = json.loads(SUITE.read_text(encoding="utf-8").splitlines()[0])
    assert header["_commit"].startswith("5d148cf")
    assert "Apache-2.0" in header["_licence"]
    cases = load_suite()
    assert len(cases) == header["_cases"] == 269
    assert len(load_suite(default_only=True)) == header["_default_cases"] == 242


def test_plain_math_verify_reproduces_every_upstream_verdict():
    cases = load_suite()
    wrong = [c["id"] for c in cases if reproduce(c) != bool(c["verdict"])]
    assert wrong == []


@pytest.mark.parametrize("style", sorted(STYLES))
def test_agreement_with_math_verifys_suite_and_no_false_positive(style):
    cases = load_suite(default_only=True)
    write = STYLES[style]
    ours = [
        sympy_equivalence.score(write(c["pred"]), {"answer": c["gold"]}, OPTIONS) == 1.0
        for c in cases
    ]
    plain = [plain_math_verify(c["gold"], write(c["pred"])) for c in cases]
    gmr, reference = agreement("gmr", style, cases, ours), agreement("plain", style, cases, plain)
    print(f"{style}: gmr {gmr.overall:.1%}, plain math-verify {reference.overall:.1%}")
    assert gmr.false_positives == []
    assert gmr.overall >= FLOOR


#: Each case a guard or an extraction rule was written for (gold, completion, verdict).
RULES = [
    ("[0,1)", "The answer is $[0,1)$.", 1.0),  # an interval is not a hedge
    ("(15,-29)", "So the answer is $(15,-29)$.", 1.0),
    ("-2,1", "The answer is $-2,1$.", 1.0),  # two values against a two-value gold
    ("17", "The answer is 17 or 18.", 0.0),  # ... but a hedge against one number
    ("17", "The answer is (17) or (18).", 0.0),
    ("0", "The answer is $[0,1)$.", 0.0),
    ("17", "\\boxed{17} or \\boxed{18}", 0.0),
    ("\\{1,2,3\\}", "\\boxed{1},\\boxed{2},\\boxed{3}", 1.0),  # math-verify joins the run
    ("4", "first \\boxed{3} then \\boxed{4}", 1.0),
    ("\\frac13", "The answer is $\\frac13$.", 1.0),
    ("\\text{odd}", "The answer is $odd$.", 1.0),
    ("\\boxed{1} no no no no no \\boxed{2}", "$\\boxed{1,2}$", 0.0),
    ("42", "\\boxed{" + "x" * 1000, 0.0),  # an unclosed box is no answer
]


@pytest.mark.parametrize(("gold", "completion", "expected"), RULES)
def test_each_extraction_rule_on_the_case_it_was_written_for(gold, completion, expected):
    assert sympy_equivalence.score(completion, {"answer": gold}, OPTIONS) == expected


def test_an_unclosed_box_never_reaches_math_verify(monkeypatch):
    """math-verify's box pattern takes seconds on ``\\boxed{`` and 1,000 more characters."""
    import math_verify

    calls: list[str] = []
    monkeypatch.setattr(math_verify, "parse", lambda text, *a, **k: calls.append(text) or [])
    for completion in ("\\boxed{" + "x" * 1000, "The answer is \\boxed{" + "1+" * 500,
                       "\\boxed{2} and then \\boxed{" + "y" * 5000):
        assert sympy_equivalence.score(completion, {"answer": "x^2"}, OPTIONS) == 0.0
    assert calls == []
