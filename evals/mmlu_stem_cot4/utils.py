"""Hooks for the 4-shot CoT MMLU-STEM tasks (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import mmlu_subject, stem_cot_exemplars

__all__ = ["mmlu_subject", "stem_cot_exemplars"]
