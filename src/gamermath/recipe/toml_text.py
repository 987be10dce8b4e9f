"""A resolved recipe as TOML text: what ``gmr recipe show`` prints and a run saves.

Every value is written, TRL's own defaults included, so a run directory's ``recipe.toml``
records what the run used; with ``annotate`` each value not taken from the recipe file says
where it came from (``# gmr default``, ``# TRL 1.16.0 default``, ``# --set``). Reading the
text back gives the same recipe.
"""

from __future__ import annotations

import json
import math
from collections.abc import Mapping
from typing import Any


def toml_value(value: Any) -> str:
    """One TOML value (inline tables and arrays for nested data)."""
    if isinstance(value, bool):
        return "true" if value else "false"
    if isinstance(value, int):
        return str(value)
    if isinstance(value, float):
        if math.isinf(value):
            return "inf" if value > 0 else "-inf"
        if math.isnan(value):
            return "nan"
        return repr(value)
    if isinstance(value, str):
        return json.dumps(value, ensure_ascii=False)
    if isinstance(value, (list, tuple)):
        return "[" + ", ".join(toml_value(v) for v in value) + "]"
    if isinstance(value, dict) or hasattr(value, "items"):
        inner = ", ".join(f"{toml_key(k)} = {toml_value(v)}" for k, v in value.items())
        return "{" + (f" {inner} " if inner else "") + "}"
    return json.dumps(str(value))


def toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def dump_toml(data: Mapping[str, Any]) -> str:
    """Plain recipe-shaped data as TOML: a table per section, ``[[rewards]]`` per list item
    (for scripts that write a recipe file)."""
    lines: list[str] = []
    for section, value in data.items():
        tables = value if isinstance(value, list) else [value]
        for table in tables:
            lines.append(f"[[{section}]]" if isinstance(value, list) else f"[{section}]")
            lines += [f"{toml_key(k)} = {toml_value(v)}" for k, v in table.items()
                      if v is not None]
            lines.append("")
    return "\n".join(lines)


def dump_recipe(recipe: Any, annotate: bool = False) -> str:
    """TOML text for a resolved ``Recipe`` (its ``tables()`` and ``origins``); unset values
    are comments."""
    lines: list[str] = []
    for section, table in recipe.tables():
        prefix = f"rewards.{table['label']}" if section == "rewards" else section
        lines.append("[[rewards]]" if section == "rewards" else f"[{section}]")
        for key, value in table.items():
            if value is None:
                lines.append(f"# {key} = (unset)")
                continue
            line = f"{toml_key(key)} = {toml_value(value)}"
            origin = recipe.origins.get(f"{prefix}.{key}")
            if annotate and origin and origin != "recipe":
                line = f"{line}  # {origin}"
            lines.append(line)
        lines.append("")
    return "\n".join(lines)
