"""Answer extraction and scoring rules that lm-eval's regex filters cannot express."""

from __future__ import annotations

import re
from typing import Any

_PAPER_FINAL = re.compile(r"#### The final answer is (-?\d+\.?\d*)")
_PAPER_ANSWER_IS = re.compile(r"(?:answer is|final answer:?\s+)(\d+\.?\d*)", re.IGNORECASE)
_NUMBER = re.compile(r"-?\d+\.?\d*")


def youronmath_extract(response: str) -> float | None:
    """The YouronMath evaluation's answer: '#### The final answer is N', else 'answer is N',
    else the last number in the response; None when there is no number at all."""
    for pattern in (_PAPER_FINAL, _PAPER_ANSWER_IS):
        match = pattern.search(response)
        if match:
            return float(match.group(1))
    numbers = _NUMBER.findall(response)
    return float(numbers[-1]) if numbers else None


def youronmath_gold(answer: str) -> float | None:
    """The paper's gold: the first number after '####' (so '1,080' reads as 1, as there)."""
    match = _NUMBER.search(answer.split("####")[-1].strip())
    return float(match.group()) if match else None


def youronmath_process_results(doc: dict[str, Any], results: list[str]) -> dict[str, float]:
    """lm-eval ``process_results``: 1.0 when |predicted - gold| < 0.1, as the paper scores."""
    predicted = youronmath_extract(results[0])
    gold = youronmath_gold(str(doc["answer"]))
    correct = predicted is not None and gold is not None and abs(predicted - gold) < 0.1
    return {"exact_match": float(correct)}
