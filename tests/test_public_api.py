"""The public API a plugin may use: documented in CONTRIBUTING.md, kept to by the program
plugin, and ``gamermath.verify`` giving the built-in verifiers' verdicts."""

from __future__ import annotations

import ast
import re
import tomllib
from pathlib import Path

import pytest

from gamermath import verify

REPO = Path(__file__).parents[1]
PROGRAM_PLUGIN = REPO / "plugins" / "gmr-reward-program"


def documented_public_modules() -> set[str]:
    """The modules listed under CONTRIBUTING.md's "The public API" section."""
    text = (REPO / "CONTRIBUTING.md").read_text(encoding="utf-8")
    section = text.split("### The public API", 1)[1].split("\n### ", 1)[0]
    return set(re.findall(r"^\| `(gamermath(?:\.\w+)*)` \|", section, flags=re.MULTILINE))


def gamermath_imports(root: Path) -> dict[str, str]:
    """``{module: file}`` for every ``gamermath`` module a source tree imports."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.py")):
        for node in ast.walk(ast.parse(path.read_text(encoding="utf-8"))):
            if isinstance(node, ast.Import):
                names = [alias.name for alias in node.names]
            elif isinstance(node, ast.ImportFrom) and node.level == 0 and node.module:
                names = [node.module]
                if node.module == "gamermath":
                    names = [f"gamermath.{alias.name}" for alias in node.names]
            else:
                continue
            for name in names:
                if name.split(".")[0] == "gamermath":
                    found.setdefault(name, path.name)
    return found


def test_contributing_documents_the_public_modules():
    assert documented_public_modules() == {
        "gamermath.hookspecs", "gamermath.specs", "gamermath.errors", "gamermath.verify",
        "gamermath.testing"}


@pytest.mark.parametrize("plugin", sorted(p.name for p in (REPO / "plugins").iterdir()
                                         if (p / "src").is_dir()))
def test_shipped_plugins_import_only_public_modules(plugin):
    public = documented_public_modules()
    used = gamermath_imports(REPO / "plugins" / plugin / "src")
    assert used, plugin
    private = {name: where for name, where in used.items() if name not in public}
    assert not private, f"{plugin} imports private gamermath modules: {private}"


def test_program_plugin_checks_answers_through_the_public_verify():
    assert "gamermath.verify" in gamermath_imports(PROGRAM_PLUGIN / "src")


def test_plugins_require_the_core_python():
    core = tomllib.loads((REPO / "pyproject.toml").read_text())["project"]["requires-python"]
    for pyproject in sorted((REPO / "plugins").glob("*/pyproject.toml")):
        doc = tomllib.loads(pyproject.read_text())
        assert doc["project"]["requires-python"] == core, pyproject.parent.name


def test_verify_gives_the_builtin_verdicts():
    assert verify.math_equivalent("so \\boxed{\\frac{1}{2}}", "0.5")
    assert verify.math_equivalent("#### 1,080", "#### 1080")
    assert not verify.math_equivalent("\\boxed{0.3333}", "\\frac{1}{3}")
    assert verify.first_number("$1,080.") == 1080
    assert verify.gold_number("steps\n#### 72") == 72
    assert verify.gold_number(72) == 72
    assert verify.numbers_equal("18.00", "#### 18")
    assert not verify.numbers_equal(None, "18")
    assert __import__(verify.MATH_WARMUP_MODULE)
