"""Dataset hook for the <think> GSM8K tasks (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import gsm8k_with_solutions

__all__ = ["gsm8k_with_solutions"]
