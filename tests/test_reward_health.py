"""Reward health in training: the timeout policy seen by TRL, the error-rate warning and the
stop on a reward that fails on every sample (the real GRPO run is in test_reward_trl.py), and
counters kept across a resume."""

from __future__ import annotations

import warnings

import pytest

from gamermath import plugins
from gamermath.errors import GmrError
from gamermath.rewards import faulty
from gamermath.rewards.runner import RewardRunner
from gamermath.rewards.terms import RewardTerm
from gamermath.rewards.trl_adapter import (
    RewardCountersCallback,
    RewardHealthWarning,
    counter_logs,
    counters_from_logs,
    make_reward_funcs,
)
from gamermath.specs import Reward


@pytest.fixture
def test_rewards(monkeypatch):
    """Misbehaving rewards installed in the registry for the duration of a test."""
    installed = {
        "hang-or-raise": Reward("hang-or-raise", faulty.hang_or_raise, "test", columns=(),
                                timeout=1.0),
        "always-raises": Reward("always-raises", faulty.always_raises, "test", columns=()),
    }
    for name, reward in installed.items():
        monkeypatch.setitem(plugins.registry("reward"), name, reward)
    return installed


def test_timeout_policy_is_checked():
    assert RewardTerm("format").timeout_policy == "fallback"
    with pytest.raises(GmrError, match="term 'fmt': timeout_policy must be one of fallback, skip"):
        RewardTerm("format", label="fmt", timeout_policy="ignore")


def test_skip_reports_none_in_every_term_for_a_timed_out_sample(test_rewards):
    terms = [
        RewardTerm("format", weight=0.5),
        RewardTerm("hang-or-raise", timeout_policy="skip"),
        RewardTerm("hang-or-raise", label="strict"),  # the default policy: the fallback
    ]
    completions = ["#### 1", "HANG #### 1", "BOOM #### 1"]
    with RewardRunner(workers=2) as runner:
        funcs, _ = make_reward_funcs(terms, runner)
        per_func = [f(prompts=["q"] * 3, completions=completions) for f in funcs]
        # the format term ran first, yet the timed-out sample is None there too: TRL
        # leaves a sample that every function reports as None out of the group baseline
        assert per_func[0] == [1.0, None, 0.0]
        assert per_func[1] == [pytest.approx(0.994), None, 0.0]  # an error still scores 0
        assert per_func[2] == [pytest.approx(0.994), None, 0.0]
        # the skip term ran once for the whole batch (every function reused its result);
        # the strict term is a term of its own and timed out once more
        assert runner.counters["hang-or-raise"]["timeouts"] == 2
        assert runner.counters["hang-or-raise"]["errors"] == 2


def test_fallback_policy_scores_the_fallback(test_rewards):
    with RewardRunner(workers=1, fallback=-0.5) as runner:
        funcs, _ = make_reward_funcs([RewardTerm("hang-or-raise")], runner)
        assert funcs[0](prompts=["q"], completions=["HANG"]) == [-0.5]


def test_counters_round_trip_through_a_logged_row():
    with RewardRunner(workers=1, initial_counters={"x": {"calls": 3, "errors": 1}}) as runner:
        row = {"step": 7, "loss": 0.1, **counter_logs(runner)}
        assert row["reward_calls/x"] == 3.0 and row["reward_oom/x"] == 0.0
        restored = counters_from_logs(row)
        assert restored["x"]["calls"] == 3 and restored["x"]["errors"] == 1
        assert set(restored["x"]) == {"calls", "timeouts", "errors", "oom", "cpu_limit",
                                      "cache_hits"}
    assert counters_from_logs({"rewards/x/mean": 0.5, "reward_errors/a/b": 2}) == {
        "a/b": {"errors": 2}
    }


class _Control:
    should_training_stop = False


def test_the_guard_warns_once_and_stops_after_n_broken_steps():
    reward = Reward("flaky", faulty.hang_or_raise, "test", columns=())
    with RewardRunner(workers=1) as runner:
        guard = RewardCountersCallback(runner, stop_after_steps=2)
        runner.score(reward, ["ok 1", "BOOM", "ok 2"], [{}] * 3)  # 1 of 3 failed: no warning
        with warnings.catch_warnings(record=True) as caught:
            warnings.simplefilter("always")
            assert guard.check(1) is None
            runner.score(reward, ["BOOM a", "BOOM b", "ok 3"], [{}] * 3)  # 2 of 3
            assert guard.check(2) is None
            runner.score(reward, ["BOOM c", "BOOM d"], [{}] * 2)  # 2 of 2, streak 1
            assert guard.check(3) is None
            assert guard.check(4) is None  # a step that did not score the reward
            runner.score(reward, ["BOOM e"], [{}])  # streak 2: stop
            error = guard.check(5)
        health = [w for w in caught if issubclass(w.category, RewardHealthWarning)]
        assert len(health) == 1
        assert str(health[0].message).startswith(
            "reward 'flaky' failed on 2 of 3 samples at step 2 (2 errors; last: "
            "RuntimeError: boom); failed samples score the fallback"
        )
        assert isinstance(error, GmrError) and error is guard.failure
        assert error.format_message() == (
            "reward 'flaky' failed on every sample for 2 steps in a row at step 5 (1 errors; "
            "last: RuntimeError: boom); training stopped: fix the reward or its options"
        )
        control = _Control()
        with pytest.raises(GmrError, match="failed on every sample"):
            guard.on_train_end(None, None, control)
