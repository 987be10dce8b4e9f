"""The plugin contract: the hooks a ``gmr`` plugin may implement.

A plugin is a module named by an entry point in the ``gmr`` group::

    [project.entry-points.gmr]
    my_reward = "gmr_reward_foo"

Each hook receives a ``register`` callback and calls it once per thing it provides, with
an instance of the matching dataclass from ``gamermath.specs``. Hooks are called lazily,
the first time a command needs that kind of thing, so a plugin module should import
heavy libraries (torch, sympy...) inside its functions, not at module level.
"""

from __future__ import annotations

from collections.abc import Callable

import pluggy

from gamermath.specs import Dataset, EvalTaskSet, ModelSource, PromptTemplate, Reward

hookspec = pluggy.HookspecMarker("gmr")
hookimpl = pluggy.HookimplMarker("gmr")


@hookspec
def register_rewards(register: Callable[[Reward], None]) -> None:
    """Register reward functions.

    Call ``register(Reward(name=..., score=fn, description=..., columns=("answer",),
    output_range=(0.0, 1.0), options={...}))`` once per reward. ``fn(completion, columns,
    options) -> float`` scores one completion; it runs in a worker process under a
    timeout, so it must be a module-level function. Its result must lie in
    ``output_range``; ``gmr reward check NAME`` verifies this and the rest of the contract.
    Optionally ``check_options=fn``: ``fn(options)`` raises ``gamermath.specs.OptionError``
    for a bad option value, so a recipe using it fails at ``gmr recipe check``.
    """


@hookspec
def register_datasets(register: Callable[[Dataset], None]) -> None:
    """Register datasets.

    Call ``register(Dataset(name=..., load=fn, description=..., splits=(...)))``.
    ``fn(split, data_dir, options) -> list[dict]`` returns rows with at least ``question``
    and ``answer``; it reads local files under ``data_dir`` when given, else the hub.
    """


@hookspec
def register_templates(register: Callable[[PromptTemplate], None]) -> None:
    """Register prompt templates.

    Call ``register(PromptTemplate(name=..., render=fn, description=..., shots=k))``.
    ``fn(row, shots, options)`` returns a plain-text prompt or a list of chat messages.
    Optionally ``stop=("\nQuestion:",)`` (where a completion ends), ``answer_line=REGEX``
    (the answer line the held-out format rate counts) and ``exemplars=(...)`` with
    ``shot_draw`` (a fixed few-shot pool instead of the dataset's train split).
    """


@hookspec
def register_eval_tasks(register: Callable[[EvalTaskSet], None]) -> None:
    """Register lm-evaluation-harness task sets.

    Call ``register(EvalTaskSet(name=..., path=dir, description=..., tasks={task:
    protocol}))`` where ``dir`` holds lm-eval task YAMLs and ``tasks`` gives each task's
    one-line protocol (shots, prompt, extraction, metric).
    """


@hookspec
def register_model_sources(register: Callable[[ModelSource], None]) -> None:
    """Register ways of naming a model.

    Call ``register(ModelSource(name=..., matches=fn, resolve=fn, description=...))``.
    The source with the highest ``priority`` whose ``matches(spec)`` is true resolves it.
    """
