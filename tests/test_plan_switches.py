"""One-GPU switches: presets, package checks, the planner's arithmetic per switch, ranking."""

from __future__ import annotations

import importlib.util
import json
import math
import subprocess
import sys
from dataclasses import replace
from pathlib import Path

import pytest

from gamermath import planner
from gamermath.engine import switches
from gamermath.errors import GmrError
from gamermath.planner import GIB, KNOWN_ARCHITECTURES, TrainingShape, estimate
from gamermath.recipe import load_recipe

REPO = Path(__file__).resolve().parents[1]
PAPER = REPO / "recipes" / "youronmath-paper.toml"
QWEN = KNOWN_ARCHITECTURES["qwen2.5-math-1.5b"]
QKVO = ("q_proj", "k_proj", "v_proj", "o_proj")
#: the paper recipe's shape (batch 1 x 4, 4 generations, 640 + 256 tokens, bf16)
PAPER_SHAPE = TrainingShape(dtype="bfloat16", lora_rank=16, lora_targets=QKVO,
                            per_device_train_batch_size=1, gradient_accumulation_steps=4,
                            num_generations=4, prompt_tokens=640, completion_tokens=256,
                            gradient_checkpointing=True)


def gmr(*args: str, timeout: int = 180) -> subprocess.CompletedProcess:
    import os

    env = {**os.environ, "COLUMNS": "250"}  # rich tables unfolded
    return subprocess.run([sys.executable, "-m", "gamermath", *args], capture_output=True,
                          text=True, timeout=timeout, env=env)


# --------------------------------------------------------------------------- presets


def test_a_preset_fills_unset_fields_and_the_recipe_wins():
    recipe = load_recipe(PAPER, ["grpo.preset=vllm-colocate",
                                 "grpo.vllm_enable_sleep_mode=false"], check_plugins=False)
    trl = recipe.grpo.trl
    assert trl["use_vllm"] is True and trl["vllm_mode"] == "colocate"
    assert trl["vllm_enable_sleep_mode"] is False  # --set beats the preset
    assert recipe.origins["grpo.use_vllm"] == "preset vllm-colocate"
    assert recipe.origins["grpo.vllm_enable_sleep_mode"] == "--set"
    shown = recipe.to_toml(annotate=True)
    assert "use_vllm = true  # preset vllm-colocate" in shown
    low = load_recipe(PAPER, ["grpo.preset=low-memory"], check_plugins=False)
    assert low.grpo.trl["gradient_checkpointing_kwargs"] == {"offload": True}


def test_a_saved_preset_recipe_reads_back_equal(tmp_path):
    recipe = load_recipe(PAPER, ["grpo.preset=paged"], check_plugins=False)
    saved = tmp_path / "recipe.toml"
    saved.write_text(recipe.to_toml(annotate=True))
    again = load_recipe(saved, check_plugins=False)
    assert again.differences(recipe, ignore=("run.output_dir", "run.name")) == []


def test_an_unknown_preset_names_the_key_and_the_choices(tmp_path):
    out = gmr("recipe", "check", str(PAPER), "--no-trl", "--set", "grpo.preset=pagd")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "[grpo].preset must be one of vllm-colocate, paged, low-memory" in out.stderr
    assert "did you mean paged?" in out.stderr


def test_continuous_batching_cache_is_sized_for_one_generation_batch(tmp_path):
    from gamermath.engine.trl_config import make_config, trainer_args

    recipe = load_recipe(PAPER, ["grpo.preset=paged"], check_plugins=False)
    args = trainer_args(recipe, "grpo", str(tmp_path))
    config = args["transformers_continuous_batching_config"]
    # the paper's 4 sequences of 128 prompt + 150 completion tokens in pages of 256: 2 each
    assert (recipe.grpo.max_prompt_length, recipe.completion_tokens()) == (128, 150)
    assert config == {"num_blocks": 8, "max_batch_tokens": 4 * 278,
                      "max_requests_per_batch": 4}
    args.update(use_cpu=True, bf16=False)
    assert make_config(recipe, "grpo", args).use_transformers_continuous_batching
    # a recipe that sizes the cache itself keeps its own numbers
    own = load_recipe(PAPER, ["grpo.preset=paged",
                              "grpo.transformers_continuous_batching_config={num_blocks=3}"],
                      check_plugins=False)
    assert trainer_args(own, "grpo", str(tmp_path))[
        "transformers_continuous_batching_config"] == {"num_blocks": 3}


def test_the_planner_reads_every_switch_from_the_recipe():
    recipe = load_recipe(PAPER, [
        "grpo.preset=vllm-colocate", "grpo.vllm_gpu_memory_utilization=0.45",
        "grpo.use_liger_kernel=true", "grpo.gradient_checkpointing=true",
        "grpo.gradient_checkpointing_kwargs={offload=true, every_n_layers=2}",
        "model.load_in_4bit=true"], check_plugins=False)
    shape = planner.shape_from_recipe(recipe)
    assert shape.vllm and shape.vllm_sleep and shape.vllm_memory_share == 0.45
    assert shape.liger and shape.offload_activations and shape.checkpoint_every_n_layers == 2
    assert shape.quantization == "4bit" and shape.flash_attention
    paged = planner.shape_from_recipe(load_recipe(PAPER, ["grpo.preset=paged"],
                                                  check_plugins=False))
    assert paged.paged and not paged.vllm and paged.paged_memory_percent is None


def test_activation_checkpointing_beats_its_deprecated_alias_in_plan_and_trl(tmp_path):
    """transformers 5 reads activation_checkpointing first: so must the planner."""
    from gamermath.engine.trl_config import make_config, trainer_args

    recipe = load_recipe(PAPER, ["grpo.gradient_checkpointing=true",
                                 "grpo.activation_checkpointing=false"], check_plugins=False)
    assert recipe.grpo.trl["gradient_checkpointing"] is True
    args = trainer_args(recipe, "grpo", str(tmp_path))
    args.update(use_cpu=True, bf16=False)
    assert make_config(recipe, "grpo", args).activation_checkpointing is False
    assert planner.shape_from_recipe(recipe).gradient_checkpointing is False


# --------------------------------------------------------------------------- package checks


@pytest.mark.parametrize("setting, key, pip, module", [
    ("grpo.use_vllm=true", "[grpo].use_vllm = true", "pip install 'gamermath[vllm]'", "vllm"),
    ("grpo.preset=vllm-colocate", "[grpo].use_vllm = true (from preset vllm-colocate)",
     "pip install 'gamermath[vllm]'", "vllm"),
    ("grpo.use_liger_kernel=true", "[grpo].use_liger_kernel = true",
     "pip install 'gamermath[liger]'", "liger_kernel"),
    ("model.load_in_4bit=true", "[model].load_in_4bit = true",
     "pip install 'gamermath[qlora]'", "bitsandbytes"),
])
def test_recipe_check_names_the_key_and_the_pip_command(setting, key, pip, module):
    if importlib.util.find_spec(module) is not None:
        pytest.skip(f"{module} is installed here")
    out = gmr("recipe", "check", str(PAPER), "--set", setting)
    assert out.returncode == 2, out.stdout
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "Traceback" not in out.stderr
    assert f"youronmath-paper.toml: {key} needs" in lines[0] and lines[0].endswith(pip)


def test_a_too_old_package_says_which_version_it_needs():
    too_new = switches.Requirement("click", "click", "999.0", "pip install -U click")
    problem = switches.missing_requirement(too_new)
    assert problem.startswith("click >= 999.0, found ")
    assert switches.missing_requirement(
        switches.Requirement("click", "click", "1.0", "")) is None
    assert switches.missing_requirement(
        switches.Requirement("no_such_module_xyz", "no-such", "1", "")) == (
        "no-such, which is not installed")


def test_switches_that_need_cuda_are_refused_without_it():
    for setting, key in (("grpo.use_vllm=true", "[grpo].use_vllm"),
                         ("sft.use_liger_kernel=true", "[sft].use_liger_kernel"),
                         ("grpo.preset=low-memory",
                          "[grpo].gradient_checkpointing_kwargs.offload"),
                         ("model.load_in_4bit=true", "[model].load_in_4bit")):
        # the paper recipe turns checkpointing off, and offload needs it on
        recipe = load_recipe(PAPER, [setting, "grpo.gradient_checkpointing=true"],
                             check_plugins=False)
        with pytest.raises(GmrError, match=key.replace("[", r"\[").replace("]", r"\]")):
            switches.check_switch_device(recipe, cuda=False)
        switches.check_switch_device(recipe, cuda=True)
    # continuous batching runs on a CPU
    paged = load_recipe(PAPER, ["grpo.preset=paged"], check_plugins=False)
    switches.check_switch_device(paged, cuda=False)


def test_gmr_train_refuses_a_cuda_switch_on_a_cpu_before_any_run_directory(tmp_path,
                                                                            tiny_model):
    import torch

    if torch.cuda.is_available():
        pytest.skip("this machine has CUDA")
    run_dir = tmp_path / "run"
    out = gmr("train", str(REPO / "recipes" / "tiny.toml"), "--set",
              f"model.source={tiny_model}", "--set", "grpo.preset=low-memory",
              "--set", "grpo.gradient_checkpointing=true", "--run-dir", str(run_dir))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "[grpo].gradient_checkpointing_kwargs.offload needs a CUDA GPU" in out.stderr
    assert not run_dir.exists()


# --------------------------------------------------------------------------- arithmetic


def test_offload_and_every_n_layers_by_hand():
    tokens = 1 * 896
    plain = estimate(QWEN, PAPER_SHAPE)
    inputs = 28 * tokens * 1536 * 2
    assert plain.training["checkpointed layer inputs"] == inputs
    off = estimate(QWEN, replace(PAPER_SHAPE, offload_activations=True))
    assert off.training["checkpointed layer inputs (offloaded to host)"] == 0
    assert plain.training_bytes - off.training_bytes == inputs
    half = estimate(QWEN, replace(PAPER_SHAPE, checkpoint_every_n_layers=3))
    layer = plain.training["one layer recomputed"]
    assert half.training["checkpointed layer inputs"] == 10 * tokens * 1536 * 2  # ceil(28/3)
    assert half.training["layers not checkpointed"] == 18 * layer


def test_liger_saves_4h_plus_2i_per_token_and_layer():
    shape = replace(PAPER_SHAPE, gradient_checkpointing=False)
    plain = estimate(QWEN, shape).training["activations"]
    liger = estimate(QWEN, replace(shape, liger=True)).training["activations"]
    assert plain - liger == 28 * 896 * (4 * 1536 + 2 * 8960)
    # with checkpointing only the recomputed layer shrinks
    gc = estimate(QWEN, PAPER_SHAPE).peak_tensors - estimate(
        QWEN, replace(PAPER_SHAPE, liger=True)).peak_tensors
    assert 0 <= gc <= 896 * (4 * 1536 + 2 * 8960)


def test_four_bit_base_keeps_bf16_adapters():
    est = estimate(QWEN, replace(PAPER_SHAPE, quantization="4bit"))
    t = 4_358_144
    assert est.resident["LoRA weights (bf16)"] == 2 * t
    assert est.resident["AdamW moments (bf16)"] == 4 * t
    assert "LoRA weights (fp32)" not in est.resident
    linear = QWEN.linear_params()
    assert est.resident["weights"] == math.ceil(linear * 4.127 / 8) + (
        QWEN.num_params() - linear) * 2


def test_paged_cache_by_hand():
    est = estimate(QWEN, replace(PAPER_SHAPE, paged=True, flash_attention=True))
    kv = 2 * 28 * 256 * 2  # K and V bytes per token
    assert est.generation["paged KV cache"] == 4 * 4 * 256 * kv  # 4 sequences x 4 pages
    assert est.generation["batch working set"] == 4 * 896 * 2 * (1536 + 1536 + 512 + 4 * 128)
    assert est.generation["per-request logits (fp32)"] == 4 * (1536 * 2 + 151936 * 4)
    assert "attention mask" not in est.generation
    assert est.resident["LoRA weights (bf16)"] == 2 * 4_358_144  # TRL casts before generating
    sdpa = estimate(QWEN, replace(PAPER_SHAPE, paged=True))
    assert sdpa.generation["attention mask"] == 2 * 3584 * (4096 + 3584)
    # a share of the free memory instead: it grows with the card
    card = 12 * GIB
    share = estimate(QWEN, replace(PAPER_SHAPE, paged=True, paged_memory_percent=0.5), card)
    free = card - planner.CUDA_CONTEXT_BYTES - int(share.resident_bytes * 1.1)
    assert share.generation["paged KV cache"] == (free // 2) // kv * kv


def test_vllm_reservation_sleep_and_slack_by_hand():
    shape = replace(PAPER_SHAPE, vllm=True, vllm_memory_share=0.4)
    need = planner.vllm_need(QWEN, shape)
    assert need["vLLM weights copy"] == estimate(QWEN, PAPER_SHAPE).resident["weights"]
    assert need["vLLM KV cache"] == 2 * 28 * 256 * 2 * 4 * 896  # 896 = 56 blocks of 16
    card = 16 * GIB
    awake = estimate(QWEN, shape, card)
    reserved = int(0.4 * card)
    assert awake.generation == {"vLLM reservation (vllm_gpu_memory_utilization 0.4)": reserved}
    assert awake.training["vLLM reservation (vllm_gpu_memory_utilization 0.4)"] == reserved
    asleep = estimate(QWEN, replace(shape, vllm_sleep=True), card)
    assert asleep.training["vLLM asleep (CUDA graphs and buffers)"] == GIB // 2
    # the reservation gets no allocator slack
    assert asleep.peak_phase == "generation"
    assert asleep.peak_total == int((asleep.peak_tensors - reserved) * 1.1) + reserved + GIB // 2
    # no card: what one batch needs, and a note saying so
    nocard = estimate(QWEN, shape)
    assert nocard.generation == need and any("give --gpu" in n for n in nocard.notes)
    # server mode: the rollouts are another process's memory
    server = planner.plan_recipe(PAPER, overrides=("grpo.use_vllm=true",
                                                   "grpo.vllm_mode=server"))
    assert server.shape.vllm_server and server.generation == {}
    assert any("server mode" in n for n in server.notes)
    # too small a share is named, with the share that works
    tiny = estimate(QWEN, replace(shape, vllm_memory_share=0.1), card)
    assert any("less than" in n and "use at least 0.25" in n for n in tiny.notes)
    assert planner.vllm_share_needed(need, card) == 0.25


# --------------------------------------------------------------------------- ranking


def test_switches_are_ranked_by_peak_and_re_estimated_for_the_card():
    card = 12 * GIB
    base = estimate(QWEN, replace(PAPER_SHAPE, gradient_checkpointing=False), card)
    ranked = planner.ranked_switches(base)
    peaks = [s.estimate.peak_total for s in ranked]
    assert peaks == sorted(peaks)
    names = {s.change for s in ranked}
    assert {"turn on gradient_checkpointing", "Liger kernels (use_liger_kernel)",
            "vLLM colocate with sleep mode", "continuous batching (paged KV cache)",
            "gradient checkpointing with activation offload"} <= names
    assert all(s.estimate.card_bytes == card and s.sets for s in ranked)
    vllm = next(s for s in ranked if s.change.startswith("vLLM"))
    assert vllm.estimate.peak_total > base.peak_total  # a second copy of the weights
    # the smallest share (in steps of 0.05) that holds one generation batch: 3.64 GB of 12
    need = sum(planner.vllm_need(QWEN, base.shape).values())
    assert "grpo.vllm_gpu_memory_utilization=0.35" in vllm.sets
    assert 0.30 * card < need <= 0.35 * card
    # suggestions keep only what lowers the peak, biggest saving first
    ideas = planner.suggestions(base)
    assert all(i.saving(base) > 0 for i in ideas)
    # here the generation phase sets the peak once checkpointing is on, so plain checkpointing
    # saves as much as checkpointing with offload
    top = {i.change for i in ideas if i.saving(base) == ideas[0].saving(base)}
    assert {"turn on gradient_checkpointing",
            "gradient checkpointing with activation offload"} <= top
    assert not any(i.change.startswith("vLLM colocate") for i in ideas)


@pytest.mark.parametrize("change", [
    "turn on gradient_checkpointing", "gradient checkpointing with activation offload",
    "Liger kernels (use_liger_kernel)", "model.load_in_4bit = true (QLoRA, needs bitsandbytes)",
    "vLLM colocate with sleep mode", "continuous batching (paged KV cache)",
])
def test_each_switch_sets_exactly_what_it_estimates(change):
    """Applying a switch's --set values to the recipe gives the planner's figure for it."""
    card = 12 * GIB
    base = planner.plan_recipe(PAPER, overrides=("grpo.gradient_checkpointing=false",),
                               card_bytes=card)
    switch = next(s for s in planner.ranked_switches(base) if s.change == change)
    applied = planner.plan_recipe(PAPER, card_bytes=card, overrides=(
        "grpo.gradient_checkpointing=false", *switch.sets))
    assert applied.peak_total == switch.estimate.peak_total
    assert applied.components() == switch.estimate.components()


def test_cli_plan_ranks_the_switches_for_a_card():
    out = gmr("plan", str(PAPER), "--gpu", "RTX 3080 Ti Laptop", "--json")
    assert out.returncode == 0, out.stderr
    data = json.loads(out.stdout)
    assert data["verdict"]["card_bytes"] == 16 * GIB
    listed = data["switches"]
    assert [s["peak_total_bytes"] for s in listed] == sorted(s["peak_total_bytes"] for s in listed)
    vllm = next(s for s in listed if s["change"].startswith("vLLM"))
    assert vllm["needs"] == "gamermath[vllm], CUDA" and vllm["fits"] is True
    assert "grpo.use_vllm=true" in vllm["sets"]
    text = gmr("plan", str(PAPER), "--gpu", "4060", "--set", "grpo.preset=vllm-colocate")
    assert text.returncode == 0, text.stderr
    assert "vLLM reservation (vllm_gpu_memory_utilization 0.3)" in text.stdout
    assert "switches for RTX 4060, lowest peak first" in text.stdout
    assert "gamermath[qlora]" in text.stdout
