"""``gmr reward score`` and ``gmr reward check`` as real subprocesses, and the battery itself."""

from __future__ import annotations

import json
import subprocess
import sys

import pytest

from gamermath.rewards import faulty
from gamermath.rewards.check import battery, run_check
from gamermath.rewards.runner import RewardRunner
from gamermath.specs import Reward

GMR = [sys.executable, "-m", "gamermath"]


def gmr(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*GMR, *args], capture_output=True, text=True, timeout=timeout, check=False
    )


def write_rows(path, rows):
    path.write_text("".join(json.dumps(r) + "\n" for r in rows), encoding="utf-8")
    return path


ROWS = [
    {"completion": "<think>6*7</think>\n#### 42", "answer": "#### 42", "id": 1},
    {"completion": [{"role": "assistant", "content": "The answer is $\\boxed{1,080}$."}],
     "answer": "... #### 1,080"},
    {"completion": "I give up.", "answer": "7"},
    {"completion": "so\n#### 42.00", "answer": "42"},
]


def test_score_writes_one_row_per_input_in_order(tmp_path):
    source = write_rows(tmp_path / "in.jsonl", ROWS)
    out = tmp_path / "out" / "scored.jsonl"
    done = gmr("reward", "score", "--reward", "exact-answer", "--input", str(source),
               "--output", str(out))
    assert done.returncode == 0, done.stderr
    rows = [json.loads(line) for line in out.read_text().splitlines()]
    assert [r["reward"] for r in rows] == [1.0, 1.0, 0.0, 1.0]
    assert all(r["status"] == "ok" and isinstance(r["seconds"], float) for r in rows)
    assert "exact-answer: 4 rows, mean reward 0.7500, ok 4, timeout 0, error 0" in done.stderr
    assert done.stdout == ""


def test_score_to_stdout_with_an_option(tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "3 + 4 = 7", "answer": "7"}])
    plain = gmr("reward", "score", "--reward", "exact-answer", "--input", str(source))
    fallback = gmr("reward", "score", "--reward", "exact-answer", "--input", str(source),
                   "--option", "last_number_fallback=true")
    assert json.loads(plain.stdout)["reward"] == 0.0
    assert json.loads(fallback.stdout)["reward"] == 1.0


def test_score_format_with_the_card_preset(tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "<think>x</think>\n#### 3"}])
    done = gmr("reward", "score", "--reward", "format", "--option", "preset=qwen3.5-card",
               "--input", str(source))
    assert done.returncode == 0, done.stderr
    assert json.loads(done.stdout)["reward"] == pytest.approx(0.5)


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--reward", "exact-anser"], "unknown reward 'exact-anser'"),
        (["--reward", "exact-answer", "--option", "nope=1"], "has no option 'nope'"),
        (["--reward", "sympy-equivalence", "--option", "exact_numbers"], "KEY=VALUE"),
    ],
)
def test_score_errors_are_one_line(tmp_path, args, message):
    source = write_rows(tmp_path / "in.jsonl", ROWS)
    done = gmr("reward", "score", *args, "--input", str(source))
    assert done.returncode == 2
    assert message in done.stderr and "Traceback" not in done.stderr


def test_score_names_a_missing_column_and_a_bad_line(tmp_path):
    source = write_rows(tmp_path / "in.jsonl", [{"completion": "#### 1", "solution": "1"}])
    done = gmr("reward", "score", "--reward", "exact-answer", "--input", str(source))
    assert done.returncode == 2
    assert "row 1 lacks column 'answer'" in done.stderr
    broken = tmp_path / "broken.jsonl"
    broken.write_text('{"completion": "x", "answer": "1"}\n{not json\n')
    done = gmr("reward", "score", "--reward", "exact-answer", "--input", str(broken))
    assert done.returncode == 2 and "line 2: not JSON" in done.stderr
    done = gmr("reward", "score", "--reward", "exact-answer", "--input", str(tmp_path / "no"))
    assert done.returncode == 2 and "does not exist" in done.stderr


@pytest.mark.parametrize("name", ["exact-answer", "sympy-equivalence", "format"])
def test_check_passes_on_the_builtins(name):
    done = gmr("reward", "check", name, timeout=300)
    assert done.returncode == 0, done.stdout + done.stderr
    assert f"{name}: no contract violations" in done.stderr
    for case in ("1 MB", "invalid Unicode", "huge exponents", "batch of 512"):
        assert case in done.stdout


def test_check_passes_on_the_template_plugin():
    done = gmr("reward", "check", "repetition-penalty", timeout=300)
    if "unknown reward 'repetition-penalty'" in done.stderr:
        pytest.skip("gmr-reward-template is not installed")
    assert done.returncode == 0, done.stdout + done.stderr


def test_check_unknown_reward_is_a_one_line_error():
    done = gmr("reward", "check", "nope")
    assert done.returncode == 2 and "unknown reward 'nope'" in done.stderr


@pytest.fixture(scope="module")
def runner():
    with RewardRunner(workers=2) as shared:
        yield shared


def _reward(score, **kwargs) -> Reward:
    return Reward(name=f"faulty-{score.__name__}", score=score, description="t", **kwargs)


@pytest.mark.parametrize(
    ("score", "kwargs", "expected"),
    [
        (faulty.returns_nan, {}, "NaN or infinite"),
        (faulty.returns_text, {}, "non-float"),
        (faulty.always_raises, {}, "exception: ValueError"),
        (faulty.out_of_range, {}, "value 5 outside the declared range [0, 1]"),
        (faulty.slow_on_long, {"timeout": 0.5}, "time over budget"),
        (faulty.length_score, {"cache_key": faulty.returns_text}, "maps to two scores"),
        (faulty.length_score, {"output_range": (1.0, 0.0)}, "is not a finite [low, high]"),
    ],
)
def test_check_reports_each_kind_of_violation(runner, score, kwargs, expected):
    reports = run_check(_reward(score, **kwargs), runner)
    violations = [v for r in reports for v in r.violations]
    assert any(expected in v for v in violations), violations


def test_check_is_clean_on_a_well_behaved_reward(runner):
    reports = run_check(_reward(faulty.length_score), runner)
    assert [v for r in reports for v in r.violations] == []
    names = [r.name for r in reports]
    assert names[0] == "declaration" and names[-1] == "cache_key"
    assert {c.name for c in battery()} <= set(names)
    assert next(r for r in reports if r.name == "batch of 512").samples == 512
