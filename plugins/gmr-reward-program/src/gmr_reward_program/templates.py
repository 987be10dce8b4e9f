"""Prompt templates for program-of-thought: ``program-of-thought`` and ``youronmath-code``.

- ``program-of-thought``: ask for one ```` ```python ```` block whose program prints the
  final answer as its last line (what the ``program`` reward's default ``fenced`` extraction
  runs). Chat messages (a system prompt, the question as the user turn) or, with
  ``style = "text"``, one plain string. Zero-shot.
- ``youronmath-code``: the YouronMath released code's "code" prompt (its ``gsm8k.py``):
  ``Question: Q`` / blank line / ``# solution in Python:`` / blank line / ``def
  solution():`` and the question as the docstring, which the model continues with the
  function body (the reward's ``solution-body`` extraction). Its worked examples come from a
  JSON file ``{"questions": [...], "solutions": [...]}`` (option ``examples``; the source
  reads bigcode-evaluation-harness's ``gsm8k_few_shot_prompts.json``, which gmr does not
  ship), the first ``num_examples`` of them, each followed by a blank line.
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
    _no_shots("youronmath-code", shots)
    prompt = ""
    if options["examples"]:
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
