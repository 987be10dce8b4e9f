"""The ``mmlu-stem`` dataset: the STEM subjects of MMLU (cais/mmlu), four-choice questions.

Option ``subjects``: ``stem`` (default; the 19 subjects of lm-eval's ``mmlu_stem`` group),
``stem-18`` (the same without anatomy, the list math-reasoning papers report), or a
comma-separated list of subject names. Local layout (the original release):
``DATA_DIR/mmlu/{test,dev,val}/SUBJECT_{test,dev,val}.csv``, no header, columns question,
A, B, C, D, answer letter. Rows carry ``question`` (the stem followed by ``A. ...`` to
``D. ...`` lines, so any template shows the choices), ``stem``, ``choices`` (four
strings), ``answer`` (the letter) and ``subject``.
"""

from __future__ import annotations

from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.hookspecs import hookimpl
from gamermath.specs import Dataset

HUB_ID = "cais/mmlu"
LETTERS = "ABCD"

#: lm-evaluation-harness's ``mmlu_stem`` group (19 subjects, 3153 test questions).
STEM_SUBJECTS: tuple[str, ...] = (
    "abstract_algebra",
    "anatomy",
    "astronomy",
    "college_biology",
    "college_chemistry",
    "college_computer_science",
    "college_mathematics",
    "college_physics",
    "computer_security",
    "conceptual_physics",
    "electrical_engineering",
    "elementary_mathematics",
    "high_school_biology",
    "high_school_chemistry",
    "high_school_computer_science",
    "high_school_mathematics",
    "high_school_physics",
    "high_school_statistics",
    "machine_learning",
)
#: The 18-subject STEM list math-reasoning papers use: the above without anatomy.
STEM_18_SUBJECTS: tuple[str, ...] = tuple(s for s in STEM_SUBJECTS if s != "anatomy")

SUBJECT_LISTS = {"stem": STEM_SUBJECTS, "stem-18": STEM_18_SUBJECTS}
#: split name -> (folder, file suffix) in the original release.
LOCAL_SPLITS = {"test": "test", "dev": "dev", "validation": "val"}


def subjects_of(value: Any) -> tuple[str, ...]:
    """The subject list an option value names."""
    if isinstance(value, str) and value in SUBJECT_LISTS:
        return SUBJECT_LISTS[value]
    names = value.split(",") if isinstance(value, str) else list(value)
    names = [n.strip() for n in names if n.strip()]
    if not names:
        raise GmrError("mmlu-stem: option 'subjects' is empty")
    return tuple(names)


def question_text(stem: str, choices: list[str]) -> str:
    """The stem followed by one ``X. choice`` line per letter."""
    lines = [stem.strip()] + [f"{L}. {c}" for L, c in zip(LETTERS, choices, strict=True)]
    return "\n".join(lines)


def to_row(stem: str, choices: list[str], letter: str, subject: str) -> dict[str, Any]:
    return {
        "question": question_text(stem, choices),
        "stem": stem,
        "choices": list(choices),
        "answer": letter,
        "subject": subject,
    }


def read_subject_csv(path: Path, subject: str) -> list[dict[str, Any]]:
    """Rows of one original MMLU CSV; a bad answer letter names file and line."""
    from gamermath.data.files import iter_csv

    rows = []
    for line, fields in iter_csv(path, 6):
        letter = fields[5].strip().upper()
        if letter not in LETTERS:
            raise GmrError(f"{path}:{line}: answer must be one of A, B, C, D, got '{fields[5]}'")
        rows.append(to_row(fields[0], fields[1:5], letter, subject))
    return rows


def load(split: str, data_dir: Path | None, options: Mapping[str, Any]) -> list[dict[str, Any]]:
    """MMLU STEM rows, subject by subject, from local CSVs or the hub."""
    from gamermath.data.hub import load_hub_rows

    folder = LOCAL_SPLITS[split]
    rows: list[dict[str, Any]] = []
    for subject in subjects_of(options["subjects"]):
        expected = f"mmlu/{folder}/{subject}_{folder}.csv"
        if data_dir is not None and (data_dir / expected).is_file():
            rows.extend(read_subject_csv(data_dir / expected, subject))
            continue
        if data_dir is not None and (data_dir / "mmlu" / folder).is_dir():
            raise GmrError(f"mmlu-stem: no file {data_dir / expected} (unknown subject?)")
        for raw in load_hub_rows("mmlu-stem", HUB_ID, subject, split, data_dir, expected):
            letter = LETTERS[int(raw["answer"])]
            rows.append(to_row(raw["question"], list(raw["choices"]), letter, subject))
    return rows


@hookimpl
def register_datasets(register) -> None:
    register(
        Dataset(
            name="mmlu-stem",
            load=load,
            description="MMLU STEM subjects, 4-choice (19 lm-eval subjects, 3153 test; "
            "subjects=stem-18 drops anatomy); gold = the letter",
            splits=("test", "dev", "validation"),
            columns=("question", "answer", "stem", "choices", "subject"),
            hub_id=HUB_ID,
            options={"subjects": "stem"},
        )
    )
