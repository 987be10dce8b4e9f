"""Advice: changes that lower a shape's peak, the one-GPU switches ranked, and the verdict."""

from __future__ import annotations

from dataclasses import dataclass, replace

from gamermath.planner.hardware import GIB
from gamermath.planner.memory import Estimate, estimate, vllm_need, vllm_share_needed
from gamermath.recipe.shape import TrainingShape

#: fraction of the card above which the verdict says "tight" rather than "fits"
TIGHT_FRACTION = 0.90


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


#: the README's switch table for the paper recipe lies between these markers
README_BEGIN = ("<!-- plan-switches: generated by `gmr plan youronmath-paper --gpu \"3080 Ti "
                "Laptop\" --markdown`; do not edit -->")
README_END = "<!-- /plan-switches -->"


def switches_markdown(base: Estimate) -> str:
    """The recipe and each one-GPU switch on ``base``'s card as a Markdown table: peak
    tensors, what the card must hold, the phase that sets the peak, the ``--set`` values."""
    from gamermath.planner.hardware import gib

    rows = [("none (the recipe as written)", base, "")]
    rows += [(s.change, s.estimate, " ".join(f"`{v}`" for v in s.sets))
             for s in ranked_switches(base)]
    out = ["| switch | peak tensors | needed | phase | `--set` |",
           "| --- | --- | --- | --- | --- |"]
    for change, est, sets in rows:
        out.append(f"| {change} | {gib(est.peak_tensors)} | {gib(est.peak_total)} | "
                   f"{est.peak_phase} | {sets} |")
    return "\n".join(out) + "\n"
