"""Answer extraction and scoring rules that lm-eval's regex filters cannot express.

Each rule is written from the protocol its source states (file and function named
beside it); extraction runs as an lm-eval ``custom`` filter, so ``--samples K`` can
regroup the extracted answers (``majority_vote``), and scoring is lm-eval's
``exact_match`` or a sample-aware ``process_results``.
"""

from __future__ import annotations

import re
from collections.abc import Callable, Iterable, Sequence
from typing import Any

from gamermath.evaluation.sampling import sample_aware

#: What a filter returns when a response holds no answer (lm-eval's own convention).
INVALID = "[invalid]"

# --- YouronMath (github.com/shinandrew/YouronMath eval_gsm8k.py, extract_number and the
# ground-truth parse in evaluate_model) -------------------------------------------------
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


def each_response(extract: Callable[[str], Any]):
    """An lm-eval ``custom`` filter function applying ``extract`` to every response; an
    answer of None becomes ``[invalid]``, any other is kept as its string."""

    def apply(resps: Iterable[Sequence[str]], docs: Sequence[dict]) -> list[list[str]]:
        out = []
        for responses in resps:
            answers = []
            for response in responses:
                found = extract(response if isinstance(response, str) else "")
                answers.append(INVALID if found is None else str(found))
            out.append(answers)
        return out

    return apply


youronmath_answers = each_response(youronmath_extract)


@sample_aware
def youronmath_score(doc: dict[str, Any], answer: str) -> dict[str, float]:
    """1.0 when |predicted - gold| < 0.1, as the paper scores."""
    gold = youronmath_gold(str(doc["answer"]))
    try:
        predicted = float(answer)
    except ValueError:
        return {"exact_match": 0.0}
    return {"exact_match": float(gold is not None and abs(predicted - gold) < 0.1)}


# --- Qwen3.5-0.8B-GRPO-Math (github.com/CelestialCreator/gpu-lab,
# projects/05-grpo-reasoning/scripts/eval_gsm8k.py: extract_answer, _normalize,
# extract_gsm8k_answer) ------------------------------------------------------------------
_CARD_HASH = re.compile(r"####\s*(-?[\d,]+\.?\d*)")
_CARD_BOXED = re.compile(r"\\boxed\{([^}]+)\}")
_CARD_ANSWER_IS = re.compile(r"(?:the answer is|answer:)\s*(-?[\d,]+\.?\d*)", re.IGNORECASE)
_CARD_NUMBER = re.compile(r"-?[\d,]+\.?\d*")


def card_normalize(text: str) -> str:
    """Commas dropped; a number printed as an integer when whole (``'1,080.0'`` -> ``'1080'``),
    anything that is not a number kept as it is after dropping the commas."""
    text = text.replace(",", "")
    try:
        value = float(text)
    except ValueError:
        return text
    return str(int(value)) if value == int(value) else str(value)


def card_extract(response: str) -> str | None:
    """The card's answer: the first '#### N' anywhere in the output, else the first number
    in the first ``\\boxed{}``, else 'the answer is N' / 'answer: N', else the last number."""
    match = _CARD_HASH.search(response)
    if match:
        return card_normalize(match.group(1))
    match = _CARD_BOXED.search(response)
    if match:
        number = _CARD_NUMBER.search(match.group(1))
        if number:
            return card_normalize(number.group(0))
    match = _CARD_ANSWER_IS.search(response)
    if match:
        return card_normalize(match.group(1))
    numbers = _CARD_NUMBER.findall(response)
    return card_normalize(numbers[-1]) if numbers else None


def card_gold(answer: str) -> str:
    """The card's gold: the number after the first '####', else the last number, normalised."""
    match = _CARD_HASH.search(answer)
    if match:
        return card_normalize(match.group(1))
    numbers = _CARD_NUMBER.findall(answer)
    return card_normalize(numbers[-1]) if numbers else answer.strip()


card_answers = each_response(card_extract)


# --- DeepSeekMath MMLU-STEM (github.com/deepseek-ai/DeepSeek-Math,
# evaluation/data_processing/answer_extraction.py: extract_mmlu_stem, which calls
# extract_sat_few_shot_answer; scored by eval/eval_script.py eval_mmlu_stem) ---------------
_DSM_LETTER = re.compile(r"the final answer is \(?([abcd])\)?")


def dsm_mmlu_extract(response: str) -> str | None:
    """The text before the first 'Problem:', lower-cased; the letter of the first
    'the final answer is (X)' in it, upper-cased; None without one."""
    before = response.split("Problem:", 1)[0]
    match = _DSM_LETTER.search(before.lower())
    return match.group(1).upper() if match else None


dsm_mmlu_answers = each_response(dsm_mmlu_extract)


# --- YouronMath MMLU-STEM (github.com/shinandrew/YouronMath eval_mmlu_stem.py at 21af604,
# extract_answer; an answer is the index 0-3 of a choice) -------------------------------
_YM_MMLU_FINAL = re.compile(r"#### The final answer is\s*([0-3])")
# as there: "answer is" must touch the letter ("answer isB"); the case is ignored
_YM_MMLU_LETTER = re.compile(r"(?:answer is|final answer:?\s*)([A-D])", re.IGNORECASE)
_YM_MMLU_DIGIT = re.compile(r"[0-3]")


def youronmath_mmlu_extract(response: str, choices: Sequence[str]) -> int | None:
    """The choice index YouronMath's MMLU evaluation reads: '#### The final answer is K',
    else a letter A-D after 'answer is' / 'final answer', else the last digit 0-3 anywhere,
    else the first choice whose text appears in the response (case ignored); else None."""
    match = _YM_MMLU_FINAL.search(response)
    if match:
        return int(match.group(1))
    match = _YM_MMLU_LETTER.search(response)
    if match:
        return ord(match.group(1).upper()) - ord("A")
    digits = _YM_MMLU_DIGIT.findall(response)
    if digits:
        return int(digits[-1])
    lowered = response.lower()
    return next((i for i, choice in enumerate(choices) if str(choice).lower() in lowered), None)


def youronmath_mmlu_answers(resps: Iterable[Sequence[str]],
                            docs: Sequence[dict]) -> list[list[str]]:
    """lm-eval ``custom`` filter: each response's choice index as a string (the doc's
    ``answer`` renders the same way), ``[invalid]`` when none is found."""
    out = []
    for responses, doc in zip(resps, docs, strict=True):
        found = [youronmath_mmlu_extract(r if isinstance(r, str) else "", doc["choices"])
                 for r in responses]
        out.append([INVALID if f is None else str(f) for f in found])
    return out


# --- MATH-500 ---------------------------------------------------------------------------
_MINERVA_FINAL = re.compile(r"final answer is \$(.*?)\$\. I hope", re.DOTALL)


def math_final_answer(response: str) -> str | None:
    """The final answer's LaTeX: Minerva's 'The final answer is $X$. I hope it is correct.'
    when present (the format of lm-eval's minerva_math exemplars), else the last
    ``\\boxed{}``; None without either."""
    from gamermath.rewards.answers import last_boxed

    match = _MINERVA_FINAL.search(response)
    if match:
        return match.group(1).strip()
    boxed = last_boxed(response)
    return boxed.strip() if boxed is not None else None


math_answers = each_response(math_final_answer)


@sample_aware
def math_score(doc: dict[str, Any], answer: str) -> dict[str, float]:
    """``math_verify``: math-verify's ``verify(parse(gold), parse(answer))``, both boxed;
    ``sympy_equivalence``: gamermath's sympy-equivalence reward on the boxed answer."""
    from math_verify import parse, verify

    from gamermath.builtin import sympy_equivalence

    if answer == INVALID:
        return {"math_verify": 0.0, "sympy_equivalence": 0.0}
    boxed = f"\\boxed{{{answer}}}"
    gold = parse(f"$\\boxed{{{doc['answer']}}}$")
    predicted = parse(f"${boxed}$")
    verified = bool(gold and predicted and verify(gold, predicted))
    reward = sympy_equivalence.score(boxed, {"answer": doc["answer"]}, {"exact_numbers": True})
    return {"math_verify": float(verified), "sympy_equivalence": float(reward)}
