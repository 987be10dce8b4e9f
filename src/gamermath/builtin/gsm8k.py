"""The ``gsm8k`` dataset: grade-school word problems (openai/gsm8k, config ``main``).

Local layout: ``DATA_DIR/gsm8k/{train,test}.jsonl`` with the original keys ``question``
and ``answer`` (a worked solution ending in ``#### N``). Rows carry:
``question``; ``answer`` (the text after ``####`` as written, e.g. ``1,080``);
``solution`` (the original worked solution); ``reasoning`` (the solution without the
``<<48/2=24>>`` calculator annotations and the ``####`` line, for SFT).
"""

from __future__ import annotations

import re
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.hookspecs import hookimpl
from gamermath.specs import Dataset

HUB_ID = "openai/gsm8k"
_ANNOTATION = re.compile(r"<<[^<>]*>>")
_FINAL = re.compile(r"^####[ \t]*+(\S[^\n]*)", re.MULTILINE)


def final_answer(solution: str) -> str | None:
    """The gold final answer after the last ``####``, as written (``1,080`` stays)."""
    found = _FINAL.findall(solution)
    return found[-1].rstrip() if found else None


def strip_annotations(text: str) -> str:
    """Remove GSM8K's calculator annotations: ``48/2 = <<48/2=24>>24`` -> ``48/2 = 24``."""
    return _ANNOTATION.sub("", text)


def reasoning_of(solution: str) -> str:
    """The worked steps for SFT: annotations and the ``#### N`` line removed."""
    return strip_annotations(_FINAL.sub("", solution)).strip()


def to_row(question: str, solution: str, where: str) -> dict[str, Any]:
    """One normalised row; ``where`` (file:line or hub split) names a malformed one."""
    for key, value in (("question", question), ("answer", solution)):
        if not isinstance(value, str):
            raise GmrError(f"{where}: gsm8k '{key}' must be a string, not {type(value).__name__}")
    answer = final_answer(solution)
    if answer is None:
        raise GmrError(f"{where}: gsm8k answer has no '#### N' final line (or it is empty)")
    return {
        "question": question,
        "answer": answer,
        "solution": solution,
        "reasoning": reasoning_of(solution),
    }


def load(split: str, data_dir: Path | None, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """GSM8K rows from ``DATA_DIR/gsm8k/SPLIT.jsonl`` or the hub."""
    from gamermath.data.files import read_jsonl
    from gamermath.data.hub import load_hub_rows

    expected = f"gsm8k/{split}.jsonl"
    if data_dir is not None and (data_dir / expected).is_file():
        path = data_dir / expected
        raw = read_jsonl(path, ("question", "answer"))
        return [to_row(r["question"], r["answer"], f"{path}:{r['_line']}") for r in raw]
    raw = load_hub_rows("gsm8k", HUB_ID, "main", split, data_dir, expected)
    return [
        to_row(r["question"], r["answer"], f"{HUB_ID} {split} row {i}") for i, r in enumerate(raw)
    ]


@hookimpl
def register_datasets(register) -> None:
    register(
        Dataset(
            name="gsm8k",
            load=load,
            description="GSM8K grade-school math word problems (7473 train / 1319 test); "
            "gold = the number after ####",
            splits=("train", "test"),
            columns=("question", "answer", "solution", "reasoning"),
            hub_id=HUB_ID,
        )
    )
