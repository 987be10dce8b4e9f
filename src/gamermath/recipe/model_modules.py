"""``[lora].target_modules`` against the model's own module names, before any weight loads.

``gmr recipe check`` reads the model's ``config.json`` (a local directory, a ``.gguf`` or
``pkg:`` model's converted copy, or a hub id already in the Hugging Face cache), builds the
model on PyTorch's ``meta`` device (shapes only, no memory, no weights) and lists its
modules; the names are kept under ``$GMR_CACHE_DIR/model-modules/`` by the config's content
and the transformers version, so the next check is instant. Training runs the same check on
the loaded model (``check_targets``), so both say the same line.
"""

from __future__ import annotations

import hashlib
import json
from importlib import metadata
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError


def check_targets(recipe: Any, names: set[str], linear: list[str]) -> None:
    """Every listed ``target_modules`` name is a module name of the model (a regular
    expression or ``all-linear`` is PEFT's to match)."""
    targets = recipe.lora.target_modules
    if not recipe.lora.enabled or isinstance(targets, str):
        return
    missing = [t for t in targets if t not in names]
    if missing:
        raise GmrError(
            f"{recipe.path}: [lora].target_modules: {', '.join(missing)} not found in "
            f"{recipe.model.source}; its linear modules: {', '.join(linear)} "
            "(or use \"all-linear\")"
        )


def model_modules(model: Any) -> tuple[set[str], list[str]]:
    """``(every module's last name, the linear layers' names)`` of a torch model."""
    import torch

    names = {name.rsplit(".", 1)[-1] for name, _ in model.named_modules() if name}
    linear = sorted({name.rsplit(".", 1)[-1] for name, module in model.named_modules()
                     if isinstance(module, torch.nn.Linear)})
    return names, linear


def _gguf_file(source: str) -> Path | None:
    """The ``.gguf`` file a ``.gguf`` or ``pkg:`` source names, found without converting."""
    if not source.startswith("pkg:"):
        return Path(source).expanduser()
    from gamermath.builtin.model_sources import package_dir

    name, _, filename = source[len("pkg:"):].partition("/")
    try:
        folder = package_dir(name)
    except GmrError:
        return None
    if filename:
        return folder / filename
    found = sorted(folder.glob("*.gguf"))
    return found[0] if len(found) == 1 else None


def config_file(source: str, cache_dir: str | Path | None = None) -> Path | None:
    """The model's ``config.json`` without downloading or converting: a local directory's,
    a ``.gguf``/``pkg:`` model's already converted copy, or a hub id's in the Hugging Face
    cache; None otherwise."""
    path = Path(source).expanduser()
    if path.is_dir():
        found = path / "config.json"
        return found if found.is_file() else None
    if source.startswith("pkg:") or source.lower().endswith(".gguf"):
        from gamermath.models import default_cache_dir
        from gamermath.models.gguf import converted_dir

        gguf = _gguf_file(source)
        if gguf is None or not gguf.is_file():
            return None
        cache = Path(cache_dir).expanduser() if cache_dir else default_cache_dir()
        found = converted_dir(gguf, cache) / "config.json"
        return found if found.is_file() else None
    if "/" not in source:
        return None
    try:
        from huggingface_hub import try_to_load_from_cache

        cached = try_to_load_from_cache(source, "config.json")
    except Exception:  # not a valid repo id
        return None
    return Path(cached) if isinstance(cached, str) else None


def offline_modules(config: Path) -> tuple[set[str], list[str]] | str:
    """The module names of the model a ``config.json`` describes (cached on disk), or why
    transformers cannot build it."""
    from gamermath.models import default_cache_dir

    text = config.read_bytes()
    try:
        version = metadata.version("transformers")
    except metadata.PackageNotFoundError:
        version = "none"
    digest = hashlib.sha256(text + version.encode()).hexdigest()[:24]
    cached = default_cache_dir() / "model-modules" / f"{digest}.json"
    try:
        data = json.loads(cached.read_text(encoding="utf-8"))
        return set(data["names"]), list(data["linear"])
    except (OSError, ValueError, KeyError, TypeError):
        pass
    import torch
    from transformers import AutoConfig, AutoModelForCausalLM

    try:
        model_config = AutoConfig.from_pretrained(str(config.parent), local_files_only=True)
        with torch.device("meta"):
            model = AutoModelForCausalLM.from_config(model_config)
    except Exception as exc:  # an architecture this transformers does not know
        return f"transformers cannot build it from {config} ({' '.join(str(exc).split())[:160]})"
    names, linear = model_modules(model)
    try:
        cached.parent.mkdir(parents=True, exist_ok=True)
        cached.write_text(json.dumps({"names": sorted(names), "linear": linear}), "utf-8")
    except OSError:  # a read-only cache: build it again next time
        pass
    return names, linear


def check_target_modules_offline(recipe: Any) -> str | None:
    """Check ``[lora].target_modules`` against the model's config; a note when it cannot be
    read offline (the check then runs when training loads the model)."""
    targets = recipe.lora.target_modules
    if not recipe.lora.enabled or isinstance(targets, str):
        return None
    config = config_file(recipe.model.source, recipe.model.cache_dir)
    if config is None:
        return (f"[lora].target_modules not checked: no config.json of "
                f"{recipe.model.source} offline (a .gguf or pkg: model not converted yet, or a "
                "hub model not in the local cache); training checks them on the loaded model")
    found = offline_modules(config)
    if isinstance(found, str):
        return f"[lora].target_modules not checked: {found}; training checks them"
    check_targets(recipe, *found)
    return None
