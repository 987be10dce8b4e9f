"""Hostile programs against the sandbox: each scores 0 within its limits and leaves nothing.

Every attack of ``gmr_reward_program.attacks`` runs through the ``program`` reward with every
layer on, then once under each layer that claims to stop it on its own (skipped where this
kernel or user does not have that layer). ``Arena.escapes`` looks for the traces: a file
outside the work directory, a connection or datagram to a listener on 127.0.0.1, a killed
victim process, /etc/passwd in the output, a live process naming the work directory (its
command line or environment), the work directory itself.
"""

from __future__ import annotations

import json
import os
import re
import subprocess
import sys
import time
from pathlib import Path

import pytest
from gmr_reward_program.attacks import ATTACKS, Arena, processes_mentioning
from gmr_reward_program.reward import OPTIONS, evaluate
from gmr_reward_program.sandbox import JAIL_MAIN, Limits, probe, remove_tree, run_program

LIMITS = Limits(wall_s=1.5, cpu_s=1)
#: The infinite loop must meet its CPU limit before the wall clock, even on a busy machine.
CPU_LIMITS = Limits(wall_s=5.0, cpu_s=1)
#: Start-up, kill and cleanup on top of the wall limit.
SLACK_S = 1.0
#: Landlock ABI an attack needs for Landlock to stop it (TCP rules: 4; signal scoping: 6).
LANDLOCK_ABI = {"tcp-connect": 4, "kill-outside": 6}


def limits_for(attack) -> Limits:
    return CPU_LIMITS if attack.name == "infinite-loop" else LIMITS


@pytest.fixture(scope="module")
def arena():
    with Arena() as running:
        yield running


@pytest.fixture(scope="module")
def available() -> dict[str, str]:
    return probe()


@pytest.mark.parametrize("attack", ATTACKS, ids=lambda a: a.name)
def test_attack_scores_zero_within_its_limits_and_leaves_nothing(attack, arena):
    limits = limits_for(attack)
    options = {**OPTIONS, "wall_s": limits.wall_s, "cpu_s": limits.cpu_s}
    completion = f"I will compute it.\n```python\n{arena.program(attack)}```\n"
    value, result = evaluate(completion, {"answer": "42"}, options)
    traces = arena.escapes(result)
    arena.reset()
    assert value == 0.0
    assert result.status in attack.statuses, result
    assert result.seconds <= limits.wall_s + SLACK_S
    assert traces == []


SINGLE_LAYER = [
    (attack, layer)
    for attack in ATTACKS
    for layer in attack.stopped_by
    if not attack.guard or layer in attack.guard
]


@pytest.mark.parametrize(
    ("attack", "layer"), SINGLE_LAYER, ids=[f"{a.name}-{layer}" for a, layer in SINGLE_LAYER]
)
def test_each_claimed_layer_stops_the_attack_on_its_own(attack, layer, arena, available):
    state = available.get(layer, "no report")
    if not state.startswith("on"):
        pytest.skip(f"{layer} does not take effect here: {state}")
    abi = re.search(r"ABI (\d+)", state)
    if layer == "landlock" and abi and int(abi.group(1)) < LANDLOCK_ABI.get(attack.name, 1):
        pytest.skip(f"Landlock ABI {abi.group(1)} cannot stop {attack.name}")
    limits = limits_for(attack)
    result = run_program(arena.program(attack), limits, layers=[layer])
    traces = arena.escapes(result)
    arena.reset()
    assert result.layer_on(layer)
    assert [name for name, s in result.layers.items() if s.startswith("on")] == [layer]
    assert result.status in attack.statuses, result
    assert result.seconds <= limits.wall_s + SLACK_S
    assert traces == []


def test_every_layer_reports_and_the_portable_ones_are_on(available):
    assert set(available) >= {"netns", "pidns", "mountns", "rlimits", "caps", "landlock",
                              "seccomp", "audit"}
    assert available["rlimits"] == "on" and available["audit"] == "on"


def _launcher_of(parent: int) -> tuple[int, str] | None:
    """The sandbox launcher started by ``parent``: its pid and work directory."""
    for entry in os.listdir("/proc"):
        if not entry.isdigit():
            continue
        try:
            stat = Path(f"/proc/{entry}/stat").read_text()
            argv = Path(f"/proc/{entry}/cmdline").read_bytes().split(b"\0")
        except OSError:
            continue
        ppid = int(stat.rsplit(")", 1)[1].split()[1])
        if ppid == parent and JAIL_MAIN.encode() in argv:
            return int(entry), argv[argv.index(JAIL_MAIN.encode()) + 1].decode()
    return None


def test_the_sandbox_dies_with_the_worker_that_started_it():
    """The runner SIGKILLs a worker that overruns its timeout: nothing it started survives."""
    script = (
        "from gmr_reward_program.sandbox import Limits, run_program\n"
        "run_program('import time\\ntime.sleep(60)', Limits(wall_s=9))\n"
    )
    worker = subprocess.Popen([sys.executable, "-c", script])
    found = None
    deadline = time.monotonic() + 10
    while found is None and time.monotonic() < deadline:
        time.sleep(0.05)
        found = _launcher_of(worker.pid)
    assert found is not None, "the sandbox never started"
    _, workdir = found
    time.sleep(0.3)  # let the program start sleeping
    assert processes_mentioning(workdir)
    worker.kill()
    worker.wait()
    deadline = time.monotonic() + 3
    while processes_mentioning(workdir) and time.monotonic() < deadline:
        time.sleep(0.05)
    assert processes_mentioning(workdir) == []
    remove_tree(workdir)  # the worker could not clean up: a killed worker leaks its directory


def _python_for(uid: int) -> str | None:
    for python in (sys.executable, "/usr/bin/python3"):
        try:
            done = subprocess.run([python, "-c", "import json"], user=uid, group=uid,
                                  extra_groups=[], capture_output=True, timeout=30)
        except (OSError, subprocess.SubprocessError):
            continue
        if done.returncode == 0:
            return python
    return None


@pytest.mark.skipif(not hasattr(os, "geteuid") or os.geteuid() != 0,
                    reason="starts a process as another user, which needs root")
def test_an_unprivileged_user_gets_the_same_isolation(available):
    """What a non-root CI gets: a user namespace makes the other namespaces possible."""
    nobody = 65534
    python = _python_for(nobody)
    if python is None:
        pytest.skip("no Python that uid 65534 can run")
    src = str(Path(JAIL_MAIN).parents[1])
    script = (
        "import json\n"
        "from gmr_reward_program.attacks import ATTACKS, Arena\n"
        "from gmr_reward_program.sandbox import Limits, probe, run_program\n"
        "out = {'layers': probe(), 'attacks': {}}\n"
        "with Arena() as arena:\n"
        "    for attack in ATTACKS:\n"
        "        if attack.name in ('write-outside', 'read-passwd', 'tcp-connect', 'fork-bomb',\n"
        "                           'kill-outside', 'memory-bomb'):\n"
        "            result = run_program(arena.program(attack), Limits(wall_s=1.5, cpu_s=1))\n"
        "            out['attacks'][attack.name] = [result.status, arena.escapes(result)]\n"
        "            arena.reset()\n"
        "print(json.dumps(out))\n"
    )
    done = subprocess.run(
        [python, "-c", script], user=nobody, group=nobody, extra_groups=[], cwd="/",
        env={"PATH": os.defpath, "PYTHONPATH": src}, capture_output=True, text=True, timeout=60,
    )
    assert done.returncode == 0, done.stderr
    report = json.loads(done.stdout)
    for name, (status, traces) in report["attacks"].items():
        assert traces == [], name
        assert status in ("error", "memory-limit"), (name, status)
    layers = report["layers"]
    kernel = ["landlock", "seccomp", "caps"]
    if layers.get("userns") == "on":  # off where unprivileged user namespaces are disabled
        kernel += ["netns", "pidns", "mountns"]
    for layer in kernel:
        if available[layer].startswith("on"):
            assert layers[layer].startswith("on"), (layer, layers)


@pytest.mark.parametrize("name", ["write-outside", "read-passwd", "tcp-connect", "kill-outside"])
def test_the_arena_sees_an_unconfined_program_get_out(name, arena):
    """Without the isolation layers these attacks succeed, and the arena notices."""
    attack = next(a for a in ATTACKS if a.name == name)
    result = run_program(arena.program(attack), LIMITS, layers=[])
    traces = arena.escapes(result)
    arena.reset()
    assert traces, result
