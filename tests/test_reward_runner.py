"""The reward runner with real worker processes: timeouts, crashes, errors, cache, contract."""

from __future__ import annotations

import sys
import threading
import time

import pytest

from gamermath import plugins
from gamermath.errors import GmrError
from gamermath.rewards import faulty
from gamermath.rewards.runner import RewardRunner
from gamermath.specs import Reward

TIMEOUT = 1.0


def make(score, name="faulty", **kwargs) -> Reward:
    return Reward(name=name, score=score, description="test", columns=(), **kwargs)


@pytest.fixture(scope="module")
def runner():
    with RewardRunner(workers=2) as shared:
        # a trainer starts its pool once; the timing tests below measure a started pool
        shared.score(make(faulty.length_score, name="start"), ["a", "b"], [{}, {}])
        yield shared


def test_a_hanging_and_a_raising_sample_in_a_batch_of_64(runner):
    reward = make(faulty.hang_or_raise, name="hang-or-raise", timeout=TIMEOUT)
    completions = [f"sample {i}" for i in range(64)]
    completions[10] = "HANG here"
    completions[40] = "BOOM here"
    started = time.perf_counter()
    results = runner.results(reward, completions, [{}] * 64)
    took = time.perf_counter() - started
    assert took < TIMEOUT + 2
    assert len(results) == 64
    assert results[10].status == "timeout" and results[10].reward == 0.0
    assert results[40].status == "error" and "RuntimeError: boom" in results[40].detail
    assert results[40].reward == 0.0
    ok = [r for i, r in enumerate(results) if i not in (10, 40)]
    assert all(r.status == "ok" for r in ok)
    assert [r.reward for r in ok[:2]] == [1 - len("sample 0") / 1000, 1 - len("sample 1") / 1000]
    counts = runner.counters["hang-or-raise"]
    assert counts["timeouts"] == 1 and counts["errors"] == 1 and counts["calls"] == 64

    # the runner keeps serving: the next batch is fast and clean
    started = time.perf_counter()
    again = runner.score(reward, [f"next {i}" for i in range(64)], [{}] * 64)
    assert time.perf_counter() - started < TIMEOUT + 2
    assert again == [1 - len(f"next {i}") / 1000 for i in range(64)]
    assert runner.counters["hang-or-raise"]["timeouts"] == 1


def test_every_worker_hanging_still_returns_on_time():
    reward = make(faulty.sleep_forever, name="sleeper", timeout=TIMEOUT)
    with RewardRunner(workers=4) as runner:
        started = time.perf_counter()
        values = runner.score(reward, [f"s{i}" for i in range(4)], [{}] * 4)
        assert time.perf_counter() - started < TIMEOUT + 2
        assert values == [0.0] * 4
        assert runner.counters["sleeper"]["timeouts"] == 4


def test_a_worker_that_exits_is_an_error_and_is_replaced(runner):
    reward = make(faulty.hang_or_raise, name="dier", timeout=TIMEOUT)
    results = runner.results(reward, ["ok 1", "DIE now", "ok 2"], [{}] * 3)
    assert [r.status for r in results] == ["ok", "error", "ok"]
    assert "worker process died" in results[1].detail
    assert runner.score(reward, ["fine"], [{}]) == [1 - 4 / 1000]


@pytest.mark.parametrize(
    ("score", "detail"),
    [
        (faulty.returns_nan, "not a finite float"),
        (faulty.returns_text, "returned str, not a float"),
        (faulty.always_raises, "ValueError: cannot score"),
    ],
)
def test_bad_return_values_become_counted_errors(runner, score, detail):
    reward = make(score, name=f"bad-{score.__name__}")
    results = runner.results(reward, ["a", "b"], [{}, {}])
    assert [r.status for r in results] == ["error", "error"]
    assert detail in results[0].detail
    assert runner.counters[reward.name]["errors"] == 2


def test_fallback_value_is_configurable():
    with RewardRunner(workers=1, fallback=-1.0) as runner:
        reward = make(faulty.always_raises, name="raiser")
        assert runner.score(reward, ["x"], [{}]) == [-1.0]


def test_identical_answers_in_a_group_are_verified_once(runner):
    reward = plugins.get("reward", "exact-answer")
    group = [f"Reasoning path {k}: ... so\n#### 1,080" for k in range(6)]
    group += ["I think\n#### 1080.00", "#### 999"]
    columns = [{"answer": "blah #### 1,080"}] * 8
    before = dict(runner.counters.get("exact-answer", {"cache_hits": 0, "calls": 0}))
    results = runner.results(reward, group, columns)
    assert [r.reward for r in results] == [1.0] * 7 + [0.0]
    counts = runner.counters["exact-answer"]
    assert counts["cache_hits"] - before["cache_hits"] == 6  # 8 samples, 2 distinct answers
    assert sum(not r.cached for r in results) == 2
    # a later batch with the same answers never leaves the process
    again = runner.results(reward, list(reversed(group)), columns)
    assert [r.reward for r in again] == [0.0] + [1.0] * 7
    assert all(r.cached for r in again)


def test_results_keep_input_order_with_mixed_cache_hits(runner):
    reward = plugins.get("reward", "exact-answer")
    golds = [str(i) for i in range(50)]
    completions = [f"#### {i if i % 3 else i + 1}" for i in range(50)]
    first = runner.score(reward, completions, [{"answer": g} for g in golds])
    shuffled = list(range(50))[::-1]
    second = runner.score(
        reward, [completions[i] for i in shuffled], [{"answer": golds[i]} for i in shuffled]
    )
    assert first == [0.0 if i % 3 == 0 else 1.0 for i in range(50)]
    assert second == [first[i] for i in shuffled]


def test_options_are_merged_and_unknown_keys_rejected(runner):
    reward = plugins.get("reward", "exact-answer")
    text, cols = ["the sum is 3 + 4 = 7"], [{"answer": "7"}]
    assert runner.score(reward, text, cols) == [0.0]
    assert runner.score(reward, text, cols, {"last_number_fallback": True}) == [1.0]
    with pytest.raises(GmrError, match="reward 'exact-answer' has no option 'fallback'"):
        runner.score(reward, text, cols, {"fallback": True})


def test_a_missing_column_is_named(runner):
    reward = plugins.get("reward", "exact-answer")
    with pytest.raises(GmrError, match="needs column 'answer'.*columns present: solution"):
        runner.score(reward, ["#### 1"], [{"solution": "1"}])


def test_score_functions_that_cannot_reach_a_worker_are_rejected(runner):
    with pytest.raises(GmrError, match="module-level function"):
        runner.score(make(lambda c, cols, o: 1.0, name="lambda"), ["x"], [{}])
    main_fn = faulty.length_score
    shim = make(main_fn, name="main")
    object.__setattr__(shim, "score", _rename_module(main_fn))
    with pytest.raises(GmrError, match="__main__"):
        runner.score(shim, ["x"], [{}])


def _rename_module(fn):
    def copy(completion, columns, options):
        return fn(completion, columns, options)

    copy.__module__ = "__main__"
    return copy


def test_works_from_a_non_main_thread(runner):
    """math-verify's signal.alarm fails outside the main thread; our workers do not care."""
    reward = plugins.get("reward", "sympy-equivalence")
    out: list = []
    thread = threading.Thread(
        target=lambda: out.append(
            runner.score(reward, ["\\boxed{\\frac{1}{2}}", "\\boxed{3}"], [{"answer": "0.5"}] * 2)
        )
    )
    thread.start()
    thread.join(60)
    assert out == [[1.0, 0.0]]


def test_a_closed_runner_refuses_work():
    runner = RewardRunner(workers=1)
    reward = make(faulty.length_score, name="length")
    assert runner.score(reward, ["abc"], [{}]) == [0.997]
    runner.close()
    with pytest.raises(GmrError, match="closed"):
        runner.score(reward, ["abcd"], [{}])


LYING_MODULE = '''
def score(completion, columns, options):
    return 0.25 if "x" in completion else 0.75


def cache_key(completion, columns, options):
    return completion


def key_verdict(key, options):
    return 1.0 if key.startswith("decide") else None
'''


@pytest.fixture
def lying_reward(tmp_path, monkeypatch):
    """A reward whose module's key_verdict disagrees with its score (to make it visible)."""
    import importlib

    (tmp_path / "lying_verdict.py").write_text(LYING_MODULE)
    monkeypatch.syspath_prepend(str(tmp_path))
    module = importlib.import_module("lying_verdict")
    yield Reward(name="lying", score=module.score, description="t", columns=(),
                 cache_key=module.cache_key)
    monkeypatch.delitem(sys.modules, "lying_verdict")


def test_key_verdicts_are_decided_without_a_worker(lying_reward):
    with RewardRunner(workers=1) as runner:
        results = runner.results(lying_reward, ["decide x", "ask x", "ask y"], [{}] * 3)
        assert [r.reward for r in results] == [1.0, 0.25, 0.75]  # 1.0: never scored
        again = runner.results(lying_reward, ["decide x"], [{}])
        assert again[0].cached and again[0].reward == 1.0


def test_check_reports_a_key_verdict_that_disagrees_with_score(lying_reward, monkeypatch):
    from gamermath.rewards import check

    cases = [check.Case("decided", ["decide x", "other"], ["", ""])]
    monkeypatch.setattr(check, "battery", lambda: cases)
    with RewardRunner(workers=1) as runner:
        reports = check.run_check(lying_reward, runner)
    violations = [v for r in reports for v in r.violations]
    assert any("key_verdict gives 1 for 'decide x' where score gives 0.25" in v
               for v in violations), violations
