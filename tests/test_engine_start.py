"""Where GRPO starts and what its KL term measures, in one real SFT + GRPO run of a tiny model.

The run (in this process, so a callback can look at the model) also carries a gated reward
term and a stop sequence, checked on what it recorded.
"""

from __future__ import annotations

import json
from pathlib import Path

import pytest

from gamermath.run_dir import read_jsonl

RECIPE = """
[model]
source = "{model}"
dtype = "float32"
attention = "eager"

[lora]
r = 4
alpha = 8
target_modules = ["q_proj", "k_proj", "v_proj", "o_proj"]

[data]
dataset = "arith"
template = "chat-think"
limit = 64
options = {{ train_size = 200, test_size = 40 }}
stop = ["a"]

[[rewards]]
name = "format"
label = "letters"
weight = 0.0
options = {{ hash = 0.0, regex = "[a-z]{{3}}", regex_weight = 1.0 }}

[[rewards]]
name = "format"
label = "digits"
weight = 0.5
options = {{ hash = 0.0, regex = "[0-9]", regex_weight = 1.0 }}

[[rewards]]
name = "format"
label = "digits-if-letters"
weight = 0.5
gate = "letters"
options = {{ hash = 0.0, regex = "[0-9]", regex_weight = 1.0 }}

[sft]
limit = 16
epochs = 1
batch_size = 8
learning_rate = 1e-3
max_length = 512
gradient_checkpointing = false

[grpo]
generations = 4
batch_size = 4
accumulation = 1
max_completion_length = 16
learning_rate = 1e-3
beta = 0.04
steps = 4
gradient_checkpointing = false

[eval]
heldout = 4
every = 2
max_new_tokens = 8

[run]
seed = 0
checkpoint_every = 2
completions_every = 1
completions_kept = 4
reward_workers = 1
"""


def adapter_tensors(model, name: str) -> dict:
    """An adapter's tensors keyed as ``save_pretrained`` writes them (cloned)."""
    from peft import get_peft_model_state_dict

    return {k: v.detach().clone() for k, v in
            get_peft_model_state_dict(model, adapter_name=name).items()}


@pytest.fixture(scope="module")
def run(tiny_model, tmp_path_factory):
    from transformers import TrainerCallback

    from gamermath.engine.train import train
    from gamermath.recipe import load_recipe

    seen: dict = {}

    class Probe(TrainerCallback):
        def on_train_begin(self, args, state, control, model=None, **kwargs):
            seen["adapters"] = sorted(model.peft_config)
            seen["default"] = adapter_tensors(model, "default")
            seen["ref"] = adapter_tensors(model, "ref")

        def on_train_end(self, args, state, control, model=None, **kwargs):
            seen["ref_after"] = adapter_tensors(model, "ref")

    folder = tmp_path_factory.mktemp("start")
    recipe_path = folder / "start.toml"
    recipe_path.write_text(RECIPE.format(model=tiny_model), encoding="utf-8")
    recipe = load_recipe(recipe_path, [f"run.output_dir={json.dumps(str(folder / 'run'))}"])
    result = train(recipe, callbacks={"grpo": [Probe()]})
    return result.run_dir, seen


def sft_tensors(run_dir: Path) -> dict:
    from safetensors.torch import load_file

    return load_file(run_dir / "checkpoints" / "sft" / "final" / "adapter_model.safetensors")


def test_grpo_starts_from_the_sft_adapter(run):
    import torch

    run_dir, seen = run
    sft = sft_tensors(run_dir)
    assert seen["default"].keys() == sft.keys()
    assert all(torch.equal(seen["default"][k], sft[k]) for k in sft)  # GRPO step 0 = SFT
    assert any(sft[k].abs().sum() > 0 for k in sft if "lora_B" in k)  # SFT really trained it


def test_the_kl_reference_is_a_frozen_copy_of_the_sft_adapter(run):
    """TRL >= 0.27 (gmr's pin): a 'ref' adapter equal to SFT's, unchanged by training."""
    import torch

    run_dir, seen = run
    sft = sft_tensors(run_dir)
    assert seen["adapters"] == ["default", "ref"]
    assert all(torch.equal(seen["ref"][k], sft[k]) for k in sft)
    assert all(torch.equal(seen["ref_after"][k], sft[k]) for k in sft)
    grpo = [r for r in read_jsonl(run_dir / "metrics.jsonl")
            if r["stage"] == "grpo" and "reward" in r]
    assert grpo[0]["step"] == 1 and abs(grpo[0]["kl"]) < 1e-6  # policy = reference at step 1
    assert grpo[-1]["kl"] > 1e-6  # and moves away from it
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["scoring"]["kl_reference"].startswith("the SFT model")


def test_a_gated_term_pays_only_where_its_gate_passes(run):
    run_dir, _ = run
    rows = read_jsonl(run_dir / "completions.jsonl")
    assert len(rows) == 16
    passed = failed = 0
    for row in rows:
        scores = row["rewards"]
        if scores["letters"] >= 1.0:
            passed += 1
            assert scores["digits-if-letters"] == scores["digits"]
        else:
            failed += 1
            assert scores["digits-if-letters"] == 0.0
        assert row["reward"] == pytest.approx(0.5 * scores["digits"]
                                              + 0.5 * scores["digits-if-letters"])
    assert passed and failed  # both sides of the gate were exercised
    assert any(r["rewards"]["digits"] == 1.0 and r["rewards"]["letters"] == 0.0 for r in rows)


def test_completions_are_scored_up_to_the_stop(run):
    run_dir, _ = run
    rows = read_jsonl(run_dir / "completions.jsonl")
    assert all("a" not in r["completion"] for r in rows)
    env = json.loads((run_dir / "environment.json").read_text())
    assert env["scoring"]["stop_sequences"] == ["a"]
    assert env["scoring"]["think_opened_in_prompt"] == ""
    lengths = [r["completion_length"] for r in read_jsonl(run_dir / "metrics.jsonl")
               if r.get("stage") == "grpo" and "completion_length" in r]
    assert lengths and max(lengths) < 16  # the trained ids were cut too
