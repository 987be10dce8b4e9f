"""The built-in lm-eval task set: the YAMLs shipped in ``gamermath.evals``.

Each task or group YAML that a user runs by name states its protocol in lm-eval's own
``metadata`` field, under gmr's key: ``metadata: {gmr: {protocol: "..."}}``. That line is
the protocol ``gmr evals list`` shows and ``gmr eval`` records beside each score (which
``--compare`` matches baselines against). Reading it needs only the files (PyYAML, with
lm-eval's ``!function`` tags left unresolved), so listing stays free of lm-eval.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path
from typing import Any

import yaml

from gamermath.hookspecs import hookimpl
from gamermath.specs import EvalTaskSet


def evals_dir() -> Path:
    """The installed ``gamermath.evals`` folder (the repository's ``evals/``)."""
    spec = importlib.util.find_spec("gamermath.evals")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("gamermath.evals is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


class _TaskYamlLoader(yaml.SafeLoader):
    """PyYAML's safe loader that reads lm-eval's ``!function`` (any ``!tag``) as None."""


_TaskYamlLoader.add_multi_constructor("!", lambda loader, suffix, node: None)


def gmr_metadata(config: dict[str, Any]) -> dict[str, Any]:
    """The ``metadata: gmr:`` block of one task or group config (``{}`` when absent).

    lm-eval's ``include:`` replaces a whole top-level key, so a task that includes another
    and sets ``metadata`` states its whole ``gmr`` block again.
    """
    meta = config.get("metadata")
    gmr = meta.get("gmr") if isinstance(meta, dict) else None
    return gmr if isinstance(gmr, dict) else {}


def read_protocols(root: Path) -> dict[str, str]:
    """``{task or group name: protocol}`` for every YAML under ``root`` that states one."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.yaml")):
        config = yaml.load(path.read_text(encoding="utf-8"), Loader=_TaskYamlLoader)
        if not isinstance(config, dict):
            continue
        name = config.get("group") or config.get("task")
        protocol = gmr_metadata(config).get("protocol")
        if isinstance(name, str) and protocol:
            found[name] = str(protocol).strip()
    return found


@hookimpl
def register_eval_tasks(register) -> None:
    root = evals_dir()
    register(
        EvalTaskSet(
            name="gamermath",
            path=root,
            description="GSM8K and MMLU-STEM as lm-eval's built-ins read them (local data); "
            "the protocols of the YouronMath paper's code, the Qwen3.5-0.8B-GRPO-Math card "
            "and DeepSeekMath's MMLU-STEM; MATH-500 (Minerva prompt, zero-shot boxed)",
            tasks=read_protocols(root),
        )
    )
