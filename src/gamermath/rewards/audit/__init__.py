"""``gmr reward audit``: how often a reward's verdict is right, on a labelled set gmr ships.

``labelled.jsonl`` (written by ``gamermath.rewards.audit.build`` from the real GSM8K and
MATH-500 golds; every label is set by construction, see that module) holds rows with
``answer`` (the gold), ``completion``, ``label`` (1: the completion's marked final answer
equals the gold; 0: it does not, hedges or gives none), ``source`` and ``kind``.

A reward's verdict on a row is *positive* when it gives full marks (its ``output_range``
maximum); a sample that times out or fails counts as negative and as ``failed``. Each reward
is measured on the sources it is meant for (``DOMAINS``; by default all of them), beside two
references measured in the same run on the same rows: plain math-verify
(``verify(parse(gold), parse(completion))`` with its default configurations) and TRL's
``trl.rewards.accuracy_reward``. Both get the gold as ``$<gold>$`` (GSM8K's thousands
separators removed), as TRL's documentation shows; ``accuracy_reward`` returns None when it
cannot parse a gold, counted as negative and as ``skipped``.
"""

from __future__ import annotations

import json
import time
from collections.abc import Callable, Mapping, Sequence
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError

#: The shipped labelled set.
DATASET = Path(__file__).with_name("labelled.jsonl")
#: Keys every row must have.
REQUIRED = ("id", "source", "kind", "answer", "completion", "label")
#: Sources a reward is audited on (rewards not listed: every source).
DOMAINS: dict[str, tuple[str, ...]] = {"exact-answer": ("gsm8k",)}
#: Names of the two references.
MATH_VERIFY = "math-verify (plain)"
TRL_ACCURACY = "trl accuracy_reward"
#: Rows scored per runner call (progress updates between calls).
BATCH = 256


@dataclass
class Verdicts:
    """One scorer's verdicts on some rows of the set."""

    name: str
    rows: list[int]
    positive: list[bool]
    seconds: float = 0.0
    #: Rows that timed out or failed (with the detail), rows a reference could not score.
    failed: dict[int, str] = field(default_factory=dict)
    skipped: set[int] = field(default_factory=set)


@dataclass(frozen=True)
class Score:
    """Precision, recall and F1 of one scorer on one subset."""

    name: str
    subset: str
    rows: int
    tp: int
    fp: int
    fn: int
    tn: int
    failed: int
    skipped: int
    seconds: float

    @property
    def precision(self) -> float:
        return self.tp / (self.tp + self.fp) if self.tp + self.fp else 1.0

    @property
    def recall(self) -> float:
        return self.tp / (self.tp + self.fn) if self.tp + self.fn else 1.0

    @property
    def f1(self) -> float:
        p, r = self.precision, self.recall
        return 2 * p * r / (p + r) if p + r else 0.0


def load_set(path: Path | None = None) -> list[dict[str, Any]]:
    """The labelled rows; a malformed file is a one-line error naming ``file:line``."""
    path = Path(path) if path is not None else DATASET
    if not path.is_file():
        raise GmrError(f"labelled set {path} does not exist")
    rows: list[dict[str, Any]] = []
    with path.open("rb") as handle:
        for number, raw in enumerate(handle, start=1):
            try:
                line = raw.decode("utf-8")
                row = json.loads(line) if line.strip() else None
            except UnicodeDecodeError:
                raise GmrError(f"{path}:{number}: not UTF-8") from None
            except (json.JSONDecodeError, RecursionError):
                raise GmrError(f"{path}:{number}: not a JSON object") from None
            if row is None:
                continue
            if not isinstance(row, dict) or any(key not in row for key in REQUIRED):
                raise GmrError(f"{path}:{number}: a row needs {', '.join(REQUIRED)}")
            if row["label"] not in (0, 1) or not isinstance(row["completion"], str):
                raise GmrError(f"{path}:{number}: label must be 0 or 1, completion a string")
            rows.append(row)
    if not rows:
        raise GmrError(f"labelled set {path} has no rows")
    return rows


def domain_rows(name: str, rows: Sequence[Mapping[str, Any]]) -> list[int]:
    """Indices of the rows a reward is audited on."""
    sources = DOMAINS.get(name)
    return [i for i, row in enumerate(rows) if sources is None or row["source"] in sources]


def reference_gold(row: Mapping[str, Any]) -> str:
    """The gold as the references get it: ``$<gold>$``, GSM8K separators removed."""
    gold = str(row["answer"])
    return f"${gold.replace(',', '') if row['source'] == 'gsm8k' else gold}$"


Progress = Callable[[int], None]


def run_reward(
    runner: Any,
    reward: Any,
    rows: Sequence[Mapping[str, Any]],
    options: Mapping[str, Any] | None = None,
    progress: Progress | None = None,
) -> Verdicts:
    """A reward's verdicts on its domain rows, through ``runner`` (workers, timeouts)."""
    indices = domain_rows(reward.name, rows)
    high = reward.output_range[1]
    verdicts = Verdicts(reward.name, indices, [])
    started = time.perf_counter()
    for begin in range(0, len(indices), BATCH):
        chunk = indices[begin : begin + BATCH]
        results = runner.results(
            reward,
            [rows[i]["completion"] for i in chunk],
            [{c: rows[i][c] for c in reward.columns} for i in chunk],
            options,
        )
        for i, result in zip(chunk, results, strict=True):
            verdicts.positive.append(result.status == "ok" and result.reward >= high - 1e-9)
            if result.status != "ok":
                verdicts.failed[i] = f"{result.status}: {result.detail}"
        if progress:
            progress(len(chunk))
    verdicts.seconds = time.perf_counter() - started
    return verdicts


def run_math_verify(rows: Sequence[Mapping[str, Any]], progress: Progress | None = None):
    """Plain math-verify's verdicts on every row (default configurations and timeouts)."""
    from math_verify import parse, verify

    from gamermath.rewards.worker import quiet_math_verify

    quiet_math_verify()
    verdicts = Verdicts(MATH_VERIFY, list(range(len(rows))), [])
    started = time.perf_counter()
    for i, row in enumerate(rows):
        try:
            ok = bool(verify(parse(reference_gold(row)), parse(row["completion"])))
        except Exception as exc:  # math-verify raises on odd input: a failed verdict
            ok = False
            verdicts.failed[i] = f"{type(exc).__name__}: {exc}"
        verdicts.positive.append(ok)
        if progress:
            progress(1)
    verdicts.seconds = time.perf_counter() - started
    return verdicts


def run_trl_accuracy(rows: Sequence[Mapping[str, Any]], progress: Progress | None = None):
    """TRL's ``accuracy_reward`` verdicts on every row, in batches, in this thread."""
    from trl.rewards import accuracy_reward

    verdicts = Verdicts(TRL_ACCURACY, list(range(len(rows))), [])
    started = time.perf_counter()
    for begin in range(0, len(rows), BATCH):
        chunk = rows[begin : begin + BATCH]
        completions = [[{"role": "assistant", "content": r["completion"]}] for r in chunk]
        values = accuracy_reward(completions, [reference_gold(r) for r in chunk])
        for i, value in enumerate(values, start=begin):
            if value is None:
                verdicts.skipped.add(i)
            verdicts.positive.append(value is not None and value >= 1.0)
        if progress:
            progress(len(chunk))
    verdicts.seconds = time.perf_counter() - started
    return verdicts


#: Subsets reported, by the sources they hold.
SUBSETS: dict[str, tuple[str, ...] | None] = {
    "GSM8K": ("gsm8k",),
    "MATH-500": ("math500", "synthetic", "math500-written"),
    "MATH-500 written": ("math500-written",),
    "all": None,
}


def scores(verdicts: Verdicts, rows: Sequence[Mapping[str, Any]]) -> list[Score]:
    """A ``Score`` per subset the verdicts cover ("all" only when they span two subsets)."""
    out: list[Score] = []
    for subset, sources in SUBSETS.items():
        picked = [
            (i, positive) for i, positive in zip(verdicts.rows, verdicts.positive, strict=True)
            if sources is None or rows[i]["source"] in sources
        ]
        if not picked or (sources is None and len({s.subset for s in out}) < 2):
            continue
        counts = {"tp": 0, "fp": 0, "fn": 0, "tn": 0}
        for i, positive in picked:
            label = rows[i]["label"] == 1
            counts[("t" if positive == label else "f") + ("p" if positive else "n")] += 1
        out.append(Score(
            verdicts.name, subset, len(picked), **counts,
            failed=sum(i in verdicts.failed for i, _ in picked),
            skipped=sum(i in verdicts.skipped for i, _ in picked),
            seconds=verdicts.seconds * len(picked) / max(1, len(verdicts.rows)),
        ))
    return out


def misses(verdicts: Verdicts, rows: Sequence[Mapping[str, Any]]) -> list[dict[str, Any]]:
    """The rows a scorer got wrong: id, kind, label, verdict, detail."""
    return [
        {"scorer": verdicts.name, "id": rows[i]["id"], "kind": rows[i]["kind"],
         "label": rows[i]["label"], "verdict": int(positive),
         **({"detail": verdicts.failed[i]} if i in verdicts.failed else {})}
        for i, positive in zip(verdicts.rows, verdicts.positive, strict=True)
        if positive != (rows[i]["label"] == 1)
    ]
