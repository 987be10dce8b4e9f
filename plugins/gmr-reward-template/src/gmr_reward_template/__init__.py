"""A complete third-party gmr reward plugin: a penalty for repeated word n-grams.

GRPO policies on small models often collapse into loops ("so the answer is so the answer
is ..."). This reward scores ``-(fraction of word n-grams that already occurred earlier)``:
0.0 for text without repeats, approaching -1.0 for a loop. Weight it at 0.1-0.5 next to a
correctness reward.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gamermath.hookspecs import hookimpl
from gamermath.specs import Reward

__version__ = "0.1.0"


def repetition_fraction(text: str, n: int) -> float:
    """Fraction of the word ``n``-grams of ``text`` that repeat an earlier one."""
    words = text.split()
    total = len(words) - n + 1
    if n < 1 or total <= 0:
        return 0.0
    seen: set[tuple[str, ...]] = set()
    repeats = 0
    for i in range(total):
        gram = tuple(words[i : i + n])
        if gram in seen:
            repeats += 1
        else:
            seen.add(gram)
    return repeats / total


def score(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """The reward: minus the repeated n-gram fraction, ``0.0`` below ``min_words`` words."""
    if len(completion.split()) < int(options["min_words"]):
        return 0.0
    return -repetition_fraction(completion, int(options["n"]))


@hookimpl
def register_rewards(register):
    register(
        Reward(
            name="repetition-penalty",
            score=score,
            description="minus the fraction of repeated word n-grams (0 = no repeats, -1 = a loop)",
            columns=(),
            output_range=(-1.0, 0.0),
            options={"n": 4, "min_words": 8},
            timeout=2.0,
        )
    )
