"""A recipe to a trained LoRA adapter: optional SFT warm-up, then GRPO, both TRL trainers.

The same LoRA adapter is trained through both stages (SFT's adapter is handed to
``GRPOTrainer`` as a ``PeftModel``), so ``RUN_DIR/adapter`` applied to the base model
reproduces the trained model. With ``[lora] enabled = false`` every weight trains instead
(full fine-tuning): no ``peft_config``, the SFT model is reloaded from its saved folder so
that TRL's KL reference (a frozen copy it loads from the model's path) is the SFT model, and
the result is a whole model in ``RUN_DIR/model``. Checkpoints are TRL's own (adapter or
model, optimizer, scheduler, RNG and trainer state), so a resumed run continues at the same
step with the same data order. Everything that can be checked is checked before the first
step: TRL's configs of both stages, the LoRA target modules against the loaded model, and
the dataset columns each reward needs.
"""

from __future__ import annotations

import logging
import os
import time
import warnings
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

from gamermath.engine.scored_text import ScoredText
from gamermath.engine.stops import StopSequences
from gamermath.errors import GmrError
from gamermath.recipe import Recipe
from gamermath.run_dir import RunDir, read_jsonl

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


def full_model(run: RunDir) -> Path:
    """Where a full fine-tuning run writes its final model (a LoRA run: ``run.adapter``)."""
    return run.root / "model"


def world() -> tuple[int, int, int]:
    """``(rank, local_rank, world_size)`` from torchrun/accelerate's environment."""
    return (
        int(os.environ.get("RANK", 0)),
        int(os.environ.get("LOCAL_RANK", 0)),
        int(os.environ.get("WORLD_SIZE", 1)),
    )


def lora_config(recipe: Recipe):
    """PEFT ``LoraConfig`` from ``[lora]`` (None for full fine-tuning)."""
    from peft import LoraConfig

    lora = recipe.lora
    if not lora.enabled:
        return None
    targets = lora.target_modules
    return LoraConfig(
        r=int(lora.r),
        lora_alpha=lora.alpha,
        lora_dropout=float(lora.dropout),
        target_modules=targets if isinstance(targets, str) else list(targets),
        bias=lora.bias,
        task_type="CAUSAL_LM",
    )


def check_target_modules(recipe: Recipe, model: Any) -> None:
    """Every ``[lora].target_modules`` name is a module of the loaded model."""
    from gamermath.recipe.model_modules import check_targets, model_modules

    check_targets(recipe, *model_modules(model))


def check_reward_columns(recipe: Recipe, columns: list[str], where: str) -> None:
    """Every reward's declared columns exist in the rows it will score."""
    from gamermath import plugins

    for index, term in enumerate(recipe.rewards):
        reward = plugins.get("reward", term.name)
        missing = [c for c in reward.columns if c not in columns]
        if missing:
            raise GmrError(
                f"{recipe.path}: [[rewards]] #{index + 1} ({term.name}) needs column(s) "
                f"{', '.join(missing)}, which the {where} rows lack (columns: "
                f"{', '.join(sorted(columns))})"
            )


def truncate_prompts(dataset, tokenizer, max_tokens: int, chat_template_kwargs=None):
    """Keep only the last ``max_tokens`` tokens of longer prompts (TRL's former left truncation).

    A chat prompt is rendered through the chat template first and then truncated as text,
    so the generation prompt (the assistant turn's opening) is kept; a column cannot mix
    message lists and strings, so all chat prompts become text.
    """
    from gamermath.engine.heldout import prompt_text

    def cut(row):
        text = prompt_text(row["prompt"], tokenizer, chat_template_kwargs)
        ids = tokenizer(text, add_special_tokens=False)["input_ids"]
        if len(ids) <= max_tokens and isinstance(row["prompt"], str):
            return {"prompt": row["prompt"]}
        return {"prompt": tokenizer.decode(ids[-max_tokens:])}

    return dataset.map(cut)


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


def open_run(recipe: Recipe, resume: bool = False, force: bool = False) -> RunDir:
    """The run directory for ``recipe``: new, or (``resume``) the same run continued.

    A resume whose recipe differs from the saved ``recipe.toml`` is refused with the
    differing keys, unless ``force``; then the old recipe is kept beside the new one.
    """
    run = RunDir(recipe.run.output_dir)
    rank = world()[0]
    if not resume:
        if run.exists() and rank == 0:
            raise GmrError(f"{run.root} already holds a run; continue it with gmr train --resume "
                           f"{run.root}, or choose another --run-dir")
        return run
    if not run.exists():
        raise GmrError(f"--resume {run.root}: no run there (no recipe.toml); start it without "
                       "--resume")
    if (run.adapter / "adapter_config.json").is_file() or (full_model(run) / "config.json"
                                                           ).is_file():
        raise GmrError(f"{run.root} is complete (final weights written); nothing to resume")
    saved = run.read_recipe()
    changed = saved.differences(recipe, ignore=("run.output_dir",))
    if changed and not force:
        shown = "; ".join(changed[:8]) + (f"; and {len(changed) - 8} more" if len(changed) > 8
                                          else "")
        raise GmrError(f"{run.recipe}: the resumed recipe differs from the run's own ({shown}); "
                       f"resume with gmr train --resume {run.root} alone, or add --force")
    if changed and rank == 0:
        kept = run.root / f"recipe.before-{time.strftime('%Y%m%d-%H%M%S')}.toml"
        run.recipe.replace(kept)
        run.recipe.write_text(recipe.to_toml(annotate=True), encoding="utf-8")
        log.warning("resuming with a changed recipe (--force); the old one is %s", kept.name)
    return run


@dataclass
class Scoring:
    """How a run reads completions: stop sequences, the ``<think>`` its chat template opens
    (both in ``scored_text``), its chat-template arguments, the template's answer line."""

    stops: StopSequences
    scored_text: ScoredText
    chat_template_kwargs: dict[str, Any]
    answer_line: str


def run_scoring(recipe: Recipe, tokenizer: Any, chat_prompts: bool) -> Scoring:
    """The stop sequences and the ``<think>`` opening (chat prompts only) of a run."""
    from gamermath import plugins
    from gamermath.engine.stops import template_stops
    from gamermath.engine.think import opened_in_prompt

    kwargs = recipe.grpo.trl.get("chat_template_kwargs") or {}
    if isinstance(kwargs, str):  # TRL also takes it as a JSON string
        import json

        kwargs = json.loads(kwargs)
    stops = template_stops(recipe.data.template, recipe.data.stop)
    if stops and recipe.grpo.trl.get("mask_truncated_completions"):
        raise GmrError(f"{recipe.path}: [grpo].mask_truncated_completions = true would drop "
                       "every completion cut at a stop sequence (it ends without EOS); set it "
                       "to false or set [data] stop = []")
    opened = opened_in_prompt(tokenizer, kwargs) if chat_prompts else ""
    answer_line = plugins.get("template", recipe.data.template).answer_line
    return Scoring(stops, ScoredText(stops, opened), dict(kwargs), answer_line)


def train(
    recipe: Recipe, resume: bool = False, force: bool = False, console: Any = None,
    callbacks: dict[str, list] | None = None,
) -> TrainResult:
    """Run a recipe end to end in ``recipe.run.output_dir``; return where the adapter is.

    ``callbacks`` adds trainer callbacks by stage (``{"sft": [...], "grpo": [...]}``).
    """
    from contextlib import ExitStack

    with ExitStack() as stack:
        return _train(recipe, resume, force, console, callbacks or {}, stack)


def _train(recipe, resume, force, console, extra_callbacks, stack) -> TrainResult:
    from gamermath.engine.announce import plan_lines, say

    rank, local_rank, world_size = world()
    run = open_run(recipe, resume, force)
    console = console if rank == 0 else None
    for line in plan_lines(recipe, resume):
        say(console, line)

    import datasets
    import torch
    import transformers
    from transformers import set_seed

    from gamermath.data.overlap import check_before_training, save_to
    from gamermath.engine import environment
    from gamermath.engine.switches import check_switch_device, keep_checkpointing_options
    from gamermath.engine.trl_config import check_trl_configs
    from gamermath.engine.zero_variance import check_zero_variance
    from gamermath.models import load_model

    check_trl_configs(recipe)
    check_switch_device(recipe)
    check_zero_variance(recipe, world_size)
    contamination = check_before_training(recipe, console) if rank == 0 else None
    transformers.logging.set_verbosity_error()
    for noise in (".*gradient_checkpointing.*deprecated", ".*pin_memory.*"):
        warnings.filterwarnings("ignore", message=noise)
    transformers.logging.disable_progress_bar()  # the run shows one progress bar: ours
    datasets.disable_progress_bars()
    set_seed(int(recipe.run.seed))
    if recipe.run.threads is not None:
        torch.set_num_threads(int(recipe.run.threads))

    device = None
    if torch.cuda.is_available() and world_size > 1:
        device = f"cuda:{local_rank}"
    model_spec = recipe.model
    say(console, f"loading {model_spec.source} ({model_spec.dtype}; a first use converts it)")
    started = time.perf_counter()
    model, tokenizer, record = load_model(
        model_spec.source, model_spec.dtype, model_spec.attention, model_spec.cache_dir,
        device=device, load_in_4bit=model_spec.load_in_4bit,
    )
    say(console, f"model loaded in {time.perf_counter() - started:.0f} s; checking LoRA "
        "targets, data, reward columns and stop sequences")
    keep_checkpointing_options(model)
    check_target_modules(recipe, model)
    train_set, heldout_rows = _prompt_data(recipe)
    check_reward_columns(recipe, list(train_set.column_names), "training")
    if heldout_rows:
        check_reward_columns(recipe, list(heldout_rows[0]), "held-out")
    chat_prompts = len(train_set) > 0 and not isinstance(train_set[0]["prompt"], str)
    scoring = run_scoring(recipe, tokenizer, chat_prompts)
    say(console, f"checks passed: {len(train_set)} training prompts, {len(heldout_rows)} "
        "held-out problems")
    if rank == 0:  # every check passed: only now does the run directory appear
        run.prepare()
        if not resume:
            run.recipe.write_text(recipe.to_toml(annotate=True), encoding="utf-8")
        env = environment.capture(record, world_size)
        lora = recipe.lora
        env["lora"] = ({"r": lora.r, "alpha": lora.alpha, "target_modules": lora.target_modules}
                       if lora.enabled else {"enabled": False})
        env["scoring"] = scoring_record(recipe, scoring)
        run.write_json(run.environment, env)
        save_to(contamination, run.root)

    result = TrainResult(run_dir=run.root,
                         adapter=run.adapter if recipe.lora.enabled else full_model(run))
    if recipe.grpo.max_prompt_length:
        train_set = truncate_prompts(train_set, tokenizer, int(recipe.grpo.max_prompt_length),
                                     scoring.chat_template_kwargs)
    evaluator = None
    if heldout_rows:
        from gamermath.engine.heldout import HeldoutEvaluator
        from gamermath.engine.heldout_metric import reward_metric
        from gamermath.rewards.runner import RewardRunner

        metric_runner = stack.enter_context(RewardRunner(workers=1))
        evaluator = HeldoutEvaluator(
            heldout_rows, tokenizer, recipe.eval.max_new_tokens or recipe.completion_tokens(),
            recipe.eval.batch_size,
            metric=reward_metric(metric_runner, recipe.eval.metric, recipe.eval.metric_options),
            scored_text=scoring.scored_text, answer_line=scoring.answer_line,
            chat_template_kwargs=scoring.chat_template_kwargs,
            threads=recipe.run.generation_threads,
        )

    if recipe.sft_enabled:
        if run.stage_complete("sft") and recipe.lora.enabled:
            from peft import PeftModel

            model = PeftModel.from_pretrained(model, str(run.stage_final("sft")), is_trainable=True)
            log.info("SFT stage already complete; continuing with its adapter")
        elif not run.stage_complete("sft"):
            model = _sft_stage(recipe, run, model, tokenizer, evaluator, resume, console, result,
                               extra_callbacks.get("sft", []))
        if not recipe.lora.enabled:  # GRPO and its KL reference start from the saved SFT model
            del model
            if world_size > 1:  # rank 0 writes checkpoints/sft/final
                from accelerate import PartialState

                PartialState().wait_for_everyone()
            model = load_model(str(run.stage_final("sft")), model_spec.dtype,
                               model_spec.attention, device=device)[0]
            keep_checkpointing_options(model)
    model = _grpo_stage(recipe, run, model, tokenizer, train_set, evaluator, resume, console,
                        result, scoring, extra_callbacks.get("grpo", []))

    if rank == 0:
        if recipe.lora.enabled:
            model.save_pretrained(str(run.adapter), selected_adapters=["default"])
        else:
            model.save_pretrained(str(result.adapter))
        tokenizer.save_pretrained(str(result.adapter))
    result.heldout = {
        stage: [r for r in read_jsonl(run.metrics) if r.get("stage") == stage
                and "heldout/accuracy" in r]
        for stage in ("sft", "grpo")
    }
    return result


def scoring_record(recipe: Recipe, scoring: Scoring) -> dict[str, Any]:
    """What ``environment.json`` says about how completions were read and what KL measured."""
    import trl

    from gamermath.engine.reference import kl_reference

    return {
        "stop_sequences": list(scoring.stops.stops),
        "think_opened_in_prompt": scoring.scored_text.opened,
        "heldout_metric": recipe.eval.metric,
        "kl_reference": kl_reference(float(recipe.grpo.trl["beta"]),
                                     recipe.sft_enabled, trl.__version__, recipe.lora.enabled),
    }


def _prompt_data(recipe: Recipe) -> tuple[Any, list[dict[str, Any]]]:
    from gamermath.data import build_prompt_dataset, render_prompts

    train = build_prompt_dataset(recipe.data, recipe.run.seed)
    heldout: list[dict[str, Any]] = []
    if recipe.eval.heldout > 0:
        heldout = render_prompts(recipe.heldout_data(), recipe.run.seed)
    return train, heldout


def _sft_stage(recipe, run, model, tokenizer, evaluator, resume, console, result, extra):
    from trl import SFTTrainer

    from gamermath.data import build_sft_dataset
    from gamermath.engine.callbacks import (
        HeldoutCallback,
        InterruptCallback,
        MetricsCallback,
        RichProgressCallback,
    )
    from gamermath.engine.trl_config import make_config, trainer_args

    checkpoint = _resume_point(run, "sft", resume)
    dataset = build_sft_dataset(recipe.sft_data(), recipe.run.seed)
    args = make_config(recipe, "sft", trainer_args(recipe, "sft", str(run.checkpoints("sft"))))
    tokenizer.padding_side = "right"
    interrupt = InterruptCallback()
    trainer = SFTTrainer(
        model=model, args=args, train_dataset=dataset, processing_class=tokenizer,
        peft_config=lora_config(recipe),
    )
    progress = RichProgressCallback("sft", console)
    callbacks = [MetricsCallback(run, "sft"), progress, interrupt, *extra]
    if evaluator is not None:
        # the bare model before SFT; the SFT model is measured as GRPO's step 0
        callbacks.insert(1, HeldoutCallback(run, "sft", evaluator, None, None,
                                            at_start=checkpoint is None, at_end=False,
                                            display=progress))
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


def _common_callbacks(trainer, callbacks: list) -> None:
    from transformers.trainer_callback import PrinterCallback, ProgressCallback

    trainer.remove_callback(PrinterCallback)
    trainer.remove_callback(ProgressCallback)
    for callback in callbacks:
        trainer.add_callback(callback)


def _grpo_stage(recipe, run, model, tokenizer, train_set, evaluator, resume, console, result,
                scoring, extra):
    from peft import PeftModel

    from gamermath.engine.alarm import Evaluation, HackingAlarm, correct_from_text
    from gamermath.engine.callbacks import (
        CompletionRecorder,
        HeldoutCallback,
        InterruptCallback,
        MetricsCallback,
        NoSignalCallback,
        RichProgressCallback,
    )
    from gamermath.engine.control import control_reward_funcs
    from gamermath.engine.grpo_trainer import grpo_trainer_class
    from gamermath.engine.stops import stop_aware_trainer_class
    from gamermath.engine.trl_config import make_config, trainer_args
    from gamermath.rewards.runner import RewardRunner
    from gamermath.rewards.trl_adapter import (
        RewardCountersCallback,
        counters_from_logs,
        make_reward_funcs,
    )

    checkpoint = _resume_point(run, "grpo", resume)
    terms = recipe.rewards
    run_spec = recipe.run
    resumed = [r for r in run.metrics_rows() if r.get("stage") == "grpo" and "reward" in r]
    with RewardRunner(
        workers=run_spec.reward_workers, memory_limit_mb=run_spec.reward_memory_mb,
        cpu_time_limit_s=run_spec.reward_cpu_s,
        # a resumed run continues its counters from the last row it logged
        initial_counters=counters_from_logs(resumed[-1]) if checkpoint and resumed else None,
    ) as runner:
        funcs, weights = make_reward_funcs(terms, runner)
        recorder = CompletionRecorder(
            run, [t.label for t in terms], weights, run_spec.completions_every,
            run_spec.completions_kept,
        )
        args = make_config(recipe, "grpo",
                           trainer_args(recipe, "grpo", str(run.checkpoints("grpo"))))
        tokenizer.padding_side = "left"
        is_peft = isinstance(model, PeftModel)
        interrupt = InterruptCallback()
        trainer_class, options = grpo_trainer_class(recipe, stop_aware_trainer_class())
        trainer = trainer_class(
            model=model,
            reward_funcs=control_reward_funcs(
                recipe, scoring.scored_text.wrap(recorder.wrap(funcs))),
            args=args, train_dataset=train_set, processing_class=tokenizer,
            peft_config=None if is_peft else lora_config(recipe), stops=scoring.stops, **options,
        )
        progress = RichProgressCallback("grpo", console)
        callbacks: list = [RewardCountersCallback(runner, run_spec.reward_stop_after),
                           MetricsCallback(run, "grpo"), NoSignalCallback(console)]
        if evaluator is not None:
            spec = recipe.eval
            alarm = HackingAlarm(alpha=spec.alarm_alpha,
                                 min_reward_rise=spec.alarm_min_reward_rise,
                                 window=spec.alarm_window, last_step=recipe.grpo.stop_at_step)
            for row in run.metrics_rows():  # a resumed run keeps its alarm history
                if row.get("stage") != "grpo":
                    continue
                if "heldout/correct" in row:
                    alarm.history.append(Evaluation(row["step"], row.get("heldout/train_reward"),
                                                    correct_from_text(row["heldout/correct"])))
                elif row.get("reward") is not None:
                    alarm.log_reward(row["reward"])
            callbacks.append(HeldoutCallback(
                run, "grpo", evaluator, recipe.eval.every, alarm, at_start=checkpoint is None,
                display=progress,
            ))
        callbacks += [recorder, progress, interrupt, *extra]
        if recipe.grpo.stop_at_step is not None:
            from gamermath.engine.step_limit import StopAtStepCallback

            callbacks.append(StopAtStepCallback(recipe.grpo.stop_at_step))
        _common_callbacks(trainer, callbacks)
        result.steps["grpo"] = _run_stage(trainer, interrupt, "grpo", checkpoint, run)
    return trainer.model
