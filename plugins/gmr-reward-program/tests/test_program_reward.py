"""The ``program`` reward: extraction, comparison, options, the runner, templates and recipe."""

from __future__ import annotations

import glob
import json
import os
import subprocess
import sys
import tempfile
from pathlib import Path

import pytest
from gmr_reward_program import templates
from gmr_reward_program.reward import OPTIONS, cache_key, evaluate, extract_program, score
from gmr_reward_program.sandbox import WORKDIR_PREFIX

from gamermath.errors import GmrError
from gamermath.recipe import load_recipe
from gamermath.rewards.runner import RewardRunner

REPO = Path(__file__).resolve().parents[3]
GOLD = {"answer": "72"}
BODY = {**OPTIONS, "extract": "solution-body", "tolerance": 1e-3, "wall_s": 1.0}


def fenced(code: str, prose: str = "Let me write a program.") -> str:
    return f"{prose}\n```python\n{code}\n```\nThat prints the answer."


NATALIA = "april = 48\nmay = april // 2\nprint(april + may)"


def test_a_correct_program_scores_one_and_a_wrong_one_zero():
    assert score(fenced(NATALIA), GOLD, OPTIONS) == 1.0
    assert score(fenced(NATALIA.replace("// 2", "// 3")), GOLD, OPTIONS) == 0.0


def test_the_answer_is_the_last_printed_line_of_the_last_block():
    two_blocks = fenced("print(1)") + "\nFixed:\n" + fenced("print('work: 48 + 24')\nprint(72)")
    assert score(two_blocks, GOLD, OPTIONS) == 1.0
    assert score(fenced("print(72)\nprint('done')"), GOLD, OPTIONS) == 0.0


def test_without_a_runnable_program_nothing_runs_and_it_scores_zero():
    for text in ("The answer is 72.", "```python\nprint(72)\n", "```\nprint(72)\n```", ""):
        value, result = evaluate(text, GOLD, OPTIONS)
        assert (value, result) == (0.0, None)
    too_long = fenced("print(72)\n" + "#" * OPTIONS["max_code_chars"])
    assert evaluate(too_long, GOLD, OPTIONS) == (0.0, None)


def test_a_failing_program_scores_zero_even_after_printing_the_answer():
    value, result = evaluate(fenced("print(72)\nraise ValueError('oops')"), GOLD, OPTIONS)
    assert value == 0.0 and result.status == "error" and "ValueError: oops" in result.stderr


def test_exact_answer_normalises_numbers_and_tolerance_is_absolute():
    assert score(fenced("print('$1,080.')"), {"answer": "1,080"}, OPTIONS) == 1.0
    assert score(fenced("print(72.0)"), GOLD, OPTIONS) == 1.0
    float_sum = fenced("print(0.1 + 0.2)")
    assert score(float_sum, {"answer": "0.3"}, OPTIONS) == 0.0
    assert score(float_sum, {"answer": "0.3"}, {**OPTIONS, "tolerance": 1e-3}) == 1.0
    assert score(fenced("print(0.302)"), {"answer": "0.3"}, {**OPTIONS, "tolerance": 1e-3}) == 0.0


def test_sympy_equivalence_compares_exact_values():
    sympy = {**OPTIONS, "compare": "sympy-equivalence"}
    program = fenced("from fractions import Fraction\nprint(Fraction(1, 3) + Fraction(1, 2))")
    assert score(program, {"answer": "\\frac{5}{6}"}, sympy) == 1.0
    assert score(program, {"answer": "\\frac{5}{7}"}, sympy) == 0.0
    assert score(fenced("print('(3, 4)')"), {"answer": "(3, 4)"}, sympy) == 1.0


# -- the YouronMath released code's "code" format (utils.py extract_final_answer_from_code) --


@pytest.mark.parametrize(
    ("body", "expected"),
    [
        ("    total = 48 + 24\n    return total\n", 1.0),  # it returns
        # no return: the last plain assignment is returned
        ("    april = 48\n    may = april / 2\n    total = april + may\n", 1.0),
        # every line with print( is dropped, assignments on it too
        ("    total = 72\n    print(total)\n    total = 0; print(total)\n", 1.0),
        ("    return 72\n\nQuestion: Next?\n\ndef solution():\n    return 0\n", 1.0),  # cut
        ("    return math.floor(72.9)\n", 1.0),  # math is imported for it
        ("    72\n", 0.0),  # neither a return nor an assignment: no answer
        ("    x = 1 / 0\n    return x\n", 0.0),  # an exception
        ("    def helper():\n        return 72\n    answer = helper()\n", 0.0),  # nested return
        ("    total = 71.9995\n", 1.0),  # within 1e-3
    ],
)
def test_solution_body_follows_the_released_code(body, expected):
    assert score(body, GOLD, BODY) == expected


def test_solution_body_prints_nothing_when_there_is_no_answer():
    value, result = evaluate("    72\n", GOLD, BODY)
    assert value == 0.0 and result.status == "ok" and result.stdout == ""


def test_solution_body_runs_in_the_sandbox_too():
    value, result = evaluate("    return open('/etc/passwd').read()\n", GOLD, BODY)
    assert value == 0.0 and result.status == "error" and "root:" not in result.stdout


# -- options, cache key -----------------------------------------------------------------------


@pytest.mark.parametrize(
    ("options", "message"),
    [
        ({"extract": "markdown"}, "option extract must be one of fenced, solution-body"),
        ({"compare": "fuzzy"}, "option compare must be one of"),
        ({"wall_s": 30}, "option wall_s must be in (0, 10]"),
        ({"memory_mb": 0}, "option memory_mb must be positive"),
        ({"require": "netns,firewall"}, "unknown layer 'firewall'"),
    ],
)
def test_bad_options_are_errors_that_name_the_option(options, message):
    with pytest.raises(ValueError, match=message.replace("(", r"\(").replace(")", r"\)")):
        score(fenced("print(72)"), GOLD, {**OPTIONS, **options})


def test_a_sandbox_that_cannot_start_the_program_is_an_error_not_a_zero(monkeypatch, tmp_path):
    """A broken installation (here: the launcher file is missing) must not score 0 quietly."""
    from gmr_reward_program import sandbox

    monkeypatch.setattr(sandbox, "JAIL_MAIN", str(tmp_path / "jail_main.py"))
    with pytest.raises(RuntimeError, match=r"the sandbox failed before the program ran \(error\)"):
        score(fenced("print(72)"), GOLD, OPTIONS)


def test_require_lets_a_run_through_when_the_layers_take_effect():
    assert score(fenced("print(72)"), GOLD, {**OPTIONS, "require": "audit,rlimits"}) == 1.0


def test_cache_key_depends_on_the_program_and_the_gold_only():
    a = fenced(NATALIA, "First prose.")
    b = fenced(NATALIA, "Other words around the same program.")
    assert cache_key(a, GOLD, OPTIONS) == cache_key(b, GOLD, OPTIONS)
    assert cache_key(a, GOLD, OPTIONS) != cache_key(a, {"answer": "71"}, OPTIONS)
    assert cache_key(a, GOLD, OPTIONS) != cache_key(fenced("print(72)"), GOLD, OPTIONS)
    assert cache_key("no code", GOLD, OPTIONS) == cache_key("", {"answer": "1"}, OPTIONS)
    assert extract_program(a, "fenced") == NATALIA + "\n"


# -- through gmr ------------------------------------------------------------------------------


def test_the_runner_never_times_out_before_the_sandbox_does():
    """The reward's own timeout exceeds its wall limit: loops and sleeps score 0 as ``ok``."""
    from gamermath import plugins

    reward = plugins.get("reward", "program")
    before = set(glob.glob(os.path.join(tempfile.gettempdir(), WORKDIR_PREFIX + "*")))
    completions = [
        fenced(NATALIA),
        fenced("print(71)"),
        fenced("while True:\n    pass"),
        fenced("import time\ntime.sleep(60)"),
    ]
    with RewardRunner(workers=2) as runner:
        results = runner.results(reward, completions, [GOLD] * 4, {"wall_s": 1.5, "cpu_s": 1})
    assert [r.reward for r in results] == [1.0, 0.0, 0.0, 0.0]
    assert [r.status for r in results] == ["ok"] * 4
    after = set(glob.glob(os.path.join(tempfile.gettempdir(), WORKDIR_PREFIX + "*")))
    assert after <= before


def gmr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run(
        [sys.executable, "-m", "gamermath", *args], capture_output=True, text=True, timeout=120,
        env=dict(os.environ, COLUMNS="200"),
    )


def test_registered_through_gmr_entry_points():
    out = gmr("rewards", "list").stdout
    assert "program" in out and "gmr-reward-program 0.1.0" in out
    plugins_out = gmr("plugins").stdout
    assert "program-of-thought" in plugins_out and "youronmath-code" in plugins_out


def test_gmr_reward_check_passes():
    proc = gmr("reward", "check", "program")
    assert proc.returncode == 0, proc.stdout + proc.stderr


# -- templates --------------------------------------------------------------------------------

ROW = {"question": "Natalia sold 48 clips in April and half as many in May. How many?"}


def test_program_of_thought_asks_for_a_printing_python_block():
    options = {"system": templates.PROGRAM_SYSTEM_PROMPT, "style": "chat"}
    messages = templates.render_program_of_thought(ROW, [], options)
    assert [m["role"] for m in messages] == ["system", "user"]
    assert "```python" in messages[0]["content"] and messages[1]["content"] == ROW["question"]
    text = templates.render_program_of_thought(ROW, [], {**options, "style": "text"})
    assert text.endswith(f"Question: {ROW['question']}\nAnswer:\n")
    with pytest.raises(GmrError, match="set shots = 0"):
        templates.render_program_of_thought(ROW, [ROW], options)
    with pytest.raises(GmrError, match="style must be chat or text"):
        templates.render_program_of_thought(ROW, [], {**options, "style": "xml"})


def test_youronmath_code_prompt_is_the_released_format(tmp_path):
    q = ROW["question"]
    target = f'Question: {q}\n\n# solution in Python:\n\ndef solution():\n    """{q}"""\n'
    options = {"examples": "", "num_examples": 2}
    assert templates.render_youronmath_code(ROW, [], options) == target
    examples = tmp_path / "gsm8k_few_shot_prompts.json"
    examples.write_text(json.dumps({
        "questions": ["Q1?", "Q2?", "Q3?"],
        "solutions": ["    a = 1\n    return a", "    return 2", "    return 3"],
    }))
    prompt = templates.render_youronmath_code(ROW, [], {**options, "examples": str(examples)})
    first = 'Question: Q1?\n\n# solution in Python:\n\ndef solution():\n    """Q1?"""\n'
    assert prompt.startswith(first + "    a = 1\n    return a\n\n")
    assert prompt.endswith("    return 2\n\n" + target) and "Q3?" not in prompt
    with pytest.raises(GmrError, match="holds 3 examples, num_examples = 4"):
        templates.render_youronmath_code(ROW, [], {"examples": str(examples), "num_examples": 4})
    with pytest.raises(GmrError, match="set shots = 0 with it"):
        templates.render_youronmath_code(ROW, [{"question": "Q", "solution": "  return 1"}],
                                         {**options, "examples": str(examples)})
    with pytest.raises(GmrError, match="option examples: .*missing.json"):
        missing = {**options, "examples": str(tmp_path / "missing.json")}
        templates.render_youronmath_code(ROW, [], missing)


def test_the_released_code_program_recipe_says_what_the_source_says():
    r = load_recipe(REPO / "recipes" / "youronmath-released-code-program.toml")
    assert (r.model.source, r.model.dtype) == ("Qwen/Qwen2.5-Math-1.5B", "float16")
    assert (r.lora.r, r.lora.alpha, r.lora.dropout) == (16, 32, 0.05)
    assert len(r.lora.target_modules) == 7
    assert r.data.template == "youronmath-code"
    assert r.data.shots == 2  # the template's 2 exemplars, the released file's first two
    fmt, program = r.rewards
    assert (fmt.name, fmt.weight, fmt.options["regex"]) == (
        "format", 0.5, "\\n    return\\s+(.+)\\n"
    )
    assert (program.name, program.weight) == ("program", 1.0)
    assert program.options == {
        "extract": "solution-body", "compare": "exact-answer", "tolerance": 1e-3, "wall_s": 1.0
    }
    g = r.grpo.trl
    assert (g["learning_rate"], g["num_generations"], g["bf16"]) == (2e-5, 2, True)
    assert (g["per_device_train_batch_size"], g["gradient_accumulation_steps"]) == (4, 4)
    assert (r.grpo.max_prompt_length, g["max_completion_length"], g["max_grad_norm"]) == (
        128, 150, 0.1
    )
    assert (r.run.seed, r.run.checkpoint_every) == (42, 100)
    # TRL 0.16's defaults, which the source ran, pinned against today's TRL
    assert (g["beta"], g["temperature"], g["top_k"], g["loss_type"]) == (0.04, 0.9, 50, "bnpo")
    assert r.origins["grpo.beta"] == "recipe"
