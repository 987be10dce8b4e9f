"""``[grpo] preset``: a named group of one-GPU speed and memory switches.

A preset fills TRL ``GRPOConfig`` fields that the recipe leaves unset; a value the recipe
(or ``--set``) gives always wins. The filled values are ordinary resolved TRL values: the
engine, ``gmr plan`` and the saved ``recipe.toml`` see them like any other, labelled
``# preset NAME`` by ``gmr recipe show``. Every key is TRL 1.16's own name.
"""

from __future__ import annotations

from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any


@dataclass(frozen=True)
class Preset:
    name: str
    summary: str
    values: Mapping[str, Any]


PRESETS: dict[str, Preset] = {
    p.name: p
    for p in (
        Preset(
            "vllm-colocate",
            "vLLM generates the rollouts in the training process and sleeps (frees its weights "
            "and KV cache) while the model trains; CUDA, gamermath[vllm]",
            {
                "use_vllm": True,
                "vllm_mode": "colocate",
                "vllm_enable_sleep_mode": True,
                "gradient_checkpointing": True,
            },
        ),
        Preset(
            "paged",
            "transformers continuous batching (a paged KV cache, no padding) for the rollouts",
            {
                "use_transformers_continuous_batching": True,
                "gradient_checkpointing": True,
            },
        ),
        Preset(
            "low-memory",
            "checkpointed layer inputs offloaded to pinned host memory (slower steps); CUDA",
            {
                "gradient_checkpointing": True,
                "gradient_checkpointing_kwargs": {"offload": True},
            },
        ),
    )
}


def _short(value: Any) -> str:
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, Mapping):
        return "{" + ", ".join(f"{k} = {_short(v)}" for k, v in value.items()) + "}"
    return f'"{value}"' if isinstance(value, str) else str(value)


def preset_doc() -> str:
    """The ``[grpo].preset`` doc line: each preset and the TRL fields it sets."""
    parts = []
    for preset in PRESETS.values():
        keys = ", ".join(f"{k} = {_short(v)}" for k, v in preset.values.items())
        parts.append(f"{preset.name}: {keys} ({preset.summary})")
    return ("one-GPU speed/memory switches filling the [grpo] fields the recipe leaves unset; "
            + "; ".join(parts))


def apply_preset(
    name: str | None, given: dict[str, Any], origins: dict[str, str], section: str = "grpo"
) -> dict[str, Any]:
    """``given`` TRL values plus the preset's values for fields not given (origins noted)."""
    if not name:
        return given
    out = dict(given)
    for key, value in PRESETS[name].values.items():
        if key in out:
            continue
        out[key] = value
        origins[f"{section}.{key}"] = f"preset {name}"
    return out
