"""Prompt datasets: a template rendered over the rows of one split.

Few-shot examples come from the dataset's ``train`` split (``dev`` where there is no
train, as in MMLU), drawn per row with a seeded generator, never the row itself, and
from the same ``subject`` when rows carry one.
"""

from __future__ import annotations

import random
from typing import Any

from gamermath import plugins
from gamermath.data.rows import load_rows
from gamermath.errors import GmrError
from gamermath.plugin_options import merge_options
from gamermath.recipe.schema import DataSpec

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


#: How a template with fixed exemplars picks ``k`` of them (``PromptTemplate.shot_draw``).
SHOT_DRAWS = ("per-row", "per-run", "first")


def draw_from_exemplars(
    rows: list[dict[str, Any]], exemplars: list[dict[str, Any]], k: int, seed: int, draw: str
) -> list[list[dict[str, Any]]]:
    """``k`` of a template's fixed exemplars for each row.

    ``per-row``: a seeded draw per row; ``per-run``: one seeded draw shared by every row;
    ``first``: the first ``k`` in their published order.
    """
    if k <= 0:
        return [[] for _ in rows]
    if k > len(exemplars):
        raise GmrError(f"only {len(exemplars)} exemplars available, {k} asked for")
    if draw not in SHOT_DRAWS:
        raise GmrError(f"unknown shot_draw '{draw}'; known: {', '.join(SHOT_DRAWS)}")
    rng = random.Random(seed)
    if draw == "per-row":
        return [rng.sample(exemplars, k) for _ in rows]
    shared = exemplars[:k] if draw == "first" else rng.sample(exemplars, k)
    return [list(shared) for _ in rows]


def render_prompts(spec: DataSpec, seed: int = 0) -> list[dict[str, Any]]:
    """Rows of ``spec.split`` with a ``prompt`` column rendered by ``spec.template``.

    ``spec.limit`` keeps the first N rows; ``spec.shots`` overrides the template's few-shot
    count; few-shot examples are drawn with ``seed``, from the template's own exemplars
    when it has some, else from the dataset's train (or dev) split.
    """
    template = plugins.get("template", spec.template)
    tmpl_options = merge_options("template", spec.template, template.options,
                                 spec.template_options)
    rows = load_rows(spec.dataset, spec.split, spec.data_dir, spec.options)
    if spec.limit is not None:
        rows = rows[: max(spec.limit, 0)]
    k = template.shots if spec.shots is None else spec.shots
    if template.exemplars:
        shot_lists = draw_from_exemplars(rows, [dict(e) for e in template.exemplars], k, seed,
                                         template.shot_draw)
    else:
        pool: list[dict[str, Any]] = []
        if k > 0:
            pool = load_rows(spec.dataset, fewshot_split(spec.dataset), spec.data_dir,
                             spec.options)
        shot_lists = draw_shots(rows, pool, k, seed)
    return [
        {"prompt": template.render(row, examples, tmpl_options), **row}
        for row, examples in zip(rows, shot_lists, strict=True)
    ]


def build_prompt_dataset(spec: DataSpec, seed: int = 0):
    """A ``datasets.Dataset`` with ``prompt`` (text or chat messages), ``answer`` and gold columns.

    The format TRL's ``GRPOTrainer`` takes.
    """
    import datasets

    return datasets.Dataset.from_list(render_prompts(spec, seed))
