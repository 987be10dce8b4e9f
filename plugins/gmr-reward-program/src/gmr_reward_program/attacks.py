"""Hostile programs, and the arena that tells whether one got out of the sandbox.

Each ``Attack`` is a program a policy could write, the isolation layers that stop it each on
their own (``stopped_by``; an empty tuple means only the always-on limits apply: the wall
clock, the output cap and the process-group kill), and the statuses a stopped run may end
with. ``Arena`` sets up what an escape would touch: a marker file path outside the work
directory, a TCP and a UDP listener on 127.0.0.1, and a victim process; ``Arena.escapes``
lists every trace a finished run left. ``python -m gmr_reward_program`` and the plugin's
tests run this battery.
"""

from __future__ import annotations

import os
import socket
import string
import subprocess
import sys
import tempfile
import threading
import time
import uuid
from dataclasses import dataclass

from gmr_reward_program.sandbox import RunResult


@dataclass(frozen=True)
class Attack:
    """A hostile program (a ``string.Template``) and what stops it."""

    name: str
    program: str
    stopped_by: tuple[str, ...]
    statuses: tuple[str, ...] = ("error",)
    #: Never run without one of these layers (a real fork bomb, a 16 GiB allocation).
    guard: tuple[str, ...] = ()


ATTACKS: tuple[Attack, ...] = (
    Attack("fork-bomb", "import os\nwhile True:\n    os.fork()\n",
           ("seccomp", "audit"), guard=("seccomp", "audit")),
    Attack(
        "fork-and-hide",
        "import os, time\nfor _ in range(3):\n    if os.fork() == 0:\n        os.setsid()\n"
        "        time.sleep(60)\n        os._exit(0)\nprint('FORKED')\ntime.sleep(60)\n",
        ("seccomp", "audit", "pidns"), ("error", "timeout"),
    ),
    Attack(
        "ctypes-fork",
        "import ctypes, time\nlibc = ctypes.CDLL(None)\nif libc.fork() == 0:\n"
        "    libc.setsid()\n    time.sleep(60)\nprint('FORKED')\n",
        ("seccomp", "audit", "pidns"), ("error", "ok", "timeout"),
    ),
    Attack("thread", "import threading\nthreading.Thread(target=print).start()\nprint('THREAD')\n",
           ("seccomp", "audit")),
    Attack("infinite-loop", "while True:\n    pass\n", ("rlimits",), ("cpu-limit",)),
    Attack("sleep", "import time\ntime.sleep(600)\n", (), ("timeout",)),
    Attack("memory-bomb", "x = bytearray(16 << 30)\n", ("rlimits",), ("memory-limit",),
           guard=("rlimits",)),
    Attack(
        "memory-creep", "blocks = []\nwhile True:\n    blocks.append(bytearray(1 << 24))\n",
        ("rlimits",), ("memory-limit",), guard=("rlimits",),
    ),
    Attack("huge-output", "import sys\nwhile True:\n    sys.stdout.write('x' * 65536)\n", (),
           ("output-limit",)),
    Attack("write-outside", "open('$marker', 'w').write('escaped')\n",
           ("landlock", "mountns", "audit")),
    Attack(
        "write-via-symlink",
        "import os\nos.symlink('$marker_dir', 'out')\nopen('out/$marker_name', 'w').write('x')\n",
        ("landlock", "mountns", "audit"),
    ),
    Attack("read-passwd", "print(open('/etc/passwd').read())\n", ("landlock", "audit")),
    Attack(
        "ctypes-read-passwd",
        "import ctypes, os\nfd = ctypes.CDLL(None).open(b'/etc/passwd', 0)\n"
        "print(os.read(fd, 4096).decode() if fd >= 0 else 'DENIED')\n",
        ("landlock", "audit"), ("error", "ok"),
    ),
    Attack(
        "tcp-connect",
        "import socket\ns = socket.create_connection(('127.0.0.1', $tcp_port), timeout=1)\n"
        "s.sendall(b'escaped')\nprint('CONNECTED')\n",
        ("netns", "landlock", "seccomp", "audit"),
    ),
    Attack(
        "udp-send",
        "import socket\ns = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)\n"
        "s.sendto(b'escaped', ('127.0.0.1', $udp_port))\nprint('SENT')\n",
        ("netns", "seccomp", "audit"), ("error", "ok"),
    ),
    Attack("os-system", "import os\nos.system('echo escaped > $marker')\n",
           ("seccomp", "audit", "landlock", "mountns"), ("error", "ok")),
    Attack("subprocess", "import subprocess\nsubprocess.run(['touch', '$marker'])\n",
           ("seccomp", "audit", "landlock", "mountns"), ("error", "ok")),
    Attack("ctypes-system", "import ctypes\nctypes.CDLL(None).system(b'touch $marker')\n",
           ("seccomp", "audit", "landlock", "mountns"), ("error", "ok")),
    Attack("kill-outside", "import os\nos.kill($victim, 9)\n",
           ("seccomp", "landlock", "pidns", "audit")),
    Attack(
        "fill-disk",
        "i = 0\nwhile True:\n    open(f'f{i}', 'w').write('x' * (1 << 19))\n    i += 1\n",
        ("mountns",), ("error",), guard=("mountns",),
    ),
)


def processes_mentioning(text: str) -> list[int]:
    """Pids of live processes whose command line or environment contains ``text``."""
    needle = text.encode()
    found = []
    for entry in os.listdir("/proc"):
        if not entry.isdigit() or int(entry) == os.getpid():
            continue
        for part in ("cmdline", "environ"):
            try:
                with open(f"/proc/{entry}/{part}", "rb") as handle:
                    if needle in handle.read():
                        found.append(int(entry))
                        break
            except OSError:
                continue
    return found


class Arena:
    """What an escaping program would touch, set up around one or more runs."""

    def __init__(self) -> None:
        self.marker_dir = tempfile.gettempdir()
        self.marker_name = f"gmr-escape-{uuid.uuid4().hex}"
        self.marker = os.path.join(self.marker_dir, self.marker_name)
        self.received: list[str] = []
        self._tcp = socket.create_server(("127.0.0.1", 0))
        self._tcp.settimeout(0.05)
        self._udp = socket.socket(socket.AF_INET, socket.SOCK_DGRAM)
        self._udp.bind(("127.0.0.1", 0))
        self._udp.settimeout(0.05)
        self._stop = threading.Event()
        self._thread = threading.Thread(target=self._listen, daemon=True)
        self._thread.start()
        self.victim = self._start_victim()

    @staticmethod
    def _start_victim() -> subprocess.Popen:
        return subprocess.Popen(
            [sys.executable, "-c", "import time; time.sleep(600)"], start_new_session=True
        )

    def _listen(self) -> None:
        while not self._stop.is_set():
            try:
                conn, _ = self._tcp.accept()
                self.received.append("tcp")
                conn.close()
            except OSError:
                pass
            try:
                self._udp.recvfrom(64)
                self.received.append("udp")
            except OSError:
                pass

    def program(self, attack: Attack) -> str:
        """The attack's program aimed at this arena."""
        return string.Template(attack.program).substitute(
            marker=self.marker, marker_dir=self.marker_dir, marker_name=self.marker_name,
            tcp_port=self._tcp.getsockname()[1], udp_port=self._udp.getsockname()[1],
            victim=self.victim.pid,
        )

    def escapes(self, result: RunResult) -> list[str]:
        """Every trace the run left outside its sandbox (empty: it stayed inside)."""
        time.sleep(0.1)  # let the listener see anything in flight
        found = []
        if os.path.lexists(self.marker):
            found.append(f"created {self.marker}")
        if self.received:
            found.append(f"reached the network ({', '.join(self.received)})")
        if self.victim.poll() is not None:
            found.append("killed a process outside the sandbox")
        if "root:x:0:0" in result.stdout:
            found.append("read /etc/passwd")
        left = processes_mentioning(result.workdir)
        if left:
            found.append(f"left processes {left}")
        if os.path.lexists(result.workdir):
            found.append(f"left {result.workdir}")
        return found

    def reset(self) -> None:
        """Forget earlier traces (after they were reported); a killed victim is replaced."""
        self.received.clear()
        if os.path.lexists(self.marker):
            os.remove(self.marker)
        if self.victim.poll() is not None:
            self.victim = self._start_victim()

    def close(self) -> None:
        self._stop.set()
        self._thread.join()
        self._tcp.close()
        self._udp.close()
        self.victim.kill()
        self.victim.wait()
        if os.path.lexists(self.marker):
            os.remove(self.marker)

    def __enter__(self) -> Arena:
        return self

    def __exit__(self, *exc: object) -> None:
        self.close()
