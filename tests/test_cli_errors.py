"""click's usage errors (an unknown option, a bad value, a missing argument, a recipe path
that is a directory) are gmr's one line with exit code 2, in every command: the group turns
them into ``GmrError`` before click prints its three-line usage block."""

from __future__ import annotations

import subprocess
import sys

import pytest


def gmr(*args: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gamermath", *args], capture_output=True,
                          text=True, timeout=120)


@pytest.mark.parametrize(
    ("args", "command", "message"),
    [
        (["train", "{tmp}"], "train", "invalid value for '[RECIPE]': File '{tmp}' is a directory"),
        (["recipe", "check", "{tmp}"], "recipe check", "is a directory"),
        (["report", "--bogus"], "report", "no such option '--bogus'"),
        (["reward", "score", "--reward", "exact-answer", "--timeout", "soon"], "reward score",
         "invalid value for '--timeout': 'soon' is not a valid float"),
        (["reward", "check", "exact-answer", "--workers", "0"], "reward check",
         "invalid value for '--workers': 0 is not in the range x>=1"),
        (["reward", "check", "exact-answer", "--timeout", "3"], "reward check",
         "no such option '--timeout'"),
        (["eval", "--model", "x"], "eval", "missing option '--harness'"),
        (["evals", "list", "--bogus"], "evals list", "no such option '--bogus'"),
        (["nosuch"], "", "no such command 'nosuch'"),
    ],
)
def test_usage_errors_are_one_line_exit_2(tmp_path, args, command, message):
    done = gmr(*(a.format(tmp=tmp_path) for a in args))
    assert done.returncode == 2, done.stderr
    lines = done.stderr.strip().splitlines()
    assert len(lines) == 1, done.stderr
    where = " ".join(["-m gamermath", command]).strip()
    assert lines[0].startswith("Error: ") and f"{where}: " in lines[0], lines[0]
    assert message.format(tmp=tmp_path) in lines[0]
    assert lines[0].endswith(f"{where} --help)"), lines[0]
    assert "Usage:" not in done.stderr and "Traceback" not in done.stderr


def test_help_and_a_bare_group_still_print_help():
    done = gmr("reward", "--help")
    assert done.returncode == 0 and "Usage:" in done.stdout
    done = gmr("evals")
    assert "Usage:" in done.stdout + done.stderr and "Error" not in done.stderr
