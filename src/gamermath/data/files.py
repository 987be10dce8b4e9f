"""Readers for benchmark files in their original formats, with errors that name file and line.

GSM8K and MATH-500 ship as JSON Lines; MMLU as header-less CSVs (question, A, B, C, D,
answer letter). A malformed row raises a one-line ``GmrError`` naming ``file:line``.
"""

from __future__ import annotations

import csv
import json
from collections.abc import Iterator, Sequence
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError


def read_jsonl(path: Path, required: Sequence[str]) -> list[dict[str, Any]]:
    """Every object in a JSON Lines file; each must hold the ``required`` keys."""
    rows: list[dict[str, Any]] = []
    with open(path, "rb") as handle:
        for lineno, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
            except UnicodeDecodeError as exc:
                raise GmrError(f"{path}:{lineno}: not UTF-8 (byte {exc.start + 1})") from None
            if not line.strip():
                continue
            try:
                row = json.loads(line)
            except json.JSONDecodeError as exc:
                raise GmrError(f"{path}:{lineno}: not valid JSON ({exc.msg})") from None
            except RecursionError:
                raise GmrError(f"{path}:{lineno}: JSON nested too deeply") from None
            if not isinstance(row, dict):
                raise GmrError(f"{path}:{lineno}: expected a JSON object per line")
            missing = [key for key in required if key not in row]
            if missing:
                raise GmrError(f"{path}:{lineno}: missing key '{missing[0]}'")
            row["_line"] = lineno
            rows.append(row)
    return rows


def iter_csv(path: Path, columns: int) -> Iterator[tuple[int, list[str]]]:
    """``(line, fields)`` for each record of a header-less CSV with exactly ``columns`` fields."""
    with open(path, encoding="utf-8", newline="") as handle:
        reader = csv.reader(handle)
        start = 1
        while True:
            try:
                fields = next(reader)
            except StopIteration:
                return
            except csv.Error as exc:
                raise GmrError(f"{path}:{start}: bad CSV ({exc})") from None
            if fields and len(fields) != columns:
                raise GmrError(f"{path}:{start}: expected {columns} columns, found {len(fields)}")
            if fields:
                yield start, fields
            start = reader.line_num + 1
