"""Plugin discovery through real installed distributions and real `gmr` subprocesses.

Nothing here mocks pluggy or importlib.metadata: fixture plugins are pip-installed into a
temporary directory that the `gmr` subprocess sees on PYTHONPATH.
"""

from __future__ import annotations

import os
import subprocess
import sys
from pathlib import Path

import pytest

from gamermath import __version__
from gamermath.testing import pip_install_target

FIXTURES = Path(__file__).parent / "fixtures"


def gmr(*args: str, extra_path: Path | None = None, **env: str) -> subprocess.CompletedProcess:
    """Run the real CLI in a subprocess, as a user would."""
    environ = dict(os.environ, COLUMNS="250")
    environ.pop("GMR_PLUGINS", None)
    environ.update(env)
    if extra_path is not None:
        environ["PYTHONPATH"] = os.pathsep.join(filter(None, [str(extra_path), environ.get(
            "PYTHONPATH", "")]))
    return subprocess.run(
        [sys.executable, "-m", "gamermath", *args], capture_output=True, text=True, env=environ
    )


@pytest.fixture(scope="module")
def broken_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("broken-site")
    pip_install_target(FIXTURES / "gmr-broken-fixture", target)
    return target


@pytest.fixture(scope="module")
def dup_site(tmp_path_factory) -> Path:
    target = tmp_path_factory.mktemp("dup-site")
    pip_install_target(FIXTURES / "gmr-dup-fixture", target)
    return target


def test_version():
    proc = gmr("--version")
    assert proc.returncode == 0
    assert proc.stdout.strip() == f"gmr, version {__version__}"


def test_template_plugin_listed_with_package_and_version():
    plugins = gmr("plugins")
    assert plugins.returncode == 0, plugins.stderr
    line = next(row for row in plugins.stdout.splitlines() if "gmr-reward-template" in row)
    assert "0.1.0" in line and "repetition-penalty" in line
    rewards = gmr("rewards", "list")
    assert rewards.returncode == 0, rewards.stderr
    line = next(row for row in rewards.stdout.splitlines() if "repetition-penalty" in row)
    assert "gmr-reward-template 0.1.0" in line
    assert "[-1, 0]" in line


def test_gmr_plugins_filter_by_entry_point_and_by_package():
    only_template = gmr("plugins", GMR_PLUGINS="repetition-penalty")
    rows = [r for r in only_template.stdout.splitlines() if "0.1.0" in r or "gamermath" in r]
    assert any("gmr-reward-template" in r for r in rows)
    assert not any(r.split("\t")[0] == "gamermath" for r in rows)  # piped: tab-separated

    by_package = gmr("rewards", "list", GMR_PLUGINS="gmr-reward-template")
    assert "repetition-penalty" in by_package.stdout

    only_core = gmr("rewards", "list", GMR_PLUGINS="gamermath")
    assert only_core.returncode == 0
    assert "repetition-penalty" not in only_core.stdout


def test_broken_plugin_warns_once_and_gmr_keeps_working(broken_site):
    proc = gmr("rewards", "list", extra_path=broken_site)
    assert proc.returncode == 0, proc.stderr
    assert "repetition-penalty" in proc.stdout
    warnings = [line for line in proc.stderr.splitlines() if "gmr-broken-fixture" in line]
    assert len(warnings) == 1
    assert "failed to load" in warnings[0]
    assert "missing_dependency_xyz" in warnings[0]
    assert "Traceback" not in proc.stderr


def test_duplicate_name_names_both_packages(dup_site):
    proc = gmr("rewards", "list", extra_path=dup_site)
    assert proc.returncode == 2
    assert "Traceback" not in proc.stderr
    errors = [line for line in proc.stderr.splitlines() if not line.startswith("warning:")]
    assert len(errors) == 1
    message = errors[0]
    assert "repetition-penalty" in message
    assert "gmr-reward-template" in message and "gmr-dup-fixture" in message


def test_duplicate_resolved_by_gmr_plugins(dup_site):
    proc = gmr("rewards", "list", extra_path=dup_site, GMR_PLUGINS="dup,gamermath")
    assert proc.returncode == 0, proc.stderr
    assert "gmr-dup-fixture" in proc.stdout


def test_unknown_name_lists_installed():
    from gamermath import plugins
    from gamermath.errors import GmrError

    with pytest.raises(GmrError) as info:
        plugins.get("reward", "repetition-penalti")
    message = info.value.format_message()
    assert "unknown reward 'repetition-penalti'" in message
    assert "Did you mean 'repetition-penalty'?" in message
    assert "\n" not in message
    assert info.value.exit_code == 2


def test_wheel_installs_and_runs_outside_the_source_tree(tmp_path):
    """A non-editable wheel in a fresh venv runs `gmr plugins`, with evals and recipes inside."""
    repo = Path(__file__).resolve().parents[1]
    wheels = tmp_path / "wheels"
    subprocess.run(
        [sys.executable, "-m", "pip", "wheel", "-q", "--no-deps", "--no-build-isolation",
         "-w", str(wheels), str(repo)],
        check=True,
        capture_output=True,
    )
    wheel = next(wheels.glob("gamermath-*.whl"))
    venv = tmp_path / "venv"
    subprocess.run([sys.executable, "-m", "venv", str(venv)], check=True)
    vpy = venv / "bin" / "python"
    subprocess.run(
        [str(vpy), "-m", "pip", "install", "-q", "--no-deps", str(wheel)],
        check=True,
        capture_output=True,
    )
    # Dependencies come from this environment's site-packages, appended after the venv's own,
    # so the wheel's gamermath (not the editable checkout) is what runs.
    site = subprocess.run(
        [str(vpy), "-c", "import site; print(site.getsitepackages()[0])"],
        capture_output=True, text=True, check=True,
    ).stdout.strip()
    deps = [p for p in sys.path if p.endswith("site-packages")]
    Path(site, "zz_deps.pth").write_text("\n".join(deps) + "\n")

    env = dict(os.environ, COLUMNS="250")
    env.pop("PYTHONPATH", None)
    where = subprocess.run(
        [str(vpy), "-c", "import gamermath, gamermath.evals as e; print(gamermath.__file__)"],
        capture_output=True, text=True, cwd=tmp_path, env=env,
    )
    assert where.returncode == 0, where.stderr
    assert where.stdout.strip().startswith(str(venv))

    proc = subprocess.run(
        [str(venv / "bin" / "gmr"), "plugins"], capture_output=True, text=True, cwd=tmp_path,
        env=env,
    )
    assert proc.returncode == 0, proc.stderr
    assert "gamermath" in proc.stdout
    assert not [line for line in proc.stderr.splitlines() if "package gamermath" in line]

    import zipfile

    names = set(zipfile.ZipFile(wheel).namelist())
    shipped = [
        p for folder in ("evals", "recipes") for p in (repo / folder).rglob("*")
        if p.suffix in {".yaml", ".toml", ".py"} and "__pycache__" not in p.parts
    ]
    for path in shipped:
        rel = "gamermath/" + path.relative_to(repo).as_posix()
        assert rel in names, f"{rel} missing from the wheel"
