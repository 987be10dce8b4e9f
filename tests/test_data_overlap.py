"""The contamination check: lm-eval's 13-gram method on planted, clean and real GSM8K data."""

from __future__ import annotations

import io
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gamermath.cli import main
from gamermath.data.overlap import Text, find_overlap, ngrams_of

REPO = Path(__file__).resolve().parents[1]
SHARED = Path(os.environ.get("GMR_DATA_DIR") or "/work/shared/data")
PASSAGE = ("a farmer keeps seventeen goats and trades three of them every week for fresh "
           "bread at the village market")  # 19 words: 7 distinct 13-grams


def test_planted_overlap_found_through_case_and_punctuation():
    train = [Text("t:0", "t", "Intro words. " + PASSAGE.upper().replace(" ", ", ", 3)),
             Text("t:1", "t", "nothing in common with anything here at all, not one word set")]
    evals = [Text("e:0", "e", f"Q: {PASSAGE}?"), Text("e:1", "e", "a different question")]
    report = find_overlap(train, evals)
    assert report.contaminated_docs == {"e": 1}
    assert report.contaminated_train_rows == 1
    assert [(p["train_id"], p["eval_id"], p["shared_ngrams"]) for p in report.pairs] == [
        ("t:0", "e:0", 7)]
    assert all(g in ngrams_of(PASSAGE) for g in report.pairs[0]["ngrams"])


def test_twelve_shared_words_are_clean():
    twelve = " ".join(PASSAGE.split()[:12])
    report = find_overlap([Text("t:0", "t", f"{twelve} then goes home")],
                          [Text("e:0", "e", f"why {twelve}")])
    assert report.pairs == [] and report.contaminated_docs == {"e": 0}
    assert report.lines() == ["e: 0 of 1 documents (0.00%) share a 13-gram with the 1 "
                              "training rows"]


def _gsm8k_files(folder: Path, train: list[str], test: list[str]) -> Path:
    (folder / "gsm8k").mkdir(parents=True)
    for name, questions in (("train", train), ("test", test)):
        with open(folder / "gsm8k" / f"{name}.jsonl", "w") as handle:
            for i, q in enumerate(questions):
                handle.write(json.dumps({"question": q, "answer": f"{i} + 1 = {i + 1}\n#### "
                                         f"{i + 1}"}) + "\n")
    return folder


def test_cli_finds_a_planted_training_row(tmp_path):
    fillers = [f"Question number {i} asks about {i} apples." for i in range(5)]
    data = _gsm8k_files(tmp_path / "data", [*fillers, f"Sam says: {PASSAGE}."],
                        [f"Tell me: {PASSAGE}!", "How many pears are there in total today?"])
    out = tmp_path / "pairs.jsonl"
    result = CliRunner().invoke(main, ["data", "overlap", "recipes/youronmath-paper.toml",
                                       "--data-dir", str(data), "-o", str(out), "--strict"])
    assert result.exit_code == 1, result.output
    assert "gsm8k/test: 1 of 2 documents (50.00%) share a 13-gram with the 6 training rows" \
        in result.output
    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    # the planted row (index 5), and the rows whose 2 few-shot examples include it
    assert {"train_id": "grpo:gsm8k/train:5", "eval_id": "gsm8k/test:0"}.items() <= \
        pairs[[p["train_id"] for p in pairs].index("grpo:gsm8k/train:5")].items()
    assert {p["eval_id"] for p in pairs} == {"gsm8k/test:0"}
    summary = json.loads(out.with_suffix(".summary.json").read_text())
    assert summary["contaminated_docs"] == {"gsm8k/test": 1} and summary["ngram"] == 13


def test_cli_clean_recipe_exits_zero(tmp_path):
    out = tmp_path / "pairs.jsonl"
    result = CliRunner().invoke(main, ["data", "overlap", "recipes/tiny.toml", "-o", str(out),
                                       "--strict"])
    assert result.exit_code == 0, result.output
    assert "arith/test: 0 of 40 documents (0.00%)" in result.output
    assert out.read_text() == ""


def test_unknown_task_is_one_line(tmp_path):
    result = subprocess.run(
        [sys.executable, "-m", "gamermath", "data", "overlap", "recipes/tiny.toml",
         "--harness", "no_such_task", "-o", str(tmp_path / "x.jsonl")],
        capture_output=True, text=True, cwd=REPO, timeout=300)
    assert result.returncode == 2
    assert "unknown lm-eval task 'no_such_task'" in result.stderr
    assert "Traceback" not in result.stderr


needs_gsm8k = pytest.mark.skipif(not (SHARED / "gsm8k" / "test.jsonl").is_file(),
                                 reason="GSM8K files absent (GMR_DATA_DIR)")


@needs_gsm8k
@pytest.mark.parametrize("harness", [[], ["--harness", "gsm8k"]])
def test_real_gsm8k_train_test_overlap(tmp_path, harness):
    """The figure in bench/RESULTS.md: 3 of 1,319 GSM8K test questions share a 13-gram."""
    out = tmp_path / "pairs.jsonl"
    result = CliRunner().invoke(main, ["data", "overlap", "recipes/youronmath-paper.toml",
                                       "--data-dir", str(SHARED), "-o", str(out), *harness])
    assert result.exit_code == 0, result.output
    name = "gsm8k" if harness else "gsm8k/test"
    assert f"{name}: 3 of 1319 documents (0.23%) share a 13-gram with the 7473 training " \
        "rows" in result.output
    pairs = [json.loads(line) for line in out.read_text().splitlines()]
    assert {(p["train_id"], p["eval_id"].split(":")[-1]) for p in pairs} == {
        ("grpo:gsm8k/train:20", "632"), ("grpo:gsm8k/train:406", "581"),
        ("grpo:gsm8k/train:1314", "602"), ("grpo:gsm8k/train:5162", "602")}


def test_train_start_warns_with_counts_and_eval_check_never_fails_the_eval(tmp_path):
    """What ``gmr train`` prints before loading the model, and ``gmr eval --compare``'s
    check on a run whose recipe cannot be read (the scores stand; one warning line)."""
    from rich.console import Console

    from gamermath.data.overlap import check_before_training, check_run, save_to
    from gamermath.recipe import load_recipe

    data = _gsm8k_files(tmp_path / "data", [f"Question {i} about pears." for i in range(4)]
                        + [PASSAGE], [PASSAGE, "Something else entirely."])
    recipe = load_recipe(REPO / "recipes" / "youronmath-paper.toml",
                         (f'data.data_dir="{data}"',))
    console = Console(file=io.StringIO(), width=300)
    report = check_before_training(recipe, console)
    said = console.file.getvalue()
    assert ("warning: contamination: gsm8k/test: 1 of 2 documents (50.00%) share a 13-gram "
            "with the 5 training rows") in said
    save_to(report, tmp_path / "run")
    assert json.loads((tmp_path / "run" / "contamination.json").read_text())[
        "contaminated_docs"] == {"gsm8k/test": 1}
    assert (tmp_path / "run" / "overlap.jsonl").read_text().count("\n") == len(report.pairs)
    console = Console(file=io.StringIO(), width=300)
    assert check_run(tmp_path / "empty", ["gsm8k"], None, console, tmp_path / "out") is None
    assert console.file.getvalue().startswith("warning: contamination check skipped: ")
    assert not (tmp_path / "out").exists()
