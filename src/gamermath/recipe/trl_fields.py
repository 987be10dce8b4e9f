"""The fields of the installed TRL's ``GRPOConfig`` and ``SFTConfig``: names, types, defaults.

A recipe's ``[grpo]`` and ``[sft]`` take any of these by TRL's name. They are read with
``dataclasses.fields`` from the classes themselves, so whatever TRL version is installed
decides; a TRL that cannot be imported, or a class with no fields, is an error, never an
empty list. Importing TRL costs seconds (it imports torch), so the table is kept as JSON in
``$GMR_CACHE_DIR/trl-fields/``, keyed by the TRL and transformers versions and the config
files' size and mtime: ``gmr recipe check`` stays instant after the first call.
"""

from __future__ import annotations

import dataclasses
import enum
import json
import math
import re
import types
import typing
from dataclasses import dataclass
from functools import cache
from importlib import metadata
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError

#: Recipe section -> TRL config class.
CLASSES = {"grpo": "GRPOConfig", "sft": "SFTConfig"}
_FILES = {"GRPOConfig": "trl/trainer/grpo_config.py", "SFTConfig": "trl/trainer/sft_config.py"}
_FORMAT = 2  # bump when the cached JSON layout or its derivation changes
_CHOICES_PHRASE = re.compile(
    r"(?:Supported values are|Supported options are|Must be one of)[: ]+([^.]*)", re.I
)
_QUOTED = re.compile(r"[`']+([A-Za-z0-9_\-]+)'")


@dataclass(frozen=True)
class TrlField:
    """One config field: admitted TOML types (None: any), default (``has_default``), choices."""

    name: str
    types: tuple[str, ...] | None
    default: Any = None
    has_default: bool = False
    choices: tuple[str, ...] | None = None
    doc: str = ""


def toml_types(hint: Any) -> tuple[tuple[str, ...] | None, tuple[str, ...] | None]:
    """``(types, choices)`` a Python type hint admits, in TOML terms (bool, int, float, ...)."""
    origin = typing.get_origin(hint)
    if origin in (typing.Union, types.UnionType):
        admitted: list[str] = []
        choices: list[str] = []
        for member in typing.get_args(hint):
            if member is type(None):
                continue
            kinds, values = toml_types(member)
            if kinds is None:
                return None, None
            admitted += [k for k in kinds if k not in admitted]
            choices += list(values or ())
        return tuple(admitted) or None, tuple(choices) or None
    if origin is typing.Literal:
        values = typing.get_args(hint)
        if all(isinstance(v, str) for v in values):
            return ("str",), tuple(values)
        return None, None
    base = origin or hint
    if isinstance(base, type) and issubclass(base, enum.Enum):
        return ("str",), tuple(str(m.value) for m in base)
    mapping = {bool: ("bool",), int: ("int",), float: ("float", "int"), str: ("str",),
               list: ("list",), tuple: ("list",), dict: ("table",)}
    return mapping.get(base), None


def toml_default(value: Any) -> tuple[bool, Any]:
    """``(representable, value)``: a default as TOML can hold it (enums by value)."""
    if isinstance(value, enum.Enum):
        value = value.value
    if value is None:
        return False, None
    if isinstance(value, float) and not math.isfinite(value):
        return False, None
    if isinstance(value, tuple):
        value = list(value)
    try:
        text = json.dumps(value, allow_nan=False)
    except (TypeError, ValueError):
        return False, None
    if "null" in text and isinstance(value, (list, dict)):
        return False, None
    return True, json.loads(text)


def help_choices(help_text: str, default: Any) -> tuple[str, ...] | None:
    """Values a string field's help lists as its only valid ones ("Supported values are 'a',
    'b' and 'c'"), kept only when the field's default is among them."""
    match = _CHOICES_PHRASE.search(help_text)
    if not match:
        return None
    values = tuple(dict.fromkeys(_QUOTED.findall(match.group(1))))
    if len(values) < 2 or default not in values:
        return None
    return values


def _read_class(class_name: str) -> dict[str, TrlField]:
    try:
        import trl

        cls = getattr(trl, class_name)
        hints = typing.get_type_hints(cls)
        fields = dataclasses.fields(cls)
    except Exception as exc:  # ImportError, AttributeError, NameError in a hint...
        detail = " ".join(f"{type(exc).__name__}: {exc}".split())
        raise GmrError(
            f"cannot read the fields of TRL's {class_name} ({detail}); a recipe's [grpo] and "
            "[sft] need an importable trl (pip install 'trl>=0.24')"
        ) from None
    table: dict[str, TrlField] = {}
    for f in fields:
        if f.name.startswith("_") or not f.init:
            continue
        kinds, choices = toml_types(hints.get(f.name, Any))
        if f.default is not dataclasses.MISSING:
            has, default = toml_default(f.default)
        elif f.default_factory is not dataclasses.MISSING:
            has, default = toml_default(f.default_factory())
        else:
            has, default = False, None
        doc = " ".join(str(f.metadata.get("help", "")).split())
        if choices is None and kinds == ("str",) and has:
            choices = help_choices(doc, default)
        table[f.name] = TrlField(f.name, kinds, default, has, choices, doc[:300])
    if not table:
        raise GmrError(f"TRL's {class_name} has no fields; is the installed trl broken?")
    return table


def stamp(class_name: str) -> str:
    """Versions and file stamps the cached table is valid for."""
    parts = [f"v{_FORMAT}"]
    for dist in ("trl", "transformers"):
        try:
            parts.append(f"{dist}-{metadata.version(dist)}")
        except metadata.PackageNotFoundError:
            parts.append(f"{dist}-none")
    try:
        located = Path(str(metadata.distribution("trl").locate_file(_FILES[class_name])))
        stat = located.stat()
        parts.append(f"{stat.st_size}-{int(stat.st_mtime)}")
    except (metadata.PackageNotFoundError, OSError):
        parts.append("nofile")
    return "_".join(parts)


def _cache_file(class_name: str) -> Path:
    from gamermath.models import default_cache_dir

    return default_cache_dir() / "trl-fields" / f"{class_name}_{stamp(class_name)}.json"


@cache
def trl_fields(section: str) -> dict[str, TrlField]:
    """The fields of the TRL config behind ``[grpo]`` or ``[sft]``, by name."""
    class_name = CLASSES[section]
    path = _cache_file(class_name)
    try:
        rows = json.loads(path.read_text(encoding="utf-8"))
        table = {
            r["name"]: TrlField(r["name"], tuple(r["types"]) if r["types"] else None,
                                r["default"], r["has_default"],
                                tuple(r["choices"]) if r["choices"] else None, r["doc"])
            for r in rows
        }
        if table:
            return table
    except (OSError, ValueError, KeyError, TypeError):
        pass
    table = _read_class(class_name)
    try:
        path.parent.mkdir(parents=True, exist_ok=True)
        tmp = path.with_suffix(".tmp")
        tmp.write_text(json.dumps([dataclasses.asdict(f) for f in table.values()]), "utf-8")
        tmp.replace(path)
    except OSError:  # a read-only cache: read TRL again next time
        pass
    return table


def trl_version() -> str:
    """The installed TRL version, for labelling TRL's defaults."""
    try:
        return metadata.version("trl")
    except metadata.PackageNotFoundError:
        return "?"
