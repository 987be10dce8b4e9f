"""Recipes: the shipped ones validate, every kind of mistake is one line with exit code 2."""

from __future__ import annotations

import subprocess
import sys
import textwrap
from pathlib import Path

import pytest

from gamermath.errors import GmrError
from gamermath.recipe import load_recipe, tomllib

REPO = Path(__file__).resolve().parents[1]
RECIPES = sorted((REPO / "recipes").glob("*.toml"))

GOOD = """
[model]
source = "Qwen/Qwen2.5-Math-1.5B"

[data]
dataset = "gsm8k"

[[rewards]]
name = "exact-answer"

[grpo]
num_generations = 4
per_device_train_batch_size = 4
learning_rate = 5e-5
"""


def write(tmp_path: Path, text: str, name: str = "r.toml") -> Path:
    path = tmp_path / name
    path.write_text(textwrap.dedent(text), encoding="utf-8")
    return path


def gmr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gamermath", *args], capture_output=True, text=True, timeout=120
    )


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
def test_shipped_recipe_validates(path):
    recipe = load_recipe(path)
    assert recipe["rewards"] and recipe["model"]["source"]


def test_paper_recipe_says_what_the_paper_says():
    r = load_recipe(REPO / "recipes" / "youronmath-paper.toml")
    assert r["model"]["source"] == "Qwen/Qwen2.5-Math-1.5B"
    assert r["model"]["attention"] == "flash_attention_2"
    assert (r["lora"]["r"], r["lora"]["alpha"]) == (16, 32)
    assert r["lora"]["target_modules"] == ["q_proj", "k_proj", "v_proj", "o_proj"]
    assert [(x["name"], x["weight"]) for x in r["rewards"]] == [
        ("exact-answer", 1.0),
        ("format", 0.5),
    ]
    g = r["grpo"]
    assert (g["per_device_train_batch_size"], g["gradient_accumulation_steps"]) == (1, 4)
    assert g["learning_rate"] == 5e-5 and g["num_train_epochs"] == 1.0
    assert g["optim"].startswith("adamw")
    assert r["data"]["dataset"] == "gsm8k" and r["data"]["split"] == "train"


def test_released_code_and_card_recipes():
    code = load_recipe(REPO / "recipes" / "youronmath-released-code.toml")
    assert len(code["lora"]["target_modules"]) == 7 and code["lora"]["dropout"] == 0.05
    g = code["grpo"]
    assert (g["learning_rate"], g["num_generations"], g["max_completion_length"]) == (2e-5, 2, 150)
    assert (g["max_prompt_length"], g["max_grad_norm"], g["fp16"]) == (128, 0.1, True)
    assert (g["per_device_train_batch_size"], g["gradient_accumulation_steps"]) == (4, 4)
    assert code["data"]["shots"] == 2
    card = load_recipe(REPO / "recipes" / "qwen3.5-0.8b-sft-grpo.toml")
    assert card.sft_enabled
    c = card["grpo"]
    assert (c["num_generations"], c["learning_rate"], c["beta"]) == (8, 1e-6, 0.04)
    assert c["max_completion_length"] == 512
    assert sum(x["weight"] for x in card["rewards"]) == pytest.approx(1.5)


def test_aliases_and_overrides_are_typed(tmp_path):
    path = write(tmp_path, GOOD)
    recipe = load_recipe(
        path,
        ["grpo.learning_rate=1e-4", "grpo.generations=2", "grpo.gradient_checkpointing=false",
         "rewards.exact-answer.weight=2", "run.seed=7", "data.limit=10"],
    )
    g = recipe["grpo"]
    assert g["learning_rate"] == 1e-4 and isinstance(g["learning_rate"], float)
    assert g["num_generations"] == 2 and "generations" not in g
    assert g["gradient_checkpointing"] is False
    assert recipe["rewards"][0]["weight"] == 2.0
    assert recipe["run"]["seed"] == 7 and recipe["data"]["limit"] == 10
    assert recipe["run"]["output_dir"] == str(Path("runs") / "r")


def test_show_round_trips(tmp_path):
    recipe = load_recipe(write(tmp_path, GOOD))
    shown = write(tmp_path, recipe.to_toml(), "shown.toml")
    again = load_recipe(shown)
    parsed = tomllib.loads(recipe.to_toml())
    assert parsed["grpo"]["learning_rate"] == 5e-5
    assert again.data["grpo"] == recipe.data["grpo"]
    assert again.data["rewards"] == recipe.data["rewards"]


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        (GOOD.replace("learning_rate", "learnig_rate"),
         "unknown key [grpo].learnig_rate; did you mean learning_rate?"),
        (GOOD + "\n[lora]\nrr = 8\n", "unknown key [lora].rr; did you mean r?"),
        (GOOD + "\n[evals]\nheldout = 3\n", "unknown section [evals]; did you mean eval?"),
        (GOOD.replace("learning_rate = 5e-5", 'learning_rate = "fast"'),
         "[grpo].learning_rate must be a number, got string"),
        (GOOD + "\n[lora]\nr = 1.5\n", "[lora].r must be an integer, got number"),
        (GOOD.replace('name = "exact-answer"', 'name = "exact-anser"'),
         "unknown reward 'exact-anser'. Did you mean 'exact-answer'? Installed:"),
        (GOOD.replace('dataset = "gsm8k"', 'dataset = "gsm9k"'),
         "unknown dataset 'gsm9k'. Did you mean 'gsm8k'? Installed:"),
        (GOOD.replace('"Qwen/Qwen2.5-Math-1.5B"', '"s3://bucket/model"'),
         "no model source handles 's3://bucket/model'"),
        (GOOD.replace("num_generations = 4", "num_generations = 3"),
         "must be divisible by num_generations (3)"),
        (GOOD + '\n[grpo.x]\n', "unknown key [grpo].x"),
        (GOOD.replace("[grpo]", "[grpo]\noutput_dir = 'x'"), "use [run].output_dir"),
    ],
)
def test_bad_recipe_is_one_line(tmp_path, body, expected):
    path = write(tmp_path, body)
    with pytest.raises(GmrError) as info:
        load_recipe(path)
    message = info.value.format_message()
    assert expected in message and "\n" not in message
    assert message.startswith(str(path)) or "unknown" in message or "model source" in message


def test_cli_check_and_errors(tmp_path):
    good = write(tmp_path, GOOD)
    ok = gmr("recipe", "check", str(good))
    assert ok.returncode == 0 and ok.stdout.startswith("ok: ")
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


def test_validation_does_not_import_torch(tmp_path):
    path = write(tmp_path, GOOD)
    code = (
        "import sys; from gamermath.recipe import load_recipe; "
        f"load_recipe({str(path)!r}); assert 'torch' not in sys.modules, 'torch imported'"
    )
    subprocess.run([sys.executable, "-c", code], check=True, timeout=60)
