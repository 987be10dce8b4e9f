"""A tiny data directory in the original file formats, for tests and offline trials.

``write_sample_data(root)`` writes a handful of hand-written problems laid out exactly as
``--data-dir`` expects (``gsm8k/*.jsonl``, ``mmlu/{dev,test}/*.csv``,
``math500/test.jsonl``), so every reader runs without the real benchmarks.
"""

from __future__ import annotations

import csv
import json
from pathlib import Path

GSM8K = {
    "train": [
        (
            "Tom has 3 boxes with 4 pens each. How many pens does he have?",
            "Each box has 4 pens, so 3 boxes hold 3*4=<<3*4=12>>12 pens.\n#### 12",
        ),
        (
            "A shop sold 15 cakes in the morning and 9 in the afternoon. How many cakes?",
            "It sold 15+9=<<15+9=24>>24 cakes.\n#### 24",
        ),
        (
            "Mia reads 20 pages a day for 6 days. How many pages does she read?",
            "She reads 20*6=<<20*6=120>>120 pages.\n#### 120",
        ),
        (
            "A farm has 1,000 hens and buys 80 more. How many hens are there?",
            "There are 1000+80=<<1000+80=1080>>1080 hens.\n#### 1,080",
        ),
    ],
    "test": [
        (
            "Sam has 7 apples and eats 2. How many are left?",
            "He has 7-2=<<7-2=5>>5 apples left.\n#### 5",
        ),
        (
            "A bus carries 45 people on each of 24 trips. How many people ride in total?",
            "In total 45*24=<<45*24=1080>>1080 people ride.\n#### 1,080",
        ),
        (
            "Half of 18 birds fly away. How many stay?",
            "18/2=<<18/2=9>>9 birds fly away, so 18-9=<<18-9=9>>9 stay.\n#### 9",
        ),
    ],
}

MMLU = {
    ("test", "abstract_algebra"): [
        ["What is the order of the group Z_6?", "2", "3", "6", "12", "C"],
        ["Which set is a field under usual operations?", "Z", "Q", "N", "Z_4", "B"],
    ],
    ("test", "college_physics"): [
        [
            'A "point mass" moves in a circle, radius 2 m, speed 4 m/s. Its acceleration is',
            "2 m/s^2",
            "4 m/s^2",
            "8 m/s^2",
            "16 m/s^2",
            "C",
        ],
    ],
    ("dev", "abstract_algebra"): [
        ["The identity of (Z, +) is", "0", "1", "-1", "none", "A"],
    ],
    ("dev", "college_physics"): [
        ["Units of force, in base SI units, are", "kg m/s", "kg m/s^2", "kg/s", "m/s^2", "B"],
    ],
}

MATH500 = [
    {
        "problem": "Compute $2^{10}$.",
        "solution": "$2^{10} = \\boxed{1024}$.",
        "answer": "1024",
        "subject": "Algebra",
        "level": 1,
        "unique_id": "sample/algebra/1.json",
    },
    {
        "problem": "Simplify $\\frac{6}{8}$.",
        "solution": "Divide by 2: $\\boxed{\\frac{3}{4}}$.",
        "answer": "\\frac{3}{4}",
        "subject": "Prealgebra",
        "level": 1,
        "unique_id": "sample/prealgebra/2.json",
    },
]


def write_sample_data(root: str | Path) -> Path:
    """Write the sample files under ``root`` and return it."""
    root = Path(root)
    (root / "gsm8k").mkdir(parents=True, exist_ok=True)
    for split, rows in GSM8K.items():
        with open(root / "gsm8k" / f"{split}.jsonl", "w", encoding="utf-8") as handle:
            for question, answer in rows:
                handle.write(json.dumps({"question": question, "answer": answer}) + "\n")
    for (split, subject), rows in MMLU.items():
        folder = root / "mmlu" / split
        folder.mkdir(parents=True, exist_ok=True)
        with open(folder / f"{subject}_{split}.csv", "w", encoding="utf-8", newline="") as f:
            csv.writer(f).writerows(rows)
    (root / "math500").mkdir(parents=True, exist_ok=True)
    with open(root / "math500" / "test.jsonl", "w", encoding="utf-8") as handle:
        for row in MATH500:
            handle.write(json.dumps(row) + "\n")
    return root
