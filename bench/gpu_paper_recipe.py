#!/usr/bin/env python
"""GPU benchmark of the paper recipe: ``gmr train`` against plain TRL + PEFT, same settings.

It builds a randomly initialised model with the paper model's exact architecture
(Qwen2.5-Math-1.5B: no weights are downloaded), forces every completion to the same length,
and runs a few GRPO steps twice, each in its own process so that CUDA peaks do not mix:

1. ``gmr train`` on the paper recipe (``recipes/youronmath-paper.toml``) pointed at the model;
2. TRL ``GRPOTrainer`` + PEFT LoRA with the recipe's settings, written out by hand.

It reports, for each, peak GPU memory (``torch.cuda.max_memory_allocated``), seconds per
optimizer step and generated tokens per second, the ratio gmr / TRL, and ``gmr plan``'s
estimate beside the measured peak. Goals: peak at most 8 GB, planner within 15%.

On a CUDA machine, one command (results go to bench/results/ and, with --append, to
bench/RESULTS.md):

    python bench/gpu_paper_recipe.py --append

``--cpu-smoke`` runs the same code path on a tiny model on CPU in under a minute (the test
suite does this); memory figures are then not measured.
"""

from __future__ import annotations

import argparse
import datetime as dt
import json
import os
import platform
import shutil
import subprocess
import sys
import tempfile
from pathlib import Path
from typing import Any

try:
    import tomllib
except ModuleNotFoundError:  # Python 3.10
    import tomli as tomllib

REPO = Path(__file__).resolve().parents[1]
PAPER_RECIPE = REPO / "recipes" / "youronmath-paper.toml"
#: how ``gmr train`` is called: ``gmr train RECIPE --run-dir RUN_DIR``
GMR_TRAIN = ["train"]
GMR_RUN_DIR = ["--run-dir"]

#: the paper's settings (arXiv 2506.08935), used when the recipe file is absent
PAPER_FALLBACK: dict[str, Any] = {
    "model": {"source": "Qwen/Qwen2.5-Math-1.5B", "dtype": "bfloat16"},
    "data": {"dataset": "gsm8k", "template": "chat-think"},
    "rewards": [{"name": "exact-answer", "weight": 1.0}, {"name": "format", "weight": 0.5}],
    "lora": {"r": 16, "alpha": 32, "dropout": 0.05,
             "target_modules": ["q_proj", "k_proj", "v_proj", "o_proj"]},
    "grpo": {"num_generations": 4, "per_device_train_batch_size": 4,
             "gradient_accumulation_steps": 4, "learning_rate": 5e-5, "beta": 0.04,
             "max_completion_length": 512, "gradient_checkpointing": True},
}


# ----------------------------------------------------------------------------- settings


def load_settings(recipe: Path | None) -> dict[str, Any]:
    """The recipe's model, LoRA and GRPO settings (the paper's when no recipe exists)."""
    if recipe is not None and recipe.is_file():
        data = tomllib.loads(recipe.read_text())
        data["_recipe_path"] = str(recipe)
        return data
    return {**json.loads(json.dumps(PAPER_FALLBACK)), "_recipe_path": ""}


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
    trainer.train()
    history = [h for h in trainer.state.log_history if "step_time" in h]
    measured = history[config["warmup"]:] or history
    step_time = sum(h["step_time"] for h in measured) / max(1, len(measured))
    prompt_tokens = [
        len(tok.apply_chat_template(p, add_generation_prompt=True, tokenize=True))
        if isinstance(p, list) else len(tok(p)["input_ids"]) for p in data["prompt"]
    ]
    result = {
        "steps": len(history), "seconds_total": time.perf_counter() - start,
        "step_time_s": step_time,
        "completion_tokens": completion,
        "mean_completion_length": sum(h.get("completions/mean_length", 0) for h in measured)
        / max(1, len(measured)),
        "prompt_tokens": sum(prompt_tokens) / len(prompt_tokens),
        "generated_tokens_per_step": batch * completion,
        "tokens_per_s": batch * completion / step_time if step_time else None,
    }
    if cuda:
        result["peak_allocated_mb"] = torch.cuda.max_memory_allocated() / 2**20
        result["peak_reserved_mb"] = torch.cuda.max_memory_reserved() / 2**20
    out.write_text(json.dumps(result, indent=2))


def gmr_available() -> str | None:
    """None when ``gmr train`` exists, else why not."""
    proc = subprocess.run([sys.executable, "-m", "gamermath", "train", "--help"],
                          capture_output=True, text=True)
    if proc.returncode != 0:
        return (proc.stderr.strip().splitlines() or ["gmr train --help failed"])[-1]
    return None


def run_gmr(settings: dict[str, Any], model_dir: Path, work: Path, warmup: int, steps: int,
            smoke: bool) -> dict[str, Any]:
    """``gmr train`` on the recipe pointed at the random model; figures from metrics.jsonl."""
    missing = gmr_available()
    if missing:
        return {"skipped": f"gmr train is not available: {missing}"}
    completion = int(settings["grpo"]["max_completion_length"])
    run_dir = work / "gmr-run"
    recipe = {k: v for k, v in settings.items() if not k.startswith("_")}
    recipe["model"] = {**recipe.get("model", {}), "source": str(model_dir)}
    recipe["grpo"] = {**recipe["grpo"], "max_steps": warmup + steps, "logging_steps": 1,
                      "generation_kwargs": {"min_new_tokens": completion}}
    # no dataset download on the GPU machine: seeded arithmetic problems, same template
    recipe["data"] = bench_recipe_data(settings)
    recipe["model"]["attention"] = "sdpa"  # as the TRL side; flash-attn may be absent
    recipe.pop("eval", None)
    recipe["eval"] = {"heldout": 0}  # no held-out generation inside the measurement
    recipe.pop("sft", None)  # the benchmark measures the GRPO stage only
    recipe_file = work / "bench-recipe.toml"
    from gamermath.recipe import dump_toml

    recipe_file.write_text(dump_toml(recipe))
    cmd = [sys.executable, "-m", "gamermath", *GMR_TRAIN, str(recipe_file), *GMR_RUN_DIR,
           str(run_dir)]
    proc = subprocess.run(cmd, capture_output=True, text=True)
    if proc.returncode != 0:
        return {"failed": " ".join(cmd), "stderr": proc.stderr[-2000:]}
    rows = [json.loads(line) for line in (run_dir / "metrics.jsonl").read_text().splitlines()
            if line.strip().startswith("{")]
    rows = [r for r in rows if r.get("stage", "grpo") == "grpo" and "step_time" in r]
    measured = rows[warmup:] or rows
    step_time = sum(r["step_time"] for r in measured) / max(1, len(measured))
    grpo = settings["grpo"]
    batch = int(grpo["per_device_train_batch_size"]) * int(grpo["gradient_accumulation_steps"])
    peaks = [r["peak_memory_mb"] for r in rows if isinstance(r.get("peak_memory_mb"), (int, float))]
    return {
        "steps": len(rows), "step_time_s": step_time,
        "mean_completion_length": sum(r.get("completion_length", 0) for r in measured)
        / max(1, len(measured)),
        "tokens_per_s": batch * completion / step_time if step_time else None,
        # on CPU gmr records process RSS, not comparable with CUDA allocations
        "peak_allocated_mb": max(peaks) if peaks and not smoke else None,
    }


def _flatten(settings: dict[str, Any], prefix: str = "") -> dict[str, Any]:
    out: dict[str, Any] = {}
    for key, value in settings.items():
        if isinstance(value, dict):
            out.update(_flatten(value, f"{prefix}{key}."))
        elif not key.startswith("_"):
            out[f"{prefix}{key}"] = value
    return out


def planner_estimate(settings: dict[str, Any], model_dir: Path, prompt_tokens: int
                     ) -> dict[str, Any]:
    from dataclasses import replace

    from gamermath.planner import estimate, resolve_architecture, shape_from_recipe
    from gamermath.recipe import dump_toml, load_recipe

    arch = resolve_architecture(str(model_dir))
    data = {k: v for k, v in settings.items() if not k.startswith("_")}
    data["model"] = {**data.get("model", {}), "source": str(model_dir)}
    data.setdefault("rewards", [{"name": "exact-answer"}])
    recipe_file = model_dir.parent / "planned-recipe.toml"
    recipe_file.write_text(dump_toml(data))
    recipe = load_recipe(recipe_file, check_plugins=False)
    shape = replace(shape_from_recipe(recipe), prompt_tokens=prompt_tokens)
    est = estimate(arch, shape)
    return {"peak_tensors_mb": est.peak_tensors / 2**20, "peak_total_mb": est.peak_total / 2**20,
            "peak_phase": est.peak_phase,
            "components_mb": {k: v / 2**20 for k, v in est.components().items()}}


# ----------------------------------------------------------------------------- main


def device_name(smoke: bool) -> str:
    import torch

    if torch.cuda.is_available() and not smoke:
        props = torch.cuda.get_device_properties(0)
        return f"{props.name} ({props.total_memory / 2**30:.0f} GiB), torch {torch.__version__}"
    return f"CPU ({platform.processor() or platform.machine()}), torch {torch.__version__}"


def markdown(result: dict[str, Any]) -> str:
    def mb(v: Any) -> str:
        return f"{v / 1024:.2f} GB" if isinstance(v, (int, float)) else "n/a"

    def num(v: Any, fmt: str = ".2f") -> str:
        return format(v, fmt) if isinstance(v, (int, float)) else "n/a"

    trl, gmr, plan = result["trl"], result["gmr"], result["planner"]
    lines = [
        f"### Paper recipe, {result['mode']} ({result['date']})",
        "",
        f"Device: {result['device']}. Recipe: {result['recipe'] or 'built-in paper settings'}; "
        f"{result['settings']}. Steps measured: {result['steps']} after {result['warmup']} "
        "warm-up.",
        "",
        "| | peak allocated | s / step | generated tokens / s |",
        "| --- | --- | --- | --- |",
        f"| plain TRL + PEFT | {mb(trl.get('peak_allocated_mb'))} | "
        f"{num(trl.get('step_time_s'))} | {num(trl.get('tokens_per_s'), '.1f')} |",
    ]
    if "skipped" in gmr or "failed" in gmr:
        lines.append(f"| gmr train | not run: {gmr.get('skipped') or 'failed'} | | |")
    else:
        lines.append(f"| gmr train | {mb(gmr.get('peak_allocated_mb'))} | "
                     f"{num(gmr.get('step_time_s'))} | {num(gmr.get('tokens_per_s'), '.1f')} |")
    lines.append(f"| gmr plan estimate | {mb(plan['peak_tensors_mb'])} "
                 f"({plan['peak_phase']} phase) | | |")
    for key, value in result.get("ratios", {}).items():
        lines.append(f"\n{key}: {value:.3f}")
    return "\n".join(lines) + "\n"


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(description=__doc__.split("\n\n")[0],
                                     formatter_class=argparse.RawDescriptionHelpFormatter)
    parser.add_argument("--recipe", type=Path, default=PAPER_RECIPE,
                        help="recipe to benchmark (default recipes/youronmath-paper.toml)")
    parser.add_argument("--steps", type=int, default=5, help="optimizer steps measured")
    parser.add_argument("--warmup", type=int, default=1, help="steps run before measuring")
    parser.add_argument("--completion-tokens", type=int, default=None,
                        help="fixed completion length (default: the recipe's maximum)")
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
    settings["grpo"].setdefault("max_completion_length", 512)
    os.environ.setdefault("HF_HUB_OFFLINE", "1")
    args.output.mkdir(parents=True, exist_ok=True)
    work = Path(tempfile.mkdtemp(prefix="gmr-bench-"))
    try:
        model_dir = build_model(settings, work / "model", args.smoke)
        result: dict[str, Any] = {
            "mode": "CPU smoke test" if args.smoke else "GPU",
            "date": dt.datetime.now(dt.timezone.utc).strftime("%Y-%m-%d %H:%M UTC"),
            "device": device_name(args.smoke),
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
        gmr = {"skipped": "--only trl"} if args.only == "trl" else run_gmr(
            settings, model_dir, work, args.warmup, args.steps, args.smoke)
        prompt_tokens = int(round(trl.get("prompt_tokens", 256)))
        result.update(trl=trl, gmr=gmr,
                      planner=planner_estimate(settings, model_dir, prompt_tokens))
        ratios = {}
        if trl.get("peak_allocated_mb") and gmr.get("peak_allocated_mb"):
            ratios["peak memory gmr / TRL"] = gmr["peak_allocated_mb"] / trl["peak_allocated_mb"]
        if trl.get("step_time_s") and gmr.get("step_time_s"):
            ratios["step time gmr / TRL"] = gmr["step_time_s"] / trl["step_time_s"]
        if trl.get("peak_allocated_mb"):
            ratios["planner / measured TRL peak"] = (
                result["planner"]["peak_tensors_mb"] / trl["peak_allocated_mb"])
        if gmr.get("peak_allocated_mb"):
            ratios["planner / measured gmr peak"] = (
                result["planner"]["peak_tensors_mb"] / gmr["peak_allocated_mb"])
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
