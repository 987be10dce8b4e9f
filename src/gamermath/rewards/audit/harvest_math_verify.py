"""Harvest ``math_verify_suite.jsonl``: the (gold, prediction, verdict, options) cases of
Math-Verify's own parametrized tests, read from a git mirror of huggingface/Math-Verify.

The test modules are parsed with ``ast`` (never imported or run): every test function
decorated with ``pytest.mark.parametrize`` whose argument names include ``gold`` and ``pred``
gives one case per parameter tuple. The options are those the test passes to its comparison
helper (``compare_strings(gold, pred, match_types=..., precision=..., strict=...,
allow_set_relation_comp=...)``, or ``verify(parse(gold), parse(pred))``), with parameters
substituted per case. A case is *default* when ``verify`` runs with its defaults (6-digit
rounding, strict, no set/relation comparison) and LaTeX extraction is among its targets.
The 19 expression-only cases (``match_types=["expr"]``: ``1000,99`` as a decimal comma,
``1 000``) test math-verify's ``ExprExtractionConfig``, which hands text to
``sympy.parse_expr`` (Python ``eval``) and which ``sympy-equivalence`` does not run.

Usage (run once; the shipped file names the commit it was read at)::

    python -m gamermath.rewards.audit.harvest_math_verify \\
        --git-dir /work/.mirror/huggingface+Math-Verify/repo --commit 5d148cf
"""

from __future__ import annotations

import argparse
import ast
import json
import math
import subprocess
from pathlib import Path
from typing import Any

OUTPUT = Path(__file__).with_name("math_verify_suite.jsonl")
#: The helper's defaults in ``tests/test_all.py`` (``compare_strings``).
DEFAULTS: dict[str, Any] = {
    "match_types": ["latex", "expr"],
    "precision": 6,
    "strict": True,
    "allow_set_relation_comp": False,
}


def _git(git_dir: str, *args: str) -> str:
    return subprocess.run(
        ["git", f"--git-dir={git_dir}", *args], check=True, capture_output=True, text=True
    ).stdout


def _literal(node: ast.expr) -> Any:
    """A literal; the one f-string in the suite (``f"{math.sqrt(17):.15f}"``) is formatted
    with nothing but ``math`` in scope."""
    if isinstance(node, ast.JoinedStr):
        code = compile(ast.Expression(node), "<case>", "eval")
        return eval(code, {"__builtins__": {}, "math": math})  # noqa: S307 (upstream literal)
    if isinstance(node, (ast.List, ast.Tuple)):
        return [_literal(element) for element in node.elts]
    return ast.literal_eval(node)


def _parametrize(function: ast.FunctionDef) -> tuple[list[str], list[tuple]] | None:
    for decorator in function.decorator_list:
        if isinstance(decorator, ast.Call) and ast.unparse(decorator.func).endswith(
            "mark.parametrize"
        ):
            names = [n.strip() for n in ast.literal_eval(decorator.args[0]).split(",")]
            if "gold" not in names or "pred" not in names:
                return None
            return names, [tuple(v) for v in _literal(decorator.args[1])]
    return None


def _helper_options(function: ast.FunctionDef) -> dict[str, Any] | None:
    """The options the test compares with: literal values, or parameter names as ``@name``."""
    for node in ast.walk(function):
        if not isinstance(node, ast.Call):
            continue
        name = ast.unparse(node.func)
        if name == "compare_strings":
            options = dict(DEFAULTS)
            for keyword in node.keywords:
                value = keyword.value
                options[keyword.arg] = (
                    f"@{value.id}" if isinstance(value, ast.Name) else ast.literal_eval(value)
                )
            return options
        if name == "verify" and "parse(gold)" in ast.unparse(node):
            return {"helper": "verify(parse(gold), parse(pred))"}
    return None


def harvest(git_dir: str, commit: str) -> list[dict[str, Any]]:
    """Every case of the commit's parametrized gold/pred tests, in file order."""
    rows: list[dict[str, Any]] = []
    files = _git(git_dir, "ls-tree", "-r", "--name-only", commit, "tests/").split()
    for path in sorted(f for f in files if f.endswith(".py")):
        tree = ast.parse(_git(git_dir, "show", f"{commit}:{path}"))
        for function in tree.body:
            if not isinstance(function, ast.FunctionDef):
                continue
            found = _parametrize(function)
            options = _helper_options(function)
            if found is None or options is None:
                continue
            names, cases = found
            verdict = "expected" if "expected" in names else "result"
            for number, case in enumerate(cases):
                values = dict(zip(names, case, strict=True))
                resolved = {
                    k: values[v[1:]] if isinstance(v, str) and v.startswith("@") else v
                    for k, v in options.items()
                }
                rows.append({
                    "id": f"{Path(path).stem}::{function.name}[{number}]",
                    "category": function.name.removeprefix("test_"),
                    "gold": values["gold"],
                    "pred": values["pred"],
                    "verdict": int(values[verdict]),
                    "options": resolved,
                    "default": "latex" in resolved.get("match_types", ["latex"]) and all(
                        resolved.get(k, v) == v for k, v in DEFAULTS.items()
                        if k != "match_types"
                    ),
                })
    return rows


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0])
    parser.add_argument("--git-dir", required=True)
    parser.add_argument("--commit", default="5d148cf")
    parser.add_argument("--output", type=Path, default=OUTPUT)
    args = parser.parse_args(argv)
    commit = _git(args.git_dir, "rev-parse", args.commit).strip()
    rows = harvest(args.git_dir, commit)
    header = {
        "_source": "https://github.com/huggingface/Math-Verify",
        "_commit": commit,
        "_files": "tests/*.py (parametrized gold/pred cases)",
        "_licence": "Apache-2.0 (LICENCE at that commit); (c) The HuggingFace Team",
        "_harvested_by": "python -m gamermath.rewards.audit.harvest_math_verify",
        "_cases": len(rows),
        "_default_cases": sum(r["default"] for r in rows),
    }
    with args.output.open("w", encoding="utf-8") as handle:
        for row in [header, *rows]:
            handle.write(json.dumps(row, ensure_ascii=False) + "\n")
    print(f"wrote {len(rows)} cases ({header['_default_cases']} default) to {args.output}")
    return 0


if __name__ == "__main__":
    raise SystemExit(main())
