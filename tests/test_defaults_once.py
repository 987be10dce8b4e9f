"""Every recipe default is written once (``recipe/schema.py``), and the layers import downward.

The code that reads a loaded recipe (loader, shape, planner, engine) may not carry a
fallback of its own for a value the loader already filled: ``train.get("beta") or 0.0``,
``train.get("max_length", 1024)`` or ``recipe.run.reward_cpu_s or 30.0`` would each be a
second default that can drift from the first.
"""

from __future__ import annotations

import ast
from dataclasses import MISSING, fields
from pathlib import Path

import pytest

from gamermath.recipe import schema
from gamermath.recipe.trl_fields import trl_fields

SRC = Path(schema.__file__).resolve().parents[1]

#: modules that read a loaded recipe's values
READERS = [
    "recipe/loader.py", "recipe/shape.py", "recipe/model_modules.py", "recipe/sources.py",
    "engine/trl_config.py", "engine/switches.py", "engine/train.py", "engine/heldout.py",
    "engine/heldout_metric.py", "rewards/runner.py", "cli/train.py", "cli/plan.py",
    "cli/reward.py",
] + [f"planner/{p.name}" for p in (SRC / "planner").glob("*.py")]


def recipe_keys() -> set[str]:
    keys = {f.name for cls in schema.SECTIONS.values() for f in schema.own_fields(cls)}
    for section in schema.TRL_SECTIONS:
        keys |= set(trl_fields(section))
    return keys


def _key_of(node: ast.AST) -> str | None:
    """The recipe key a read names: ``x.get("key")``, ``x["key"]`` or ``spec.key``."""
    if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
            node.func.attr == "get" and node.args and isinstance(node.args[0], ast.Constant):
        return node.args[0].value if isinstance(node.args[0].value, str) else None
    if isinstance(node, ast.Subscript) and isinstance(node.slice, ast.Constant):
        return node.slice.value if isinstance(node.slice.value, str) else None
    if isinstance(node, ast.Attribute):
        return node.attr
    if isinstance(node, ast.Call) and node.args:  # int(x.get("key")) or 1
        return _key_of(node.args[0])
    return None


def literal_fallbacks(path: Path, keys: set[str]) -> list[str]:
    """``file:line: key`` for each literal fallback on a recipe key in ``path``."""
    found = []
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.Call) and isinstance(node.func, ast.Attribute) and \
                node.func.attr == "get" and len(node.args) == 2 and \
                isinstance(node.args[1], ast.Constant) and node.args[1].value is not None:
            key = _key_of(node)
            if key in keys:
                found.append(f"{path.name}:{node.lineno}: .get({key!r}, {node.args[1].value!r})")
        if isinstance(node, ast.BoolOp) and isinstance(node.op, ast.Or) and \
                isinstance(node.values[-1], ast.Constant) and \
                isinstance(node.values[-1].value, (int, float, str)) and \
                not isinstance(node.values[-1].value, bool):
            key = _key_of(node.values[0])
            if key in keys:
                found.append(f"{path.name}:{node.lineno}: {key} or {node.values[-1].value!r}")
    return found


def test_no_reader_restates_a_recipe_default():
    keys = recipe_keys()
    problems = [p for name in READERS for p in literal_fallbacks(SRC / name, keys)]
    assert not problems, "a recipe value defaulted a second time:\n" + "\n".join(problems)


def test_the_scan_finds_a_planted_fallback(tmp_path):
    """The scan is not blind: each form of a second default is caught."""
    planted = tmp_path / "planted.py"
    planted.write_text(
        "a = train.get('beta') or 0.0\n"
        "b = int(train.get('max_length') or 1024)\n"
        "c = train.get('vllm_gpu_memory_utilization', 0.3)\n"
        "d = recipe.run.reward_cpu_s or 30.0\n"
        "e = train['num_generations'] or 8\n"
        "f = other.get('unrelated') or 3\n"
    )
    found = literal_fallbacks(planted, recipe_keys())
    assert sorted(line.split(":")[1] for line in found) == ["1", "2", "3", "4", "5"]


def _assigned_names(path: Path) -> set[str]:
    names = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        targets = node.targets if isinstance(node, ast.Assign) else (
            [node.target] if isinstance(node, ast.AnnAssign) else [])
        names |= {t.id for t in targets if isinstance(t, ast.Name)}
    return names


@pytest.mark.parametrize("name", ["GMR_TRL_DEFAULTS", "ALIASES", "MANAGED", "REWARD_MEMORY_MB",
                                  "REWARD_CPU_S"])
def test_default_tables_are_defined_only_in_the_schema(name):
    owners = [p.relative_to(SRC).as_posix() for p in SRC.rglob("*.py")
              if name in _assigned_names(p)]
    assert owners == ["recipe/schema.py"]


def test_worker_limits_are_written_once():
    """2048 MiB and 30 CPU seconds: the schema's constants, used by the recipe's [run] keys,
    ``RewardRunner`` and ``gmr reward score``."""
    from gamermath.cli.reward import score_rewards
    from gamermath.rewards.runner import RewardRunner

    run = {f.name: f.default for f in fields(schema.RunSpec)}
    assert run["reward_memory_mb"] == schema.REWARD_MEMORY_MB
    assert run["reward_cpu_s"] == schema.REWARD_CPU_S
    import inspect

    params = inspect.signature(RewardRunner).parameters
    assert params["memory_limit_mb"].default is schema.REWARD_MEMORY_MB
    assert params["cpu_time_limit_s"].default is schema.REWARD_CPU_S
    option = next(p for p in score_rewards.params if p.name == "memory_limit")
    assert option.default == schema.REWARD_MEMORY_MB
    for name in READERS:
        text = (SRC / name).read_text(encoding="utf-8")
        assert "2048" not in text, f"{name}: 2048 written outside recipe/schema.py"


def test_every_knob_has_its_default_in_the_schema():
    """Each gmr key's default is on its dataclass field (none is filled later by the loader)."""
    for cls in schema.SECTIONS.values():
        for f in schema.own_fields(cls):
            assert f.default is not MISSING or f.default_factory is not MISSING, f.name


def _imports(path: Path) -> set[str]:
    found = set()
    for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
        if isinstance(node, ast.ImportFrom) and node.module:
            found.add(node.module)
            found |= {f"{node.module}.{a.name}" for a in node.names}
        elif isinstance(node, ast.Import):
            found |= {a.name for a in node.names}
    return found


def test_layers_import_downward():
    """The engine never imports the planner; the recipe imports neither; schema and
    toml_text do not import each other both ways; the loader does not reach into data."""
    for path in (SRC / "engine").glob("*.py"):
        assert not any(m.startswith("gamermath.planner") for m in _imports(path)), path
    for path in (SRC / "recipe").glob("*.py"):
        bad = [m for m in _imports(path) if m.startswith(("gamermath.planner",
                                                          "gamermath.engine",
                                                          "gamermath.data"))]
        assert not bad, (path, bad)
    assert not any("schema" in m for m in _imports(SRC / "recipe" / "toml_text.py"))
    assert not any(m.startswith("gamermath.rewards") for m in _imports(SRC / "recipe" /
                                                                       "schema.py"))
