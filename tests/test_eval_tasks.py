"""The shipped lm-eval tasks: listed with protocols (one per line when piped), twins
identical to lm-eval's built-ins, source exemplars and extraction rules, baselines parsed
and ranked only like with like, run directories resolved."""

from __future__ import annotations

import hashlib
import json
import subprocess
import sys
from pathlib import Path

import pytest
from click.testing import CliRunner

from gamermath.builtin.eval_tasks import evals_dir, read_protocols
from gamermath.cli import main
from gamermath.errors import GmrError
from gamermath.evaluation import baselines, intervals
from gamermath.evaluation.target import resolve_target

SHIPPED = {
    "gsm8k",
    "gsm8k_cot",
    "mmlu_stem",
    "gsm8k_youronmath_8shot",
    "gsm8k_youronmath_8shot_exact",
    "gsm8k_think_zeroshot",
    "gsm8k_think_8shot",
    "gsm8k_think_8shot_aligned",
    "gsm8k_think_strict_zeroshot",
    "mmlu_stem_cot4",
    "mmlu_stem_dsm4",
    "math500_minerva",
    "math500_boxed_zeroshot",
}
BIN = Path(sys.executable).parent


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
    """The config without where rows come from and without gmr's own metadata (protocol)."""
    out = {k: v for k, v in cfg.items() if k not in DATA_KEYS}
    if isinstance(out.get("metadata"), dict):
        out["metadata"] = {k: v for k, v in out["metadata"].items() if k != "gmr"}
    return out


def test_evals_list_shows_every_shipped_task_with_its_protocol():
    result = CliRunner().invoke(main, ["evals", "list"])
    assert result.exit_code == 0, result.output
    protocols = read_protocols(evals_dir())
    assert SHIPPED <= set(protocols)
    lines = result.output.splitlines()
    assert lines[0].split("\t") == ["task", "set", "package", "protocol"]
    rows = {line.split("\t")[0]: line.split("\t") for line in lines[1:]}
    for task in SHIPPED:
        assert len(rows[task]) == 4 and rows[task][3] == protocols[task]


def test_evals_list_piped_to_grep_finds_each_task_on_one_line():
    listing = subprocess.run([str(BIN / "gmr"), "evals", "list"], capture_output=True,
                             text=True, check=True)
    grep = subprocess.run(["grep", "gsm8k_youronmath_8shot"], input=listing.stdout,
                          capture_output=True, text=True, check=True)
    found = grep.stdout.splitlines()
    assert sorted(line.split("\t")[0] for line in found) == [
        "gsm8k_youronmath_8shot", "gsm8k_youronmath_8shot_exact",
        "gsm8k_youronmath_8shot_sampled"]
    protocols = read_protocols(evals_dir())
    assert all(line.split("\t")[3] == protocols[line.split("\t")[0]] for line in found)


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


@pytest.mark.parametrize("folder", ["mmlu_stem_cot4", "mmlu_stem_dsm4"])
def test_stem_cot_groups_are_the_18_subject_set(folder):
    group = load_raw(evals_dir() / folder / f"_{folder}.yaml")
    subjects = {t.removeprefix(f"{folder}_") for t in group["task"]}
    twin = load_raw(evals_dir() / "mmlu_stem_local" / "_mmlu_stem.yaml")
    assert subjects == {t.removeprefix("mmlu_") for t in twin["task"]} - {"anatomy"}
    assert len(subjects) == 18


def test_card_exemplars_are_wei_et_al_as_lm_eval_ships_them():
    """The 8 questions and answers equal lm-eval's gsm8k-cot exemplars (Wei et al.)."""
    from gamermath.evals.loaders import card_exemplars

    ours = card_exemplars()
    theirs = load_raw(lm_eval_tasks_dir() / "gsm8k" / "gsm8k-cot.yaml")["fewshot_config"]
    assert [r["question"] for r in ours] == [s["question"] for s in theirs["samples"]]
    assert [f"The answer is {r['final']}." for r in ours] == [
        s["target"][s["target"].rindex("The answer is"):] for s in theirs["samples"]]


def test_deepseekmath_exemplars_rebuild_the_source_prompt():
    """Joined as the source joins them, the exemplars give DeepSeekMath's few_shot_prompt
    (2,205 characters; the digest was taken when it was transcribed and its length checked
    against the source file's)."""
    from gamermath.evals.loaders import (
        deepseekmath_problem,
        deepseekmath_stem_exemplars,
        minerva_exemplars,
    )

    rows = deepseekmath_stem_exemplars()
    prompt = "\n\n".join(f"Problem:\n{r['problem']}\nSolution:\n{r['solution']}" for r in rows)
    assert len(prompt) == 2205
    assert hashlib.sha256(prompt.encode()).hexdigest().startswith("4a8070c9e3499b93")
    # the same four MATH problems as lm-eval's Minerva exemplars
    minerva = minerva_exemplars()
    assert len(minerva) == 4
    assert [r["problem"].split("\n")[0][:30] for r in rows] == [
        m["problem"].split("\n")[0][:30] for m in minerva]
    assert deepseekmath_problem(" What is 1+1? ", ["1", " 2 ", "3", "4"]) == (
        "What is 1+1?\nWhat of the following is the right choice? Explain your answer.\n"
        "(A) 1, (B) 2, (C) 3, (D) 4")


def test_youronmath_extraction_follows_the_paper():
    from gamermath.evals.scoring import youronmath_answers, youronmath_extract, youronmath_score

    assert youronmath_extract("so 5\n#### The final answer is 18\nQuestion") == 18.0
    assert youronmath_extract("The answer is 42.") == 42.0
    assert youronmath_extract("we get 3 then 12") == 12.0
    assert youronmath_extract("no digits") is None
    doc = {"answer": "steps\n#### 18"}
    assert youronmath_answers([["#### The final answer is 18.0", "none"]], [doc]) == [
        ["18.0", "[invalid]"]]
    assert youronmath_score(doc, ["18.0"]) == {"exact_match": 1.0}
    assert youronmath_score(doc, ["17.95"]) == {"exact_match": 1.0}  # |pred - gold| < 0.1
    assert youronmath_score(doc, ["17"]) == {"exact_match": 0.0}
    assert youronmath_score(doc, ["[invalid]"]) == {"exact_match": 0.0}
    # K sampled answers: pass@K and avg@K
    assert youronmath_score(doc, [["18.0", "17", "[invalid]", "18"]]) == {
        "exact_match_pass@4": 1.0, "exact_match_avg@4": 0.5}


def test_card_extraction_follows_its_code_order():
    from gamermath.evals.scoring import card_extract, card_gold, card_normalize

    # the first '####' anywhere, even inside <think>, wins over a later one
    assert card_extract("<think>\n#### 3\n</think>\n#### 4") == "3"
    assert card_extract("so \\boxed{x = 1,200.0} and 7") == "1200"
    assert card_extract("so the answer is 12, not 13") == "12"
    assert card_extract("Answer: 12, then 13") == "12"
    assert card_extract("it is 5 or 6") == "6"
    assert card_extract("nothing") is None
    assert card_normalize("2.50") == "2.5" and card_normalize("1,080") == "1080"
    assert card_gold("steps\n#### 1,080") == "1080"


def test_deepseekmath_mmlu_extraction():
    from gamermath.evals.scoring import dsm_mmlu_extract

    assert dsm_mmlu_extract("... Final Answer: The final answer is (c). I hope") == "C"
    assert dsm_mmlu_extract("The final answer is B and later the final answer is (D)") == "B"
    assert dsm_mmlu_extract("junk Problem: the final answer is (A)") is None
    assert dsm_mmlu_extract("I think it is A") is None


def test_math500_answers_scored_by_math_verify_and_sympy_equivalence():
    from gamermath.evals.scoring import math_final_answer, math_score

    minerva = "so $\\boxed{2}$.\nFinal Answer: The final answer is $\\frac{1}{2}$. I hope it is"
    assert math_final_answer(minerva + " correct.") == "\\frac{1}{2}"
    assert math_final_answer("thus \\boxed{\\frac{14}{3}} done") == "\\frac{14}{3}"
    assert math_final_answer("no answer") is None
    doc = {"answer": "\\frac{14}{3}"}
    assert math_score(doc, ["\\frac{14}{3}"]) == {"math_verify": 1.0, "sympy_equivalence": 1.0}
    assert math_score(doc, ["14/3"]) == {"math_verify": 1.0, "sympy_equivalence": 1.0}
    assert math_score(doc, ["4.6"]) == {"math_verify": 0.0, "sympy_equivalence": 0.0}
    assert math_score(doc, ["[invalid]"]) == {"math_verify": 0.0, "sympy_equivalence": 0.0}
    sampled = math_score(doc, [["\\frac{14}{3}", "5", "[invalid]"]])
    assert sampled["math_verify_pass@3"] == 1.0
    assert sampled["sympy_equivalence_avg@3"] == pytest.approx(1 / 3)


def test_wilson_and_newcombe_intervals():
    low, high = intervals.wilson(0.0, 8)
    assert low == 0.0 and high == pytest.approx(0.3244, abs=1e-3)  # 0 of 8 is not "exact"
    assert intervals.wilson(1.0, 8)[1] == 1.0 and intervals.wilson(1.0, 8)[0] < 0.68
    low, high = intervals.wilson(0.5, 100)
    assert (low, high) == (pytest.approx(0.4038, abs=1e-3), pytest.approx(0.5962, abs=1e-3))
    # the baseline's own error widens the interval of the difference
    exact_theirs = intervals.difference(0.70, 1319, 0.7369, None)
    with_theirs = intervals.difference(0.70, 1319, 0.7369, 1319)
    assert with_theirs[0] < exact_theirs[0] and with_theirs[1] > exact_theirs[1]
    assert with_theirs[0] < -0.0369 < with_theirs[1]


def _run(task: str, value: float, **overrides) -> dict:
    """A results document as ``gmr eval`` writes it, for one task run as its protocol says."""
    metric = baselines.load_baselines()[0][task]["metric"]
    entry = {"protocol": "p", "n": 1319, "n_total": 1319, "num_fewshot": 8, "max_gen_toks": 512,
             "decoding": "greedy", "limit": None,
             "metrics": {metric: {"value": value, "stderr": 0.01}}}
    entry.update(overrides)
    return {"tasks": {task: entry}}


def _verdicts(results: dict) -> dict[float, str]:
    return {c.baseline.score: c.verdict for c in baselines.compare(results)}


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
    smol = next(b for b in rows if b.model.startswith("SmolLM2"))
    assert "bf16" in smol.protocol and "Q4_1" in smol.note


def test_compare_ranks_like_with_like_with_both_errors():
    found = baselines.compare(_run("gsm8k_youronmath_8shot_exact", 0.70))
    ranked = [c for c in found if c.ranked]
    # the paper's own run and its locally reproduced Table 1 rows share the protocol
    assert [c.baseline.score for c in ranked] == [73.69, 71.65, 58.38, 71.49, 73.77, 71.8]
    c = ranked[0]
    assert c.delta == pytest.approx(70.0 - 73.69)
    assert c.verdict.startswith("below (95% CI of the difference -7.")
    low, high = c.interval
    assert high < 0 and low == pytest.approx(100 * intervals.difference(0.70, 1319, 0.7369,
                                                                         1319)[0])
    others = [c for c in found if not c.same_protocol]
    assert others and all(c.delta is None for c in others)
    assert all(c.verdict.startswith("not ranked: different protocol: ") for c in others)
    rows = baselines.comparison_rows(found)
    ours = rows[0]
    assert ours[:2] == ("gsm8k_youronmath_8shot_exact", "ours") and ours[2].startswith("70.00 [")
    assert "n=1319, 8-shot, cap 512, greedy, no limit" == ours[3]
    assert any(r[4] == "-3.69" for r in rows)
    assert all(r[4] == "" for r in rows if "not ranked" in r[5])


def test_compare_within_both_errors_is_indistinguishable():
    found = _verdicts(_run("gsm8k_think_zeroshot", 0.535, num_fewshot=0))
    assert found[52.1].startswith("indistinguishable") and found[58.0].startswith("below")


@pytest.mark.parametrize(
    ("overrides", "reason"),
    [
        ({"num_fewshot": 0}, "shots differ: we ran 0-shot, the baseline is 8-shot"),
        ({"max_gen_toks": 16}, "generation cap differs: ours 16 tokens, theirs 512"),
        ({"decoding": "sampled: 4 samples per question, temperature 0.6, top-p 0.95"},
         "decoding differs"),
        ({"n": 8, "limit": 8, "metrics": {"exact_match,paper-extract": {"value": 0.0,
                                                                        "stderr": 0.0}}},
         "too few questions: n=8"),
    ],
)
def test_compare_refuses_to_rank_each_mismatch(overrides, reason):
    found = _verdicts(_run("gsm8k_youronmath_8shot_exact", 0.70, **overrides))
    assert found[73.69].startswith(f"not ranked: {reason}")


def test_the_fast_youronmath_variant_is_a_different_protocol():
    found = _verdicts(_run("gsm8k_youronmath_8shot", 0.70))
    assert found[73.69].startswith("not ranked: different protocol")


def test_limited_runs_are_flagged():
    found = baselines.compare(_run("gsm8k_youronmath_8shot_exact", 0.70, n=200, limit=200))
    ranked = next(c for c in found if c.ranked)
    assert ranked.verdict.endswith("limited run: 200 of 1319 questions")
    assert baselines.limited_warnings(found) == [
        "warning: gsm8k_youronmath_8shot_exact ran on 200 of 1319 questions (--limit 200): a "
        "limited run beside baselines scored on whole test sets"]


def test_sampling_refuses_tasks_it_cannot_regroup():
    from gamermath.evaluation.harness import build_task_manager
    from gamermath.evaluation.sampling import Sampling, sampled_specs

    manager = build_task_manager(["mmlu_stem"], None)
    with pytest.raises(GmrError, match="mmlu_abstract_algebra scores multiple_choice"):
        sampled_specs(manager, ["mmlu_stem"], Sampling(4))
    with pytest.raises(GmrError, match="at least 2"):
        Sampling(1)
    spec = sampled_specs(manager, ["gsm8k"], Sampling(4, 0.8, 0.9))[0]
    assert spec["repeats"] == 4
    assert spec["generation_kwargs"]["do_sample"] is True
    assert spec["generation_kwargs"]["temperature"] == 0.8
    names = [f["name"] for f in spec["filter_list"]]
    assert names == ["strict-match", "strict-match-maj@4", "flexible-extract",
                     "flexible-extract-maj@4"]
    assert [s["function"] for s in spec["filter_list"][1]["filter"]] == [
        "regex", "majority_vote", "take_first"]


def test_sampling_rewrites_each_member_of_a_group(data_dir):
    """A group is rebuilt member by member (lm-eval's own factory), with the group's
    aggregate metrics renamed to the sampled ones."""
    from gamermath.evaluation.harness import build_task_manager
    from gamermath.evaluation.sampling import Sampling, sampled_specs

    manager = build_task_manager(["mmlu_stem_dsm4"], data_dir)
    group = sampled_specs(manager, ["mmlu_stem_dsm4"], Sampling(3))[0]
    tasks = group.get_all_tasks()
    assert len(tasks) == 18
    for task in tasks:
        assert task.config.repeats == 3
        assert [f["name"] for f in task.config.filter_list] == ["dsm-extract",
                                                                "dsm-extract-maj@3"]
    aggregates = {(a.metric, tuple(a.filter_list)) for a in group.aggregate_metric_list}
    assert aggregates == {("exact_match", ("dsm-extract-maj@3",)),
                          ("exact_match_pass@3", ("dsm-extract",)),
                          ("exact_match_avg@3", ("dsm-extract",))}


def _run_dir(root: Path, source: str = "some/base") -> Path:
    (root / "adapter").mkdir(parents=True)
    (root / "adapter" / "adapter_config.json").write_text(
        json.dumps({"base_model_name_or_path": "other/base", "r": 20})
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


def test_full_fine_tuning_run_directory_resolves_to_its_model_folder(tmp_path):
    run = tmp_path / "run"
    (run / "model").mkdir(parents=True)
    (run / "recipe.toml").write_text("", encoding="utf-8")
    (run / "model" / "config.json").write_text("{}", encoding="utf-8")
    for target in (resolve_target(str(run), None), resolve_target(None, str(run))):
        assert target.source == str(run / "model")
        assert target.adapter is None and target.run_dir == run
    with pytest.raises(GmrError, match="full fine-tuning run"):
        resolve_target("x/y", str(run))

def test_vllm_backend_arguments_serve_the_adapter_as_lora(tiny_model, tmp_path):
    from gamermath.evaluation.harness import vllm_arguments

    run = _run_dir(tmp_path / "run", source=str(tiny_model))
    args = vllm_arguments(resolve_target(str(run), None), dtype="bf16")
    assert args == {"pretrained": str(tiny_model), "dtype": "bfloat16", "batch_size": "auto",
                    "lora_local_path": str(run / "adapter"), "max_lora_rank": 32}


def test_vllm_backend_without_vllm_is_a_one_line_error(tiny_model):
    pytest.importorskip("lm_eval")
    if __import__("importlib").util.find_spec("vllm") is not None:
        pytest.skip("vllm is installed here")
    result = CliRunner().invoke(main, ["eval", "--harness", "gsm8k", "--model", str(tiny_model),
                                       "--backend", "vllm"])
    assert result.exit_code == 2
    assert "--backend vllm needs the vllm package" in result.output
    assert "Traceback" not in result.output


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
