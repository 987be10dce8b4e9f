"""Read a recipe file once: parse, apply ``--set``, check keys, types and values, build.

Every problem is one ``GmrError`` line that starts with the file and names the key:

    r.toml: unknown key [grpo].learnig_rate; did you mean learning_rate?
    r.toml: [lora].dropout must be in [0, 1), got 1.5
    r.toml: [[rewards]] #2 (format).options.regex is not a valid regular expression (...)

Nothing here imports torch: TRL's field table comes from ``trl_fields`` (cached on disk).
"""

from __future__ import annotations

import difflib
import json
import math
import tomllib
import typing
from collections.abc import Iterator, Mapping
from contextlib import contextmanager
from dataclasses import replace
from functools import cache
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.recipe.fields import TRL_CHECKS
from gamermath.recipe.presets import apply_preset
from gamermath.recipe.schema import (
    ALIASES,
    GMR_TRL_DEFAULTS,
    MANAGED,
    SECTIONS,
    TRL_SECTIONS,
    Recipe,
    RewardSpec,
    RunSpec,
    canonical_key,
    own_fields,
    reward_mix_problems,
)
from gamermath.recipe.shape import generation_batch
from gamermath.recipe.trl_fields import toml_types, trl_fields, trl_version

_TYPE_WORDS = {"bool": "boolean", "int": "integer", "float": "number", "str": "string",
               "list": "list", "table": "table"}

ORIGIN_RECIPE = "recipe"
ORIGIN_SET = "--set"
ORIGIN_GMR = "gmr default"


def trl_origin() -> str:
    return f"TRL {trl_version()} default"


# -- reading -----------------------------------------------------------------------------------


def find_recipe(name: str | Path) -> Path:
    """A recipe path: an existing path, else a recipe shipped in ``gamermath.recipes`` by
    name (``youronmath-paper`` or ``youronmath-paper.toml``), else ``name`` unchanged (for
    ``read_toml`` to report)."""
    path = Path(name).expanduser()
    if path.exists():
        return path
    from importlib import resources

    shipped = resources.files("gamermath.recipes")
    for candidate in (str(name), f"{name}.toml"):
        entry = shipped / candidate
        if entry.is_file():
            return Path(str(entry))
    return path


def read_toml(path: str | Path) -> dict[str, Any]:
    """Parse a recipe file; a missing file, bad UTF-8 or bad TOML is one line naming the file."""
    path = Path(path)
    if path.is_dir():
        raise GmrError(f"{path}: is a directory, not a recipe file")
    if not path.is_file():
        raise GmrError(f"{path}: recipe does not exist (give a .toml file or the name of a "
                       "shipped recipe, e.g. youronmath-paper)")
    try:
        raw = path.read_bytes()
    except OSError as exc:
        raise GmrError(f"{path}: cannot read the recipe ({exc.strerror})") from None
    try:
        text = raw.decode("utf-8")
    except UnicodeDecodeError as exc:
        line = raw[: exc.start].count(b"\n") + 1
        raise GmrError(f"{path}: line {line}: not valid UTF-8 (byte {exc.start})") from None
    try:
        return tomllib.loads(text)
    except tomllib.TOMLDecodeError as exc:
        raise GmrError(f"{path}: not valid TOML: {' '.join(str(exc).split())}") from None


def load_recipe(
    path: str | Path, overrides: list[str] | tuple[str, ...] = (), check_plugins: bool = True
) -> Recipe:
    """Read, override (``section.key=value``), validate and build a recipe.

    ``path`` may also name a shipped recipe (``youronmath-paper``). ``check_plugins`` also
    checks every plugin-provided name (rewards, datasets,
    templates, the model source) and the columns each reward needs.
    """
    path = find_recipe(path)
    raw = read_toml(path)
    origins: dict[str, str] = {}
    for item in overrides:
        apply_override(raw, item, str(path), origins)
    recipe = build(raw, path, origins)
    check_consistency(recipe)
    if check_plugins:
        check_names(recipe)
    return recipe


# -- building ----------------------------------------------------------------------------------


class _Where:
    """Error prefixes: ``r.toml: [grpo].beta``."""

    def __init__(self, path: Path) -> None:
        self.path = path

    def fail(self, where: str, problem: str) -> GmrError:
        return GmrError(f"{self.path}: {where} {problem}")


def _suggest(key: str, valid: list[str]) -> str:
    close = difflib.get_close_matches(key, valid, n=1, cutoff=0.6)
    return f"; did you mean {close[0]}?" if close else ""


def _describe(value: Any) -> str:
    kind = {bool: "boolean", int: "integer", float: "number", str: "string", list: "list",
            dict: "table"}.get(type(value), type(value).__name__)
    return f"{kind} {json.dumps(value, default=str)[:40]}"


def _type_ok(value: Any, kinds: tuple[str, ...] | None) -> bool:
    if kinds is None:
        return True
    if isinstance(value, bool):
        return "bool" in kinds
    if isinstance(value, int):
        return "int" in kinds or "float" in kinds
    if isinstance(value, float):
        return "float" in kinds
    if isinstance(value, str):
        return "str" in kinds
    if isinstance(value, list):
        return "list" in kinds
    if isinstance(value, dict):
        return "table" in kinds
    return False


def _expect(kinds: tuple[str, ...]) -> str:
    words = " or ".join(_TYPE_WORDS[k] for k in kinds if not (k == "int" and "float" in kinds))
    return ("an " if words[0] in "aeiou" else "a ") + words


def find_non_finite(value: Any, where: str) -> str | None:
    """The dotted place of the first NaN or infinity inside ``value``, if any."""
    if isinstance(value, float) and not math.isfinite(value):
        return where
    if isinstance(value, dict):
        for key, inner in value.items():
            found = find_non_finite(inner, f"{where}.{key}")
            if found:
                return found
    if isinstance(value, list):
        for index, inner in enumerate(value):
            found = find_non_finite(inner, f"{where}[{index}]")
            if found:
                return found
    return None


def _own_value(w: _Where, where: str, cls: type, f, value: Any) -> Any:
    """Check one gmr key: type, list items, choices, value check."""
    kinds = own_kinds(cls)[f.name]
    if not _type_ok(value, kinds):
        raise w.fail(where, f"must be {_expect(kinds)}, got {_describe(value)}")
    if isinstance(value, int) and not isinstance(value, bool) and kinds and kinds[0] == "float":
        value = float(value)
    if isinstance(value, list) and not all(isinstance(v, str) for v in value):
        raise w.fail(where, "must be a list of strings")
    return _check_value(w, where, value, f.metadata.get("choices"), f.metadata.get("check"))


def _check_value(w: _Where, where: str, value: Any, choices, check) -> Any:
    if isinstance(value, float) and not math.isfinite(value):
        raise w.fail(where, f"is {value}; use a finite number")
    if choices and isinstance(value, str) and value not in choices:
        close = difflib.get_close_matches(value, list(choices), n=1, cutoff=0.6)
        hint = f"; did you mean {close[0]}?" if close else ""
        listing = ", ".join(choices) if len(choices) <= 12 else ", ".join(choices[:12]) + ", ..."
        raise w.fail(where, f"must be one of {listing}, got '{value}'{hint}")
    if check is not None:
        problem = check(value)
        if problem:
            raise w.fail(where, f"{problem}, got {json.dumps(value)}")
    return value


@cache
def own_kinds(cls: type) -> dict[str, tuple[str, ...] | None]:
    """Each gmr key of a section and the TOML types its annotation admits."""
    hints = typing.get_type_hints(cls)
    out: dict[str, tuple[str, ...] | None] = {}
    for f in own_fields(cls):
        kinds, _ = toml_types(hints[f.name])
        origin = typing.get_origin(hints[f.name]) or hints[f.name]
        out[f.name] = ("table",) if origin is Mapping else kinds
    return out


def _section(w: _Where, name: str, cls: type, table: Any, origins: dict[str, str],
             where: str | None = None, prefix: str | None = None) -> tuple[dict, dict]:
    """``(gmr values, TRL values)`` of one section table, checked."""
    where = where or f"[{name}]"
    prefix = prefix or name
    if not isinstance(table, dict):
        raise w.fail(where, f"must be a table, got {_describe(table)}")
    own = {f.name: f for f in own_fields(cls)}
    trl = trl_fields(name) if name in TRL_SECTIONS else {}
    values: dict[str, Any] = {}
    trl_values: dict[str, Any] = {}
    for key, value in table.items():
        spot = f"{where}.{key}"
        bad = find_non_finite(value, spot)
        if bad:
            raise w.fail(bad, "is not a finite number; use a finite number")
        if key in own:
            values[key] = _own_value(w, spot, cls, own[key], value)
            origins.setdefault(f"{prefix}.{key}", ORIGIN_RECIPE)
            continue
        canonical = canonical_key(key) if trl else key
        if canonical in trl:
            if canonical in MANAGED:
                raise w.fail(spot, f"is set by the engine; use {MANAGED[canonical]}")
            if canonical in trl_values:
                raise w.fail(spot, f"is given twice (as {canonical} and an alias)")
            info = trl[canonical]
            if not _type_ok(value, info.types):
                raise w.fail(spot, f"must be {_expect(info.types)}, got {_describe(value)}")
            if isinstance(value, int) and not isinstance(value, bool) and info.types and \
                    info.types[0] == "float":
                value = float(value)
            choices = info.choices if isinstance(value, str) else None
            trl_values[canonical] = _check_value(w, spot, value, choices,
                                                 TRL_CHECKS.get(canonical))
            origin = origins.pop(f"{prefix}.{key}", ORIGIN_RECIPE)
            origins[f"{prefix}.{canonical}"] = origin
            continue
        valid = sorted(own) + sorted(k for k in trl if k not in MANAGED) + (
            sorted(ALIASES) if trl else [])
        raise GmrError(f"{w.path}: unknown key {spot}{_suggest(key, valid)}")
    for key, f in own.items():
        if f.metadata.get("required") and not values.get(key):
            raise w.fail(f"{where}.{key}", "is required")
    return values, trl_values


def _resolve_trl(section: str, given: dict[str, Any], origins: dict[str, str]) -> dict[str, Any]:
    """Every TRL field of a section: the recipe's value, gmr's default, or TRL's default."""
    table = trl_fields(section)
    resolved: dict[str, Any] = {}
    defaults = GMR_TRL_DEFAULTS[section]
    label = trl_origin()
    for name, info in table.items():
        if name in MANAGED:
            continue
        key = f"{section}.{name}"
        if name in given:
            resolved[name] = given[name]
        elif name in defaults:
            resolved[name] = defaults[name]
            origins[key] = ORIGIN_GMR
        elif info.has_default:
            resolved[name] = info.default
            origins[key] = label
    return resolved


def build(raw: Mapping[str, Any], path: Path, origins: dict[str, str] | None = None) -> Recipe:
    """Check a parsed recipe table by table and build the ``Recipe``."""
    origins = {} if origins is None else origins
    w = _Where(path)
    for section in raw:
        if section not in SECTIONS:
            hint = _suggest(section, list(SECTIONS))
            raise GmrError(f"{path}: unknown section [{section}]{hint}")
    parts: dict[str, Any] = {}
    for name, cls in SECTIONS.items():
        if name == "rewards":
            continue
        given = raw.get(name)
        if name == "model" and given is None:
            raise w.fail("[model].source", "is required (a hub id, a directory, pkg:NAME...)")
        values, trl_values = _section(w, name, cls, given if given is not None else {}, origins)
        if name == "sft":
            values.setdefault("enabled", given is not None)
        if name == "grpo":
            trl_values = apply_preset(values.get("preset"), trl_values, origins)
        if name in TRL_SECTIONS:
            values["trl"] = _resolve_trl(name, trl_values, origins)
        parts[name] = cls(**values)
    parts["rewards"] = tuple(_rewards(w, raw.get("rewards"), origins))
    run: RunSpec = parts["run"]
    if not run.name:
        run = replace(run, name=path.stem)
    if not run.output_dir:
        run = replace(run, output_dir=str(Path("runs") / run.name))
    parts["run"] = run
    return Recipe(path=path, origins=origins, **parts)


def _rewards(w: _Where, tables: Any, origins: dict[str, str]) -> list[RewardSpec]:
    if tables is None or (isinstance(tables, list) and not tables):
        raise GmrError(f"{w.path}: no [[rewards]]; add at least one, e.g. name = \"exact-answer\"")
    if not isinstance(tables, list):
        raise w.fail("[[rewards]]", "must be an array of tables ([[rewards]] ... )")
    out = []
    for index, table in enumerate(tables):
        name = table.get("name") if isinstance(table, dict) else None
        where = f"[[rewards]] #{index + 1}" + (f" ({name})" if isinstance(name, str) else "")
        label = table.get("label") or name if isinstance(table, dict) else None
        values, _ = _section(w, "rewards", RewardSpec, table, origins, where=where,
                             prefix=f"rewards.{label}")
        if not values.get("label"):
            values["label"] = values["name"]
        out.append(RewardSpec(**values))
    return out


# -- whole-recipe checks -----------------------------------------------------------------------


def check_consistency(recipe: Recipe) -> None:
    """Values that must agree with each other (no plugins needed)."""
    w = _Where(recipe.path)
    grpo = recipe.grpo.trl
    gens = grpo.get("num_generations")
    if gens is None:
        raise w.fail("[grpo].num_generations", "must be set (at least 2)")
    batch = generation_batch(grpo)
    if batch % int(gens):
        raise GmrError(
            f"{recipe.path}: [grpo] the GRPO generation batch ({batch} completions = "
            f"per_device_train_batch_size x gradient_accumulation_steps) must be divisible by "
            f"num_generations ({gens})"
        )
    for index, key, problem in reward_mix_problems(recipe.rewards):
        reward = recipe.rewards[index]
        raise w.fail(f"[[rewards]] #{index + 1} ({reward.name}).{key}", problem)
    if recipe.model.load_in_4bit and not recipe.lora.enabled:
        raise w.fail("[lora].enabled", "is false but [model].load_in_4bit trains LoRA on a "
                     "4-bit base; full fine-tuning needs the full-precision model")
    if recipe.eval.heldout and recipe.eval.split == recipe.data.split:
        raise w.fail("[eval].split", f"is the training split '{recipe.data.split}'; held-out "
                     "problems must come from another split")


@contextmanager
def _naming(w: _Where, where: str) -> Iterator[None]:
    """Prefix a plugin registry's error with the recipe file and the key that named it."""
    try:
        yield
    except GmrError as exc:
        raise GmrError(f"{w.path}: {where}: {exc.format_message()}") from None


def check_names(recipe: Recipe) -> None:
    """Every plugin-provided name exists and fits: rewards and their options and columns,
    datasets and their splits and options, templates, the model source."""
    from gamermath import plugins
    from gamermath.models import find_source
    from gamermath.plugin_options import merge_options
    w = _Where(recipe.path)
    rewards = []
    for index, term in enumerate(recipe.rewards):
        where = f"[[rewards]] #{index + 1} ({term.name})"
        with _naming(w, where):
            reward = plugins.get("reward", term.name)
            check_reward_options(w, f"{where}.options", reward, term.options)
        rewards.append((where, reward))
    uses = [("[data]", recipe.data)] + ([("[sft]", recipe.sft_data())] if recipe.sft_enabled
                                         else [])
    for where, spec in uses:
        with _naming(w, f"{where}.dataset"):
            dataset = plugins.get("dataset", spec.dataset)
        with _naming(w, f"{where}.options"):
            merge_options("dataset", spec.dataset, dataset.options, spec.options)
        with _naming(w, f"{where}.template"):
            template = plugins.get("template", spec.template)
        with _naming(w, f"{where}.template_options"):
            merge_options("template", spec.template, template.options, spec.template_options)
        splits = [(where, spec.split)]
        if where == "[data]" and recipe.eval.heldout:
            splits.append(("[eval]", recipe.eval.split))
        for place, split in splits:
            if split not in dataset.splits:
                raise w.fail(f"{place}.split", f"'{split}': dataset '{spec.dataset}' has no "
                             f"such split; splits: {', '.join(dataset.splits)}")
        if where == "[data]":
            for reward_where, reward in rewards:
                missing = [c for c in reward.columns if c not in dataset.columns]
                if missing:
                    raise w.fail(f"{reward_where}.name", f"reward '{reward.name}' needs the "
                                 f"column(s) {', '.join(missing)}, which dataset "
                                 f"'{spec.dataset}' does not have (it has: "
                                 f"{', '.join(dataset.columns)})")
    check_metric(w, recipe, rewards)
    with _naming(w, "[model].source"):
        find_source(recipe.model.source)


def check_metric(w: _Where, recipe: Recipe, rewards: list) -> None:
    """``[eval] metric``: an installed reward, its options, and columns the held-out rows have."""
    from gamermath import plugins

    if not recipe.eval.heldout:
        return
    with _naming(w, "[eval].metric"):
        metric = plugins.get("reward", recipe.eval.metric)
    with _naming(w, "[eval].metric_options"):
        check_reward_options(w, "[eval].metric_options", metric, recipe.eval.metric_options)
    dataset = plugins.get("dataset", recipe.data.dataset)
    missing = [c for c in metric.columns if c not in dataset.columns]
    if missing:
        raise w.fail("[eval].metric", f"reward '{metric.name}' needs the column(s) "
                     f"{', '.join(missing)}, which dataset '{recipe.data.dataset}' does not have")


def check_reward_options(w: _Where, where: str, reward: Any, options: Mapping[str, Any]) -> None:
    """Option keys and values (typed like the defaults, then the reward's own check)."""
    from gamermath.rewards.options import check_option_values

    try:
        check_option_values(reward, options)
    except ValueError as exc:  # OptionError names the option
        key = getattr(exc, "option", None)
        raise w.fail(f"{where}" + (f".{key}" if key else ""), " ".join(str(exc).split())) from None


# -- overrides ---------------------------------------------------------------------------------


def parse_value(text: str, kinds: tuple[str, ...] | None) -> Any:
    """A ``--set`` value typed by the field: TOML syntax first, else the raw string."""
    try:
        value = tomllib.loads(f"v = {text}")["v"]
    except tomllib.TOMLDecodeError:
        value = text
    if kinds is not None and "str" in kinds and not _type_ok(value, kinds):
        return text
    if kinds == ("bool",) and isinstance(value, str):
        lowered = value.lower()
        if lowered in ("true", "yes", "1", "on", "false", "no", "0", "off"):
            return lowered in ("true", "yes", "1", "on")
    return value


def _kinds_of(section: str, key: str) -> tuple[str, ...] | None:
    own = own_kinds(SECTIONS[section])
    if key in own:
        return own[key]
    if section in TRL_SECTIONS:
        info = trl_fields(section).get(canonical_key(key))
        if info is not None:
            return info.types
    return None


def apply_override(raw: dict[str, Any], item: str, path: str,
                   origins: dict[str, str] | None = None) -> None:
    """Apply ``section.key=value`` (or ``rewards.LABEL.key=value``) to the parsed recipe."""
    target, sep, text = item.partition("=")
    parts = target.strip().split(".")
    if not sep or len(parts) < 2:
        raise GmrError(f"--set expects SECTION.KEY=VALUE, got '{item}'")
    section = parts[0]
    origins = {} if origins is None else origins
    if section == "rewards":
        if len(parts) != 3:
            raise GmrError(f"--set rewards.LABEL.KEY=VALUE expected, got '{item}'")
        label, key = parts[1], parts[2]
        for table in raw.get("rewards", []):
            if table.get("label", table.get("name")) == label:
                table[key] = parse_value(text.strip(), _kinds_of("rewards", key))
                origins[f"rewards.{label}.{key}"] = ORIGIN_SET
                return
        labels = [t.get("label", t.get("name")) for t in raw.get("rewards", [])]
        raise GmrError(f"{path}: --set {target}: no reward labelled '{label}' (labels: "
                       f"{', '.join(map(str, labels))})")
    if section not in SECTIONS:
        hint = _suggest(section, list(SECTIONS))
        raise GmrError(f"{path}: --set {target}: unknown section '{section}'{hint}")
    key = ".".join(parts[1:])
    table = raw.setdefault(section, {})
    if not isinstance(table, dict):
        raise GmrError(f"{path}: --set {target}: [{section}] is not a table")
    if section in TRL_SECTIONS and canonical_key(key) in trl_fields(section):
        key = canonical_key(key)  # replaces the value the file gives under either name
        for alias in [a for a, canonical in ALIASES.items() if canonical == key]:
            table.pop(alias, None)
    table[key] = parse_value(text.strip(), _kinds_of(section, key))
    origins[f"{section}.{key}"] = ORIGIN_SET
