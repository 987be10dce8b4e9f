"""The shipped lm-eval tasks: listed with protocols, twins identical to lm-eval's built-ins,
baselines parsed and compared only under the same protocol, run directories resolved."""

from __future__ import annotations

import json
from pathlib import Path

import pytest
from click.testing import CliRunner

from gamermath.builtin.eval_tasks import evals_dir, read_protocols
from gamermath.cli import main
from gamermath.errors import GmrError
from gamermath.evaluation import baselines
from gamermath.evaluation.target import resolve_target

SHIPPED = {
    "gsm8k",
    "gsm8k_cot",
    "mmlu_stem",
    "gsm8k_youronmath_8shot",
    "gsm8k_think_zeroshot",
    "gsm8k_think_8shot_aligned",
    "mmlu_stem_cot4",
}


def lm_eval_tasks_dir() -> Path:
    import lm_eval.tasks

    return Path(lm_eval.tasks.__file__).parent


def load_raw(path: Path) -> dict:
    """A task YAML as lm-eval reads it (includes merged, ``!function`` left unresolved)."""
    from lm_eval.tasks._yaml_loader import load_yaml

    return load_yaml(path, resolve_func=False, recursive=True)


#: keys that say where rows come from; everything else must match the built-in exactly
DATA_KEYS = {"dataset_path", "dataset_name", "dataset_kwargs", "custom_dataset", "tag"}


def _without_data(cfg: dict) -> dict:
    return {k: v for k, v in cfg.items() if k not in DATA_KEYS}


def test_evals_list_shows_every_shipped_task_with_its_protocol():
    result = CliRunner().invoke(main, ["evals", "list"], env={"COLUMNS": "400"})
    assert result.exit_code == 0, result.output
    protocols = read_protocols(evals_dir())
    assert SHIPPED <= set(protocols)
    for task in SHIPPED:
        line = next(ln for ln in result.output.splitlines() if f" {task} " in ln)
        assert protocols[task][:40] in line


@pytest.mark.parametrize(
    ("ours", "builtin"),
    [("gsm8k_local/gsm8k.yaml", "gsm8k/gsm8k.yaml"),
     ("gsm8k_local/gsm8k-cot.yaml", "gsm8k/gsm8k-cot.yaml")],
)
def test_gsm8k_twins_equal_builtin_prompts_filters_and_metrics(ours, builtin):
    mine = load_raw(evals_dir() / ours)
    theirs = load_raw(lm_eval_tasks_dir() / builtin)
    assert mine["custom_dataset"]  # rows come from the data dir (or the hub)
    assert _without_data(mine) == _without_data(theirs)


def test_mmlu_stem_twin_has_builtin_subjects_and_configs():
    root = lm_eval_tasks_dir() / "mmlu" / "default"
    builtin = {}
    for path in root.glob("mmlu_*.yaml"):
        cfg = load_raw(path)
        if cfg.get("tag") == "mmlu_stem_tasks":
            builtin[cfg["task"]] = cfg
    assert len(builtin) == 19
    group = load_raw(evals_dir() / "mmlu_stem_local" / "_mmlu_stem.yaml")
    assert group["group"] == "mmlu_stem" and sorted(group["task"]) == sorted(builtin)
    for name, theirs in builtin.items():
        mine = load_raw(evals_dir() / "mmlu_stem_local" / f"{name}.yaml")
        assert _without_data(mine) == _without_data(theirs), name
        assert mine["dataset_kwargs"] == {"subject": theirs["dataset_name"]}


def test_mmlu_stem_cot4_is_the_18_subject_set():
    group = load_raw(evals_dir() / "mmlu_stem_cot4" / "_mmlu_stem_cot4.yaml")
    subjects = {t.removeprefix("mmlu_stem_cot4_") for t in group["task"]}
    twin = load_raw(evals_dir() / "mmlu_stem_local" / "_mmlu_stem.yaml")
    assert subjects == {t.removeprefix("mmlu_") for t in twin["task"]} - {"anatomy"}
    assert len(subjects) == 18


def test_youronmath_extraction_follows_the_paper():
    from gamermath.evals.scoring import youronmath_extract, youronmath_process_results

    assert youronmath_extract("so 5\n#### The final answer is 18\nQuestion") == 18.0
    assert youronmath_extract("The answer is 42.") == 42.0
    assert youronmath_extract("we get 3 then 12") == 12.0
    assert youronmath_extract("no digits") is None
    doc = {"answer": "steps\n#### 18"}
    assert youronmath_process_results(doc, ["#### The final answer is 18.0"]) == {
        "exact_match": 1.0
    }
    assert youronmath_process_results(doc, ["#### The final answer is 17"]) == {
        "exact_match": 0.0
    }


def _results(task: str, value: float, stderr: float) -> dict:
    key = "exact_match,none" if task == "gsm8k_youronmath_8shot" else "exact_match,strict-match"
    return {"tasks": {task: {"metrics": {key: {"value": value, "stderr": stderr}}}}}


def test_baselines_file_has_the_published_scores():
    _, rows = baselines.load_baselines()
    scores = {(b.model.split(" ")[0], b.benchmark, b.score) for b in rows}
    for expected in [
        ("YouronMath", "gsm8k", 73.69), ("YouronMath", "mmlu_stem", 45.95),
        ("Qwen2.5-Math-1.5B", "gsm8k", 76.8), ("Qwen2.5-Math-1.5B", "mmlu_stem", 51.3),
        ("DeepSeekMath-Base-7B", "gsm8k", 64.2), ("DeepSeekMath-Base-7B", "mmlu_stem", 56.5),
        ("Qwen3.5-0.8B", "gsm8k", 53.5), ("Qwen3.5-0.8B", "gsm8k", 52.1),
        ("Qwen3.5-0.8B-GRPO-Math", "gsm8k", 58.0), ("Qwen3.5-0.8B-GRPO-Math", "gsm8k", 50.4),
        ("Qwen3.5-0.8B-GRPO-Math", "gsm8k", 34.1), ("Llama-2-7B", "gsm8k", 14.6),
        ("SmolLM2-135M-Instruct", "gsm8k", 1.4),
    ]:
        assert expected in scores, expected
    assert all(b.source and b.protocol for b in rows)
    ours = read_protocols(evals_dir())
    assert all(b.task in ours for b in rows if b.task)


def test_compare_ranks_only_under_the_same_protocol():
    found = baselines.compare(_results("gsm8k_youronmath_8shot", 0.70, 0.01))
    same = [c for c in found if c.same_protocol]
    assert [c.baseline.score for c in same] == [73.69]
    assert same[0].delta == pytest.approx(70.0 - 73.69)
    assert same[0].verdict == "same protocol: below"
    others = [c for c in found if not c.same_protocol]
    assert others and all(c.delta is None for c in others)
    assert all(c.verdict.startswith("different protocol: ") for c in others)
    rows = baselines.comparison_rows(found)
    assert any("70.00 ± 1.00" in r[1] and r[4] == "-3.69" for r in rows)
    assert all(r[4] == "" for r in rows if "different protocol" in r[5])


def test_compare_within_two_stderr_is_not_called_above_or_below():
    found = baselines.compare(_results("gsm8k_think_zeroshot", 0.55, 0.02))
    verdicts = {c.baseline.score: c.verdict for c in found if c.same_protocol}
    within = "same protocol: within 2 stderr"
    assert verdicts == {52.1: within, 58.0: within}


def _run_dir(root: Path, source: str = "some/base") -> Path:
    (root / "adapter").mkdir(parents=True)
    (root / "adapter" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "other/base"})
    )
    from gamermath.recipe import load_recipe

    tiny = Path(__file__).resolve().parents[1] / "recipes" / "tiny.toml"
    recipe = load_recipe(tiny, [f"model.source={source}"], check_plugins=False)
    (root / "recipe.toml").write_text(recipe.to_toml(annotate=True))
    return root


def test_run_directory_resolves_to_base_model_and_final_adapter(tmp_path):
    run = _run_dir(tmp_path / "run")
    for target in (resolve_target(str(run), None), resolve_target(None, str(run))):
        assert target.source == "some/base"
        assert target.adapter == run / "adapter" and target.run_dir == run
    plain = resolve_target(None, str(run / "adapter"))
    assert plain.source == "other/base" and plain.run_dir is None
    assert resolve_target("x/y", str(run)).source == "x/y"


def test_bad_targets_are_one_line_errors(tmp_path):
    with pytest.raises(GmrError, match="--model SOURCE or --adapter"):
        resolve_target(None, None)
    with pytest.raises(GmrError, match="neither a PEFT adapter"):
        resolve_target("x", str(tmp_path))
    run = _run_dir(tmp_path / "run")
    (run / "recipe.toml").write_text("[model]\n")
    with pytest.raises(GmrError, match=r"recipe.toml: \[model\].source is required"):
        resolve_target(str(run), None)
    result = CliRunner().invoke(main, ["eval", "--harness", "gsm8k"])
    assert result.exit_code == 2 and "--model SOURCE or --adapter" in result.output


def test_unknown_task_is_a_one_line_error_listing_ours(tiny_model):
    result = CliRunner().invoke(
        main, ["eval", "--harness", "gsm8k,nosuchtask", "--model", str(tiny_model)]
    )
    assert result.exit_code == 2
    assert "unknown lm-eval task 'nosuchtask'" in result.output
    assert "gsm8k_youronmath_8shot" in result.output
