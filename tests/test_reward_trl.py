"""The TRL adapter: reward functions per term, gating, column errors, a real GRPOTrainer step,
and the error-rate guard stopping a real GRPO run."""

from __future__ import annotations

import pytest

from gamermath import plugins
from gamermath.errors import GmrError
from gamermath.rewards import faulty
from gamermath.rewards.runner import RewardRunner
from gamermath.rewards.terms import RewardTerm
from gamermath.rewards.trl_adapter import (
    RewardCountersCallback,
    RewardHealthWarning,
    completion_text,
    counter_logs,
    make_reward_funcs,
)
from gamermath.specs import Reward

CARD_TERMS = [
    RewardTerm("exact-answer", weight=1.0, gate="format-think"),
    RewardTerm("format", weight=0.3, options={"think": 1.0, "hash": 0.0}, label="format-think"),
    RewardTerm("format", weight=0.2, options={"think": 0.0, "hash": 1.0}, label="format-hash"),
]


@pytest.fixture(scope="module")
def runner():
    with RewardRunner(workers=2) as shared:
        yield shared


def test_functions_are_named_by_label_and_weights_follow_terms(runner):
    funcs, weights = make_reward_funcs(CARD_TERMS, runner)
    assert [f.__name__ for f in funcs] == ["exact-answer", "format-think", "format-hash"]
    assert weights == [1.0, 0.3, 0.2]


def test_conversational_and_plain_completions_score_the_same(runner):
    funcs, _ = make_reward_funcs([RewardTerm("exact-answer")], runner)
    texts = ["<think>6*7</think>\n#### 42", "The answer is 41."]
    chat = [[{"role": "assistant", "content": t}] for t in texts]
    plain = funcs[0](prompts=["q", "q"], completions=texts, answer=["42", "42"])
    conversational = funcs[0](
        prompts=[[{"role": "user", "content": "q"}]] * 2,
        completions=chat,
        completion_ids=[[1], [2]],
        answer=["#### 42", "#### 42"],
        trainer_state=None,
        log_extra=None,
        log_metric=None,
    )
    assert plain == conversational == [1.0, 0.0]


def test_completion_text_handles_message_shapes():
    assert completion_text("plain") == "plain"
    assert completion_text([{"role": "assistant", "content": "a"}, {"content": "b"}]) == "ab"
    parts = [{"role": "assistant", "content": [{"type": "text", "text": "x"}]}]
    assert completion_text(parts) == "x"
    assert completion_text(None) == ""


def test_gate_zeroes_correctness_without_the_format(runner):
    funcs, weights = make_reward_funcs(CARD_TERMS, runner)
    completions = [
        "<think>6*7=42</think>\n#### 42",  # right, formatted
        "6*7=42\n#### 42",  # right, no think block: gated to 0
        "<think>6*7=41</think>\n#### 41",  # formatted, wrong
    ]
    answers = ["#### 42"] * 3
    per_func = [f(prompts=["q"] * 3, completions=completions, answer=answers) for f in funcs]
    assert per_func[0] == [1.0, 0.0, 0.0]
    assert per_func[1] == [1.0, 0.0, 1.0]
    assert per_func[2] == [1.0, 1.0, 1.0]
    totals = [sum(w * col[i] for w, col in zip(weights, per_func, strict=True)) for i in range(3)]
    assert totals == pytest.approx([1.5, 0.2, 0.5])


def test_gate_threshold_below_full_marks(runner):
    terms = [
        RewardTerm("exact-answer", gate="format", gate_threshold=0.5),
        RewardTerm("format", weight=0.0, options={"preset": "qwen3.5-card"}),
    ]
    funcs, _ = make_reward_funcs(terms, runner)
    # the card's format gives at most 0.5: with the default threshold (1.0) nothing would pass
    completions = ["<think>x</think>\n#### 42", "<think>x</think> 42"]
    assert funcs[0](prompts=["q"] * 2, completions=completions, answer=["42"] * 2) == [1.0, 0.0]


def test_a_missing_dataset_column_is_named(runner):
    funcs, _ = make_reward_funcs([RewardTerm("exact-answer", label="correct")], runner)
    with pytest.raises(GmrError, match="'correct'.*needs dataset column 'answer'.*solution"):
        funcs[0](prompts=["q"], completions=["#### 1"], solution=["1"], trainer_state=None)


@pytest.mark.parametrize(
    ("terms", "message"),
    [
        ([RewardTerm("format"), RewardTerm("format")], "label 'format' is used by two terms"),
        ([RewardTerm("exact-answer", gate="fmt")], "gate 'fmt' is not a reward label"),
        ([RewardTerm("exact-answer", gate="fmt"), RewardTerm("format", label="fmt", gate="x"),
          RewardTerm("format", label="x")], "gate 'fmt' is gated itself; gates may not be "
         "chained"),
        ([RewardTerm("exact-anser")], "unknown reward 'exact-anser'. Did you mean 'exact-answer'"),
        ([RewardTerm("format", options={"thinks": 1})], "reward 'format' has no option 'thinks'"),
    ],
)
def test_bad_mixes_fail_before_training(runner, terms, message):
    with pytest.raises(GmrError, match=message):
        make_reward_funcs(terms, runner)


def tiny_grpo_trainer(tiny_model, tmp_path, rows, funcs, weights, callbacks, max_steps=1,
                      max_completion_length=8):
    """A real TRL GRPOTrainer on the tiny model: 4 generations per prompt, 4 per step."""
    from datasets import Dataset
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    args = GRPOConfig(
        output_dir=str(tmp_path / "out"), per_device_train_batch_size=4, num_generations=4,
        max_completion_length=max_completion_length, max_steps=max_steps, logging_steps=1,
        report_to=[], use_cpu=True, bf16=False, save_strategy="no", disable_tqdm=True, seed=0,
        reward_weights=weights,
    )
    return GRPOTrainer(
        model=AutoModelForCausalLM.from_pretrained(tiny_model),
        reward_funcs=funcs,
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(tiny_model),
        callbacks=callbacks,
    )


def train_until_the_guard_stops(tiny_model, tmp_path, terms, workers):
    """A real GRPO run of up to 10 steps that the reward guard (3 steps) must stop:
    ``(trainer, runner, the GmrError it stopped with)``."""
    rows = [{"prompt": f"What is {a} + 7? Answer:"} for a in range(8)]
    with RewardRunner(workers=workers) as runner:
        funcs, weights = make_reward_funcs(terms, runner)
        guard = RewardCountersCallback(runner, stop_after_steps=3)
        trainer = tiny_grpo_trainer(
            tiny_model, tmp_path, rows, funcs, weights, [guard], max_steps=10,
            max_completion_length=4,
        )
        with pytest.raises(GmrError) as raised:
            trainer.train()
    return trainer, runner, raised.value


def test_a_real_grpo_step_logs_the_counters(tiny_model, tmp_path):
    rows = [
        {"prompt": "What is 12 + 7? Answer:", "answer": "#### 19"},
        {"prompt": "What is 6 * 7? Answer:", "answer": "#### 42"},
    ]
    terms = [
        RewardTerm("exact-answer", weight=1.0, options={"last_number_fallback": True}),
        RewardTerm("format", weight=0.5),
    ]
    seen: list[int] = []
    with RewardRunner(workers=2) as runner:
        funcs, weights = make_reward_funcs(terms, runner)
        original = funcs[0]

        def counting(*args, **kwargs):  # records the batch TRL hands the adapter
            seen.append(len(kwargs["completions"]))
            return original(*args, **kwargs)

        counting.__name__ = original.__name__
        funcs[0] = counting
        trainer = tiny_grpo_trainer(
            tiny_model, tmp_path, rows, funcs, weights, [RewardCountersCallback(runner)]
        )
        trainer.train()
        logged = next(h for h in trainer.state.log_history if "reward_timeouts/exact-answer" in h)
        assert seen and all(n == 4 for n in seen)
        assert runner.counters["exact-answer"]["calls"] == sum(seen)
        assert runner.counters["format"]["calls"] == sum(seen)
        for name in ("exact-answer", "format"):
            assert logged[f"reward_timeouts/{name}"] == 0.0
            assert logged[f"reward_errors/{name}"] == 0.0
            assert f"reward_cache_hits/{name}" in logged
            assert f"rewards/{name}/mean" in logged
        assert counter_logs(runner)["reward_errors/format"] == 0.0


def test_a_real_grpo_run_stops_on_a_reward_that_always_raises(
    tiny_model, tmp_path, monkeypatch, recwarn
):
    """The error-rate guard in a real GRPO run: one warning, then a stop after 3 steps."""
    broken = Reward("always-raises", faulty.always_raises, "test", columns=())
    monkeypatch.setitem(plugins.registry("reward"), broken.name, broken)
    terms = [RewardTerm("always-raises"), RewardTerm("format", weight=0.5)]
    trainer, runner, error = train_until_the_guard_stops(tiny_model, tmp_path, terms, workers=1)
    message = error.format_message()
    assert message.startswith(
        "reward 'always-raises' failed on every sample for 3 steps in a row at step 3 "
        "(4 errors; last: ValueError: cannot score"
    )
    assert trainer.state.global_step == 3  # stopped, not the 10 steps asked for
    counts = runner.counters["always-raises"]
    assert counts["calls"] == counts["errors"] == 12
    assert runner.counters["format"]["errors"] == 0
    logged = [h for h in trainer.state.log_history if "loss" in h]
    assert [h["reward_errors/always-raises"] for h in logged] == [4.0, 8.0, 12.0]
    health = [w for w in recwarn if issubclass(w.category, RewardHealthWarning)]
    assert len(health) == 1 and "'always-raises' failed on 4 of 4 samples at step 1" in str(
        health[0].message
    )


def test_a_real_grpo_run_stops_when_a_skip_term_times_out_on_every_sample(
    tiny_model, tmp_path, monkeypatch, caplog
):
    """Under ``timeout_policy = "skip"`` a reward that always times out leaves every sample
    unscorable (loss 0): the guard stops the run after 3 steps with one line, and TRL's
    multi-line "All reward functions returned None" dump is one line, said once."""
    slow = Reward("sleeps", faulty.sleep_forever, "test", columns=(), timeout=0.5)
    monkeypatch.setitem(plugins.registry("reward"), slow.name, slow)
    terms = [RewardTerm("sleeps", timeout_policy="skip"), RewardTerm("format", weight=0.5)]
    caplog.set_level("WARNING", logger="trl.trainer.grpo_trainer")
    trainer, runner, error = train_until_the_guard_stops(tiny_model, tmp_path, terms, workers=4)
    assert trainer.state.global_step == 3  # stopped, not the 10 steps asked for
    assert runner.counters["sleeps"]["timeouts"] == runner.counters["sleeps"]["calls"] == 12
    message = error.format_message()
    assert message.startswith(
        "reward 'sleeps' failed on every sample for 3 steps in a row at step 3 (4 timeouts")
    assert 'timeout_policy "skip", so every sample was unscorable' in message
    assert "\n" not in message
    trl_lines = [r.getMessage() for r in caplog.records if r.name == "trl.trainer.grpo_trainer"]
    assert not any("All reward functions returned None" in m for m in trl_lines)
    unscorable = [m for m in trl_lines if "unscorable" in m]
    assert len(unscorable) == 1 and "\n" not in unscorable[0]


def test_the_fallback_policy_keeps_training_through_timeouts(tiny_model, tmp_path, monkeypatch):
    """Timeouts under the default policy score the fallback and never stop the run."""
    slow = Reward("sleeps", faulty.sleep_forever, "test", columns=(), timeout=0.5)
    monkeypatch.setitem(plugins.registry("reward"), slow.name, slow)
    rows = [{"prompt": f"What is {a} + 7? Answer:"} for a in range(8)]
    terms = [RewardTerm("sleeps"), RewardTerm("format", weight=0.5)]
    with RewardRunner(workers=4) as runner:
        funcs, weights = make_reward_funcs(terms, runner)
        trainer = tiny_grpo_trainer(
            tiny_model, tmp_path, rows, funcs, weights,
            [RewardCountersCallback(runner, stop_after_steps=1)], max_steps=2,
            max_completion_length=4,
        )
        with pytest.warns(RewardHealthWarning):
            trainer.train()
        assert trainer.state.global_step == 2
        assert runner.counters["sleeps"]["timeouts"] == 8
