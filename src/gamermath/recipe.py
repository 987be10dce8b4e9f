"""Training recipes: a TOML file, its schema, defaults, ``--set`` overrides and validation.

A recipe has the sections ``[model]``, ``[lora]``, ``[data]``, ``[[rewards]]``, an optional
``[sft]``, ``[grpo]``, ``[eval]`` and ``[run]`` (see ``SCHEMA``). ``[grpo]`` and ``[sft]``
take any field of TRL's ``GRPOConfig``/``SFTConfig`` by its TRL name, plus a few friendly
aliases (``generations``, ``batch_size``, ``accumulation``, ``epochs``, ``steps``, ``lr``).

Everything is checked before torch loads: an unknown key names itself and its nearest
valid key, a wrong type names the key and the type expected, an unknown reward, dataset,
template or model source lists what is installed. Each problem is one ``GmrError`` line.
"""

from __future__ import annotations

import copy
import difflib
import json
import math
import sys
from collections.abc import Mapping
from dataclasses import dataclass
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.trl_fields import annotation_types, config_fields

if sys.version_info >= (3, 11):
    import tomllib
else:  # pragma: no cover
    import tomli as tomllib

ANY = None  # a field whose value type is not checked here

#: section -> key -> (admitted types, default). ``None`` default: unset.
SCHEMA: dict[str, dict[str, tuple[Any, Any]]] = {
    "model": {
        "source": ((str,), None),
        "dtype": ((str,), "auto"),
        "attention": ((str,), "auto"),
        "cache_dir": ((str,), None),
    },
    "lora": {
        "r": ((int,), 16),
        "alpha": ((int, float), 32),
        "dropout": ((float,), 0.0),
        "target_modules": ((list, str), ["q_proj", "k_proj", "v_proj", "o_proj"]),
        "bias": ((str,), "none"),
    },
    "data": {
        "dataset": ((str,), "gsm8k"),
        "split": ((str,), "train"),
        "template": ((str,), "chat-think"),
        "shots": ((int,), None),
        "data_dir": ((str,), None),
        "limit": ((int,), None),
        "options": ((dict,), {}),
        "template_options": ((dict,), {}),
    },
    "reward": {
        "name": ((str,), None),
        "weight": ((float,), 1.0),
        "options": ((dict,), {}),
        "gate": ((str,), None),
        "gate_threshold": ((float,), None),
        "label": ((str,), None),
    },
    "sft": {
        "enabled": ((bool,), True),
        "dataset": ((str,), None),
        "split": ((str,), "train"),
        "template": ((str,), None),
        "shots": ((int,), None),
        "limit": ((int,), None),
        "options": ((dict,), {}),
    },
    "grpo": {
        "max_prompt_length": ((int,), None),
    },
    "eval": {
        "heldout": ((int,), 48),
        "every": ((int,), 10),
        "split": ((str,), "test"),
        "max_new_tokens": ((int,), None),
        "batch_size": ((int,), 16),
        "alarm_window": ((int,), 3),
    },
    "run": {
        "name": ((str,), None),
        "output_dir": ((str,), None),
        "seed": ((int,), 0),
        "checkpoint_every": ((int,), 50),
        "completions_every": ((int,), 5),
        "completions_kept": ((int,), 8),
        "reward_workers": ((int,), None),
    },
}

SECTIONS = ("model", "lora", "data", "rewards", "sft", "grpo", "eval", "run")

#: Friendly names accepted in ``[grpo]`` and ``[sft]``, rewritten to TRL's field names.
ALIASES = {
    "generations": "num_generations",
    "batch_size": "per_device_train_batch_size",
    "accumulation": "gradient_accumulation_steps",
    "epochs": "num_train_epochs",
    "steps": "max_steps",
    "lr": "learning_rate",
}

#: TRL fields the engine sets from ``[run]``; a recipe may not set them in ``[grpo]``/``[sft]``.
MANAGED = {
    "output_dir": "[run].output_dir",
    "seed": "[run].seed",
    "save_steps": "[run].checkpoint_every",
    "save_strategy": "[run].checkpoint_every",
    "resume_from_checkpoint": "gmr train --resume",
    "reward_weights": "[[rewards]] weight",
}

#: Defaults the engine gives TRL fields unless the recipe sets them.
TRL_DEFAULTS: dict[str, dict[str, Any]] = {
    "sft": {
        "learning_rate": 2e-4,
        "num_train_epochs": 1.0,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "logging_steps": 1,
        "report_to": "none",
    },
    "grpo": {
        "learning_rate": 1e-5,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "num_generations": 8,
        "max_completion_length": 256,
        "num_train_epochs": 1.0,
        "logging_steps": 1,
        "report_to": "none",
    },
}

TRL_CLASS = {"grpo": "GRPOConfig", "sft": "SFTConfig"}


def type_name(types: tuple[type, ...] | None) -> str:
    """``float``, ``integer``, ``string or list``... for error messages."""
    names = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
             dict: "table"}
    return " or ".join(names[t] for t in types) if types else "any value"


def type_ok(value: Any, types: tuple[type, ...] | None) -> bool:
    """Whether a TOML value fits: an integer fits a float field, a bool fits only bool."""
    if types is None:
        return True
    if isinstance(value, bool):
        return bool in types
    if isinstance(value, int) and float in types:
        return True
    return isinstance(value, tuple(types))


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def section_fields(section: str) -> dict[str, tuple[type, ...] | None]:
    """Valid keys of a section and their types (TRL sections include the config's fields)."""
    fields = {key: types for key, (types, _) in SCHEMA[section].items()}
    if section in TRL_CLASS:
        for key, annotation in config_fields(TRL_CLASS[section]).items():
            fields.setdefault(key, annotation_types(annotation))
    return fields


@dataclass
class Recipe:
    """A validated recipe: the resolved sections as plain TOML-like data."""

    path: Path
    data: dict[str, Any]

    def __getitem__(self, section: str) -> Any:
        return self.data[section]

    @property
    def name(self) -> str:
        return str(self.data["run"]["name"])

    @property
    def sft_enabled(self) -> bool:
        return bool(self.data.get("sft", {}).get("enabled", False))

    def trl_args(self, section: str) -> dict[str, Any]:
        """The TRL config fields of ``[grpo]``/``[sft]`` (our own keys removed)."""
        own = set(SCHEMA[section])
        return {k: v for k, v in self.data[section].items() if k not in own}

    def to_toml(self) -> str:
        """The resolved recipe as TOML text."""
        return dump_toml(self.data)


# -- loading -----------------------------------------------------------------------------------


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a TOML file; a missing file or a syntax error is one line naming the file."""
    path = Path(path)
    if not path.is_file():
        raise GmrError(f"{path}: no such recipe file")
    try:
        return tomllib.loads(path.read_text(encoding="utf-8"))
    except tomllib.TOMLDecodeError as exc:
        raise GmrError(f"{path}: not valid TOML: {exc}") from None


def load_recipe(
    path: str | Path, overrides: list[str] | tuple[str, ...] = (), check_plugins: bool = True
) -> Recipe:
    """Read, override (``section.key=value``), fill defaults and validate a recipe."""
    path = Path(path)
    raw = read_toml(path)
    for item in overrides:
        apply_override(raw, item, str(path))
    data = resolve(raw, str(path))
    if not data["run"]["name"]:
        data["run"]["name"] = path.stem
    if not data["run"]["output_dir"]:
        data["run"]["output_dir"] = str(Path("runs") / data["run"]["name"])
    recipe = Recipe(path=path, data=data)
    check_consistency(recipe)
    if check_plugins:
        check_names(recipe)
    return recipe


def _check_table(where: str, table: Any, section: str, path: str) -> dict[str, Any]:
    if not isinstance(table, dict):
        raise GmrError(f"{path}: [{section}] must be a table, got {type(table).__name__}")
    fields = section_fields(section)
    out: dict[str, Any] = {}
    for key, value in table.items():
        canonical = ALIASES.get(key, key) if section in TRL_CLASS else key
        if canonical not in fields:
            raise GmrError(
                f"{path}: unknown key {where}.{key}{_suggest(key, sorted(fields))}"
            )
        if canonical in MANAGED and section in TRL_CLASS:
            raise GmrError(f"{path}: {where}.{key} is set by the engine; use {MANAGED[canonical]}")
        types = fields[canonical]
        if not type_ok(value, types):
            expected = type_name(types)
            article = "an" if expected[0] in "aeiou" else "a"
            raise GmrError(
                f"{path}: {where}.{key} must be {article} {expected}, got {_describe(value)}"
            )
        if isinstance(value, int) and not isinstance(value, bool) and types == (float,):
            value = float(value)
        out[canonical] = value
    return out


def _describe(value: Any) -> str:
    kind = type(value)
    name = type_name((kind,)) if kind in (bool, int, float, str, list, dict) else kind.__name__
    return f"{name} {json.dumps(value, default=str)[:40]}"


def resolve(raw: Mapping[str, Any], path: str) -> dict[str, Any]:
    """Validate keys and types and fill in defaults."""
    for section in raw:
        if section not in SECTIONS:
            hint = _suggest(section, list(SECTIONS))
            raise GmrError(f"{path}: unknown section [{section}]{hint}")
    data: dict[str, Any] = {}
    for section in SECTIONS:
        if section == "rewards":
            continue
        given = raw.get(section)
        if section == "sft" and given is None:
            data["sft"] = {"enabled": False}
            continue
        checked = _check_table(f"[{section}]", given or {}, section, path)
        merged = {k: copy.deepcopy(d) for k, (_, d) in SCHEMA[section].items()}
        if section in TRL_DEFAULTS:
            merged.update(copy.deepcopy(TRL_DEFAULTS[section]))
        merged.update(checked)
        data[section] = merged
    rewards = raw.get("rewards")
    if not isinstance(rewards, list) or not rewards:
        raise GmrError(f"{path}: no [[rewards]]; add at least one, e.g. name = \"exact-answer\"")
    data["rewards"] = []
    for index, table in enumerate(rewards):
        checked = _check_table(f"[[rewards]] #{index + 1}", table, "reward", path)
        if not checked.get("name"):
            raise GmrError(f"{path}: [[rewards]] #{index + 1} has no name")
        merged = {k: copy.deepcopy(d) for k, (_, d) in SCHEMA["reward"].items()}
        merged.update(checked)
        merged["label"] = merged["label"] or merged["name"]
        data["rewards"].append(merged)
    if not data["model"]["source"]:
        raise GmrError(f"{path}: [model].source is required (a hub id, a directory, pkg:NAME...)")
    return data


def check_consistency(recipe: Recipe) -> None:
    """Numbers that must agree, e.g. the GRPO generation batch and the generation count."""
    path = str(recipe.path)
    grpo = recipe["grpo"]
    gens = int(grpo.get("num_generations") or 8)
    batch = int(grpo.get("per_device_train_batch_size", 8))
    steps_per_generation = grpo.get("steps_per_generation") or grpo.get(
        "gradient_accumulation_steps", 1
    )
    generation_batch = grpo.get("generation_batch_size") or batch * int(steps_per_generation)
    if gens < 2:
        raise GmrError(f"{path}: [grpo].num_generations must be at least 2, got {gens}")
    if generation_batch % gens:
        raise GmrError(
            f"{path}: the GRPO generation batch ({generation_batch} completions = "
            f"per_device_train_batch_size x gradient_accumulation_steps) must be divisible by "
            f"num_generations ({gens})"
        )
    for section, key in (("eval", "every"), ("run", "checkpoint_every"),
                         ("run", "completions_every")):
        if recipe[section][key] is not None and recipe[section][key] < 1:
            raise GmrError(f"{path}: [{section}].{key} must be at least 1")
    labels = [r["label"] for r in recipe["rewards"]]
    for label in labels:
        if labels.count(label) > 1:
            raise GmrError(f"{path}: reward label '{label}' is used twice; set label = ...")


def check_names(recipe: Recipe) -> None:
    """Every plugin-provided name in the recipe exists (rewards, datasets, templates, model)."""
    from gamermath import plugins
    from gamermath.data.rows import merge_options
    from gamermath.models import find_source
    from gamermath.rewards.terms import resolve_rewards

    resolve_rewards(reward_terms(recipe))
    data = recipe["data"]
    uses = [(data["dataset"], data["template"], data["options"], data["template_options"])]
    if recipe.sft_enabled:
        sft = recipe["sft"]
        uses.append((sft["dataset"] or data["dataset"], sft["template"] or data["template"],
                     sft["options"] or data["options"], {}))
    for dataset, template, options, template_options in uses:
        spec = plugins.get("dataset", dataset)
        merge_options("dataset", dataset, spec.options, options)
        tmpl = plugins.get("template", template)
        merge_options("template", template, tmpl.options, template_options)
    for split in (data["split"], recipe["eval"]["split"]):
        spec = plugins.get("dataset", data["dataset"])
        if split not in spec.splits:
            raise GmrError(
                f"{recipe.path}: dataset '{data['dataset']}' has no split '{split}'; "
                f"splits: {', '.join(spec.splits)}"
            )
    find_source(str(recipe["model"]["source"]))


def reward_terms(recipe: Recipe) -> list:
    """The recipe's ``[[rewards]]`` as ``RewardTerm`` objects."""
    from gamermath.rewards.terms import RewardTerm

    return [
        RewardTerm(
            name=r["name"],
            weight=float(r["weight"]),
            options=dict(r["options"]),
            gate=r["gate"],
            gate_threshold=r["gate_threshold"],
            label=r["label"],
        )
        for r in recipe["rewards"]
    ]


# -- overrides ---------------------------------------------------------------------------------


def parse_value(text: str, types: tuple[type, ...] | None) -> Any:
    """A ``--set`` value typed by the schema: TOML syntax first, else the raw string."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    if types is not None and str in types and not type_ok(value, types):
        return text
    if types == (bool,) and isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return lowered in ("true", "yes", "1", "on")
    return value


def apply_override(raw: dict[str, Any], item: str, path: str) -> None:
    """Apply ``section.key=value`` (or ``rewards.LABEL.key=value``) to the raw recipe."""
    target, sep, text = item.partition("=")
    parts = target.strip().split(".")
    if not sep or len(parts) < 2:
        raise GmrError(f"--set expects SECTION.KEY=VALUE, got '{item}'")
    section = parts[0]
    if section == "rewards":
        if len(parts) != 3:
            raise GmrError(f"--set rewards.LABEL.KEY=VALUE expected, got '{item}'")
        label, key = parts[1], parts[2]
        for table in raw.get("rewards", []):
            if table.get("label", table.get("name")) == label:
                types = SCHEMA["reward"].get(key, (ANY, None))[0]
                table[key] = parse_value(text, types)
                return
        labels = [t.get("label", t.get("name")) for t in raw.get("rewards", [])]
        raise GmrError(f"--set {target}: no reward labelled '{label}' (labels: {labels})")
    if section not in SECTIONS:
        hint = _suggest(section, list(SECTIONS))
        raise GmrError(f"--set {target}: unknown section '{section}'{hint}")
    key = ".".join(parts[1:])
    fields = section_fields(section)
    canonical = ALIASES.get(key, key) if section in TRL_CLASS else key
    types = fields.get(canonical, ANY)
    raw.setdefault(section, {})[key] = parse_value(text.strip(), types)


# -- TOML output -------------------------------------------------------------------------------


def _toml_value(value: Any) -> str:
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
        return "[" + ", ".join(_toml_value(v) for v in value) + "]"
    if isinstance(value, dict):
        inner = ", ".join(f"{_toml_key(k)} = {_toml_value(v)}" for k, v in value.items())
        return "{" + (f" {inner} " if inner else "") + "}"
    return json.dumps(str(value))


def _toml_key(key: str) -> str:
    return key if key.replace("_", "").replace("-", "").isalnum() else json.dumps(key)


def dump_toml(data: Mapping[str, Any]) -> str:
    """TOML text for a resolved recipe; unset (None) values are written as comments."""
    lines: list[str] = []
    for section in SECTIONS:
        if section not in data:
            continue
        tables = data[section] if section == "rewards" else [data[section]]
        for table in tables:
            lines.append(f"[[{section}]]" if section == "rewards" else f"[{section}]")
            for key, value in table.items():
                if value is None:
                    lines.append(f"# {key} = (unset)")
                else:
                    lines.append(f"{_toml_key(key)} = {_toml_value(value)}")
            lines.append("")
    return "\n".join(lines)
