"""How two published training codes read a completion's answer, quirks included.

These are the ``exact-answer`` presets that reproduce a source's reward exactly (the default
reader, in ``gamermath.rewards.answers``, fixes the quirks listed here):

``youronmath`` (shinandrew/YouronMath @ 21af604, ``utils.py`` ``correctness_reward_func_qa``):
only ``####`` counts. The answer is the first run of digits and commas after the first
``####`` whose line holds a digit or a comma (a ``####`` line without one is passed over),
plus an optional ``.digits``; the sign is never read (``#### -50`` is 50); a leading comma is
captured (``#### Therefore, 18`` reads ``,``, which is no number: 0); commas are removed; the
gold is the dataset's answer text as written, so a gold ``1,080`` is no number either (0);
the two floats match within 1e-3.

``qwen3.5-card`` (CelestialCreator/gpu-lab @ f7369ea, ``projects/05-grpo-reasoning/scripts``
``train_grpo.py`` ``math_reward`` with ``reward.py`` ``extract_answer``): the first ``####``
followed by blanks (newlines too) and a number-like run (``-``, digits and commas, an
optional ``.`` and digits; a ``####`` not followed by one is passed over); else the first
``\\boxed{...}``'s first number; else the number after "the answer is", "answer:" or "final
answer" (any case); else the last number-like run. Both sides are normalised (commas out,
``18.0`` -> ``18``, other values as Python prints the float) and compared as strings; a run
of commas alone normalises to the empty string and matches nothing real.
"""

from __future__ import annotations

import math
import re

_YOURONMATH_NUMBER = re.compile(r"[\d,]+(?:\.\d+)?")
_YOURONMATH_START = re.compile(r"[\d,]")

_CARD_NUMBER = r"-?[\d,]+\.?\d*"
_CARD_HASH = re.compile(r"####\s*(" + _CARD_NUMBER + ")")
_CARD_ANY_NUMBER = re.compile(_CARD_NUMBER)
_CARD_PHRASE = re.compile(r"(?:the answer is|answer:|final answer:?)\s*(" + _CARD_NUMBER + ")",
                          re.IGNORECASE)
_BOXED = "\\boxed{"


# --- YouronMath ---------------------------------------------------------------------------

def youronmath_prediction(completion: str) -> str | None:
    """The digits (commas removed) YouronMath's reward reads, or None when it reads none."""
    for line in completion.split("\n"):
        at = line.find("####")
        if at < 0:
            continue
        start = _YOURONMATH_START.search(line, at + 4)
        if start is None:
            continue  # no digit or comma on this #### line: the search goes on
        return _YOURONMATH_NUMBER.match(line, start.start()).group(0).replace(",", "")
    return None


def youronmath_gold(answer: str) -> str:
    """The gold as the source holds it: the text after the last ``#### ``, stripped."""
    return answer.split("#### ")[-1].strip()


def youronmath_verdict(prediction: str | None, gold: str) -> float:
    """1.0 when both parse as floats within 1e-3 of each other (a failed parse scores 0)."""
    if prediction is None:
        return 0.0
    try:
        return 1.0 if abs(float(prediction) - float(gold)) < 1e-3 else 0.0
    except ValueError:
        return 0.0


# --- the Qwen3.5 card (gpu-lab) -----------------------------------------------------------

def card_normalise(text: str) -> str | None:
    """Commas out; a float that is whole prints as an int, others as Python prints the float;
    text that is no float stays as it is. None where the source raises (an overflowing value)."""
    text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return text
    if math.isinf(value) or math.isnan(value):
        return None  # int(inf) raises in the source: the reward call fails
    return str(int(value)) if value == int(value) else str(value)


def _first_boxed(completion: str) -> str | None:
    """The content of the first ``\\boxed{...}`` with a non-empty body before its first ``}``."""
    at = completion.find(_BOXED)
    while at >= 0:
        body = at + len(_BOXED)
        close = completion.find("}", body)
        if close < 0:
            return None  # no closing brace later on: no later \boxed can close either
        if close > body:
            return completion[body:close]
        at = completion.find(_BOXED, body)
    return None


def card_prediction(completion: str) -> str | None:
    """The normalised answer the card's reward reads (None: it reads none)."""
    found = _CARD_HASH.search(completion)
    if found:
        return card_normalise(found.group(1))
    boxed = _first_boxed(completion)
    if boxed is not None:
        inner = _CARD_ANY_NUMBER.search(boxed.strip())
        if inner:
            return card_normalise(inner.group(0))
    found = _CARD_PHRASE.search(completion)
    if found:
        return card_normalise(found.group(1))
    last = None
    for last in _CARD_ANY_NUMBER.finditer(completion):  # noqa: B007 (only the last is kept)
        pass
    return None if last is None else card_normalise(last.group(0))


def card_gold(answer: str) -> str | None:
    """The gold as the card's data preparation extracts it, then normalised again."""
    found = _CARD_HASH.search(answer)
    if found:
        truth = card_normalise(found.group(1))
    else:
        numbers = _CARD_ANY_NUMBER.findall(answer)
        truth = card_normalise(numbers[-1]) if numbers else answer.strip()
    return None if truth is None else card_normalise(truth)


def card_verdict(prediction: str | None, gold: str | None) -> float:
    """1.0 when the two normalised strings are equal."""
    return 1.0 if prediction is not None and gold is not None and prediction == gold else 0.0
