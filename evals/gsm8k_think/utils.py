"""Hooks for the <think> GSM8K tasks (loaded by lm-eval from this folder by file path)."""

from gamermath.evals.loaders import card_exemplars, gsm8k_card, gsm8k_with_solutions
from gamermath.evals.scoring import card_answers

__all__ = ["card_answers", "card_exemplars", "gsm8k_card", "gsm8k_with_solutions"]
