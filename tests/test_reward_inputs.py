"""Bad input never gives a traceback: ``gmr reward score`` arguments and rows, and malformed
data files (one line naming file:line, exit code 2); ``gmr rewards list`` shows options."""

from __future__ import annotations

import json
import os
import subprocess
import sys

import pytest

from gamermath.data.rows import load_rows
from gamermath.errors import GmrError

GMR = [sys.executable, "-m", "gamermath"]


def gmr(*args: str, timeout: float = 120) -> subprocess.CompletedProcess:
    return subprocess.run(
        [*GMR, *args], capture_output=True, text=True, timeout=timeout, check=False,
        env={**os.environ, "COLUMNS": "300"},  # rich tables unwrapped
    )


def chat(content) -> dict:
    return {"completion": [{"role": "assistant", "content": content}], "answer": "5"}


@pytest.mark.parametrize(
    ("line", "message"),
    [
        (json.dumps(chat([None])), "line 1: 'completion' message 1 content part 1 must be an "
                                   "object, not null"),
        (json.dumps(chat([5])), "content part 1 must be an object, not a number"),
        (json.dumps(chat([{"type": "text", "text": None}])), "part 1 text must be a string, "
                                                             "not null"),
        (json.dumps(chat([{"type": "text", "text": 7}])), "text must be a string, not a number"),
        (json.dumps(chat(5)), "content must be a string or a list of parts, not a number"),
        (json.dumps({"completion": 5, "answer": "5"}), "must be a string or chat messages"),
        ("[" * 100_000 + "]" * 100_000, "line 1: JSON nested too deeply"),
        ('{"completion": ' + "[" * 100_000 + "]" * 100_000 + "}", "JSON nested too deeply"),
    ],
)
def test_malformed_rows_are_one_line_errors(tmp_path, line, message):
    source = tmp_path / "rows.jsonl"
    source.write_text(line + "\n", encoding="utf-8")
    done = gmr("reward", "score", "--reward", "exact-answer", "--input", str(source))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1


@pytest.mark.parametrize(
    ("args", "message"),
    [
        (["--timeout", "inf"], "inf is not a positive number of seconds"),
        (["--timeout", "nan"], "nan is not a positive number of seconds"),
        (["--timeout", "0"], "0 is not a positive number of seconds"),
        (["--timeout", "-2"], "-2 is not a positive number of seconds"),
        (["--workers", "0"], "0 is not in the range x>=1"),
        (["--reward", "format", "--option", "preset=papr"],
         "reward 'format' option 'preset': unknown format preset 'papr'; known: paper, "
         "qwen3.5-card"),
        (["--reward", "format", "--option", "regex=[0-"], "is not a valid regular expression"),
        (["--reward", "format", "--option", "hash=lots"], "expects a float, got 'lots'"),
    ],
)
def test_bad_arguments_are_rejected_before_scoring(tmp_path, args, message):
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps({"completion": "#### 5", "answer": "5"}) + "\n")
    if "--reward" not in args:
        args = ["--reward", "exact-answer", *args]
    done = gmr("reward", "score", *args, "--input", str(source))
    assert done.returncode == 2, done.stderr
    assert message in done.stderr and "Traceback" not in done.stderr
    assert len(done.stderr.strip().splitlines()) == 1, done.stderr


def test_output_that_cannot_be_written_is_named(tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps({"completion": "#### 5", "answer": "5"}) + "\n")
    done = gmr("reward", "score", "--reward", "exact-answer", "--input", str(source),
               "--output", str(tmp_path))
    assert done.returncode == 2 and "is a directory; give a file name" in done.stderr
    done = gmr("reward", "score", "--reward", "exact-answer", "--input", str(source),
               "--output", str(source / "out.jsonl"))
    assert done.returncode == 2 and "is a file, not a directory" in done.stderr
    done = gmr("reward", "score", "--reward", "exact-answer", "--input", str(tmp_path))
    assert done.returncode == 2 and "is a directory, not a JSONL file" in done.stderr


def test_every_row_failing_exits_1(tmp_path):
    source = tmp_path / "rows.jsonl"
    source.write_text(json.dumps({"completion": "x" * 200_000}) + "\n" * 2)
    done = gmr("reward", "score", "--reward", "format", "--option", "regex=(x+x+)+y",
               "--option", "regex_weight=1", "--timeout", "0.5", "--input", str(source))
    assert done.returncode == 1, done.stderr
    assert "format: every row failed; first failure: no result within 0.5 s" in done.stderr
    assert json.loads(done.stdout)["status"] == "timeout"


def test_list_shows_typed_options_and_the_timeout():
    done = gmr("rewards", "list")
    assert done.returncode == 0, done.stderr
    out = " ".join(done.stdout.split())
    for expected in ("exact-answer", "2 s", "last_number_fallback: bool = false",
                     "sympy-equivalence", "5 s", "exact_numbers: bool = true",
                     'preset: str = ""', "regex_weight: float = 0.0"):
        assert expected in out, expected


def write_gsm8k(tmp_path, data: bytes):
    folder = tmp_path / "gsm8k"
    folder.mkdir()
    (folder / "test.jsonl").write_bytes(data)
    return tmp_path


@pytest.mark.parametrize(
    ("data", "message"),
    [
        (b'{"question": "q", "answer": "a #### 5"}\n{"question": "q\xff", "answer": "#### 3"}\n',
         "test.jsonl:2: not UTF-8"),
        (b'{"question": "q", "answer": 5}\n', "test.jsonl:1: gsm8k 'answer' must be a string, "
                                              "not int"),
        (b'{"question": "q", "answer": "work\\n#### "}\n', "test.jsonl:1: gsm8k answer has no "
                                                         "'#### N' final line"),
        (b"[" * 100_000 + b"]" * 100_000 + b"\n", "test.jsonl:1: JSON nested too deeply"),
    ],
)
def test_malformed_data_files_name_file_and_line(tmp_path, data, message):
    write_gsm8k(tmp_path, data)
    with pytest.raises(GmrError, match=message):
        load_rows("gsm8k", "test", tmp_path)


def test_a_trailing_blank_after_the_gold_is_not_part_of_it(tmp_path):
    write_gsm8k(tmp_path, b'{"question": "q", "answer": "3 + 4 = 7\\n#### 7  "}\n')
    assert load_rows("gsm8k", "test", tmp_path)[0]["answer"] == "7"
