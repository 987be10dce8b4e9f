"""Stop sequences: one rule on the three paths (GRPO generation, held-out evaluation, rewards).

The tiny random model writes random text; a frequent letter as the stop sequence makes
completions end early, so each path can be seen to cut where the rule says.
"""

from __future__ import annotations

import pytest

from gamermath.engine.scored_text import ScoredText
from gamermath.engine.stops import StopSequences, cut_completion_ids, stop_aware_trainer_class


@pytest.fixture(scope="module")
def tokenizer(tiny_model):
    from transformers import AutoTokenizer

    return AutoTokenizer.from_pretrained(tiny_model)


def test_text_is_cut_before_the_first_stop():
    stops = StopSequences(("\nQuestion:", "\n\n\n"))
    text = " 6 + 2 = 8.\n#### The final answer is 8\n\nQuestion: Tom has 3 pens\n#### 3"
    assert stops.cut(text) == " 6 + 2 = 8.\n#### The final answer is 8\n"
    assert stops.cut("no stop here") == "no stop here"
    assert StopSequences().cut(text) == text  # no stops: unchanged
    assert not StopSequences() and stops


def test_ids_end_with_the_token_that_completes_the_stop(tokenizer):
    stops = StopSequences(("Question:",))
    text = "12 + 7 = 19\n#### 19\n\nQuestion: What is 6 * 7?"
    ids = tokenizer(text, add_special_tokens=False)["input_ids"]

    def decode(part):
        return tokenizer.decode(list(part), skip_special_tokens=True)

    keep = stops.cut_ids(ids, decode)
    assert "Question:" in decode(ids[:keep])
    assert "Question:" not in decode(ids[: keep - 1])  # the shortest such prefix
    assert stops.cut(decode(ids[:keep])) == "12 + 7 = 19\n#### 19\n\n"
    assert StopSequences(("nowhere",)).cut_ids(ids, decode) == len(ids)
    cut, logprobs = cut_completion_ids(stops, [ids, ids[:3]], [[0.5] * len(ids), [0.1] * 3],
                                       decode)
    assert [len(c) for c in cut] == [keep, 3] and [len(lp) for lp in logprobs] == [keep, 3]


def test_grpo_generation_is_cut_at_the_stop(tiny_model, tmp_path, tokenizer):
    """A real TRL GRPOTrainer step: the ids TRL trains on end at the stop's last token."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM
    from trl import GRPOConfig

    seen: list[tuple[str, list[int]]] = []

    def record(prompts=None, completions=None, completion_ids=None, **kwargs):
        seen.extend(zip(completions, completion_ids, strict=True))
        return [0.0] * len(completions)

    stops = StopSequences(("a",))
    rows = [{"prompt": f"What is {a} + {b}? Answer:"} for a, b in [(12, 7), (30, 4)]]
    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=8, num_generations=4,
        max_completion_length=24, max_steps=2, logging_steps=1, report_to=[], use_cpu=True,
        bf16=False, save_strategy="no", disable_tqdm=True, seed=0,
    )
    trainer = stop_aware_trainer_class()(
        model=AutoModelForCausalLM.from_pretrained(tiny_model), reward_funcs=[record], args=args,
        train_dataset=Dataset.from_list(rows), processing_class=tokenizer, stops=stops,
    )
    trainer.train()
    assert len(seen) == 16
    cut = 0
    for text, ids in seen:
        assert text == tokenizer.decode(ids, skip_special_tokens=True)
        if "a" in text:  # stopped: the stop's last character ends the trained ids
            cut += 1
            assert "a" not in tokenizer.decode(ids[:-1], skip_special_tokens=True)
    assert cut >= 4  # the random model writes an "a" often: the rule was exercised
    lengths = [h["completions/mean_length"] for h in trainer.state.log_history
               if "completions/mean_length" in h]
    assert lengths and max(lengths) < 24


def test_heldout_generation_stops_and_is_cut(tiny_model, tokenizer):
    """Greedy, the tiny model writes newlines: generation ends after the stop, text before it."""
    from transformers import AutoModelForCausalLM

    from gamermath.engine.heldout import HeldoutEvaluator

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    rows = [{"prompt": [{"role": "user", "content": "What is 1 + 2?"}], "answer": "3"}]
    plain = HeldoutEvaluator(rows, tokenizer, max_new_tokens=8)
    stopped = HeldoutEvaluator(rows, tokenizer, max_new_tokens=8,
                               scored_text=ScoredText(StopSequences(("\n\n",))))
    assert plain.generate(model) == ["\n" * 8]
    assert stopped.generate(model) == ["\n\n"]  # generation itself ended at the stop
    metrics, completions = stopped.evaluate(model)
    assert completions == [""] and metrics["heldout/n"] == 1


def test_rewards_read_the_text_before_the_stop():
    got: list[list[str]] = []

    def reward(prompts=None, completions=None, completion_ids=None, **kwargs):
        got.append(completions)
        return [float("####" in c) for c in completions]

    view = ScoredText(StopSequences(("\nQuestion:",)))
    wrapped = view.wrap([reward, reward])
    completions = [" 2 + 2 = 4\n#### The final answer is 4\nQuestion: x\n#### 9", "#### 5"]
    chat = [[{"role": "assistant", "content": c}] for c in completions]
    assert wrapped[0](prompts=["q"] * 2, completions=chat) == [1.0, 1.0]
    wrapped[1](prompts=["q"] * 2, completions=chat)
    assert got[0] == [" 2 + 2 = 4\n#### The final answer is 4", "#### 5"]
    assert got[0] is got[1]  # one scored list per batch, shared by every term
    assert wrapped[0].__name__ == "reward"
