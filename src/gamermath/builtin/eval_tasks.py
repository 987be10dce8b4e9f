"""The built-in lm-eval task set: the YAMLs shipped in ``gamermath.evals``.

Each task or group YAML that a user runs by name starts with a ``# Protocol: ...`` line;
that line is the protocol ``gmr evals list`` shows and ``gmr eval --compare`` matches
baselines against. Reading it needs only the files, so listing stays free of lm-eval.
"""

from __future__ import annotations

import importlib.util
from pathlib import Path

from gamermath.hookspecs import hookimpl
from gamermath.specs import EvalTaskSet

PROTOCOL_PREFIX = "# Protocol:"


def evals_dir() -> Path:
    """The installed ``gamermath.evals`` folder (the repository's ``evals/``)."""
    spec = importlib.util.find_spec("gamermath.evals")
    if spec is None or not spec.submodule_search_locations:
        raise RuntimeError("gamermath.evals is not installed")
    return Path(next(iter(spec.submodule_search_locations)))


def read_protocols(root: Path) -> dict[str, str]:
    """``{task or group name: protocol line}`` for every YAML under ``root`` that has one."""
    found: dict[str, str] = {}
    for path in sorted(root.rglob("*.yaml")):
        protocol = name = ""
        for line in path.read_text(encoding="utf-8").splitlines():
            if line.startswith(PROTOCOL_PREFIX) and not protocol:
                protocol = line[len(PROTOCOL_PREFIX) :].strip()
            elif line.startswith(("task:", "group:")) and not name:
                name = line.split(":", 1)[1].strip().strip("'\"")
        if protocol and name:
            found[name] = protocol
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
