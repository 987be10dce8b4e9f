"""The ``math500`` dataset: the 500-problem MATH test subset (HuggingFaceH4/MATH-500).

Local layout: ``DATA_DIR/math500/test.jsonl`` with the original keys ``problem``,
``solution``, ``answer``, ``subject``, ``level``, ``unique_id``. Rows carry ``question``
(the problem), ``answer`` (the reference final answer, LaTeX), ``solution``, ``subject``,
``level`` and ``unique_id``. Test split only.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gamermath.hookspecs import hookimpl
from gamermath.specs import Dataset

HUB_ID = "HuggingFaceH4/MATH-500"
KEYS = ("problem", "solution", "answer", "subject", "level", "unique_id")


def to_row(raw: Mapping[str, Any]) -> dict[str, Any]:
    """One normalised row from an original MATH-500 record."""
    return {
        "question": raw["problem"],
        "answer": str(raw["answer"]),
        "solution": raw["solution"],
        "subject": raw["subject"],
        "level": int(raw["level"]),
        "unique_id": raw["unique_id"],
    }


def load(split: str, data_dir: Path | None, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """MATH-500 rows from ``DATA_DIR/math500/test.jsonl`` or the hub."""
    from gamermath.data.files import read_jsonl
    from gamermath.data.hub import load_hub_rows

    expected = f"math500/{split}.jsonl"
    if data_dir is not None and (data_dir / expected).is_file():
        return [to_row(r) for r in read_jsonl(data_dir / expected, KEYS)]
    return [to_row(r) for r in load_hub_rows("math500", HUB_ID, None, split, data_dir, expected)]


@hookimpl
def register_datasets(register) -> None:
    register(
        Dataset(
            name="math500",
            load=load,
            description="MATH-500: 500 competition problems (test only); gold = LaTeX answer",
            splits=("test",),
            columns=("question", "answer", "solution", "subject", "level", "unique_id"),
            hub_id=HUB_ID,
        )
    )
