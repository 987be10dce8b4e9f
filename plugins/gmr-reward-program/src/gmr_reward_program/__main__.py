"""``python -m gmr_reward_program [--matrix]``: what the sandbox holds on this machine.

Prints each isolation layer's status for the current user, then runs the hostile programs of
``gmr_reward_program.attacks`` with every layer on: how each run ended, how long it took and
any trace it left outside. ``--matrix`` also runs each attack with one layer at a time and
shows which layers stop it on their own. Exit code 1 if any attack got out with every layer
on.
"""

from __future__ import annotations

import argparse
import os
import platform
import sys

from gmr_reward_program.attacks import ATTACKS, Arena
from gmr_reward_program.sandbox import ALL_LAYERS, Limits, probe, run_program

LIMITS = Limits(wall_s=2.0, cpu_s=1)


def main(argv: list[str] | None = None) -> int:
    parser = argparse.ArgumentParser(
        prog="python -m gmr_reward_program",
        description="Report which sandbox layers take effect here and run the attack battery.",
    )
    parser.add_argument("--matrix", action="store_true",
                        help="also run every attack under each single layer")
    args = parser.parse_args(argv)
    user = "root" if os.geteuid() == 0 else f"uid {os.geteuid()}"
    print(f"{platform.system()} {platform.release()} {platform.machine()}, "
          f"Python {platform.python_version()}, {user}")
    for name, state in probe().items():
        print(f"  {name:9} {state}")
    print(f"\nlimits: wall {LIMITS.wall_s:g} s, cpu {LIMITS.cpu_s} s, memory "
          f"{LIMITS.memory_mb} MiB, output {LIMITS.output_bytes} B, tmpfs {LIMITS.disk_mb} MiB")
    escaped = 0
    with Arena() as arena:
        print(f"\n{'attack':20} {'status':13} {'seconds':>7}  result (every layer on)")
        for attack in ATTACKS:
            result = run_program(arena.program(attack), LIMITS)
            traces = arena.escapes(result)
            arena.reset()
            escaped += bool(traces)
            verdict = "ESCAPED: " + "; ".join(traces) if traces else "held"
            print(f"{attack.name:20} {result.status:13} {result.seconds:7.2f}  {verdict}")
        if args.matrix:
            print_matrix(arena)
    return 1 if escaped else 0


def print_matrix(arena: Arena) -> None:
    """Each attack against each layer alone: held, ESCAPED, or - (unsafe to try)."""
    print(f"\n{'attack':20} " + " ".join(f"{name:>8}" for name in ALL_LAYERS))
    for attack in ATTACKS:
        cells = []
        for layer in ALL_LAYERS:
            if attack.guard and layer not in attack.guard:
                cells.append("-")
                continue
            result = run_program(arena.program(attack), LIMITS, layers=[layer])
            traces = arena.escapes(result)
            arena.reset()
            stopped = not traces and result.status in attack.statuses
            cells.append("held" if stopped else "ESCAPED" if traces else result.status)
        print(f"{attack.name:20} " + " ".join(f"{cell:>8}" for cell in cells))
    print("\n(held without traces but not stopped: the status the run ended with; the "
          "wall clock and output cap apply in every column)")


if __name__ == "__main__":
    sys.exit(main())
