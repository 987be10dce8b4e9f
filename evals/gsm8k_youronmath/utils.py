"""Hooks for the YouronMath GSM8K tasks (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import gsm8k_youronmath
from gamermath.evals.scoring import youronmath_answers, youronmath_score

__all__ = ["gsm8k_youronmath", "youronmath_answers", "youronmath_score"]
