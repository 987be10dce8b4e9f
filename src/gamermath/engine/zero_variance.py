"""Prompts whose completions all score the same: keep, skip or resample them.

GRPO's advantage is a completion's reward relative to its group (the completions of one
prompt). When every completion of a group scores the same, all its advantages are equal
(zero under TRL's group scaling): the group adds no policy gradient, yet costs a forward
and backward pass, and under TRL's token-normalised losses it dilutes the groups that do
carry a signal. TRL 1.16 has no option for this (huggingface/trl#3708 asks for it), so
``[grpo] zero_variance`` does it in a ``GRPOTrainer`` subclass that filters the scored
generation batch before TRL splits it into optimizer micro-batches:

- ``keep``: TRL as is.
- ``skip``: such groups leave the step; the loss is normalised over the groups that remain.
- ``resample``: as ``skip``, then completions are generated for fresh training prompts and
  their informative groups fill the places of the skipped ones, for at most
  ``resample_rounds`` extra generation rounds (the dynamic sampling of DAPO, arXiv
  2503.14476, section 3.2, with a bound on the rounds).

A group is "zero-variance" when its advantages are all equal, which is what makes it carry
no relative signal whatever the reward scaling. A step with no informative group at all
trains on one group (zero advantages: no policy gradient) rather than none. With ``beta >
0`` skipped groups also drop out of the KL term. Every step logs
``zero_variance/groups`` (zero-variance groups among the step's first generation),
``zero_variance/kept_groups`` (groups trained on) and ``zero_variance/rounds``.
"""

from __future__ import annotations

import random
from collections.abc import Sequence
from typing import Any

#: Per-row tensors left-padded (prompt side) and right-padded (completion side), with the
#: value that pads them; the generation batch's other keys are scalars.
PROMPT_SIDE = {"prompt_ids": None, "prompt_mask": 0}
COMPLETION_SIDE = {
    "completion_ids": None,
    "completion_mask": 0,
    "tool_mask": 1,
    "old_per_token_logps": 0.0,
    "sampling_per_token_logps": 0.0,
    "ref_per_token_logps": 0.0,
    "importance_sampling_ratio": 1.0,
}
ROW_KEYS = {"advantages", *PROMPT_SIDE, *COMPLETION_SIDE}
SCALAR_KEYS = {"num_items_in_batch"}


def informative_groups(advantages: Sequence[float], group_size: int,
                       tolerance: float = 1e-6) -> list[bool]:
    """Per group of ``group_size`` consecutive rows: whether its advantages differ."""
    values = [float(a) for a in advantages]
    if group_size < 1 or len(values) % group_size:
        raise ValueError(f"{len(values)} rows do not form groups of {group_size}")
    flags = []
    for start in range(0, len(values), group_size):
        group = values[start : start + group_size]
        flags.append(max(group) - min(group) > tolerance)
    return flags


def rows_of(groups: Sequence[int], group_size: int) -> list[int]:
    """The row indices of the given groups, in order."""
    return [g * group_size + i for g in groups for i in range(group_size)]


def mergeable(batch: dict[str, Any]) -> bool:
    """Whether gmr knows every key of a scored batch (text models; no images)."""
    return set(batch) <= ROW_KEYS | SCALAR_KEYS


def take_rows(batch: dict[str, Any], rows: Sequence[int]) -> dict[str, Any]:
    """The batch restricted to ``rows`` (scalars kept as they are)."""
    import torch

    index = torch.tensor(list(rows), dtype=torch.long)
    out = {}
    for key, value in batch.items():
        if isinstance(value, torch.Tensor) and value.ndim > 0 and key not in SCALAR_KEYS:
            out[key] = value.index_select(0, index.to(value.device))
        else:
            out[key] = value
    return out


def concat_batches(parts: Sequence[dict[str, Any]], pad_token_id: int) -> dict[str, Any]:
    """Scored batches stacked row-wise; prompts re-padded on the left, completions on the right."""
    import torch
    import torch.nn.functional as F

    out: dict[str, Any] = {}
    for key in parts[0]:
        values = [p[key] for p in parts]
        if key in SCALAR_KEYS or values[0] is None:
            out[key] = values[0]
            continue
        if values[0].ndim == 1:
            out[key] = torch.cat(values)
            continue
        width = max(v.shape[1] for v in values)
        pad = PROMPT_SIDE.get(key, COMPLETION_SIDE.get(key))
        fill = pad_token_id if pad is None else pad
        left = key in PROMPT_SIDE
        out[key] = torch.cat([
            F.pad(v, (width - v.shape[1], 0) if left else (0, width - v.shape[1]), value=fill)
            for v in values
        ])
    return out


def loss_tokens(batch: dict[str, Any]):
    """The number of completion tokens the loss counts (TRL's ``num_items_in_batch``)."""
    mask = batch["completion_mask"]
    if batch.get("tool_mask") is not None:
        mask = mask * batch["tool_mask"]
    return mask.sum()


def padding_groups(kept: int, idle: list[int], group_size: int,
                   micro_batches: int) -> list[int] | None:
    """Zero-variance groups to train on anyway so the rows split into ``micro_batches``.

    At least one group is trained on; ``None`` when no choice of idle groups makes the row
    count a positive multiple of ``micro_batches``.
    """
    chosen: list[int] = []
    rows = kept * group_size
    for group in [None, *idle]:
        if group is not None:
            chosen.append(group)
            rows += group_size
        if rows and rows % micro_batches == 0:
            return chosen
    return None


class PromptDrawer:
    """Fresh training prompts for resampling: a seeded endless shuffle of the dataset."""

    def __init__(self, dataset: Any, seed: int) -> None:
        self.dataset = dataset
        self.rng = random.Random(f"gmr-resample:{seed}")
        self.order: list[int] = []

    def draw(self, count: int) -> list[dict[str, Any]]:
        rows = []
        for _ in range(count):
            if not self.order:
                self.order = list(range(len(self.dataset)))
                self.rng.shuffle(self.order)
            rows.append(dict(self.dataset[self.order.pop()]))
        return rows


def filtered_trainer_class(base: type) -> type:
    """A subclass of TRL's ``GRPOTrainer`` (``base``) that applies ``zero_variance``."""

    class ZeroVarianceGRPOTrainer(base):
        """``GRPOTrainer`` whose scored generation batches leave out zero-variance groups."""

        def __init__(self, *args: Any, zero_variance: str = "skip", resample_rounds: int = 2,
                     **kwargs: Any) -> None:
            super().__init__(*args, **kwargs)
            self.zero_variance = zero_variance
            self.resample_rounds = int(resample_rounds)
            self.prompt_drawer = PromptDrawer(self.train_dataset, int(self.args.seed))

        def _generate_and_score_completions(self, inputs):
            batch = super()._generate_and_score_completions(inputs)
            if not self.model.training or self.zero_variance == "keep" or not mergeable(batch):
                return batch
            return self._filter_groups(batch, len(inputs) // self.num_generations)

        def _filter_groups(self, batch: dict[str, Any], wanted: int) -> dict[str, Any]:
            size = self.num_generations
            flags = informative_groups(batch["advantages"].tolist(), size)
            kept = [take_rows(batch, rows_of([g for g, ok in enumerate(flags) if ok], size))]
            have, rounds = sum(flags), 1
            while (self.zero_variance == "resample" and have < wanted
                   and rounds <= self.resample_rounds):
                missing = wanted - have
                fresh = [row for row in self.prompt_drawer.draw(missing) for _ in range(size)]
                extra = super()._generate_and_score_completions(fresh)
                extra_flags = informative_groups(extra["advantages"].tolist(), size)
                good = [g for g, ok in enumerate(extra_flags) if ok][:missing]
                kept.append(take_rows(extra, rows_of(good, size)))
                have += len(good)
                rounds += 1
            idle = [g for g, ok in enumerate(flags) if not ok]
            pad_groups = padding_groups(have, idle, size, int(self.args.steps_per_generation))
            if pad_groups is None:  # cannot split into whole micro-batches: train on all
                return batch
            if pad_groups:
                kept.append(take_rows(batch, rows_of(pad_groups, size)))
            parts = [p for p in kept if p["advantages"].numel()]
            out = concat_batches(parts, self._tokenizer.pad_token_id)
            out["num_items_in_batch"] = loss_tokens(out)
            metrics = self._metrics["train"]
            metrics["zero_variance/groups"].append(float(len(flags) - sum(flags)))
            metrics["zero_variance/kept_groups"].append(float(have))
            metrics["zero_variance/rounds"].append(float(rounds))
            return out

    return ZeroVarianceGRPOTrainer


def check_zero_variance(recipe: Any, world_size: int) -> None:
    """``zero_variance`` other than ``keep`` needs a single training process."""
    mode = recipe.grpo.zero_variance
    if mode != "keep" and world_size > 1:
        from gamermath.errors import GmrError

        raise GmrError(f"{recipe.path}: [grpo].zero_variance = \"{mode}\" runs in a single "
                       f"process; this run has {world_size} (use keep, or one process)")

