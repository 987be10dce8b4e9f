"""The fields of TRL's ``GRPOConfig`` and ``SFTConfig``, read from their source without importing.

A recipe's ``[grpo]`` and ``[sft]`` sections accept any field of the matching TRL config.
Importing ``trl`` pulls in torch (seconds), and recipe validation must be instant, so the
field names and annotations are read from the installed files with ``ast``: the class, its
TRL base class and transformers' ``TrainingArguments``.
"""

from __future__ import annotations

import ast
import importlib.util
from functools import cache
from pathlib import Path

#: Where each config class lives: (package, file inside it, class name, base class name).
_CLASSES = {
    "TrainingArguments": ("transformers", "training_args.py", None),
    "_BaseConfig": ("trl", "trainer/base_config.py", "TrainingArguments"),
    "GRPOConfig": ("trl", "trainer/grpo_config.py", "_BaseConfig"),
    "SFTConfig": ("trl", "trainer/sft_config.py", "_BaseConfig"),
}


def _package_dir(package: str) -> Path | None:
    spec = importlib.util.find_spec(package)
    if spec is None or not spec.submodule_search_locations:
        return None
    return Path(list(spec.submodule_search_locations)[0])


def _own_fields(class_name: str) -> dict[str, str]:
    package, relative, _ = _CLASSES[class_name]
    root = _package_dir(package)
    if root is None or not (root / relative).is_file():
        return {}
    tree = ast.parse((root / relative).read_text(encoding="utf-8"))
    for node in tree.body:
        if isinstance(node, ast.ClassDef) and node.name == class_name:
            return {
                item.target.id: ast.unparse(item.annotation)
                for item in node.body
                if isinstance(item, ast.AnnAssign)
                and isinstance(item.target, ast.Name)
                and not item.target.id.startswith("_")
            }
    return {}


@cache
def config_fields(class_name: str) -> dict[str, str]:
    """``{field: annotation source}`` of ``GRPOConfig``/``SFTConfig`` including inherited ones."""
    fields: dict[str, str] = {}
    chain = []
    name: str | None = class_name
    while name is not None:
        chain.append(name)
        name = _CLASSES[name][2]
    for cls in reversed(chain):
        fields.update(_own_fields(cls))
    return fields


def annotation_types(annotation: str) -> tuple[type, ...] | None:
    """The TOML value types an annotation admits (None: anything, e.g. an enum or Any)."""
    text = annotation.replace(" ", "")
    for wrapper in ("Optional[", "Union["):
        if text.startswith(wrapper) and text.endswith("]"):
            text = text[len(wrapper) : -1].replace(",", "|")
    admitted: list[type] = []
    depth = 0
    part = ""
    parts = []
    for char in text:
        if char == "[":
            depth += 1
        elif char == "]":
            depth -= 1
        if char == "|" and depth == 0:
            parts.append(part)
            part = ""
        else:
            part += char
    parts.append(part)
    for piece in parts:
        base = piece.split("[", 1)[0].strip("'\"")
        if base == "None":
            continue
        mapped = {
            "bool": bool,
            "int": int,
            "float": float,
            "str": str,
            "list": list,
            "List": list,
            "tuple": list,
            "dict": dict,
            "Dict": dict,
        }.get(base)
        if mapped is None:
            return None  # an enum, a Literal, Any...: left to TRL to check
        admitted.append(mapped)
    return tuple(admitted) or None
