"""``python -m gamermath``: the gmr command line (used by torchrun and tests)."""

from gamermath.cli import main

if __name__ == "__main__":
    main()
