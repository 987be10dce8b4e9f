"""Contamination check: 13-gram overlap between a recipe's training text and eval documents.

The method is lm-eval's decontamination (``lm_eval/decontamination``), itself the GPT-3
paper's (Brown et al. 2020, appendix C): text is normalised by lm-eval's ``Janitor``
(ASCII letters lower-cased, ``string.punctuation`` deleted, split on whitespace) and cut
into word 13-grams by its ``word_ngrams``; an eval document is contaminated when one of
its 13-grams occurs in the training text. lm-eval's own driver (``get_train_overlap``)
is not used: it scans pre-built Pile n-gram archives (``*.sorted.zst``) and caches
pickles under ``./data``, while here both sides are in memory. The lookup is the same:
eval n-grams indexed by document, then one pass over the training rows.

Training text is what the run trains on, rendered through the recipe's datasets and
templates: each GRPO row's prompt (few-shot examples and instructions included) with its
gold answer, each SFT row's prompt with its target completion. Eval documents are either
the recipe's held-out split (the dataset plugin's rows: question, worked solution, answer)
or lm-eval task documents (``--harness``): the task's decontamination query where it
defines one, else ``doc_to_text`` plus a text target.
"""

from __future__ import annotations

import contextlib
import io
import json
from collections.abc import Callable, Iterable, Sequence
from dataclasses import dataclass, field, replace
from pathlib import Path
from typing import Any

#: Word n-gram length: lm-eval's ``Janitor`` default and the GPT-3 paper's.
NGRAM = 13
#: Shared n-grams kept per pair in the JSONL (the count is always complete).
KEPT_NGRAMS = 5


@dataclass(frozen=True)
class Text:
    """One piece of text on either side: an id (``set:index``), its set, and the text."""

    id: str
    set: str
    text: str


@dataclass
class OverlapReport:
    """What the check found: sizes, contaminated counts per eval set, and the pairs."""

    ngram: int
    train_rows: dict[str, int]
    eval_docs: dict[str, int]
    contaminated_docs: dict[str, int]
    contaminated_train_rows: int
    pairs: list[dict[str, Any]] = field(default_factory=list)

    def summary(self) -> dict[str, Any]:
        """The JSON-safe summary (everything but the pairs)."""
        return {
            "method": f"lm-eval Janitor normalisation, word {self.ngram}-grams",
            "ngram": self.ngram,
            "train_rows": self.train_rows,
            "eval_docs": self.eval_docs,
            "contaminated_docs": self.contaminated_docs,
            "contaminated_train_rows": self.contaminated_train_rows,
            "pairs": len(self.pairs),
        }

    def lines(self) -> list[str]:
        """One line per eval set: ``gsm8k/test: 1 of 1319 documents share a 13-gram ...``."""
        train = sum(self.train_rows.values())
        out = []
        for name, total in self.eval_docs.items():
            hit = self.contaminated_docs.get(name, 0)
            share = f" ({hit / total:.2%})" if total else ""
            out.append(f"{name}: {hit} of {total} documents{share} share a {self.ngram}-gram "
                       f"with the {train} training rows")
        return out

    @property
    def contaminated(self) -> bool:
        return any(self.contaminated_docs.values())

    def write(self, pairs_path: Path, summary_path: Path | None = None) -> None:
        """The pairs as JSONL (train row id, eval doc id, shared n-grams) and the summary."""
        pairs_path.parent.mkdir(parents=True, exist_ok=True)
        with open(pairs_path, "w", encoding="utf-8") as handle:
            for pair in self.pairs:
                handle.write(json.dumps(pair, ensure_ascii=False) + "\n")
        if summary_path is not None:
            summary_path.write_text(json.dumps(self.summary(), indent=2) + "\n", "utf-8")


def _janitor_tools() -> tuple[Callable[[str], str], Callable[[str, int], Iterable[str]]]:
    """lm-eval's normaliser and n-gram splitter (its import prints a C++-module notice)."""
    with contextlib.redirect_stdout(io.StringIO()), contextlib.redirect_stderr(io.StringIO()):
        from lm_eval.decontamination.janitor import Janitor, word_ngrams
    return Janitor(ngram_n=NGRAM).normalize_string, word_ngrams


def ngrams_of(text: str, n: int = NGRAM) -> set[str]:
    """The set of normalised word ``n``-grams of ``text`` (empty when shorter than ``n``)."""
    normalize, word_ngrams = _janitor_tools()
    return set(word_ngrams(normalize(text), n))


def find_overlap(
    train: Sequence[Text], evals: Sequence[Text], n: int = NGRAM,
    progress: Callable[[Iterable[Text], int], Iterable[Text]] | None = None,
) -> OverlapReport:
    """Every (training row, eval document) pair that shares a word ``n``-gram."""
    normalize, word_ngrams = _janitor_tools()
    lookup: dict[str, list[int]] = {}
    for index, doc in enumerate(evals):
        for gram in set(word_ngrams(normalize(doc.text), n)):
            lookup.setdefault(gram, []).append(index)
    rows = progress(train, len(train)) if progress is not None else train
    pairs: list[dict[str, Any]] = []
    hit_docs: set[int] = set()
    hit_rows = 0
    for row in rows:
        shared: dict[int, list[str]] = {}
        for gram in set(word_ngrams(normalize(row.text), n)):
            for index in lookup.get(gram, ()):
                shared.setdefault(index, []).append(gram)
        if shared:
            hit_rows += 1
        for index in sorted(shared):
            grams = sorted(shared[index])
            hit_docs.add(index)
            pairs.append({"train_id": row.id, "eval_id": evals[index].id,
                          "shared_ngrams": len(grams), "ngrams": grams[:KEPT_NGRAMS]})
    contaminated: dict[str, int] = {}
    for index in hit_docs:
        contaminated[evals[index].set] = contaminated.get(evals[index].set, 0) + 1
    return OverlapReport(n, _counts(train), _counts(evals),
                         {name: contaminated.get(name, 0) for name in _counts(evals)},
                         hit_rows, pairs)


def _counts(texts: Sequence[Text]) -> dict[str, int]:
    counts: dict[str, int] = {}
    for text in texts:
        counts[text.set] = counts.get(text.set, 0) + 1
    return counts


def _flat(value: Any) -> str:
    """Prompt or completion text: chat messages are joined by their contents."""
    if isinstance(value, list):
        return "\n".join(str(m.get("content", "")) if isinstance(m, dict) else str(m)
                         for m in value)
    return "" if value is None else str(value)


def _with_data_dir(spec: Any, data_dir: Path | None) -> Any:
    """``spec`` reading local files from ``data_dir`` when it names no folder of its own."""
    if data_dir is None or spec.data_dir:
        return spec
    return replace(spec, data_dir=str(data_dir))


def training_texts(recipe: Any, data_dir: Path | None = None) -> list[Text]:
    """The recipe's training rows as text: GRPO prompt + answer, SFT prompt + completion."""
    from gamermath.data.prompts import render_prompts
    from gamermath.data.sft import sft_pairs

    spec = _with_data_dir(recipe.data, data_dir)
    name = f"grpo:{spec.dataset}/{spec.split}"
    texts = [Text(f"{name}:{i}", name, f"{_flat(r['prompt'])}\n{r['answer']}")
             for i, r in enumerate(render_prompts(spec, recipe.run.seed))]
    if recipe.sft_enabled:
        sft = _with_data_dir(recipe.sft_data(), data_dir)
        name = f"sft:{sft.dataset}/{sft.split}"
        texts += [Text(f"{name}:{i}", name, f"{_flat(r['prompt'])}\n{_flat(r['completion'])}")
                  for i, r in enumerate(sft_pairs(sft, recipe.run.seed))]
    return texts


def heldout_texts(recipe: Any, data_dir: Path | None = None) -> list[Text]:
    """Every row of the recipe's held-out split (the whole split, not only ``heldout``)."""
    from gamermath import plugins
    from gamermath.data.rows import load_rows

    spec = _with_data_dir(recipe.data, data_dir)
    if recipe.eval.split not in plugins.get("dataset", spec.dataset).splits:
        return []  # no held-out split ([eval] heldout = 0 on a train-only dataset)
    name = f"{spec.dataset}/{recipe.eval.split}"
    rows = load_rows(spec.dataset, recipe.eval.split, spec.data_dir, spec.options)
    return [Text(f"{name}:{i}", name, " ".join(
        str(r[key]) for key in ("question", "reasoning", "answer") if r.get(key) is not None))
        for i, r in enumerate(rows)]


def _leaf_tasks(task_dict: dict[Any, Any]) -> list[tuple[str, Any]]:
    out = []
    for key, value in task_dict.items():
        if isinstance(value, dict):
            out += _leaf_tasks(value)
        elif value is not None:
            out.append((key if isinstance(key, str) else str(getattr(key, "group", key)), value))
    return out


def _doc_text(task: Any, doc: dict[str, Any]) -> str:
    if task.should_decontaminate():
        return str(task.doc_to_decontamination_query(doc))
    text = str(task.doc_to_text(doc))
    target = task.doc_to_target(doc)
    if isinstance(target, str):
        text += " " + target
    return text


def harness_texts(tasks: Sequence[str], data_dir: Path | None) -> list[Text]:
    """The evaluated documents of lm-eval tasks (or groups), through gmr's TaskManager."""
    import datasets
    from lm_eval.tasks import get_task_dict

    from gamermath.evaluation.harness import build_task_manager, quiet_lm_eval

    datasets.disable_progress_bars()
    with quiet_lm_eval():
        manager = build_task_manager(tasks, data_dir)
        task_dict = get_task_dict(list(tasks), manager)
    texts = []
    for name, task in _leaf_tasks(task_dict):
        texts += [Text(f"{name}:{i}", name, _doc_text(task, doc))
                  for i, doc in enumerate(task.eval_docs)]
    return texts


def rich_progress(console: Any, label: str) -> Callable[[Iterable[Text], int], Iterable[Text]]:
    """A progress bar on ``console`` over the training rows."""
    from rich.progress import track

    def wrap(rows: Iterable[Text], total: int) -> Iterable[Text]:
        return track(rows, description=label, total=total, console=console, transient=True)

    return wrap


def check_recipe(recipe: Any, tasks: Sequence[str] = (), data_dir: Path | None = None,
                 console: Any = None) -> OverlapReport:
    """The recipe's training text against its held-out split, or against lm-eval ``tasks``."""
    evals = harness_texts(tasks, data_dir) if tasks else heldout_texts(recipe, data_dir)
    train = training_texts(recipe, data_dir)
    progress = rich_progress(console, f"{NGRAM}-gram overlap") if console is not None else None
    return find_overlap(train, evals, progress=progress)


#: Files a run directory keeps: the pairs and the summary ``gmr card`` reads.
PAIRS_FILE = "overlap.jsonl"
SUMMARY_FILE = "contamination.json"


def warn(report: OverlapReport, console: Any, where: str) -> None:
    """A warning line per contaminated eval set, or one ``clean`` line."""
    if not report.eval_docs:
        console.print("contamination check: no eval documents to check against (the "
                      "dataset has no held-out split)", soft_wrap=True)
    elif report.contaminated:
        for line in report.lines():
            console.print(f"warning: contamination: {line}", soft_wrap=True)
        console.print(f"warning: overlapping pairs: {where}", soft_wrap=True)
    else:
        console.print(f"contamination check: no {report.ngram}-gram overlap "
                      f"({'; '.join(report.lines())})", soft_wrap=True)


def check_before_training(recipe: Any, console: Any = None) -> OverlapReport:
    """``gmr train``'s check: training text against the held-out split, with a warning
    (on ``console``, else stderr)."""
    if console is None:
        from rich.console import Console

        console = Console(stderr=True)
    report = check_recipe(recipe, console=console)
    warn(report, console, f"RUN_DIR/{PAIRS_FILE}")
    return report


def save_to(report: OverlapReport, folder: Path) -> None:
    """``overlap.jsonl`` and ``contamination.json`` in ``folder`` (a run or eval directory)."""
    report.write(Path(folder) / PAIRS_FILE, Path(folder) / SUMMARY_FILE)


def check_run(run_dir: Path, tasks: Sequence[str], data_dir: Path | None, console: Any,
              output: Path | None) -> OverlapReport | None:
    """``gmr eval --compare``'s check: the run's recipe against the evaluated tasks."""
    from gamermath.errors import GmrError
    from gamermath.run_dir import RunDir

    try:
        report = check_recipe(RunDir(run_dir).read_recipe(), tasks, data_dir, console)
    except GmrError as exc:  # the scores stand; say why the check could not run
        console.print(f"warning: contamination check skipped: {exc}", soft_wrap=True)
        return None
    where = output / PAIRS_FILE if output is not None else "(not written: no --output)"
    warn(report, console, str(where))
    if output is not None:
        save_to(report, output)
    return report
