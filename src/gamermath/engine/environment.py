"""What a run ran on: package versions, device, dtype, attention, plugins."""

from __future__ import annotations

import os
import platform
import sys
from importlib.metadata import PackageNotFoundError, version
from typing import Any

PACKAGES = ("gamermath", "torch", "transformers", "trl", "peft", "accelerate", "datasets",
            "math-verify", "flash-attn", "bitsandbytes", "deepspeed")


def package_versions() -> dict[str, str | None]:
    """Installed versions of the packages that decide a run's numbers (None: absent)."""
    out: dict[str, str | None] = {}
    for name in PACKAGES:
        try:
            out[name] = version(name)
        except PackageNotFoundError:
            out[name] = None
    return out


def device_info() -> dict[str, Any]:
    """The accelerator (CUDA name and memory) or the CPU and its usable cores."""
    import torch

    info: dict[str, Any] = {
        "cuda": torch.cuda.is_available(),
        "torch_threads": torch.get_num_threads(),
    }
    if torch.cuda.is_available():
        props = torch.cuda.get_device_properties(0)
        info.update(
            device="cuda",
            name=props.name,
            memory_gb=round(props.total_memory / 2**30, 1),
            count=torch.cuda.device_count(),
            cuda_version=torch.version.cuda,
        )
    else:
        try:
            cores = len(os.sched_getaffinity(0))
        except (AttributeError, OSError):
            cores = os.cpu_count() or 1
        info.update(device="cpu", name=platform.processor() or platform.machine(), cores=cores)
    return info


def plugin_versions() -> list[dict[str, Any]]:
    """Every loaded gmr plugin: entry point, package, version, what it registers."""
    from gamermath import plugins

    return [
        {"name": p.name, "package": p.package, "version": p.version, "registers": p.registers}
        for p in plugins.plugin_table()
    ]


def capture(model_record: dict[str, Any] | None = None, world_size: int = 1) -> dict[str, Any]:
    """The environment record written to ``environment.json``."""
    return {
        "python": sys.version.split()[0],
        "platform": platform.platform(),
        "packages": package_versions(),
        "device": device_info(),
        "model": model_record or {},
        "world_size": world_size,
        "plugins": plugin_versions(),
        "argv": sys.argv,
    }
