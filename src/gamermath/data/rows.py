"""Rows through the dataset registry: ``resolve_data_dir`` and ``load_rows``."""

from __future__ import annotations

import os
from collections.abc import Mapping
from pathlib import Path
from typing import Any

from gamermath import plugins
from gamermath.errors import GmrError
from gamermath.plugin_options import merge_options


def resolve_data_dir(flag: str | Path | None) -> Path | None:
    """The ``--data-dir`` flag, else ``$GMR_DATA_DIR``, else None (meaning: the hub)."""
    if flag is not None and str(flag) != "":
        return Path(flag).expanduser()
    env = os.environ.get("GMR_DATA_DIR", "").strip()
    return Path(env).expanduser() if env else None


def load_rows(
    dataset: str,
    split: str,
    data_dir: str | Path | None = None,
    options: Mapping[str, Any] | None = None,
) -> list[dict[str, Any]]:
    """The rows of one split of a registered dataset.

    Each row has ``question`` and ``answer`` (the gold final answer as a string) plus the
    dataset's own columns. Local files under ``data_dir`` (or ``$GMR_DATA_DIR``) are used
    when present, else the hub.
    """
    spec = plugins.get("dataset", dataset)
    if split not in spec.splits:
        raise GmrError(
            f"dataset '{dataset}' has no split '{split}'; splits: {', '.join(spec.splits)}"
        )
    merged = merge_options("dataset", dataset, spec.options, options)
    rows = spec.load(split, resolve_data_dir(data_dir), merged)
    for row in rows:
        row.pop("_line", None)
        if "question" not in row or "answer" not in row:
            raise GmrError(
                f"dataset '{dataset}' (plugin {spec.plugin}) returned a row without "
                "'question' and 'answer'"
            )
    return rows
