"""Held-out accuracy (the task metric, not the training reward) and the reward-hacking alarm.

``HeldoutEvaluator`` generates greedily on a fixed slice of the test split and scores each
completion with the task metric: the final number (``gamermath.rewards.answers``) equals
the gold, and, separately, whether a ``#### N`` line is present (the format rate).

``HackingAlarm`` watches the pairs (mean training reward since the previous evaluation,
held-out accuracy). Over the last ``window`` evaluations it fits a least-squares line to
each; when the reward's slope is positive and the accuracy's slope is negative, the policy
is earning more reward while solving fewer held-out problems: the alarm is raised.
"""

from __future__ import annotations

import re
from collections.abc import Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gamermath.engine.attribution import heldout_counts
from gamermath.engine.threads import torch_threads
from gamermath.rewards.answers import extract_final_number, numbers_equal

FORMAT_LINE = re.compile(r"####[ \t]*\$?[ \t]*-?\d")


def has_answer_line(text: str) -> bool:
    """Whether a completion gives its answer as ``#### N``."""
    return bool(FORMAT_LINE.search(text))


def score_completion(text: str, gold: str) -> tuple[bool, bool]:
    """``(correct, formatted)`` for one completion against its gold answer."""
    return numbers_equal(extract_final_number(text), str(gold)), has_answer_line(text)


def slope(values: Sequence[float]) -> float:
    """The least-squares slope of ``values`` against 0, 1, 2, ..."""
    n = len(values)
    if n < 2:
        return 0.0
    mean_x = (n - 1) / 2
    mean_y = sum(values) / n
    num = sum((i - mean_x) * (y - mean_y) for i, y in enumerate(values))
    den = sum((i - mean_x) ** 2 for i in range(n))
    return num / den


@dataclass
class HackingAlarm:
    """Raised when training reward rises while held-out accuracy falls over ``window`` points."""

    window: int = 3
    points: list[tuple[int, float, float]] = field(default_factory=list)

    def add(self, step: int, reward: float | None, accuracy: float) -> dict[str, Any]:
        """Record one evaluation; return the alarm fields for its metrics row."""
        if reward is None:
            return {}
        self.points.append((step, float(reward), float(accuracy)))
        recent = self.points[-self.window :]
        if self.window < 2 or len(recent) < self.window:
            return {}
        reward_slope = slope([p[1] for p in recent])
        accuracy_slope = slope([p[2] for p in recent])
        raised = reward_slope > 0 and accuracy_slope < 0
        return {
            "alarm/reward_slope": reward_slope,
            "alarm/accuracy_slope": accuracy_slope,
            "alarm/reward_hacking": raised,
        }


def prompt_text(prompt: Any, tokenizer: Any) -> str:
    """A prompt as the model sees it: chat messages through the chat template."""
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(
        list(prompt), tokenize=False, add_generation_prompt=True
    )


class HeldoutEvaluator:
    """Greedy generation on fixed held-out rows, scored with the task metric."""

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        tokenizer: Any,
        max_new_tokens: int,
        batch_size: int = 16,
        threads: int | None = None,
    ) -> None:
        self.rows = list(rows)
        self.threads = threads
        self.tokenizer = tokenizer
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = max(1, int(batch_size))
        self.texts = [prompt_text(r["prompt"], tokenizer) for r in self.rows]
        self.chat = bool(self.rows) and not isinstance(self.rows[0]["prompt"], str)

    def generate(self, model: Any) -> list[str]:
        """Greedy completions for every held-out prompt, in order."""
        import torch

        tok = self.tokenizer
        side = tok.padding_side
        tok.padding_side = "left"
        was_training = model.training
        model.eval()
        device = next(model.parameters()).device
        outputs: list[str] = []
        try:
            with torch.no_grad(), torch_threads(self.threads):
                for start in range(0, len(self.texts), self.batch_size):
                    batch = self.texts[start : start + self.batch_size]
                    enc = tok(
                        batch, return_tensors="pt", padding=True,
                        add_special_tokens=not self.chat,
                    ).to(device)
                    out = model.generate(
                        **enc,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        temperature=None,
                        top_p=None,
                        top_k=None,
                        pad_token_id=tok.pad_token_id,
                    )
                    new = out[:, enc["input_ids"].shape[1] :]
                    outputs.extend(tok.batch_decode(new, skip_special_tokens=True))
        finally:
            tok.padding_side = side
            if was_training:
                model.train()
        return outputs

    def evaluate(self, model: Any) -> tuple[dict[str, Any], list[str]]:
        """Accuracy, format rate, accuracy among formatted answers, their counts; completions.

        The keys are ``gamermath.engine.attribution.heldout_counts``'s (``heldout/...``).
        """
        completions = self.generate(model)
        scores = [score_completion(text, row["answer"])
                  for text, row in zip(completions, self.rows, strict=True)]
        return heldout_counts(scores), completions
