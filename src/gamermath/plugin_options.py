"""Plugin options: a user's options merged over a plugin's defaults, for every plugin kind.

Rewards, datasets and prompt templates each declare their options as a dict of defaults; a
recipe, a ``--set`` or a command-line ``--option`` gives some of them. ``merge_options`` is
the one merge: an unknown key is a one-line ``GmrError`` naming the plugin and its options.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gamermath.errors import GmrError


def merge_options(
    kind: str, name: str, defaults: Mapping[str, Any], given: Mapping[str, Any] | None
) -> dict[str, Any]:
    """``defaults`` with ``given`` merged over them; an unknown key is a ``GmrError``."""
    merged = dict(defaults)
    for key, value in (given or {}).items():
        if key not in merged:
            known = ", ".join(sorted(merged)) or "none"
            raise GmrError(f"{kind} '{name}' has no option '{key}'; its options: {known}")
        merged[key] = value
    return merged
