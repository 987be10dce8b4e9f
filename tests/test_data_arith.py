"""The ``arith`` generator: seeded, disjoint splits, correct answers, working knobs."""

from __future__ import annotations

import pytest

from gamermath.builtin.arith import expression_of, problem_split
from gamermath.data import load_rows
from gamermath.errors import GmrError


def test_default_is_easy_two_operand_sums():
    rows = load_rows("arith", "train")
    assert len(rows) == 2000
    first = rows[0]
    assert first["question"] == f"What is {first['expression']}?"
    a, op, b = first["expression"].split()
    assert op == "+" and 1 <= int(a) <= 99 and 1 <= int(b) <= 99
    assert first["answer"] == str(int(a) + int(b))
    assert first["reasoning"] == f"{a} + {b} = {first['answer']}"


def test_same_seed_same_rows_other_seed_other_rows():
    assert load_rows("arith", "test") == load_rows("arith", "test")
    other = load_rows("arith", "test", options={"seed": 1})
    assert other != load_rows("arith", "test")


@pytest.mark.parametrize("options", [{}, {"ops": "+-*", "steps": 3, "digits": 1}])
def test_train_and_test_are_disjoint_for_every_seed(options):
    train = {
        r["expression"]
        for seed in (0, 1)
        for r in load_rows("arith", "train", options={**options, "seed": seed})
    }
    test = {
        r["expression"]
        for seed in (0, 1)
        for r in load_rows("arith", "test", options={**options, "seed": seed})
    }
    assert train and test and not train & test
    assert all(problem_split(e, 0.1) == "test" for e in test)


def test_harder_knobs_give_correct_answers():
    rows = load_rows(
        "arith", "test", options={"ops": "+-*", "steps": 3, "digits": 2, "test_size": 300}
    )
    for row in rows:
        assert row["expression"].count(" ") == 6  # four operands, three operators
        # the expression text evaluates (with Python's precedence) to the gold answer
        assert eval(row["expression"]) == int(row["answer"]) >= 0  # noqa: S307
        assert len(row["reasoning"].splitlines()) == 3
        assert row["reasoning"].splitlines()[-1].endswith(f"= {row['answer']}")


def test_word_problems_use_the_same_numbers():
    rows = load_rows("arith", "train", options={"word": 1.0, "ops": "+-", "train_size": 50})
    for row in rows:
        assert row["question"].endswith("have now?")
        for number in row["expression"].replace("(", "").replace(")", "").split()[::2]:
            assert number in row["question"]


def test_parentheses_where_precedence_differs():
    assert expression_of([2, 3, 4], ["+", "*"]) == "(2 + 3) * 4"
    assert expression_of([2, 3, 4], ["*", "+"]) == "2 * 3 + 4"


def test_bad_knobs_are_one_line_errors():
    with pytest.raises(GmrError, match="arith: option 'ops' must use only"):
        load_rows("arith", "test", options={"ops": "+/"})
    with pytest.raises(GmrError, match="arith: only .* distinct test problems"):
        load_rows("arith", "test", options={"digits": 1, "test_size": 500})


def test_show_work_blanks_the_reasoning_of_the_other_rows_only():
    full = load_rows("arith", "train", options={"train_size": 400})
    half = load_rows("arith", "train", options={"train_size": 400, "show_work": 0.5})
    assert [r["question"] for r in half] == [r["question"] for r in full]  # same problems
    shown = [h for h, f in zip(half, full, strict=True) if h["reasoning"] == f["reasoning"]]
    blank = [h for h in half if h["reasoning"] == ""]
    assert len(shown) + len(blank) == 400 and 150 < len(blank) < 250
    assert load_rows("arith", "train", options={"train_size": 400, "show_work": 0.0})[0][
        "reasoning"] == ""
    with pytest.raises(GmrError, match="'show_work' must lie between 0 and 1"):
        load_rows("arith", "test", options={"show_work": 1.5})
