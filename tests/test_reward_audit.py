"""``gmr reward audit`` and its shipped labelled set: reproducible from the real data, large
and balanced, covering the adversarial kinds; the built-in rewards meet their goals on it."""

from __future__ import annotations

import json
import subprocess
import sys
from collections import Counter

import pytest

from gamermath import plugins
from gamermath.errors import GmrError
from gamermath.rewards import audit
from gamermath.rewards.audit.build import build
from gamermath.rewards.runner import RewardRunner

GMR = [sys.executable, "-m", "gamermath"]


@pytest.fixture(scope="module")
def rows():
    return audit.load_set()


def test_the_shipped_set_is_large_balanced_and_covers_the_hard_kinds(rows):
    assert len(rows) >= 2000
    labels = Counter(r["label"] for r in rows)
    assert min(labels.values()) >= 0.4 * len(rows)
    assert {r["source"] for r in rows} == {"gsm8k", "math500", "synthetic", "math500-written"}
    kinds = " ".join(r["kind"] for r in rows)
    for kind in ("hedged-boxes", "hedged-hash", "empty-box", "empty-think", "letter",
                 "2^-k-off-by-one", "near-2^99", "pm", "interval-closure", "units", "degrees",
                 "percent", "self-correction", "thousands", "dfrac", "tuple-swapped",
                 "frac-short", "tuple-spacing", "wrong-other-gold"):
        assert kind in kinds, kind
    assert any(r["completion"] == "<think></think>a" for r in rows)
    assert len({r["id"] for r in rows}) == len(rows)


def test_the_shipped_set_is_what_the_build_script_writes(rows, data_dir):
    assert build(data_dir) == rows


def test_builtin_rewards_meet_the_goals_on_the_shipped_set(rows):
    with RewardRunner(workers=2) as runner:
        for name in ("exact-answer", "sympy-equivalence"):
            verdicts = audit.run_reward(runner, plugins.get("reward", name), rows)
            for score in audit.scores(verdicts, rows):
                assert score.precision >= 0.995, (name, score)
                assert score.recall >= 0.99, (name, score)
                assert score.failed == 0


def test_sympy_equivalence_recall_is_never_below_plain_math_verify(rows):
    """On every subset of the shipped set, the rows models write outside a box included."""
    with RewardRunner(workers=2) as runner:
        ours = audit.run_reward(runner, plugins.get("reward", "sympy-equivalence"), rows)
    plain = audit.run_math_verify(rows)
    mine = {s.subset: s for s in audit.scores(ours, rows)}
    for reference in audit.scores(plain, rows):
        assert mine[reference.subset].recall >= reference.recall, (mine[reference.subset],
                                                                   reference)
        assert mine[reference.subset].fp <= reference.fp, reference.subset


def test_scores_count_each_cell_of_the_confusion_matrix():
    rows = [
        {"source": "gsm8k", "label": 1}, {"source": "gsm8k", "label": 1},
        {"source": "gsm8k", "label": 0}, {"source": "math500", "label": 0},
        {"source": "math500", "label": 1},
    ]
    verdicts = audit.Verdicts("x", [0, 1, 2, 3, 4], [True, False, True, False, True],
                              seconds=5.0, failed={1: "timeout: slow"})
    by_subset = {s.subset: s for s in audit.scores(verdicts, rows)}
    gsm, all_rows = by_subset["GSM8K"], by_subset["all"]
    assert (gsm.tp, gsm.fp, gsm.fn, gsm.tn, gsm.failed) == (1, 1, 1, 0, 1)
    assert gsm.precision == 0.5 and gsm.recall == 0.5 and gsm.f1 == 0.5
    assert (all_rows.tp, all_rows.fp, all_rows.fn, all_rows.tn) == (2, 1, 1, 1)
    assert all_rows.seconds == 5.0 and gsm.seconds == 3.0
    assert [m["id"] for m in audit.misses(verdicts, [{**r, "id": i, "kind": "k"}
                                                    for i, r in enumerate(rows)])] == [1, 2]


def test_audit_command_on_a_small_set(tmp_path):
    rows = [
        ("gsm8k", "#### 5", "5", 1),
        ("gsm8k", "#### 6", "5", 0),
        ("gsm8k", "#### 5", "5", 0),  # mislabelled on purpose: a false positive
        ("gsm8k", "The answer is \\boxed{5} or \\boxed{6}", "5", 0),
        ("math500", "\\boxed{\\dfrac{1}{2}}", "\\frac12", 1),
        ("math500", "\\boxed{0.5}", "\\frac12", 1),
        ("math500", "\\boxed{2}", "\\frac12", 0),
    ]
    source = tmp_path / "set.jsonl"
    source.write_text("".join(
        json.dumps({"id": f"r{i}", "source": s, "kind": "k", "completion": c, "answer": a,
                    "label": y}) + "\n"
        for i, (s, c, a, y) in enumerate(rows)
    ))
    done = subprocess.run(
        [*GMR, "reward", "audit", "--input", str(source), "--no-references", "--misses",
         str(tmp_path / "misses.jsonl")], capture_output=True, text=True, timeout=300,
        check=False,
    )
    assert done.returncode == 0, done.stderr
    lines = {tuple(c.strip() for c in line.strip("|").split("|")[:8])
             for line in done.stdout.splitlines() if line.startswith("| ")}
    assert ("GSM8K", "exact-answer", "4", "50.00", "100.00", "66.67", "1", "0") in lines
    assert ("MATH-500", "sympy-equivalence", "3", "100.00", "100.00", "100.00", "0",
            "0") in lines
    assert ("all", "sympy-equivalence", "7", "75.00", "100.00", "85.71", "1", "0") in lines
    misses = [json.loads(line) for line in (tmp_path / "misses.jsonl").read_text().splitlines()]
    assert {(m["scorer"], m["id"]) for m in misses} == {
        ("exact-answer", "r2"), ("sympy-equivalence", "r2")
    }


@pytest.mark.parametrize(
    ("text", "message"),
    [
        ('{"id": 1}\n', "set.jsonl:1: a row needs id, source, kind"),
        ('{"id": 1, "source": "x", "kind": "k", "answer": "1", "completion": "c", '
         '"label": 2}\n', "set.jsonl:1: label must be 0 or 1"),
        ("\n{oops\n", "set.jsonl:2: not a JSON object"),
    ],
)
def test_a_malformed_set_is_a_one_line_error(tmp_path, text, message):
    path = tmp_path / "set.jsonl"
    path.write_text(text)
    with pytest.raises(GmrError, match=message):
        audit.load_set(path)


@pytest.mark.slow
def test_audit_suite_prints_agreement_per_category_beside_plain_math_verify():
    done = subprocess.run([*GMR, "reward", "audit", "--suite", "math-verify", "--workers", "2"],
                          capture_output=True, text=True, timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    rows = [line.strip("|").split("|") for line in done.stdout.splitlines()
            if line.startswith("| ") and "---" not in line][1:]
    totals = {r[0].strip(): r for r in rows if r[1].strip() == "all"}
    assert set(totals) == {"boxed", "answer-is"}
    for row in totals.values():
        assert int(row[2]) == 242 and float(row[4]) >= 97.0 and row[6].strip() == "0"


@pytest.mark.slow
def test_full_audit_with_references():
    """The README's table: our rewards beside math-verify and TRL's accuracy_reward."""
    done = subprocess.run([*GMR, "reward", "audit"], capture_output=True, text=True,
                          timeout=900, check=False)
    assert done.returncode == 0, done.stderr
    for scorer in ("exact-answer", "sympy-equivalence", audit.MATH_VERIFY, audit.TRL_ACCURACY):
        assert f"| {scorer} |" in done.stdout
