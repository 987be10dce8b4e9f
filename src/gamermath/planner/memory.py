"""Memory arithmetic: the peak GPU memory of one training step of a shape, phase by phase.

The estimate follows what TRL ``GRPOTrainer`` + PEFT LoRA actually allocate on one GPU, phase
by phase. Symbols: ``P`` parameters of the base model, ``T`` LoRA (trainable) parameters,
``L`` decoder layers, ``h`` hidden size, ``I`` MLP intermediate size, ``q``/``kv`` the query
and key/value projection widths, ``V`` vocabulary, ``b`` bytes of the compute dtype (2 for
bf16/fp16, 4 for fp32), ``B`` completions per micro-batch (``per_device_train_batch_size``;
TRL counts completions, not prompts), ``G`` completions generated at once
(``generation_batch_size`` = ``B x steps_per_generation``, by default ``B x
gradient_accumulation_steps``), ``p``/``c`` prompt/completion tokens.

Always resident

- weights: ``P x b`` (4-bit NF4: 4.13 bits per linear-layer weight with double quantisation,
  embeddings and norms stay at ``b``; 8-bit: 1 byte per linear-layer weight).
- LoRA parameter count: the sum over targeted linear layers of ``r x (in + out)``.
- LoRA weights, gradients and AdamW state: PEFT keeps adapters in fp32 even over a bf16 base
  (``autocast_adapter_dtype``) and ``torch.optim.AdamW`` allocates its two moments like the
  parameter, so ``T x (4 + 4 + 2 x 4) = 16 T`` bytes. No separate fp32 master copy exists
  because the trainable weights already are fp32. Full fine-tuning (``[lora] enabled =
  false``): every weight trains in the dtype it was loaded in (TRL/transformers keep no
  separate fp32 master copy), so weights ``P x b``, gradients ``P x b`` and AdamW's two
  moments ``2 P x b`` (``torch.optim.AdamW`` allocates them like the parameter: 8 bytes per
  parameter in fp32, 4 in bf16); 8-bit AdamW (``optim`` containing ``8bit``, bitsandbytes)
  keeps each moment in one byte, ``2 P``.
- reference model: with PEFT and a fresh adapter, TRL computes reference log-probs with the
  adapters disabled on the same model (``GRPOTrainer.__init__``: ``ref_model = None`` for a
  PEFT model), so ``beta > 0`` costs no weights. When GRPO continues an adapter that SFT
  trained, TRL >= 0.27 keeps a frozen copy of it as a second adapter named ``ref`` (the KL
  reference is the SFT model): ``T`` more adapter weights, no gradients or moments. Without
  PEFT (full fine-tuning) and ``beta > 0`` it loads a second, frozen copy of the model in the
  policy's dtype (``GRPOTrainer.__init__``: ``create_model_from_path(..., dtype=
  self.model.dtype)``), ``P x b``.

Phase peaks (the step's peak is resident + the largest phase)

- generation: the KV cache ``2 x L_attn x kv x G x (p + c) x b`` (hybrid models count only
  full-attention layers and add the fixed recurrent state of linear-attention layers), the
  prefill's transient ``G x p x (8 h + 6 I) x b`` and ``3 x G x V x 4`` bytes of fp32
  next-token logits and probabilities.
- training micro-step: activations saved for backward over ``B x (p + c)`` tokens. Per layer
  and token this is ``8 h + 4 q + 4 kv + 6 I`` bytes at bf16 plus, for each LoRA-targeted
  linear layer, ``3 x in`` bytes (the fp32 cast of its input) and ``4 x in`` more with LoRA
  dropout. These coefficients are an estimate fitted to the tensors autograd saves in a Qwen2
  decoder layer under bf16 autocast (measured with ``torch.autograd.graph.saved_tensors_hooks``;
  ``tests/test_plan.py`` re-measures them); they play the role of the ``34 s b h`` of
  Korthikanti et al. 2022 (arXiv 2205.05198) for a SwiGLU, grouped-query, LoRA layer. With
  gradient checkpointing only each layer's input (``h x b`` per token) is kept, plus one
  layer's full activations during its recomputation.
- log-probabilities: TRL >= 1.x never materialises ``B x c x V`` logits; its fused LM head
  (``trl.kernels.ChunkedLogProbFunction``) projects tiles of at most 4096 tokens x 32768
  vocabulary entries, keeps the final hidden states of the ``B x c`` completion tokens, and
  accumulates an fp32 gradient of them in backward: ``tile x b + B x c x h x (b + 4)``.

One-GPU switches (``gamermath.engine.switches``; ``advice.switch_options`` re-estimates each)

- gradient checkpointing with ``offload`` (transformers' ``activation_checkpointing_kwargs``):
  the checkpointed layer inputs live in pinned host memory, so only the recomputed layer
  stays on the card. ``every_n_layers = n`` checkpoints ``ceil(L / n)`` layers; the others
  keep their full activations.
- Liger kernels (``use_liger_kernel``; TRL 1.16 applies only Liger's layer kernels, its own
  fused LM head already avoids the logits): per layer and token ``4 h`` bytes less for the
  two RMSNorms (bf16 input and fp32 rstd instead of an fp32 copy) and ``2 I`` less for
  SwiGLU (gate and up kept, SiLU recomputed).
- 4-bit base: the weights as above; TRL turns the adapters to bf16 over a quantized model,
  so LoRA weights, gradients and both moments take ``2 T`` bytes each (``8 T``).
- continuous batching (``use_transformers_continuous_batching``): the generation phase is
  transformers' paged cache instead of ``generate``'s: ``G x ceil((p + c) / 256)`` pages of
  256 tokens of K and V (gmr sizes it so; a recipe's ``max_memory_percent`` takes that share
  of the card's free memory instead), a working set of ``M = min(8192, G (p + c))`` batch
  tokens x the attention peak (hidden, query, new and read-back K/V; with SDPA the KV heads
  repeated to the query heads), an SDPA mask ``M x (pool + M)``, and one fp32 vocabulary row
  per running request. TRL casts the model to the compute dtype before it generates, so the
  adapters train in bf16 from then on (``8 T`` as for 4-bit).
- vLLM colocate (``use_vllm``, ``vllm_mode = "colocate"``): vLLM holds its own copy of the
  (merged) weights, the KV cache and its working memory in a reservation of
  ``vllm_gpu_memory_utilization x card`` (with no card: what one generation batch needs:
  weights copy, KV cache in 16-token blocks, the profiling pass over TRL's 4096 batched
  tokens, 0.5 GiB of CUDA graphs and buffers, an assumption). With sleep mode
  (``vllm_enable_sleep_mode``, level 2 in TRL) the reservation is freed while the model
  trains, leaving the 0.5 GiB; without it the reservation stays through training. The verdict
  adds no allocator slack to vLLM's reservation.

The figure to compare with ``torch.cuda.max_memory_allocated`` is ``peak_tensors`` (for vLLM
the device's used memory, as its reservation bypasses PyTorch's counters). The verdict adds
what the allocator does not report: the CUDA context and kernels (0.5 GiB) and 10% allocator
slack (fragmentation of the caching allocator).
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass, field

from gamermath.errors import GmrError
from gamermath.planner.architecture import Architecture, LinearLayer, targets
from gamermath.planner.hardware import CUDA_CONTEXT_BYTES, GIB, gib
from gamermath.recipe.shape import CB_PAGE_SIZE, TrainingShape, continuous_batching_config

ALLOCATOR_SLACK = 0.10

#: bits per linear-layer weight when the base model is quantised with bitsandbytes
QUANT_BITS = {"4bit": 4.127, "nf4": 4.127, "fp4": 4.127, "8bit": 8.0, "int8": 8.0}

# Activation bytes per layer and token at bf16 (see the module docstring).
ACT_PER_HIDDEN = 8
ACT_PER_QUERY = 4
ACT_PER_KV = 4
ACT_PER_INTERMEDIATE = 6
ACT_PER_LORA_INPUT = 3
ACT_PER_LORA_DROPOUT_INPUT = 4

LOGPROB_TOKEN_TILE = 4096
LOGPROB_VOCAB_TILE = 32768

# Liger's kernels (use_liger_kernel): its RMSNorm saves the bf16 input and a per-token fp32
# rstd instead of the fp32 cast of the input (4 h bytes less over a layer's two norms); its
# SwiGLU saves the gate and up projections and recomputes SiLU (2 I bytes less).
LIGER_SAVES_PER_HIDDEN = 4
LIGER_SAVES_PER_INTERMEDIATE = 2

#: components of vLLM's own reservation start with this
VLLM_PREFIX = "vLLM"
#: tokens per vLLM KV-cache block
VLLM_BLOCK_TOKENS = 16
#: TRL 1.16 starts colocated vLLM with max_num_batched_tokens=4096: the profiling forward
#: pass that sizes its KV cache runs this many tokens
VLLM_PROFILE_TOKENS = 4096
#: vLLM memory its sleep mode does not free (CUDA graphs, sampler and staging buffers):
#: an assumption, to be measured by bench/gpu_paper_recipe.py
VLLM_RUNTIME_BYTES = GIB // 2


@dataclass
class Estimate:
    """A memory estimate: named components (bytes) and the phase that sets the peak.

    Components named ``vLLM ...`` are vLLM's own reservation, outside PyTorch's caching
    allocator: the verdict adds no allocator slack to them.
    """

    architecture: Architecture
    shape: TrainingShape
    params: int
    trainable_params: int
    resident: dict[str, int]
    generation: dict[str, int]
    training: dict[str, int]
    notes: list[str] = field(default_factory=list)
    #: the card the estimate was made for (vLLM's share and the paged cache depend on it)
    card_bytes: int | None = None

    @property
    def resident_bytes(self) -> int:
        return sum(self.resident.values())

    @property
    def generation_bytes(self) -> int:
        return sum(self.generation.values())

    @property
    def training_bytes(self) -> int:
        return sum(self.training.values())

    @property
    def peak_phase(self) -> str:
        return "generation" if self.generation_bytes > self.training_bytes else "training"

    @property
    def peak_tensors(self) -> int:
        """Comparable with ``torch.cuda.max_memory_allocated`` (vLLM's pool included)."""
        return self.resident_bytes + max(self.generation_bytes, self.training_bytes)

    @property
    def outside_allocator(self) -> int:
        """Bytes of the peak phase that vLLM reserves itself."""
        phase = self.generation if self.peak_phase == "generation" else self.training
        return sum(v for k, v in phase.items() if k.startswith(VLLM_PREFIX))

    @property
    def peak_total(self) -> int:
        """What the card must hold: tensors, allocator slack and the CUDA context."""
        pooled = self.outside_allocator
        return int((self.peak_tensors - pooled) * (1 + ALLOCATOR_SLACK)) + pooled + \
            CUDA_CONTEXT_BYTES

    def components(self) -> dict[str, int]:
        """Every component, generation and training parts prefixed by their phase."""
        out = dict(self.resident)
        out.update({f"generation: {k}": v for k, v in self.generation.items()})
        out.update({f"training: {k}": v for k, v in self.training.items()})
        return out


def activation_bytes_per_token_layer(
    arch: Architecture, shape: TrainingShape, linears: list[LinearLayer]
) -> float:
    """Bytes autograd keeps per token in one decoder layer (no checkpointing)."""
    scale = shape.dtype_bytes / 2  # the coefficients are bytes at bf16
    hidden, intermediate = ACT_PER_HIDDEN, ACT_PER_INTERMEDIATE
    if shape.liger:
        hidden -= LIGER_SAVES_PER_HIDDEN
        intermediate -= LIGER_SAVES_PER_INTERMEDIATE
    base = (
        hidden * arch.hidden_size
        + ACT_PER_QUERY * arch.query_width
        + ACT_PER_KV * arch.kv_width
        + intermediate * arch.intermediate_size
    ) * scale
    lora = 0.0
    if shape.lora_rank is not None:
        per_input = ACT_PER_LORA_INPUT + (ACT_PER_LORA_DROPOUT_INPUT if shape.lora_dropout else 0)
        lora = sum(
            per_input * lin.in_features for lin in linears if targets(lin.name, shape.lora_targets)
        )
    return base + lora


def weight_bytes(arch: Architecture, shape: TrainingShape) -> int:
    """The base model's weights at the shape's dtype or quantization."""
    params, linear = arch.num_params(), arch.linear_params()
    if not shape.quantization:
        return params * shape.dtype_bytes
    bits = QUANT_BITS.get(shape.quantization.lower())
    if bits is None:
        raise GmrError(f"unknown quantization '{shape.quantization}'; use 4bit or 8bit")
    return math.ceil(linear * bits / 8) + (params - linear) * shape.dtype_bytes


def kv_bytes_per_token(arch: Architecture, shape: TrainingShape) -> int:
    """K and V of one token over the full-attention layers."""
    return 2 * arch.attention_layers * arch.kv_width * shape.dtype_bytes


def linear_attention_state(arch: Architecture, shape: TrainingShape, sequences: int) -> int:
    """The fixed recurrent and convolution state of hybrid models' linear-attention layers."""
    if not arch.linear_attention_layers:
        return 0
    state = arch.linear_value_heads * arch.linear_key_head_dim * arch.linear_value_head_dim * 4
    key = arch.linear_key_heads * arch.linear_key_head_dim
    conv = (2 * key + arch.linear_value_heads * arch.linear_value_head_dim)
    conv *= arch.linear_conv_kernel * shape.dtype_bytes
    return arch.linear_attention_layers * sequences * (state + conv)


def _generate_phase(arch: Architecture, shape: TrainingShape) -> dict[str, int]:
    """``model.generate``: a dynamic KV cache for G padded sequences."""
    g, b = shape.generation_batch, shape.dtype_bytes
    generation: dict[str, int] = {
        "KV cache": kv_bytes_per_token(arch, shape) * g * shape.sequence_tokens
    }
    state = linear_attention_state(arch, shape, g)
    if state:
        generation["linear-attention state"] = state
    generation["prefill transient"] = (
        g * shape.prompt_tokens * (8 * arch.hidden_size + 6 * arch.intermediate_size) * b // 2
    )
    generation["next-token logits (fp32)"] = 3 * g * arch.vocab_size * 4
    return generation


def _paged_phase(
    arch: Architecture, shape: TrainingShape, free_bytes: int | None, notes: list[str]
) -> dict[str, int]:
    """transformers continuous batching: paged KV cache plus its per-batch working set.

    Sizes follow ``PagedAttentionMemoryHandler``: pages of ``page_size`` tokens; per batch
    token the attention peak (hidden, query, new K/V and the K/V read back: with SDPA the
    KV heads repeated to the query heads) and an attention mask over the readable tokens;
    one hidden row and one fp32 vocabulary row per running request.
    """
    g, b = shape.generation_batch, shape.dtype_bytes
    sized = continuous_batching_config(None, g, shape.sequence_tokens)
    tokens_needed = sized["num_blocks"] * CB_PAGE_SIZE
    pool_tokens = tokens_needed
    if shape.paged_memory_percent is not None:
        if free_bytes is None:
            notes.append(
                f"continuous batching takes {shape.paged_memory_percent:.0%} of the free memory "
                "for its cache: give --gpu to see how much; the plan counts one batch's need")
        else:
            pool_tokens = int(free_bytes * shape.paged_memory_percent) // max(
                1, kv_bytes_per_token(arch, shape))
    batch_tokens = sized["max_batch_tokens"]
    heads_at_peak = 2 * arch.num_kv_heads if shape.flash_attention else (
        2 * arch.num_heads + arch.num_kv_heads)
    attention_peak = b * (arch.hidden_size + arch.query_width + 2 * arch.kv_width
                          + heads_at_peak * arch.head_dim)
    generation = {"paged KV cache": kv_bytes_per_token(arch, shape) * pool_tokens}
    state = linear_attention_state(arch, shape, g)
    if state:
        generation["linear-attention state"] = state
    generation["batch working set"] = batch_tokens * attention_peak
    if not shape.flash_attention:
        generation["attention mask"] = b * batch_tokens * (pool_tokens + batch_tokens)
    generation["per-request logits (fp32)"] = g * (arch.hidden_size * b + arch.vocab_size * 4)
    if pool_tokens < tokens_needed:
        notes.append("the paged cache holds fewer tokens than one generation batch: "
                     "continuous batching will generate in rounds (slower)")
    return generation


def vllm_need(arch: Architecture, shape: TrainingShape) -> dict[str, int]:
    """What vLLM needs to hold one generation batch (its reservation cannot be smaller)."""
    g, b = shape.generation_batch, shape.dtype_bytes
    blocks = math.ceil(shape.sequence_tokens / VLLM_BLOCK_TOKENS) * VLLM_BLOCK_TOKENS
    profile = VLLM_PROFILE_TOKENS * (
        arch.hidden_size + arch.query_width + 2 * arch.kv_width + 2 * arch.intermediate_size
    ) * b + 2 * g * arch.vocab_size * 4
    return {
        f"{VLLM_PREFIX} weights copy": weight_bytes(arch, shape),
        f"{VLLM_PREFIX} KV cache": kv_bytes_per_token(arch, shape) * g * blocks
        + linear_attention_state(arch, shape, g),
        f"{VLLM_PREFIX} profiling peak": profile,
        f"{VLLM_PREFIX} CUDA graphs and buffers": VLLM_RUNTIME_BYTES,
    }


def vllm_share_needed(est_or_need: Mapping[str, int], card_bytes: int) -> float:
    """The smallest ``vllm_gpu_memory_utilization`` (in steps of 0.05) that holds the need."""
    need = sum(est_or_need.values())
    return min(1.0, math.ceil(need / card_bytes / 0.05 - 1e-9) * 0.05)


def _vllm_phases(
    arch: Architecture, shape: TrainingShape, card_bytes: int | None, notes: list[str]
) -> tuple[dict[str, int], dict[str, int]]:
    """vLLM colocate: ``(generation, training-phase residue)`` of its reservation."""
    need = vllm_need(arch, shape)
    if card_bytes is None:
        generation = dict(need)
        notes.append(
            f"vLLM reserves vllm_gpu_memory_utilization x the card "
            f"({shape.vllm_memory_share:g} x card): give --gpu to see it; the plan counts what "
            f"it needs, {gib(sum(need.values()))}")
    else:
        reserved = int(shape.vllm_memory_share * card_bytes)
        generation = {f"{VLLM_PREFIX} reservation (vllm_gpu_memory_utilization "
                      f"{shape.vllm_memory_share:g})": reserved}
        start = sum(v for k, v in need.items() if "KV" not in k)
        if reserved < start:
            notes.append(
                f"vllm_gpu_memory_utilization {shape.vllm_memory_share:g} gives vLLM "
                f"{gib(reserved)}, less than the {gib(start)} it needs to start; use at least "
                f"{vllm_share_needed(need, card_bytes):.2f}")
        elif reserved < sum(need.values()):
            notes.append("vLLM's reservation holds fewer sequences than one generation batch: "
                         "it generates them in rounds")
    if shape.vllm_sleep:
        training = {f"{VLLM_PREFIX} asleep (CUDA graphs and buffers)": VLLM_RUNTIME_BYTES}
    else:  # awake all along: the reservation stays through training
        training = dict(generation)
    return generation, training


def estimate(arch: Architecture, shape: TrainingShape, card_bytes: int | None = None) -> Estimate:
    """Estimate the memory of one GRPO training step (see the module docstring).

    ``card_bytes`` (the card's memory) matters only for the switches that size themselves
    from it: vLLM's reservation and a paged cache given as a share of free memory.
    """
    b = shape.dtype_bytes
    notes: list[str] = []
    params = arch.num_params()
    resident: dict[str, int] = {"weights": weight_bytes(arch, shape)}
    if shape.lora_rank is not None:
        trainable = arch.lora_params(shape.lora_rank, list(shape.lora_targets)
                                     if not isinstance(shape.lora_targets, str)
                                     else shape.lora_targets)
        lb = shape.lora_bytes
        kind = "fp32" if lb == 4 else "bf16"
        resident[f"LoRA weights ({kind})"] = trainable * lb
        resident[f"LoRA gradients ({kind})"] = trainable * lb
        resident[f"AdamW moments ({'8-bit' if shape.adam_8bit else kind})"] = (
            trainable * shape.optimizer_bytes_per_param)
    else:
        if shape.quantization:
            raise GmrError("a quantized base model needs LoRA ([lora] enabled = true)")
        trainable = params
        kind = "8-bit" if shape.adam_8bit else ("fp32" if b == 4 else "bf16")
        resident["gradients"] = params * b
        resident[f"AdamW moments ({kind})"] = params * shape.optimizer_bytes_per_param
        if shape.beta > 0:
            resident["reference model"] = params * b
            notes.append("full fine-tuning with beta > 0: TRL loads a frozen copy of the model "
                         "as the KL reference")
    if shape.beta > 0 and shape.lora_rank is not None:
        if shape.pretrained_adapter:
            resident[f"reference adapter copy ({kind})"] = trainable * lb
            notes.append("beta > 0 after SFT: TRL keeps a frozen copy of the SFT adapter as the "
                         "KL reference")
        else:
            notes.append("beta > 0: the reference is the base model with adapters disabled "
                         "(no copy)")

    # generation: everything G sequences need at once
    vllm_training: dict[str, int] = {}
    if not shape.generates:
        generation: dict[str, int] = {}
    elif shape.vllm_server:
        generation = {}
        notes.append("vLLM server mode: the rollouts are generated by the server's process, "
                     "whose memory (on its own GPU) this plan does not count")
    elif shape.vllm:
        generation, vllm_training = _vllm_phases(arch, shape, card_bytes, notes)
    elif shape.paged:
        free = None
        if card_bytes is not None:
            free = card_bytes - CUDA_CONTEXT_BYTES - int(sum(resident.values())
                                                         * (1 + ALLOCATOR_SLACK))
        generation = _paged_phase(arch, shape, free, notes)
    else:
        generation = _generate_phase(arch, shape)

    training = _training_phase(arch, shape)
    training.update(vllm_training)
    if arch.note:
        notes.append(f"{arch.name}: {arch.note}")
    return Estimate(arch, shape, params, trainable, resident, generation, training, notes,
                    card_bytes)


def _training_phase(arch: Architecture, shape: TrainingShape) -> dict[str, int]:
    """One micro-batch of B sequences through forward and backward."""
    b = shape.dtype_bytes
    B = shape.per_device_train_batch_size
    tokens = B * shape.sequence_tokens
    per_kind = [
        (arch.attention_linears() + arch.mlp_linears(), arch.attention_layers),
        (arch.linear_attention_linears() + arch.mlp_linears(), arch.linear_attention_layers),
    ]
    per_layer = [
        (activation_bytes_per_token_layer(arch, shape, linears) * tokens, n)
        for linears, n in per_kind
        if n
    ]
    if shape.gradient_checkpointing:
        every = max(1, shape.checkpoint_every_n_layers)
        checkpointed = math.ceil(arch.num_layers / every)
        kept = arch.num_layers - checkpointed
        inputs = checkpointed * tokens * arch.hidden_size * b
        if shape.offload_activations:
            training = {"checkpointed layer inputs (offloaded to host)": 0}
        else:
            training = {"checkpointed layer inputs": inputs}
        if kept:
            # the layers left unchecked keep full activations (the larger kind, to be safe)
            training["layers not checkpointed"] = int(max(v for v, _ in per_layer) * kept)
        training["one layer recomputed"] = int(max(v for v, _ in per_layer))
    else:
        training = {"activations": int(sum(v * n for v, n in per_layer))}
    completion_tokens = B * (shape.completion_tokens if shape.generates else shape.sequence_tokens)
    tile = min(completion_tokens, LOGPROB_TOKEN_TILE) * min(arch.vocab_size, LOGPROB_VOCAB_TILE)
    training["log-prob tiles"] = tile * b
    hidden_bytes = completion_tokens * arch.hidden_size * (b + 4)
    training["completion hidden states + fp32 grad"] = hidden_bytes
    return training
