"""Recipe fields: a default, a one-line doc and a value check, kept together on each field.

Every key of a recipe is a dataclass field declared with ``knob``; its metadata carries the
doc line that ``gmr recipe keys`` and the README print and the check that ``load_recipe``
runs. The same checks apply to TRL's own fields through ``TRL_CHECKS``.
"""

from __future__ import annotations

import math
import re
from collections.abc import Callable, Sequence
from dataclasses import field
from typing import Any

#: ``check(value) -> problem or None``; the problem is a phrase: "must be positive".
Check = Callable[[Any], "str | None"]


def knob(
    default: Any = None,
    doc: str = "",
    check: Check | None = None,
    choices: Sequence[str] | None = None,
    required: bool = False,
) -> Any:
    """A recipe field: ``default`` (lists and tables copied per instance), doc line, check."""
    meta = {"doc": doc, "check": check, "choices": tuple(choices) if choices else None,
            "required": required}
    if isinstance(default, (list, dict)):
        return field(default_factory=lambda: type(default)(default), metadata=meta)
    return field(default=default, metadata=meta)


def _number(value: Any) -> bool:
    return isinstance(value, (int, float)) and not isinstance(value, bool)


def positive(value: Any) -> str | None:
    """Above zero (integers and numbers)."""
    if _number(value) and not value > 0:
        return "must be positive"
    return None


def non_negative(value: Any) -> str | None:
    if _number(value) and value < 0:
        return "must not be negative"
    return None


def at_least(low: float) -> Check:
    def check(value: Any) -> str | None:
        if _number(value) and value < low:
            return f"must be at least {low:g}"
        return None

    return check


def unit_open(value: Any) -> str | None:
    """In [0, 1): a dropout probability."""
    if _number(value) and not 0 <= value < 1:
        return "must be in [0, 1)"
    return None


def unit_closed(value: Any) -> str | None:
    if _number(value) and not 0 <= value <= 1:
        return "must be in [0, 1]"
    return None


def probability_positive(value: Any) -> str | None:
    """In (0, 1]: top_p."""
    if _number(value) and not 0 < value <= 1:
        return "must be in (0, 1]"
    return None


def steps_or_unlimited(value: Any) -> str | None:
    """TRL's ``max_steps``: -1 (no limit, epochs decide) or a positive count."""
    if _number(value) and value != -1 and value < 1:
        return "must be -1 (use epochs) or at least 1"
    return None


def no_empty_strings(value: Any) -> str | None:
    """A list of strings none of which is empty (an empty stop sequence would cut at once)."""
    if isinstance(value, list) and any(isinstance(v, str) and not v for v in value):
        return "must not contain an empty string"
    return None


def valid_regex(value: Any) -> str | None:
    if isinstance(value, str):
        try:
            re.compile(value)
        except re.error as exc:
            return f"is not a valid regular expression ({exc})"
    return None


def finite(value: Any) -> str | None:
    if isinstance(value, float) and not math.isfinite(value):
        return f"is {value}; use a finite number"
    return None


#: Checks gmr applies to TRL's ``GRPOConfig``/``SFTConfig`` fields (by TRL name).
TRL_CHECKS: dict[str, Check] = {
    "learning_rate": positive,
    "per_device_train_batch_size": positive,
    "gradient_accumulation_steps": positive,
    "num_generations": at_least(2),
    "generation_batch_size": positive,
    "steps_per_generation": positive,
    "max_completion_length": positive,
    "max_length": positive,
    "num_train_epochs": positive,
    "max_steps": steps_or_unlimited,
    "temperature": positive,
    "top_p": probability_positive,
    "top_k": non_negative,
    "min_p": unit_closed,
    "repetition_penalty": positive,
    "beta": non_negative,
    "epsilon": non_negative,
    "epsilon_high": non_negative,
    "weight_decay": non_negative,
    "warmup_ratio": unit_closed,
    "warmup_steps": non_negative,
    "max_grad_norm": non_negative,
    "adam_beta1": unit_open,
    "adam_beta2": unit_open,
    "adam_epsilon": positive,
    "logging_steps": positive,
    "num_iterations": positive,
    "vllm_gpu_memory_utilization": probability_positive,
    "top_entropy_quantile": unit_closed,
}
