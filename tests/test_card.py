"""``gmr card``: the model card of a real tiny run and a real ``gmr eval --compare`` output."""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import tomllib
from pathlib import Path

import pytest
import yaml
from click.testing import CliRunner

from gamermath.cli import main
from gamermath.engine.attribution import stage_attributions, stage_points
from gamermath.evaluation.baselines import default_baselines_path
from gamermath.evaluation.intervals import wilson
from gamermath.run_dir import read_jsonl

REPO = Path(__file__).resolve().parents[1]
#: Numbers the card may print that are the method's constants, not measurements: the
#: n-gram length (13, "GPT-3"), the interval level (95%), the ranking threshold (100).
METHOD_CONSTANTS = {"3", "13", "95", "100"}
NUMBER = re.compile(r"\d+(?:\.\d+)?")


def _env() -> dict[str, str]:
    out = dict(os.environ)
    out.update(HF_HUB_OFFLINE="1", HF_DATASETS_OFFLINE="1", TRANSFORMERS_OFFLINE="1",
               OMP_NUM_THREADS="1", TOKENIZERS_PARALLELISM="false")
    return out


def _gmr(*args: str) -> subprocess.CompletedProcess:
    done = subprocess.run([sys.executable, "-m", "gamermath", *args], capture_output=True,
                          text=True, env=_env(), cwd=REPO, timeout=600)
    assert done.returncode == 0, done.stderr[-3000:]
    return done


def _data_dir(root: Path) -> Path:
    (root / "gsm8k").mkdir(parents=True)
    for split, count in (("train", 6), ("test", 8)):
        with open(root / "gsm8k" / f"{split}.jsonl", "w") as handle:
            for i in range(count):
                a, b = 3 + i, 4 + 2 * i
                handle.write(json.dumps({"question": f"Tom has {a} apples and buys {b} more. "
                                         "How many apples does he have?",
                                         "answer": f"{a} + {b} = {a + b}\n#### {a + b}"}) + "\n")
    return root


@pytest.fixture(scope="module")
def trained(tiny_model, tmp_path_factory) -> tuple[Path, Path]:
    """A real tiny SFT + GRPO run, then a real lm-eval run of it with --compare."""
    root = tmp_path_factory.mktemp("card")
    run_dir = root / "run"
    _gmr("train", "recipes/tiny.toml", "--set", f"model.source={tiny_model}",
         "--run-dir", str(run_dir))
    data = _data_dir(root / "data")
    eval_dir = root / "eval"
    _gmr("eval", "--harness", "gsm8k", "--model", str(run_dir), "--num-fewshot", "0",
         "--limit", "4", "--max-gen-toks", "6", "--data-dir", str(data), "--compare",
         "--output", str(eval_dir))
    return run_dir, eval_dir


def _card(run_dir: Path, eval_dir: Path, tmp_path: Path) -> tuple[str, Path]:
    out = tmp_path / "README.md"
    result = CliRunner().invoke(main, ["card", str(run_dir), "--eval", str(eval_dir),
                                       "-o", str(out)])
    assert result.exit_code == 0, result.output
    return out.read_text(), out


def test_front_matter_parses_as_a_hub_model_card(trained, tmp_path):
    from huggingface_hub import ModelCard, metadata_load

    run_dir, eval_dir = trained
    text, path = _card(run_dir, eval_dir, tmp_path)
    meta = yaml.safe_load(text.split("---\n")[1])
    assert meta == metadata_load(path)
    assert meta["library_name"] == "peft" and meta["base_model"]
    assert {"grpo", "sft", "lora"} <= set(meta["tags"])
    card = ModelCard(text)
    results = card.data.eval_results
    scored = json.loads((eval_dir / "results.json").read_text())["tasks"]["gsm8k"]
    gsm8k = [r for r in results if r.dataset_type == "gsm8k"]
    assert len(gsm8k) == 1
    assert gsm8k[0].metric_value == round(
        100 * scored["metrics"]["exact_match,strict-match"]["value"], 2)
    assert "n=4" in gsm8k[0].metric_name and "0-shot" in gsm8k[0].metric_name
    heldout = [r for r in results if r.dataset_type == "arith"]
    last = stage_points(read_jsonl(run_dir / "metrics.jsonl"))[-1][1]
    assert heldout[0].metric_value == round(100 * last.accuracy, 2)


def test_card_says_protocol_n_interval_contamination_and_limits(trained, tmp_path):
    run_dir, eval_dir = trained
    text, _ = _card(run_dir, eval_dir, tmp_path)
    assert "| gsm8k | exact_match,strict-match |" in text
    assert "4 of 8 |" in text  # n of the test set
    assert "lm-eval's gsm8k unchanged" in text  # the protocol line of the task
    assert "not ranked: different protocol" in text  # the baselines --compare listed
    assert "| bare | sft step 0 | 4 |" in text and "| GRPO | grpo step 4 | 4 |" in text
    assert ("arith/test: 0 of 40 documents share a 13-gram with the training rows "
            "(grpo:arith/train 64, sft:arith/train 16;") in text
    assert "gsm8k: 0 of 8 documents share a 13-gram" in text
    assert "- The whole test set: scored on part of it only: gsm8k (4 of 8)." in text
    assert "CPU (" in text and "GRPO stage:" in text


def _file_numbers(paths: list[Path]) -> set[str]:
    """Every number a file states: as written, and as values rounded to 0-2 decimals, also
    as percentages (the card prints rates as percent)."""
    found: set[str] = set()

    def walk(value) -> None:
        if isinstance(value, dict):
            for item in value.values():
                walk(item)
        elif isinstance(value, list):
            for item in value:
                walk(item)
        elif isinstance(value, (int, float)) and not isinstance(value, bool):
            for scale in (1, 100):
                for digits in (0, 1, 2):
                    found.add(f"{abs(scale * value):.{digits}f}")

    for path in paths:
        text = path.read_text(encoding="utf-8")
        found.update(NUMBER.findall(text))
        if path.suffix == ".json":
            walk(json.loads(text))
        elif path.suffix == ".jsonl":
            for row in read_jsonl(path):
                walk(row)
        elif path.suffix == ".toml":
            walk(tomllib.loads(text))
    return found


def _derived_numbers(run_dir: Path) -> set[str]:
    """Figures the card derives from metrics.jsonl: Wilson intervals and the attribution."""
    rows = read_jsonl(run_dir / "metrics.jsonl")
    found: set[str] = set()
    for _, point in stage_points(rows):
        for bound in wilson(point.accuracy, point.n):
            found.add(f"{100 * bound:.1f}")
    for part in stage_attributions(rows):
        for value in (part.gain, part.format, part.correctness, part.unformatted):
            found.add(f"{abs(100 * value):.1f}")
    return found


def test_every_number_in_the_card_comes_from_a_file_of_the_run(trained, tmp_path):
    run_dir, eval_dir = trained
    text, _ = _card(run_dir, eval_dir, tmp_path)
    sources = [run_dir / name for name in ("recipe.toml", "environment.json", "metrics.jsonl",
                                           "contamination.json")]
    sources += [eval_dir / "results.json", eval_dir / "contamination.json",
                default_baselines_path()]
    allowed = _file_numbers(sources) | _derived_numbers(run_dir) | METHOD_CONSTANTS
    printed = NUMBER.findall(text)
    assert len(printed) > 50
    missing = sorted({n for n in printed if n not in allowed})
    assert missing == []


def test_push_uploads_the_adapter_folder_with_the_card(trained, tmp_path, monkeypatch):
    """Up to the network boundary: HfApi's two HTTP calls are replaced, nothing else."""
    from huggingface_hub import HfApi

    run_dir, eval_dir = trained
    calls = []
    monkeypatch.setattr(HfApi, "create_repo",
                        lambda self, repo_id, **kw: calls.append(("create", repo_id, kw)))

    def upload(self, **kw):
        readme = Path(kw["folder_path"]) / "README.md"
        calls.append(("upload", kw["repo_id"], kw["folder_path"], readme.read_text()))

    monkeypatch.setattr(HfApi, "upload_folder", upload)
    out = tmp_path / "card.md"
    result = CliRunner().invoke(main, ["card", str(run_dir), "--eval", str(eval_dir),
                                       "-o", str(out), "--push", "someone/tiny-adapter"])
    assert result.exit_code == 0, result.output
    assert calls[0] == ("create", "someone/tiny-adapter", {"exist_ok": True})
    kind, repo, folder, readme = calls[1]
    assert (kind, repo, folder) == ("upload", "someone/tiny-adapter", str(run_dir / "adapter"))
    assert readme == out.read_text()
    assert (Path(folder) / "adapter_config.json").is_file()
    assert "pushed: https://huggingface.co/someone/tiny-adapter" in result.output


def test_bad_run_or_eval_directory_is_one_line(trained, tmp_path):
    done = subprocess.run([sys.executable, "-m", "gamermath", "card", str(tmp_path)],
                          capture_output=True, text=True, cwd=REPO, timeout=120)
    assert done.returncode == 2
    assert "is not a run directory" in done.stderr and "Traceback" not in done.stderr
    result = CliRunner().invoke(main, ["card", str(trained[0]), "--eval", str(tmp_path)])
    assert result.exit_code == 2
    assert f"--eval {tmp_path}: no results.json" in result.output


def test_card_names_the_adapter_modules_whole_or_says_full_fine_tuning():
    from gamermath.recipe.schema import LoraSpec
    from gamermath.report.card import _lora_line

    assert _lora_line(LoraSpec(target_modules="all-linear")).endswith("modules all-linear")
    assert _lora_line(LoraSpec(target_modules=["q_proj", "v_proj"])).endswith("q_proj, v_proj")
    assert "Full fine-tuning" in _lora_line(LoraSpec(enabled=False))
