"""Imported once by the worker forkserver: warms math-verify so every worker starts warm.

latex2sympy's ANTLR parser fills its prediction (DFA) caches lazily: in a fresh process a
MATH-style answer takes ~10 ms to parse, in a warm one ~1 ms. Parsing a spread of typical
answer shapes here, in the forkserver, means every forked worker (replacements for killed
workers included) inherits warm caches instead of paying for them again.
"""

from __future__ import annotations

#: A few common answer shapes (about a second): the parser's first uses are the slowest.
SAMPLES = [
    "\\frac{14}{3}",
    "3\\sqrt{13}",
    "\\left( 3, \\frac{\\pi}{2} \\right)",
    "[1, 2)",
    "x^5 - x^4 + x - 1",
    "2\\cdot\\left(\\cot x\\right)+1",
    "\\text{Evelyn}",
    "\\begin{pmatrix} -1/3 \\\\ 2/3 \\end{pmatrix}",
]


def warm() -> None:
    """Parse the samples and verify one pair (errors do not matter: this is a speed-up)."""
    try:
        from math_verify import parse, verify

        from gamermath.rewards.worker import quiet_math_verify

        quiet_math_verify()
        parsed = [parse(f"$\\boxed{{{text}}}$", parsing_timeout=None) for text in SAMPLES]
        verify(parsed[0], parsed[1], timeout_seconds=None)
    except Exception:
        pass


warm()
