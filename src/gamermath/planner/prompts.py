"""Prompt lengths from a recipe's own data: render a sample of real prompts and count them.

The count is in tokens when the model's tokenizer is available offline (a local directory
or the Hugging Face cache), else estimated as characters / 4. Generation pads a batch to its
longest prompt, so the planner takes the longest prompt of the sample.
"""

from __future__ import annotations

from dataclasses import dataclass, replace
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError

#: prompts rendered to measure a recipe's prompt length
SAMPLE_PROMPTS = 64
#: characters per token assumed without a tokenizer (English text, BPE vocabularies)
CHARS_PER_TOKEN = 4


@dataclass(frozen=True)
class PromptLengths:
    """The longest and mean prompt of a sample, and how they were counted."""

    longest: int
    mean: float
    prompts: int
    method: str  # "tokenizer" or "chars/4"

    def describe(self) -> str:
        how = "tokens, counted with the model's tokenizer" if self.method == "tokenizer" else \
            "tokens, estimated as characters / 4 (no tokenizer offline)"
        return (f"longest of {self.prompts} rendered prompts: {self.longest} {how} "
                f"(mean {self.mean:.0f})")


def offline_tokenizer(source: str) -> Any | None:
    """The model's tokenizer from a local directory or the Hugging Face cache, else None."""
    path = Path(source).expanduser()
    if not (path.is_dir() or "/" in source) or source.endswith(".gguf"):
        return None
    if not path.is_dir():
        try:
            from huggingface_hub import try_to_load_from_cache

            if not isinstance(try_to_load_from_cache(source, "tokenizer_config.json"), str):
                return None
        except Exception:  # not a repo id
            return None
    try:
        from transformers import AutoTokenizer

        return AutoTokenizer.from_pretrained(str(path) if path.is_dir() else source,
                                             local_files_only=True)
    except Exception:  # a cache without every tokenizer file: count characters instead
        return None


def _text(prompt: Any, tokenizer: Any, chat_kwargs: dict[str, Any]) -> str:
    if isinstance(prompt, str):
        return prompt
    if tokenizer is not None and getattr(tokenizer, "chat_template", None):
        return tokenizer.apply_chat_template(list(prompt), tokenize=False,
                                             add_generation_prompt=True, **chat_kwargs)
    return "\n".join(str(m.get("content", "")) for m in prompt)


def measure_prompts(recipe: Any, sample: int = SAMPLE_PROMPTS) -> PromptLengths:
    """Render the first ``sample`` training prompts of a recipe and count them.

    Raises ``GmrError`` when the data cannot be read (no data directory offline).
    """
    from gamermath.data.prompts import render_prompts

    spec = recipe.data
    limit = sample if spec.limit is None else min(sample, spec.limit)
    rows = render_prompts(replace(spec, limit=limit), seed=recipe.run.seed)
    if not rows:
        raise GmrError(f"{recipe.path}: [data] renders no prompts")
    tokenizer = offline_tokenizer(recipe.model.source)
    chat_kwargs = dict(recipe.grpo.trl.get("chat_template_kwargs") or {})
    texts = [_text(row["prompt"], tokenizer, chat_kwargs) for row in rows]
    if tokenizer is not None:
        counts = [len(tokenizer(t, add_special_tokens=False)["input_ids"]) for t in texts]
        method = "tokenizer"
    else:
        counts = [-(-len(t) // CHARS_PER_TOKEN) for t in texts]
        method = "chars/4"
    return PromptLengths(max(counts), sum(counts) / len(counts), len(counts), method)
