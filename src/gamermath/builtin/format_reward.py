"""``format``: partial credit for the shape of a completion, each part with its own weight.

Parts (the score is the sum of the weights of the parts present):

- ``think``: one closed ``<think>...</think>`` block (with ``think_open_in_prompt``, only the
  closing tag is required, for chat templates that put ``<think>`` in the prompt);
- ``hash``: a line ``#### <number>``;
- ``regex``: a custom regular expression found anywhere (``re.search``), weight ``regex_weight``.

``preset`` replaces the part weights with a published setting: ``paper`` is
arXiv 2506.08935's single 0.5 for ``\\n#### The final answer is \\d+`` (its released code's
``format_reward_func_qa`` exactly); ``qwen3.5-card`` is gmr's stricter reading of the
Qwen3.5-0.8B-GRPO-Math card's 0.3 for think tags + 0.2 for ``####`` (one ordered closed pair,
a ``#### N`` line). The card's code itself (gpu-lab @ f7369ea ``train_grpo.py``
``format_reward``) is two presets, one per part: ``qwen3.5-card-think`` (0.3 when
``<think>`` and ``</think>`` both occur, anywhere, in any order) and ``qwen3.5-card-marker``
(0.2 when ``####``, ``\\boxed`` or ``[Tt]he answer is`` occurs). Part weights are meant to
sum to at most 1 (the declared range); scale the whole term with its recipe weight.
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from typing import Any

from gamermath.hookspecs import hookimpl
from gamermath.specs import OptionError, Reward

PRESETS: dict[str, dict[str, Any]] = {
    "paper": {
        "think": 0.0,
        "hash": 0.0,
        "regex": r"\n#### The final answer is \d+",
        "regex_weight": 0.5,
    },
    "qwen3.5-card": {"think": 0.3, "hash": 0.2, "regex": "", "regex_weight": 0.0},
    "qwen3.5-card-think": {
        "think": 0.0,
        "hash": 0.0,
        "regex": r"\A(?s:(?=.*<think>)(?=.*</think>))",
        "regex_weight": 0.3,
    },
    "qwen3.5-card-marker": {
        "think": 0.0,
        "hash": 0.0,
        "regex": r"(####|\\boxed|[Tt]he answer is)",
        "regex_weight": 0.2,
    },
}

# Possessive quantifiers (``*+``): linear time even on "####" followed by 16,000 blanks.
_HASH_LINE = re.compile(
    r"^[ \t]*+####[ \t]*+(?:\$[ \t]*+)?-?\d[\d,]*+(?:\.\d++)?+[ \t]*+\.?[ \t]*+$", re.M
)


def has_closed_think(completion: str, open_in_prompt: bool = False) -> bool:
    """Exactly one ``</think>``, preceded by exactly one ``<think>`` (unless in the prompt)."""
    if completion.count("</think>") != 1:
        return False
    close = completion.index("</think>")
    opens = completion.count("<think>")
    if open_in_prompt and opens == 0:
        return True
    return opens == 1 and completion.index("<think>") < close


def parts(options: Mapping[str, Any]) -> dict[str, Any]:
    """The part weights and regex in force, after applying ``preset``."""
    chosen = {k: options[k] for k in ("think", "hash", "regex", "regex_weight")}
    preset = str(options.get("preset") or "")
    if preset:
        if preset not in PRESETS:
            raise ValueError(f"unknown format preset '{preset}'; known: {', '.join(PRESETS)}")
        chosen.update(PRESETS[preset])
    return chosen


def check_options(options: Mapping[str, Any]) -> None:
    """A known ``preset``, a ``regex`` that compiles, part weights in [0, 1]; raises
    ``OptionError`` (before any sample is scored: recipe checks, ``gmr reward score``)."""
    preset = str(options.get("preset") or "")
    if preset and preset not in PRESETS:
        raise OptionError("preset", f"unknown format preset '{preset}'; known: "
                          f"{', '.join(PRESETS)}")
    chosen = parts(options)
    try:
        re.compile(str(chosen["regex"] or ""))
    except re.error as exc:
        raise OptionError("regex", f"is not a valid regular expression ({exc})") from None
    for key in ("think", "hash", "regex_weight"):
        if not 0.0 <= float(chosen[key]) <= 1.0:
            raise OptionError(key, f"must lie in [0, 1], got {chosen[key]}")


def score(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """The summed weights of the format parts the completion has."""
    chosen = parts(options)
    total = 0.0
    if chosen["think"] and has_closed_think(completion, bool(options["think_open_in_prompt"])):
        total += float(chosen["think"])
    if chosen["hash"] and _HASH_LINE.search(completion):
        total += float(chosen["hash"])
    if chosen["regex"] and chosen["regex_weight"] and re.search(chosen["regex"], completion):
        total += float(chosen["regex_weight"])
    return total


@hookimpl
def register_rewards(register):
    register(
        Reward(
            name="format",
            score=score,
            description="weighted format parts: closed <think>, a '#### N' line, a custom regex",
            columns=(),
            output_range=(0.0, 1.0),
            options={
                "preset": "",
                "think": 0.0,
                "hash": 1.0,
                "regex": "",
                "regex_weight": 0.0,
                "think_open_in_prompt": False,
            },
            timeout=2.0,
            check_options=check_options,
        )
    )
