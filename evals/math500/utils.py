"""Hooks for the MATH-500 tasks (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import math500, minerva_exemplars
from gamermath.evals.scoring import math_answers, math_score

__all__ = ["math500", "math_answers", "math_score", "minerva_exemplars"]
