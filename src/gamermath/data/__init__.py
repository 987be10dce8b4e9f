"""Datasets as the engine and evaluations see them: rows, prompt datasets, SFT datasets.

``load_rows`` reads one split through the dataset registry (local files under
``--data-dir``/``$GMR_DATA_DIR`` first, then the hub); ``build_prompt_dataset`` renders a
prompt template over those rows for GRPO or evaluation; ``build_sft_dataset`` writes the
prompt-completion pairs of an SFT warm-up. ``datasets`` is imported only when a
``datasets.Dataset`` is built.
"""

from __future__ import annotations

from gamermath.data.prompts import build_prompt_dataset, render_prompts
from gamermath.data.rows import load_rows, resolve_data_dir
from gamermath.data.sft import build_sft_dataset, sft_pairs

__all__ = [
    "build_prompt_dataset",
    "build_sft_dataset",
    "load_rows",
    "render_prompts",
    "resolve_data_dir",
    "sft_pairs",
]
