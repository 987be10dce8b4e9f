"""Completions as plain text: what every reward's ``score`` receives."""

from __future__ import annotations

from collections.abc import Mapping, Sequence
from typing import Any


def completion_text(completion: Any) -> str:
    """Plain text of a completion: a string, or the concatenated ``content`` of chat messages.

    Handles ``[{"role": "assistant", "content": "..."}]`` and multimodal content lists
    (``[{"type": "text", "text": "..."}]``). Never raises: parts that hold no text are
    skipped (``completion_problem`` says what a strict reader should reject).
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
                    p["text"] for p in content
                    if isinstance(p, Mapping) and isinstance(p.get("text"), str)
                )
            elif content is not None:
                parts.append(str(content))
        return "".join(parts)
    return "" if completion is None else str(completion)


def completion_problem(completion: Any) -> str | None:
    """Why ``completion`` is neither text nor chat messages with text content, or None.

    Accepted: a string; a message or a list of messages (objects) whose ``content`` is a
    string, null (no text), or a list of parts that are objects, with a string ``text`` if
    they have one (``{"type": "image", ...}`` parts are skipped).
    """
    if isinstance(completion, str):
        return None
    messages = [completion] if isinstance(completion, Mapping) else completion
    if not isinstance(messages, list):
        return f"must be a string or chat messages, not {_kind(completion)}"
    for number, message in enumerate(messages, start=1):
        if not isinstance(message, Mapping):
            return f"message {number} must be an object, not {_kind(message)}"
        content = message.get("content")
        if content is None or isinstance(content, str):
            continue
        if not isinstance(content, list):
            return f"message {number} content must be a string or a list of parts, not " + _kind(
                content
            )
        for index, part in enumerate(content, start=1):
            if not isinstance(part, Mapping):
                return f"message {number} content part {index} must be an object, not " + _kind(
                    part
                )
            if "text" in part and not isinstance(part["text"], str):
                return f"message {number} content part {index} text must be a string, not " + (
                    _kind(part["text"])
                )
    return None


def _kind(value: Any) -> str:
    names = {type(None): "null", bool: "a boolean", int: "a number", float: "a number",
             str: "a string", list: "a list", dict: "an object"}
    return names.get(type(value), type(value).__name__)
