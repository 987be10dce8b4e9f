"""CPU threads for torch: one count for training, another while generating.

On a CPU, generation decodes one token at a time through many small operations; with
several intra-op threads each of them waits at a barrier for the slowest thread, and when
another process holds a core that wait is a scheduler tick. Measured on a 2-core VM with
the demo's SmolLM2-135M: on an idle machine two threads run a GRPO step about 1.9x faster
than one, generation included; with one other busy process, two threads generated 4-9x
slower than one. ``[run] threads`` sets the count for training, ``[run]
generation_threads`` the count while GRPO samples completions and while held-out answers
are generated: 1 keeps generation fast on a machine that is doing other work.
"""

from __future__ import annotations

from collections.abc import Iterator
from contextlib import contextmanager


@contextmanager
def torch_threads(count: int | None) -> Iterator[None]:
    """``torch.set_num_threads(count)`` inside the block (nothing when ``count`` is None)."""
    if count is None:
        yield
        return
    import torch

    before = torch.get_num_threads()
    torch.set_num_threads(int(count))
    try:
        yield
    finally:
        torch.set_num_threads(before)


def generation_threads_class(base: type, count: int) -> type:
    """A subclass of the GRPO trainer ``base`` that samples completions on ``count`` threads."""

    class ThreadedGenerationGRPOTrainer(base):
        def _generate(self, prompts):
            with torch_threads(count):
                return super()._generate(prompts)

    return ThreadedGenerationGRPOTrainer
