"""The ``format`` reward with both published settings and custom parts."""

from __future__ import annotations

import pytest

from gamermath import plugins
from gamermath.builtin.format_reward import has_closed_think, score
from gamermath.errors import GmrError
from gamermath.rewards.options import parse_option, resolve_options

REWARD = plugins.get("reward", "format")


def opts(**overrides):
    return resolve_options(REWARD, overrides)


# The paper (arXiv 2506.08935): 0.5 for "\n#### The final answer is <integer>".
PAPER = [
    ("Step 1 ... 3*4=12\n#### The final answer is 12", 0.5),
    ("12\n#### The final answer is 1080", 0.5),
    ("#### The final answer is 12", 0.0),  # the pattern needs the preceding newline
    ("Step 1\n#### 12", 0.0),
    ("Step 1\n#### The final answer is twelve", 0.0),
    ("", 0.0),
]

# The Qwen3.5-0.8B-GRPO-Math card: 0.3 for closed think tags + 0.2 for a "####" line.
CARD = [
    ("<think>3*4=12</think>\nSo 12.\n#### 12", 0.5),
    ("<think>3*4=12</think>\nThe answer is 12.", 0.3),
    ("3*4=12\n#### 12", 0.2),
    ("<think>3*4=12\n#### 12", 0.2),  # unclosed think
    ("</think><think>backwards</think>\n#### 12", 0.2),  # two closing tags
    ("<think>a</think><think>b</think>\n#### 12", 0.2),  # two blocks
    ("<think>x</think>\n#### 1,080", 0.5),
    ("<think>x</think>\n#### -3.5", 0.5),
    ("<think>x</think>\n#### twelve", 0.3),
    ("<think>x</think>\nanswer #### 12", 0.3),  # '####' must start its line
    ("", 0.0),
]


@pytest.mark.parametrize(("completion", "expected"), PAPER)
def test_paper_preset(completion, expected):
    assert score(completion, {}, opts(preset="paper")) == pytest.approx(expected)


@pytest.mark.parametrize(("completion", "expected"), CARD)
def test_card_preset(completion, expected):
    assert score(completion, {}, opts(preset="qwen3.5-card")) == pytest.approx(expected)


def test_card_setting_spelled_as_part_weights_matches_the_preset():
    spelled = opts(think=0.3, hash=0.2)
    preset = opts(preset="qwen3.5-card")
    for completion, _ in CARD:
        assert score(completion, {}, spelled) == score(completion, {}, preset)


def test_custom_regex_part():
    options = opts(hash=0.0, regex=r"Answer: [A-D]\b", regex_weight=0.25)
    assert score("Reasoning.\nAnswer: C", {}, options) == 0.25
    assert score("Reasoning.\nAnswer: E", {}, options) == 0.0


def test_default_is_a_hash_line_worth_one():
    assert score("work\n#### 42", {}, opts()) == 1.0
    assert score("work, 42", {}, opts()) == 0.0


def test_think_open_in_prompt():
    assert not has_closed_think("reasoning</think>\n#### 1")
    assert has_closed_think("reasoning</think>\n#### 1", open_in_prompt=True)
    assert score("reasoning</think>\n#### 1", {}, opts(think=1.0, hash=0.0)) == 0.0
    both = opts(think=1.0, hash=0.0, think_open_in_prompt=True)
    assert score("reasoning</think>\n#### 1", {}, both) == 1.0


def test_unknown_preset_is_an_error():
    with pytest.raises(ValueError, match="unknown format preset 'bogus'"):
        score("x", {}, {**REWARD.options, "preset": "bogus"})


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"preset": "papr"}, "reward 'format' option 'preset': unknown format preset 'papr'"),
        ({"regex": "(unclosed"}, "reward 'format' option 'regex': is not a valid regular"),
        ({"think": 1.5}, "reward 'format' option 'think': must lie in \\[0, 1\\], got 1.5"),
        ({"hash": "1"}, "option 'hash' of reward 'format' expects a float, got str '1'"),
        ({"think_open_in_prompt": 1}, "expects a bool, got int"),
    ],
)
def test_bad_option_values_fail_before_any_sample_is_scored(options, message):
    from gamermath.rewards.options import validate_options

    with pytest.raises(GmrError, match=message):
        validate_options(REWARD, options)


def test_options_from_the_command_line_are_typed():
    assert parse_option(REWARD, "think=0.3") == ("think", 0.3)
    assert parse_option(REWARD, "think_open_in_prompt=true") == ("think_open_in_prompt", True)
    with pytest.raises(GmrError, match="reward 'format' has no option 'thinking'"):
        parse_option(REWARD, "thinking=1")
    with pytest.raises(GmrError, match="expects a float"):
        parse_option(REWARD, "think=lots")
