"""The one error type a user sees: a single line, exit code 2, no traceback."""

from __future__ import annotations

import difflib
from collections.abc import Iterable

import click


class GmrError(click.ClickException):
    """A user-facing error: bad input, an unknown name, a missing file."""

    exit_code = 2

    def format_message(self) -> str:
        return " ".join(str(self.message).split())


def unknown_name(kind: str, name: str, installed: Iterable[str]) -> GmrError:
    """Build the standard error for an unknown plugin-provided name."""
    names = sorted(installed)
    close = difflib.get_close_matches(name, names, n=1)
    hint = f" Did you mean '{close[0]}'?" if close else ""
    listing = ", ".join(names) if names else "none"
    return GmrError(f"unknown {kind} '{name}'.{hint} Installed: {listing}.")
