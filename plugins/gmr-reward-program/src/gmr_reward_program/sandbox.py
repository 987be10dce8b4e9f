"""Run an untrusted Python program in an isolated subprocess and collect what it prints.

``run_program(code, limits, mode, layers)`` creates a fresh temporary work directory, starts
``python -I -S -B jail_main.py`` there in a new session (its own process group), hands it the
job on stdin and reads its stdout and stderr until it exits, prints more than
``limits.output_bytes`` or runs past ``limits.wall_s``. Then the whole process group is
killed with SIGKILL (before the leader is reaped, so its group id cannot have been reused)
and the work directory is removed, whatever happened. ``jail_main`` isolates itself with
the requested layers (see ``jail_kernel`` and ``jail_guard``) and reports which took effect.
"""

from __future__ import annotations

import json
import os
import selectors
import shutil
import signal
import stat
import subprocess
import sys
import tempfile
import time
from collections.abc import Iterable
from dataclasses import dataclass, field
from pathlib import Path

from gmr_reward_program.jail_main import LAYERS

#: The launcher that runs inside the sandbox.
JAIL_MAIN = str(Path(__file__).with_name("jail_main.py"))
#: Every isolation layer, in the order ``jail_main`` applies them.
ALL_LAYERS: tuple[str, ...] = LAYERS
#: Prefix of the temporary work directories.
WORKDIR_PREFIX = "gmr-program-"
#: Characters of stderr kept in a result.
STDERR_KEPT = 2000


@dataclass(frozen=True)
class Limits:
    """Resource limits of one run. ``cpu_s`` is whole seconds (``RLIMIT_CPU``)."""

    wall_s: float = 3.0
    cpu_s: int = 2
    memory_mb: int = 256
    output_bytes: int = 65536
    file_bytes: int = 1 << 20
    disk_mb: int = 8
    nproc: int = 16
    nofile: int = 64


@dataclass(frozen=True)
class RunResult:
    """How a run ended.

    ``status``: ``ok`` (exit 0), ``error`` (another exit code), ``timeout`` (past
    ``wall_s``), ``cpu-limit`` (killed by ``RLIMIT_CPU``), ``memory-limit`` (a
    ``MemoryError`` under ``RLIMIT_AS``), ``output-limit`` (printed too much), ``killed``
    (another signal) or ``no-start``. ``layers``: each isolation layer's status as
    ``jail_main`` reported it ("on ..." or why it is off); empty if it never reported.
    """

    status: str
    exit_code: int | None
    stdout: str
    stderr: str
    seconds: float
    workdir: str
    layers: dict[str, str] = field(default_factory=dict)

    @property
    def answer(self) -> str:
        """The last non-blank line the program printed ("" if none)."""
        for line in reversed(self.stdout.splitlines()):
            if line.strip():
                return line.strip()
        return ""

    def layer_on(self, name: str) -> bool:
        """Whether isolation layer ``name`` took effect in this run."""
        return self.layers.get(name, "").startswith("on")


def remove_tree(path: str) -> None:
    """Remove a work directory even if the program took the permissions off its parts."""

    def retry(function, failed_path, _exc_info) -> None:
        for target in (os.path.dirname(failed_path), failed_path):
            try:
                if not os.path.islink(target):
                    os.chmod(target, stat.S_IRWXU)
            except OSError:
                pass
        try:
            function(failed_path)
        except OSError:
            pass

    if os.path.lexists(path):
        shutil.rmtree(path, onerror=retry)


def _kill_group(pid: int) -> None:
    try:
        os.killpg(pid, signal.SIGKILL)
    except (ProcessLookupError, PermissionError):
        pass


def _exited(proc: subprocess.Popen) -> bool:
    """Whether the process has exited, without reaping it (its pid stays reserved) where
    ``os.waitid`` exists; elsewhere it is reaped."""
    if not hasattr(os, "waitid"):
        return proc.poll() is not None
    try:
        return os.waitid(os.P_PID, proc.pid, os.WEXITED | os.WNOHANG | os.WNOWAIT) is not None
    except ChildProcessError:
        return True


def _classify(returncode: int, stderr: str) -> str:
    signum = -returncode if returncode < 0 else returncode - 128 if returncode > 128 else 0
    if signum == signal.SIGXCPU:
        return "cpu-limit"
    if signum:
        return "killed"
    if returncode == 0:
        return "ok"
    if "MemoryError" in stderr:
        return "memory-limit"
    return "error"


def run_program(
    code: str,
    limits: Limits | None = None,
    mode: str = "script",
    layers: Iterable[str] = ALL_LAYERS,
) -> RunResult:
    """Run ``code`` isolated (``mode``: ``script`` or ``solution-body``); never raises for
    anything the program does (RuntimeError on a system without POSIX processes)."""
    if os.name != "posix":
        raise RuntimeError("gmr-reward-program runs programs on Linux and macOS only")
    limits = limits or Limits()
    started = time.perf_counter()
    workdir = os.path.realpath(tempfile.mkdtemp(prefix=WORKDIR_PREFIX))
    report_read, report_write = os.pipe()
    job = {
        "workdir": workdir, "code": code, "mode": mode, "layers": sorted(set(layers)),
        "parent": os.getpid(), "report_fd": report_write,
        "cpu_s": max(1, int(limits.cpu_s)), "memory_mb": int(limits.memory_mb),
        "file_bytes": int(limits.file_bytes), "disk_mb": int(limits.disk_mb),
        "nproc": int(limits.nproc), "nofile": int(limits.nofile),
    }
    env = {
        "PATH": os.defpath, "HOME": workdir, "TMPDIR": workdir, "LC_ALL": "C.UTF-8",
        "GMR_PROGRAM_WORKDIR": workdir,
    }
    proc = None
    try:
        try:
            proc = subprocess.Popen(
                [sys.executable, "-I", "-S", "-B", JAIL_MAIN, workdir],
                stdin=subprocess.PIPE, stdout=subprocess.PIPE, stderr=subprocess.PIPE,
                cwd=workdir, env=env, start_new_session=True, pass_fds=(report_write,),
            )
        except OSError as exc:
            return RunResult("no-start", None, "", str(exc), 0.0, workdir)
        finally:
            os.close(report_write)
        return _collect(proc, job, limits, report_read, started, workdir)
    finally:
        if proc is not None and proc.returncode is None:
            _kill_group(proc.pid)
            proc.kill()
            proc.wait()
        os.close(report_read)
        remove_tree(workdir)


def _collect(
    proc: subprocess.Popen, job: dict, limits: Limits, report_read: int, started: float,
    workdir: str,
) -> RunResult:
    """Feed the job, read the pipes under the limits, kill the group, reap the leader."""
    deadline = started + float(limits.wall_s)
    try:
        proc.stdin.write(json.dumps(job).encode())
        proc.stdin.close()
    except (BrokenPipeError, OSError):
        pass
    buffers = {proc.stdout.fileno(): bytearray(), proc.stderr.fileno(): bytearray(),
               report_read: bytearray()}
    selector = selectors.DefaultSelector()
    for fd in buffers:
        os.set_blocking(fd, False)
        selector.register(fd, selectors.EVENT_READ)
    status = ""
    open_fds = set(buffers)
    while open_fds and not status:
        remaining = deadline - time.perf_counter()
        if remaining <= 0:
            status = "timeout"
            break
        for key, _ in selector.select(min(remaining, 0.1)):
            try:
                chunk = os.read(key.fd, 65536)
            except BlockingIOError:
                continue
            if not chunk:
                selector.unregister(key.fd)
                open_fds.discard(key.fd)
                continue
            buffers[key.fd] += chunk
            if key.fd != report_read and len(buffers[key.fd]) > limits.output_bytes:
                status = "output-limit"
    selector.close()
    while not status and not _exited(proc):
        if time.perf_counter() >= deadline:
            status = "timeout"
        else:
            time.sleep(0.005)
    _kill_group(proc.pid)  # strays first, while the leader's pid is still reserved
    proc.kill()
    proc.wait()
    seconds = time.perf_counter() - started
    stdout = buffers[proc.stdout.fileno()][: limits.output_bytes].decode("utf-8", "replace")
    stderr = buffers[proc.stderr.fileno()][:STDERR_KEPT].decode("utf-8", "replace")
    proc.stdout.close()
    proc.stderr.close()
    try:
        layers = json.loads(bytes(buffers[report_read]) or b"{}")
    except ValueError:
        layers = {}
    status = status or _classify(proc.returncode, stderr)
    return RunResult(status, proc.returncode, stdout, stderr, seconds, workdir, layers)


def probe(layers: Iterable[str] = ALL_LAYERS) -> dict[str, str]:
    """Which isolation layers take effect on this machine, for this user."""
    return run_program("pass", Limits(wall_s=10.0), layers=layers).layers
