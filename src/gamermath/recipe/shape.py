"""Values derived from a recipe: the training shape that decides memory and time.

One home for every rule that turns resolved recipe values into another value, used by the
loader's consistency check, the engine (``engine.trl_config``, ``engine.switches``) and the
planner alike:

- the GRPO generation batch (TRL's rule: ``generation_batch_size``, else
  ``steps_per_generation x per_device_train_batch_size``, else
  ``gradient_accumulation_steps x per_device_train_batch_size``);
- activation checkpointing as transformers 5 reads it, its ``offload`` and
  ``every_n_layers``; continuous batching and the paged cache sized for one generation batch;
- the compute dtype and its bytes, the prompt length assumed where none is measured;
- the optimizer: full fine-tuning (``[lora] enabled = false``) and 8-bit AdamW.

Nothing here falls back to a value of its own for a field the loader already filled.
Nothing here imports torch.
"""

from __future__ import annotations

import math
from collections.abc import Mapping
from dataclasses import dataclass
from typing import Any

from gamermath.errors import GmrError

DTYPE_BYTES = {
    "float32": 4, "fp32": 4, "float": 4,
    "bfloat16": 2, "bf16": 2,
    "float16": 2, "fp16": 2, "half": 2,
}

#: prompt tokens assumed where no prompt is measured: a GSM8K question in its template is
#: 100-200 tokens with the Qwen tokenizer, each few-shot example (question and worked
#: solution) adds 150-300
ASSUMED_QUESTION_TOKENS = 192
ASSUMED_TOKENS_PER_SHOT = 224

#: transformers' paged cache: tokens per page (``ContinuousBatchingConfig.page_size`` default)
CB_PAGE_SIZE = 256
#: transformers' default number of tokens per continuous-batching forward pass
CB_MAX_BATCH_TOKENS = 8192
#: the continuous-batching keys that decide its memory; gmr fills them when all are unset
CB_SIZING_KEYS = ("num_blocks", "max_memory_percent", "max_batch_tokens",
                  "max_requests_per_batch")

#: bytes of optimizer state per trainable parameter for 8-bit AdamW (bitsandbytes keeps both
#: moments as one byte each, plus a small per-block scale that this ignores)
ADAM_8BIT_STATE_BYTES = 2


# -- rules over a resolved TRL table ----------------------------------------------------------


def explicit_generation_batch(train: Mapping[str, Any]) -> int | None:
    """The generation batch a recipe sets itself (``generation_batch_size`` or
    ``steps_per_generation``), else None."""
    if train.get("generation_batch_size"):
        return int(train["generation_batch_size"])
    if train.get("steps_per_generation"):
        return int(train["steps_per_generation"]) * int(train["per_device_train_batch_size"])
    return None


def generation_batch(train: Mapping[str, Any]) -> int:
    """Completions GRPO generates at once on one device (TRL's rule)."""
    return explicit_generation_batch(train) or (
        int(train["per_device_train_batch_size"]) * int(train["gradient_accumulation_steps"]))


def checkpointing(train: Mapping[str, Any]) -> tuple[bool, dict[str, Any]]:
    """``(on, kwargs)`` of activation checkpointing from a resolved TRL table.

    transformers 5 reads ``activation_checkpointing(_kwargs)`` and falls back to the
    deprecated ``gradient_checkpointing(_kwargs)`` (TRL's default: on) when unset.
    """
    on = train.get("activation_checkpointing")
    if on is None:
        on = train.get("gradient_checkpointing")
    kwargs = train.get("activation_checkpointing_kwargs")
    if kwargs is None:
        kwargs = train.get("gradient_checkpointing_kwargs")
    return bool(on), dict(kwargs) if isinstance(kwargs, Mapping) else {}


def offloads(train: Mapping[str, Any]) -> bool:
    """Checkpointing is on and keeps its saved layer inputs in host memory."""
    on, kwargs = checkpointing(train)
    return on and bool(kwargs.get("offload"))


def every_n_layers(train: Mapping[str, Any]) -> int:
    """transformers' ``every_n_layers`` (checkpoint each layer unless set)."""
    return max(1, int(checkpointing(train)[1].get("every_n_layers") or 1))


def uses_continuous_batching(train: Mapping[str, Any]) -> bool:
    return bool(train.get("use_transformers_continuous_batching")
                or train.get("use_transformers_paged"))


def uses_8bit_adam(train: Mapping[str, Any]) -> bool:
    """The stage's ``optim`` is a bitsandbytes 8-bit optimizer (``adamw_bnb_8bit``...)."""
    return "8bit" in str(train["optim"])


def continuous_batching_config(
    given: Mapping[str, Any] | None, generation_batch: int, sequence_tokens: int
) -> dict[str, Any]:
    """transformers' continuous-batching options, sized for one generation batch.

    When the recipe sets none of ``CB_SIZING_KEYS``, the paged cache holds exactly
    ``generation_batch`` sequences of ``sequence_tokens`` (prompt + completion; longer
    prompts make it generate in rounds, never fail), a forward pass takes at most
    ``generation_batch x sequence_tokens`` tokens, and at most ``generation_batch``
    requests run at once (transformers' fallback, 1024, reserves a vocabulary-wide fp32
    logits row for each).
    """
    config = dict(given or {})
    if any(config.get(key) is not None for key in CB_SIZING_KEYS):
        return config
    page = int(config.get("page_size") or CB_PAGE_SIZE)
    config["num_blocks"] = generation_batch * math.ceil(sequence_tokens / page)
    config["max_batch_tokens"] = min(CB_MAX_BATCH_TOKENS, generation_batch * sequence_tokens)
    config["max_requests_per_batch"] = generation_batch
    return config


# -- the shape ---------------------------------------------------------------------------------


@dataclass(frozen=True)
class TrainingShape:
    """The recipe settings that decide memory (defaults: a hypothetical shape for the
    planner's own tests; a recipe's shape comes from ``shape_from_recipe``)."""

    dtype: str = "bfloat16"
    quantization: str | None = None  # None, "4bit" or "8bit"
    lora_rank: int | None = 16  # None: full fine-tuning
    lora_targets: tuple[str, ...] | str = ("q_proj", "k_proj", "v_proj", "o_proj")
    lora_dropout: float = 0.0
    per_device_train_batch_size: int = 8
    gradient_accumulation_steps: int = 1
    num_generations: int = 8
    generation_batch_size: int | None = None
    prompt_tokens: int = ASSUMED_QUESTION_TOKENS
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
    #: the optimizer is bitsandbytes' 8-bit AdamW (``optim`` containing ``8bit``)
    adam_8bit: bool = False
    #: where ``prompt_tokens`` came from (the recipe's cap, measured prompts, an assumption)
    prompt_source: str = "assumed"

    @property
    def dtype_bytes(self) -> int:
        try:
            return DTYPE_BYTES[self.dtype]
        except KeyError:
            raise GmrError(f"unknown dtype '{self.dtype}' in [model]") from None

    @property
    def full_fine_tuning(self) -> bool:
        return self.lora_rank is None

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

    @property
    def optimizer_bytes_per_param(self) -> int:
        """AdamW state per trainable parameter: two moments like the parameter
        (``torch.optim.AdamW``), or one byte each with 8-bit AdamW."""
        if self.adam_8bit:
            return ADAM_8BIT_STATE_BYTES
        return 2 * (self.dtype_bytes if self.full_fine_tuning else self.lora_bytes)


def compute_dtype(recipe: Any, train: Mapping[str, Any]) -> str:
    """The dtype the model trains in on a GPU: ``[model].dtype``, where ``auto`` is bf16
    (fp16 when the stage sets ``fp16``)."""
    dtype = recipe.model.dtype
    if dtype == "auto":
        dtype = "float16" if train.get("fp16") else "bfloat16"
    if train.get("fp16") and dtype == "float32":
        dtype = "float16"
    return dtype


def assumed_prompt_tokens(recipe: Any) -> int:
    """A prompt length for a recipe whose prompts are not measured: the question plus its
    few-shot examples (``ASSUMED_*``)."""
    shots = recipe.data.shots
    if shots is None:
        try:
            from gamermath import plugins

            shots = plugins.get("template", recipe.data.template).shots
        except GmrError:  # an uninstalled template: assume no shots
            shots = 0
    return ASSUMED_QUESTION_TOKENS + ASSUMED_TOKENS_PER_SHOT * int(shots or 0)


def shape_from_recipe(
    recipe: Any, stage: str = "grpo", prompt_tokens: int | None = None,
    prompt_source: str | None = None,
) -> TrainingShape:
    """The memory-relevant settings of a recipe's stage, from the same resolved values the
    engine passes to TRL. The prompt length is ``[grpo].max_prompt_length`` when set, else
    ``prompt_tokens`` (measured by the caller), else ``assumed_prompt_tokens``."""
    train = getattr(recipe, stage).trl
    generates = stage == "grpo"
    if generates:
        completion = int(train["max_completion_length"])
        if recipe.grpo.max_prompt_length:
            prompt, source = int(recipe.grpo.max_prompt_length), "[grpo].max_prompt_length"
        elif prompt_tokens is not None:
            prompt, source = int(prompt_tokens), prompt_source or "given"
        else:
            prompt, source = assumed_prompt_tokens(recipe), "assumed"
    else:  # SFT: one sequence of max_length tokens, no generation
        prompt, source, completion = int(train["max_length"]), "[sft].max_length", 0
    lora = recipe.lora
    targets = lora.target_modules
    paged_config = train.get("transformers_continuous_batching_config") or {}
    # a hand-set num_blocks or batch size is planned as gmr's own sizing (an estimate)
    percent = paged_config.get("max_memory_percent") if isinstance(paged_config, Mapping) else None
    vllm_mode = train.get("vllm_mode") if generates and train.get("use_vllm") else None
    return TrainingShape(
        dtype=compute_dtype(recipe, train),
        quantization="4bit" if recipe.model.load_in_4bit else None,
        lora_rank=int(lora.r) if lora.enabled else None,
        lora_targets=targets if isinstance(targets, str) else tuple(targets),
        lora_dropout=float(lora.dropout),
        per_device_train_batch_size=int(train["per_device_train_batch_size"]),
        gradient_accumulation_steps=int(train["gradient_accumulation_steps"]),
        num_generations=int(train["num_generations"]) if generates else 1,
        generation_batch_size=explicit_generation_batch(train) if generates else None,
        prompt_tokens=prompt,
        completion_tokens=completion,
        gradient_checkpointing=checkpointing(train)[0],
        beta=float(train["beta"]) if generates else 0.0,
        pretrained_adapter=generates and recipe.sft_enabled,
        generates=generates,
        offload_activations=offloads(train),
        checkpoint_every_n_layers=every_n_layers(train),
        liger=bool(train["use_liger_kernel"]),
        paged=generates and uses_continuous_batching(train),
        paged_memory_percent=float(percent) if percent is not None else None,
        vllm=vllm_mode == "colocate",
        vllm_server=vllm_mode == "server",
        vllm_memory_share=float(train["vllm_gpu_memory_utilization"]) if generates else 0.0,
        vllm_sleep=bool(train.get("vllm_enable_sleep_mode")),
        flash_attention=recipe.model.attention == "flash_attention_2",
        adam_8bit=uses_8bit_adam(train),
        prompt_source=source,
    )
