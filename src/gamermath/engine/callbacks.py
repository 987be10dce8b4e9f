"""Trainer callbacks that write the run directory and show progress.

- ``MetricsCallback``: one ``metrics.jsonl`` row per logged step (TRL's keys plus ``stage``,
  ``step``, ``time``, ``completion_length``, ``step_time``, ``peak_memory_mb``).
- ``CompletionRecorder``: wraps the reward functions to see each batch's completions and
  per-term scores, and writes a sample to ``completions.jsonl`` every N steps.
- ``HeldoutCallback``: held-out accuracy every N steps (and at the start and the end) with
  the reward-hacking alarm.
- ``RichProgressCallback``: a rich progress bar with ETA and the current reward (plain
  lines when the output is not a terminal); held-out evaluations show their own progress
  on it (``RichProgressCallback.side_task``).
- ``NoSignalCallback``: warns once when GRPO's reward is 0 on every completion of the
  first steps (no advantage, nothing to learn) and says what to try.
- ``InterruptCallback``: Ctrl-C asks for a checkpoint at the end of the current step.
"""

from __future__ import annotations

import logging
import resource
import signal
import sys
import time
import warnings
from collections.abc import Callable, Iterator, Sequence
from contextlib import contextmanager
from typing import Any

from transformers import TrainerCallback

from gamermath.engine.alarm import HackingAlarm, correct_from_text
from gamermath.engine.announce import say
from gamermath.engine.heldout import HeldoutEvaluator
from gamermath.rewards.completions import completion_text
from gamermath.run_dir import RunDir

log = logging.getLogger("gamermath.engine")


class RewardHackingWarning(UserWarning):
    """Held-out accuracy fell significantly while the training reward rose (``HackingAlarm``)."""

#: Logs the Trainer writes once at the end of ``train()``, not per step.
SUMMARY_KEYS = ("train_runtime", "train_samples_per_second")


def release_free_memory() -> None:
    """Hand the C heap's free pages back to the OS (glibc ``malloc_trim``; elsewhere nothing).

    On a CPU, training steps leave hundreds of MB that glibc keeps for reuse after the
    tensors are freed (about 0.9 GB after SFT steps of the CPU demo); generation and the next
    stage then allocate beside it, and the process's resident memory ratchets up.
    """
    if not sys.platform.startswith("linux"):
        return
    import ctypes
    import ctypes.util

    try:
        ctypes.CDLL(ctypes.util.find_library("c") or "libc.so.6").malloc_trim(0)
    except (OSError, AttributeError):  # not glibc (musl has no malloc_trim)
        pass


def peak_memory_mb() -> float:
    """Peak accelerator memory (CUDA) or peak resident memory of this process (CPU), in MiB."""
    import torch

    if torch.cuda.is_available():
        return torch.cuda.max_memory_allocated() / 2**20
    usage = resource.getrusage(resource.RUSAGE_SELF).ru_maxrss
    return usage / 1024 if sys.platform != "darwin" else usage / 2**20


class MetricsCallback(TrainerCallback):
    """Appends each log call of one stage to ``metrics.jsonl``."""

    def __init__(self, run: RunDir, stage: str) -> None:
        self.run = run
        self.stage = stage
        self._started: float | None = None
        self._step_times: list[float] = []
        self.last_row: dict[str, Any] = {}

    def on_step_begin(self, args, state, control, **kwargs):
        self._started = time.perf_counter()

    def on_step_end(self, args, state, control, **kwargs):
        if self._started is not None:
            self._step_times.append(time.perf_counter() - self._started)
            self._started = None

    def on_log(self, args, state, control, logs=None, **kwargs):
        if not state.is_world_process_zero or not logs:
            return
        row: dict[str, Any] = {"stage": self.stage, "step": state.global_step, "time": time.time()}
        row.update(logs)
        if any(key in logs for key in SUMMARY_KEYS):
            row["event"] = "stage_end"
        else:
            if "completions/mean_length" in logs:
                row["completion_length"] = logs["completions/mean_length"]
                row.setdefault("kl", None)  # TRL logs kl only when beta > 0
            if self._step_times:
                row["step_time"] = sum(self._step_times) / len(self._step_times)
                self._step_times.clear()
            row["peak_memory_mb"] = peak_memory_mb()
            row.setdefault("epoch", state.epoch)
        self.run.append(self.run.metrics, row)
        self.last_row = row


class CompletionRecorder(TrainerCallback):
    """Sees every scored GRPO batch through its reward-function wrappers; logs samples."""

    def __init__(
        self,
        run: RunDir,
        labels: Sequence[str],
        weights: Sequence[float],
        every: int,
        kept: int,
    ) -> None:
        self.run = run
        self.labels = list(labels)
        self.weights = dict(zip(labels, weights, strict=True))
        self.every = max(1, every)
        self.kept = max(1, kept)
        self.batch: dict[str, Any] = {}

    def wrap(self, funcs: Sequence[Callable[..., list[float]]]) -> list[Callable[..., list[float]]]:
        """The reward functions, each also recording its scores for this batch."""
        return [self._wrap_one(f, label) for f, label in zip(funcs, self.labels, strict=True)]

    def _wrap_one(self, func: Callable[..., list[float]], label: str) -> Callable[..., list[float]]:
        def recorded(prompts=None, completions=None, completion_ids=None, **kwargs):
            scores = func(
                prompts=prompts, completions=completions, completion_ids=completion_ids, **kwargs
            )
            batch = self.batch
            if batch.get("id") != id(completions) or label in batch.get("scores", {}):
                state = kwargs.get("trainer_state")
                self.batch = batch = {
                    "id": id(completions),
                    "step": (state.global_step + 1) if state is not None else None,
                    "prompts": list(prompts or []),
                    "completions": list(completions or []),
                    "answers": list(kwargs.get("answer") or [None] * len(completions or [])),
                    "scores": {},
                }
            batch["scores"][label] = list(scores)
            return scores

        recorded.__name__ = func.__name__
        recorded.__qualname__ = func.__qualname__
        return recorded

    def on_step_end(self, args, state, control, **kwargs):
        step = state.global_step
        if not state.is_world_process_zero or not self.batch:
            return
        if step != 1 and step % self.every:
            return
        batch = self.batch
        for i in range(min(self.kept, len(batch["completions"]))):
            scores = {
                label: batch["scores"].get(label, [None] * (i + 1))[i] for label in self.labels
            }
            total = sum(
                self.weights[label] * value for label, value in scores.items() if value is not None
            )
            self.run.append(
                self.run.completions,
                {
                    "stage": "grpo",
                    "step": step,
                    "prompt": prompt_display(batch["prompts"][i]),
                    "completion": completion_text(batch["completions"][i]),
                    "answer": batch["answers"][i],
                    "rewards": scores,
                    "reward": total,
                },
            )


def prompt_display(prompt: Any) -> str:
    """A prompt as one string: plain text as is, chat messages as the last user turn."""
    if isinstance(prompt, str):
        return prompt
    users = [m.get("content", "") for m in prompt if m.get("role") == "user"]
    return str(users[-1]) if users else completion_text(prompt)


class HeldoutCallback(TrainerCallback):
    """Greedy held-out accuracy every ``every`` steps, at the start and at the end of a stage."""

    def __init__(
        self,
        run: RunDir,
        stage: str,
        evaluator: HeldoutEvaluator,
        every: int | None,
        alarm: HackingAlarm | None,
        at_start: bool,
        at_end: bool = True,
        display: RichProgressCallback | None = None,
    ) -> None:
        self.display = display
        self.run = run
        self.stage = stage
        self.evaluator = evaluator
        self.every = every
        self.alarm = alarm
        self.at_start = at_start
        self.at_end = at_end
        self.rewards: list[float] = []
        self.last_step: int | None = None
        self.results: list[dict[str, Any]] = []

    def evaluate(self, state, model) -> None:
        if not state.is_world_process_zero or model is None:
            return
        release_free_memory()  # what the training steps left behind, before generating
        started = time.perf_counter()
        label = f"held-out ({self.stage} step {state.global_step})"
        total = len(self.evaluator.rows)
        if self.display is None:
            metrics, completions = self.evaluator.evaluate(model)
        else:
            with self.display.side_task(label, total) as progress:
                metrics, completions = self.evaluator.evaluate(model, progress)
        row: dict[str, Any] = {"stage": self.stage, "step": state.global_step, "time": time.time()}
        row.update(metrics)
        row["heldout/seconds"] = time.perf_counter() - started
        if self.display is not None:
            say(self.display.console,
                f"{label}: accuracy {metrics['heldout/accuracy']:.1%}, format "
                f"{metrics['heldout/format_rate']:.0%} ({total} problems, "
                f"{row['heldout/seconds']:.0f} s)")
        if self.alarm is not None:
            reward = sum(self.rewards) / len(self.rewards) if self.rewards else None
            if reward is not None:
                row["heldout/train_reward"] = reward
            correct = correct_from_text(metrics["heldout/correct"])
            row.update(self.alarm.add(state.global_step, reward, correct))
            if row.get("alarm/reward_hacking"):
                warnings.warn(alarm_message(self.stage, state.global_step, row),
                              RewardHackingWarning, stacklevel=1)
        self.rewards.clear()
        self.run.append(self.run.metrics, row)
        self.results.append(row)
        self.last_step = state.global_step

    def on_train_begin(self, args, state, control, model=None, **kwargs):
        if self.alarm is not None and self.every:
            steps = min(state.max_steps, self.alarm.last_step or state.max_steps)
            self.alarm.planned = planned_evaluations(steps, self.every)
        if self.at_start:
            self.evaluate(state, model)

    def on_log(self, args, state, control, logs=None, model=None, **kwargs):
        if not logs or any(key in logs for key in SUMMARY_KEYS):
            return
        if logs.get("reward") is not None:
            self.rewards.append(float(logs["reward"]))
            if self.alarm is not None:
                self.alarm.log_reward(float(logs["reward"]))
        step = state.global_step
        if self.every and step % self.every == 0 and step != self.last_step:
            self.evaluate(state, model)

    def on_train_end(self, args, state, control, model=None, **kwargs):
        if self.at_end and state.global_step != self.last_step:
            self.evaluate(state, model)


def planned_evaluations(max_steps: int, every: int) -> int:
    """Held-out evaluations a stage of ``max_steps`` makes: at 0, every ``every``, at the end."""
    return max_steps // every + 1 + (1 if max_steps % every else 0)


def alarm_message(stage: str, step: int, row: dict[str, Any]) -> str:
    """The reward-hacking warning: what fell, against which evaluation, how surprising."""
    return (
        f"reward-hacking alarm at {stage} step {step}: held-out accuracy fell by "
        f"{row['alarm/accuracy_drop']:.1%} since step {row['alarm/reference_step']} "
        f"({row['alarm/lost']} problems lost, {row['alarm/gained']} gained; one-sided "
        f"p = {row['alarm/p_value']:.2g} <= {row['alarm/threshold']:.2g}) while the mean "
        f"training reward rose by {row['alarm/reward_rise']:+.3f}"
    )


class RichProgressCallback(TrainerCallback):
    """A rich progress bar: steps, elapsed, ETA, the current reward (or loss)."""

    def __init__(self, stage: str, console: Any = None) -> None:
        from rich.console import Console

        self.stage = stage
        self.console = console or Console(stderr=True)
        self.progress: Any = None
        self.task: Any = None
        self.status = ""
        self.begun = 0.0
        self.first: tuple[float, int] | None = None

    def on_train_begin(self, args, state, control, **kwargs):
        if not state.is_world_process_zero:
            return
        self.begun = time.perf_counter()
        self.progress = self._bar(transient=False)
        self.task = self.progress.add_task(self.stage, total=state.max_steps or None, status="")
        self.progress.start()

    def _bar(self, transient: bool) -> Any:
        from rich.progress import (
            BarColumn,
            MofNCompleteColumn,
            Progress,
            TextColumn,
            TimeElapsedColumn,
            TimeRemainingColumn,
        )

        return Progress(
            TextColumn("[bold]{task.description}[/bold]"),
            BarColumn(),
            MofNCompleteColumn(),
            TimeElapsedColumn(),
            TextColumn("eta"),
            TimeRemainingColumn(),
            TextColumn("{task.fields[status]}"),
            console=self.console,
            transient=transient,
        )

    @contextmanager
    def side_task(self, label: str, total: int) -> Iterator[Callable[[float], None]]:
        """Progress of other work inside the stage (a held-out evaluation): a task on the
        stage's bar while it runs, else a bar of its own; when the output is not a terminal,
        a plain line at the start and one every 15 s. Yields ``update(done)``."""
        if not self.console.is_terminal:
            started = last = time.perf_counter()
            say(self.console, f"{label}: {total} problems, greedy")

            def plain(done: float) -> None:
                nonlocal last
                now = time.perf_counter()
                if now - last >= 15.0 and done < total:
                    last = now
                    say(self.console, f"{label}: {done:.0f}/{total} problems, "
                        f"{now - started:.0f} s")

            yield plain
            return
        own = self.progress is None
        progress = self._bar(transient=True) if own else self.progress
        if own:
            progress.start()
        task = progress.add_task(label, total=total, status="")
        try:
            yield lambda done: progress.update(task, completed=done)
        finally:
            progress.remove_task(task)
            if own:
                progress.stop()

    def on_step_begin(self, args, state, control, **kwargs):
        if self.first is None:
            self.first = (time.perf_counter(), state.global_step)

    def on_step_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step, status=self.status)

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.progress is None or not logs or any(k in logs for k in SUMMARY_KEYS):
            return
        parts = []
        if logs.get("reward") is not None:
            parts.append(f"reward {logs['reward']:.3f}")
        if logs.get("loss") is not None:
            parts.append(f"loss {logs['loss']:.4f}")
        if logs.get("heldout/accuracy") is not None:
            parts.append(f"held-out {logs['heldout/accuracy']:.0%}")
        self.status = "  ".join(parts)
        self.progress.update(self.task, completed=state.global_step, status=self.status)
        if not self.console.is_terminal:  # logs and CI: one plain line per logged step
            elapsed = time.perf_counter() - self.begun
            since, first_step = self.first
            done = max(state.global_step - first_step, 1)
            remaining = (state.max_steps - state.global_step) * (time.perf_counter() - since) / done
            self.console.print(
                f"{self.stage} step {state.global_step}/{state.max_steps}  {self.status}  "
                f"elapsed {elapsed:.0f}s  eta {remaining:.0f}s",
                highlight=False,
            )

    def on_train_end(self, args, state, control, **kwargs):
        if self.progress is not None:
            self.progress.update(self.task, completed=state.global_step)
            self.progress.stop()
            self.progress = None


#: Logged GRPO steps with a reward of 0 on every completion before ``NoSignalCallback`` warns.
NO_SIGNAL_STEPS = 3


class NoSignalCallback(TrainerCallback):
    """Warns once when the first ``steps`` logged GRPO steps scored 0 on every completion:
    every group's advantages are then 0 and GRPO has nothing to learn from."""

    def __init__(self, console: Any = None, steps: int = NO_SIGNAL_STEPS) -> None:
        self.console = console
        self.steps = max(1, steps)
        self.silent = 0
        self.done = False

    def on_log(self, args, state, control, logs=None, **kwargs):
        if self.done or not state.is_world_process_zero or not logs or "reward" not in logs:
            return
        if logs.get("reward") != 0 or logs.get("reward_std", 0) != 0:
            self.done = True  # a signal: never warn in this run
            return
        self.silent += 1
        if self.silent >= min(self.steps, state.max_steps or self.steps):
            self.done = True
            message = no_signal_message(self.silent)
            if self.console is None:
                log.warning(message)
            else:
                say(self.console, f"warning: {message}")


def no_signal_message(steps: int) -> str:
    """The no-signal warning: what happened, why it matters, what to try."""
    return (
        f"no signal: the reward was 0 on every completion for the first {steps} GRPO steps, "
        "so every advantage is 0 and GRPO learns nothing. Try more generations per prompt "
        "([grpo] generations), an SFT warm-up ([sft]) that teaches the answer format, a "
        "format reward term ([[rewards]] name = \"format\"), a higher temperature ([grpo] "
        "temperature), or an easier dataset."
    )


class InterruptCallback(TrainerCallback):
    """Ctrl-C (SIGINT) or SIGTERM: checkpoint at the end of the current step, then stop.

    A second Ctrl-C stops at once (the default handler is restored after the first).
    """

    def __init__(self) -> None:
        self.requested = False
        self._previous: dict[int, Any] = {}

    def install(self) -> None:
        for sig in (signal.SIGINT, signal.SIGTERM):
            try:
                self._previous[sig] = signal.signal(sig, self._handle)
            except ValueError:  # not the main thread
                pass

    def uninstall(self) -> None:
        for sig, handler in self._previous.items():
            signal.signal(sig, handler)
        self._previous.clear()

    def _handle(self, signum, frame) -> None:
        self.requested = True
        print(
            "\ninterrupt: saving a checkpoint at the end of this step (interrupt again to "
            "stop now)",
            file=sys.stderr,
            flush=True,
        )
        signal.signal(signum, self._previous.get(signum, signal.SIG_DFL))

    def on_step_end(self, args, state, control, **kwargs):
        if self.requested:
            control.should_save = True
            control.should_training_stop = True
        return control
