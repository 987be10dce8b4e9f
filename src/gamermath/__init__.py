"""gamermath: GRPO rewards, training recipes and honest evaluation for math reasoning."""

from importlib.metadata import PackageNotFoundError, version

try:
    __version__ = version("gamermath")
except PackageNotFoundError:  # running from a source tree that was never installed
    __version__ = "0.0.0+unknown"

__all__ = ["__version__"]
