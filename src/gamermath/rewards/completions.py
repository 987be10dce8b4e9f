"""Completions as plain text: what every reward's ``score`` receives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def completion_text(completion: Any) -> str:
    """Plain text of a completion: a string, or the concatenated ``content`` of chat messages.

    Handles ``[{"role": "assistant", "content": "..."}]`` and multimodal content lists
    (``[{"type": "text", "text": "..."}]``).
    """
    if isinstance(completion, str):
        return completion
    if isinstance(completion, Mapping):
        completion = [completion]
    if isinstance(completion, Sequence):
        parts: list[str] = []
        for message in completion:
            content = message.get("content", "") if isinstance(message, Mapping) else message
            if isinstance(content, str):
                parts.append(content)
            elif isinstance(content, Sequence):
                parts.extend(
                    p.get("text", "") for p in content if isinstance(p, Mapping)
                )
            elif content is not None:
                parts.append(str(content))
        return "".join(parts)
    return "" if completion is None else str(completion)
