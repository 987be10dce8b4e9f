"""Recipes: typed and validated once; every kind of mistake is one line naming file and key.

The broken-recipe table runs each mistake through the real ``gmr recipe check`` command and
asserts exit code 2, a single stderr line, the file and the key named, no traceback.
"""

from __future__ import annotations

import os
import re
import subprocess
import sys
import textwrap
from pathlib import Path

import pytest
from click.testing import CliRunner

from gamermath.cli import main
from gamermath.errors import GmrError
from gamermath.recipe import load_recipe, tomllib

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.toml"))

GOOD = """
[model]
source = "Qwen/Qwen2.5-Math-1.5B"

[data]
dataset = "arith"

[[rewards]]
name = "exact-answer"

[[rewards]]
name = "format"
weight = 0.5

[sft]
limit = 8

[grpo]
num_generations = 4
per_device_train_batch_size = 4
learning_rate = 5e-5
"""


def write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def gmr(*args: str, **env: str) -> subprocess.CompletedProcess:
    environ = dict(os.environ, **env)
    return subprocess.run(
        [sys.executable, "-m", "gamermath", *args], capture_output=True, text=True,
        timeout=120, env=environ,
    )


def sub(old: str, new: str):
    def edit(text: str) -> str:
        assert old in text, old
        return text.replace(old, new, 1)

    return edit


def add(section: str, line: str):
    """Add ``line`` to ``[section]`` (creating the section if the recipe lacks it)."""

    def edit(text: str) -> str:
        header = f"[{section}]\n"
        if header in text:
            return text.replace(header, header + line + "\n", 1)
        return text + f"\n{header}{line}\n"

    return edit


def reward(line: str, which: int = 1):
    """Add ``line`` to the ``which``-th ``[[rewards]]`` table."""

    def edit(text: str) -> str:
        parts = text.split("[[rewards]]\n")
        parts[which] = line + "\n" + parts[which]
        return "[[rewards]]\n".join(parts)

    return edit


#: (id, edit of GOOD, what the one error line must contain besides the file name)
BROKEN = [
    ("beta-nan", add("grpo", "beta = nan"), "[grpo].beta"),
    ("beta-inf", add("grpo", "beta = inf"), "[grpo].beta"),
    ("lr-inf", sub("learning_rate = 5e-5", "learning_rate = inf"), "[grpo].learning_rate"),
    ("weight-nan", reward("weight = nan"), "[[rewards]] #1 (exact-answer).weight"),
    ("gate-threshold-inf", reward('gate = "format"\ngate_threshold = -inf'),
     "(exact-answer).gate_threshold"),
    ("option-nan", reward("options = { regex_weight = nan }", 2),
     "(format).options.regex_weight"),
    ("lr-negative", sub("learning_rate = 5e-5", "learning_rate = -5e-5"),
     "[grpo].learning_rate must be positive"),
    ("lr-zero", sub("learning_rate = 5e-5", "learning_rate = 0.0"),
     "[grpo].learning_rate must be positive"),
    ("batch-zero", sub("per_device_train_batch_size = 4", "per_device_train_batch_size = 0"),
     "[grpo].per_device_train_batch_size must be positive"),
    ("accumulation-negative", add("grpo", "gradient_accumulation_steps = -1"),
     "[grpo].gradient_accumulation_steps must be positive"),
    ("generations-zero", sub("num_generations = 4", "num_generations = 0"),
     "[grpo].num_generations must be at least 2"),
    ("generations-alias-one", sub("num_generations = 4", "generations = 1"),
     "[grpo].generations must be at least 2"),
    ("completion-zero", add("grpo", "max_completion_length = 0"),
     "[grpo].max_completion_length must be positive"),
    ("prompt-length-negative", add("grpo", "max_prompt_length = -5"),
     "[grpo].max_prompt_length must be positive"),
    ("sft-max-length-zero", add("sft", "max_length = 0"), "[sft].max_length must be positive"),
    ("sft-lr-zero", add("sft", "lr = 0"), "[sft].lr must be positive"),
    ("epochs-zero", add("grpo", "epochs = 0"), "[grpo].epochs must be positive"),
    ("lora-r-zero", add("lora", "r = 0"), "[lora].r must be positive"),
    ("dropout-one", add("lora", "dropout = 1.0"), "[lora].dropout must be in [0, 1)"),
    ("dropout-negative", add("lora", "dropout = -0.1"), "[lora].dropout must be in [0, 1)"),
    ("temperature-negative", add("grpo", "temperature = -0.5"),
     "[grpo].temperature must be positive"),
    ("top-p-above-one", add("grpo", "top_p = 1.5"), "[grpo].top_p must be in (0, 1]"),
    ("weight-decay-negative", add("grpo", "weight_decay = -0.01"),
     "[grpo].weight_decay must not be negative"),
    ("data-limit-zero", add("data", "limit = 0"), "[data].limit must be positive"),
    ("sft-limit-negative", sub("limit = 8", "limit = -3"), "[sft].limit must be positive"),
    ("shots-negative", add("data", "shots = -1"), "[data].shots must not be negative"),
    ("heldout-negative", add("eval", "heldout = -1"), "[eval].heldout must not be negative"),
    ("eval-every-zero", add("eval", "every = 0"), "[eval].every must be positive"),
    ("checkpoint-every-zero", add("run", "checkpoint_every = 0"),
     "[run].checkpoint_every must be positive"),
    ("dtype-name", add("model", 'dtype = "bf32"'), "[model].dtype must be one of"),
    ("attention-name", add("model", 'attention = "flash2"'), "[model].attention must be one of"),
    ("lora-bias-name", add("lora", 'bias = "some"'), "[lora].bias must be one of"),
    ("loss-type-name", add("grpo", 'loss_type = "grpoo"'), "did you mean grpo?"),
    ("optim-name", add("grpo", 'optim = "adamw_tourch"'), "[grpo].optim must be one of"),
    ("timeout-policy-name", reward('timeout_policy = "ignore"'),
     "(exact-answer).timeout_policy must be one of"),
    ("format-preset", reward('options = { preset = "papr" }', 2),
     "[[rewards]] #2 (format).options.preset"),
    ("format-regex", reward('options = { regex = "(unclosed", regex_weight = 0.5 }', 2),
     "[[rewards]] #2 (format).options.regex is not a valid regular expression"),
    ("format-option-type", reward('options = { hash = "yes" }', 2),
     "[[rewards]] #2 (format).options.hash expects a float, got str"),
    ("unknown-option", reward("options = { think_hard = 1.0 }", 2),
     "[[rewards]] #2 (format): reward 'format' has no option 'think_hard'"),
    ("target-modules-type", add("lora", "target_modules = [1, 2]"),
     "[lora].target_modules must be a list of strings"),
    ("load-in-4bit-type", add("model", 'load_in_4bit = "yes"'),
     "[model].load_in_4bit must be a boolean"),
    ("gate-unknown", reward('gate = "formt"'), "(exact-answer).gate"),
    ("label-twice", reward('label = "format"'), "label"),
    ("eval-split-is-train", add("eval", 'split = "train"'), "[eval].split"),
    ("data-split-missing", add("data", 'split = "validation"'), "[data].split"),
    ("unknown-reward", sub('name = "exact-answer"', 'name = "exact-anser"'),
     "(exact-anser): unknown reward 'exact-anser'. Did you mean 'exact-answer'?"),
    ("unknown-dataset", sub('dataset = "arith"', 'dataset = "arith2"'),
     "[data].dataset: unknown dataset 'arith2'"),
    ("unknown-template", add("data", 'template = "chat-thnk"'),
     "[data].template: unknown template 'chat-thnk'"),
    ("unknown-model-source", sub('"Qwen/Qwen2.5-Math-1.5B"', '"s3://bucket/model"'),
     "[model].source: no model source handles 's3://bucket/model'"),
    ("unknown-dataset-option", add("data", "options = { digitz = 3 }"),
     "[data].options: dataset 'arith' has no option 'digitz'"),
    ("unknown-key", sub("learning_rate", "learnig_rate"),
     "unknown key [grpo].learnig_rate; did you mean learning_rate?"),
    ("unknown-section", add("evals", "heldout = 3"), "unknown section [evals]; did you mean eval?"),
    ("wrong-type", sub("learning_rate = 5e-5", 'learning_rate = "fast"'),
     "[grpo].learning_rate must be a number, got string"),
    ("int-wanted", add("lora", "r = 1.5"), "[lora].r must be an integer, got number"),
    ("not-divisible", sub("num_generations = 4", "num_generations = 3"),
     "must be divisible by num_generations (3)"),
    ("managed-key", add("grpo", "output_dir = 'x'"), "[grpo].output_dir is set by the engine"),
    ("no-rewards", lambda t: re.sub(r'\[\[rewards\]\]\nname = "[a-z-]+"\n(weight = 0.5\n)?',
                                    "", t), "no [[rewards]]"),
    ("no-model", sub('[model]\nsource = "Qwen/Qwen2.5-Math-1.5B"\n', ""), "[model].source"),
]


def test_broken_table_is_large():
    assert len(BROKEN) >= 30


@pytest.mark.parametrize(("case", "edit", "expected"), BROKEN, ids=[b[0] for b in BROKEN])
def test_broken_recipe_is_one_line_naming_file_and_key(tmp_path, case, edit, expected):
    path = write(tmp_path, edit(textwrap.dedent(GOOD)), f"{case}.toml")
    result = CliRunner().invoke(main, ["recipe", "check", str(path)])
    assert result.exit_code == 2, (result.output, result.exception)
    lines = result.stderr.strip().splitlines()
    assert len(lines) == 1, result.stderr
    assert str(path) in lines[0] and expected in lines[0], lines[0]
    assert "Traceback" not in result.output


def test_invalid_utf8_names_file_and_line(tmp_path):
    path = tmp_path / "bytes.toml"
    path.write_bytes(textwrap.dedent(GOOD).encode() + b"\n# caf\xe9\n")
    out = gmr("recipe", "check", str(path))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and str(path) in lines[0] and "not valid UTF-8" in lines[0]
    assert f"line {len(textwrap.dedent(GOOD).splitlines()) + 2}:" in lines[0]


def test_reward_column_missing_from_dataset(tmp_path, thirdparty_site):
    path = write(tmp_path, sub('name = "exact-answer"', 'name = "needs-solution"')(
        textwrap.dedent(GOOD)))
    out = gmr("recipe", "check", str(path), PYTHONPATH=str(thirdparty_site))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert str(path) in line and "[[rewards]] #1 (needs-solution)" in line
    assert "solution" in line and "dataset 'arith'" in line
    good = write(tmp_path, sub('dataset = "arith"', 'dataset = "gsm8k"')(path.read_text()),
                 "gsm8k.toml")
    assert gmr("recipe", "check", str(good), "--no-trl",
               PYTHONPATH=str(thirdparty_site)).returncode == 0


def test_generations_zero_is_not_replaced_by_the_default(tmp_path):
    path = write(tmp_path, GOOD)
    with pytest.raises(GmrError, match="num_generations must be at least 2, got 0"):
        load_recipe(path, ["grpo.num_generations=0"])


def test_five_recipes_ship():
    names = {p.name for p in RECIPES}
    assert {
        "youronmath-paper.toml",
        "youronmath-released-code.toml",
        "qwen3.5-0.8b-sft-grpo.toml",
        "smollm2-arith-cpu.toml",
        "tiny.toml",
    } <= names


@pytest.mark.parametrize("path", RECIPES, ids=lambda p: p.name)
def test_shipped_recipe_validates_with_trl(path):
    from gamermath.engine.trl_config import check_trl_configs

    recipe = load_recipe(path)
    assert recipe.rewards and recipe.model.source
    check_trl_configs(recipe)


def test_typed_sections_and_trl_defaults(tmp_path):
    from importlib.metadata import version

    import trl

    recipe = load_recipe(write(tmp_path, GOOD))
    assert recipe.lora.r == 16 and recipe.lora.alpha == 32.0
    assert recipe.data.dataset == "arith" and recipe.sft_enabled
    assert recipe.grpo.trl["learning_rate"] == 5e-5
    assert recipe.grpo.trl["max_completion_length"] == 256  # gmr's default
    assert recipe.origins["grpo.max_completion_length"] == "gmr default"
    defaults = trl.GRPOConfig.__dataclass_fields__
    for key in ("beta", "temperature", "loss_type", "scale_rewards", "weight_decay", "epsilon"):
        assert recipe.grpo.trl[key] == defaults[key].default, key
        assert recipe.origins[f"grpo.{key}"] == f"TRL {version('trl')} default"
    assert recipe.sft.trl["learning_rate"] == 2e-4
    with pytest.raises(AttributeError):
        recipe.lora.r = 8  # frozen


def test_aliases_and_overrides_are_typed(tmp_path):
    path = write(tmp_path, GOOD)
    recipe = load_recipe(
        path,
        ["grpo.learning_rate=1e-4", "grpo.generations=2", "grpo.gradient_checkpointing=false",
         "rewards.exact-answer.weight=2", "run.seed=7", "data.limit=10"],
    )
    g = recipe.grpo.trl
    assert g["learning_rate"] == 1e-4 and isinstance(g["learning_rate"], float)
    assert g["num_generations"] == 2 and "generations" not in g
    assert g["gradient_checkpointing"] is False
    assert recipe.rewards[0].weight == 2.0
    assert recipe.run.seed == 7 and recipe.data.limit == 10
    assert recipe.run.output_dir == str(Path("runs") / "r")
    assert recipe.origins["grpo.num_generations"] == "--set"


def test_show_prints_every_trl_default_and_round_trips(tmp_path):
    recipe = load_recipe(write(tmp_path, GOOD))
    text = recipe.to_toml(annotate=True)
    parsed = tomllib.loads(text)
    for key in ("beta", "temperature", "loss_type", "warmup_steps", "weight_decay",
                "scale_rewards", "max_grad_norm", "lr_scheduler_type"):
        assert key in parsed["grpo"], key
    assert "# TRL " in text and "# gmr default" in text
    again = load_recipe(write(tmp_path, text, "shown.toml"))
    assert again.flat() == recipe.flat()
    assert again.differences(recipe) == []


def test_differences_name_the_changed_keys(tmp_path):
    path = write(tmp_path, GOOD)
    a = load_recipe(path)
    b = load_recipe(path, ["grpo.beta=0.1", "rewards.format.weight=0.2"])
    changed = a.differences(b)
    assert changed == ["grpo.beta: 0.0 -> 0.1", "rewards.format.weight: 0.5 -> 0.2"]


def test_cli_check_show_and_errors(tmp_path):
    good = write(tmp_path, GOOD)
    ok = gmr("recipe", "check", str(good))
    assert ok.returncode == 0 and ok.stdout.startswith("ok: "), ok.stderr
    bad = write(tmp_path, GOOD.replace("learning_rate", "learnig_rate"), "bad.toml")
    out = gmr("recipe", "check", str(bad))
    assert out.returncode == 2
    lines = out.stderr.strip().splitlines()
    assert len(lines) == 1 and "did you mean learning_rate?" in lines[0]
    assert "Traceback" not in out.stderr
    shown = gmr("recipe", "show", str(good), "--set", "grpo.lr=3e-4")
    assert shown.returncode == 0
    assert tomllib.loads(shown.stdout)["grpo"]["learning_rate"] == 3e-4
    train = gmr("train", str(bad))  # validation happens before anything heavy
    assert train.returncode == 2 and "did you mean learning_rate?" in train.stderr


def test_check_catches_what_only_trl_knows(tmp_path):
    """A value TRL's own config rejects fails at `gmr recipe check`, not after SFT."""
    path = write(tmp_path, GOOD + "\n[eval]\nheldout = 0\n")
    out = gmr("recipe", "check", str(path), "--set", "grpo.generation_batch_size=6")
    assert out.returncode == 2 and "Traceback" not in out.stderr
    line = out.stderr.strip().splitlines()[-1]
    assert str(path) in line and "[grpo]" in line


def test_validation_does_not_import_torch(tmp_path):
    path = write(tmp_path, GOOD)
    load_recipe(path)  # fills the TRL field cache of this environment
    code = (
        "import sys; from gamermath.recipe import load_recipe; "
        f"load_recipe({str(path)!r}); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)


def test_trl_field_table_is_never_silently_empty(tmp_path):
    """Without an importable TRL the recipe fails loudly instead of accepting no fields."""
    path = write(tmp_path, GOOD)
    blocker = tmp_path / "blocker"
    (blocker / "trl").mkdir(parents=True)
    (blocker / "trl" / "__init__.py").write_text("raise ImportError('trl is broken here')\n")
    out = gmr("recipe", "check", str(path), "--no-trl", PYTHONPATH=str(blocker),
              GMR_CACHE_DIR=str(tmp_path / "cache"))
    assert out.returncode == 2 and "Traceback" not in out.stderr
    assert "cannot read the fields of TRL's" in out.stderr and "trl is broken here" in out.stderr


def test_readme_recipe_keys_are_generated_from_the_dataclasses():
    from gamermath.recipe.docs import README_BEGIN, README_END, keys_markdown

    text = (REPO / "README.md").read_text(encoding="utf-8")
    assert README_BEGIN in text and README_END in text
    block = text.split(README_BEGIN, 1)[1].split(README_END, 1)[0]
    assert block.strip() == keys_markdown().strip(), (
        "README recipe keys drifted: regenerate with `gmr recipe keys --markdown`"
    )


# -- one source of defaults: planner and engine ------------------------------------------------


@pytest.mark.parametrize("path", [p for p in RECIPES if p.name != "tiny.toml"],
                         ids=lambda p: p.name)
def test_planner_and_engine_see_the_same_values(path, tmp_path):
    """The planner's training shape equals what the engine hands TRL, key by key."""
    from gamermath.engine.trl_config import make_config, trainer_args
    from gamermath.recipe.shape import shape_from_recipe

    recipe = load_recipe(path, check_plugins=False)
    for stage in (["sft"] if recipe.sft_enabled else []) + ["grpo"]:
        shape = shape_from_recipe(recipe, stage)
        args = trainer_args(recipe, stage, str(tmp_path))
        args.update(bf16=False, fp16=False, use_cpu=True)
        config = make_config(recipe, stage, args)
        assert shape.per_device_train_batch_size == config.per_device_train_batch_size
        assert shape.gradient_accumulation_steps == config.gradient_accumulation_steps
        assert shape.gradient_checkpointing == config.gradient_checkpointing
        assert shape.lora_rank == (recipe.lora.r if recipe.lora.enabled else None)
        if stage == "grpo":
            assert shape.completion_tokens == config.max_completion_length
            assert shape.num_generations == config.num_generations
            assert shape.beta == config.beta
            assert shape.generation_batch == config.generation_batch_size
        else:
            assert shape.prompt_tokens == config.max_length


def test_planner_reads_load_in_4bit(tmp_path):
    from gamermath.planner import estimate, resolve_architecture
    from gamermath.recipe.shape import shape_from_recipe

    path = REPO / "recipes" / "youronmath-paper.toml"
    plain = load_recipe(path, check_plugins=False)
    quant = load_recipe(path, ["model.load_in_4bit=true"], check_plugins=False)
    assert shape_from_recipe(quant).quantization == "4bit"
    arch = resolve_architecture(plain.model.source)
    saved = estimate(arch, shape_from_recipe(plain)).peak_total - estimate(
        arch, shape_from_recipe(quant)).peak_total
    assert saved > 1.5 * 2**30  # 1.5B weights: bf16 -> NF4 saves over 1.5 GiB


def test_plan_resolves_a_third_party_model_source(tmp_path, thirdparty_site, tiny_model):
    models = tmp_path / "models"
    models.mkdir()
    (models / "mini").symlink_to(tiny_model)
    out = gmr("plan", str(REPO / "recipes" / "youronmath-paper.toml"), "--set",
              "model.source=fixture:mini", "--json", PYTHONPATH=str(thirdparty_site),
              GMR_FIXTURE_MODELS=str(models))
    assert out.returncode == 0, out.stderr
    import json

    plan = json.loads(out.stdout)
    from transformers import AutoConfig

    config = AutoConfig.from_pretrained(tiny_model)
    assert plan["params"] > 0 and plan["model"] == "fixture:mini"
    assert config.num_hidden_layers == 2


def test_reward_runtime_keys_reach_the_runtime(tmp_path):
    recipe = load_recipe(write(tmp_path, GOOD), [
        "rewards.exact-answer.timeout_policy=skip", "run.reward_memory_mb=512",
        "run.reward_cpu_s=2.5"])
    terms = recipe.rewards
    assert [t.timeout_policy for t in terms] == ["skip", "fallback"]
    assert (recipe.run.reward_memory_mb, recipe.run.reward_cpu_s) == (512, 2.5)
