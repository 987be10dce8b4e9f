"""The hub fallback: ``datasets.load_dataset`` with one clear error when it cannot work."""

from __future__ import annotations

import os
from collections.abc import Iterator
from contextlib import contextmanager
from pathlib import Path
from typing import Any

from gamermath.errors import GmrError


def missing_everywhere(name: str, data_dir: Path | None, expected: str, hub_id: str) -> GmrError:
    """The one-line error for 'no local files and no hub'."""
    where = (
        f"no local files under {data_dir} (expected {data_dir / expected})"
        if data_dir is not None
        else "no --data-dir or GMR_DATA_DIR given"
    )
    return GmrError(
        f"{name}: {where} and the hub ({hub_id}) is unreachable; pass --data-dir DIR "
        f"(a folder holding {expected}) or set GMR_DATA_DIR"
    )


def offline_requested() -> bool:
    """True when ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` is set to a true value now."""
    names = ("HF_HUB_OFFLINE", "HF_DATASETS_OFFLINE")
    return any(os.environ.get(n, "").strip().lower() in {"1", "true", "yes", "on"} for n in names)


@contextmanager
def honour_offline_env() -> Iterator[None]:
    """Apply an offline flag set after ``datasets`` was imported (it reads it only once).

    Without this, a hub lookup made offline retries the network for about half a minute.
    """
    if not offline_requested():
        yield
        return
    import datasets.config
    import huggingface_hub.constants

    saved = (datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE)
    datasets.config.HF_HUB_OFFLINE = huggingface_hub.constants.HF_HUB_OFFLINE = True
    try:
        yield
    finally:
        datasets.config.HF_HUB_OFFLINE, huggingface_hub.constants.HF_HUB_OFFLINE = saved


def load_hub_rows(
    name: str,
    hub_id: str,
    config: str | None,
    split: str,
    data_dir: Path | None,
    expected: str,
) -> list[dict[str, Any]]:
    """Rows of one hub split as dicts, or ``missing_everywhere`` when the hub fails.

    With ``HF_HUB_OFFLINE`` or ``HF_DATASETS_OFFLINE`` set, only the local datasets cache
    is tried.
    """
    try:
        import datasets

        datasets.disable_progress_bars()
        with honour_offline_env():
            loaded = datasets.load_dataset(hub_id, config, split=split)
    except Exception:  # offline, no cache, no such config: one message covers them
        raise missing_everywhere(name, data_dir, expected, hub_id) from None
    return [dict(row) for row in loaded]
