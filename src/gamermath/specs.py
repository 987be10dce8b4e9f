"""What a plugin registers: one frozen dataclass per kind of thing.

Plugins build these and hand them to the ``register`` callback of a hook (see
``gamermath.hookspecs``). The ``plugin`` and ``plugin_version`` fields are filled in by
``gamermath.plugins`` from the entry point's distribution; a plugin leaves them empty.
"""

from __future__ import annotations

from collections.abc import Callable, Hashable, Mapping
from dataclasses import dataclass, field
from pathlib import Path
from typing import Any

#: ``score(completion, columns, options) -> float``: one completion's text, the dataset
#: columns the reward declared (e.g. ``{"answer": "42"}``) and the resolved options.
ScoreFn = Callable[[str, Mapping[str, Any], Mapping[str, Any]], float]

#: ``cache_key(completion, columns, options) -> Hashable``: a cheap normalisation such that
#: equal keys are guaranteed equal scores (e.g. the extracted final answer and the gold).
CacheKeyFn = Callable[[str, Mapping[str, Any], Mapping[str, Any]], Hashable]

#: ``check_options(options) -> None``: raise ``OptionError`` for a bad option value (an
#: unknown preset, a regex that does not compile) so a recipe fails at ``gmr recipe check``.
CheckOptionsFn = Callable[[Mapping[str, Any]], None]


class OptionError(ValueError):
    """A reward option with a bad value; ``option`` names it for the error line."""

    def __init__(self, option: str, message: str) -> None:
        super().__init__(message)
        self.option = option


@dataclass(frozen=True)
class Reward:
    """A per-sample reward function and what a user needs to choose and debug it.

    ``score`` must be a module-level function (it is pickled to isolated worker processes).
    It receives plain text: conversational completions are flattened before it is called.
    """

    name: str
    score: ScoreFn
    description: str
    columns: tuple[str, ...] = ("answer",)
    output_range: tuple[float, float] = (0.0, 1.0)
    options: Mapping[str, Any] = field(default_factory=dict)
    timeout: float = 5.0
    cache_key: CacheKeyFn | None = None
    check_options: CheckOptionsFn | None = None
    plugin: str = ""
    plugin_version: str = ""


#: ``load(split, data_dir, options) -> list[dict]``: raw rows, each with at least
#: ``question`` and ``answer`` (the gold, in the dataset's own format).
LoadFn = Callable[[str, "Path | None", Mapping[str, Any]], list[dict[str, Any]]]


@dataclass(frozen=True)
class Dataset:
    """A source of problems with gold answers, split by name (``train``, ``test``...)."""

    name: str
    load: LoadFn
    description: str
    splits: tuple[str, ...] = ("train", "test")
    columns: tuple[str, ...] = ("question", "answer")
    hub_id: str = ""
    options: Mapping[str, Any] = field(default_factory=dict)
    plugin: str = ""
    plugin_version: str = ""


#: ``render(row, shots, options) -> str | list[dict]``: the prompt for one row, as plain
#: text or chat messages; ``shots`` are train rows a few-shot template may use.
RenderFn = Callable[[Mapping[str, Any], "list[Mapping[str, Any]]", Mapping[str, Any]], Any]


#: The answer line most templates ask for: ``#### 42`` (GSM8K's own format).
HASH_ANSWER_LINE = r"####[ \t]*(?:\$[ \t]*)?-?\d"


@dataclass(frozen=True)
class PromptTemplate:
    """A named way of turning a dataset row into a prompt.

    ``stop``: sequences that end a completion (a base model that answered a few-shot prompt
    goes on inventing ``Question: ...`` blocks); GRPO generation, held-out evaluation and
    reward scoring all cut the completion at the first one. ``answer_line``: a regular
    expression for the answer line this template asks for, which the held-out format rate
    counts. ``exemplars``: a fixed pool of worked examples (rows with ``question``,
    ``reasoning``, ``answer``) to draw few-shot examples from instead of the dataset's train
    split; ``shot_draw`` is ``"per-row"`` (a fresh draw for every prompt) or ``"per-run"``
    (one draw shared by every prompt of a run).
    """

    name: str
    render: RenderFn
    description: str
    shots: int = 0
    options: Mapping[str, Any] = field(default_factory=dict)
    stop: tuple[str, ...] = ()
    answer_line: str = HASH_ANSWER_LINE
    exemplars: tuple[Mapping[str, Any], ...] = ()
    shot_draw: str = "per-row"
    plugin: str = ""
    plugin_version: str = ""


@dataclass(frozen=True)
class EvalTaskSet:
    """A directory of lm-evaluation-harness task YAMLs, with one protocol line per task."""

    name: str
    path: Path
    description: str
    tasks: Mapping[str, str] = field(default_factory=dict)
    plugin: str = ""
    plugin_version: str = ""


@dataclass(frozen=True)
class ModelSource:
    """A way to name a model: a hub id, a directory, a ``.gguf`` file, ``pkg:NAME``...

    ``matches(spec)`` says whether this source handles the string; ``resolve(spec,
    cache_dir)`` returns something ``from_pretrained`` accepts (a local directory or a hub
    id), converting or fetching into ``cache_dir`` when needed. Higher ``priority`` wins.
    """

    name: str
    matches: Callable[[str], bool]
    resolve: Callable[[str, Path], str]
    description: str
    priority: int = 0
    plugin: str = ""
    plugin_version: str = ""


KINDS: dict[str, type] = {
    "reward": Reward,
    "dataset": Dataset,
    "template": PromptTemplate,
    "eval task set": EvalTaskSet,
    "model source": ModelSource,
}
