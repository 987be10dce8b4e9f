"""Worker limits with real processes: memory (RLIMIT_AS), CPU time (RLIMIT_CPU), Ctrl-C
(a real SIGINT sent to the whole process group), and counters that continue a resumed run."""

from __future__ import annotations

import json
import os
import signal
import subprocess
import sys
import textwrap
import time

import pytest

from gamermath.errors import GmrError
from gamermath.rewards import faulty
from gamermath.rewards.runner import COUNTERS, RewardRunner
from gamermath.specs import Reward


def make(score, name, timeout=20.0) -> Reward:
    return Reward(name=name, score=score, description="test", columns=(), timeout=timeout)


def test_a_sample_over_the_memory_limit_scores_the_fallback_and_counts_oom():
    reward = make(faulty.memory_hog, "hog")
    with RewardRunner(workers=1, memory_limit_mb=256, fallback=-1.0) as runner:
        started = time.perf_counter()
        results = runner.results(reward, ["fine", "EAT it all", "still fine"], [{}] * 3)
        assert time.perf_counter() - started < 15
        assert [r.status for r in results] == ["ok", "oom", "ok"]
        assert results[1].reward == -1.0 and "memory limit of 256 MiB" in results[1].detail
        assert results[2].reward == pytest.approx(1 - len("still fine") / 1000)
        counts = runner.counters["hog"]
        assert counts["oom"] == 1 and counts["errors"] == 0 and counts["calls"] == 3
        # the worker was replaced: the next batch is served normally
        assert runner.score(reward, ["again"], [{}]) == [pytest.approx(0.995)]


def test_a_sample_over_the_cpu_time_limit_is_killed_and_counted():
    reward = make(faulty.cpu_spin, "spinner", timeout=60.0)  # the wall clock would wait 60 s
    with RewardRunner(workers=1, cpu_time_limit_s=1) as runner:
        started = time.perf_counter()
        results = runner.results(reward, ["SPIN", "short"], [{}] * 2)
        assert time.perf_counter() - started < 20
        assert [r.status for r in results] == ["cpu_limit", "ok"]
        assert "CPU-time limit of 1 s" in results[0].detail
        assert runner.counters["spinner"]["cpu_limit"] == 1
        assert runner.counters["spinner"]["timeouts"] == 0


def test_the_cpu_allowance_is_per_sample_not_per_worker():
    """Many samples that each use a little CPU never add up to the limit."""
    reward = make(faulty.length_score, "cheap")
    with RewardRunner(workers=1, cpu_time_limit_s=1) as runner:
        for batch in range(3):
            texts = [f"{batch}-{i}" * 50 for i in range(200)]
            results = runner.results(reward, texts, [{}] * 200, use_cache=False)
            assert {r.status for r in results} == {"ok"}


@pytest.mark.parametrize(
    ("kwargs", "message"),
    [
        ({"memory_limit_mb": 0}, "memory limit 0 must be a whole number of MiB"),
        ({"memory_limit_mb": 1.5}, "memory limit 1.5"),
        ({"cpu_time_limit_s": float("nan")}, "CPU-time limit nan must be a positive number"),
        ({"cpu_time_limit_s": -1}, "CPU-time limit -1"),
        ({"cpu_time_limit_s": float("inf")}, "CPU-time limit inf"),
    ],
)
def test_bad_limits_are_one_line_errors(kwargs, message):
    with pytest.raises(GmrError, match=message):
        RewardRunner(workers=1, **kwargs)


@pytest.mark.parametrize("timeout", [0.0, -1.0, float("nan"), float("inf")])
def test_a_timeout_that_is_not_a_positive_number_is_refused(timeout):
    reward = make(faulty.length_score, "timed")
    with RewardRunner(workers=1) as runner, pytest.raises(GmrError, match="must be a positive"):
        runner.score(reward, ["x"], [{}], timeout=timeout)


def test_limits_can_be_switched_off():
    reward = make(faulty.length_score, "unlimited")
    with RewardRunner(workers=1, memory_limit_mb=None, cpu_time_limit_s=None) as runner:
        assert runner.score(reward, ["x"], [{}]) == [0.999]


def test_counters_start_from_given_values_and_keep_counting():
    saved = {"raiser": {"calls": 40, "errors": 40, "timeouts": 2, "cache_hits": 7, "bogus": 1}}
    reward = make(faulty.always_raises, "raiser")
    with RewardRunner(workers=1, initial_counters=saved) as runner:
        assert runner.counters["raiser"] == {**dict.fromkeys(COUNTERS, 0), "calls": 40,
                                             "errors": 40, "timeouts": 2, "cache_hits": 7}
        runner.score(reward, ["a", "b"], [{}, {}])
        assert runner.counters["raiser"]["calls"] == 42
        assert runner.counters["raiser"]["errors"] == 42
        runner.restore_counters({"raiser": {"errors": 5.0}})
        assert runner.counters["raiser"]["errors"] == 5
        assert runner.counters["raiser"]["calls"] == 42


def test_failures_count_every_sample_they_score():
    """Eight copies of one failing answer in a GRPO group are eight errors (error rates are
    per sample), though the reward ran once."""
    reward = make(faulty.always_raises, "group-raiser")
    with RewardRunner(workers=1) as runner:
        results = runner.results(reward, ["same"] * 8, [{}] * 8)
        assert [r.status for r in results] == ["error"] * 8
        assert sum(not r.cached for r in results) == 1
        assert runner.counters["group-raiser"]["errors"] == 8


CTRL_C_SCRIPT = textwrap.dedent(
    """
    import json, signal, sys
    from gamermath.rewards import faulty
    from gamermath.rewards.runner import RewardRunner
    from gamermath.specs import Reward

    mode = sys.argv[1]
    seen = []
    if mode == "handled":  # a trainer that finishes the step on Ctrl-C
        signal.signal(signal.SIGINT, lambda *args: seen.append("SIGINT"))
    reward = Reward("slow", faulty.slow_success, "test", columns=(), timeout=20)
    with RewardRunner(workers=2) as runner:
        runner.score(reward, ["warm-a", "warm-b"], [{}, {}])
        print("ready", flush=True)
        try:
            results = runner.results(reward, [f"s{i}" for i in range(8)], [{}] * 8)
        except KeyboardInterrupt:
            seen.append("KeyboardInterrupt")
            results = []
        after = runner.results(reward, [f"t{i}" for i in range(4)], [{}] * 4)
        print(json.dumps({
            "statuses": [r.status for r in results], "after": [r.status for r in after],
            "values": [r.reward for r in after], "seen": seen, "counters": runner.counters["slow"],
        }), flush=True)
    """
)


@pytest.mark.parametrize("mode", ["handled", "default"])
def test_ctrl_c_to_the_process_group_never_scores_a_sample_as_an_error(tmp_path, mode):
    script = tmp_path / "ctrl_c.py"
    script.write_text(CTRL_C_SCRIPT, encoding="utf-8")
    proc = subprocess.Popen(
        [sys.executable, str(script), mode], stdout=subprocess.PIPE, stderr=subprocess.PIPE,
        text=True, start_new_session=True,
    )
    try:
        assert proc.stdout.readline().strip() == "ready"
        time.sleep(0.8)  # the batch of 8 half-second samples on 2 workers takes 2 s
        os.killpg(proc.pid, signal.SIGINT)  # what a terminal's Ctrl-C does: the whole group
        out, err = proc.communicate(timeout=60)
    finally:
        if proc.poll() is None:
            os.killpg(proc.pid, signal.SIGKILL)
    assert proc.returncode == 0, err
    report = json.loads(out.strip().splitlines()[-1])
    counters = report["counters"]
    assert counters["errors"] == 0 and counters["timeouts"] == 0
    assert report["after"] == ["ok"] * 4 and report["values"] == [1.0] * 4
    if mode == "handled":  # the trainer chose to go on: the batch completes, all ok
        assert report["seen"] == ["SIGINT"]
        assert report["statuses"] == ["ok"] * 8
    else:  # the trainer stops: the batch is abandoned, no stale result reaches the next
        assert report["seen"] == ["KeyboardInterrupt"]
        assert report["statuses"] == []
