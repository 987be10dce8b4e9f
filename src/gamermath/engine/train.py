"""A recipe to a trained LoRA adapter: optional SFT warm-up, then GRPO, both TRL trainers.

The same LoRA adapter is trained through both stages (SFT's adapter is handed to
``GRPOTrainer`` as a ``PeftModel``; with ``beta > 0`` TRL keeps a frozen copy as the KL
reference), so ``RUN_DIR/adapter`` applied to the base model reproduces the trained model.
Checkpoints are TRL's own (adapter, optimizer, scheduler, RNG and trainer state), so a
resumed run continues at the same step with the same data order.
"""

from __future__ import annotations

import logging
import os
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamermath.engine.run_dir import RunDir, read_jsonl
from gamermath.errors import GmrError
from gamermath.recipe import Recipe, reward_terms

log = logging.getLogger("gamermath.engine")


class TrainingInterrupted(Exception):
    """Training stopped on Ctrl-C after saving a checkpoint."""

    def __init__(self, stage: str, step: int, checkpoint: Path | None) -> None:
        self.stage = stage
        self.step = step
        self.checkpoint = checkpoint
        super().__init__(f"interrupted during {stage} at step {step}")


@dataclass
class TrainResult:
    """What a finished run produced."""

    run_dir: Path
    adapter: Path
    steps: dict[str, int] = field(default_factory=dict)
    heldout: dict[str, list[dict[str, Any]]] = field(default_factory=dict)


def world() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` from torchrun/accelerate's environment."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("LOCAL_RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
    )


def lora_config(recipe: Recipe):
    """PEFT ``LoraConfig`` from ``[lora]``."""
    from peft import LoraConfig

    lora = recipe["lora"]
    return LoraConfig(
        r=int(lora["r"]),
        lora_alpha=lora["alpha"],
        lora_dropout=float(lora["dropout"]),
        target_modules=lora["target_modules"],
        bias=lora["bias"],
        task_type="CAUSAL_LM",
    )


def truncate_prompts(dataset, tokenizer, max_tokens: int):
    """Keep only the last ``max_tokens`` tokens of longer prompts (TRL's former left truncation).

    A chat prompt that is too long is rendered through the chat template first and then
    truncated as text, so the generation prompt (the assistant turn's opening) is kept.
    """
    from gamermath.engine.heldout import prompt_text

    def cut(row):
        text = prompt_text(row["prompt"], tokenizer)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= max_tokens:
            return {"prompt": row["prompt"]}
        return {"prompt": tokenizer.decode(ids[-max_tokens:])}

    chat = len(dataset) and not isinstance(dataset[0]["prompt"], str)
    if chat:  # a column cannot mix message lists and strings: render all as text
        return dataset.map(
            lambda row: {"prompt": tokenizer.decode(
                tokenizer(prompt_text(row["prompt"], tokenizer), add_special_tokens=False)[
                    "input_ids"][-max_tokens:])}
        )
    return dataset.map(cut)


def _prompt_data(recipe: Recipe) -> tuple[Any, list[dict[str, Any]]]:
    from gamermath.data import build_prompt_dataset, render_prompts

    data, run, ev = recipe["data"], recipe["run"], recipe["eval"]
    train = build_prompt_dataset(
        data["dataset"], data["split"], data["template"], data["data_dir"], data["limit"],
        run["seed"], data["shots"], data["options"], data["template_options"],
    )
    heldout: list[dict[str, Any]] = []
    if ev["heldout"] and ev["heldout"] > 0:
        heldout = render_prompts(
            data["dataset"], ev["split"], data["template"], data["data_dir"], ev["heldout"],
            run["seed"], data["shots"], data["options"], data["template_options"],
        )
    return train, heldout


def _sft_data(recipe: Recipe):
    from gamermath.data import build_sft_dataset

    data, sft = recipe["data"], recipe["sft"]
    template = sft["template"] or data["template"]
    # the warm-up sees the same prompts as GRPO: same template, same template options
    template_options = data["template_options"] if template == data["template"] else {}
    return build_sft_dataset(
        sft["dataset"] or data["dataset"], sft["split"], template, data["data_dir"],
        sft["limit"], recipe["run"]["seed"], sft["options"] or data["options"], sft["shots"],
        template_options,
    )


def _trainer_args(recipe: Recipe, stage: str, run: RunDir, max_steps: int | None) -> dict:
    args = recipe.trl_args(stage)
    args.update(
        output_dir=str(run.checkpoints(stage)),
        seed=int(recipe["run"]["seed"]),
        save_strategy="steps",
        save_steps=int(recipe["run"]["checkpoint_every"]),
        disable_tqdm=True,
    )
    if max_steps is not None:
        args["max_steps"] = int(max_steps)
    if "bf16" not in args and "fp16" not in args:  # TRL's default (bf16) fails on a CPU
        import torch

        args["bf16"] = bool(torch.cuda.is_available() and torch.cuda.is_bf16_supported())
    if "use_cpu" not in args:
        import torch

        # without it, torchrun/accelerate CPU processes would each train alone (no gloo DDP)
        args["use_cpu"] = not torch.cuda.is_available()
    return args


def make_config(config_class, recipe: Recipe, stage: str, **args):
    """A TRL config; its own validation errors become one line naming the recipe section."""
    try:
        return config_class(**args)
    except (ValueError, TypeError) as exc:
        detail = " ".join(str(exc).split())
        raise GmrError(f"{recipe.path}: [{stage}]: {detail}") from None


def _common_callbacks(trainer, callbacks: list) -> None:
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    for callback in callbacks:
        trainer.add_callback(callback)


def _run_stage(trainer, interrupt, stage: str, checkpoint: Path | None, run: RunDir) -> int:
    interrupt.install()
    try:
        trainer.train(resume_from_checkpoint=str(checkpoint) if checkpoint else None)
    finally:
        interrupt.uninstall()
    step = trainer.state.global_step
    if interrupt.requested:
        raise TrainingInterrupted(stage, step, run.newest_checkpoint(stage))
    return step


def _resume_point(run: RunDir, stage: str, resume: bool) -> Path | None:
    """The checkpoint to resume ``stage`` from; drops metrics rows it will replay."""
    if not resume:
        return None
    checkpoint = run.newest_checkpoint(stage)
    if world()[0] == 0:
        step = int(checkpoint.name.split("-")[-1]) if checkpoint else -1
        run.truncate_after(stage, step)
    return checkpoint


def train(
    recipe: Recipe,
    run_dir: str | Path | None = None,
    resume: bool = False,
    max_steps: int | None = None,
    console: Any = None,
) -> TrainResult:
    """Run a recipe end to end; write the run directory; return where the adapter is."""
    rank, local_rank, world_size = world()
    run = RunDir(run_dir or recipe["run"]["output_dir"])
    if resume and not run.exists():
        raise GmrError(f"--resume: {run.root} holds no run (no recipe.toml); start it without")
    if not resume and run.exists() and rank == 0:
        raise GmrError(
            f"{run.root} already holds a run; continue it with --resume or choose another "
            "--run-dir"
        )
    if resume and (run.adapter / "adapter_config.json").is_file():
        raise GmrError(f"{run.root} is complete (adapter/ written); nothing to resume")

    import datasets
    import torch
    import transformers
    from transformers import set_seed

    from gamermath.engine import environment
    from gamermath.models import load_model

    transformers.logging.set_verbosity_error()
    for noise in (".*gradient_checkpointing.*deprecated", ".*pin_memory.*"):
        warnings.filterwarnings("ignore", message=noise)
    transformers.logging.disable_progress_bar()  # the run shows one progress bar: ours
    datasets.disable_progress_bars()
    seed = int(recipe["run"]["seed"])
    set_seed(seed)
    if rank == 0:
        run.prepare()
        if not resume:
            run.recipe.write_text(recipe.to_toml(), encoding="utf-8")

    device = None
    if torch.cuda.is_available() and world_size > 1:
        device = f"cuda:{local_rank}"
    model_cfg = recipe["model"]
    model, tokenizer, record = load_model(
        model_cfg["source"], model_cfg["dtype"], model_cfg["attention"], model_cfg["cache_dir"],
        device=device,
    )
    if rank == 0:
        env = environment.capture(record, world_size)
        env["lora"] = dict(recipe["lora"])
        run.write_json(run.environment, env)

    result = TrainResult(run_dir=run.root, adapter=run.adapter)
    train_set, heldout_rows = _prompt_data(recipe)
    if recipe["grpo"].get("max_prompt_length"):
        train_set = truncate_prompts(train_set, tokenizer, int(recipe["grpo"]["max_prompt_length"]))
    from gamermath.engine.heldout import HeldoutEvaluator

    ev = recipe["eval"]
    completion_tokens = int(recipe["grpo"].get("max_completion_length") or 256)
    evaluator = HeldoutEvaluator(
        heldout_rows, tokenizer, ev["max_new_tokens"] or completion_tokens, ev["batch_size"]
    ) if heldout_rows else None

    if recipe.sft_enabled:
        if run.stage_complete("sft"):
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(run.stage_final("sft")), is_trainable=True)
            log.info("SFT stage already complete; continuing with its adapter")
        else:
            model = _sft_stage(recipe, run, model, tokenizer, evaluator, resume, max_steps, console,
                               result)
    model = _grpo_stage(recipe, run, model, tokenizer, train_set, evaluator, resume, max_steps,
                        console, result)

    if rank == 0:
        model.save_pretrained(str(run.adapter), selected_adapters=["default"])
        tokenizer.save_pretrained(str(run.adapter))
    result.heldout = {
        stage: [r for r in read_jsonl(run.metrics) if r.get("stage") == stage
                and "heldout/accuracy" in r]
        for stage in ("sft", "grpo")
    }
    return result


def _sft_stage(recipe, run, model, tokenizer, evaluator, resume, max_steps, console, result):
    from trl import SFTConfig, SFTTrainer

    from gamermath.engine.callbacks import (
        HeldoutCallback,
        InterruptCallback,
        MetricsCallback,
        RichProgressCallback,
    )

    checkpoint = _resume_point(run, "sft", resume)
    dataset = _sft_data(recipe)
    args = make_config(SFTConfig, recipe, "sft", **_trainer_args(recipe, "sft", run, max_steps))
    tokenizer.padding_side = "right"
    interrupt = InterruptCallback()
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
        peft_config=lora_config(recipe),
    )
    callbacks = [MetricsCallback(run, "sft"), RichProgressCallback("sft", console), interrupt]
    if evaluator is not None:
        # the bare model before SFT; the SFT model is measured as GRPO's step 0
        callbacks.insert(1, HeldoutCallback(run, "sft", evaluator, None, None,
                                            at_start=checkpoint is None, at_end=False))
    _common_callbacks(trainer, callbacks)
    steps = _run_stage(trainer, interrupt, "sft", checkpoint, run)
    result.steps["sft"] = steps
    model = trainer.model
    if world()[0] == 0:
        final = run.stage_final("sft")
        model.save_pretrained(str(final))
        tokenizer.save_pretrained(str(final))
        run.mark_complete("sft", steps)
    return model


def _grpo_stage(
    recipe, run, model, tokenizer, train_set, evaluator, resume, max_steps, console, result
):
    from peft import PeftModel
    from trl import GRPOConfig, GRPOTrainer

    from gamermath.engine.callbacks import (
        CompletionRecorder,
        HeldoutCallback,
        InterruptCallback,
        MetricsCallback,
        RichProgressCallback,
    )
    from gamermath.engine.heldout import HackingAlarm
    from gamermath.rewards.runner import RewardRunner
    from gamermath.rewards.trl_adapter import RewardCountersCallback, make_reward_funcs

    checkpoint = _resume_point(run, "grpo", resume)
    terms = reward_terms(recipe)
    rcfg = recipe["run"]
    with RewardRunner(workers=rcfg["reward_workers"]) as runner:
        funcs, weights = make_reward_funcs(terms, runner)
        recorder = CompletionRecorder(
            run, [t.label for t in terms], weights, rcfg["completions_every"],
            rcfg["completions_kept"],
        )
        args = make_config(
            GRPOConfig, recipe, "grpo", reward_weights=weights,
            **_trainer_args(recipe, "grpo", run, max_steps),
        )
        tokenizer.padding_side = "left"
        is_peft = isinstance(model, PeftModel)
        interrupt = InterruptCallback()
        trainer = GRPOTrainer(
            model=model, reward_funcs=recorder.wrap(funcs), args=args, train_dataset=train_set,
            processing_class=tokenizer, peft_config=None if is_peft else lora_config(recipe),
        )
        callbacks: list = [RewardCountersCallback(runner), MetricsCallback(run, "grpo")]
        if evaluator is not None:
            alarm = HackingAlarm(window=int(recipe["eval"]["alarm_window"]))
            for row in read_jsonl(run.metrics):  # a resumed run keeps its alarm history
                if row.get("stage") == "grpo" and "heldout/train_reward" in row:
                    alarm.points.append(
                        (row["step"], row["heldout/train_reward"], row["heldout/accuracy"])
                    )
            callbacks.append(HeldoutCallback(
                run, "grpo", evaluator, recipe["eval"]["every"], alarm,
                at_start=checkpoint is None,
            ))
        callbacks += [recorder, RichProgressCallback("grpo", console), interrupt]
        _common_callbacks(trainer, callbacks)
        result.steps["grpo"] = _run_stage(trainer, interrupt, "grpo", checkpoint, run)
    return trainer.model
