"""Prompt templates for program-of-thought: ``program-of-thought`` and ``youronmath-code``.

- ``program-of-thought``: ask for one ```` ```python ```` block whose program prints the
  final answer as its last line (what the ``program`` reward's default ``fenced`` extraction
  runs). Chat messages (a system prompt, the question as the user turn) or, with
  ``style = "text"``, one plain string. Zero-shot.
- ``youronmath-code``: the YouronMath released code's "code" prompt (its ``gsm8k.py``):
  ``Question: Q`` / blank line / ``# solution in Python:`` / blank line / ``def
  solution():`` and the question as the docstring, which the model continues with the
  function body (the reward's ``solution-body`` extraction). Its worked examples are the
  template's exemplars, ``YOURONMATH_CODE_EXEMPLARS``: the first two entries of the
  repository's ``resources/gsm8k_few_shot_prompts.json`` (shinandrew/YouronMath @ 21af604),
  byte for byte, which the source reads with ``--num_shots 2``; ``shots = 2`` draws them in
  an order fixed once per run (the source's ``random.sample``). Each is followed by a blank
  line. Option ``examples`` instead reads the first ``num_examples`` of another JSON file
  ``{"questions": [...], "solutions": [...]}`` (then set ``shots = 0``).
"""

from __future__ import annotations

import functools
import json
from collections.abc import Mapping
from pathlib import Path
from typing import Any

PROGRAM_SYSTEM_PROMPT = (
    "Solve the math problem by writing a Python 3 program. Put the whole program in one "
    "```python code block. The program must print the final answer, and nothing after it, "
    "as the last line of its output: a number, or an exact expression such as 3/4. It may "
    "use the standard library (math, fractions, itertools...) but no files, network or "
    "other processes; it runs with a few seconds of CPU time."
)

# resources/gsm8k_few_shot_prompts.json @ 21af604, its first two questions and solutions.
YOURONMATH_CODE_EXEMPLARS = (
    {
        "question": "Olivia has $23. She bought five bagels for $3 each. How much money does "
        "she have left?",
        "solution": "    money_initial = 23\n    bagels = 5\n    bagel_cost = 3\n"
        "    money_spent = bagels * bagel_cost\n    money_left = money_initial - money_spent\n"
        "    result = money_left\n    return result",
        "answer": "8",
    },
    {
        "question": "Michael had 58 golf balls. On tuesday, he lost 23 golf balls. On "
        "wednesday, he lost 2 more. How many golf balls did he have at the end of wednesday?",
        "solution": "    golf_balls_initial = 58\n    golf_balls_lost_tuesday = 23\n"
        "    golf_balls_lost_wednesday = 2\n    golf_balls_left = golf_balls_initial - "
        "golf_balls_lost_tuesday - golf_balls_lost_wednesday\n    result = golf_balls_left\n"
        "    return result",
        "answer": "33",
    },
)

CODE_PROMPT = (
    'Question: {question}\n\n# solution in Python:\n\ndef solution():\n    """{question}"""\n'
)


def _no_shots(name: str, shots: list[Mapping[str, Any]]) -> None:
    if shots:
        from gamermath.errors import GmrError

        raise GmrError(
            f"template '{name}' takes no few-shot rows from the dataset (GSM8K rows hold no "
            "programs); set shots = 0"
        )


def render_program_of_thought(
    row: Mapping[str, Any], shots: list[Mapping[str, Any]], options: Mapping[str, Any]
) -> str | list[dict[str, str]]:
    """The instructions and the question, as chat messages or (``style = "text"``) text."""
    _no_shots("program-of-thought", shots)
    system, question = str(options["system"]), str(row["question"])
    style = str(options["style"])
    if style == "chat":
        return [{"role": "system", "content": system}, {"role": "user", "content": question}]
    if style == "text":
        return f"{system}\n\nQuestion: {question}\nAnswer:\n"
    from gamermath.errors import GmrError

    raise GmrError(
        f"template 'program-of-thought': option style must be chat or text, got '{style}'"
    )


@functools.lru_cache(maxsize=8)
def load_examples(path: str) -> tuple[tuple[str, str], ...]:
    """(question, solution) pairs from a bigcode-style few-shot JSON file."""
    from gamermath.errors import GmrError

    try:
        data = json.loads(Path(path).read_text(encoding="utf-8"))
        pairs = tuple(zip(data["questions"], data["solutions"], strict=False))
    except OSError as exc:
        raise GmrError(
            f"template 'youronmath-code': option examples: {path}: {exc.strerror}"
        ) from None
    except (ValueError, KeyError, TypeError):
        raise GmrError(
            f"template 'youronmath-code': option examples: {path} is not JSON with "
            "'questions' and 'solutions' lists"
        ) from None
    return tuple((str(q), str(s)) for q, s in pairs)


def render_youronmath_code(
    row: Mapping[str, Any], shots: list[Mapping[str, Any]], options: Mapping[str, Any]
) -> str:
    """The worked examples (each ``CODE_PROMPT`` + solution + blank line), then the open one."""
    prompt = "".join(CODE_PROMPT.format(question=shot["question"]) + f"{shot['solution']}\n\n"
                     for shot in shots)
    if options["examples"]:
        if shots:
            from gamermath.errors import GmrError

            raise GmrError("template 'youronmath-code': option examples replaces the "
                           "built-in exemplars; set shots = 0 with it")
        wanted = int(options["num_examples"])
        examples = load_examples(str(options["examples"]))
        if len(examples) < wanted:
            from gamermath.errors import GmrError

            raise GmrError(
                f"template 'youronmath-code': {options['examples']} holds {len(examples)} "
                f"examples, num_examples = {wanted}"
            )
        for question, solution in examples[:wanted]:
            prompt += CODE_PROMPT.format(question=question) + f"{solution}\n\n"
    return prompt + CODE_PROMPT.format(question=row["question"])
