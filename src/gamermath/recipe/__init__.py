"""Training recipes: a TOML file read once into a typed, validated ``Recipe``.

A recipe has the sections ``[model]``, ``[lora]``, ``[data]``, ``[[rewards]]``, an optional
``[sft]``, ``[grpo]``, ``[eval]`` and ``[run]`` (``gamermath.recipe.schema``). ``[grpo]`` and
``[sft]`` also take any field of the installed TRL's ``GRPOConfig``/``SFTConfig`` by its TRL
name, plus the aliases ``generations``, ``batch_size``, ``accumulation``, ``epochs``,
``steps`` and ``lr``. ``load_recipe`` takes a path or a shipped recipe's name. Every
mistake is one ``GmrError`` line naming the file and the key.
"""

from gamermath.recipe.loader import (
    apply_override,
    check_consistency,
    check_names,
    find_recipe,
    load_recipe,
    read_toml,
    tomllib,
)
from gamermath.recipe.schema import (
    ALIASES,
    GMR_TRL_DEFAULTS,
    MANAGED,
    DataSpec,
    EvalSpec,
    GrpoSpec,
    LoraSpec,
    ModelSpec,
    Recipe,
    RewardSpec,
    RunSpec,
    SftSpec,
)
from gamermath.recipe.toml_text import dump_toml

__all__ = [
    "ALIASES",
    "GMR_TRL_DEFAULTS",
    "MANAGED",
    "DataSpec",
    "EvalSpec",
    "GrpoSpec",
    "LoraSpec",
    "ModelSpec",
    "Recipe",
    "RewardSpec",
    "RunSpec",
    "SftSpec",
    "apply_override",
    "check_consistency",
    "check_names",
    "dump_toml",
    "load_recipe",
    "find_recipe",
    "read_toml",
    "tomllib",
]
