"""Shared fixtures: the offline data directory and a tiny random model built once per session."""

from __future__ import annotations

import os
from pathlib import Path

import pytest

REPO = Path(__file__).resolve().parents[1]

# Set before anything imports transformers or huggingface_hub, which read some of these once.
for _var in ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE", "TRANSFORMERS_OFFLINE"):
    os.environ.setdefault(_var, "1")


def shared_data_dir() -> Path | None:
    """``GMR_DATA_DIR`` if set, else ``../shared/data`` beside the checkout, else None."""
    env = os.environ.get("GMR_DATA_DIR")
    if env and Path(env).is_dir():
        return Path(env)
    candidate = REPO.parent / "shared" / "data"
    return candidate if candidate.is_dir() else None


@pytest.fixture(scope="session")
def data_dir() -> Path:
    """The real public benchmark data; tests that need it are skipped without it."""
    found = shared_data_dir()
    if found is None:
        pytest.skip("no ../shared/data and no GMR_DATA_DIR")
    return found


@pytest.fixture(scope="session")
def tiny_model(tmp_path_factory) -> Path:
    """A random 2-layer Qwen2-architecture model with an offline tokenizer (built once)."""
    from gamermath.testing import make_tiny_model

    return make_tiny_model(tmp_path_factory.mktemp("tiny-model"))


@pytest.fixture(scope="session")
def thirdparty_site(tmp_path_factory) -> Path:
    """A folder holding the installed third-party fixture plugin (reward and model source)."""
    from gamermath.testing import pip_install_target

    target = tmp_path_factory.mktemp("thirdparty-site")
    pip_install_target(REPO / "tests" / "fixtures" / "gmr-thirdparty-fixture", target)
    return target


@pytest.fixture(autouse=True)
def _offline(monkeypatch):
    """No test may reach a hub."""
    monkeypatch.setenv("HF_HUB_OFFLINE", "1")
    monkeypatch.setenv("HF_DATASETS_OFFLINE", "1")
    monkeypatch.setenv("TRANSFORMERS_OFFLINE", "1")
