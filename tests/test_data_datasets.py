"""Dataset plugins over real files: ../shared/data when present, the sample files always."""

from __future__ import annotations

import json
import re

import pytest

from gamermath.builtin import gsm8k
from gamermath.builtin.mmlu import STEM_18_SUBJECTS, STEM_SUBJECTS
from gamermath.data import load_rows, resolve_data_dir
from gamermath.data.samples import write_sample_data
from gamermath.errors import GmrError

NUMBER = re.compile(r"^-?\d{1,3}(,\d{3})*(\.\d+)?$|^-?\d+(\.\d+)?$")


@pytest.fixture
def sample_dir(tmp_path):
    return write_sample_data(tmp_path / "data")


# --- the real benchmark files (skipped without ../shared/data) -----------------------------


def test_gsm8k_row_counts_and_every_test_gold_parses(data_dir):
    train = load_rows("gsm8k", "train", data_dir)
    test = load_rows("gsm8k", "test", data_dir)
    assert (len(train), len(test)) == (7473, 1319)
    for row in test:
        assert NUMBER.match(row["answer"]), row["answer"]
        float(row["answer"].replace(",", ""))
        assert "<<" not in row["reasoning"] and "####" not in row["reasoning"]
    assert any("," in row["answer"] for row in test)  # thousands separators kept as written
    assert test[0]["answer"] == "18"


def test_math500_rows(data_dir):
    rows = load_rows("math500", "test", data_dir)
    assert len(rows) == 500
    assert {"question", "answer", "solution", "subject", "level", "unique_id"} <= set(rows[0])
    assert rows[0]["answer"] == "\\left( 3, \\frac{\\pi}{2} \\right)"
    assert all(1 <= row["level"] <= 5 for row in rows)


def test_mmlu_stem_counts_and_subject_lists(data_dir):
    assert len(STEM_SUBJECTS) == 19 and len(STEM_18_SUBJECTS) == 18
    assert "anatomy" not in STEM_18_SUBJECTS
    rows = load_rows("mmlu-stem", "test", data_dir)
    assert len(rows) == 3153
    assert {row["subject"] for row in rows} == set(STEM_SUBJECTS)
    assert all(row["answer"] in "ABCD" and len(row["choices"]) == 4 for row in rows)
    anatomy = sum(row["subject"] == "anatomy" for row in rows)
    no_anatomy = load_rows("mmlu-stem", "test", data_dir, {"subjects": "stem-18"})
    assert len(no_anatomy) == 3153 - anatomy == 3018
    dev = load_rows("mmlu-stem", "dev", data_dir)
    assert len(dev) == 5 * 19


def test_data_dir_from_environment(data_dir, monkeypatch):
    monkeypatch.setenv("GMR_DATA_DIR", str(data_dir))
    assert resolve_data_dir(None) == data_dir
    assert len(load_rows("math500", "test")) == 500


# --- the sample files (always) ---------------------------------------------------------------


def test_gsm8k_sample_rows(sample_dir):
    rows = load_rows("gsm8k", "test", sample_dir)
    assert [r["answer"] for r in rows] == ["5", "1,080", "9"]
    assert rows[1]["reasoning"] == "In total 45*24=1080 people ride."
    assert rows[1]["solution"].endswith("#### 1,080")


def test_gsm8k_gold_parsing_rules():
    assert gsm8k.final_answer("a\n#### 1,080") == "1,080"
    assert gsm8k.final_answer("a\n####  -3.5 ") == "-3.5"
    assert gsm8k.final_answer("no final line") is None
    assert gsm8k.strip_annotations("48/2 = <<48/2=24>>24") == "48/2 = 24"


def test_mmlu_sample_rows_keep_quotes_and_order(sample_dir):
    rows = load_rows(
        "mmlu-stem", "test", sample_dir, {"subjects": "abstract_algebra,college_physics"}
    )
    assert [r["answer"] for r in rows] == ["C", "B", "C"]
    assert rows[2]["stem"].startswith('A "point mass"')
    assert rows[0]["question"].splitlines()[1:] == ["A. 2", "B. 3", "C. 6", "D. 12"]


def test_math500_sample_rows(sample_dir):
    rows = load_rows("math500", "test", sample_dir)
    assert [r["answer"] for r in rows] == ["1024", "\\frac{3}{4}"]


# --- errors ----------------------------------------------------------------------------------


def test_missing_data_dir_and_no_hub_is_one_line(tmp_path):
    with pytest.raises(GmrError) as info:
        load_rows("gsm8k", "test", tmp_path / "nowhere")
    message = info.value.format_message()
    assert "\n" not in message
    assert message.startswith("gsm8k: no local files under")
    assert str(tmp_path / "nowhere" / "gsm8k" / "test.jsonl") in message
    assert "--data-dir" in message and "GMR_DATA_DIR" in message


def test_no_data_dir_at_all_names_the_flag(monkeypatch):
    monkeypatch.delenv("GMR_DATA_DIR", raising=False)
    with pytest.raises(GmrError, match=r"math500: no --data-dir or GMR_DATA_DIR given .*"):
        load_rows("math500", "test")


def test_malformed_jsonl_names_file_and_line(sample_dir):
    path = sample_dir / "gsm8k" / "test.jsonl"
    lines = path.read_text().splitlines()
    lines[1] = json.dumps({"question": "no answer key"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GmrError, match=rf"{re.escape(str(path))}:2: missing key 'answer'"):
        load_rows("gsm8k", "test", sample_dir)
    lines[1] = "{not json"
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GmrError, match=rf"{re.escape(str(path))}:2: not valid JSON"):
        load_rows("gsm8k", "test", sample_dir)
    lines[1] = json.dumps({"question": "q", "answer": "steps but no final line"})
    path.write_text("\n".join(lines) + "\n")
    with pytest.raises(GmrError, match=rf"{re.escape(str(path))}:2: .*no '#### N'"):
        load_rows("gsm8k", "test", sample_dir)


def test_malformed_csv_names_file_and_line(sample_dir):
    path = sample_dir / "mmlu" / "test" / "abstract_algebra_test.csv"
    with open(path, "a", encoding="utf-8") as handle:
        handle.write("a question,1,2,3\n")
    options = {"subjects": "abstract_algebra"}
    with pytest.raises(GmrError, match=rf"{re.escape(str(path))}:3: expected 6 columns, found 4"):
        load_rows("mmlu-stem", "test", sample_dir, options)
    path.write_text("q,1,2,3,4,E\n")
    with pytest.raises(GmrError, match=rf"{re.escape(str(path))}:1: answer must be one of"):
        load_rows("mmlu-stem", "test", sample_dir, options)


def test_unknown_dataset_split_and_option():
    with pytest.raises(GmrError, match=r"unknown dataset 'gsm8kk'.*Did you mean 'gsm8k'"):
        load_rows("gsm8kk", "test")
    with pytest.raises(GmrError, match=r"dataset 'math500' has no split 'train'; splits: test"):
        load_rows("math500", "train")
    with pytest.raises(GmrError, match=r"dataset 'arith' has no option 'digit'"):
        load_rows("arith", "test", options={"digit": 3})
