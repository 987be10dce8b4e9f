"""Dataset hooks for the GSM8K twins (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import gsm8k_splits

__all__ = ["gsm8k_splits"]
