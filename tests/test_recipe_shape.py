"""The recipe's derived values, full fine-tuning in the planner, prompt lengths measured on the
recipe's own data, and the checks ``gmr recipe check`` now shares with training."""

from __future__ import annotations

import os
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gamermath.errors import GmrError
from gamermath.planner import (
    README_BEGIN,
    README_END,
    estimate,
    plan,
    plan_recipe,
    resolve_architecture,
    switches_markdown,
)
from gamermath.recipe import load_recipe
from gamermath.recipe.shape import TrainingShape, generation_batch, shape_from_recipe

REPO = Path(__file__).resolve().parents[1]
RECIPE = """
[model]
source = "{source}"

[data]
dataset = "arith"

[[rewards]]
name = "exact-answer"

[[rewards]]
name = "format"
weight = 0.5

[grpo]
num_generations = 4
per_device_train_batch_size = 4
"""


def write(tmp_path: Path, source: str = "Qwen/Qwen2.5-Math-1.5B", extra: str = "") -> Path:
    path = tmp_path / "r.toml"
    path.write_text(textwrap.dedent(RECIPE.format(source=source)) + textwrap.dedent(extra))
    return path


def gmr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gamermath", *args], capture_output=True,
                          text=True, timeout=180, env=dict(os.environ))


# -- derived values -----------------------------------------------------------------------


def test_generation_batch_follows_trl():
    base = {"per_device_train_batch_size": 4, "gradient_accumulation_steps": 3}
    assert generation_batch(base) == 12
    assert generation_batch({**base, "steps_per_generation": 2}) == 8
    assert generation_batch({**base, "generation_batch_size": 16}) == 16


def test_shape_reads_the_filled_values_without_fallbacks(tmp_path):
    recipe = load_recipe(write(tmp_path), ["grpo.beta=0.02", "grpo.optim=adamw_bnb_8bit",
                                           "lora.enabled=false"], check_plugins=False)
    shape = shape_from_recipe(recipe, prompt_tokens=40, prompt_source="measured")
    assert (shape.beta, shape.adam_8bit, shape.full_fine_tuning) == (0.02, True, True)
    assert (shape.prompt_tokens, shape.prompt_source) == (40, "measured")
    assert shape.vllm_memory_share == recipe.grpo.trl["vllm_gpu_memory_utilization"]
    sft = shape_from_recipe(load_recipe(write(tmp_path, extra="[sft]\nlimit = 4\n"),
                                        check_plugins=False), "sft")
    assert sft.prompt_tokens == recipe.sft.trl["max_length"] and not sft.generates


# -- full fine-tuning -------------------------------------------------------------------------


@pytest.mark.parametrize("dtype", ["float32", "bfloat16"])
def test_full_fine_tuning_bytes_match_a_real_adamw_step(tiny_model, dtype):
    """Weights, gradients and AdamW moments of every parameter of a real tiny model."""
    import torch
    from transformers import AutoModelForCausalLM

    arch = resolve_architecture(str(tiny_model))
    model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=getattr(torch, dtype))
    optimizer = torch.optim.AdamW(model.parameters(), lr=1e-4)
    ids = torch.randint(0, arch.vocab_size, (2, 10))
    model(input_ids=ids, labels=ids).loss.backward()
    optimizer.step()
    params = list(model.parameters())
    state = sum(t.numel() * t.element_size() for s in optimizer.state.values()
                for k, t in s.items() if k != "step")
    est = estimate(arch, TrainingShape(dtype=dtype, lora_rank=None, beta=0.04))
    kind = "fp32" if dtype == "float32" else "bf16"
    assert est.trainable_params == sum(p.numel() for p in params)
    assert est.resident["weights"] == sum(p.numel() * p.element_size() for p in params)
    assert est.resident["gradients"] == sum(p.grad.numel() * p.grad.element_size()
                                            for p in params)
    assert est.resident[f"AdamW moments ({kind})"] == state
    # beta > 0 without PEFT: TRL loads a frozen reference copy in the policy's dtype
    assert est.resident["reference model"] == est.resident["weights"]
    assert "reference model" not in estimate(arch, TrainingShape(
        dtype=dtype, lora_rank=None, beta=0.0)).resident


def test_eight_bit_adam_keeps_two_bytes_per_parameter(tiny_model):
    arch = resolve_architecture(str(tiny_model))
    full = estimate(arch, TrainingShape(dtype="bfloat16", lora_rank=None))
    eight = estimate(arch, TrainingShape(dtype="bfloat16", lora_rank=None, adam_8bit=True))
    assert eight.resident["AdamW moments (8-bit)"] == 2 * arch.num_params()
    assert full.resident["AdamW moments (bf16)"] == 4 * arch.num_params()
    assert full.peak_total - eight.peak_total > 2 * arch.num_params()


def test_full_fine_tuning_from_the_recipe_flag(tmp_path):
    path = write(tmp_path, extra="[lora]\nenabled = false\n")
    recipe = load_recipe(path, check_plugins=False)
    est = plan(recipe, prompt_tokens=64)
    lora = plan(load_recipe(write(tmp_path), check_plugins=False), prompt_tokens=64)
    assert est.trainable_params == est.params > 100 * lora.trainable_params
    assert est.resident["gradients"] == est.resident["weights"]
    with pytest.raises(GmrError, match=r"\[lora\].enabled.*load_in_4bit"):
        load_recipe(path, ["lora.enabled=false", "model.load_in_4bit=true"],
                    check_plugins=False)


# -- prompt lengths ---------------------------------------------------------------------------


def test_plan_measures_the_recipes_own_prompts(tmp_path):
    """The CPU arithmetic recipe's prompts are ~20 tokens, not the 192 once assumed."""
    est = plan_recipe("smollm2-arith-cpu")
    shape = est.shape
    assert shape.prompt_source in ("tokenizer", "chars/4")
    assert 5 < shape.prompt_tokens < 80
    assert any(n.startswith("prompt length: longest of 64 rendered prompts") for n in est.notes)
    fixed = plan_recipe("smollm2-arith-cpu", prompt_tokens=192)
    assert fixed.shape.prompt_source == "--prompt-tokens"
    assert fixed.peak_tensors > est.peak_tensors


def test_unreadable_data_falls_back_to_a_stated_assumption(tmp_path, monkeypatch):
    monkeypatch.setenv("GMR_DATA_DIR", str(tmp_path / "empty"))
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    recipe = load_recipe(write(tmp_path), ["data.dataset=gsm8k"], check_plugins=False)
    est = plan(recipe)
    assert est.shape.prompt_source == "assumed"
    assert est.notes[0].startswith("prompt length assumed")


def test_readme_plan_table_is_generated_by_the_tool():
    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert README_BEGIN in text and README_END in text
    block = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    from gamermath.planner import GIB, find_card

    card = find_card("3080 Ti Laptop")
    table = switches_markdown(plan_recipe("youronmath-paper",
                                          card_bytes=int(card.memory_gb * GIB)))
    assert block.strip() == table.strip(), (
        'README plan table drifted: regenerate with gmr plan youronmath-paper --gpu "3080 Ti '
        'Laptop" --markdown')


# -- recipe check catches what training would -------------------------------------------------


def test_chained_gates_fail_at_load(tmp_path):
    path = write(tmp_path, extra="")
    with pytest.raises(GmrError, match=r"#1 \(exact-answer\)\.gate 'format' is gated itself"):
        load_recipe(path, ["rewards.exact-answer.gate=format", "rewards.format.gate=x"],
                    check_plugins=False)


def test_recipe_check_names_target_modules_the_model_lacks(tiny_model, tmp_path):
    path = write(tmp_path, source=str(tiny_model))
    done = gmr("recipe", "check", str(path), "--no-trl",
               "--set", 'lora.target_modules=["q_proj", "qkv_proj"]')
    assert done.returncode == 2, done.stderr
    assert "[lora].target_modules: qkv_proj not found" in done.stderr
    assert "its linear modules: " in done.stderr and "Traceback" not in done.stderr
    assert gmr("recipe", "check", str(path), "--no-trl").returncode == 0


def test_recipe_check_accepts_a_shipped_name_and_notes_an_unchecked_model():
    done = gmr("recipe", "check", "youronmath-paper", "--no-trl")
    assert done.returncode == 0, done.stderr
    assert "target_modules not checked" in done.stderr


def test_recipe_check_remembers_the_configs_trl_accepted(tmp_path):
    """The second check of the same values imports no torch; a changed value TRL rejects
    still fails (the cache is keyed by every argument)."""
    path = write(tmp_path)
    env = dict(os.environ, GMR_CACHE_DIR=str(tmp_path / "cache"))
    code = ("import sys; from gamermath.recipe import load_recipe; "
            "from gamermath.engine.trl_config import check_trl_configs; "
            "check_trl_configs(load_recipe(sys.argv[1])); print('torch' in sys.modules)")
    runs = [subprocess.run([sys.executable, "-c", code, str(path)], capture_output=True,
                           text=True, timeout=180, env=env) for _ in range(2)]
    assert [r.stdout.strip() for r in runs] == ["True", "False"], runs[0].stderr
    assert list((tmp_path / "cache" / "trl-checked").rglob("*"))
    bad = subprocess.run([sys.executable, "-m", "gamermath", "recipe", "check", str(path),
                          "--set", "grpo.generation_batch_size=6"], capture_output=True,
                         text=True, timeout=180, env=env)
    assert bad.returncode == 2 and "Traceback" not in bad.stderr


def test_a_config_transformers_cannot_build_is_a_note_not_an_error(tmp_path):
    model = tmp_path / "model"
    model.mkdir()
    (model / "config.json").write_text('{"model_type": "no-such-architecture"}')
    done = gmr("recipe", "check", str(write(tmp_path, source=str(model))), "--no-trl")
    assert done.returncode == 0, done.stderr
    assert "target_modules not checked: transformers cannot build it" in done.stderr


def test_a_gguf_models_converted_config_is_checked_without_converting(tiny_model, tmp_path):
    """A .gguf source already converted: its cached config.json names the modules."""
    import shutil

    from gamermath.models.gguf import converted_dir

    gguf = tmp_path / "model.gguf"
    gguf.write_bytes(b"GGUF not really")
    cache = tmp_path / "cache"
    converted = converted_dir(gguf, cache)
    converted.mkdir(parents=True)
    shutil.copy(tiny_model / "config.json", converted / "config.json")
    path = write(tmp_path, source=str(gguf))
    done = subprocess.run(
        [sys.executable, "-m", "gamermath", "recipe", "check", str(path), "--no-trl", "--set",
         'lora.target_modules=["q_proj", "wq"]'], capture_output=True, text=True, timeout=180,
        env=dict(os.environ, GMR_CACHE_DIR=str(cache)))
    assert done.returncode == 2 and "[lora].target_modules: wq not found" in done.stderr


def test_a_recipe_path_that_is_a_directory_is_one_line(tmp_path):
    done = gmr("plan", str(tmp_path))
    assert done.returncode == 2 and done.stderr.strip().endswith(
        "is a directory, not a recipe file") and "Traceback" not in done.stderr
    with pytest.raises(GmrError, match="recipe does not exist.*shipped recipe"):
        load_recipe(tmp_path / "nope.toml")
