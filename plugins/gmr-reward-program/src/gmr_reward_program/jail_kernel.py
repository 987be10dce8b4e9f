"""Kernel isolation layers for the sandboxed program, applied from inside the sandbox process.

Standard library only: this module runs under ``python -I -S`` before the untrusted code,
and is imported by ``jail_main`` from its own directory. Every layer is optional and reports
``"on"`` or the reason it is off; nothing here raises on a kernel that lacks a feature.

- ``enter_namespaces``: a user namespace when not root (so that an unprivileged CI can make
  the others), then network, PID, mount and IPC/UTS namespaces, each tried on its own.
- ``setup_mounts``: in the mount namespace, a size-capped tmpfs over the work directory, a
  fresh ``/proc`` for the PID namespace, and every other mount made read-only.
- ``apply_landlock``: filesystem access only below the work directory (all rights) and the
  Python standard library (read/execute); TCP bind/connect denied (ABI >= 4); signals and
  abstract Unix sockets scoped to the sandbox (ABI >= 6).
- ``apply_seccomp``: a BPF filter that fails process creation, exec, sockets, ptrace,
  mounts, namespaces, io_uring, bpf, keyrings, module loading and signals to other processes
  with EPERM (x86_64 and aarch64).
- ``drop_capabilities``: an empty capability set (root, or root of the user namespace, keeps
  its uid but no privilege: it can no longer raise rlimits or undo the mounts).

Constants are the Linux UAPI values (``linux/sched.h``, ``linux/landlock.h``,
``linux/seccomp.h``, ``linux/filter.h``, ``asm/unistd_64.h``, ``asm-generic/unistd.h``).
"""

from __future__ import annotations

import ctypes
import os
import platform
import struct

_libc = ctypes.CDLL(None, use_errno=True)
_libc.syscall.restype = ctypes.c_long


def _syscall(number: int, *args: object) -> int:
    """``syscall(2)`` with integer arguments passed as C longs (it is variadic)."""
    converted = [ctypes.c_long(a) if isinstance(a, int) else a for a in args]
    return int(_libc.syscall(ctypes.c_long(number), *converted))

CLONE_NEWNS = 0x00020000
CLONE_NEWUTS = 0x04000000
CLONE_NEWIPC = 0x08000000
CLONE_NEWUSER = 0x10000000
CLONE_NEWPID = 0x20000000
CLONE_NEWNET = 0x40000000

PR_SET_PDEATHSIG = 1
PR_CAPBSET_DROP = 24
PR_SET_NO_NEW_PRIVS = 38
PR_CAP_AMBIENT = 47
PR_CAP_AMBIENT_CLEAR_ALL = 4

MS_RDONLY, MS_NOSUID, MS_NODEV, MS_NOEXEC = 1, 2, 4, 8
MS_REC, MS_PRIVATE = 1 << 14, 1 << 18
AT_FDCWD, AT_RECURSIVE = -100, 0x8000
MOUNT_ATTR_RDONLY = 0x1

# Syscalls numbered alike on every architecture (added after the tables were unified).
SYS_MOUNT_SETATTR = 442
SYS_LANDLOCK_CREATE_RULESET = 444
SYS_LANDLOCK_ADD_RULE = 445
SYS_LANDLOCK_RESTRICT_SELF = 446
LANDLOCK_CREATE_RULESET_VERSION = 1
LANDLOCK_RULE_PATH_BENEATH = 1

# Landlock filesystem rights, by the ABI version that introduced them.
FS_EXECUTE, FS_WRITE_FILE, FS_READ_FILE, FS_READ_DIR = 1 << 0, 1 << 1, 1 << 2, 1 << 3
FS_ABI1 = (1 << 13) - 1  # EXECUTE .. MAKE_SYM
FS_REFER, FS_TRUNCATE, FS_IOCTL_DEV = 1 << 13, 1 << 14, 1 << 15
NET_BIND_TCP, NET_CONNECT_TCP = 1 << 0, 1 << 1
SCOPE_ABSTRACT_UNIX_SOCKET, SCOPE_SIGNAL = 1 << 0, 1 << 1

# seccomp / classic BPF.
SECCOMP_MODE_FILTER = 2
PR_SET_SECCOMP = 22
RET_KILL_PROCESS = 0x80000000
RET_ERRNO = 0x00050000
RET_ALLOW = 0x7FFF0000
BPF_LD_W_ABS = 0x20  # BPF_LD | BPF_W | BPF_ABS
BPF_JEQ_K = 0x15  # BPF_JMP | BPF_JEQ | BPF_K
BPF_JGE_K = 0x35  # BPF_JMP | BPF_JGE | BPF_K
BPF_RET_K = 0x06  # BPF_RET | BPF_K
EPERM, ENOSYS = 1, 38

#: Per architecture: the audit arch value, syscalls denied with EPERM, syscalls allowed only
#: when their first argument is the caller's own pid (kill, tkill, tgkill), clone3 (ENOSYS,
#: so the C library falls back to clone, which is denied), and the x32 bit (x86_64 only).
SECCOMP_ARCH = {
    "x86_64": {
        "audit_arch": 0xC000003E,
        "deny": (
            41, 42, 43, 49, 50, 53, 288,  # socket connect accept bind listen socketpair accept4
            56, 57, 58, 59, 322,  # clone fork vfork execve execveat
            101, 310, 311,  # ptrace process_vm_readv/writev
            165, 166, 155, 161, 272, 308,  # mount umount2 pivot_root chroot unshare setns
            428, 429, 430, 431, 432, 433,  # open_tree move_mount fsopen fsconfig fsmount fspick
            321, 298, 323, 425, 426, 427,  # bpf perf_event_open userfaultfd io_uring_*
            248, 249, 250, 246, 320,  # add_key request_key keyctl kexec_load kexec_file_load
            175, 313, 176, 169, 167, 168,  # init/finit/delete_module reboot swapon swapoff
            133, 259, 303, 304,  # mknod mknodat name_to_handle_at open_by_handle_at
        ),
        "own_pid": (62, 200, 234),  # kill tkill tgkill
        "enosys": (435,),  # clone3
        "x32_bit": 0x40000000,
    },
    "aarch64": {
        "audit_arch": 0xC00000B7,
        "deny": (
            198, 199, 200, 201, 202, 203, 242,
            220, 221, 281,
            117, 270, 271,
            40, 39, 41, 51, 97, 268,
            428, 429, 430, 431, 432, 433,
            280, 241, 282, 425, 426, 427,
            217, 218, 219, 104, 294,
            105, 273, 106, 142, 224, 225,
            33, 264, 265,
        ),
        "own_pid": (129, 130, 131),
        "enosys": (435,),
        "x32_bit": None,
    },
}


def _errno_text() -> str:
    return os.strerror(ctypes.get_errno())


def prctl(option: int, arg2: int = 0) -> int:
    """``prctl(option, arg2, 0, 0, 0)``; the C return value."""
    return _libc.prctl(option, ctypes.c_ulong(arg2), 0, 0, 0)


def die_with_parent(expected_parent: int | None) -> None:
    """SIGKILL this process when its parent dies; exit now if the parent is already gone.

    ``expected_parent`` None skips the check (PID 1 of a new PID namespace sees its parent,
    outside the namespace, as 0; it is in its parent's process group, killed with it).
    """
    prctl(PR_SET_PDEATHSIG, 9)
    if expected_parent is not None and os.getppid() != expected_parent:
        os._exit(137)


def _unshare(flags: int) -> str:
    if _libc.unshare(flags) == 0:
        return "on"
    return f"unshare failed: {_errno_text()}"


def _write(path: str, text: str) -> None:
    with open(path, "w") as handle:
        handle.write(text)


def enter_namespaces(want: set[str]) -> dict[str, str]:
    """Enter the requested namespaces (``netns``, ``pidns``, ``mountns``); status of each.

    A non-root caller first makes a user namespace in which it is root (uid and gid mapped
    to its own), which an unprivileged CI needs for the others. IPC and UTS namespaces come
    with any of them. A PID namespace takes effect for the next child: the caller forks.
    """
    status: dict[str, str] = {}
    wanted = [name for name in ("netns", "pidns", "mountns") if name in want]
    if not wanted:
        return status
    if os.geteuid() != 0:
        uid, gid = os.geteuid(), os.getegid()
        userns = _unshare(CLONE_NEWUSER)
        if userns == "on":
            try:
                _write("/proc/self/setgroups", "deny")
                _write("/proc/self/uid_map", f"0 {uid} 1")
                _write("/proc/self/gid_map", f"0 {gid} 1")
            except OSError as exc:
                userns = f"user namespace id maps: {exc.strerror}"
        status["userns"] = userns
        if userns != "on":
            for name in wanted:
                status[name] = f"needs a user namespace ({userns})"
            return status
    flags = {"netns": CLONE_NEWNET, "pidns": CLONE_NEWPID, "mountns": CLONE_NEWNS}
    for name in wanted:
        status[name] = _unshare(flags[name])
    _unshare(CLONE_NEWIPC | CLONE_NEWUTS)
    return status


def _mount(source: str | None, target: str, fstype: str | None, flags: int, data: str | None):
    def enc(value: str | None) -> bytes | None:
        return None if value is None else value.encode()

    if _libc.mount(enc(source), enc(target), enc(fstype), ctypes.c_ulong(flags), enc(data)):
        raise OSError(ctypes.get_errno(), f"mount {target}: {_errno_text()}")


def _mount_setattr(path: str, flags: int, attr_set: int, attr_clr: int) -> None:
    attr = struct.pack("QQQQ", attr_set, attr_clr, 0, 0)
    buffer = ctypes.create_string_buffer(attr, len(attr))
    result = _syscall(SYS_MOUNT_SETATTR, AT_FDCWD, path.encode(), flags, buffer, len(attr))
    if result != 0:
        raise OSError(ctypes.get_errno(), f"mount_setattr {path}: {_errno_text()}")


def setup_mounts(workdir: str, disk_mb: int, fresh_proc: bool) -> dict[str, str]:
    """In a new mount namespace: tmpfs work directory, fresh /proc, the rest read-only.

    Returns the status of ``tmpfs``, ``proc`` and ``readonly``. The caller must ``chdir``
    into ``workdir`` again afterwards (its old cwd is the directory under the tmpfs).
    """
    status: dict[str, str] = {}
    try:
        _mount(None, "/", None, MS_REC | MS_PRIVATE, None)
    except OSError as exc:
        return {"tmpfs": str(exc), "proc": str(exc), "readonly": str(exc)}
    try:
        _mount("tmpfs", workdir, "tmpfs", MS_NOSUID | MS_NODEV, f"size={disk_mb}m,mode=0700")
        status["tmpfs"] = "on"
    except OSError as exc:
        status["tmpfs"] = str(exc)
    status["proc"] = "off: no PID namespace"
    if fresh_proc:
        try:
            _mount("proc", "/proc", "proc", MS_NOSUID | MS_NODEV | MS_NOEXEC, None)
            status["proc"] = "on"
        except OSError as exc:
            status["proc"] = str(exc)
    try:
        _mount_setattr("/", AT_RECURSIVE, MOUNT_ATTR_RDONLY, 0)
        if status["tmpfs"] == "on":
            _mount_setattr(workdir, 0, 0, MOUNT_ATTR_RDONLY)
        else:  # keep the work directory writable: a read-write bind of it over itself
            _mount(workdir, workdir, None, 4096 | MS_REC, None)  # MS_BIND
            _mount_setattr(workdir, 0, 0, MOUNT_ATTR_RDONLY)
        status["readonly"] = "on"
    except OSError as exc:
        status["readonly"] = str(exc)
    return status


def landlock_abi() -> int:
    """The kernel's Landlock ABI version, 0 when Landlock is unavailable."""
    version = _syscall(SYS_LANDLOCK_CREATE_RULESET, None, 0, LANDLOCK_CREATE_RULESET_VERSION)
    return max(0, int(version))


def apply_landlock(workdir: str, read_dirs: list[str]) -> str:
    """Restrict this process to ``workdir`` (all rights) and ``read_dirs`` (read, execute).

    Also denies TCP bind/connect (ABI >= 4) and scopes signals and abstract Unix sockets to
    the sandbox (ABI >= 6). Sets no_new_privs. Returns "on" or why not.
    """
    abi = landlock_abi()
    if abi < 1:
        return f"landlock unavailable: {_errno_text()}"
    fs = FS_ABI1
    if abi >= 2:
        fs |= FS_REFER
    if abi >= 3:
        fs |= FS_TRUNCATE
    if abi >= 5:
        fs |= FS_IOCTL_DEV
    net = NET_BIND_TCP | NET_CONNECT_TCP if abi >= 4 else 0
    scoped = SCOPE_ABSTRACT_UNIX_SOCKET | SCOPE_SIGNAL if abi >= 6 else 0
    attr = struct.pack("QQQ", fs, net, scoped)[: 24 if abi >= 6 else 16 if abi >= 4 else 8]
    buffer = ctypes.create_string_buffer(attr, len(attr))
    ruleset = _syscall(SYS_LANDLOCK_CREATE_RULESET, buffer, len(attr), 0)
    if ruleset < 0:
        return f"landlock ruleset: {_errno_text()}"
    try:
        read = FS_READ_FILE | FS_READ_DIR | FS_EXECUTE
        for path, access in [(workdir, fs), *((d, read) for d in read_dirs)]:
            fd = os.open(path, os.O_PATH | os.O_CLOEXEC)
            try:
                rule = struct.pack("=Qi", access, fd)  # landlock_path_beneath_attr is packed
                rule_buffer = ctypes.create_string_buffer(rule, len(rule))
                if _syscall(SYS_LANDLOCK_ADD_RULE, ruleset, LANDLOCK_RULE_PATH_BENEATH,
                            rule_buffer, 0):
                    return f"landlock rule for {path}: {_errno_text()}"
            finally:
                os.close(fd)
        if prctl(PR_SET_NO_NEW_PRIVS, 1):
            return f"no_new_privs: {_errno_text()}"
        if _syscall(SYS_LANDLOCK_RESTRICT_SELF, ruleset, 0):
            return f"landlock restrict: {_errno_text()}"
    finally:
        os.close(ruleset)
    return f"on (ABI {abi})"


def _bpf(code: int, jt: int, jf: int, k: int) -> bytes:
    return struct.pack("HBBI", code, jt, jf, k & 0xFFFFFFFF)


def seccomp_program(machine: str, own_pid: int) -> bytes | None:
    """The BPF filter for ``machine`` (``platform.machine()``), or None if unsupported."""
    table = SECCOMP_ARCH.get(machine)
    if table is None:
        return None
    ins = [
        _bpf(BPF_LD_W_ABS, 0, 0, 4),  # seccomp_data.arch
        _bpf(BPF_JEQ_K, 1, 0, table["audit_arch"]),
        _bpf(BPF_RET_K, 0, 0, RET_KILL_PROCESS),
        _bpf(BPF_LD_W_ABS, 0, 0, 0),  # seccomp_data.nr
    ]
    if table["x32_bit"]:
        ins += [_bpf(BPF_JGE_K, 0, 1, table["x32_bit"]), _bpf(BPF_RET_K, 0, 0, RET_ERRNO | EPERM)]
    for nr in table["deny"]:
        ins += [_bpf(BPF_JEQ_K, 0, 1, nr), _bpf(BPF_RET_K, 0, 0, RET_ERRNO | EPERM)]
    for nr in table["enosys"]:
        ins += [_bpf(BPF_JEQ_K, 0, 1, nr), _bpf(BPF_RET_K, 0, 0, RET_ERRNO | ENOSYS)]
    for nr in table["own_pid"]:
        # if nr matches: load args[0] (low 32 bits, offset 16), allow only our own pid.
        ins += [
            _bpf(BPF_JEQ_K, 0, 4, nr),
            _bpf(BPF_LD_W_ABS, 0, 0, 16),
            _bpf(BPF_JEQ_K, 0, 1, own_pid),
            _bpf(BPF_RET_K, 0, 0, RET_ALLOW),
            _bpf(BPF_RET_K, 0, 0, RET_ERRNO | EPERM),
        ]
    ins.append(_bpf(BPF_RET_K, 0, 0, RET_ALLOW))
    return b"".join(ins)


def apply_seccomp() -> str:
    """Install the syscall filter (sets no_new_privs); "on" or why not."""
    machine = platform.machine()
    program = seccomp_program(machine, os.getpid())
    if program is None:
        return f"seccomp filter not written for {machine}"
    filters = ctypes.create_string_buffer(program, len(program))
    fprog = struct.pack("HxxxxxxP", len(program) // 8, ctypes.addressof(filters))
    fprog_buffer = ctypes.create_string_buffer(fprog, len(fprog))
    if prctl(PR_SET_NO_NEW_PRIVS, 1):
        return f"no_new_privs: {_errno_text()}"
    if _libc.prctl(PR_SET_SECCOMP, SECCOMP_MODE_FILTER, fprog_buffer, 0, 0):
        return f"seccomp: {_errno_text()}"
    return "on"


def drop_capabilities() -> str:
    """Empty the bounding, ambient, effective, permitted and inheritable capability sets."""
    for cap in range(64):
        prctl(PR_CAPBSET_DROP, cap)  # EINVAL past the last capability; EPERM if none held
    _libc.prctl(PR_CAP_AMBIENT, PR_CAP_AMBIENT_CLEAR_ALL, 0, 0, 0)
    header = ctypes.create_string_buffer(struct.pack("Ii", 0x20080522, 0), 8)  # version 3
    data = ctypes.create_string_buffer(bytes(24), 24)  # two zeroed __user_cap_data_struct
    if _libc.capset(header, data):
        return f"capset: {_errno_text()}"
    return "on"
