"""Reward options: merge a user's options over a reward's defaults, and check them.

``resolve_options`` rejects an unknown key (it runs on every batch); ``validate_options``
also checks values before any sample is scored. Each check is a one-line ``GmrError`` naming
the reward and the option: an unknown key; a
value whose type differs from the default's (an int is accepted for a float default; a
``None`` default accepts anything); and whatever the reward's ``check_options`` rejects (it
raises ``gamermath.specs.OptionError``, e.g. the ``format`` reward's unknown ``preset`` or
an invalid ``regex``).
"""

from __future__ import annotations

import json
from collections.abc import Mapping
from typing import Any

from gamermath.errors import GmrError
from gamermath.plugin_options import merge_options
from gamermath.specs import OptionError, Reward


def type_name(default: Any) -> str:
    """The option type shown to users: bool, int, float, str, or the default's type."""
    return "any" if default is None else type(default).__name__


def _type_ok(default: Any, value: Any) -> bool:
    if default is None:
        return True
    if isinstance(default, bool) or isinstance(value, bool):
        return isinstance(default, bool) and isinstance(value, bool)
    if isinstance(default, float):
        return isinstance(value, (int, float))
    return isinstance(value, type(default))


def resolve_options(reward: Reward, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``reward.options`` with ``options`` merged over them; an unknown key is a GmrError."""
    return merge_options("reward", reward.name, reward.options, options)


def check_option_values(reward: Reward, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """The merged options; a value of the wrong type, or one the reward's ``check_options``
    rejects, raises ``OptionError`` naming the option (an unknown key raises ``GmrError``)."""
    merged = resolve_options(reward, options)
    for key, value in (options or {}).items():
        if not _type_ok(reward.options[key], value):
            raise OptionError(key, f"expects a {type_name(reward.options[key])}, got "
                              f"{type(value).__name__} {value!r:.80}")
    if reward.check_options is not None and options:
        reward.check_options(merged)
    return merged


def validate_options(reward: Reward, options: Mapping[str, Any] | None) -> dict[str, Any]:
    """``resolve_options`` plus value checks (types, the reward's ``check_options``): what
    ``gmr reward score``/``check`` and ``resolve_rewards`` run before any sample."""
    try:
        return check_option_values(reward, options)
    except ValueError as exc:  # OptionError names the option
        key = getattr(exc, "option", None)
        if str(exc).startswith("expects a "):
            raise GmrError(f"option '{key}' of reward '{reward.name}' {exc}") from None
        where = f"option '{key}'" if key else "options"
        raise GmrError(f"reward '{reward.name}' {where}: {exc}") from None


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
    except (ValueError, RecursionError):
        raise GmrError(
            f"option '{key}' of reward '{reward.name}' expects a {type(default).__name__}, "
            f"got '{text}'"
        ) from None
