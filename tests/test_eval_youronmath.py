"""The YouronMath paper's evaluation as its released code runs it and as its text states:
the MMLU-STEM task rebuilt from ``eval_mmlu_stem.py`` (prompt, shots, extraction, sampling),
its text's sampled GSM8K setting, ``gmr eval --top-k``, and the paper's Table 1 numbers in
``evals/baselines.toml`` with their protocol."""

from __future__ import annotations

import json
import random
import subprocess
import sys
from pathlib import Path

import pytest
from gamermath.evals.loaders import mmlu_subject
from gamermath.evals.scoring import youronmath_mmlu_answers, youronmath_mmlu_extract

from gamermath.evaluation import baselines
from gamermath.evaluation.sampling import Sampling

MMLU_TASK = "mmlu_stem_youronmath_4shot"
SAMPLED = "sampled by the task (temperature 0.7, top-k 50)"


def source_prompts(data_dir: Path, count: int) -> list[str]:
    """The first ``count`` prompts of eval_mmlu_stem.py, built the way that script builds
    them (its global ``random.seed(42)`` + ``random.sample``, its f-strings)."""
    subjects = ("college_mathematics", "high_school_mathematics")
    splits = [mmlu_subject(s, data_dir=str(data_dir)) for s in subjects]
    test = [row for s in splits for row in s["test"]]
    dev = [row for s in splits for row in s["dev"]]
    state = random.getstate()
    try:
        random.seed(42)
        shots = random.sample(dev, 4)
    finally:
        random.setstate(state)

    def block(row):
        lines = "\n".join(f"{i}: {c}" for i, c in enumerate(row["choices"]))
        return (f"Question: {row['question']}\nChoices:\n{lines}\n"
                "Solution: Let's think step by step. ")

    head = "".join(
        block(s) + f"Let's think step by step. The correct answer is {s['choices'][s['answer']]}."
        f"\n#### The final answer is {s['answer']}\n\n" for s in shots)
    assert len(test) == 370
    return [head + block(row) for row in test[:count]]


def logged_gen_kwargs(sample: dict) -> dict:
    """The generation kwargs of a logged lm-eval sample (in memory: a list of argument
    tuples; in samples_<task>.jsonl: ``{"gen_args_0": {"arg_0": ..., "arg_1": ...}}``)."""
    arguments = sample["arguments"]
    if isinstance(arguments, dict):
        return arguments["gen_args_0"]["arg_1"]
    return arguments[0][1]


def build(names: list[str], data_dir: Path, limit: int):
    from lm_eval.tasks import TaskManager

    from gamermath.builtin.eval_tasks import evals_dir

    manager = TaskManager(include_path=[str(evals_dir())], include_defaults=False,
                          metadata={"data_dir": str(data_dir)})
    tasks = manager.load(names)["tasks"] if hasattr(manager, "load") else None
    if tasks is None:  # pragma: no cover - older lm-eval
        from lm_eval.tasks import get_task_dict

        tasks = get_task_dict(names, manager)
    out = {}
    for task in tasks.values():
        task.build_all_requests(limit=limit, rank=0, world_size=1)
        out[task.config.task] = task
    return out


def test_mmlu_task_prompts_are_the_source_prompts(data_dir):
    task = build([MMLU_TASK], data_dir, limit=3)[MMLU_TASK]
    assert len(task.eval_docs) == 370
    contexts = [i.arguments[0] for i in task.instances]
    assert contexts == source_prompts(data_dir, 3)
    gen = task.instances[0].arguments[1]
    assert gen == {"until": [], "do_sample": True, "temperature": 0.7, "top_k": 50,
                   "max_gen_toks": 512}
    assert [task.doc_to_target(i.doc) for i in task.instances] == [
        str(i.doc["answer"]) for i in task.instances]


@pytest.mark.parametrize(
    ("response", "expected"),
    [
        ("work...\n#### The final answer is 2\nQuestion: ... #### The final answer is 0", 2),
        ("#### The final answer is  3", 3),  # \s* after 'is'
        ("so the final answer: c", 2),  # a letter, case ignored
        ("The answer isB", 1),  # 'answer is' must touch the letter
        ("The answer is B, choice 1 of 0..3 then 2", 2),  # with a space: last digit 0-3 wins
        ("x = 7 and 9", None),  # no digit 0-3, no choice text
        ("It must be The Identity map", 3),  # a choice's text, case ignored
        ("seven", None),
    ],
)
def test_mmlu_extraction_follows_the_source_order(response, expected):
    choices = ["ST = 0", "ST = T", "ST = TS", "the identity map"]
    assert youronmath_mmlu_extract(response, choices) == expected


def test_mmlu_filter_scores_against_the_index():
    docs = [{"choices": ["a1", "b2", "c3", "d4"], "answer": 1}] * 2
    assert youronmath_mmlu_answers([["#### The final answer is 1"], ["nothing"]], docs) == [
        ["1"], ["[invalid]"]]


def test_text_setting_gsm8k_task_samples_as_the_text_says(data_dir):
    tasks = build(["gsm8k_youronmath_8shot_sampled", "gsm8k_youronmath_8shot_exact"],
                  data_dir, limit=1)
    sampled, exact = tasks["gsm8k_youronmath_8shot_sampled"], tasks["gsm8k_youronmath_8shot_exact"]
    assert sampled.instances[0].arguments[0] == exact.instances[0].arguments[0]
    assert sampled.instances[0].arguments[1] == {"until": [], "do_sample": True,
                                                 "temperature": 0.7, "top_k": 50,
                                                 "max_gen_toks": 512}
    assert exact.instances[0].arguments[1]["do_sample"] is False


def test_real_run_records_the_task_sampling_and_ranks_like_with_like(tiny_model, data_dir):
    """A real lm-eval run on the tiny model; the decoding recorded is the one the paper's
    MMLU-STEM baselines carry, so only their shots/n decide whether they are ranked."""
    from gamermath.evaluation.harness import run_harness
    from gamermath.evaluation.target import EvalTarget

    run = run_harness(EvalTarget(str(tiny_model)), [MMLU_TASK], limit=2, max_gen_toks=4,
                      data_dir=data_dir)
    entry = run.results["tasks"][MMLU_TASK]
    assert entry["decoding"] == SAMPLED and entry["num_fewshot"] == 4
    assert entry["protocol"].startswith("YouronMath paper (arXiv 2506.08935) MMLU-STEM")
    logged = run.samples[MMLU_TASK]
    assert len(logged) == 2
    assert all(logged_gen_kwargs(s)["top_k"] == 50 for s in logged)
    assert all(s["filtered_resps"][0] in {"0", "1", "2", "3", "[invalid]"} for s in logged)
    _, rows = baselines.load_baselines()
    ours = [b for b in rows if b.task == MMLU_TASK]
    assert {b.decoding for b in ours} == {SAMPLED}
    assert entry["decoding"] == ours[0].decoding and entry["max_gen_toks"] != 512


def test_paper_table_1_numbers_are_baselines_with_their_protocol():
    _, rows = baselines.load_baselines()
    found = {(b.model.split(" ")[0], b.benchmark): b for b in rows
             if "2506.08935" in b.source}
    expected = {
        ("Qwen2.5-Math-1.5B", "gsm8k"): 71.65, ("Qwen2.5-Math-1.5B", "mmlu_stem"): 45.41,
        ("DeepSeekMath-Base-7B", "gsm8k"): 58.38, ("DeepSeekMath-Base-7B", "mmlu_stem"): 41.89,
        ("YouronMath-L8", "gsm8k"): 71.49, ("YouronMath-L8", "mmlu_stem"): 45.41,
        ("YouronMath-L32", "gsm8k"): 73.77, ("YouronMath-L32", "mmlu_stem"): 46.20,
        ("YouronMath-L16-Augmented", "gsm8k"): 71.80,
        ("YouronMath-L16-Augmented", "mmlu_stem"): 45.95,
        ("YouronMath", "mmlu_stem"): 45.95, ("YouronMath", "gsm8k"): 73.69,
    }
    assert {k: b.score for k, b in found.items()} == expected
    for (model, benchmark), b in found.items():
        if benchmark == "gsm8k":
            assert (b.shots, b.n, b.task, b.decoding) == (
                8, 1319, "gsm8k_youronmath_8shot_exact", "greedy"), model
            assert round(b.score / 100 * 1319) / 1319 * 100 == pytest.approx(b.score, abs=0.005)
        else:
            assert (b.shots, b.n, b.task, b.decoding) == (4, 370, MMLU_TASK, SAMPLED), model
            assert "college_mathematics + high_school_mathematics" in b.protocol
        assert "Table 1" in b.source or model == "YouronMath"


def test_top_k_reaches_the_generation_kwargs():
    sampling = Sampling(4, 0.7, 1.0, 50)
    assert sampling.generation_kwargs({"until": ["Q:"]})["top_k"] == 50
    assert sampling.label.endswith("top-p 1.0, top-k 50")
    assert Sampling(4).generation_kwargs(None)["top_k"] == 0  # the default: no top-k cut
    from gamermath.errors import GmrError

    with pytest.raises(GmrError, match="--top-k must be a whole number >= 0"):
        Sampling(4, top_k=-1)


def test_gmr_eval_top_k_flag_in_a_real_run(tiny_model, data_dir, tmp_path):
    out = tmp_path / "eval"
    done = subprocess.run(
        [sys.executable, "-m", "gamermath", "eval", "--harness", "gsm8k", "--model",
         str(tiny_model), "--num-fewshot", "0", "--limit", "1", "--max-gen-toks", "3",
         "--data-dir", str(data_dir), "--samples", "2", "--temperature", "0.7",
         "--top-p", "1", "--top-k", "50", "--output", str(out)],
        capture_output=True, text=True, timeout=600)
    assert done.returncode == 0, done.stderr[-2000:]
    results = json.loads((out / "results.json").read_text())
    assert results["settings"]["top_k"] == 50
    assert results["tasks"]["gsm8k"]["decoding"].endswith("temperature 0.7, top-p 1.0, top-k 50")
    logged = [json.loads(x) for x in (out / "samples_gsm8k.jsonl").read_text().splitlines()]
    assert logged_gen_kwargs(logged[0])["top_k"] == 50


def test_card_aligned_exemplars_are_the_ones_at_f7369ea():
    """gpu-lab's eval_gsm8k.py at f7369ea answers its 8 exemplars '<think>\\nsteps\\n</think>
    \\n#### N': the aligned task's exemplars, byte for byte (skipped without the mirror)."""
    import ast

    mirror = Path("/work/.mirror/CelestialCreator+gpu-lab/repo")
    if not mirror.is_dir():
        pytest.skip("no gpu-lab mirror")
    source = subprocess.run(
        ["git", f"--git-dir={mirror}", "show",
         "f7369ea:projects/05-grpo-reasoning/scripts/eval_gsm8k.py"],
        capture_output=True, text=True, check=True).stdout
    found = next(ast.literal_eval(node.value) for node in ast.walk(ast.parse(source))
                 if isinstance(node, ast.Assign)
                 and getattr(node.targets[0], "id", "") == "FEW_SHOT_EXAMPLES")
    from gamermath.evals.loaders import card_exemplars

    ours = [{"question": e["question"],
             "answer": f"<think>\n{e['steps']}\n</think>\n#### {e['final']}"}
            for e in card_exemplars()]
    assert found == ours
