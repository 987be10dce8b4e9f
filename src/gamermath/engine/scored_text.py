"""What rewards and the held-out metric read of a completion: one rule for both.

``ScoredText(stops, opened)(completion)`` is the assistant turn as it stands: the
``<think>`` opening the chat template wrote into the prompt (``gamermath.engine.think``),
then the completion's text up to its first stop sequence (``gamermath.engine.stops``). A
chat completion whose reasoning TRL parsed into ``reasoning_content`` is put back together
as ``<think>\\n{reasoning}\\n</think>\\n\\n{content}``. ``wrap`` applies the rule in front of
TRL reward functions, so GRPO's rewards, the recorded completions and the held-out metric
all see the same text.
"""

from __future__ import annotations

import functools
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from typing import Any

from gamermath.engine.stops import StopSequences
from gamermath.rewards.completions import completion_text


def assistant_text(completion: Any) -> str:
    """A completion as plain text, with any parsed ``reasoning_content`` put back in place."""
    if isinstance(completion, Sequence) and not isinstance(completion, str):
        parts = []
        for message in completion:
            if isinstance(message, Mapping) and message.get("reasoning_content"):
                parts.append(f"<think>\n{message['reasoning_content']}\n</think>\n\n")
            parts.append(completion_text([message]))
        return "".join(parts)
    return completion_text(completion)


@dataclass(frozen=True)
class ScoredText:
    """The scoring view of completions: template-opened prefix + text before the first stop."""

    stops: StopSequences = field(default_factory=StopSequences)
    opened: str = ""

    def __call__(self, completion: Any) -> str:
        return self.opened + self.stops.cut(assistant_text(completion))

    def wrap(self, funcs: Sequence[Callable[..., list]]) -> list[Callable[..., list]]:
        """TRL reward functions that score ``self(completion)`` instead of the raw completion.

        TRL calls every reward function with the same ``completions`` list; the wrapped
        functions share one list of scored texts per batch, so what they pass on is also one
        object (``CompletionRecorder`` groups a batch's terms by it).
        """
        last: dict[str, Any] = {"batch": None, "texts": []}

        def texts_of(completions: Any) -> list[str]:
            if last["batch"] is not completions:
                last["batch"] = completions
                last["texts"] = [self(c) for c in (completions or [])]
            return last["texts"]

        def wrap_one(func: Callable[..., list]) -> Callable[..., list]:
            @functools.wraps(func)
            def scored(prompts=None, completions=None, completion_ids=None, **kwargs):
                return func(prompts=prompts, completions=texts_of(completions),
                            completion_ids=completion_ids, **kwargs)

            return scored

        return [wrap_one(f) for f in funcs]
