"""Answer checks a plugin may use: the public face of gamermath's own verifiers.

A reward plugin that compares an answer with a gold answer should not reimplement (or import
the private modules of) gamermath's verifiers. This module is part of the public API that
CONTRIBUTING.md documents; its names keep their meaning across releases while the modules
behind them change.

- ``math_equivalent(answer, gold)``: the ``sympy-equivalence`` reward's verdict (math-verify
  with gamermath's exact-number guard) on ``answer`` against ``gold``.
- ``first_number``, ``gold_number``, ``numbers_equal``: the number rules of the
  ``exact-answer`` reward (``$1,080.`` -> 1080, a GSM8K gold after its last ``####``).
- ``MATH_WARMUP_MODULE``: a module name for a reward's ``GMR_PRELOAD``: worker processes that
  import it once at start-up verify faster (math-verify's parser starts warm).

Nothing heavy is imported until a function is called.
"""

from __future__ import annotations

from fractions import Fraction
from typing import Any

__all__ = [
    "MATH_WARMUP_MODULE",
    "first_number",
    "gold_number",
    "math_equivalent",
    "numbers_equal",
]

MATH_WARMUP_MODULE = "gamermath.rewards.warmup"


def math_equivalent(answer: str, gold: Any, *, exact_numbers: bool = True) -> bool:
    """Whether ``answer`` (a completion, a ``\\boxed{}`` answer or a bare one) states ``gold``.

    The verdict of the ``sympy-equivalence`` reward: its last ``\\boxed{}``, else the text
    after ``####`` or "the answer is", compared with math-verify; ``exact_numbers`` refuses
    two numbers that differ exactly however close they are (the reward's default).
    """
    from gamermath.builtin.sympy_equivalence import score

    options = {**_sympy_equivalence_defaults(), "exact_numbers": exact_numbers}
    return score(answer, {"answer": gold}, options) == 1.0


def _sympy_equivalence_defaults() -> dict[str, Any]:
    """Every option of the ``sympy-equivalence`` reward with its registered default."""
    from gamermath.builtin import sympy_equivalence

    found: list = []
    sympy_equivalence.register_rewards(found.append)
    return next(dict(r.options) for r in found if r.name == "sympy-equivalence")


def first_number(fragment: str) -> Fraction | None:
    """The first number in a short answer fragment, exact (``"$1,080."`` -> 1080)."""
    from gamermath.rewards import answers

    return answers.first_number(fragment)


def gold_number(gold: Any) -> Fraction | None:
    """The number of a gold answer: after the last ``####`` of a GSM8K answer, or a bare one."""
    from gamermath.rewards import answers

    return answers.gold_number(str(gold))


def numbers_equal(answer: str | None, gold: Any) -> bool:
    """Whether the first number of ``answer`` equals the gold's number exactly."""
    from gamermath.rewards import answers

    return answers.numbers_equal(answer, str(gold))
