"""The ``arith`` dataset: seeded arithmetic problems that need no download.

It is the CPU demo's data: the default is easy (sums of two numbers below 100) so that a
135M model can learn the answer format and the sums in minutes; the options make it
harder.

Options: ``digits`` (operands have at most this many digits, default 2), ``ops``
(operations drawn from, any of ``+-*``, default ``+``), ``steps`` (operations per
problem, default 1 = two operands), ``word`` (the fraction of problems phrased as a short
story instead of ``What is 12 + 7?``, default 0), ``show_work`` (the fraction of rows
whose ``reasoning`` shows the worked steps, default 1; the others have an empty
``reasoning``, so their SFT target is the bare answer line), ``train_size``/``test_size``
(rows per split, 2000/200), ``test_fraction`` (the share of all problems reserved for
test, 0.1), ``seed`` (0).

Train and test are disjoint by construction: a problem's identity (its operands and
operations, whatever the wording) is hashed, and the hash alone decides its split, for
every seed. Expressions are evaluated left to right (parentheses are written where
precedence would differ) and subtraction never goes below zero, so answers are
non-negative integers. Rows carry ``question``, ``answer`` (the integer as text),
``reasoning`` (one ``a + b = c`` line per step, for SFT) and ``expression``.
"""

from __future__ import annotations

import hashlib
import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.hookspecs import hookimpl
from gamermath.specs import Dataset

DEFAULTS: dict[str, Any] = {
    "digits": 2,
    "ops": "+",
    "steps": 1,
    "word": 0.0,
    "show_work": 1.0,
    "train_size": 2000,
    "test_size": 200,
    "test_fraction": 0.1,
    "seed": 0,
}

NAMES = ("Ana", "Ben", "Chen", "Dana", "Eli", "Farah", "Gus", "Hana", "Ivan", "Jade")
ITEMS = ("apples", "marbles", "stickers", "books", "coins", "shells", "pencils", "cards")
WORD_STEPS = {
    "+": ("{name} buys {b} more.", "{name} gets {b} more from a friend.", "{name} finds {b} more."),
    "-": ("{name} gives away {b}.", "{name} loses {b}.", "{name} uses up {b}."),
    "*": (
        "Then the number of {items} {name} has becomes {b} times as large.",
        "Then {name} ends up with {b} times as many {items}.",
    ),
}
_BUCKETS = 10_000


def problem_split(identity: str, test_fraction: float) -> str:
    """``test`` or ``train``, decided by a hash of the problem's identity alone."""
    bucket = int(hashlib.sha256(identity.encode()).hexdigest()[:12], 16) % _BUCKETS
    return "test" if bucket < round(test_fraction * _BUCKETS) else "train"


def apply(op: str, a: int, b: int) -> int:
    return a + b if op == "+" else a - b if op == "-" else a * b


def draw_problem(rng: random.Random, digits: int, ops: str, steps: int):
    """Operands and operations of one problem, keeping every running value >= 0."""
    high = 10**digits - 1
    value = rng.randint(1, high)
    operands, operations = [value], []
    for _ in range(steps):
        op = rng.choice(ops)
        b = rng.randint(min(1, value), min(high, value)) if op == "-" else rng.randint(1, high)
        value = apply(op, value, b)
        operands.append(b)
        operations.append(op)
    return operands, operations


def expression_of(operands: list[int], operations: list[str]) -> str:
    """Left-to-right expression text, parenthesised where precedence would differ."""
    text, low = str(operands[0]), False
    for op, b in zip(operations, operands[1:], strict=True):
        if op == "*" and low:
            text = f"({text})"
        text = f"{text} {op} {b}"
        low = low or op in "+-"
    return text


def reasoning_of(operands: list[int], operations: list[str]) -> tuple[str, int]:
    """One ``a op b = c`` line per step, and the final value."""
    value, lines = operands[0], []
    for op, b in zip(operations, operands[1:], strict=True):
        new = apply(op, value, b)
        lines.append(f"{value} {op} {b} = {new}")
        value = new
    return "\n".join(lines), value


def story_of(rng: random.Random, operands: list[int], operations: list[str]) -> str:
    """The problem as a short story in the same left-to-right order."""
    name, items = rng.choice(NAMES), rng.choice(ITEMS)
    sentences = [f"{name} has {operands[0]} {items}."]
    for op, b in zip(operations, operands[1:], strict=True):
        sentences.append(rng.choice(WORD_STEPS[op]).format(name=name, items=items, b=b))
    sentences.append(f"How many {items} does {name} have now?")
    return " ".join(sentences)


def check_options(options: Mapping[str, Any]) -> None:
    ops = str(options["ops"])
    if not ops or any(op not in "+-*" for op in ops):
        raise GmrError(f"arith: option 'ops' must use only + - *, got '{ops}'")
    for key in ("digits", "steps", "train_size", "test_size"):
        if int(options[key]) < 1:
            raise GmrError(f"arith: option '{key}' must be at least 1, got {options[key]}")
    if not 0 < float(options["test_fraction"]) < 1:
        raise GmrError("arith: option 'test_fraction' must lie strictly between 0 and 1")
    for key in ("word", "show_work"):
        if not 0 <= float(options[key]) <= 1:
            raise GmrError(f"arith: option '{key}' must lie between 0 and 1, got {options[key]}")


def generate(split: str, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """``{split}_size`` distinct problems of one split, the same for the same options."""
    check_options(options)
    digits, steps, ops = int(options["digits"]), int(options["steps"]), str(options["ops"])
    size = int(options[f"{split}_size"])
    word = float(options["word"])
    test_fraction = float(options["test_fraction"])
    rng = random.Random(f"gmr-arith:{options['seed']}:{split}")
    show_work = float(options["show_work"])
    # its own stream, so show_work = 1 leaves every other column as it always was
    work_rng = random.Random(f"gmr-arith-work:{options['seed']}:{split}")
    seen: set[str] = set()
    rows: list[dict[str, Any]] = []
    attempts = 0
    while len(rows) < size:
        attempts += 1
        if attempts > 200 * size + 10_000:
            raise GmrError(
                f"arith: only {len(rows)} distinct {split} problems found for digits={digits} "
                f"ops={ops} steps={steps}; lower {split}_size or make problems harder"
            )
        operands, operations = draw_problem(rng, digits, ops, steps)
        expression = expression_of(operands, operations)
        if expression in seen or problem_split(expression, test_fraction) != split:
            continue
        seen.add(expression)
        reasoning, value = reasoning_of(operands, operations)
        as_story = word > 0 and rng.random() < word
        question = story_of(rng, operands, operations) if as_story else f"What is {expression}?"
        if show_work < 1 and work_rng.random() >= show_work:
            reasoning = ""
        rows.append(
            {
                "question": question,
                "answer": str(value),
                "reasoning": reasoning,
                "expression": expression,
            }
        )
    return rows


def load(split: str, data_dir: Path | None, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """Generated rows; ``data_dir`` is ignored (nothing to download)."""
    return generate(split, options)


@hookimpl
def register_datasets(register) -> None:
    register(
        Dataset(
            name="arith",
            load=load,
            description="seeded arithmetic problems, no download (default: a + b below 100; "
            "options digits, ops, steps, word, show_work)",
            splits=("train", "test"),
            columns=("question", "answer", "reasoning", "expression"),
            options=dict(DEFAULTS),
        )
    )
