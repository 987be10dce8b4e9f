"""Hooks for DeepSeekMath's MMLU-STEM (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import deepseekmath_stem_exemplars, mmlu_subject_deepseekmath
from gamermath.evals.scoring import dsm_mmlu_answers

__all__ = ["deepseekmath_stem_exemplars", "dsm_mmlu_answers", "mmlu_subject_deepseekmath"]
