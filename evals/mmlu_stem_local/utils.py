"""Dataset hook for the MMLU-STEM twin (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import mmlu_subject

__all__ = ["mmlu_subject"]
