"""Held-out accuracy (the task metric, not the training reward), scored the recipe's way.

``HeldoutEvaluator`` generates greedily on a fixed slice of the test split and scores each
completion as the training rewards read it (``gamermath.engine.scored_text``: cut at the
template's stop sequences, after any ``<think>`` the chat template opened):

- accuracy: the ``[eval] metric`` reward (``gamermath.engine.heldout_metric``) gives the
  completion its maximum; without a metric, the final number equals the gold
  (``gamermath.rewards.answers``);
- format rate: the template's own answer line (``PromptTemplate.answer_line``) is present.

Per-problem results go into the metrics row as ``heldout/correct`` (``"0110..."``), which
the reward-hacking alarm (``gamermath.engine.alarm``) compares between evaluations.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Mapping, Sequence
from typing import Any

from gamermath.engine.alarm import correct_to_text
from gamermath.engine.attribution import heldout_counts
from gamermath.engine.scored_text import ScoredText
from gamermath.engine.stops import stopping_criteria
from gamermath.engine.threads import torch_threads
from gamermath.rewards.answers import extract_final_number, numbers_equal
from gamermath.specs import HASH_ANSWER_LINE

FORMAT_LINE = re.compile(HASH_ANSWER_LINE)

#: ``metric(texts, rows) -> [correct, ...]``: held-out correctness for a batch.
Metric = Callable[[list[str], list[Mapping[str, Any]]], list[bool]]
#: ``progress(done)``: problems answered so far (fractional within a batch: its share of
#: ``max_new_tokens`` decoded), called once per generated token.
Progress = Callable[[float], None]


def has_answer_line(text: str, pattern: re.Pattern[str] = FORMAT_LINE) -> bool:
    """Whether a completion gives its answer on the template's answer line (``#### N``)."""
    return bool(pattern.search(text))


def score_completion(text: str, gold: str) -> tuple[bool, bool]:
    """``(correct, formatted)`` for one completion against its gold answer (GSM8K numbers)."""
    return numbers_equal(extract_final_number(text), str(gold)), has_answer_line(text)


def final_number_metric(texts: list[str], rows: list[Mapping[str, Any]]) -> list[bool]:
    """The default metric: the final number equals the gold number."""
    return [numbers_equal(extract_final_number(t), str(r["answer"]))
            for t, r in zip(texts, rows, strict=True)]


def prompt_text(prompt: Any, tokenizer: Any,
                chat_template_kwargs: Mapping[str, Any] | None = None) -> str:
    """A prompt as the model sees it: chat messages through the chat template."""
    if isinstance(prompt, str):
        return prompt
    return tokenizer.apply_chat_template(
        list(prompt), tokenize=False, add_generation_prompt=True,
        **dict(chat_template_kwargs or {}),
    )


class HeldoutEvaluator:
    """Greedy generation on fixed held-out rows, scored with the task metric."""

    def __init__(
        self,
        rows: Sequence[Mapping[str, Any]],
        tokenizer: Any,
        max_new_tokens: int,
        batch_size: int = 16,
        metric: Metric | None = None,
        scored_text: ScoredText | None = None,
        answer_line: str = HASH_ANSWER_LINE,
        chat_template_kwargs: Mapping[str, Any] | None = None,
        threads: int | None = None,
    ) -> None:
        self.rows = list(rows)
        self.threads = threads
        self.tokenizer = tokenizer
        self.max_new_tokens = int(max_new_tokens)
        self.batch_size = max(1, int(batch_size))
        self.metric = metric or final_number_metric
        self.scored_text = scored_text or ScoredText()
        self.answer_line = re.compile(answer_line)
        self.texts = [prompt_text(r["prompt"], tokenizer, chat_template_kwargs)
                      for r in self.rows]
        self.chat = bool(self.rows) and not isinstance(self.rows[0]["prompt"], str)

    def generate(self, model: Any, progress: Progress | None = None) -> list[str]:
        """Greedy completions for every held-out prompt, in order (``progress``: see
        ``Progress``)."""
        import torch
        from transformers import StoppingCriteriaList

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
                    stops = self.scored_text.stops
                    prompt_length = enc["input_ids"].shape[1]
                    criteria = StoppingCriteriaList(
                        stopping_criteria(stops, tok, prompt_length) if stops else [])
                    if progress is not None:
                        criteria.append(token_counter(progress, start, len(batch),
                                                     self.max_new_tokens))
                    out = model.generate(
                        **enc,
                        max_new_tokens=self.max_new_tokens,
                        do_sample=False,
                        temperature=None,
                        top_p=None,
                        top_k=None,
                        pad_token_id=tok.pad_token_id,
                        stopping_criteria=criteria or None,
                    )
                    new = out[:, enc["input_ids"].shape[1] :]
                    outputs.extend(tok.batch_decode(new, skip_special_tokens=True))
                    if progress is not None:
                        progress(float(len(outputs)))
        finally:
            tok.padding_side = side
            if was_training:
                model.train()
        return outputs

    def evaluate(self, model: Any, progress: Progress | None = None
                 ) -> tuple[dict[str, Any], list[str]]:
        """Accuracy, format rate, accuracy among formatted answers and their counts
        (``gamermath.engine.attribution.heldout_counts``), ``heldout/correct`` (per problem,
        ``"0110..."``) and the completions as scored."""
        return self.score(self.generate(model, progress))

    def score(self, generated: Sequence[str]) -> tuple[dict[str, Any], list[str]]:
        """The held-out metrics of generated completions (one per row, in order)."""
        completions = [self.scored_text(c) for c in generated]
        correct = self.metric(completions, self.rows) if self.rows else []
        formatted = [has_answer_line(c, self.answer_line) for c in completions]
        row = heldout_counts(zip(correct, formatted, strict=True))
        row["heldout/correct"] = correct_to_text(correct)
        return row, completions



def token_counter(progress: Progress, start: int, rows: int, max_new_tokens: int) -> Any:
    """A transformers stopping criterion that never stops: each decoded token of a batch of
    ``rows`` problems (the first is problem ``start``) is reported as ``progress``."""
    import torch
    from transformers import StoppingCriteria

    class TokenCounter(StoppingCriteria):
        tokens = 0

        def __call__(self, input_ids, scores, **kwargs):
            self.tokens += 1
            progress(start + rows * min(self.tokens / max(1, max_new_tokens), 1.0))
            return torch.zeros(input_ids.shape[0], dtype=torch.bool, device=input_ids.device)

    return TokenCounter()
