"""``[grpo] zero_variance``: finding groups without a GRPO signal, and re-forming the batch."""

from __future__ import annotations

import pytest
import torch

from gamermath.engine.zero_variance import (
    PromptDrawer,
    concat_batches,
    informative_groups,
    loss_tokens,
    mergeable,
    padding_groups,
    rows_of,
    take_rows,
)


def test_a_group_is_informative_when_its_advantages_differ():
    advantages = [0.0, 0.0, 0.0, 0.0, 0.7, -0.7, 0.0, 0.0, 0.5, 0.5, 0.5, 0.5]
    assert informative_groups(advantages, 4) == [False, True, False]
    assert informative_groups([1e-9, 0.0, 0.0, 0.0], 4) == [False]
    with pytest.raises(ValueError, match="groups of 3"):
        informative_groups(advantages[:10], 3)


def test_padding_groups_keep_whole_micro_batches_and_at_least_one_group():
    assert padding_groups(3, [0, 4], 8, 1) == []
    assert padding_groups(0, [0, 4], 8, 1) == [0]  # nothing informative: train on one group
    assert padding_groups(1, [0, 4], 8, 2) == []  # 8 rows split in 2
    assert padding_groups(1, [0, 4], 4, 3) == [0, 4]  # 4 -> 12 rows, a multiple of 3
    assert padding_groups(1, [], 4, 3) is None


def batch(prompt_lengths, completion_lengths, advantages, pad=0):
    """A scored batch as GRPOTrainer returns it: left-padded prompts, right-padded completions."""
    width_p, width_c = max(prompt_lengths), max(completion_lengths)
    prompt_ids = torch.full((len(prompt_lengths), width_p), pad)
    prompt_mask = torch.zeros_like(prompt_ids)
    completion_ids = torch.full((len(completion_lengths), width_c), pad)
    completion_mask = torch.zeros_like(completion_ids)
    for i, (p, c) in enumerate(zip(prompt_lengths, completion_lengths, strict=True)):
        prompt_ids[i, width_p - p:] = torch.arange(1, p + 1) + 100 * i
        prompt_mask[i, width_p - p:] = 1
        completion_ids[i, :c] = torch.arange(1, c + 1) + 100 * i + 50
        completion_mask[i, :c] = 1
    out = {"prompt_ids": prompt_ids, "prompt_mask": prompt_mask,
           "completion_ids": completion_ids, "completion_mask": completion_mask,
           "advantages": torch.tensor(advantages, dtype=torch.float)}
    out["num_items_in_batch"] = completion_mask.sum()
    return out


def test_take_rows_and_concat_repad_prompts_left_and_completions_right():
    first = batch([2, 3], [4, 1], [0.5, -0.5], pad=-1)
    second = batch([5], [6], [1.0], pad=-1)
    kept = take_rows(first, [1])
    assert kept["prompt_ids"].tolist() == [[101, 102, 103]]
    assert kept["num_items_in_batch"] is first["num_items_in_batch"]
    merged = concat_batches([first, second], pad_token_id=-1)
    assert merged["prompt_ids"].tolist() == [[-1, -1, -1, 1, 2], [-1, -1, 101, 102, 103],
                                             [1, 2, 3, 4, 5]]
    assert merged["prompt_mask"].tolist() == [[0, 0, 0, 1, 1], [0, 0, 1, 1, 1], [1] * 5]
    assert merged["completion_ids"][1].tolist() == [151, -1, -1, -1, -1, -1]
    assert merged["completion_mask"].sum(dim=1).tolist() == [4, 1, 6]
    assert merged["advantages"].tolist() == [0.5, -0.5, 1.0]
    assert int(loss_tokens(merged)) == 11
    assert rows_of([0, 2], 3) == [0, 1, 2, 6, 7, 8]


def test_unknown_keys_are_not_merged():
    assert mergeable(batch([1], [1], [0.0]))
    assert not mergeable({**batch([1], [1], [0.0]), "pixel_values": torch.zeros(1)})


def test_prompt_drawer_is_seeded_and_covers_the_dataset():
    data = [{"prompt": f"q{i}", "answer": str(i)} for i in range(5)]
    a, b = PromptDrawer(data, seed=3), PromptDrawer(data, seed=3)
    first = a.draw(5)
    assert first == b.draw(5)
    assert sorted(r["answer"] for r in first) == ["0", "1", "2", "3", "4"]
    assert len(a.draw(7)) == 7  # wraps around with a new shuffle

