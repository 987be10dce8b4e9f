"""Hooks for YouronMath's MMLU-STEM (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import mmlu_youronmath
from gamermath.evals.scoring import youronmath_mmlu_answers

__all__ = ["mmlu_youronmath", "youronmath_mmlu_answers"]
