"""Plugin discovery: every module named in the ``gmr`` entry-point group, built-ins included.

``GMR_PLUGINS=a,b`` limits loading to the named entry points or distributions.
A plugin that fails to import is skipped with one warning; two plugins that register the
same name raise a ``GmrError`` naming both packages.
"""

from __future__ import annotations

import os
import warnings
from dataclasses import dataclass, field, replace
from functools import cache
from importlib.metadata import entry_points
from typing import Any

import pluggy

from gamermath import hookspecs
from gamermath.errors import GmrError, unknown_name
from gamermath.specs import KINDS

GROUP = "gmr"
HOOKS = {
    "reward": "register_rewards",
    "dataset": "register_datasets",
    "template": "register_templates",
    "eval task set": "register_eval_tasks",
    "model source": "register_model_sources",
}
#: names registered by gamermath's first-party plugin packages (under plugins/ in the
#: repository), so an unknown name can say what to install.
KNOWN_PACKAGES: dict[tuple[str, str], str] = {
    ("reward", "program"): "gmr-reward-program",
    ("reward", "program-of-thought"): "gmr-reward-program",
    ("reward", "youronmath-code"): "gmr-reward-program",
    ("reward", "repetition-penalty"): "gmr-reward-template",
}


class PluginLoadWarning(UserWarning):
    """An installed plugin could not be imported; the rest of gmr keeps working."""


@dataclass
class PluginInfo:
    """One loaded entry point and the distribution that ships it."""

    name: str
    package: str
    version: str
    registers: dict[str, list[str]] = field(default_factory=dict)


def _allowed() -> set[str] | None:
    value = os.environ.get("GMR_PLUGINS", "").strip()
    return {part.strip() for part in value.split(",") if part.strip()} if value else None


@cache
def manager() -> tuple[pluggy.PluginManager, dict[str, PluginInfo]]:
    """Load the ``gmr`` entry points once per process."""
    pm = pluggy.PluginManager(GROUP)
    pm.add_hookspecs(hookspecs)
    infos: dict[str, PluginInfo] = {}
    allowed = _allowed()
    for ep in sorted(entry_points(group=GROUP), key=lambda e: e.name):
        package = ep.dist.name if ep.dist else "?"
        version = ep.dist.version if ep.dist else "?"
        if allowed is not None and ep.name not in allowed and package not in allowed:
            continue
        if ep.name in infos:
            continue
        try:
            module = ep.load()
            pm.register(module, name=ep.name)
        except Exception as exc:  # a broken plugin must not break gmr
            detail = " ".join(f"{type(exc).__name__}: {exc}".split())
            warnings.warn(
                f"gmr plugin '{ep.name}' from package {package} {version} failed to load: "
                f"{detail}",
                PluginLoadWarning,
                stacklevel=2,
            )
            continue
        infos[ep.name] = PluginInfo(ep.name, package, version)
    return pm, infos


@cache
def registry(kind: str) -> dict[str, Any]:
    """Everything of one kind (``reward``, ``dataset``...) by name, plugin fields filled in."""
    pm, infos = manager()
    hook = getattr(pm.hook, HOOKS[kind])
    found: dict[str, Any] = {}
    for impl in hook.get_hookimpls():  # registration order: entry points sorted by name
        info = infos[impl.plugin_name]

        def register(item: Any, info: PluginInfo = info) -> None:
            if not isinstance(item, KINDS[kind]):
                raise GmrError(
                    f"plugin {info.package} registered a {type(item).__name__} through the "
                    f"{kind} hook; expected {KINDS[kind].__name__}"
                )
            if item.name in found:
                other = found[item.name].plugin
                raise GmrError(
                    f"{kind} '{item.name}' is registered by two packages: {other} and "
                    f"{info.package}; uninstall one or limit loading with GMR_PLUGINS"
                )
            found[item.name] = replace(item, plugin=info.package, plugin_version=info.version)
            info.registers.setdefault(kind, []).append(item.name)

        impl.function(register=register)
    return found


def get(kind: str, name: str) -> Any:
    """One registered item, or a one-line error listing what is installed."""
    items = registry(kind)
    if name not in items:
        package = KNOWN_PACKAGES.get((kind, name))
        if package is not None:
            raise GmrError(
                f"{kind} '{name}' is provided by the plugin package {package}, which is not "
                f"installed (or GMR_PLUGINS leaves it out): pip install {package} "
                f"(in the gamermath repository: pip install ./plugins/{package})"
            )
        raise unknown_name(kind, name, items)
    return items[name]


def plugin_table() -> list[PluginInfo]:
    """Every loaded plugin with what it registers (all hooks are called)."""
    for kind in HOOKS:
        registry(kind)
    return list(manager()[1].values())


def reset() -> None:
    """Forget loaded plugins (for tests that change ``GMR_PLUGINS`` in-process)."""
    manager.cache_clear()
    registry.cache_clear()
