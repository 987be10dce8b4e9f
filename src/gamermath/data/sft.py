"""SFT warm-up data: worked solutions rewritten into the template's completion format.

A dataset that supports SFT gives each row a ``reasoning`` column: its worked steps as
plain text (GSM8K's solution with the ``<<48/2=24>>`` calculator annotations and the
``#### N`` line removed; ``arith``'s ``12 + 7 = 19``). The template's
``completion_format`` option places it: ``chat-think`` writes
``<think>{reasoning}</think>\\n#### {answer}``. Thousands separators are dropped from the
final number (``1,080`` becomes ``1080``) so every target ends in a plain integer.
"""

from __future__ import annotations

from collections.abc import Mapping
from typing import Any

from gamermath import plugins
from gamermath.data.prompts import render_prompts
from gamermath.errors import GmrError
from gamermath.plugin_options import merge_options
from gamermath.recipe.schema import DataSpec


def completion_text(row: Mapping[str, Any], completion_format: str) -> str:
    """The target completion for one row with a ``reasoning`` column."""
    answer = str(row["answer"]).replace(",", "")
    return completion_format.format(reasoning=str(row["reasoning"]).strip(), answer=answer)


def sft_pairs(spec: DataSpec, seed: int = 0) -> list[dict[str, Any]]:
    """Prompt-completion rows (plain dicts) for SFT; chat templates give message lists."""
    template = plugins.get("template", spec.template)
    options = merge_options("template", spec.template, template.options, spec.template_options)
    completion_format = options.get("completion_format")
    if not completion_format:
        raise GmrError(
            f"template '{spec.template}' has no completion_format; it cannot build SFT data"
        )
    rows = render_prompts(spec, seed)
    if rows and "reasoning" not in rows[0]:
        raise GmrError(
            f"dataset '{spec.dataset}' has no 'reasoning' column, so it cannot build SFT data "
            "(gsm8k and arith can)"
        )
    pairs = []
    for row in rows:
        text = completion_text(row, completion_format)
        chat = isinstance(row["prompt"], list)
        completion = [{"role": "assistant", "content": text}] if chat else text
        pairs.append({"prompt": row["prompt"], "completion": completion, "answer": row["answer"]})
    return pairs


def build_sft_dataset(spec: DataSpec, seed: int = 0):
    """A ``datasets.Dataset`` in TRL SFTTrainer's prompt-completion format.

    Conversational when the template is a chat template: ``prompt`` is a message list and
    ``completion`` is ``[{"role": "assistant", "content": "<think>...</think>\\n#### N"}]``.
    """
    import datasets

    return datasets.Dataset.from_list(sft_pairs(spec, seed))
