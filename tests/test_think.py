"""Chat templates that open <think> in the prompt, detected from the tokenizer's own template.

The templates are the real ones TRL ships as copies of the models' (``trl/chat_templates``):
Qwen3.5 (2B and smaller) closes an empty think block unless ``enable_thinking=True``;
DeepSeek-R1 distills always open one; Qwen2.5 adds none.
"""

from __future__ import annotations

from pathlib import Path

import pytest

from gamermath.builtin.format_reward import score as format_score
from gamermath.engine.scored_text import ScoredText
from gamermath.engine.think import generation_prompt, opened_in_prompt
from gamermath.testing import make_tokenizer


def trl_template(name: str) -> str:
    import trl

    return (Path(trl.__file__).parent / "chat_templates" / f"{name}.jinja").read_text()


@pytest.fixture()
def tokenizer():
    return make_tokenizer()


@pytest.mark.parametrize(
    ("template", "kwargs", "opened"),
    [
        ("qwen3_5_nothink", {}, ""),  # Qwen3.5-0.8B as the card's code runs it
        ("qwen3_5_nothink", {"enable_thinking": False}, ""),
        ("qwen3_5_nothink", {"enable_thinking": True}, "<think>\n"),
        ("qwen3_5_think", {}, "<think>\n"),  # Qwen3.5 4B and larger
        ("deepseek_r1_distill", {}, "<think>\n"),
        ("qwen2_5", {}, ""),
    ],
)
def test_detected_from_the_real_template(tokenizer, template, kwargs, opened):
    tokenizer.chat_template = trl_template(template)
    assert opened_in_prompt(tokenizer, kwargs) == opened


def test_the_qwen35_default_closes_an_empty_block(tokenizer):
    tokenizer.chat_template = trl_template("qwen3_5_nothink")
    assert generation_prompt(tokenizer).endswith("<think>\n\n</think>\n\n")


def test_a_system_prompt_mentioning_think_is_not_an_opening(tokenizer):
    """The card's system prompt says '<think> tags'; only the template's own text counts."""
    from gamermath.engine.train import run_scoring
    from gamermath.recipe import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[1] / "recipes" /
                         "qwen3.5-0.8b-sft-grpo.toml", check_plugins=False)
    tokenizer.chat_template = trl_template("qwen3_5_nothink")
    assert run_scoring(recipe, tokenizer, chat_prompts=True).scored_text.opened == ""
    enabled = load_recipe(recipe.path, ['grpo.chat_template_kwargs={ enable_thinking = true }'],
                          check_plugins=False)
    assert run_scoring(enabled, tokenizer, chat_prompts=True).scored_text.opened == "<think>\n"


def test_without_a_chat_template_nothing_is_opened(tokenizer):
    tokenizer.chat_template = None
    assert opened_in_prompt(tokenizer) == ""


CARD_THINK = {"preset": "", "think": 0.0, "hash": 0.0, "think_open_in_prompt": False,
              "regex": r"\A(?s:(?=.*<think>)(?=.*</think>))", "regex_weight": 0.3}
CLOSED_BLOCK = {**CARD_THINK, "think": 1.0, "regex": "", "regex_weight": 0.0}


@pytest.mark.parametrize("options", [CARD_THINK, CLOSED_BLOCK], ids=["card-regex", "think-part"])
def test_the_think_term_is_paid_when_the_template_opened_the_block(options):
    """A completion from an opened prompt has only the closing tag; scored as the assistant
    turn stands (opening + completion) it earns the think term, which it never could alone."""
    completion = [{"role": "assistant", "content": "6 * 7 = 42\n</think>\n#### 42"}]
    best = max(options["regex_weight"], options["think"])
    assert format_score(ScoredText(opened="<think>\n")(completion), {}, options) == best
    assert format_score(ScoredText()(completion), {}, options) == 0.0
    written = [{"role": "assistant", "content": "<think>6 * 7 = 42</think>\n#### 42"}]
    assert format_score(ScoredText()(written), {}, options) == best


def test_parsed_reasoning_is_put_back_in_front():
    parsed = [{"role": "assistant", "reasoning_content": "6 * 7 = 42", "content": "#### 42"}]
    assert ScoredText()(parsed) == "<think>\n6 * 7 = 42\n</think>\n\n#### 42"
