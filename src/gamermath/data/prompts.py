"""Prompt datasets: a template rendered over the rows of one split.

Few-shot examples come from the dataset's ``train`` split (``dev`` where there is no
train, as in MMLU), drawn per row with a seeded generator, never the row itself, and
from the same ``subject`` when rows carry one.
"""

from __future__ import annotations

import random
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gamermath import plugins
from gamermath.data.rows import load_rows, merge_options
from gamermath.errors import GmrError

FEWSHOT_SPLITS = ("train", "dev")


def fewshot_split(dataset: str) -> str:
    """The split few-shot examples are drawn from, or a one-line error if there is none."""
    spec = plugins.get("dataset", dataset)
    for split in FEWSHOT_SPLITS:
        if split in spec.splits:
            return split
    raise GmrError(
        f"dataset '{dataset}' has no train or dev split to draw few-shot examples from; "
        "use shots=0 or a zero-shot template"
    )


def draw_shots(
    rows: list[dict[str, Any]], pool: list[dict[str, Any]], k: int, seed: int
) -> list[list[dict[str, Any]]]:
    """``k`` examples per row from ``pool``: seeded, same subject when known, never the row."""
    if k <= 0:
        return [[] for _ in rows]
    rng = random.Random(seed)
    by_subject: dict[Any, list[dict[str, Any]]] = {}
    for example in pool:
        by_subject.setdefault(example.get("subject"), []).append(example)
    drawn = []
    for row in rows:
        candidates = by_subject.get(row.get("subject"), pool) if "subject" in row else pool
        candidates = [c for c in candidates if c["question"] != row["question"]]
        if len(candidates) < k:
            raise GmrError(f"only {len(candidates)} few-shot examples available, {k} asked for")
        drawn.append(rng.sample(candidates, k))
    return drawn


def render_prompts(
    dataset: str,
    split: str,
    template: str,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    shots: int | None = None,
    options: Mapping[str, Any] | None = None,
    template_options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """Rows of one split with a ``prompt`` column rendered by ``template`` (plain dicts)."""
    spec = plugins.get("template", template)
    tmpl_options = merge_options("template", template, spec.options, template_options)
    rows = load_rows(dataset, split, data_dir, options)
    if limit is not None:
        rows = rows[: max(limit, 0)]
    k = spec.shots if shots is None else shots
    pool: list[dict[str, Any]] = []
    if k > 0:
        pool = load_rows(dataset, fewshot_split(dataset), data_dir, options)
    shot_lists = draw_shots(rows, pool, k, seed)
    return [
        {"prompt": spec.render(row, examples, tmpl_options), **row}
        for row, examples in zip(rows, shot_lists, strict=True)
    ]


def build_prompt_dataset(
    dataset: str,
    split: str,
    template: str,
    data_dir: str | Path | None = None,
    limit: int | None = None,
    seed: int = 0,
    shots: int | None = None,
    options: Mapping[str, Any] | None = None,
    template_options: Mapping[str, Any] | None = None,
):
    """A ``datasets.Dataset`` with ``prompt`` (text or chat messages), ``answer`` and gold columns.

    The format TRL's ``GRPOTrainer`` takes; ``shots`` overrides the template's default.
    """
    import datasets

    rows = render_prompts(
        dataset, split, template, data_dir, limit, seed, shots, options, template_options
    )
    return datasets.Dataset.from_list(rows)
