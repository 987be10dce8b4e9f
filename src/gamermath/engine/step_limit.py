"""``[grpo] stop_at_step``: end a stage at a step without changing its schedule.

TRL's ``max_steps`` also sets the length of the learning-rate schedule; a run that was
stopped by hand part-way through a longer schedule (the Qwen3.5-0.8B-GRPO-Math card's:
step 15,900 of three epochs) needs the schedule of the long run and the stop of the short
one. ``StopAtStepCallback`` asks the trainer to save and stop once ``global_step`` reaches
the step.
"""

from __future__ import annotations

from transformers import TrainerCallback


class StopAtStepCallback(TrainerCallback):
    """Save a checkpoint and stop training when ``state.global_step`` reaches ``step``."""

    def __init__(self, step: int) -> None:
        self.step = int(step)

    def on_step_end(self, args, state, control, **kwargs):
        if state.global_step >= self.step:
            control.should_save = True
            control.should_training_stop = True
        return control
