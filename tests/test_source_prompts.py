"""The released code's prompts, byte for byte: the stored expected prompts were built with the
source's own ``gsm8k.py`` ``format_example`` from its ``resources/examplars.py`` and
``resources/gsm8k_few_shot_prompts.json`` (shinandrew/YouronMath @ 21af604) for the first
sample test question, with the exemplars gmr draws under each recipe's seed."""

from __future__ import annotations

import dataclasses
from pathlib import Path

import pytest

from gamermath.builtin.exemplars import YOURONMATH_EXAMPLARS
from gamermath.data import render_prompts
from gamermath.data.samples import write_sample_data
from gamermath.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
EXPECTED = Path(__file__).parent / "fixtures" / "prompts"


def first_prompt(recipe_name: str, tmp_path: Path) -> str:
    recipe = load_recipe(REPO / "recipes" / recipe_name)
    spec = dataclasses.replace(recipe.data, split="test", limit=1,
                               data_dir=str(write_sample_data(tmp_path)))
    return render_prompts(spec, seed=recipe.run.seed)[0]["prompt"]


@pytest.mark.parametrize(("recipe", "expected"), [
    ("youronmath-released-code.toml", "youronmath-qa.txt"),
    ("youronmath-paper.toml", "youronmath-qa.txt"),
    ("youronmath-released-code-program.toml", "youronmath-code.txt"),
])
def test_the_rendered_prompt_is_the_sources_byte_for_byte(recipe, expected, tmp_path):
    if recipe.endswith("-program.toml"):
        pytest.importorskip("gmr_reward_program")
    assert first_prompt(recipe, tmp_path) == (EXPECTED / expected).read_text(encoding="utf-8")


def test_the_exemplars_are_the_released_files_not_a_reworded_copy():
    """Only the first released exemplar ends 'So the answer is 6.'; the others do not."""
    endings = [row["reasoning"].rsplit(". ", 1)[-1] for row in YOURONMATH_EXAMPLARS]
    assert endings[0] == "So the answer is 6."
    assert not any("So the answer is" in row["reasoning"] for row in YOURONMATH_EXAMPLARS[1:])
    assert YOURONMATH_EXAMPLARS[7]["reasoning"].endswith("23 - 15 is 8.")
    assert [row["answer"] for row in YOURONMATH_EXAMPLARS] == ["6", "5", "39", "8", "9", "29",
                                                                "33", "8"]
