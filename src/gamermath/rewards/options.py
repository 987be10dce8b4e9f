"""Reward options: merge a user's options over a reward's defaults, reject unknown keys."""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gamermath.errors import GmrError
from gamermath.specs import Reward


def resolve_options(reward: Reward, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``reward.options`` with ``options`` merged over them; an unknown key is a GmrError."""
    merged = dict(reward.options)
    for key, value in (options or {}).items():
        if key not in merged:
            known = ", ".join(sorted(merged)) or "none"
            raise GmrError(f"reward '{reward.name}' has no option '{key}'; its options: {known}")
        merged[key] = value
    return merged


def parse_option(reward: Reward, item: str) -> tuple[str, Any]:
    """Parse a command-line ``KEY=VALUE``, typed like the option's default."""
    key, sep, text = item.partition("=")
    key = key.strip()
    if not sep or not key:
        raise GmrError(f"--option '{item}' must look like KEY=VALUE")
    if key not in reward.options:
        resolve_options(reward, {key: text})  # raises the standard error
    default = reward.options[key]
    try:
        if isinstance(default, bool):
            lowered = text.strip().lower()
            if lowered not in ("true", "false", "1", "0", "yes", "no"):
                raise ValueError(text)
            return key, lowered in ("true", "1", "yes")
        if isinstance(default, int):
            return key, int(text)
        if isinstance(default, float):
            return key, float(text)
        if isinstance(default, str) or default is None:
            return key, text
        return key, json.loads(text)
    except ValueError:
        raise GmrError(
            f"option '{key}' of reward '{reward.name}' expects a {type(default).__name__}, "
            f"got '{text}'"
        ) from None
