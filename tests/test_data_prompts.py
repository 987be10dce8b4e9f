"""Prompt templates, prompt datasets, the SFT builder and `gmr datasets show`."""

from __future__ import annotations

import os
import subprocess
import sys

import pytest

from gamermath.builtin.templates import THINK_SYSTEM_PROMPT
from gamermath.data import build_prompt_dataset, build_sft_dataset, render_prompts
from gamermath.data.samples import GSM8K, write_sample_data
from gamermath.errors import GmrError
from gamermath.recipe import DataSpec


@pytest.fixture
def sample_dir(tmp_path):
    return write_sample_data(tmp_path / "data")


def gmr(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, COLUMNS="200", **env)
    return subprocess.run(
        [sys.executable, "-m", "gamermath", *args], capture_output=True, text=True, env=environ
    )


def test_chat_think_is_system_plus_user_messages(sample_dir):
    ds = build_prompt_dataset(DataSpec("gsm8k", "test", "chat-think", data_dir=sample_dir))
    assert ds.num_rows == 3
    assert set(ds.column_names) >= {"prompt", "question", "answer", "solution", "reasoning"}
    prompt = ds[1]["prompt"]
    assert prompt == [
        {"role": "system", "content": THINK_SYSTEM_PROMPT},
        {"role": "user", "content": ds[1]["question"]},
    ]
    assert "<think>" in THINK_SYSTEM_PROMPT and "#### <number>" in THINK_SYSTEM_PROMPT
    assert ds[1]["answer"] == "1,080"


def test_chat_prompts_render_through_a_real_chat_template(sample_dir, tiny_model):
    from transformers import AutoTokenizer

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    ds = build_prompt_dataset(DataSpec("arith", "test", "chat-think", limit=1))
    text = tokenizer.apply_chat_template(
        ds[0]["prompt"], tokenize=False, add_generation_prompt=True
    )
    assert text.startswith("<|im_start|>system\nYou are a careful math tutor.")
    assert text.endswith(f"{ds[0]['question']}<|im_end|>\n<|im_start|>assistant\n")


def test_plain_is_the_question_text(sample_dir):
    ds = build_prompt_dataset(DataSpec("math500", "test", "plain", data_dir=sample_dir))
    assert ds["prompt"] == ["Compute $2^{10}$.", "Simplify $\\frac{6}{8}$."]


def test_paper_fewshot_shots_come_from_train_with_the_seed(sample_dir):
    spec = DataSpec("gsm8k", "test", "paper-fewshot", shots=2, data_dir=sample_dir)
    rows = render_prompts(spec, seed=3)
    prompt = rows[0]["prompt"]
    blocks = prompt.split("\n\n")
    assert len(blocks) == 3
    train_questions = [question for question, _ in GSM8K["train"]]
    for block in blocks[:2]:
        question = block.split("\n")[0].removeprefix("Question: ")
        assert question in train_questions
        assert "\nSolution: Let's think step by step. " in block
        assert "<<" not in block
        assert block.splitlines()[-1].startswith("#### The final answer is ")
    assert blocks[2] == f"Question: {rows[0]['question']}\nSolution: Let's think step by step."
    again = render_prompts(spec, seed=3)
    assert [r["prompt"] for r in again] == [r["prompt"] for r in rows]
    seeds = {
        render_prompts(spec, seed=s)[0]["prompt"]
        for s in range(6)
    }
    assert len(seeds) > 1


def test_paper_fewshot_defaults_to_eight_shots_on_real_gsm8k(data_dir):
    ds = build_prompt_dataset(
        DataSpec("gsm8k", "test", "paper-fewshot", data_dir=data_dir, limit=2))
    assert ds[0]["prompt"].count("Question: ") == 9
    assert ds[0]["prompt"].count("#### The final answer is ") == 8


def test_mmlu_shots_come_from_dev_of_the_same_subject(sample_dir):
    rows = render_prompts(DataSpec(
        "mmlu-stem", "test", "paper-fewshot", shots=1, data_dir=sample_dir,
        options={"subjects": "abstract_algebra,college_physics"},
    ))
    assert "The identity of (Z, +) is" in rows[0]["prompt"]
    assert "Units of force" in rows[2]["prompt"]


def test_sft_builder_on_real_gsm8k_rows(data_dir):
    ds = build_sft_dataset(DataSpec("gsm8k", "train", data_dir=data_dir, limit=50))
    assert ds.num_rows == 50
    first = ds[0]
    assert first["prompt"][-1] == {
        "role": "user",
        "content": "Natalia sold clips to 48 of her friends in April, and then she sold half "
        "as many clips in May. How many clips did Natalia sell altogether in April and May?",
    }
    assert first["completion"] == [
        {
            "role": "assistant",
            "content": "<think>Natalia sold 48/2 = 24 clips in May.\nNatalia sold 48+24 = 72 "
            "clips altogether in April and May.</think>\n#### 72",
        }
    ]
    for row in ds:
        content = row["completion"][0]["content"]
        assert "<<" not in content and content.count("####") == 1
        assert content.startswith("<think>") and "</think>\n#### " in content
        assert content.rsplit("#### ", 1)[1] == row["answer"].replace(",", "")


def test_sft_builder_on_arith_and_plain_text_templates(sample_dir):
    ds = build_sft_dataset(DataSpec("arith", "train", limit=3))
    row = ds[0]
    a, _, b = row["prompt"][-1]["content"].removeprefix("What is ").rstrip("?").split()
    assert (
        row["completion"][0]["content"] == f"<think>{a} + {b} = {row['answer']}</think>\n"
        f"#### {row['answer']}"
    )
    plain = build_sft_dataset(DataSpec("gsm8k", "train", "plain", data_dir=sample_dir))
    paper = build_sft_dataset(
        DataSpec("gsm8k", "train", "paper-fewshot", shots=0, data_dir=sample_dir))
    assert paper[0]["prompt"].startswith("Question: Tom has 3 boxes")
    assert paper[0]["completion"] == (
        " Each box has 4 pens, so 3 boxes hold 3*4=12 pens.\n#### The final answer is 12"
    )
    assert plain[3]["prompt"] == "A farm has 1,000 hens and buys 80 more. How many hens are there?"
    assert plain[3]["completion"] == "There are 1000+80=1080 hens.\n#### 1080"


def test_sft_needs_a_reasoning_column(sample_dir):
    with pytest.raises(GmrError, match="dataset 'math500' has no 'reasoning' column"):
        build_sft_dataset(DataSpec("math500", "test", data_dir=sample_dir))


def test_unknown_template_and_template_option(sample_dir):
    with pytest.raises(GmrError, match=r"unknown template 'chat-thnk'.*Did you mean 'chat-think'"):
        build_prompt_dataset(DataSpec("arith", "test", "chat-thnk"))
    with pytest.raises(GmrError, match=r"template 'plain' has no option 'system'"):
        build_prompt_dataset(DataSpec("arith", "test", "plain", template_options={"system": "x"}))
    with pytest.raises(GmrError, match="math500' has no train or dev split"):
        build_prompt_dataset(DataSpec("math500", "test", "paper-fewshot", data_dir=sample_dir))


def test_cli_show_prints_prompts_and_gold(sample_dir):
    result = gmr("datasets", "show", "gsm8k", "--data-dir", str(sample_dir), "--limit", "2")
    assert result.returncode == 0, result.stderr
    assert "--- gsm8k test #0 (template chat-think) ---" in result.stdout
    assert "[system]\nYou are a careful math tutor." in result.stdout
    assert "[user]\nSam has 7 apples and eats 2. How many are left?" in result.stdout
    assert "--- gold answer: 1,080" in result.stdout
    assert "#2" not in result.stdout


def test_cli_show_arith_options_and_fewshot(sample_dir):
    result = gmr(
        *"datasets show arith -t paper-fewshot --shots 1 -n 1 -o ops=* -o test_size=20".split()
    )
    assert result.returncode == 0, result.stderr
    assert result.stdout.count("Question: What is ") == 2
    assert " * " in result.stdout


def test_cli_show_errors_are_one_line(tmp_path):
    result = gmr("datasets", "show", "gsm8k", "--data-dir", str(tmp_path))
    assert result.returncode == 2
    assert result.stderr.strip().splitlines()[-1].startswith("Error: gsm8k: no local files under")
    result = gmr("datasets", "show", "arith", "--template", "nope")
    assert result.returncode == 2
    assert "unknown template 'nope'" in result.stderr
    assert "Traceback" not in result.stderr
