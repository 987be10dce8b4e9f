"""The ``program`` reward: run the completion's program in the sandbox, score what it prints.

``extract`` says where the program is:

- ``fenced`` (default): the last ```` ```python ```` (or ```` ```py ````) block of the
  completion; the answer is the last non-blank line the program prints.
- ``solution-body``: the completion continues ``def solution():`` (the YouronMath released
  code's "code" format, see ``jail_main.solution_body_program``); the answer is
  ``str(solution())``.

The answer is compared with the gold (column ``answer``) by ``compare``: ``exact-answer``
(the first number of the answer equals the gold number, ``gamermath.verify``;
with ``tolerance`` > 0, within that absolute distance instead) or ``sympy-equivalence``
(the ``sympy-equivalence`` reward's scoring on ``\\boxed{answer}``). No program, a program
that fails, runs out of time, memory or output, or prints nothing scores 0.0.

``require`` lists isolation layers (comma-separated, see ``sandbox.ALL_LAYERS``) that must
take effect; where one does not, the sample is an error (the runner's fallback, counted),
so a run never silently executes model code with less isolation than asked for. A sandbox
that fails before the program starts (no layer report) is an error too, never a silent 0.
"""

from __future__ import annotations

import hashlib
import re
from collections.abc import Hashable, Mapping
from typing import Any

from gamermath import verify
from gmr_reward_program.sandbox import ALL_LAYERS, Limits, RunResult, run_program

#: Worker processes warm math-verify once, for ``compare = "sympy-equivalence"``.
GMR_PRELOAD = (verify.MATH_WARMUP_MODULE,)

EXTRACTS = ("fenced", "solution-body")
COMPARES = ("exact-answer", "sympy-equivalence")
#: The runner's per-sample timeout for this reward; ``wall_s`` must leave room for cleanup.
TIMEOUT_S = 12.0
MAX_WALL_S = 10.0
#: Characters of the printed answer that are compared (the sympy guard's own limit).
MAX_ANSWER_CHARS = 1000

OPTIONS: dict[str, Any] = {
    "extract": "fenced",
    "compare": "exact-answer",
    "tolerance": 0.0,
    "wall_s": 3.0,
    "cpu_s": 2,
    "memory_mb": 256,
    "output_bytes": 65536,
    "file_bytes": 1 << 20,
    "disk_mb": 8,
    "max_code_chars": 20000,
    "require": "",
}

_FENCE = re.compile(r"```[ \t]*(?:python3?|py)[ \t]*\r?\n(.*?)```", re.S | re.I)


def extract_program(completion: str, extract: str) -> str | None:
    """The program to run, or None when the completion holds none."""
    if not isinstance(completion, str):
        return None
    if extract == "solution-body":
        return completion if completion.strip() else None
    code = None
    for match in _FENCE.finditer(completion):
        code = match.group(1)
    return code if code and code.strip() else None


def _positive(options: Mapping[str, Any], key: str, kind: type, top: float | None = None):
    value = kind(options[key])
    if value <= 0 or (top is not None and value > top):
        bound = f"in (0, {top:g}]" if top is not None else "positive"
        raise ValueError(f"reward 'program': option {key} must be {bound}, got {value}")
    return value


def limits_from(options: Mapping[str, Any]) -> Limits:
    """The sandbox limits the options ask for; ValueError names a bad option."""
    return Limits(
        wall_s=_positive(options, "wall_s", float, MAX_WALL_S),
        cpu_s=_positive(options, "cpu_s", int),
        memory_mb=_positive(options, "memory_mb", int),
        output_bytes=_positive(options, "output_bytes", int),
        file_bytes=_positive(options, "file_bytes", int),
        disk_mb=_positive(options, "disk_mb", int),
    )


def required_layers(options: Mapping[str, Any]) -> list[str]:
    """The layers named by option ``require``; ValueError for an unknown one."""
    names = [n.strip() for n in str(options["require"] or "").split(",") if n.strip()]
    unknown = [n for n in names if n not in ALL_LAYERS]
    if unknown:
        raise ValueError(
            f"reward 'program': option require names unknown layer '{unknown[0]}' "
            f"(layers: {', '.join(ALL_LAYERS)})"
        )
    return names


def _choice(options: Mapping[str, Any], key: str, allowed: tuple[str, ...]) -> str:
    value = str(options[key])
    if value not in allowed:
        raise ValueError(
            f"reward 'program': option {key} must be one of {', '.join(allowed)}, got '{value}'"
        )
    return value


def compare_answer(answer: str, gold: Any, compare: str, tolerance: float = 0.0) -> float:
    """1.0 if the printed ``answer`` matches the gold under ``compare``, else 0.0."""
    answer = answer.strip()[:MAX_ANSWER_CHARS]
    if not answer:
        return 0.0
    if compare == "sympy-equivalence":
        return float(verify.math_equivalent(f"\\boxed{{{answer}}}", gold))
    if tolerance > 0:
        got, want = verify.first_number(answer), verify.gold_number(gold)
        return 1.0 if got is not None and want is not None and abs(got - want) < tolerance else 0.0
    return 1.0 if verify.numbers_equal(answer, gold) else 0.0


def evaluate(
    completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]
) -> tuple[float, RunResult | None]:
    """The score and the sandbox run behind it (None when there was no program to run)."""
    extract = _choice(options, "extract", EXTRACTS)
    compare = _choice(options, "compare", COMPARES)
    limits = limits_from(options)
    required = required_layers(options)
    tolerance = float(options["tolerance"])
    code = extract_program(completion, extract)
    if code is None or len(code) > int(options["max_code_chars"]):
        return 0.0, None
    mode = "solution-body" if extract == "solution-body" else "script"
    result = run_program(code, limits, mode)
    if not result.layers:  # the sandbox broke before the program ran: not the model's fault
        detail = " ".join(result.stderr.split())[-300:]
        raise RuntimeError(f"the sandbox failed before the program ran ({result.status}): {detail}")
    missing = [name for name in required if not result.layer_on(name)]
    if missing:
        reasons = "; ".join(f"{n}: {result.layers.get(n, 'no report')}" for n in missing)
        raise RuntimeError(f"required sandbox layers did not take effect ({reasons})")
    if result.status != "ok":
        return 0.0, result
    return compare_answer(result.answer, columns["answer"], compare, tolerance), result


def score(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> float:
    """Run the completion's program isolated and compare its answer with the gold."""
    return evaluate(completion, columns, options)[0]


def cache_key(completion: str, columns: Mapping[str, Any], options: Mapping[str, Any]) -> Hashable:
    """A digest of the program and the gold: identical programs in a group run once.

    (A program that prints something different on every run, e.g. from ``random``, is
    scored by its first run.)
    """
    code = extract_program(completion, str(options["extract"]))
    if code is None or len(code) > int(options["max_code_chars"]):
        return ("no-program",)
    digest = hashlib.sha256(code.encode("utf-8", "surrogatepass")).hexdigest()
    return ("program", digest, str(columns["answer"]))
