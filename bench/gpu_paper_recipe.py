#!/usr/bin/env python
"""GPU benchmark of the paper recipe: ``gmr train`` plain and with each one-GPU switch, beside
plain TRL + PEFT, with ``gmr plan``'s estimate beside every measurement.

It builds a randomly initialised model with the paper model's exact architecture
(Qwen2.5-Math-1.5B: no weights are downloaded), forces every completion to the same length,
and runs a few GRPO steps, each run in its own process so that CUDA peaks do not mix:

1. TRL ``GRPOTrainer`` + PEFT LoRA with the recipe's settings, written out by hand;
2. ``gmr train`` on the paper recipe (``recipes/youronmath-paper.toml``) pointed at the model,
   once per variant in ``VARIANTS``: plain, and with each switch (``--set`` values a user
   would give: no checkpointing, activation offload, Liger kernels, continuous batching, a
   4-bit base, vLLM colocate awake and asleep, and two combinations).

For each run it reports peak ``torch.cuda.max_memory_allocated``, the peak memory the device
reports in use (sampled every 20 ms, so vLLM's own reservation counts), seconds per optimizer
step, generated tokens per second and the step time against plain TRL; beside each, ``gmr
plan``'s estimate for the same settings on this card (the measured prompt length) and the
ratio planner / measured. Goals: the paper recipe at 5 GB peak or less with its
generations, the planner within 15%.

On a CUDA machine, one command (results go to bench/results/ and, with --append, to
bench/RESULTS.md); a variant whose package is missing is reported with gmr's one-line error:

    python bench/gpu_paper_recipe.py --append

``--variants plain,paged`` runs a subset. ``--cpu-smoke`` runs the same code path on a tiny
model on CPU in about a minute (the test suite does this): the variants that need CUDA are
listed as skipped and no memory is measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import math
import os
import platform
import shutil
import subprocess
import sys
import tempfile
import threading
from dataclasses import dataclass
from pathlib import Path
from typing import Any

REPO = Path(__file__).resolve().parents[1]
PAPER_RECIPE = REPO / "recipes" / "youronmath-paper.toml"

@dataclass(frozen=True)
class Variant:
    """A ``gmr train`` run of the recipe with these ``--set`` values."""

    sets: tuple[str, ...]
    what: str
    cuda: bool = False
    vllm: bool = False
    #: run in --cpu-smoke (False: the smoke settings make it the same as plain)
    smoke: bool = True


#: the runs, in order; ``plain`` is the recipe as written
VARIANTS: dict[str, Variant] = {
    "plain": Variant((), "the recipe as written (gradient checkpointing on)"),
    "no-checkpointing": Variant(("grpo.gradient_checkpointing=false",),
                                "gradient checkpointing off", smoke=False),
    "offload": Variant(("grpo.preset=low-memory",), "checkpointing with activation offload",
                       cuda=True),
    "liger": Variant(("grpo.use_liger_kernel=true",), "Liger kernels", cuda=True),
    "paged": Variant(("grpo.preset=paged",), "transformers continuous batching"),
    "4-bit": Variant(("model.load_in_4bit=true",), "4-bit NF4 base (QLoRA)", cuda=True),
    "vllm-awake": Variant(("grpo.use_vllm=true", "grpo.vllm_mode=colocate"),
                          "vLLM colocate, no sleep mode", cuda=True, vllm=True),
    "vllm-sleep": Variant(("grpo.preset=vllm-colocate",), "vLLM colocate with sleep mode",
                          cuda=True, vllm=True),
    "lean": Variant(("model.load_in_4bit=true", "grpo.preset=low-memory",
                     "grpo.use_liger_kernel=true"), "4-bit + offload + Liger", cuda=True),
    "lean-vllm": Variant(("model.load_in_4bit=true", "grpo.preset=vllm-colocate",
                          "grpo.gradient_checkpointing_kwargs={offload=true}",
                          "grpo.use_liger_kernel=true"),
                         "4-bit + vLLM sleep + offload + Liger", cuda=True, vllm=True),
}


# ----------------------------------------------------------------------------- memory


class DevicePeak:
    """The peak memory the device reports in use, sampled every 20 ms on a side thread
    (``torch.cuda.mem_get_info``: every allocation of the process, vLLM's included)."""

    def __init__(self, cuda: bool) -> None:
        self.cuda = cuda
        self.peak = 0
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._run, daemon=True)

    def _used(self) -> int:
        import torch

        free, total = torch.cuda.mem_get_info()
        return total - free

    def _run(self) -> None:
        while not self._stop.wait(0.02):
            self.peak = max(self.peak, self._used())

    def __enter__(self) -> DevicePeak:
        if self.cuda:
            self.peak = self._used()
            self._thread.start()
        return self

    def __exit__(self, *exc: Any) -> None:
        if self.cuda:
            self._stop.set()
            self._thread.join()
            self.peak = max(self.peak, self._used())

    def figures(self) -> dict[str, float]:
        import torch

        if not self.cuda:
            return {}
        return {"peak_allocated_mb": torch.cuda.max_memory_allocated() / 2**20,
                "peak_reserved_mb": torch.cuda.max_memory_reserved() / 2**20,
                "peak_device_used_mb": self.peak / 2**20}


# ----------------------------------------------------------------------------- settings


def load_settings(recipe: Path | str) -> dict[str, Any]:
    """The values a recipe file (or shipped recipe's name) sets itself, read and checked by
    ``load_recipe`` (aliases rewritten to TRL's names), by section; ``grpo`` also carries
    the resolved ``max_completion_length`` and batch, which every run uses."""
    from gamermath.recipe import load_recipe

    loaded = load_recipe(recipe, check_plugins=False)
    settings: dict[str, Any] = {"_recipe_path": str(loaded.path)}
    for section, table in loaded.tables():
        prefix = f"rewards.{table['label']}" if section == "rewards" else section
        given = {k: v for k, v in table.items()
                 if loaded.origins.get(f"{prefix}.{k}") == "recipe"}
        if section == "rewards":
            settings.setdefault("rewards", []).append(given)
        elif given:
            settings[section] = given
    grpo = loaded.grpo.trl
    settings["grpo"] = {**settings.get("grpo", {}), **{
        key: grpo[key] for key in ("max_completion_length", "per_device_train_batch_size",
                                   "gradient_accumulation_steps", "num_generations")}}
    return settings


def smoke_settings(settings: dict[str, Any]) -> dict[str, Any]:
    """The same recipe shrunk to run on CPU in seconds."""
    grpo = dict(settings.get("grpo", {}))
    grpo.update(per_device_train_batch_size=4, gradient_accumulation_steps=1, num_generations=4,
                max_completion_length=8, gradient_checkpointing=False)
    for key in ("generation_batch_size", "steps_per_generation", "bf16", "fp16"):
        grpo.pop(key, None)
    lora = dict(settings.get("lora", {}))
    lora["r"] = 4
    return {**settings, "grpo": grpo, "lora": lora,
            "model": {**settings.get("model", {}), "dtype": "float32"}}


def build_model(settings: dict[str, Any], folder: Path, smoke: bool) -> Path:
    """Write a random model with the recipe model's architecture, and a tokenizer."""
    import torch
    from transformers import AutoModelForCausalLM, GenerationConfig, Qwen2Config

    from gamermath.planner import resolve_architecture
    from gamermath.testing import make_tiny_model, make_tokenizer

    if smoke:
        return make_tiny_model(folder)
    arch = resolve_architecture(settings["model"]["source"])
    tokenizer = make_tokenizer()  # ids beyond its 400 entries decode to nothing
    config = Qwen2Config(
        vocab_size=arch.vocab_size, hidden_size=arch.hidden_size,
        intermediate_size=arch.intermediate_size, num_hidden_layers=arch.num_layers,
        num_attention_heads=arch.num_heads, num_key_value_heads=arch.num_kv_heads,
        tie_word_embeddings=arch.tie_word_embeddings, max_position_embeddings=4096,
        eos_token_id=tokenizer.eos_token_id, pad_token_id=tokenizer.pad_token_id,
    )
    torch.manual_seed(0)
    model = AutoModelForCausalLM.from_config(config, dtype=torch.bfloat16)
    model.generation_config = GenerationConfig(eos_token_id=tokenizer.eos_token_id,
                                               pad_token_id=tokenizer.pad_token_id)
    model.save_pretrained(folder)
    tokenizer.save_pretrained(folder)
    return folder


#: the benchmark's data for both sides: seeded arithmetic word problems (no download), in the
#: recipe's prompt template with its shots
BENCH_DATA = {"dataset": "arith", "options": {"word": 1.0}}


def bench_recipe_data(settings: dict[str, Any]) -> dict[str, Any]:
    data = {k: v for k, v in settings.get("data", {}).items() if k not in ("limit", "data_dir")}
    return {**data, **BENCH_DATA}


def bench_prompts(data: dict[str, Any], count: int, seed: int) -> list[dict[str, Any]]:
    """The rows ``gmr train`` builds for the same [data] section (``gamermath.data``)."""
    from gamermath.data import render_prompts
    from gamermath.recipe import DataSpec

    spec = DataSpec(dataset=data["dataset"], split=data.get("split", "train"),
                    template=data.get("template", "chat-think"), shots=data.get("shots"),
                    limit=count, options=data.get("options") or {},
                    template_options=data.get("template_options") or {})
    return render_prompts(spec, seed)


# ----------------------------------------------------------------------------- workers


def trl_worker(config: dict[str, Any], out: Path) -> None:
    """Plain TRL GRPOTrainer + PEFT LoRA with the recipe's settings (runs in its own process)."""
    import time

    import torch
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import GRPOConfig, GRPOTrainer

    cuda = torch.cuda.is_available() and not config["smoke"]
    grpo, lora = config["grpo"], config["lora"]
    completion = int(grpo["max_completion_length"])
    dtype = torch.bfloat16 if cuda else torch.float32
    tok = AutoTokenizer.from_pretrained(config["model_dir"])
    model = AutoModelForCausalLM.from_pretrained(config["model_dir"], dtype=dtype,
                                                 attn_implementation="sdpa")
    steps = config["warmup"] + config["steps"]
    batch = int(grpo["per_device_train_batch_size"]) * int(grpo["gradient_accumulation_steps"])
    rows = bench_prompts(config["data"], batch * steps * 2, config["seed"])
    data = Dataset.from_list([{"prompt": r["prompt"], "answer": r["answer"]} for r in rows])
    def text(completion: Any) -> str:
        return completion[-1]["content"] if isinstance(completion, list) else str(completion)

    def correct(completions, answer, **kw):
        return [1.0 if a in text(c) else 0.0 for c, a in zip(completions, answer, strict=True)]

    def answer_line(completions, **kw):
        return [0.5 if "####" in text(c) else 0.0 for c in completions]

    args = GRPOConfig(
        output_dir=str(out.parent / "trl-out"),
        per_device_train_batch_size=int(grpo["per_device_train_batch_size"]),
        gradient_accumulation_steps=int(grpo["gradient_accumulation_steps"]),
        num_generations=int(grpo["num_generations"]),
        learning_rate=float(grpo.get("learning_rate", 5e-5)),
        beta=float(grpo.get("beta", 0.0)),
        max_completion_length=completion,
        gradient_checkpointing=bool(grpo.get("gradient_checkpointing", True)),
        generation_kwargs={"min_new_tokens": completion},
        bf16=cuda, use_cpu=not cuda, max_steps=steps, logging_steps=1, report_to=[],
        save_strategy="no", disable_tqdm=True, seed=0,
    )
    trainer = GRPOTrainer(
        model=model, reward_funcs=[correct, answer_line], args=args, train_dataset=data,
        processing_class=tok,
        peft_config=LoraConfig(r=int(lora.get("r", 16)), lora_alpha=int(lora.get("alpha", 32)),
                               lora_dropout=float(lora.get("dropout", 0.0)),
                               target_modules=list(lora.get("target_modules", ["q_proj"]))),
    )
    if cuda:
        torch.cuda.reset_peak_memory_stats()
    start = time.perf_counter()
    with DevicePeak(cuda) as peak:
        trainer.train()
    history = [h for h in trainer.state.log_history if "step_time" in h]
    measured = history[config["warmup"]:] or history
    step_time = sum(h["step_time"] for h in measured) / max(1, len(measured))
    prompt_tokens = [
        len(tok.apply_chat_template(p, add_generation_prompt=True, tokenize=True))
        if isinstance(p, list) else len(tok(p)["input_ids"]) for p in data["prompt"]
    ]
    mean_length = sum(h.get("completions/mean_length", 0) for h in measured) / max(
        1, len(measured))
    result = {
        "steps": len(history), "seconds_total": time.perf_counter() - start,
        "step_time_s": step_time,
        "completion_tokens": completion,
        "mean_completion_length": mean_length,
        "prompt_tokens": sum(prompt_tokens) / len(prompt_tokens),
        "generated_tokens_per_step": batch * mean_length,
        "tokens_per_s": batch * mean_length / step_time if step_time else None,
    }
    result.update(peak.figures())
    out.write_text(json.dumps(result, indent=2))


def gmr_worker(config: dict[str, Any], out: Path) -> None:
    """``gmr train ARGS`` in this process, with the device's peak memory sampled around it."""
    import torch

    from gamermath.cli import main as gmr_main

    cuda = torch.cuda.is_available() and not config["smoke"]
    result: dict[str, Any] = {}
    with DevicePeak(cuda) as peak:
        try:
            gmr_main.main(args=["train", *config["args"]], prog_name="gmr",
                          standalone_mode=False)
        except Exception as exc:  # gmr's one-line errors (a missing package, no CUDA)
            message = exc.format_message() if hasattr(exc, "format_message") else str(exc)
            result["failed"] = " ".join(str(message).split())[:500]
    result.update(peak.figures())
    out.write_text(json.dumps(result))


def write_bench_recipe(settings: dict[str, Any], model_dir: Path, work: Path, steps: int
                       ) -> Path:
    """The recipe both ``gmr train`` and the planner read: the paper's, on the random model,
    GRPO only, no held-out generation, seeded arithmetic prompts (no download)."""
    from gamermath.recipe import dump_toml

    recipe = {k: v for k, v in settings.items() if not k.startswith("_")}
    recipe["model"] = {**recipe.get("model", {}), "source": str(model_dir),
                       "attention": "sdpa"}  # as the TRL side; flash-attn may be absent
    recipe["grpo"] = {**recipe["grpo"], "max_steps": steps, "logging_steps": 1}
    recipe["data"] = bench_recipe_data(settings)
    recipe["eval"] = {"heldout": 0}
    recipe.pop("sft", None)  # the benchmark measures the GRPO stage only
    recipe.setdefault("rewards", [{"name": "exact-answer"}])
    path = work / "bench-recipe.toml"
    path.write_text(dump_toml(recipe))
    return path


def variant_sets(variant: Variant, completion: int, vllm_share: float | None) -> list[str]:
    """The variant's ``--set`` values plus fixed-length completions (vLLM names it min_tokens)
    and, for vLLM, the share of this card that one generation batch needs."""
    sets = list(variant.sets)
    if variant.vllm:
        sets.append(f"grpo.generation_kwargs={{min_tokens={completion}}}")
        if vllm_share is not None:
            sets.append(f"grpo.vllm_gpu_memory_utilization={vllm_share:.2f}")
    else:
        sets.append(f"grpo.generation_kwargs={{min_new_tokens={completion}}}")
    return sets


def vllm_share(recipe_file: Path, variant: Variant, card_bytes: int) -> float:
    """vLLM's share of this card: what the planner says one generation batch needs, plus 15%,
    in hundredths (TRL's default 0.3 of a 141 GB card would measure the default, not vLLM)."""
    from gamermath import planner
    from gamermath.recipe import load_recipe

    recipe = load_recipe(recipe_file, list(variant.sets), check_plugins=False)
    arch = planner.resolve_architecture(recipe.model.source)
    need = sum(planner.vllm_need(arch, planner.shape_from_recipe(recipe)).values())
    return min(0.9, math.ceil(need * 1.15 / card_bytes * 100) / 100)


def run_variant(name: str, variant: Variant, recipe_file: Path, work: Path, warmup: int,
                smoke: bool, card_bytes: int | None) -> dict[str, Any]:
    """One ``gmr train`` run in its own process; figures from metrics.jsonl and the worker."""
    if smoke and variant.cuda:
        return {"skipped": "needs CUDA"}
    if smoke and not variant.smoke:
        return {"skipped": "the same as plain in the smoke run (checkpointing off there)"}
    from gamermath.recipe import load_recipe

    grpo = load_recipe(recipe_file, check_plugins=False).grpo.trl
    completion = int(grpo["max_completion_length"])
    share = vllm_share(recipe_file, variant, card_bytes) if variant.vllm and card_bytes else None
    sets = variant_sets(variant, completion, share)
    run_dir = work / f"gmr-{name}"
    args = [str(recipe_file), "--run-dir", str(run_dir)]
    for item in sets:
        args += ["--set", item]
    config_file, out = work / f"gmr-{name}.json", work / f"gmr-{name}-result.json"
    config_file.write_text(json.dumps({"args": args, "smoke": smoke}))
    proc = subprocess.run([sys.executable, __file__, "--worker", "gmr", "--worker-config",
                           str(config_file), "--worker-out", str(out)],
                          capture_output=True, text=True)
    if not out.is_file():
        return {"sets": sets, "failed": f"exit {proc.returncode}: {proc.stderr[-1500:]}"}
    result = {"sets": sets, **json.loads(out.read_text())}
    metrics = run_dir / "metrics.jsonl"
    if "failed" in result or not metrics.is_file():
        result.setdefault("failed", "no metrics.jsonl written")
        return result
    rows = [json.loads(line) for line in metrics.read_text().splitlines()
            if line.strip().startswith("{")]
    rows = [r for r in rows if r.get("stage", "grpo") == "grpo" and "step_time" in r]
    measured = rows[warmup:] or rows
    step_time = sum(r["step_time"] for r in measured) / max(1, len(measured))
    batch = int(grpo["per_device_train_batch_size"]) * int(grpo["gradient_accumulation_steps"])
    # continuous batching drops transformers' min_new_tokens processor: count what was made
    mean_length = sum(r.get("completion_length", 0) for r in measured) / max(1, len(measured))
    result.update(
        steps=len(rows), step_time_s=step_time, mean_completion_length=mean_length,
        tokens_per_s=batch * mean_length / step_time if step_time else None,
    )
    return result


def planner_estimate(recipe_file: Path, sets: list[str], prompt_tokens: int,
                     card_bytes: int | None) -> dict[str, Any]:
    """``gmr plan``'s figures for the same recipe and ``--set`` values on this card."""
    from dataclasses import replace

    from gamermath import planner
    from gamermath.recipe import load_recipe

    recipe = load_recipe(recipe_file, sets, check_plugins=False)
    arch = planner.resolve_architecture(recipe.model.source)
    shape = replace(planner.shape_from_recipe(recipe), prompt_tokens=prompt_tokens)
    est = planner.estimate(arch, shape, card_bytes)
    return {"peak_tensors_mb": est.peak_tensors / 2**20, "peak_total_mb": est.peak_total / 2**20,
            "context_mb": planner.CUDA_CONTEXT_BYTES / 2**20,
            "vllm_mb": sum(v for k, v in est.components().items() if "vLLM" in k) / 2**20,
            "peak_phase": est.peak_phase,
            "components_mb": {k: v / 2**20 for k, v in est.components().items()}}


def planner_ratio(plan: dict[str, Any], run: dict[str, Any]) -> tuple[str, float] | None:
    """Planner / measured on the matching figures: tensors against max_memory_allocated, or,
    where vLLM reserves memory beside PyTorch's allocator, tensors plus the CUDA context
    against the device's peak in use."""
    if plan.get("vllm_mb") and run.get("peak_device_used_mb"):
        return "device", (plan["peak_tensors_mb"] + plan["context_mb"]) / run[
            "peak_device_used_mb"]
    if run.get("peak_allocated_mb"):
        return "allocated", plan["peak_tensors_mb"] / run["peak_allocated_mb"]
    return None


# ----------------------------------------------------------------------------- main


def device_worker(out: Path) -> None:
    """The GPU's name and memory, asked in a process of its own: the parent never creates a
    CUDA context, which would count in every run's device memory."""
    import torch

    props = torch.cuda.get_device_properties(0)
    out.write_text(json.dumps({
        "name": f"{props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}",
        "total_memory": props.total_memory}))


def device_info(smoke: bool, work: Path) -> tuple[str, int | None]:
    """``(description, card bytes)``; no card on the CPU smoke run."""
    if smoke:
        import torch

        return (f"CPU ({platform.processor() or platform.machine()}), torch "
                f"{torch.__version__}", None)
    out = work / "device.json"
    subprocess.run([sys.executable, __file__, "--worker", "device", "--worker-out", str(out)],
                   check=True)
    info = json.loads(out.read_text())
    return info["name"], int(info["total_memory"])


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif not key.startswith("_"):
            out[f"{prefix}{key}"] = value
    return out


def markdown(result: dict[str, Any]) -> str:
    def gb(v: Any) -> str:
        return f"{v / 1024:.2f} GB" if isinstance(v, (int, float)) else "n/a"

    def num(v: Any, fmt: str = ".2f") -> str:
        return format(v, fmt) if isinstance(v, (int, float)) else "n/a"

    trl = result["trl"]
    lines = [
        f"### Paper recipe and its switches, {result['mode']} ({result['date']})",
        "",
        f"Device: {result['device']}. Recipe: {result['recipe'] or 'built-in paper settings'}; "
        f"{result['settings']}. Steps measured: {result['steps']} after {result['warmup']} "
        "warm-up. Planner: `gmr plan` for the same settings on this card; ratio = planner / "
        "measured (tensors against peak allocated; for vLLM, tensors + CUDA context against "
        "the device's peak in use).",
        "",
        "| run | peak allocated | peak device in use | planner (tensors) | planner / measured "
        "| s / step | mean completion | generated tokens / s | step time / TRL |",
        "| --- | --- | --- | --- | --- | --- | --- | --- | --- |",
        f"| plain TRL + PEFT | {gb(trl.get('peak_allocated_mb'))} | "
        f"{gb(trl.get('peak_device_used_mb'))} | {gb(result['planner']['peak_tensors_mb'])} | "
        f"{num((result['planner_vs_trl'] or {}).get('ratio'), '.3f')} | "
        f"{num(trl.get('step_time_s'))} | {num(trl.get('mean_completion_length'), '.1f')} | "
        f"{num(trl.get('tokens_per_s'), '.1f')} | 1.00 |",
    ]
    for name, run in result["variants"].items():
        label = f"gmr {name}"
        if "skipped" in run or "failed" in run:
            why = run.get("skipped") or run.get("failed")
            lines.append(f"| {label} | not run: {why} | | | | | | | |")
            continue
        plan = run.get("planner", {})
        ratio = run.get("planner_ratio")
        vs_trl = (run["step_time_s"] / trl["step_time_s"]
                  if trl.get("step_time_s") and run.get("step_time_s") else None)
        lines.append(
            f"| {label} | {gb(run.get('peak_allocated_mb'))} | "
            f"{gb(run.get('peak_device_used_mb'))} | {gb(plan.get('peak_tensors_mb'))} | "
            f"{num(ratio[1] if ratio else None, '.3f')} | {num(run.get('step_time_s'))} | "
            f"{num(run.get('mean_completion_length'), '.1f')} | "
            f"{num(run.get('tokens_per_s'), '.1f')} | {num(vs_trl)} |")
    lines.append("")
    for name, run in result["variants"].items():
        if run.get("sets"):
            lines.append(f"- `{name}`: `" + "` `".join(run["sets"]) + "`")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", default=str(PAPER_RECIPE),
                        help="recipe file or shipped recipe name to benchmark (default "
                        "recipes/youronmath-paper.toml)")
    parser.add_argument("--steps", type=int, default=3, help="optimizer steps measured")
    parser.add_argument("--warmup", type=int, default=1, help="steps run before measuring")
    parser.add_argument("--completion-tokens", type=int, default=None,
                        help="fixed completion length (default: the recipe's maximum)")
    parser.add_argument("--variants", default="all",
                        help=f"comma-separated gmr runs (default all: {', '.join(VARIANTS)})")
    parser.add_argument("--output", type=Path, default=REPO / "bench" / "results",
                        help="folder for gpu_paper_recipe.json and .md")
    parser.add_argument("--append", action="store_true",
                        help="append the result table to bench/RESULTS.md")
    parser.add_argument("--cpu-smoke", "--dry-run", dest="smoke", action="store_true",
                        help="tiny model on CPU, 2 steps: checks the benchmark runs")
    parser.add_argument("--only", choices=["trl", "gmr"], default=None,
                        help="run one side only")
    parser.add_argument("--worker", help=argparse.SUPPRESS)
    parser.add_argument("--worker-config", type=Path, help=argparse.SUPPRESS)
    parser.add_argument("--worker-out", type=Path, help=argparse.SUPPRESS)
    args = parser.parse_args(argv)

    if args.worker == "trl":
        trl_worker(json.loads(args.worker_config.read_text()), args.worker_out)
        return 0
    if args.worker == "gmr":
        gmr_worker(json.loads(args.worker_config.read_text()), args.worker_out)
        return 0
    if args.worker == "device":
        device_worker(args.worker_out)
        return 0

    names = list(VARIANTS) if args.variants == "all" else [
        v.strip() for v in args.variants.split(",") if v.strip()]
    unknown = [n for n in names if n not in VARIANTS]
    if unknown:
        print(f"unknown variant(s) {', '.join(unknown)}; known: {', '.join(VARIANTS)}",
              file=sys.stderr)
        return 2
    import torch

    if not args.smoke and not torch.cuda.is_available():
        print("no CUDA GPU here: run on a machine with one, or use --cpu-smoke", file=sys.stderr)
        return 2
    settings = load_settings(args.recipe)
    if args.smoke:
        settings = smoke_settings(settings)
        args.steps, args.warmup = min(args.steps, 2), 0
    if args.completion_tokens:
        settings["grpo"]["max_completion_length"] = args.completion_tokens
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.output.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gmr-bench-"))
    try:
        device, card_bytes = device_info(args.smoke, work)
        model_dir = build_model(settings, work / "model", args.smoke)
        result: dict[str, Any] = {
            "mode": "CPU smoke test" if args.smoke else "GPU",
            "date": dt.datetime.now(dt.UTC).strftime("%Y-%m-%d %H:%M UTC"),
            "device": device,
            "recipe": settings.get("_recipe_path", ""),
            "steps": args.steps, "warmup": args.warmup,
            "settings": ", ".join(f"{k}={v}" for k, v in _flatten(
                {"grpo": settings["grpo"], "lora": settings.get("lora", {})}).items()),
        }
        trl: dict[str, Any] = {"skipped": "--only gmr"}
        if args.only != "gmr":
            config = {"model_dir": str(model_dir), "grpo": settings["grpo"],
                      "data": bench_recipe_data(settings),
                      "seed": int(settings.get("run", {}).get("seed", 0)),
                      "lora": settings.get("lora", {}), "smoke": args.smoke,
                      "warmup": args.warmup, "steps": args.steps}
            (work / "trl.json").write_text(json.dumps(config))
            proc = subprocess.run(
                [sys.executable, __file__, "--worker", "trl", "--worker-config",
                 str(work / "trl.json"), "--worker-out", str(work / "trl-result.json")],
                capture_output=True, text=True)
            if proc.returncode != 0:
                print(proc.stderr[-4000:], file=sys.stderr)
                return 1
            trl = json.loads((work / "trl-result.json").read_text())
        prompt_tokens = int(round(trl.get("prompt_tokens", 256)))
        recipe_file = write_bench_recipe(settings, model_dir, work, args.warmup + args.steps)
        plain_plan = planner_estimate(recipe_file, [], prompt_tokens, card_bytes)
        ratio = planner_ratio(plain_plan, trl)
        variants: dict[str, Any] = {}
        for name in ([] if args.only == "trl" else names):
            print(f"gmr {name} ...", file=sys.stderr, flush=True)
            run = run_variant(name, VARIANTS[name], recipe_file, work, args.warmup, args.smoke,
                              card_bytes)
            if "skipped" not in run:
                run["planner"] = planner_estimate(recipe_file, run["sets"], prompt_tokens,
                                                  card_bytes)
                run["planner_ratio"] = planner_ratio(run["planner"], run)
            variants[name] = run
        result.update(trl=trl, planner=plain_plan, variants=variants,
                      planner_vs_trl={"on": ratio[0], "ratio": ratio[1]} if ratio else None)
        result["gmr"] = variants.get("plain", {"skipped": "not in --variants"})
        ratios: dict[str, float] = {}
        gmr = result["gmr"]
        if trl.get("peak_allocated_mb") and gmr.get("peak_allocated_mb"):
            ratios["peak memory gmr / TRL"] = gmr["peak_allocated_mb"] / trl["peak_allocated_mb"]
        if trl.get("step_time_s") and gmr.get("step_time_s"):
            ratios["step time gmr / TRL"] = gmr["step_time_s"] / trl["step_time_s"]
        result["ratios"] = ratios
    finally:
        shutil.rmtree(work, ignore_errors=True)
    (args.output / "gpu_paper_recipe.json").write_text(json.dumps(result, indent=2))
    table = markdown(result)
    (args.output / "gpu_paper_recipe.md").write_text(table)
    print(table)
    if args.append:
        with (REPO / "bench" / "RESULTS.md").open("a") as handle:
            handle.write("\n" + table)
    return 0


if __name__ == "__main__":
    sys.exit(main())
