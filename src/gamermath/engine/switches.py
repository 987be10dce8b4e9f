"""One-GPU speed and memory switches: which a recipe turns on, and what each needs.

The switches are TRL/transformers fields (``[grpo].use_vllm``, ``use_transformers_continuous_
batching``, ``use_liger_kernel``, ``gradient_checkpointing`` and its ``offload``) and
``[model].load_in_4bit``. Before anything trains (``gmr train``) and in ``gmr recipe check``,
``check_switch_packages`` stops a recipe whose switch needs a package that is not installed,
in one line naming the key and the pip command. ``check_switch_device`` (training only)
stops one that needs CUDA on a machine without it.

One runtime piece lives here too, because TRL 1.16 alone gets it wrong:

- ``keep_checkpointing_options``: after every generation TRL re-enables gradient
  checkpointing with ``gradient_checkpointing_kwargs`` passed whole to transformers'
  deprecated ``gradient_checkpointing_enable``, which forwards ``offload`` and
  ``every_n_layers`` to ``torch.utils.checkpoint`` ("Unexpected keyword arguments: offload").
  The wrapper splits them out again, so offloading stays on.

The predicates (is checkpointing on, does it offload, is continuous batching on) and the
paged cache's sizing are values derived from the recipe: they live in
``gamermath.recipe.shape``, shared with the planner.

Nothing here imports torch at module level.
"""

from __future__ import annotations

import importlib.util
from collections.abc import Callable, Mapping
from dataclasses import dataclass
from importlib import metadata
from typing import Any

from gamermath.errors import GmrError
from gamermath.recipe.shape import offloads, uses_continuous_batching


@dataclass(frozen=True)
class Requirement:
    """A package a switch needs: import name, distribution, minimum version, pip command."""

    module: str
    distribution: str
    min_version: str
    pip: str


VLLM = Requirement("vllm", "vllm", "0.22.0", "pip install 'gamermath[vllm]'")
LIGER = Requirement("liger_kernel", "liger-kernel", "0.8.2", "pip install 'gamermath[liger]'")
BITSANDBYTES = Requirement("bitsandbytes", "bitsandbytes", "0.45", "pip install 'gamermath[qlora]'")
TRANSFORMERS_CB = Requirement("transformers", "transformers", "5.8.0",
                              "pip install -U 'transformers>=5.8'")


@dataclass(frozen=True)
class Switch:
    """A recipe switch: ``where(recipe)`` names the key that turns it on (None: off)."""

    name: str
    where: Callable[[Any], str | None]
    requirement: Requirement | None
    cuda: bool


def _stages(recipe: Any) -> list[tuple[str, Mapping[str, Any]]]:
    return ([("sft", recipe.sft.trl)] if recipe.sft_enabled else []) + [("grpo", recipe.grpo.trl)]


def _vllm(recipe: Any) -> str | None:
    return "[grpo].use_vllm" if recipe.grpo.trl.get("use_vllm") else None


def _paged(recipe: Any) -> str | None:
    train = recipe.grpo.trl
    if not uses_continuous_batching(train):
        return None
    key = ("use_transformers_continuous_batching"
           if train.get("use_transformers_continuous_batching") else "use_transformers_paged")
    return f"[grpo].{key}"


def _liger(recipe: Any) -> str | None:
    for stage, train in _stages(recipe):
        if train.get("use_liger_kernel"):
            return f"[{stage}].use_liger_kernel"
    return None


def _offload(recipe: Any) -> str | None:
    for stage, train in _stages(recipe):
        if offloads(train):
            name = ("activation_checkpointing_kwargs"
                    if train.get("activation_checkpointing_kwargs") is not None
                    else "gradient_checkpointing_kwargs")
            return f"[{stage}].{name}.offload"
    return None


def _four_bit(recipe: Any) -> str | None:
    return "[model].load_in_4bit" if recipe.model.load_in_4bit else None


SWITCHES: tuple[Switch, ...] = (
    Switch("vllm", _vllm, VLLM, cuda=True),
    Switch("continuous batching", _paged, TRANSFORMERS_CB, cuda=False),
    Switch("liger", _liger, LIGER, cuda=True),
    # transformers offloads through pinned host memory, which a CPU-only torch cannot allocate
    Switch("offload", _offload, None, cuda=True),
    Switch("4-bit", _four_bit, BITSANDBYTES, cuda=True),
)


def active_switches(recipe: Any) -> list[tuple[Switch, str]]:
    """``(switch, key)`` for each switch the recipe turns on."""
    found = []
    for switch in SWITCHES:
        key = switch.where(recipe)
        if key:
            found.append((switch, key))
    return found


def missing_requirement(req: Requirement) -> str | None:
    """None when ``req`` is importable at its minimum version, else what is wrong."""
    if importlib.util.find_spec(req.module) is None:
        return f"{req.distribution}, which is not installed"
    try:
        version = metadata.version(req.distribution)
    except metadata.PackageNotFoundError:
        return None  # importable without metadata (a source checkout): trust it
    from packaging.version import Version

    if Version(version) < Version(req.min_version):
        return f"{req.distribution} >= {req.min_version}, found {version}"
    return None


def check_switch_packages(recipe: Any) -> None:
    """Every switch the recipe turns on has its package; else one line naming key and fix."""
    for switch, where in active_switches(recipe):
        if switch.requirement is not None:
            problem = missing_requirement(switch.requirement)
            if problem:
                raise GmrError(f"{recipe.path}: {where} = true{_origin(recipe, where)} needs "
                               f"{problem}: {switch.requirement.pip}")
        if switch.name == "offload" and not _transformers_offloads():
            raise GmrError(f"{recipe.path}: {where} needs a transformers whose "
                           "activation_checkpointing_enable takes offload: "
                           "pip install -U transformers")


def _origin(recipe: Any, where: str) -> str:
    """`` (from preset NAME)`` when a preset set the key."""
    key = where.replace("[", "").replace("]", "").split(".offload")[0]
    origin = recipe.origins.get(key, "")
    return f" (from {origin})" if origin.startswith("preset") else ""


def _transformers_offloads() -> bool:
    import inspect

    from transformers import PreTrainedModel

    enable = getattr(PreTrainedModel, "activation_checkpointing_enable", None)
    return enable is not None and "offload" in inspect.signature(enable).parameters


def check_switch_device(recipe: Any, cuda: bool | None = None) -> None:
    """A switch that needs CUDA is off on a machine without it (one line, before training)."""
    if cuda is None:
        import torch

        cuda = torch.cuda.is_available()
    if cuda:
        return
    for switch, where in active_switches(recipe):
        if switch.cuda:
            raise GmrError(f"{recipe.path}: {where} needs a CUDA GPU and this "
                           "machine has none; turn it off here (--set ...=false)")


# --------------------------------------------------------------------------- runtime


def keep_checkpointing_options(model: Any) -> None:
    """Make ``every_n_layers`` and ``offload`` survive TRL's re-enabling after generation.

    TRL calls ``model.gradient_checkpointing_enable(gradient_checkpointing_kwargs=KW)`` with
    the recipe's whole table; this instance-level wrapper moves the two transformers options
    out of ``KW`` into their own arguments before transformers sees them.
    """
    from transformers import PreTrainedModel

    base = model
    while not isinstance(base, PreTrainedModel) and hasattr(base, "get_base_model"):
        base = base.get_base_model()
    if not isinstance(base, PreTrainedModel) or "gradient_checkpointing_enable" in vars(base):
        return

    def gradient_checkpointing_enable(gradient_checkpointing_kwargs=None, **kwargs):
        options = dict(gradient_checkpointing_kwargs or {})
        for key in ("every_n_layers", "offload"):
            if key in options:
                kwargs.setdefault(key, options.pop(key))
        return PreTrainedModel.gradient_checkpointing_enable(
            base, gradient_checkpointing_kwargs=options or None, **kwargs
        )

    base.gradient_checkpointing_enable = gradient_checkpointing_enable
