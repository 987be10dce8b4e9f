"""``exact-answer``: 1.0 when the completion's final number equals the gold number (GSM8K).

Gold (column ``answer``) is a GSM8K answer field (``... #### 1,080``) or a bare number. The
prediction is the number after the last ``####``, else in the last ``\\boxed{}``, else after
"the answer is"; option ``last_number_fallback`` (default false: it rewards rambling) also
accepts the last number in the text. Option ``hash_position = "first"`` reads the number on
the line of the *first* ``####`` instead (YouronMath's and the Qwen3.5 card's training code
do), falling back as above when there is no ``####``. Numbers are compared exactly after
normalising ``1,080``, ``$``, ``%``, units, Unicode minus and ``18.00`` (see
``gamermath.rewards.answers``).

Option ``preset`` reproduces a published training code's reward exactly, quirks included
(see ``gamermath.builtin.source_answers``): ``youronmath`` (YouronMath's
``correctness_reward_func_qa``) or ``qwen3.5-card`` (the Qwen3.5-0.8B-GRPO-Math card's
``math_reward``; ``gpu-lab`` names the same). A preset replaces the reading above and ignores
``hash_position`` and ``last_number_fallback``. The default (empty) keeps gmr's reading.
"""

from __future__ import annotations

from collections.abc import Hashable, Mapping
from typing import Any

from gamermath.hookspecs import hookimpl
from gamermath.specs import OptionError, Reward

HASH_POSITIONS = ("last", "first")
PRESETS = ("youronmath", "qwen3.5-card", "gpu-lab")


def first_hash_number(completion: str) -> str | None:
    """The first number on the line of the first ``####``, canonical (None: no ``####`` or
    no number on its line)."""
    from gamermath.rewards.answers import first_number, format_number

    index = completion.find("####")
    if index < 0:
        return None
    value = first_number(completion[index + 4 :].split("\n", 1)[0])
    return None if value is None else format_number(value)


def check_options(options: Mapping[str, Any]) -> None:
    """``hash_position`` is "last" or "first"; ``preset`` is empty or a known source."""
    preset = options.get("preset", "")
    if preset and preset not in PRESETS:
        raise OptionError("preset", f"must be empty or one of {', '.join(PRESETS)}, got "
                          f"'{preset}'")
    if options.get("hash_position", "last") not in HASH_POSITIONS:
        raise OptionError("hash_position", f"must be one of {', '.join(HASH_POSITIONS)}, got "
                          f"'{options.get('hash_position')}'")


def _source_key(preset: str, completion: str, answer: str) -> tuple:
    """The cache key of a source preset: (preset, prediction, gold) as the source reads them."""
    from gamermath.builtin import source_answers as source

    if preset == "youronmath":
        return preset, source.youronmath_prediction(completion), source.youronmath_gold(answer)
    return "qwen3.5-card", source.card_prediction(completion), source.card_gold(answer)


def _pred_and_gold(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]):
    from gamermath.rewards.answers import extract_final_number, format_number, gold_number

    preset = options.get("preset", "")
    if preset:
        return _source_key(preset, completion if isinstance(completion, str) else "",
                           str(columns["answer"]))

    pred = None
    if options.get("hash_position") == "first" and isinstance(completion, str):
        pred = first_hash_number(completion)
        if pred is None and "####" in completion:  # a #### line without a number: no answer
            return None, None
    if pred is None:
        pred = extract_final_number(completion, bool(options["last_number_fallback"]))
    gold = gold_number(str(columns["answer"]))
    return pred, None if gold is None else format_number(gold)


def score(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """1.0 if the extracted final number equals the gold number, else 0.0."""
    return key_verdict(_pred_and_gold(completion, columns, options), options)


def cache_key(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> Hashable:
    """The canonical predicted and gold numbers: equal keys score equal."""
    return _pred_and_gold(completion, columns, options)


def key_verdict(key: Any, options: Mapping[str, Any]) -> float:
    """The score from the cache key alone (two canonical numbers, or a source preset's
    reading): no worker needed."""
    if len(key) == 3:
        from gamermath.builtin import source_answers as source

        preset, pred, gold = key
        if preset == "youronmath":
            return source.youronmath_verdict(pred, gold)
        return source.card_verdict(pred, gold)
    pred, gold = key
    return 1.0 if pred is not None and gold is not None and pred == gold else 0.0


@hookimpl
def register_rewards(register):
    register(
        Reward(
            name="exact-answer",
            score=score,
            description="1 if the final number (#### / \\boxed / 'the answer is') equals the gold",
            columns=("answer",),
            output_range=(0.0, 1.0),
            options={"last_number_fallback": False, "hash_position": "last", "preset": ""},
            timeout=2.0,
            cache_key=cache_key,
            check_options=check_options,
        )
    )
