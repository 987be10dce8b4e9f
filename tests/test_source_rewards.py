"""The seed recipes' reward terms score exactly as their sources' reward functions do.

The golden table (``source-rewards-golden.jsonl``, 2,000 completions with the verdict of each
source function) lives outside the repository: set ``GMR_FIDELITY_DIR``, or keep it in
``../shared/fidelity`` beside ``GMR_DATA_DIR``. The hand-written cases below exercise each
quirk on their own; their expected verdicts come from reading the sources' code.
"""

from __future__ import annotations

import json
import os
from pathlib import Path

import pytest

from gamermath import plugins
from gamermath.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
GOLDEN = "source-rewards-golden.jsonl"


def fidelity_dir() -> Path | None:
    """Where the golden table is: GMR_FIDELITY_DIR, else GMR_DATA_DIR's sibling fidelity/."""
    if os.environ.get("GMR_FIDELITY_DIR"):
        return Path(os.environ["GMR_FIDELITY_DIR"])
    if os.environ.get("GMR_DATA_DIR"):
        return Path(os.environ["GMR_DATA_DIR"]).resolve().parent / "fidelity"
    return None


def recipe_term(recipe: str, label: str):
    """A recipe's reward term as a function of (completion, gold), weight applied."""
    loaded = load_recipe(REPO / "recipes" / recipe)
    for spec in loaded.rewards:
        if (spec.label or spec.name) == label:
            reward = plugins.get("reward", spec.name)
            options = {**reward.options, **spec.options}
            reward.check_options and reward.check_options(options)
            return lambda text, gold: spec.weight * reward.score(text, {"answer": gold}, options)
    raise KeyError(f"{recipe} has no reward term '{label}'")


# (recipe, term label, golden column, gold column)
TERMS = [
    ("youronmath-released-code.toml", "correctness", "youronmath_correctness", "answer"),
    ("youronmath-released-code.toml", "format", "youronmath_format", "answer"),
    ("youronmath-paper.toml", "correctness", "youronmath_correctness", "answer"),
    ("youronmath-paper.toml", "format", "youronmath_format", "answer"),
    ("qwen3.5-0.8b-sft-grpo.toml", "math", "card_math", "card_truth"),
    ("qwen3.5-0.8b-sft-grpo.toml", "math", "card_math", "answer"),
    ("qwen3.5-0.8b-sft-grpo.toml", "format-think", "card_think", "answer"),
    ("qwen3.5-0.8b-sft-grpo.toml", "format-answer", "card_marker", "answer"),
]


@pytest.mark.parametrize(("recipe", "label", "column", "gold"), TERMS,
                         ids=[f"{t[0].split('.toml')[0]}:{t[1]}:{t[3]}" for t in TERMS])
def test_the_seed_recipes_agree_with_the_source_functions_on_every_golden_row(
        recipe, label, column, gold):
    where = fidelity_dir()
    if where is None or not (where / GOLDEN).is_file():
        pytest.skip(f"golden table {GOLDEN} not found (set GMR_FIDELITY_DIR, or GMR_DATA_DIR "
                    f"with ../fidelity beside it); looked in {where}")
    rows = [json.loads(line) for line in (where / GOLDEN).read_text().splitlines() if line]
    assert len(rows) == 2000
    term = recipe_term(recipe, label)
    wrong = [(r["completion"], r[gold], term(r["completion"], r[gold]), r[column])
             for r in rows if abs(term(r["completion"], r[gold]) - r[column]) > 1e-9]
    assert not wrong, f"{len(wrong)}/2000 rows disagree, e.g. {wrong[:3]}"


# (completion, gold as the dataset writes it, verdict of correctness_reward_func_qa)
YOURONMATH = [
    ("#### 50", "50", 1.0),
    ("#### -50", "50", 1.0),                       # the sign is never read
    ("#### -50", "-50", 0.0),                      # ... so a negative gold never scores
    ("#### Therefore, 18", "18", 0.0),             # the comma is captured: float('') fails
    ("#### Therefore 18", "18", 1.0),
    ("#### The final answer is 1,080", "1080", 1.0),
    ("#### 1080", "1,080", 0.0),                   # float('1,080') fails on the gold side
    ("#### 18.0004", "18", 1.0),                   # within 1e-3
    ("#### 18.002", "18", 0.0),
    ("#### 18.", "18", 1.0),                       # the '.' without digits is not taken
    ("#### $18", "18", 1.0),
    ("#### 1,2,3", "123", 1.0),                    # commas anywhere are removed
    ("#### <number>\nso\n#### 18", "18", 1.0),     # a #### line without digits is passed over
    ("#### <number> and 7\n#### 18", "18", 0.0),   # ... but one with digits is read
    ("#### 7\n#### 18", "18", 0.0),                # the FIRST #### line counts
    ("The answer is 18.", "18", 0.0),              # nothing but #### counts
    ("\\boxed{18}", "18", 0.0),
    ("####\n18", "18", 0.0),                       # the search never crosses a newline
    ("##### 18", "18", 1.0),
    ("#### \u0661\u0668", "18", 1.0),              # Arabic-Indic digits parse as a float
    ("", "18", 0.0),
]

# (completion, gold as the dataset writes it, verdict of the card's math_reward)
CARD = [
    ("#### 18", "18", 1.0),
    ("#### -5", "-5", 1.0),                        # the sign is kept
    ("#### 5", "-5", 0.0),
    ("####\n\n 18", "18", 1.0),                    # \s* crosses newlines
    ("#### <number>\n#### 18", "18", 1.0),         # a #### without a number is passed over
    ("#### 7 then #### 18", "18", 0.0),            # the FIRST #### with a number
    ("#### 1,080", "1,080", 1.0),                  # both sides lose their commas
    ("#### 18.0", "18", 1.0),                      # 18.0 -> 18
    ("#### 18.50", "18.5", 1.0),
    ("#### 18.", "18", 1.0),
    ("#### $18", "18", 1.0),                       # '$' stops the #### reading; the last number
    ("#### $18 in 3 steps", "18", 0.0),            # ... which here is 3
    ("#### , 18", "18", 0.0),                      # a comma alone is read: '' matches nothing
    ("\\boxed{7} and \\boxed{18}", "18", 0.0),     # the FIRST \boxed
    ("\\boxed{x} so 18", "18", 1.0),               # no number in it: on to the last number
    ("\\boxed{} \\boxed{18}", "18", 1.0),          # an empty box is passed over
    ("\\boxed{18", "18", 1.0),                     # unclosed: the last number
    ("THE ANSWER IS 18, not 20", "18", 1.0),       # any case
    ("Final Answer 18 (from 3 steps)", "18", 1.0),
    ("answer: 18 after 3 steps", "18", 1.0),
    ("The answer is: 18 after 3 steps", "18", 0.0),  # ':' after 'is': the last number, 3
    ("It is 9 or maybe 18", "18", 1.0),            # the last number as the final fallback
    ("It is 18 or maybe 9", "18", 0.0),
    ("no number at all", "18", 0.0),
    ("#### 1e3", "1", 1.0),                        # the run stops at 'e'
    ("#### 0.10", "0.1", 1.0),
]


@pytest.mark.parametrize(("completion", "gold", "verdict"), YOURONMATH)
def test_youronmath_preset_keeps_every_quirk_of_correctness_reward_func_qa(
        completion, gold, verdict):
    term = recipe_term("youronmath-released-code.toml", "correctness")
    assert term(completion, gold) == verdict


@pytest.mark.parametrize(("completion", "gold", "verdict"), CARD)
def test_card_preset_keeps_every_quirk_of_math_reward(completion, gold, verdict):
    term = recipe_term("qwen3.5-0.8b-sft-grpo.toml", "math")
    assert term(completion, gold) == verdict


def test_the_default_reader_stays_the_lenient_one():
    reward = plugins.get("reward", "exact-answer")
    assert reward.options["preset"] == ""
    default = dict(reward.options)
    assert reward.score("#### -50", {"answer": "50"}, default) == 0.0
    assert reward.score("#### 1080", {"answer": "1,080"}, default) == 1.0
    assert reward.score("so \\boxed{18}", {"answer": "18"}, default) == 1.0


def test_an_unknown_preset_is_an_option_error():
    from gamermath.specs import OptionError

    reward = plugins.get("reward", "exact-answer")
    with pytest.raises(OptionError, match="youronmth") as raised:
        reward.check_options({**reward.options, "preset": "youronmth"})
    assert raised.value.option == "preset"


# (recipe, term label, completion, verdict of the source's format function)
FORMAT = [
    ("youronmath-released-code.toml", "format", "x\n#### The final answer is 18", 0.5),
    ("youronmath-released-code.toml", "format", "#### The final answer is 18", 0.0),  # no \n
    ("youronmath-released-code.toml", "format", "x\n#### The final answer is -5", 0.0),
    ("youronmath-released-code.toml", "format", "x\n#### The final answer is 1,080", 0.5),
    ("youronmath-released-code.toml", "format", "5\nQuestion: y\n#### The final answer is 2",
     0.5),  # found in an invented later problem too
    ("qwen3.5-0.8b-sft-grpo.toml", "format-think", "</think> then <think>", 0.3),  # any order
    ("qwen3.5-0.8b-sft-grpo.toml", "format-think", "<think>\n<think>a\n</think></think>", 0.3),
    ("qwen3.5-0.8b-sft-grpo.toml", "format-think", "<think>never closed", 0.0),
    ("qwen3.5-0.8b-sft-grpo.toml", "format-answer", "####", 0.2),  # no number needed
    ("qwen3.5-0.8b-sft-grpo.toml", "format-answer", "so \\boxed", 0.2),
    ("qwen3.5-0.8b-sft-grpo.toml", "format-answer", "THE ANSWER IS 5", 0.0),  # case-sensitive
    ("qwen3.5-0.8b-sft-grpo.toml", "format-answer", "the answer is 5", 0.2),
    ("qwen3.5-0.8b-sft-grpo.toml", "format-answer", "Final answer: 5", 0.0),
]


@pytest.mark.parametrize(("recipe", "label", "completion", "verdict"), FORMAT)
def test_the_format_terms_keep_the_sources_quirks(recipe, label, completion, verdict):
    assert recipe_term(recipe, label)(completion, "5") == pytest.approx(verdict)


def test_gpu_lab_names_the_card_preset():
    reward = plugins.get("reward", "exact-answer")
    card = {**reward.options, "preset": "qwen3.5-card"}
    alias = {**reward.options, "preset": "gpu-lab"}
    reward.check_options(alias)
    for completion, gold, verdict in CARD:
        assert reward.score(completion, {"answer": gold}, alias) == verdict
        assert reward.cache_key(completion, {"answer": gold}, alias) == reward.cache_key(
            completion, {"answer": gold}, card)
