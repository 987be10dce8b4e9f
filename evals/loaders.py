"""Dataset loaders the task YAMLs call through ``custom_dataset: !function utils.NAME``.

lm-evaluation-harness calls ``custom_dataset(**metadata, **dataset_kwargs)``. ``gmr eval``
puts ``data_dir`` into the metadata (``--data-dir`` or ``$GMR_DATA_DIR``); with a data
directory the offline files are read (``gsm8k/{train,test}.jsonl``,
``mmlu/{test,dev}/<subject>_{test,dev}.csv``, ``math500/test.jsonl``), without one the same
splits come from the Hugging Face hub (``openai/gsm8k`` ``main``, ``cais/mmlu``
``<subject>``, ``HuggingFaceH4/MATH-500``), exactly the data lm-eval's built-in tasks read.

Exemplars a protocol needs verbatim are data files beside the task that uses them
(``*.jsonl``), each quoted from the source named in its loader below.
"""

from __future__ import annotations

import ast
import csv
import json
import os
import random
from pathlib import Path
from typing import Any

LETTERS = ("A", "B", "C", "D")


def data_dir_from(metadata: dict[str, Any]) -> Path | None:
    """The data directory named in the task metadata, else ``$GMR_DATA_DIR``, else None."""
    value = metadata.get("data_dir") or os.environ.get("GMR_DATA_DIR", "").strip()
    return Path(str(value)).expanduser() if value else None


def _missing(path: Path, what: str):
    from gamermath.errors import GmrError

    return GmrError(f"{what}: data file {path} not found (check --data-dir / GMR_DATA_DIR)")


def gsm8k_splits(**metadata: Any):
    """GSM8K ``train`` and ``test`` with the hub's columns ``question`` and ``answer``."""
    import datasets

    root = data_dir_from(metadata)
    if root is None:
        return datasets.load_dataset("openai/gsm8k", "main")
    files = {split: root / "gsm8k" / f"{split}.jsonl" for split in ("train", "test")}
    for path in files.values():
        if not path.is_file():
            raise _missing(path, "gsm8k")
    return datasets.load_dataset("json", data_files={k: str(v) for k, v in files.items()})


def _with_worked_solution(row: dict[str, Any]) -> dict[str, Any]:
    answer = str(row["answer"])
    reasoning, _, final = answer.rpartition("####")
    return {"reasoning": reasoning.strip(), "final": final.strip()}


def gsm8k_with_solutions(**metadata: Any):
    """GSM8K with ``reasoning`` (worked steps) and ``final`` (text after ``####``) columns."""
    splits = gsm8k_splits(**metadata)
    return splits.map(_with_worked_solution)


def gsm8k_youronmath(**metadata: Any):
    """GSM8K plus the split ``youronmath_shots``: the 8 train rows the paper's code drew.

    The YouronMath evaluation calls ``random.seed(42)`` then ``random.sample(train, 8)``;
    ``random.Random(42).sample`` draws the same rows in the same order.
    """
    import datasets

    splits = gsm8k_with_solutions(**metadata)
    train = splits["train"]
    picked = random.Random(42).sample(range(len(train)), 8)
    out = dict(splits)
    out["youronmath_shots"] = train.select(picked)
    return datasets.DatasetDict(out)


def _mmlu_csv(path: Path, subject: str) -> list[dict[str, Any]]:
    rows = []
    with path.open(newline="", encoding="utf-8") as handle:
        for record in csv.reader(handle):
            if len(record) != 6 or record[5].strip() not in LETTERS:
                from gamermath.errors import GmrError

                raise GmrError(
                    f"{path}: expected 6 columns question,A,B,C,D,answer-letter; got {record!r:.80}"
                )
            rows.append(
                {
                    "question": record[0],
                    "subject": subject,
                    "choices": record[1:5],
                    "answer": LETTERS.index(record[5].strip()),
                }
            )
    return rows


def mmlu_subject(subject: str = "", **metadata: Any):
    """One MMLU subject's ``test`` and ``dev`` splits with the hub's columns.

    Columns: ``question``, ``subject``, ``choices`` (four strings), ``answer`` (0-3).
    """
    import datasets

    root = data_dir_from(metadata)
    if root is None:
        return datasets.load_dataset("cais/mmlu", subject)
    out = {}
    for split in ("test", "dev"):
        path = root / "mmlu" / split / f"{subject}_{split}.csv"
        if not path.is_file():
            raise _missing(path, f"mmlu {subject}")
        out[split] = datasets.Dataset.from_list(_mmlu_csv(path, subject))
    return datasets.DatasetDict(out)


#: The four worked multiple-choice exemplars of ``mmlu_stem_cot4`` (written for gamermath:
#: one each of arithmetic, kinematics, stoichiometry and algorithms; answers B, C, A, D).
STEM_COT_EXEMPLARS: tuple[dict[str, Any], ...] = (
    {
        "question": "What is the remainder when 2^10 is divided by 7?",
        "choices": ["1", "2", "4", "6"],
        "answer": 1,
        "rationale": "Powers of 2 modulo 7 repeat with period 3, since 2^3 = 8 leaves "
        "remainder 1. Then 2^10 = (2^3)^3 * 2 leaves remainder 1 * 2 = 2.",
    },
    {
        "question": "A car accelerates uniformly from rest to 20 m/s in 5 s. How far does it "
        "travel in that time?",
        "choices": ["20 m", "100 m", "50 m", "4 m"],
        "answer": 2,
        "rationale": "Under uniform acceleration from rest the average speed is half the final "
        "speed, 10 m/s. Over 5 s the car covers 10 m/s * 5 s = 50 m.",
    },
    {
        "question": "How many moles of water form when 2 moles of hydrogen gas react "
        "completely with excess oxygen?",
        "choices": ["2", "1", "4", "0.5"],
        "answer": 0,
        "rationale": "The balanced equation is 2 H2 + O2 -> 2 H2O, so each mole of H2 gives "
        "one mole of water: 2 moles of H2 give 2 moles of H2O.",
    },
    {
        "question": "What is the worst-case number of comparisons binary search needs on a "
        "sorted array of n elements, in big-O notation?",
        "choices": ["O(n)", "O(n log n)", "O(1)", "O(log n)"],
        "answer": 3,
        "rationale": "Each comparison halves the part of the array that can still hold the "
        "target, so after about log2(n) halvings one element is left.",
    },
)


def stem_cot_exemplars() -> list[dict[str, Any]]:
    """The ``mmlu_stem_cot4`` few-shot docs (lm-eval ``fewshot_config.samples``)."""
    return [dict(row, subject="") for row in STEM_COT_EXEMPLARS]


def _jsonl(path: Path) -> list[dict[str, Any]]:
    return [json.loads(line) for line in path.read_text(encoding="utf-8").splitlines() if line]


_HERE = Path(__file__).resolve().parent


def card_exemplars() -> list[dict[str, Any]]:
    """The 8 exemplars of the Qwen3.5-0.8B-GRPO-Math evaluation, as few-shot docs.

    Quoted from github.com/CelestialCreator/gpu-lab
    projects/05-grpo-reasoning/scripts/eval_gsm8k.py (commit 0679a4a), ``FEW_SHOT_EXAMPLES``:
    Wei et al.'s (arXiv:2201.11903) eight GSM8K chain-of-thought exemplars with answers
    ending ``\n#### N``; ``steps`` is the text before ``\n#### ``, ``final`` the number.
    """
    return _jsonl(_HERE / "gsm8k_think" / "card_exemplars.jsonl")


def gsm8k_card(**metadata: Any):
    """GSM8K with ``card_gold``: the gold answer as the card's evaluation normalises it."""
    from gamermath.evals.scoring import card_gold

    splits = gsm8k_splits(**metadata)
    return splits.map(lambda row: {"card_gold": card_gold(str(row["answer"]))})


def deepseekmath_stem_exemplars() -> list[dict[str, Any]]:
    """The 4 exemplars of DeepSeekMath's MMLU-STEM prompt, as few-shot docs.

    Quoted from github.com/deepseek-ai/DeepSeek-Math
    evaluation/few_shot_prompts/cot_mmlu_stem_4_shot.py (commit 21cc5c6), ``few_shot_prompt``:
    four MATH problems (the Minerva prompt's) recast as multiple choice. ``problem`` is the
    text between ``Problem:\n`` and ``\nSolution:\n``, ``solution`` the rest; joined as
    ``Problem:\n{problem}\nSolution:\n{solution}`` with blank lines between, they are the
    source's string character for character.
    """
    return _jsonl(_HERE / "mmlu_stem_dsm4" / "deepseekmath_exemplars.jsonl")


def deepseekmath_problem(question: str, choices: list[str]) -> str:
    """A question as DeepSeekMath's ``process_mmlu_stem`` words it (evaluation/data_processing/
    process_utils.py): the question, the instruction line, then ``(A) x, (B) y, ...``."""
    options = ", ".join(f"({letter}) {str(choice).strip()}"
                        for letter, choice in zip(LETTERS, choices, strict=True))
    return (f"{question.strip()}\nWhat of the following is the right choice? Explain your "
            f"answer.\n{options}")


#: The subjects YouronMath's eval_mmlu_stem.py calls MMLU-STEM ("math only"), in its order.
YOURONMATH_MMLU_SUBJECTS = ("college_mathematics", "high_school_mathematics")


def mmlu_youronmath(**metadata: Any):
    """MMLU as YouronMath's ``eval_mmlu_stem.py`` reads it (github.com/shinandrew/YouronMath
    at 21af604): the ``test`` rows of its two math subjects in order (370 questions), and
    the split ``youronmath_shots``: the 4 rows its ``random.seed(42)`` then
    ``random.sample(dev, 4)`` draws from the two subjects' ``dev`` rows (10), in that order.

    Added columns: ``choice_lines`` (``"0: ...\n1: ..."``, the index before each choice as
    the source prints it) and ``answer_text`` (the right choice's text).
    """
    import datasets

    parts = [mmlu_subject(subject, **metadata) for subject in YOURONMATH_MMLU_SUBJECTS]
    test = datasets.concatenate_datasets([p["test"] for p in parts])
    dev = datasets.concatenate_datasets([p["dev"] for p in parts])
    shots = dev.select(random.Random(42).sample(range(len(dev)), 4))

    def columns(row: dict[str, Any]) -> dict[str, str]:
        choices = list(row["choices"])
        return {"choice_lines": "\n".join(f"{i}: {c}" for i, c in enumerate(choices)),
                "answer_text": str(choices[int(row["answer"])])}

    return datasets.DatasetDict({"test": test.map(columns),
                                 "youronmath_shots": shots.map(columns)})


def mmlu_subject_deepseekmath(subject: str = "", **metadata: Any):
    """One MMLU subject with the column ``problem`` worded as DeepSeekMath's harness does."""
    splits = mmlu_subject(subject, **metadata)
    return splits.map(lambda row: {"problem": deepseekmath_problem(row["question"],
                                                                   row["choices"])})


def math500(**metadata: Any):
    """MATH-500's ``test`` split with its own columns (``problem``, ``solution``, ``answer``,
    ``subject``, ``level``, ``unique_id``)."""
    import datasets

    root = data_dir_from(metadata)
    if root is None:
        return datasets.load_dataset("HuggingFaceH4/MATH-500")
    path = root / "math500" / "test.jsonl"
    if not path.is_file():
        raise _missing(path, "math500")
    return datasets.load_dataset("json", data_files={"test": str(path)})


def minerva_exemplars() -> list[dict[str, Any]]:
    """lm-eval's four Minerva MATH exemplars (``list_fewshot_samples`` in the installed
    ``lm_eval/tasks/minerva_math/utils.py``), read from that file rather than imported:
    importing it demands ``antlr4-python3-runtime==4.11``, which math-verify's parser
    does not use. Fields: ``problem``, ``solution`` (ending ``Final Answer: The final
    answer is $X$. I hope it is correct.``)."""
    import lm_eval.tasks

    from gamermath.errors import GmrError

    path = Path(lm_eval.tasks.__file__).parent / "minerva_math" / "utils.py"
    tree = ast.parse(path.read_text(encoding="utf-8"))
    for node in ast.walk(tree):
        if isinstance(node, ast.FunctionDef) and node.name == "list_fewshot_samples":
            returned = next(n for n in ast.walk(node) if isinstance(n, ast.Return))
            rows = ast.literal_eval(returned.value)
            return [{"problem": r["problem"], "solution": r["solution"]} for r in rows]
    raise GmrError(f"{path}: no list_fewshot_samples(); this lm-eval has no Minerva exemplars")
