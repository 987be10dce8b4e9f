"""GPU cards by the name a user types, and the memory the CUDA runtime takes on each."""

from __future__ import annotations

import re
from dataclasses import dataclass

from gamermath.errors import GmrError

GIB = 1024**3
#: the CUDA context and kernels: memory on the card that PyTorch's counters do not report
CUDA_CONTEXT_BYTES = GIB // 2


@dataclass(frozen=True)
class GpuCard:
    name: str
    memory_gb: float  # as marketed: decimal-ish "GB" that the driver reports as GiB


#: consumer cards by the name a user types (lower case, spaces and dashes ignored)
GPU_CARDS: dict[str, GpuCard] = {
    "rtx3060": GpuCard("RTX 3060", 12),
    "rtx3070": GpuCard("RTX 3070", 8),
    "rtx3080": GpuCard("RTX 3080", 10),
    "rtx3080ti": GpuCard("RTX 3080 Ti", 12),
    # the 16 GB part: arXiv 2506.08935's abstract says "RTX 3080 Ti of 16GB memory"
    "rtx3080tilaptop": GpuCard("RTX 3080 Ti Laptop", 16),
    "rtx3090": GpuCard("RTX 3090", 24),
    "rtx4060": GpuCard("RTX 4060", 8),
    "rtx4060ti": GpuCard("RTX 4060 Ti", 16),
    "rtx4070": GpuCard("RTX 4070", 12),
    "rtx4070ti": GpuCard("RTX 4070 Ti", 12),
    "rtx4080": GpuCard("RTX 4080", 16),
    "rtx4090": GpuCard("RTX 4090", 24),
    "rtx5070": GpuCard("RTX 5070", 12),
    "rtx5080": GpuCard("RTX 5080", 16),
    "rtx5090": GpuCard("RTX 5090", 32),
    "rx7900xtx": GpuCard("RX 7900 XTX", 24),
}


def find_card(name: str) -> GpuCard:
    """A card from ``GPU_CARDS`` by a loosely typed name (``"RTX 4090"``, ``4090``)."""
    key = re.sub(r"[\s_-]", "", name.lower())
    if key in GPU_CARDS:
        return GPU_CARDS[key]
    for candidate in (f"rtx{key}", f"rx{key}"):
        if candidate in GPU_CARDS:
            return GPU_CARDS[candidate]
    names = ", ".join(card.name for card in GPU_CARDS.values())
    raise GmrError(f"unknown GPU '{name}'; known: {names} (or give --gpu-mem GB)")



def gib(n: float) -> str:
    return f"{n / GIB:.2f} GB"
