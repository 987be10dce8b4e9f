"""The recipe as typed, frozen dataclasses: one class per TOML section.

``load_recipe`` builds a ``Recipe`` once, validated; the engine, the planner, ``gmr eval``
and ``gmr report`` all read this object, so every default lives here: gmr's own keys (each
field's ``knob``), gmr's defaults for TRL fields (``GMR_TRL_DEFAULTS``), the friendly
aliases (``ALIASES``), or TRL's config classes (the ``[grpo]``/``[sft]`` pass-through,
resolved into ``trl``). Each field's doc line is what ``gmr recipe keys`` and the README's
recipe section print. Values derived from these are in ``gamermath.recipe.shape``.
"""

from __future__ import annotations

from collections.abc import Iterator, Mapping, Sequence
from dataclasses import dataclass, field, fields, replace
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError
from gamermath.recipe.fields import (
    knob,
    no_empty_strings,
    non_negative,
    positive,
    unit_open,
)
from gamermath.recipe.presets import PRESETS, preset_doc
from gamermath.recipe.toml_text import dump_recipe

DTYPES = ("auto", "float32", "bfloat16", "float16")
ATTENTIONS = ("auto", "flash_attention_2", "sdpa", "eager")
LORA_BIAS = ("none", "all", "lora_only")
TIMEOUT_POLICIES = ("fallback", "skip")
ZERO_VARIANCE = ("keep", "skip", "resample")
CONTROLS = ("none", "random-reward")

#: a reward worker's address-space limit (MiB) and CPU seconds per sample, by default: the
#: recipe's ``[run]`` keys, ``gmr reward score`` and ``RewardRunner`` all start here
REWARD_MEMORY_MB = 2048
REWARD_CPU_S = 30.0

#: Friendly names accepted in ``[grpo]`` and ``[sft]``, rewritten to TRL's field names.
ALIASES = {
    "generations": "num_generations",
    "batch_size": "per_device_train_batch_size",
    "accumulation": "gradient_accumulation_steps",
    "epochs": "num_train_epochs",
    "steps": "max_steps",
    "lr": "learning_rate",
}


def canonical_key(key: str) -> str:
    """TRL's field name for a ``[grpo]``/``[sft]`` key (an alias rewritten, else the key)."""
    return ALIASES.get(key, key)


#: TRL fields the engine sets itself; a recipe may not set them in ``[grpo]``/``[sft]``.
MANAGED = {
    "output_dir": "[run].output_dir",
    "seed": "[run].seed",
    "save_steps": "[run].checkpoint_every",
    "save_strategy": "[run].checkpoint_every",
    "resume_from_checkpoint": "gmr train --resume",
    "reward_weights": "[[rewards]] weight",
}

#: gmr's defaults for TRL fields, where they differ from TRL's (the one place they live).
GMR_TRL_DEFAULTS: dict[str, dict[str, Any]] = {
    "sft": {
        "learning_rate": 2e-4,
        "num_train_epochs": 1.0,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "logging_steps": 1.0,
        "report_to": "none",
    },
    "grpo": {
        "learning_rate": 1e-5,
        "per_device_train_batch_size": 8,
        "gradient_accumulation_steps": 1,
        "num_generations": 8,
        "max_completion_length": 256,
        "num_train_epochs": 1.0,
        "logging_steps": 1.0,
        "report_to": "none",
    },
}


@dataclass(frozen=True)
class ModelSpec:
    """``[model]``: the base model and how it is loaded."""

    source: str = knob(
        "", "the base model: a hub id, a local directory, a .gguf file or pkg:NAME",
        required=True,
    )
    dtype: str = knob(
        "auto", "weights dtype; auto is bfloat16 on CUDA (float16 without bf16), float32 on CPU",
        choices=DTYPES,
    )
    attention: str = knob(
        "auto", "attention kernel; auto is flash_attention_2 when flash-attn imports on CUDA, "
        "else sdpa", choices=ATTENTIONS,
    )
    cache_dir: str | None = knob(
        None, "where converted models are kept (default $GMR_CACHE_DIR, ~/.cache/gamermath)"
    )
    load_in_4bit: bool = knob(
        False, "load the base model in 4-bit NF4 with bitsandbytes and train LoRA on top "
        "(QLoRA); CUDA only, pip install 'gamermath[qlora]'",
    )


@dataclass(frozen=True)
class LoraSpec:
    """``[lora]``: the PEFT LoRA adapter trained through every stage."""

    r: int = knob(16, "LoRA rank", check=positive)
    alpha: float = knob(32.0, "LoRA alpha (scale = alpha / r)", check=positive)
    dropout: float = knob(0.0, "dropout on the LoRA input, in [0, 1)", check=unit_open)
    target_modules: list[str] | str = knob(
        ["q_proj", "k_proj", "v_proj", "o_proj"],
        "module names to adapt (checked against the loaded model), or \"all-linear\"",
    )
    bias: str = knob("none", "which biases train", choices=LORA_BIAS)
    enabled: bool = knob(True, "train a LoRA adapter; false trains every weight (full fine-tuning)")


@dataclass(frozen=True)
class DataSpec:
    """``[data]``: the prompts GRPO trains on, and (on another split) the held-out problems.

    Also the argument of ``gamermath.data.render_prompts`` and ``sft_pairs``: a dataset,
    a split, a template and their options.
    """

    dataset: str = knob("gsm8k", "dataset plugin name (gmr datasets list)")
    split: str = knob("train", "split to train on")
    template: str = knob("chat-think", "prompt template plugin name")
    shots: int | None = knob(
        None, "few-shot examples per prompt (default: the template's own)", check=non_negative
    )
    data_dir: str | None = knob(
        None, "folder with local dataset files (else $GMR_DATA_DIR, else the hub)"
    )
    limit: int | None = knob(None, "use only the first N rows of the split", check=positive)
    options: Mapping[str, Any] = knob({}, "dataset plugin options, e.g. { digits = 3 }")
    template_options: Mapping[str, Any] = knob({}, "prompt template options")
    stop: list[str] | None = knob(
        None, "sequences that end a completion in GRPO generation, held-out evaluation and "
        "reward scoring (default: the template's own; [] for none)", check=no_empty_strings,
    )


@dataclass(frozen=True)
class RewardSpec:
    """One ``[[rewards]]`` table: a weighted, optionally gated reward term.

    The one type of a reward term, from a recipe or built directly (``gamermath.rewards.
    terms`` documents gates and timeouts); ``label`` defaults to ``name`` and must be unique
    in a mix.
    """

    name: str = knob("", "reward plugin name (gmr rewards list)", required=True)
    weight: float = knob(1.0, "weight of this term in the total (TRL reward_weights)")
    options: Mapping[str, Any] = knob({}, "reward plugin options (gmr rewards list shows them)")
    gate: str | None = knob(
        None, "label of another term; this term pays only where that one passes"
    )
    gate_threshold: float | None = knob(
        None, "raw score at which the gate passes (default: the gate reward's maximum)"
    )
    label: str = knob("", "name in logs and --set rewards.LABEL.KEY (default: name)")
    timeout_policy: str = knob(
        "fallback", "a timed-out sample scores the fallback, or is skipped (None to TRL)",
        choices=TIMEOUT_POLICIES,
    )

    def __post_init__(self) -> None:
        if not self.label:
            object.__setattr__(self, "label", self.name)
        if self.timeout_policy not in TIMEOUT_POLICIES:
            raise GmrError(
                f"reward term '{self.label}': timeout_policy must be one of "
                f"{', '.join(TIMEOUT_POLICIES)}, not {self.timeout_policy!r}"
            )


def reward_mix_problems(rewards: Sequence[RewardSpec]) -> Iterator[tuple[int, str, str]]:
    """``(index, key, problem)`` for each label or gate rule a reward mix breaks: a label used
    twice, a gate that names no label or the term itself, a gate on a gated term."""
    labels = [r.label for r in rewards]
    by_label = {r.label: r for r in rewards}
    for index, reward in enumerate(rewards):
        if labels.count(reward.label) > 1:
            yield index, "label", f"'{reward.label}' is used by two terms; set label = ..."
        if reward.gate is None:
            continue
        if reward.gate not in by_label:
            yield index, "gate", (f"'{reward.gate}' is not a reward label (labels: "
                                  f"{', '.join(labels)})")
        elif reward.gate == reward.label:
            yield index, "gate", "names the term itself"
        elif by_label[reward.gate].gate is not None:
            yield index, "gate", (f"'{reward.gate}' is gated itself; gates may not be "
                                  "chained")


@dataclass(frozen=True)
class SftSpec:
    """``[sft]``: the optional warm-up (TRL SFTTrainer), plus any SFTConfig field."""

    enabled: bool = knob(True, "run the warm-up (a recipe without [sft] has none)")
    dataset: str | None = knob(None, "dataset (default: [data].dataset)")
    split: str = knob("train", "split of worked solutions to train on")
    template: str | None = knob(None, "prompt template (default: [data].template)")
    shots: int | None = knob(None, "few-shot examples per prompt", check=non_negative)
    limit: int | None = knob(None, "use only the first N rows", check=positive)
    options: Mapping[str, Any] = knob({}, "dataset options (default: [data].options)")
    template_options: Mapping[str, Any] = knob(
        {}, "prompt template options (default: [data].template_options when the template is "
        "the same)",
    )
    #: every ``SFTConfig`` field, resolved: the recipe's, gmr's default or TRL's default
    trl: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class GrpoSpec:
    """``[grpo]``: TRL GRPOTrainer: any GRPOConfig field plus gmr's own keys."""

    max_prompt_length: int | None = knob(
        None, "keep only the last N tokens of longer prompts (TRL's former left truncation)",
        check=positive,
    )
    preset: str | None = knob(None, preset_doc(), choices=tuple(PRESETS))
    stop_at_step: int | None = knob(
        None, "end GRPO after this optimizer step while epochs, max_steps and the learning-rate "
        "schedule stay as configured (a run stopped early, as the Qwen3.5 card's was)",
        check=positive,
    )
    zero_variance: str = knob(
        "keep", "prompts whose completions all score the same (no GRPO signal): keep them "
        "(TRL), skip them (left out of the step's loss), or resample (skip, then generate "
        "groups for fresh prompts in their place, DAPO's dynamic sampling)",
        choices=ZERO_VARIANCE,
    )
    resample_rounds: int = knob(
        2, "with zero_variance = resample: extra generation rounds per step at most",
        check=positive,
    )
    #: every ``GRPOConfig`` field, resolved: the recipe's, gmr's default or TRL's default
    trl: Mapping[str, Any] = field(default_factory=dict)


@dataclass(frozen=True)
class EvalSpec:
    """``[eval]``: held-out accuracy during training and the reward-hacking alarm."""

    heldout: int = knob(48, "held-out problems scored greedily (0: none)", check=non_negative)
    every: int = knob(10, "evaluate every N GRPO steps (and at start and end)", check=positive)
    split: str = knob("test", "split the held-out problems come from")
    max_new_tokens: int | None = knob(
        None, "generation cap (default: [grpo] max_completion_length)", check=positive
    )
    batch_size: int = knob(16, "prompts generated at once", check=positive)
    metric: str = knob(
        "exact-answer", "reward that scores held-out accuracy: a completion is correct where "
        "it earns the reward's maximum (sympy-equivalence for MATH)",
    )
    metric_options: Mapping[str, Any] = knob({}, "options of the metric reward")
    alarm_alpha: float = knob(
        0.05, "reward-hacking alarm: false-alarm rate per run (one-sided paired test on "
        "held-out accuracy, Bonferroni over the run's evaluations)", check=unit_open,
    )
    alarm_min_reward_rise: float = knob(
        0.05, "reward-hacking alarm: least rise in mean training reward that counts",
        check=non_negative,
    )
    alarm_window: int = knob(
        0, "reward-hacking alarm: earlier evaluations each one is compared with (0: all)",
        check=non_negative,
    )


@dataclass(frozen=True)
class RunSpec:
    """``[run]``: where the run goes, seeds, checkpoints and logging."""

    name: str = knob("", "run name (default: the recipe file's stem)")
    output_dir: str = knob("", "run directory (default: runs/NAME)")
    seed: int = knob(0, "seed for data order, sampling and few-shot draws")
    max_steps: int | None = knob(
        None, "stop each stage after N optimizer steps (gmr train --max-steps)", check=positive
    )
    checkpoint_every: int = knob(50, "save a checkpoint every N steps", check=positive)
    completions_every: int = knob(5, "record sampled completions every N steps", check=positive)
    completions_kept: int = knob(8, "completions recorded each time", check=positive)
    reward_workers: int | None = knob(
        None, "reward worker processes (default: from the CPU count)", check=positive
    )
    reward_memory_mb: int | None = knob(
        REWARD_MEMORY_MB, "address-space limit of each reward worker in MiB (unset: none); a "
        "sample that exceeds it scores the fallback and counts as reward_oom", check=positive,
    )
    reward_cpu_s: float | None = knob(
        REWARD_CPU_S, "CPU seconds a reward worker may spend on one sample (unset: none)",
        check=positive,
    )
    reward_stop_after: int = knob(
        3, "stop training when a reward failed on every sample for N steps in a row "
        "(a timeout under timeout_policy = \"skip\" counts as a failure)",
        check=positive,
    )
    threads: int | None = knob(
        None, "CPU threads torch trains with (default: torch's own, one per core)",
        check=positive,
    )
    generation_threads: int | None = knob(
        None, "CPU threads while generating GRPO completions and held-out answers (default: "
        "threads); 1 is fastest for small models on a busy CPU", check=positive,
    )
    control: str = knob(
        "none", "random-reward: a control run, GRPO paid random rewards (each term its "
        "minimum or maximum, even odds) under the same recipe, to read a real run's gain "
        "against", choices=CONTROLS,
    )


#: TOML section name -> its dataclass (``rewards`` is a list of ``RewardSpec``).
SECTIONS: dict[str, type] = {
    "model": ModelSpec,
    "lora": LoraSpec,
    "data": DataSpec,
    "rewards": RewardSpec,
    "sft": SftSpec,
    "grpo": GrpoSpec,
    "eval": EvalSpec,
    "run": RunSpec,
}

#: Sections that take TRL config fields besides their own keys.
TRL_SECTIONS = ("sft", "grpo")


def own_fields(cls: type) -> list:
    """A section's gmr keys (the ``trl`` pass-through excluded)."""
    return [f for f in fields(cls) if f.name != "trl"]


@dataclass(frozen=True)
class Recipe:
    """A validated recipe; ``origins`` says where each value came from (``flat`` keys)."""

    path: Path
    model: ModelSpec
    lora: LoraSpec
    data: DataSpec
    rewards: tuple[RewardSpec, ...]
    sft: SftSpec
    grpo: GrpoSpec
    eval: EvalSpec
    run: RunSpec
    origins: Mapping[str, str] = field(default_factory=dict, compare=False)

    @property
    def name(self) -> str:
        return self.run.name

    @property
    def sft_enabled(self) -> bool:
        return self.sft.enabled

    def sft_data(self) -> DataSpec:
        """What the SFT warm-up renders: ``[sft]`` where set, else ``[data]``.

        With the same template as GRPO the warm-up sees the same prompts (template options
        included); another template gets its own defaults.
        """
        template = self.sft.template or self.data.template
        return replace(
            self.data,
            dataset=self.sft.dataset or self.data.dataset,
            split=self.sft.split,
            template=template,
            shots=self.sft.shots,
            limit=self.sft.limit,
            options=dict(self.sft.options) or dict(self.data.options),
            template_options=dict(self.sft.template_options) or (
                dict(self.data.template_options) if template == self.data.template else {}),
        )

    def heldout_data(self) -> DataSpec:
        """The held-out problems: ``[data]`` on ``[eval].split``, first ``heldout`` rows."""
        return replace(self.data, split=self.eval.split, limit=self.eval.heldout)

    def completion_tokens(self) -> int:
        """GRPO's completion cap (TRL ``max_completion_length``)."""
        return int(self.grpo.trl["max_completion_length"])

    def tables(self) -> Iterator[tuple[str, dict[str, Any]]]:
        """``(section, {key: value})`` in file order; ``rewards`` once per term."""
        for name in SECTIONS:
            if name == "rewards":
                for reward in self.rewards:
                    yield name, {f.name: getattr(reward, f.name) for f in fields(reward)}
                continue
            spec = getattr(self, name)
            if name == "sft" and not spec.enabled:
                yield name, {"enabled": False}
                continue
            table = {f.name: getattr(spec, f.name) for f in own_fields(type(spec))}
            table.update(getattr(spec, "trl", {}))
            yield name, table

    def flat(self) -> dict[str, Any]:
        """Every value by dotted key (``grpo.beta``, ``rewards.format.weight``...)."""
        out: dict[str, Any] = {}
        for section, table in self.tables():
            prefix = section
            if section == "rewards":
                prefix = f"rewards.{table['label']}"
            for key, value in table.items():
                out[f"{prefix}.{key}"] = value
        return out

    def differences(self, other: Recipe, ignore: tuple[str, ...] = ()) -> list[str]:
        """Dotted keys whose values differ between two recipes (``a -> b`` spelled out)."""
        mine, theirs = self.flat(), other.flat()
        changed = []
        for key in sorted(set(mine) | set(theirs)):
            if key in ignore:
                continue
            a, b = mine.get(key), theirs.get(key)
            if a != b:
                changed.append(f"{key}: {_short(a)} -> {_short(b)}")
        return changed

    def to_toml(self, annotate: bool = False) -> str:
        """The resolved recipe as TOML; ``annotate`` adds where each default came from."""
        return dump_recipe(self, annotate=annotate)


def _short(value: Any) -> str:
    text = "unset" if value is None else repr(value)
    return text if len(text) <= 40 else text[:37] + "..."
