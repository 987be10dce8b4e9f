"""The random-reward control: rewards that ignore the completion, real scores still logged."""

from __future__ import annotations

from gamermath.engine.control import random_reward_funcs, random_scores


def test_random_scores_are_the_range_ends_with_even_odds():
    import random

    scores = random_scores(random.Random(0), 4000, 0.0, 1.5)
    assert set(scores) == {0.0, 1.5}
    assert 0.45 < scores.count(1.5) / len(scores) < 0.55


def test_wrapped_functions_score_for_the_logs_and_pay_noise():
    calls, logged = [], {}

    def exact(prompts=None, completions=None, completion_ids=None, **kwargs):
        calls.append(list(completions))
        return [1.0 if c == "#### 4" else 0.0 for c in completions]

    [control] = random_reward_funcs([exact], ["exact-answer"], [(0.0, 1.0)], seed=1)
    [again] = random_reward_funcs([exact], ["exact-answer"], [(0.0, 1.0)], seed=1)
    texts = ["#### 4"] * 8 + ["#### 5"] * 8
    paid = control(prompts=["p"] * 16, completions=texts, log_metric=logged.__setitem__)
    assert calls == [texts]  # the real reward still ran
    assert logged == {"control/real/exact-answer/mean": 0.5}
    assert set(paid) <= {0.0, 1.0} and len(paid) == 16
    assert paid == again(prompts=["p"] * 16, completions=texts)  # seeded
    assert paid != [1.0] * 8 + [0.0] * 8  # not the real scores
    assert control.__name__ == "exact"
