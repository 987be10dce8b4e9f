"""Stop sequences: where a completion ends, applied the same way on every path.

A base model that answered a few-shot prompt goes on writing: ``Question: ... #### 7``. A
template declares the sequences that end its completions (``PromptTemplate.stop``; a
recipe may override them with ``[data] stop``). ``StopSequences`` is the one rule every
path uses:

- GRPO generation (``StopAwareGRPOTrainer``): each sampled completion's token ids end with
  the token that completes the first stop sequence; later tokens are dropped before TRL
  computes log-probabilities, advantages and the loss, so the policy is trained on what
  precedes the stop and the stop itself, as it would be on an end-of-sequence token.
- held-out evaluation: ``stopping_criteria`` ends greedy generation at that same token
  (looking at the generated text only: transformers' own ``stop_strings`` would also match
  across the end of the prompt), and
- reward scoring and the held-out metric read ``cut(text)``: the text before the first stop.

Tokens after the stop never reach the loss; text from the stop on never reaches a reward.
"""

from __future__ import annotations

from collections.abc import Callable, Sequence
from dataclasses import dataclass
from typing import Any

from gamermath.errors import GmrError


@dataclass(frozen=True)
class StopSequences:
    """The stop sequences of a run; empty means a completion ends only at EOS or the cap."""

    stops: tuple[str, ...] = ()

    def __bool__(self) -> bool:
        return bool(self.stops)

    def first_stop(self, text: str) -> int:
        """Index of the earliest stop sequence in ``text`` (``len(text)`` when none)."""
        found = [i for i in (text.find(s) for s in self.stops) if i >= 0]
        return min(found) if found else len(text)

    def cut(self, text: str) -> str:
        """``text`` up to (not including) the first stop sequence."""
        return text[: self.first_stop(text)] if self.stops else text

    def stop_end(self, text: str) -> int | None:
        """Index just past the first stop sequence to complete in ``text``, or None."""
        ends = [i + len(s) for s in self.stops if (i := text.find(s)) >= 0]
        return min(ends) if ends else None

    def cut_ids(self, ids: Sequence[int], decode: Callable[[Sequence[int]], str]) -> int:
        """How many of ``ids`` to keep: through the token that completes the first stop.

        ``decode`` turns ids into text (special tokens skipped). The shortest prefix whose
        text contains a stop sequence is found by bisection (a prefix's text only grows),
        so a long completion costs about log2(n) decodes. No stop: all ids are kept.
        """
        if not self.stops or self.stop_end(decode(ids)) is None:
            return len(ids)
        low, high = 1, len(ids)  # decode(ids[:high]) contains a stop
        while low < high:
            middle = (low + high) // 2
            if self.stop_end(decode(ids[:middle])) is not None:
                high = middle
            else:
                low = middle + 1
        return high


def stopping_criteria(stops: StopSequences, tokenizer: Any, prompt_length: int) -> Any:
    """A transformers ``StoppingCriteriaList`` that ends each row once its generated text
    (tokens after ``prompt_length``) contains a stop sequence: the ``cut_ids`` token."""
    import torch
    from transformers import StoppingCriteria, StoppingCriteriaList

    # a stop of L characters spans at most L tokens that decode to something; leave slack
    # for tokens that decode to nothing (special tokens, partial UTF-8 bytes)
    window = 2 * max(len(s) for s in stops.stops) + 4

    class StopSequenceCriteria(StoppingCriteria):
        def __call__(self, input_ids, scores, **kwargs):
            done = [
                stops.stop_end(tokenizer.decode(row[prompt_length:][-window:].tolist(),
                                                skip_special_tokens=True)) is not None
                for row in input_ids
            ]
            return torch.tensor(done, dtype=torch.bool, device=input_ids.device)

    return StoppingCriteriaList([StopSequenceCriteria()])


def template_stops(template_name: str, override: Sequence[str] | None) -> StopSequences:
    """The run's stops: ``[data] stop`` when the recipe sets it, else the template's."""
    if override is not None:
        return StopSequences(tuple(override))
    from gamermath import plugins

    return StopSequences(tuple(plugins.get("template", template_name).stop))


def cut_completion_ids(
    stops: StopSequences,
    completion_ids: list[list[int]],
    logprobs: list[list[float]] | None,
    decode: Callable[[Sequence[int]], str],
) -> tuple[list[list[int]], list[list[float]] | None]:
    """Each completion's ids (and sampling log-probs, when given) cut after its first stop."""
    kept_ids, kept_logprobs = [], [] if logprobs is not None else None
    for index, ids in enumerate(completion_ids):
        keep = stops.cut_ids(list(ids), decode)
        kept_ids.append(list(ids[:keep]))
        if kept_logprobs is not None:
            kept_logprobs.append(list(logprobs[index][:keep]))
    return kept_ids, kept_logprobs


def stop_aware_trainer_class() -> type:
    """``GRPOTrainer`` whose sampled completions end at the run's stop sequences.

    It overrides TRL's ``_generate_single_turn`` (present in TRL 0.27 and later, the range
    gmr supports): after TRL's own generation (transformers or vLLM) the ids are cut with
    ``StopSequences.cut_ids``; everything downstream (decoding for the rewards, masks,
    log-probabilities, the loss) sees only the kept tokens.
    """
    from trl import GRPOTrainer

    if not hasattr(GRPOTrainer, "_generate_single_turn"):
        import trl

        raise GmrError(f"TRL {trl.__version__} has no GRPOTrainer._generate_single_turn; stop "
                       "sequences need trl>=0.27 (pip install -U 'trl>=0.27')")

    class StopAwareGRPOTrainer(GRPOTrainer):
        """TRL's GRPOTrainer; completions end at ``stops`` (a ``StopSequences``)."""

        def __init__(self, *args: Any, stops: StopSequences = StopSequences(),
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.stops = stops

        def _generate_single_turn(self, *args: Any, **kwargs: Any):
            completion_ids, logprobs = super()._generate_single_turn(*args, **kwargs)
            if not self.stops:
                return completion_ids, logprobs
            tokenizer = self.processing_class
            tokenizer = getattr(tokenizer, "tokenizer", tokenizer)  # a processor's tokenizer

            def decode(ids: Sequence[int]) -> str:
                return tokenizer.decode(list(ids), skip_special_tokens=True)

            return cut_completion_ids(self.stops, [list(c) for c in completion_ids],
                                      logprobs, decode)

    return StopAwareGRPOTrainer
