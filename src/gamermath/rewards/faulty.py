"""Deliberately misbehaving score functions, for testing the runner and ``gmr reward check``.

They are module-level (so worker processes can load them) but registered nowhere: tests wrap
them in ``Reward(...)`` themselves. Each misbehaves only on a trigger word, so a batch mixes
good and bad samples the way a real training batch does.
"""

from __future__ import annotations

import os
import time
from collections.abc import Mapping
from typing import Any


def length_score(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """A well-behaved reward: 1.0 for short completions, falling to 0.0 at 1,000 characters."""
    return max(0.0, 1.0 - len(completion) / 1000.0)


def hang_or_raise(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """Sleeps forever on ``HANG``, raises on ``BOOM``, exits the process on ``DIE``."""
    if "HANG" in completion:
        while True:
            time.sleep(3600)
    if "BOOM" in completion:
        raise RuntimeError("boom")
    if "DIE" in completion:
        os._exit(3)
    return length_score(completion, columns, options)


def sleep_forever(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """Never returns."""
    while True:
        time.sleep(3600)


def always_raises(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """Raises on every input."""
    raise ValueError(f"cannot score {len(completion)} characters")


def returns_nan(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """NaN on every input."""
    return float("nan")


def returns_text(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> Any:
    """A string instead of a float."""
    return "1.0"


def out_of_range(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """5.0, outside a (0, 1) range."""
    return 5.0


def slow_on_long(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """Quadratic-ish time on long inputs: fine on short text, over budget on a megabyte."""
    if len(completion) > 100_000:
        time.sleep(60)
    return 0.5


def memory_hog(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """On ``EAT``, allocates 16 MB blocks until memory runs out; else ``length_score``."""
    if "EAT" in completion:
        blocks = []
        while True:
            blocks.append(bytearray(16 * 1024 * 1024))
    return length_score(completion, columns, options)


def cpu_spin(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """On ``SPIN``, busy-loops forever on the CPU; else ``length_score``."""
    if "SPIN" in completion:
        n = 0
        while True:
            n = (n * 7 + 1) % 1_000_003
    return length_score(completion, columns, options)


def slow_success(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """1.0 after half a second of sleep: long enough to interrupt a batch in the middle."""
    time.sleep(0.5)
    return 1.0
