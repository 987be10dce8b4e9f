"""Adversarial completions, each kind time-bounded: megabyte pathological strings through
everything that runs in the trainer's process (cache keys, extraction, held-out scoring), the
inputs that used to cost a full timeout or gigabytes, and model text that used to reach
Python's ``eval``."""

from __future__ import annotations

import json
import re
import time

import pytest

from gamermath import plugins
from gamermath.builtin import exact_answer, format_reward, sympy_equivalence
from gamermath.engine.heldout import has_answer_line, score_completion
from gamermath.rewards.answers import extract_final_number, last_boxed
from gamermath.rewards.audit import DATASET
from gamermath.rewards.cache import text_digest
from gamermath.rewards.completions import completion_text
from gamermath.rewards.guards import unsafe_reason
from gamermath.rewards.latex_subset import to_sympy
from gamermath.rewards.runner import RewardRunner

MB = 1_000_000
#: A generous bound for one call on a megabyte (quadratic work would take hours).
BOUND_S = 2.0

PATHOLOGICAL = {
    "#### blanks x": "#### " + " " * MB + "x",
    "#### 1 blanks x": "#### 1" + " " * MB + "x",
    "#### $ blanks": "#### $" + " " * MB,
    "#### tabs": "####" + "\t" * MB + "-",
    "many ####": "#### " * (MB // 5),
    "frac blanks": "\\frac{" + " " * MB + "x",
    "text blanks": "\\text{" + " " * MB,
    "answer is blanks": "the answer is" + " " * MB + "x",
    "answer answer": "answer " * (MB // 7),
    "unclosed boxes": "\\boxed{" * (MB // 7),
    "hedged boxes": "\\boxed{1} or " * (MB // 13),
    "open braces": "{" * MB,
    "close braces": "}" * MB,
    "commas": "1," * (MB // 2),
    "slashes": "1/" * (MB // 2),
    "dollars": "$ " * (MB // 2),
    "minus": "-" * MB,
    "dots": ".5" * (MB // 2),
    "digits": "9" * MB,
    "power towers": "^{9" * (MB // 3),
    "factorials": "9!" * (MB // 2),
    "think tags": "<think>" * (MB // 7),
    "letters": "x" * MB,
}

EXACT = {"last_number_fallback": True}
SYMPY = {"exact_numbers": True}
FORMAT = {**plugins.get("reward", "format").options, "think": 0.5, "hash": 0.5}

IN_PROCESS = {
    "exact-answer cache_key": lambda t: exact_answer.cache_key(t, {"answer": "42"}, EXACT),
    "sympy-equivalence cache_key": lambda t: sympy_equivalence.cache_key(
        t, {"answer": "42"}, SYMPY
    ),
    "sympy-equivalence key_verdict": lambda t: sympy_equivalence.key_verdict(
        sympy_equivalence.cache_key(t, {"answer": "42"}, SYMPY), SYMPY
    ),
    "exact-answer key_verdict": lambda t: exact_answer.key_verdict(
        exact_answer.cache_key(t, {"answer": "42"}, EXACT), EXACT
    ),
    "default cache key (digest)": lambda t: text_digest(t, {"answer": "42"}),
    "extract_final_number": lambda t: extract_final_number(t, last_number_fallback=True),
    "last_boxed": last_boxed,
    "held-out score_completion": lambda t: score_completion(t, "42"),
    "held-out has_answer_line": has_answer_line,
    "completion_text": lambda t: completion_text([{"role": "assistant", "content": t}]),
    "guards (whole text)": lambda t: unsafe_reason(t, None),
    "latex_subset": to_sympy,
}

SCORES = {
    "exact-answer": lambda t: exact_answer.score(t, {"answer": "42"}, EXACT),
    "format": lambda t: format_reward.score(t, {}, FORMAT),
    "sympy-equivalence": lambda t: sympy_equivalence.score(t, {"answer": "42"}, SYMPY),
}


@pytest.mark.parametrize("name", sorted(IN_PROCESS))
def test_trainer_side_work_is_linear_on_a_megabyte(name):
    """Everything the trainer's process runs on model text, on every pathological string."""
    work = IN_PROCESS[name]
    slowest = ("", 0.0)
    for kind, text in PATHOLOGICAL.items():
        started = time.perf_counter()
        work(text)
        took = time.perf_counter() - started
        slowest = max(slowest, (kind, took), key=lambda pair: pair[1])
    assert slowest[1] < BOUND_S, f"{name} took {slowest[1]:.2f} s on '{slowest[0]}'"


@pytest.mark.parametrize("name", sorted(SCORES))
def test_score_functions_finish_well_inside_their_timeout_on_a_megabyte(name, imported):
    score = SCORES[name]
    for kind, text in PATHOLOGICAL.items():
        started = time.perf_counter()
        value = score(text)
        took = time.perf_counter() - started
        assert 0.0 <= value <= 1.0
        assert took < BOUND_S, f"{name} took {took:.2f} s on '{kind}'"


def test_the_format_regex_is_linear_on_hash_and_many_blanks():
    for blanks in (8_000, 16_000, 200_000):
        text = "####" + " " * blanks + "x"
        started = time.perf_counter()
        assert format_reward.score(text, {}, FORMAT) == 0.0
        assert not has_answer_line(text)
        assert time.perf_counter() - started < 0.5


#: Inputs that passed the old guards and cost a full 5 s timeout each.
SIX = ["9^{9}^{9}", "(100!)!", "(9999!)!", "\\Gamma(10^{10})", "\\binom{10^9}{5\\cdot10^8}",
       "((((3!)!)!)!)"]


@pytest.fixture(scope="module")
def imported():
    """The score functions import math-verify on first use: not part of any verdict's time."""
    sympy_equivalence.score("\\boxed{1}", {"answer": "2"}, SYMPY)


@pytest.mark.parametrize("answer", SIX)
def test_the_six_grinding_inputs_are_decided_in_milliseconds(answer, imported):
    assert unsafe_reason(answer) is not None
    for completion in (f"\\boxed{{{answer}}}", f"The answer is ${answer}$.", f"#### {answer}"):
        started = time.perf_counter()
        assert sympy_equivalence.score(completion, {"answer": "42"}, SYMPY) == 0.0
        assert time.perf_counter() - started < 0.1
    started = time.perf_counter()  # as a gold, too
    assert sympy_equivalence.score("\\boxed{42}", {"answer": answer}, SYMPY) == 0.0
    assert time.perf_counter() - started < 0.1


#: Model text that used to reach ``sympy.parse_expr`` (Python ``eval``): method calls.
EVAL_PAYLOADS = ["(1).n{9}", "(2).p", "\\frac{1}{3}.n{10^{10}}", "(1).__class__",
                 "x.subs{x}{2}", "(2)**(2)**(99)", "x//2"]


@pytest.mark.parametrize("payload", EVAL_PAYLOADS)
def test_method_call_payloads_are_never_evaluated(payload, imported):
    assert to_sympy(payload) is None
    started = time.perf_counter()
    value = sympy_equivalence.score(f"\\boxed{{{payload}}}", {"answer": "1/3"}, SYMPY)
    assert value == 0.0 and time.perf_counter() - started < 2


def test_the_adversarial_kinds_through_the_runner_are_ok_not_timeouts():
    """What training sees: every kind scored (status ok, never a timeout or an error) in a
    worker with its memory limit, well inside the reward's timeout."""
    reward = plugins.get("reward", "sympy-equivalence")
    answers = SIX + EVAL_PAYLOADS + ["2^{2^{2^{99}}}", "10^{10^{10}}", "99999!"]
    completions = [f"\\boxed{{{a}}}" for a in answers] + list(PATHOLOGICAL.values())[:6]
    with RewardRunner(workers=2) as runner:
        started = time.perf_counter()
        results = runner.results(reward, completions, [{"answer": "42"}] * len(completions))
        took = time.perf_counter() - started
    assert [r.status for r in results] == ["ok"] * len(completions)
    assert [r.reward for r in results] == [0.0] * len(completions)
    assert took < 20


def test_model_text_reaches_parse_expr_only_as_a_number_literal(monkeypatch):
    """sympy's ``parse_expr`` is Python ``eval``. Scoring a third of the audit set plus the
    payloads, the only strings it receives are number tokens that math-verify's LaTeX
    grammar already matched (``sympy.Number("20")`` inside latex2sympy)."""
    import math_verify.parser
    import sympy.parsing.sympy_parser

    rows = [json.loads(line) for line in DATASET.read_text().splitlines()]
    for row in rows[1::3]:  # first uses import sympy modules that sympify their own constants
        sympy_equivalence.score(row["completion"], {"answer": row["answer"]}, SYMPY)
    seen: list[str] = []
    original = sympy.parsing.sympy_parser.parse_expr

    def spy(text, *args, **kwargs):
        seen.append(str(text))
        return original(text, *args, **kwargs)

    monkeypatch.setattr(sympy.parsing.sympy_parser, "parse_expr", spy)
    monkeypatch.setattr(math_verify.parser, "parse_expr", spy)
    for row in rows[::3]:
        sympy_equivalence.score(row["completion"], {"answer": row["answer"]}, SYMPY)
    for payload in EVAL_PAYLOADS:
        sympy_equivalence.score(f"\\boxed{{{payload}}}", {"answer": "x"}, SYMPY)
    assert seen, "the spy saw nothing: it is not in the path it should watch"
    odd = [text for text in seen if not re.fullmatch(r"\d+(\.\d*)?|\.\d+", text.strip())]
    assert odd == []
