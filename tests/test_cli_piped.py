"""The command line as a script or a pipe sees it: tab-separated tables when stdout is not
a terminal, one listing per command in ``gmr --help``, help text for every option, and an
uninstalled first-party plugin's name answered with the package that provides it."""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

REPO = Path(__file__).resolve().parents[1]
BOX = set("┃│━─┏┓┗┛┡┩╇╈")


def gmr(*args: str, **env: str) -> subprocess.CompletedProcess:
    return subprocess.run([sys.executable, "-m", "gamermath", *args], capture_output=True,
                          text=True, env={**os.environ, **env}, timeout=300)


def test_plugins_and_rewards_list_are_tab_separated_when_piped():
    for args, header in ((("plugins",), "package\tversion\tentry point\tregisters"),
                         (("rewards", "list"), "name\tpackage\tcolumns")):
        proc = gmr(*args)
        assert proc.returncode == 0, proc.stderr
        lines = proc.stdout.splitlines()
        assert lines[0].startswith(header)
        assert not BOX & set(proc.stdout)
        width = lines[0].count("\t")
        assert len(lines) > 1 and all(line.count("\t") == width for line in lines)
    rewards = gmr("rewards", "list").stdout.splitlines()
    assert any(line.split("\t")[0] == "exact-answer" for line in rewards)


def test_help_lists_reward_once_and_both_names_work():
    listing = gmr("--help").stdout
    commands = [line.split()[0] for line in listing.split("Commands:")[1].splitlines()
                if line.strip()]
    assert "reward" in commands and "rewards" not in commands
    assert gmr("rewards", "list").stdout == gmr("reward", "list").stdout


def test_every_option_of_datasets_show_has_help():
    text = gmr("datasets", "show", "--help").stdout
    assert "-t, --template TEXT   Prompt template" in text
    assert "-n, --limit INTEGER   How many rows" in text


def test_recipe_naming_an_uninstalled_plugin_reward_names_its_package(tmp_path):
    recipe = (REPO / "recipes" / "tiny.toml").read_text().replace(
        'name = "format"', 'name = "program"')
    path = tmp_path / "program.toml"
    path.write_text(recipe)
    proc = gmr("recipe", "show", str(path), GMR_PLUGINS="gamermath")
    assert proc.returncode == 2
    assert "reward 'program' is provided by the plugin package gmr-reward-program" in proc.stderr
    assert "pip install gmr-reward-program" in proc.stderr
    assert "Traceback" not in proc.stderr
