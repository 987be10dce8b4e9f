"""Reproduction recipes against their sources: fidelity tables, the sources' prompts, the
held-out metric and format rate each recipe names, the KL reference and the early stop."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gamermath.builtin.templates import (
    QWEN35_CARD_SFT_SYSTEM_PROMPT,
    QWEN35_CARD_SYSTEM_PROMPT,
    youronmath_block,
)
from gamermath.recipe import load_recipe
from gamermath.recipe.sources import (
    NOT_STATED,
    comment_block,
    comment_in_file,
    load_table,
    our_value,
)

REPO = Path(__file__).resolve().parents[1]
SOURCE_RECIPES = ["youronmath-paper.toml", "youronmath-released-code.toml",
                  "qwen3.5-0.8b-sft-grpo.toml"]


def gmr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gamermath", *args], capture_output=True,
                          text=True, timeout=120, cwd=REPO, env=dict(os.environ, COLUMNS="200"))


@pytest.mark.parametrize("name", SOURCE_RECIPES)
def test_every_source_recipe_carries_its_table_in_its_header(name):
    recipe = load_recipe(REPO / "recipes" / name)
    table = load_table(recipe.path)
    assert len(table.rows) >= 20 and table.cites
    text = recipe.path.read_text(encoding="utf-8")
    assert comment_in_file(text) == comment_block(recipe, table), (
        f"the header of {name} is stale: gmr recipe show --sources --write-comment {name}")
    header = text.split("\n[", 1)[0]
    assert all(line.startswith("#") or not line.strip() for line in header.splitlines())
    for row in table.rows:
        ours = our_value(recipe, row)  # every key named exists in the recipe
        assert ours, row.setting
        if row.source == NOT_STATED:  # silent sources: the value used and why
            assert row.note, f"{name}: '{row.setting}' is not stated but says nothing of why"


def test_the_paper_table_states_the_18m_contradiction_and_the_pdf_values():
    recipe = load_recipe(REPO / "recipes" / "youronmath-paper.toml")
    rows = {r.setting: r for r in load_table(recipe.path).rows}
    assert "4,358,144" in rows["trainable parameters"].note
    assert "18,464,768" in rows["trainable parameters"].note  # all seven projections
    assert "--set 'lora.target_modules=[" in rows["LoRA targets"].note
    grpo = recipe.grpo.trl
    assert (grpo["weight_decay"], grpo["warmup_steps"]) == (0.01, 100)
    assert (recipe.grpo.max_prompt_length, grpo["max_completion_length"]) == (128, 150)
    assert recipe.model.dtype == "float16" and grpo["fp16"] and not grpo["bf16"]


def test_the_released_code_recipe_pins_trl_016_defaults():
    recipe = load_recipe(REPO / "recipes" / "youronmath-released-code.toml")
    grpo = recipe.grpo.trl
    assert (grpo["beta"], grpo["temperature"], grpo["top_k"]) == (0.04, 0.9, 50)
    assert grpo["loss_type"] == "bnpo" and not grpo["use_bias_correction_kl"]
    assert grpo["bf16"] and not grpo["fp16"] and recipe.model.dtype == "float16"
    assert recipe.model.attention == "flash_attention_2" and recipe.data.stop == []
    for origin_key in ("grpo.beta", "grpo.temperature", "grpo.top_k", "grpo.loss_type"):
        assert recipe.origins[origin_key] == "recipe"  # not inherited from today's TRL
    assert recipe.rewards[1].options == {"preset": "youronmath"}


def test_recipe_show_sources_prints_the_table_and_names_missing_ones():
    shown = gmr("recipe", "show", "--sources", "youronmath-released-code")
    assert shown.returncode == 0, shown.stderr
    assert "| setting | source value | where the source says it | our value |" in shown.stdout
    assert "train.py:39 max_grad_norm=0.1 | grpo.max_grad_norm = 0.1" in shown.stdout
    same = gmr("recipe", "show", "--sources", "--write-comment",
               "recipes/qwen3.5-0.8b-sft-grpo.toml")
    assert same.returncode == 0 and "up to date" in same.stdout
    missing = gmr("recipe", "show", "--sources", "recipes/tiny.toml")
    assert missing.returncode == 2 and "no fidelity table" in missing.stderr
    assert "Traceback" not in missing.stderr


def test_the_released_codes_prompt_blocks():
    """gsm8k.py format_example: lines joined by '. ', annotations dropped, '..' collapsed."""
    block = youronmath_block("Tom has 3 boxes.. How many?", "3*4=<<3*4=12>>12 pens\nSo 12.", "12")
    assert block == ("Question: Tom has 3 boxes. How many?\nSolution: Let's think step by step. "
                     "3*4=12 pens. So 12.\n#### The final answer is 12\n\n")
    assert youronmath_block("Q?", None, None) == (
        "Question: Q?\nSolution: Let's think step by step. ")


def test_youronmath_exemplars_are_drawn_once_per_run(tmp_path):
    from gamermath.data import render_prompts
    from gamermath.data.samples import write_sample_data
    from gamermath.recipe.schema import DataSpec

    data = write_sample_data(tmp_path)
    spec = DataSpec("gsm8k", "train", "youronmath-qa", data_dir=str(data))
    rows = render_prompts(spec, seed=0)
    prefixes = {r["prompt"].rsplit("Question: ", 1)[0] for r in rows}
    assert len(prefixes) == 1  # the same two exemplars in every prompt of the run
    prefix = prefixes.pop()
    assert prefix.count("#### The final answer is") == 2
    assert rows[0]["prompt"].endswith("Solution: Let's think step by step. ")
    others = {render_prompts(spec, seed=s)[0]["prompt"].rsplit("Question: ", 1)[0]
              for s in range(1, 6)}
    assert len(others | {prefix}) > 1  # another run (seed) may draw another pair


def test_the_card_prompts(tmp_path):
    from gamermath.data import render_prompts
    from gamermath.data.samples import write_sample_data
    from gamermath.recipe.schema import DataSpec

    data = write_sample_data(tmp_path)
    zero = render_prompts(DataSpec("gsm8k", "test", "qwen3.5-card", data_dir=str(data)))[0]
    assert zero["prompt"][0] == {"role": "system", "content": QWEN35_CARD_SYSTEM_PROMPT}
    assert QWEN35_CARD_SYSTEM_PROMPT.endswith("End math answers with: #### <number>")
    assert [m["role"] for m in zero["prompt"]] == ["system", "user"]
    eight = render_prompts(DataSpec("gsm8k", "test", "qwen3.5-card", shots=8,
                                    data_dir=str(data)))[0]["prompt"]
    assert len(eight) == 18 and eight[1]["content"].startswith("There are 15 trees")
    assert eight[2]["content"].endswith("21 - 15 = 6 trees planted.\n#### 6")
    assert eight[-3]["content"].startswith("Olivia has $23")  # the published order
    sft = render_prompts(DataSpec("gsm8k", "test", "qwen3.5-card-sft", data_dir=str(data)))[0]
    assert sft["prompt"][0]["content"] == QWEN35_CARD_SFT_SYSTEM_PROMPT


def evaluator(rows, template="chat-think", metric=None):
    from gamermath import plugins
    from gamermath.engine.heldout import HeldoutEvaluator
    from gamermath.testing import make_tokenizer

    answer_line = plugins.get("template", template).answer_line
    return HeldoutEvaluator(rows, make_tokenizer(), 8, metric=metric, answer_line=answer_line)


def test_the_format_rate_counts_each_templates_own_answer_line():
    rows = [{"prompt": "p", "answer": "8"}] * 3
    generated = [" 5 + 3 = 8.\n#### The final answer is 8", "#### 8", "no answer"]
    paper, _ = evaluator(rows, "paper-fewshot").score(generated)
    assert paper["heldout/format_rate"] == pytest.approx(1 / 3)  # its line, not '#### 8'
    chat, _ = evaluator(rows, "chat-think").score(generated)
    assert chat["heldout/format_rate"] == pytest.approx(1 / 3)  # '#### 8' only
    assert paper["heldout/accuracy"] == chat["heldout/accuracy"] == pytest.approx(2 / 3)
    assert paper["heldout/correct"] == "110"


def test_the_metric_is_a_named_reward_sympy_equivalence_for_math():
    from gamermath.engine.heldout_metric import reward_metric
    from gamermath.rewards.runner import RewardRunner

    rows = [{"prompt": "p", "answer": "\\frac{3}{4}"}, {"prompt": "p", "answer": "\\sqrt{2}"},
            {"prompt": "p", "answer": "\\sqrt{2}"}]
    generated = ["So $\\boxed{0.75}$.", "It is \\boxed{\\frac{2}{\\sqrt{2}}}", "\\boxed{2}"]
    with RewardRunner(workers=1) as runner:
        sympy = evaluator(rows, metric=reward_metric(runner, "sympy-equivalence"))
        metrics, _ = sympy.score(generated)
        assert metrics["heldout/correct"] == "110"
        numbers, _ = evaluator(rows, metric=reward_metric(runner, "exact-answer")).score(generated)
        assert numbers["heldout/correct"][2] == "1"  # GSM8K numbers would credit 2 for sqrt(2)


def test_a_bad_metric_is_one_line_naming_the_key(tmp_path):
    recipe = tmp_path / "m.toml"
    recipe.write_text('[model]\nsource = "x"\n[data]\ndataset = "arith"\n[[rewards]]\n'
                      'name = "exact-answer"\n[eval]\nmetric = "sympy-equivalnce"\n')
    done = gmr("recipe", "check", "--no-trl", str(recipe))
    assert done.returncode == 2 and "Traceback" not in done.stderr
    assert "[eval].metric: unknown reward 'sympy-equivalnce'" in done.stderr


def test_the_kl_reference_statement_follows_the_trl_version():
    from gamermath.engine.reference import kl_reference

    assert kl_reference(0.04, True, "1.16.0").startswith("the SFT model")
    assert kl_reference(0.04, True, "0.27.0").startswith("the SFT model")
    assert "base model with adapters disabled (TRL 0.26.0" in kl_reference(0.04, True, "0.26.0")
    assert kl_reference(0.04, False, "1.16.0").startswith("the base model")
    assert kl_reference(0.0, True, "1.16.0").startswith("none")


def test_trl_is_pinned_where_the_reference_claim_holds():
    text = (REPO / "pyproject.toml").read_text()
    assert '"trl>=0.27"' in text
    from importlib.metadata import version

    from packaging.version import Version

    assert Version(version("trl")) >= Version("0.27")


def test_stop_at_step_ends_training_without_touching_the_schedule():
    from transformers import TrainerControl, TrainerState

    from gamermath.engine.step_limit import StopAtStepCallback

    callback, control = StopAtStepCallback(3), TrainerControl()
    state = TrainerState(global_step=2, max_steps=10)
    callback.on_step_end(None, state, control)
    assert not control.should_training_stop
    state.global_step = 3
    callback.on_step_end(None, state, control)
    assert control.should_training_stop and control.should_save and state.max_steps == 10
    card = load_recipe(REPO / "recipes" / "qwen3.5-0.8b-sft-grpo.toml")
    assert card.grpo.stop_at_step == 15900 and card.grpo.trl["num_train_epochs"] == 3
    assert card.grpo.trl["max_steps"] == -1  # the schedule spans the three epochs


def test_the_card_warms_up_with_its_sft_system_prompt_and_think_targets(tmp_path):
    from gamermath.data.samples import write_sample_data
    from gamermath.data.sft import sft_pairs

    data = write_sample_data(tmp_path)
    card = load_recipe(REPO / "recipes" / "qwen3.5-0.8b-sft-grpo.toml",
                       [f'data.data_dir="{data}"'])
    spec = card.sft_data()
    assert spec.template == "qwen3.5-card-sft" and spec.limit == 3558
    pair = sft_pairs(spec)[0]
    assert pair["prompt"][0]["content"] == QWEN35_CARD_SFT_SYSTEM_PROMPT
    assert pair["completion"][0]["content"] == (
        "<think>\nEach box has 4 pens, so 3 boxes hold 3*4=12 pens.\n</think>\n#### 12")
    assert card.sft.trl["completion_only_loss"] is False  # the loss covers the whole chat


def test_an_empty_stop_sequence_is_refused(tmp_path):
    recipe = tmp_path / "s.toml"
    recipe.write_text('[model]\nsource = "x"\n[data]\ndataset = "arith"\nstop = ["\\n", ""]\n'
                      '[[rewards]]\nname = "exact-answer"\n')
    done = gmr("recipe", "check", "--no-trl", str(recipe))
    assert done.returncode == 2
    assert "[data].stop must not contain an empty string" in done.stderr


def test_the_card_recipe_trains_every_weight_and_its_lora_variant_raises_the_rates():
    card = load_recipe(REPO / "recipes" / "qwen3.5-0.8b-sft-grpo.toml")
    assert card.lora.enabled is False
    assert (card.sft.trl["learning_rate"], card.grpo.trl["learning_rate"]) == (2e-5, 1e-6)
    lora = load_recipe(REPO / "recipes" / "qwen3.5-0.8b-sft-grpo-lora.toml")
    assert lora.lora.enabled is True and lora.lora.target_modules == "all-linear"
    assert (lora.sft.trl["learning_rate"], lora.grpo.trl["learning_rate"]) == (2e-4, 1e-5)
    assert "LoRA Without Regret" in lora.path.read_text(encoding="utf-8")  # its reason, stated
    changed = {d.split(":")[0] for d in card.differences(lora, ignore=("run.name",
                                                                        "run.output_dir"))}
    assert changed == {"lora.enabled", "lora.dropout", "lora.target_modules",
                       "sft.learning_rate", "grpo.learning_rate"}  # nothing else differs
