"""The ``gmr`` command line.

Built on click: its lazily loaded subcommands keep ``gmr --version`` and ``gmr plugins``
free of torch imports, and ``ClickException`` gives the one-line, exit-code-2 errors the
tool promises. Each command group lives in its own module, named in ``COMMANDS``.
"""

from __future__ import annotations

import importlib
import warnings

import click

from gamermath import __version__

#: command name -> "module:attribute"; imported only when the command runs or --help lists it.
COMMANDS: dict[str, str] = {
    "plan": "gamermath.cli.plan:plan",
    "card": "gamermath.cli.card:card",
    "report": "gamermath.cli.report:report",
    "plugins": "gamermath.cli.plugins_cmd:plugins",
    "rewards": "gamermath.cli.reward:reward",
    "reward": "gamermath.cli.reward:reward",
    "data": "gamermath.cli.data:data",
    "datasets": "gamermath.cli.dataset:datasets",
    "eval": "gamermath.cli.eval_cmd:eval_cmd",
    "evals": "gamermath.cli.evals:evals",
    "models": "gamermath.cli.models:models",
    "train": "gamermath.cli.train:train",
    "recipe": "gamermath.cli.train:recipe",
}

#: names that run a command listed under another name; they work but --help hides them.
COMMAND_ALIASES: dict[str, str] = {"rewards": "reward"}


def one_line_usage_error(exc: click.UsageError) -> click.ClickException:
    """click's usage error (usage line, hint, message: three lines) as gmr's one line.

    Names the command and where its help is: ``gmr train: invalid value for '[RECIPE]':
    File '/tmp' is a directory (see gmr train --help)``. Exit code 2, as click's own.
    """
    from gamermath.errors import GmrError

    if isinstance(exc, click.exceptions.NoArgsIsHelpError):
        return exc  # the help text itself, as click prints it
    where = exc.ctx.command_path if exc.ctx is not None else "gmr"
    message = " ".join(exc.format_message().split()).rstrip(".") or "usage error"
    message = message[:1].lower() + message[1:]
    return GmrError(f"{where}: {message} (see {where} --help)")


class LazyGroup(click.Group):
    """A click group whose subcommands are imported on first use, and whose usage errors
    (an unknown option, a bad value, a missing argument, in any subcommand) are one line."""

    def make_context(self, *args, **kwargs) -> click.Context:
        try:
            return super().make_context(*args, **kwargs)
        except click.UsageError as exc:
            raise one_line_usage_error(exc) from None

    def invoke(self, ctx: click.Context):
        try:
            return super().invoke(ctx)
        except click.UsageError as exc:
            raise one_line_usage_error(exc) from None

    def list_commands(self, ctx: click.Context) -> list[str]:
        return sorted(name for name in COMMANDS if name not in COMMAND_ALIASES)

    def get_command(self, ctx: click.Context, cmd_name: str) -> click.Command | None:
        target = COMMANDS.get(cmd_name)
        if target is None:
            return None
        module, attr = target.split(":")
        return getattr(importlib.import_module(module), attr)


def _show_warning(message, category, filename, lineno, file=None, line=None) -> None:
    click.echo(f"warning: {message}", err=True)


@click.group(cls=LazyGroup, context_settings={"help_option_names": ["-h", "--help"]})
@click.version_option(__version__, "--version", "-V", prog_name="gmr")
def main() -> None:
    """gmr: GRPO rewards, training recipes and honest evaluation for math reasoning."""
    warnings.showwarning = _show_warning


__all__ = ["main", "COMMANDS"]
